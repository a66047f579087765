// The package in Deno and Bun (both resolve it through the `node` export
// condition): queries over the runtime's global WebSocket through the proxy,
// over nodeSocket() (node:net), http() over POST /sql (the Node entry's
// keep-alive client on node:net), and — in Deno — over a socket factory built
// on Deno.connect. Run by tests/tests/wasm_js.rs; prints "N passed, N failed".
import { Pool, Session, webSocket, nodeSocket, http, ProgrammingError, InterfaceError, PoolClosedError } from 'edgepg';

const env = globalThis.Deno ? Deno.env.toObject() : process.env;
const runtime = globalThis.Deno ? `deno ${Deno.version.deno}` : `bun ${globalThis.Bun?.version}`;
const url = env.EDGEPG_TEST_URL;
let passed = 0;
let failed = 0;

async function check(name, f) {
  try {
    await f();
    passed++;
    console.log(`ok - ${runtime}: ${name}`);
  } catch (e) {
    failed++;
    console.log(`not ok - ${runtime}: ${name}: ${e?.stack ?? e}`);
  }
}

function assert(cond, message) {
  if (!cond) throw new Error(message);
}

/** The error `f()` throws or rejects with (undefined if it succeeds). */
async function rejection(f) {
  try {
    await f();
  } catch (e) {
    return e;
  }
  return undefined;
}

async function roundTrip(transport, label) {
  const pool = new Pool({ connectionString: url, transport, max: 2 });
  try {
    const r = await pool.query('SELECT $1::text AS via, $2::int8 AS big, n FROM generate_series(1, 3) n', [label, 2n ** 60n]);
    assert(r.length === 3 && r.rows[2].n === 3 && r.rows[0].via === label, JSON.stringify(r.rows, (_, v) => String(v)));
    assert(r.rows[0].big === 2n ** 60n, 'int8 as bigint');
    const t = await pool.sql`SELECT ${new Uint8Array([1, 2])}::bytea AS b, ${{ a: [1] }}::jsonb AS j`;
    assert(t.rows[0].b instanceof Uint8Array && t.rows[0].b[1] === 2, 'bytea');
    assert(t.rows[0].j.a[0] === 1, 'jsonb');
    const err = await rejection(() => pool.query('SELECT * FROM missing_table'));
    assert(err instanceof ProgrammingError && err.code === '42P01', `typed error, got ${err}`);
    const n = await pool.transaction(async (tx) => (await tx.query('SELECT 7 AS n')).rows[0].n);
    assert(n === 7, 'transaction');
    const bad = await rejection(() => pool.query('SELECT $1', [Symbol('x')]));
    assert(bad instanceof InterfaceError, 'hostile parameter');
  } finally {
    await pool.end();
  }
  const closed = await rejection(() => pool.query('SELECT 1'));
  assert(closed instanceof PoolClosedError, 'after end()');
}

await check('global WebSocket through edgepg-proxy', () => roundTrip(webSocket({ proxy: env.EDGEPG_TEST_PROXY }), 'websocket'));
await check('nodeSocket() (node:net)', () => roundTrip(nodeSocket(), 'node:net'));
await check('default transport and Session.fromEnv', async () => {
  const s = Session.fromEnv('app', { PGSQL_APP: url });
  assert((await s.query('SELECT 1 AS one')).rows[0].one === 1, 'fromEnv');
  await s.end();
});
await check('http() over POST /sql of edgepg-proxy', async () => {
  const sql = http(env.EDGEPG_TEST_SCRAM_URL, { endpoint: env.EDGEPG_TEST_PROXY.replace(/^ws/, 'http').replace(/\/v1$/, '/sql') });
  const rows = await Promise.all([1, 2, 3].map((i) => sql`SELECT ${i}::int8 AS n`));
  assert(rows.map((r) => r[0].n).join() === '1,2,3', JSON.stringify(rows, (_, v) => String(v)));
  assert((await sql.query('SELECT $1::text AS t', ['é']))[0].t === 'é', 'text');
  const err = await rejection(() => sql.query('SELEC 1'));
  assert(err instanceof ProgrammingError && err.code === '42601', `typed error, got ${err}`);
});
if (globalThis.Deno) {
  // SPEC §9: any (host, port) → { readable, writable } factory plugs in.
  const wrap = (conn) => ({ readable: conn.readable, writable: conn.writable, close: () => conn.close() });
  await check('a socket factory over Deno.connect', () =>
    roundTrip((host, port) => Deno.connect({ hostname: host, port }).then(wrap), 'Deno.connect'));
}

console.log(`${passed} passed, ${failed} failed`);
if (failed > 0 || passed === 0) {
  if (globalThis.Deno) Deno.exit(1);
  else process.exit(1);
}
if (globalThis.Deno) Deno.exit(0);
else process.exit(0);
