// Interop: Neon's serverless driver (@neondatabase/serverless, over the `ws`
// package) runs queries through edgepg-proxy against a real PostgreSQL.
//
// Driven by proxy/tests/tunnel.rs (`neon_serverless_driver_through_the_proxy`),
// which starts PostgreSQL and the proxy and sets:
//   EDGEPG_PROXY  host:port/v1 of the proxy
//   PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE  the destination as seen by the proxy
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import ws from 'ws';
import { Pool, Client, neonConfig } from '@neondatabase/serverless';

const required = ['EDGEPG_PROXY', 'PGHOST', 'PGPORT', 'PGUSER', 'PGDATABASE'];
for (const name of required) {
  if (!process.env[name]) {
    throw new Error(`${name} is not set: run this through proxy/tests/tunnel.rs (cargo test -p edgepg-proxy --test tunnel neon)`);
  }
}

neonConfig.webSocketConstructor = ws;
neonConfig.wsProxy = process.env.EDGEPG_PROXY; // "127.0.0.1:PORT/v1": the driver adds ?address=HOST:PORT
neonConfig.useSecureWebSocket = false;
neonConfig.pipelineConnect = false;
neonConfig.forceDisablePgSSL = true;

const connection = {
  host: process.env.PGHOST,
  port: Number(process.env.PGPORT),
  user: process.env.PGUSER,
  password: process.env.PGPASSWORD ?? '',
  database: process.env.PGDATABASE,
  ssl: false,
};

const pool = new Pool({ ...connection, max: 4 });
after(() => pool.end());

test('a simple query', async () => {
  const r = await pool.query('SELECT 1 AS x');
  assert.equal(r.rows[0].x, 1);
});

test('parameters of several types', async () => {
  const r = await pool.query(
    'SELECT $1::int AS i, $2::text AS t, $3::bool AS b, $4::jsonb AS j, $5::bytea AS y',
    [41, 'héllo', true, JSON.stringify({ a: [1, 2] }), Buffer.from([0, 1, 255])],
  );
  assert.equal(r.rows[0].i, 41);
  assert.equal(r.rows[0].t, 'héllo');
  assert.equal(r.rows[0].b, true);
  assert.deepEqual(r.rows[0].j, { a: [1, 2] });
  assert.deepEqual([...r.rows[0].y], [0, 1, 255]);
});

test('a large result and a large parameter', async () => {
  const big = 'z'.repeat(200_000);
  const r = await pool.query("SELECT length($1::text) AS n, repeat('q', 500000) AS s", [big]);
  assert.equal(r.rows[0].n, 200_000);
  assert.equal(r.rows[0].s.length, 500_000);
});

test('errors carry their SQLSTATE and the pool stays usable', async () => {
  await assert.rejects(pool.query('SELECT 1/0'), (e) => e.code === '22012');
  const r = await pool.query('SELECT 2 AS x');
  assert.equal(r.rows[0].x, 2);
});

test('a transaction on one client', async () => {
  const client = await pool.connect();
  try {
    await client.query('CREATE TEMP TABLE neon_t (id int PRIMARY KEY)');
    await client.query('BEGIN');
    await client.query('INSERT INTO neon_t VALUES (1), (2)');
    await client.query('ROLLBACK');
    await client.query('BEGIN');
    await client.query('INSERT INTO neon_t VALUES (3)');
    await client.query('COMMIT');
    const r = await client.query('SELECT array_agg(id) AS ids FROM neon_t');
    assert.deepEqual(r.rows[0].ids, [3]);
  } finally {
    client.release();
  }
});

test('concurrent queries through several tunnels', async () => {
  const results = await Promise.all(
    Array.from({ length: 12 }, (_, i) => pool.query('SELECT $1::int * 2 AS v, pg_sleep(0.05)', [i])),
  );
  assert.deepEqual(results.map((r) => r.rows[0].v), Array.from({ length: 12 }, (_, i) => i * 2));
});

test('a standalone Client connects and ends', async () => {
  const client = new Client(connection);
  await client.connect();
  const r = await client.query('SELECT current_user AS u');
  assert.equal(r.rows[0].u, connection.user);
  await client.end();
});

test('a refused destination fails cleanly', async () => {
  const client = new Client({ ...connection, port: 1 });
  await assert.rejects(client.connect());
});
