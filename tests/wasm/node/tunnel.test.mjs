// The WebSocket tunnel and the pool rules seen from JavaScript: writes
// coalesced into one frame per tick (counted by edgepg-proxy), statement
// timeouts cancelled on the server, a killed backend, an unreachable server.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Pool, QueryCanceledError, DatabaseNotAvailableError, OperationalError } from 'edgepg';
import { env, url, tunnel, direct } from './helpers.mjs';

let admin;
before(() => {
  admin = new Pool({ connectionString: url, transport: direct() });
});
after(() => admin.end());

async function framesSent() {
  const text = await (await fetch(env.EDGEPG_TEST_PROXY_METRICS)).text();
  const line = text.split('\n').find((l) => l.startsWith('edgepg_proxy_frames_total{direction="client_to_server"}'));
  assert.ok(line, text);
  return Number(line.split(' ').pop());
}

test('one frame per tick: a cached statement costs one frame, concurrent ones share frames', async () => {
  const pool = new Pool({ connectionString: url, transport: tunnel(), max: 1 });
  const client = await pool.connect();
  await client.query('SELECT $1::int AS n', [1]); // prepares and caches the statement
  let before = await framesSent();
  await client.query('SELECT $1::int AS n', [2]); // Bind + Execute + Sync
  assert.equal((await framesSent()) - before, 1);
  client.release();
  before = await framesSent();
  const rs = await Promise.all(Array.from({ length: 50 }, (_, i) => pool.query('SELECT $1::int AS n', [i])));
  const sent = (await framesSent()) - before;
  assert.deepEqual(rs.map((r) => r.rows[0].n), Array.from({ length: 50 }, (_, i) => i));
  assert.ok(sent < 50, `50 statements took ${sent} frames`);
  await pool.end();
});

test('queryTimeoutMillis: the statement is cancelled on the server, the pool goes on', async () => {
  const pool = new Pool({ connectionString: url, transport: tunnel(), max: 1, queryTimeoutMillis: 300 });
  const started = Date.now();
  await assert.rejects(pool.query('SELECT pg_sleep(10)'), QueryCanceledError);
  assert.ok(Date.now() - started < 5000);
  assert.equal((await pool.query('SELECT 1 AS ok')).rows[0].ok, 1);
  const busy = await admin.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(10)' AND state = 'active'");
  assert.equal(busy.rows[0].n, 0);
  await pool.end();
});

test('a terminated backend: the next statement runs on a fresh connection', async () => {
  const pool = new Pool({ connectionString: url, transport: tunnel(), max: 1, applicationName: 'edgepg_js_kill' });
  const pid = (await pool.query('SELECT pg_backend_pid() AS pid')).rows[0].pid;
  await admin.query('SELECT pg_terminate_backend($1)', [pid]);
  await new Promise((r) => setTimeout(r, 100));
  const again = await pool.query('SELECT pg_backend_pid() AS pid');
  assert.notEqual(again.rows[0].pid, pid);
  await pool.end();
});

test('an unreachable server fails promptly with DatabaseNotAvailableError', async () => {
  const dead = new URL(url);
  dead.port = '1';
  for (const transport of [direct(), tunnel()]) {
    const pool = new Pool({ connectionString: dead.toString(), transport, connectionTimeoutMillis: 3000 });
    const started = Date.now();
    await assert.rejects(pool.query('SELECT 1'), (e) => {
      assert.ok(e instanceof OperationalError, `${e.name}: ${e.message}`);
      if (transport.connect) assert.ok(e instanceof DatabaseNotAvailableError, `${e.name}: ${e.message}`);
      return true;
    });
    assert.ok(Date.now() - started < 5000);
    await pool.end();
  }
});
