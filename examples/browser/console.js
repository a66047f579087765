// The SQL console: runs the query in the textarea through a WebSocket proxy
// and shows the rows in a table. `?proxy=…&url=…` preset the settings.
import { Pool, webSocket } from 'edgepg';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
$('proxy').value = params.get('proxy') ?? 'ws://127.0.0.1:8080/v1';
$('url').value = params.get('url') ?? 'postgresql://postgres@127.0.0.1:5432/postgres?sslmode=disable';
if (params.get('sql')) $('sql').value = params.get('sql');

let pool = null;
let poolKey = '';

function getPool() {
  const key = `${$('proxy').value}\n${$('url').value}`;
  if (pool === null || key !== poolKey) {
    pool?.end();
    pool = new Pool({ connectionString: $('url').value, transport: webSocket({ proxy: $('proxy').value }), max: 2 });
    poolKey = key;
  }
  return pool;
}

function show(value) {
  if (value === null || value === undefined) return ['NULL', 'null'];
  if (value instanceof Date) return [value.toISOString(), ''];
  if (value instanceof Uint8Array) return ['\\x' + [...value].map((b) => b.toString(16).padStart(2, '0')).join(''), ''];
  if (typeof value === 'number' || typeof value === 'bigint') return [String(value), 'num'];
  if (typeof value === 'object') return [JSON.stringify(value, (_, v) => (typeof v === 'bigint' ? v.toString() : v)), ''];
  return [String(value), ''];
}

function render(results) {
  const table = $('results');
  table.replaceChildren();
  if (results.fields.length === 0) return;
  const head = table.createTHead().insertRow();
  for (const f of results.fields) {
    const th = document.createElement('th');
    th.textContent = f.name;
    const type = document.createElement('small');
    type.textContent = f.dataType;
    th.append(type);
    head.append(th);
  }
  const body = table.createTBody();
  for (const row of results.rows) {
    const tr = body.insertRow();
    for (const f of results.fields) {
      const [text, cls] = show(row[f.name]);
      const td = tr.insertCell();
      td.textContent = text;
      if (cls) td.className = cls;
    }
  }
}

$('console').addEventListener('submit', async (event) => {
  event.preventDefault();
  const run = $('run');
  run.disabled = true;
  $('error').hidden = true;
  $('status').textContent = 'Running…';
  const started = performance.now();
  try {
    const results = await getPool().query($('sql').value);
    render(results);
    const ms = (performance.now() - started).toFixed(1);
    $('status').textContent = `${results.status} · ${results.length} row${results.length === 1 ? '' : 's'} · ${ms} ms`;
  } catch (e) {
    $('results').replaceChildren();
    $('status').textContent = 'Failed';
    $('error').textContent = `${e.name}${e.code ? ` [${e.code}]` : ''}: ${e.message}`;
    $('error').hidden = false;
  } finally {
    run.disabled = false;
  }
});

$('run').disabled = false;
$('status').textContent = 'Ready';
