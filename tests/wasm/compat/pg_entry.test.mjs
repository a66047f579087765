// `edgepg/pg` gives node-postgres' values where edgepg's own differ (int8 and
// numeric strings, local-time dates), so the same assertions hold for `pg`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isPg, config } from './driver.mjs';

const pg = isPg ? (await import('pg')).default : (await import('edgepg/pg')).default;

test("pg's values for int8, numeric, int4, date, timestamp, json and arrays", async () => {
  const pool = new pg.Pool(config());
  try {
    const r = await pool.query(`SELECT 9007199254740993::int8 AS big, 1.50::numeric AS n, 7 AS i,
      '2024-01-02'::date AS d, '2024-01-02 03:04:05.5'::timestamp AS ts, '{"a":1}'::jsonb AS j,
      ARRAY[1, 2]::int8[] AS bigs, ARRAY[1.5]::numeric[] AS ns, true AS b`);
    const row = r.rows[0];
    assert.equal(row.big, '9007199254740993');
    assert.equal(row.n, '1.50');
    assert.equal(row.i, 7);
    assert.ok(row.d instanceof Date);
    assert.deepEqual([row.d.getFullYear(), row.d.getMonth(), row.d.getDate(), row.d.getHours()], [2024, 0, 2, 0]);
    assert.ok(row.ts instanceof Date);
    assert.deepEqual([row.ts.getHours(), row.ts.getMinutes(), row.ts.getSeconds(), row.ts.getMilliseconds()], [3, 4, 5, 500]);
    assert.deepEqual(row.j, { a: 1 });
    assert.deepEqual(row.bigs, ['1', '2']);
    assert.deepEqual(row.ns, [1.5]); // pg-types: numeric[] as floats
    assert.equal(row.b, true);
    assert.equal(pg.types.getTypeParser(20, 'text')('5'), '5');
    assert.equal(pg.types.getTypeParser(23, 'text')('5'), 5);
  } finally {
    await pool.end();
  }
});

test('a Client from the pg entry, with its own types where given', async () => {
  const client = new pg.Client(config({ types: { getTypeParser: (oid) => (oid === 20 ? (v) => BigInt(v) : (v) => v) } }));
  await client.connect();
  try {
    const r = await client.query('SELECT 5::int8 AS big');
    assert.equal(r.rows[0].big, 5n);
  } finally {
    await client.end();
  }
});
