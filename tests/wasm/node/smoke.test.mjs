import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Pool } from 'edgepg';
import { url, tunnel } from './helpers.mjs';

test('Pool.query through the WebSocket proxy', async () => {
  const pool = new Pool({ connectionString: url, transport: tunnel() });
  const r = await pool.query('SELECT $1::int AS n, $2::text AS s', [41, 'hi']);
  assert.deepEqual(r.rows, [{ n: 41, s: 'hi' }]);
  assert.equal(r.status, 'SELECT 1');
  await pool.end();
});
