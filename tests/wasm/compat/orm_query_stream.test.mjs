// pg-query-stream, unchanged, through `client.query(new QueryStream(...))` on
// the driver under test (./driver.mjs): a Node Readable of rows.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { pipeline } from 'node:stream/promises';
import { Transform, Writable } from 'node:stream';
import QueryStream from 'pg-query-stream';
import { Pool, config } from './driver.mjs';

describe('pg-query-stream', () => {
  let pool;
  before(() => {
    pool = new Pool(config({ max: 2 }));
  });
  after(() => pool.end());

  test('streams every row in order with back-pressure', async () => {
    const client = await pool.connect();
    try {
      const stream = client.query(new QueryStream('SELECT n, repeat($1, 10) AS pad FROM generate_series(1, $2::int) n', ['x', 5000], { batchSize: 64, highWaterMark: 64 }));
      let count = 0;
      let last = 0;
      await pipeline(
        stream,
        new Transform({
          objectMode: true,
          transform(row, _enc, done) {
            assert.equal(row.n, last + 1);
            assert.equal(row.pad, 'x'.repeat(10));
            last = row.n;
            count += 1;
            // A slow consumer: the stream must not read ahead without bound.
            setImmediate(done);
          },
        }),
        new Writable({ objectMode: true, write(_c, _e, done) { done(); } }),
      );
      assert.equal(count, 5000);
      const after = await client.query('SELECT 1 AS one');
      assert.equal(after.rows[0].one, 1);
    } finally {
      client.release();
    }
  });

  test('async iteration, rowMode array and an early destroy', async () => {
    const client = await pool.connect();
    try {
      const rows = [];
      for await (const row of client.query(new QueryStream('SELECT generate_series(1, 10) AS n, 2 AS two', [], { rowMode: 'array', batchSize: 3 }))) {
        rows.push(row);
      }
      assert.equal(rows.length, 10);
      assert.deepEqual(rows[9], [10, 2]);

      let seen = 0;
      for await (const row of client.query(new QueryStream('SELECT generate_series(1, 100000) AS n', [], { batchSize: 100 }))) {
        seen += 1;
        if (row.n === 5) break;
      }
      assert.equal(seen, 5);
      // The connection is usable after the stream was destroyed mid-way.
      const r = await client.query('SELECT 2 AS two');
      assert.equal(r.rows[0].two, 2);
    } finally {
      client.release();
    }
  });

  test('a failing query errors the stream, and the client recovers', async () => {
    const client = await pool.connect();
    try {
      const stream = client.query(new QueryStream('SELECT * FROM orm_qs_no_such_table'));
      await assert.rejects(
        (async () => { for await (const _ of stream) { /* nothing */ } })(),
        (e) => e.code === '42P01',
      );
      const r = await client.query('SELECT 3 AS three');
      assert.equal(r.rows[0].three, 3);
    } finally {
      client.release();
    }
  });
});
