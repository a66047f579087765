// Port of pg-cursor's own tests (packages/pg-cursor/test/index, close,
// error-handling, no-data-handling, promises, query-config, transactions,
// pool): first proved against `pg` + `pg-cursor`, then run unchanged on
// edgepg's Cursor export (./driver.mjs).
import { describe, test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { Pool, Client, Cursor, config, assertAllIdle } from './driver.mjs';

const text = 'SELECT generate_series as num FROM generate_series(0, 5)';

/** `cursor.read(n)` through its callback, as `[err, rows, result]`. */
function readCb(cursor, n) {
  return within(new Promise((resolve) => cursor.read(n, (err, rows, result) => resolve([err, rows, result]))), 5000, 'the read callback');
}

/** `promise`, or a rejection after `ms` (keeps event-based tests bounded). */
function within(promise, ms = 5000, what = 'the event') {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not come within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

describe('pgc cursor: reading', () => {
  let client;
  beforeEach(async () => {
    client = new Client(config());
    await client.connect();
  });
  afterEach(async () => {
    await client.end();
  });

  test('fetches 6 when asking for 10 (callback)', async () => {
    const cursor = client.query(new Cursor(text));
    const [err, rows] = await readCb(cursor, 10);
    assert.ifError(err);
    assert.equal(rows.length, 6);
    assert.deepEqual(rows.map((r) => r.num), [0, 1, 2, 3, 4, 5]);
    await cursor.close();
  });

  test('ends before reading to the end', async () => {
    const cursor = client.query(new Cursor(text));
    const [err, rows] = await readCb(cursor, 3);
    assert.ifError(err);
    assert.deepEqual(rows, [{ num: 0 }, { num: 1 }, { num: 2 }]);
    await cursor.close();
  });

  test('reads partial chunks, then [] at the end', async () => {
    const cursor = client.query(new Cursor(text));
    assert.equal((await readCb(cursor, 2))[1].length, 2);
    assert.equal((await readCb(cursor, 3))[1].length, 3);
    assert.equal((await readCb(cursor, 1))[1].length, 1);
    const [err, rows] = await readCb(cursor, 1);
    assert.ifError(err);
    assert.deepEqual(rows, []);
    await cursor.close();
  });

  test('read returns [] past the end, again and again (promises)', async () => {
    const cursor = client.query(new Cursor(text));
    assert.equal((await cursor.read(2)).length, 2);
    assert.equal((await cursor.read(100)).length, 4);
    assert.deepEqual(await cursor.read(100), []);
    assert.deepEqual(await cursor.read(100), []);
    await cursor.close();
  });

  test('reads a large result in batches', async () => {
    const cursor = client.query(new Cursor('SELECT generate_series AS num FROM generate_series(1, 10000)', []));
    let count = 0;
    let sum = 0;
    for (;;) {
      const rows = await cursor.read(500);
      if (rows.length === 0) break;
      count += rows.length;
      for (const r of rows) sum += r.num;
    }
    assert.equal(count, 10000);
    assert.equal(sum, (10000 * 10001) / 2);
    await cursor.close();
  });

  test('normalizes parameter values (an object as json)', async () => {
    const cursor = client.query(new Cursor('SELECT $1::json AS me', [{ name: 'brian' }]));
    const rows = await cursor.read(1);
    assert.equal(rows[0].me.name, 'brian');
    assert.deepEqual(await cursor.read(1), []);
    await cursor.close();
  });

  test('parameters with several types', async () => {
    const cursor = client.query(
      new Cursor('SELECT $1::int4 AS a, $2::text AS b, $3::bool AS c, g FROM generate_series(1, $4::int4) g', [7, 'x', true, 3]),
    );
    const rows = await cursor.read(10);
    assert.deepEqual(rows, [
      { a: 7, b: 'x', c: true, g: 1 },
      { a: 7, b: 'x', c: true, g: 2 },
      { a: 7, b: 'x', c: true, g: 3 },
    ]);
    await cursor.close();
  });

  test('the read callback gets the result along with the rows', async () => {
    const cursor = client.query(new Cursor(text));
    const [err, rows, result] = await readCb(cursor, 1);
    assert.ifError(err);
    assert.equal(rows.length, 1);
    assert.equal(rows, result.rows);
    assert.deepEqual(result.fields.map((f) => f.name), ['num']);
    assert.equal(result.fields[0].dataTypeID, 23);
    await cursor.close();
  });

  test('rowMode array is passed to the result', async () => {
    const cursor = client.query(new Cursor(text, null, { rowMode: 'array' }));
    const rows = await cursor.read(10);
    assert.deepEqual(rows, [[0], [1], [2], [3], [4], [5]]);
    await cursor.close();
  });

  test('types are passed to the result', async () => {
    const types = { getTypeParser: () => () => 'foo' };
    const cursor = client.query(new Cursor('SELECT generate_series AS num FROM generate_series(0, 2)', null, { types }));
    const rows = await cursor.read(10);
    assert.deepEqual(rows, [{ num: 'foo' }, { num: 'foo' }, { num: 'foo' }]);
    await cursor.close();
  });

  test('several cursors, one after the other, on one client', async () => {
    const c1 = client.query(new Cursor('SELECT generate_series AS num FROM generate_series(0, 4)'));
    assert.equal((await c1.read(8)).length, 5);
    await c1.close();
    const c2 = client.query(new Cursor('SELECT generate_series AS num FROM generate_series(0, 4)'));
    assert.equal((await c2.read(8)).length, 5);
    await c2.close();
  });

  test("emits 'row' and 'end' events", async () => {
    const cursor = client.query(new Cursor(text));
    const ended = new Promise((resolve) => {
      cursor.on('row', (row, result) => result.addRow(row));
      cursor.on('end', (result) => resolve(result));
    });
    cursor.read(10);
    const result = await within(ended, 5000, "'end'");
    assert.equal(result.rows.length, 6);
  });
});

describe('pgc cursor: statements without rows', () => {
  let client;
  beforeEach(async () => {
    client = new Client(config());
    await client.connect();
  });
  afterEach(async () => {
    await client.end();
  });

  test('a cursor over a statement that returns no data reads []', async () => {
    const cursor = client.query(new Cursor('CREATE TEMPORARY TABLE pgc_cursor_whatwhat (thing int)'));
    const [err, rows] = await readCb(cursor, 100);
    assert.ifError(err);
    assert.equal(rows.length, 0);
    // The statement did run.
    const r = await client.query('SELECT count(*)::int AS n FROM pgc_cursor_whatwhat');
    assert.equal(r.rows[0].n, 0);
  });

  test('a cursor over an empty query reads []', async () => {
    const cursor = client.query(new Cursor('-- this is a comment'));
    const [err, rows] = await readCb(cursor, 100);
    assert.ifError(err);
    assert.equal(rows.length, 0);
  });

  test('a cursor over INSERT reports rowCount', async () => {
    await client.query('CREATE TEMPORARY TABLE pgc_cursor_ins (foo varchar(1), bar varchar(1))');
    const cursor = client.query(new Cursor('INSERT INTO pgc_cursor_ins VALUES ($1, $2)', ['a', 'b']));
    const [err, rows, result] = await readCb(cursor, 1);
    assert.ifError(err);
    assert.equal(rows.length, 0);
    assert.equal(result.rowCount, 1);
  });
});

describe('pgc cursor: close', () => {
  const fifty = 'SELECT generate_series AS num FROM generate_series(0, 50)';
  let client;
  beforeEach(async () => {
    client = new Client(config());
    await client.connect();
  });
  afterEach(async () => {
    await client.end();
  });

  test('closing a finished cursor; the client goes on', async () => {
    const cursor = client.query(new Cursor(fifty));
    assert.equal((await cursor.read(100)).length, 51);
    await cursor.close();
    const r = await client.query('SELECT 1 AS one');
    assert.equal(r.rows[0].one, 1);
  });

  test('closing a cursor early; the client goes on', async () => {
    const cursor = client.query(new Cursor(fifty));
    assert.equal((await cursor.read(25)).length, 25);
    await cursor.close();
    const r = await client.query('SELECT 2 AS two');
    assert.equal(r.rows[0].two, 2);
  });

  test('close(callback)', async () => {
    const cursor = client.query(new Cursor(fifty));
    const [err, rows] = await readCb(cursor, 25);
    assert.ifError(err);
    assert.equal(rows.length, 25);
    const closeErr = await new Promise((resolve) => cursor.close((e) => resolve(e)));
    assert.ok(!closeErr);
    const r = await client.query('SELECT 3 AS three');
    assert.equal(r.rows[0].three, 3);
  });

  test('closing a cursor that was never submitted is a no-op', async () => {
    const cursor = new Cursor(fifty);
    const err = await new Promise((resolve) => cursor.close((e) => resolve(e)));
    assert.ok(!err);
  });

  test('closing twice is fine', async () => {
    const cursor = client.query(new Cursor(fifty));
    await cursor.read(1);
    await cursor.close();
    await cursor.close();
    const r = await client.query('SELECT 4 AS four');
    assert.equal(r.rows[0].four, 4);
  });
});

describe('pgc cursor: errors', () => {
  let client;
  beforeEach(async () => {
    client = new Client(config());
    await client.connect();
  });
  afterEach(async () => {
    await client.end();
  });

  test('bad SQL calls back with a server error; the client goes on', async () => {
    const cursor = client.query(new Cursor('select asdfasdf'));
    const [err] = await readCb(cursor, 1);
    assert.ok(err instanceof Error);
    assert.equal(err.code, '42703'); // undefined_column
    const r = await client.query('SELECT NOW() AS now');
    assert.ok(r.rows[0].now instanceof Date);
  });

  test('a syntax error rejects read(); the client goes on', async () => {
    const cursor = client.query(new Cursor('asdfdffsdf'));
    await assert.rejects(cursor.read(1), (err) => {
      assert.equal(err.code, '42601');
      return true;
    });
    const r = await client.query('SELECT 1 AS one');
    assert.equal(r.rows[0].one, 1);
  });

  test("bad SQL emits 'error' on the cursor", async () => {
    const cursor = client.query(new Cursor('select asdfasdf'));
    const emitted = new Promise((resolve) => cursor.on('error', resolve));
    cursor.read(1, () => {});
    const err = await within(emitted, 5000, "'error'");
    assert.ok(err instanceof Error);
  });

  test('the read callback is not called synchronously, for errors and for the end', async () => {
    const bad = client.query(new Cursor('asdfdffsdf'));
    let after = false;
    const seen = new Promise((resolve) =>
      bad.read(1, (err) => {
        resolve([Boolean(err), after]);
      }),
    );
    after = true;
    assert.deepEqual(await within(seen), [true, true]);

    const good = client.query(new Cursor('SELECT NOW()'));
    await good.read(1);
    await good.read(1);
    after = false;
    const done = new Promise((resolve) => good.read(1, (err, rows) => resolve([err, rows, after])));
    after = true;
    const [err, rows, wasAfter] = await within(done);
    assert.ifError(err);
    assert.deepEqual(rows, []);
    assert.equal(wasAfter, true);
  });

  test('an error raised while fetching (division by zero) rejects read', async () => {
    const cursor = client.query(new Cursor('SELECT 1 / (3 - g) AS x FROM generate_series(1, 5) g'));
    await assert.rejects(
      (async () => {
        for (;;) if ((await cursor.read(1)).length === 0) break;
      })(),
      (err) => {
        assert.equal(err.code, '22012');
        return true;
      },
    );
    const r = await client.query('SELECT 5 AS five');
    assert.equal(r.rows[0].five, 5);
  });
});

describe('pgc cursor: transactions and pools', () => {
  test('a cursor inside a transaction; statements after it run in the transaction', async () => {
    const client = new Client(config());
    await client.connect();
    try {
      await client.query('BEGIN');
      await client.query('CREATE TEMP TABLE pgc_cursor_foobar(id SERIAL PRIMARY KEY)');
      const cursor = client.query(new Cursor('SELECT * FROM pgc_cursor_foobar'));
      const [err, rows] = await readCb(cursor, 10);
      assert.ifError(err);
      assert.equal(rows.length, 0);
      await client.query('ALTER TABLE pgc_cursor_foobar ADD COLUMN name TEXT');
      await client.query('COMMIT');
    } finally {
      await client.end();
    }
  });

  test('closing a cursor early inside a transaction keeps the transaction', async () => {
    const client = new Client(config());
    await client.connect();
    try {
      await client.query('BEGIN');
      await client.query('CREATE TEMP TABLE pgc_cursor_foobar2(id SERIAL PRIMARY KEY)');
      const cursor = client.query(new Cursor('SELECT * FROM pgc_cursor_foobar2'));
      await new Promise((resolve) => cursor.close(resolve));
      await client.query('ALTER TABLE pgc_cursor_foobar2 ADD COLUMN name TEXT');
      const r = await client.query('SELECT count(*)::int AS n FROM pgc_cursor_foobar2');
      assert.equal(r.rows[0].n, 0);
      await client.query('ROLLBACK');
    } finally {
      await client.end();
    }
  });

  test('cursors on pool clients, released afterwards', async () => {
    const pool = new Pool(config({ max: 2 }));
    try {
      const work = [1, 2, 3, 4].map(async (k) => {
        const client = await pool.connect();
        try {
          const cursor = client.query(new Cursor('SELECT g * $1::int4 AS v FROM generate_series(1, 5) g', [k]));
          const a = await cursor.read(2);
          const b = await cursor.read(10);
          await cursor.close();
          return [...a, ...b].map((r) => r.v);
        } finally {
          client.release();
        }
      });
      const got = await Promise.all(work);
      assert.deepEqual(got, [1, 2, 3, 4].map((k) => [1, 2, 3, 4, 5].map((g) => g * k)));
      await assertAllIdle(pool);
    } finally {
      await pool.end();
    }
  });
});
