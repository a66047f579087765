// Port of node-postgres' tests of its calling styles and small helpers
// (packages/pg/test/integration/client/query-as-promise, promise-api,
// api-tests, prepared-statement, simple-query; connection-pool/*;
// packages/pg-pool/test/index, releasing-clients; test/unit/client/escape):
// first proved against `pg`, then run unchanged on edgepg (./driver.mjs).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Pool, Client, escapeIdentifier, escapeLiteral, config, url, isPg } from './driver.mjs';

describe('pgc callbacks: promises and callbacks', () => {
  let pool;
  let client;
  before(async () => {
    pool = new Pool(config({ max: 3 }));
    client = new Client(config());
    await client.connect();
  });
  after(async () => {
    await client.end();
    await pool.end();
  });

  test('client.query and pool.query return promises of results', async () => {
    const p = client.query('SELECT $1::text AS name', ['foo']);
    assert.equal(typeof p.then, 'function');
    const r = await p;
    assert.equal(r.rows[0].name, 'foo');
    const q = pool.query('SELECT $1::text AS name', ['bar']);
    assert.equal(typeof q.then, 'function');
    assert.equal((await q).rows[0].name, 'bar');
  });

  test('a failing query rejects its promise', async () => {
    await assert.rejects(client.query('SELECT * FROM pgc_callbacks_missing'), (err) => err.code === '42P01');
    await assert.rejects(pool.query('SELECT * FROM pgc_callbacks_missing'), (err) => err.code === '42P01');
  });

  test('client.query(text, callback), (text, values, callback) and (config, callback)', async () => {
    const a = await new Promise((resolve, reject) =>
      client.query('SELECT 1 AS n', (err, res) => (err ? reject(err) : resolve(res))),
    );
    assert.equal(a.rows[0].n, 1);
    const b = await new Promise((resolve, reject) =>
      client.query('SELECT $1::int4 AS n', [2], (err, res) => (err ? reject(err) : resolve(res))),
    );
    assert.equal(b.rows[0].n, 2);
    const c = await new Promise((resolve, reject) =>
      client.query({ text: 'SELECT $1::int4 AS n', values: [3] }, (err, res) => (err ? reject(err) : resolve(res))),
    );
    assert.equal(c.rows[0].n, 3);
    const d = await new Promise((resolve, reject) =>
      client.query({ text: 'SELECT $1::int4 AS n', rowMode: 'array' }, [4], (err, res) => (err ? reject(err) : resolve(res))),
    );
    assert.deepEqual(d.rows, [[4]]);
  });

  test('with a callback, query returns undefined', async () => {
    let done;
    const finished = new Promise((resolve) => {
      done = resolve;
    });
    const ret = client.query('SELECT 1', () => done());
    assert.equal(ret, undefined);
    await finished;
    const ret2 = pool.query('SELECT 1', [], () => done());
    assert.equal(ret2, undefined);
  });

  test('pool.query(text, values, callback)', async () => {
    const [err, res] = await new Promise((resolve) => pool.query('SELECT $1::text AS t', ['cb'], (...a) => resolve(a)));
    assert.ifError(err);
    assert.equal(res.rows[0].t, 'cb');
    const [err2, res2] = await new Promise((resolve) => pool.query('SELECT 1/0', (...a) => resolve(a)));
    assert.equal(err2.code, '22012');
    assert.equal(res2, undefined);
  });

  test('pool.connect(callback) gives (err, client, done); done() returns the client', async () => {
    const [err, c, done] = await new Promise((resolve) => pool.connect((...a) => resolve(a)));
    assert.ifError(err);
    assert.equal(typeof done, 'function');
    const r = await c.query('SELECT 1 AS one');
    assert.equal(r.rows[0].one, 1);
    const idleBefore = pool.idleCount;
    done();
    assert.equal(pool.idleCount, idleBefore + 1);
  });

  test('queries issued without waiting run in order on one client', async () => {
    await client.query('CREATE TEMP TABLE pgc_callbacks_order(n int)');
    const ps = [];
    for (let i = 0; i < 10; i++) ps.push(client.query('INSERT INTO pgc_callbacks_order VALUES ($1) RETURNING n', [i]));
    const results = await Promise.all(ps);
    assert.deepEqual(results.map((r) => r.rows[0].n), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const seen = [];
    await Promise.all([
      client.query('SELECT pg_sleep(0.02)').then(() => seen.push('slow')),
      client.query('SELECT 1').then(() => seen.push('fast')),
    ]);
    assert.deepEqual(seen, ['slow', 'fast']);
    await client.query('DROP TABLE pgc_callbacks_order');
  });

  test('many queries at once through a small pool', async () => {
    const ps = Array.from({ length: 30 }, (_, i) => pool.query('SELECT $1::int4 * 2 AS v', [i]));
    const rs = await Promise.all(ps);
    assert.deepEqual(rs.map((r) => r.rows[0].v), Array.from({ length: 30 }, (_, i) => i * 2));
    assert.ok(pool.totalCount <= 3);
  });

  test('processID is the backend pid', async () => {
    const r = await client.query('SELECT pg_backend_pid() AS pid');
    assert.equal(client.processID, r.rows[0].pid);
    const pc = await pool.connect();
    try {
      const r2 = await pc.query('SELECT pg_backend_pid() AS pid');
      assert.equal(pc.processID, r2.rows[0].pid);
    } finally {
      pc.release();
    }
  });

  test('release(err) closes that connection; the next checkout gets another', async () => {
    const solo = new Pool(config({ max: 1 }));
    try {
      const a = await solo.connect();
      const pidA = a.processID;
      a.release();
      const b = await solo.connect();
      assert.equal(b.processID, pidA); // a plain release() reuses it
      b.release(new Error('throw this one away'));
      const c = await solo.connect();
      assert.notEqual(c.processID, pidA);
      c.release(true);
      assert.equal(solo.totalCount, 0);
    } finally {
      await solo.end();
    }
  });

  test('releasing twice', async () => {
    const c = await pool.connect();
    c.release();
    if (isPg) {
      // node-postgres throws on a second release; edgepg's release() is
      // documented idempotent (index.d.ts: "Returns the connection to the pool (idempotent)").
      assert.throws(() => c.release());
    } else {
      assert.doesNotThrow(() => c.release());
    }
    const r = await pool.query('SELECT 1 AS one');
    assert.equal(r.rows[0].one, 1);
  });

  test('new Client(connectionString) accepts a URL string (default transport in every run)', async () => {
    const c = new Client(url);
    await c.connect();
    try {
      const r = await c.query('SELECT current_database() AS db');
      assert.equal(r.rows[0].db, new URL(url).pathname.slice(1));
    } finally {
      await c.end();
    }
  });
});

describe('pgc callbacks: prepared statements', () => {
  let client;
  before(async () => {
    client = new Client(config());
    await client.connect();
    await client.query(`CREATE TEMP TABLE pgc_callbacks_person(name text, age int)`);
    await client.query(`INSERT INTO pgc_callbacks_person VALUES ('Brian', 20), ('Aaron', 10), ('Zed', 30), ('Sam', 20)`);
  });
  after(async () => {
    await client.end();
  });

  test('a named statement runs again with other values', async () => {
    const q = (age) => client.query({ name: 'pgc_get_by_age', text: 'SELECT name FROM pgc_callbacks_person WHERE age = $1 ORDER BY name', values: [age] });
    assert.deepEqual((await q(20)).rows, [{ name: 'Brian' }, { name: 'Sam' }]);
    assert.deepEqual((await q(10)).rows, [{ name: 'Aaron' }]);
    assert.deepEqual((await q(99)).rows, []);
  });

  test('a named statement given only by name and values the second time', async () => {
    const first = await client.query({ name: 'pgc_named_twice', text: 'SELECT $1::int4 + 1 AS v', values: [1] });
    assert.equal(first.rows[0].v, 2);
    const again = await client.query({ name: 'pgc_named_twice', text: 'SELECT $1::int4 + 1 AS v', values: [41] });
    assert.equal(again.rows[0].v, 42);
  });

  test('named statements without parameters, with rowMode array, with callbacks', async () => {
    const r = await client.query({ name: 'pgc_count', text: 'SELECT count(*)::int4 AS n FROM pgc_callbacks_person' });
    assert.equal(r.rows[0].n, 4);
    const a = await client.query({ name: 'pgc_count', text: 'SELECT count(*)::int4 AS n FROM pgc_callbacks_person', rowMode: 'array' });
    assert.deepEqual(a.rows, [[4]]);
    const [err, res] = await new Promise((resolve) =>
      client.query({ name: 'pgc_count', text: 'SELECT count(*)::int4 AS n FROM pgc_callbacks_person' }, (...x) => resolve(x)),
    );
    assert.ifError(err);
    assert.equal(res.rows[0].n, 4);
  });

  test('interleaved named statements', async () => {
    const ps = [];
    for (let i = 0; i < 5; i++) {
      ps.push(client.query({ name: 'pgc_inter_a', text: 'SELECT $1::int4 AS a', values: [i] }));
      ps.push(client.query({ name: 'pgc_inter_b', text: 'SELECT $1::text AS b', values: [`s${i}`] }));
    }
    const rs = await Promise.all(ps);
    assert.deepEqual(rs.map((r) => r.rows[0].a ?? r.rows[0].b), [0, 's0', 1, 's1', 2, 's2', 3, 's3', 4, 's4']);
  });

  test('named statements on pool connections', async () => {
    const pool = new Pool(config({ max: 3 }));
    try {
      const ps = Array.from({ length: 9 }, (_, i) => pool.query({ name: 'pgc_pool_named', text: 'SELECT $1::int4 * 10 AS v', values: [i] }));
      const rs = await Promise.all(ps);
      assert.deepEqual(rs.map((r) => r.rows[0].v), [0, 10, 20, 30, 40, 50, 60, 70, 80]);
    } finally {
      await pool.end();
    }
  });

  test('a named INSERT reports its command and rowCount', async () => {
    const ins = (n, a) => client.query({ name: 'pgc_ins', text: 'INSERT INTO pgc_callbacks_person VALUES ($1, $2)', values: [n, a] });
    const r1 = await ins('X', 1);
    const r2 = await ins('Y', 2);
    assert.equal(r1.command, 'INSERT');
    assert.equal(r2.rowCount, 1);
    await client.query(`DELETE FROM pgc_callbacks_person WHERE name IN ('X', 'Y')`);
  });
});

describe('pgc callbacks: escaping', () => {
  test('escapeIdentifier', () => {
    assert.equal(escapeIdentifier('hello world'), '"hello world"');
    assert.equal(escapeIdentifier('hello " world'), '"hello "" world"');
    assert.equal(escapeIdentifier('hello \\ world'), '"hello \\ world"');
    assert.equal(escapeIdentifier(`hello ' world`), `"hello ' world"`);
    assert.equal(escapeIdentifier('""'), '""""""');
    assert.equal(escapeIdentifier(''), '""');
  });

  test('escapeLiteral', () => {
    assert.equal(escapeLiteral('hello world'), "'hello world'");
    assert.equal(escapeLiteral("hello ' world"), "'hello '' world'");
    assert.equal(escapeLiteral('hello \\ world'), " E'hello \\\\ world'");
    assert.equal(escapeLiteral("hello \\' world"), " E'hello \\\\'' world'");
    assert.equal(escapeLiteral("hello \\ ' \\ ' world"), " E'hello \\\\ '' \\\\ '' world'");
    assert.equal(escapeLiteral(''), "''");
  });

  test('client.escapeIdentifier and client.escapeLiteral, used in SQL', async () => {
    const client = new Client(config());
    await client.connect();
    try {
      assert.equal(client.escapeIdentifier('a"b'), '"a""b"');
      assert.equal(client.escapeLiteral("it's"), "'it''s'");
      const col = `we"ird col`;
      const val = `it's a \\ back'slash`;
      const r = await client.query(`SELECT ${client.escapeLiteral(val)} AS ${client.escapeIdentifier(col)}`);
      assert.deepEqual(r.rows, [{ [col]: val }]);
      await client.query(`CREATE TEMP TABLE ${escapeIdentifier('pgc "esc" table')} (${escapeIdentifier('Mixed Case')} text)`);
      await client.query(`INSERT INTO ${escapeIdentifier('pgc "esc" table')} VALUES (${escapeLiteral(val)})`);
      const back = await client.query(`SELECT * FROM ${escapeIdentifier('pgc "esc" table')}`);
      assert.deepEqual(back.rows, [{ 'Mixed Case': val }]);
    } finally {
      await client.end();
    }
  });
});
