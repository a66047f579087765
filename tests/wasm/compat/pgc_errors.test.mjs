// Port of node-postgres' tests of errors (packages/pg/test/integration/client/
// error-handling, query-error-handling, query-error-handling-prepared-statement,
// transaction; packages/pg-pool/test/error-handling): first proved against
// `pg`, then run unchanged on edgepg (./driver.mjs).
//
// edgepg's server errors are subclasses of its DatabaseError (ProgrammingError,
// IntegrityError, …); `instanceof DatabaseError` holds on both drivers.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Pool, Client, DatabaseError, config, assertAllIdle } from './driver.mjs';

const table = 'pgc_errors_person';
const parent = 'pgc_errors_parent';

/** The rejection of `promise` (fails when it resolves). */
async function rejection(promise) {
  try {
    await promise;
  } catch (e) {
    return e;
  }
  assert.fail('expected a rejection');
}

/** `client.query(...args, callback)` as `[err, res]`. */
function queryCb(q, ...args) {
  return new Promise((resolve) => q.query(...args, (err, res) => resolve([err, res])));
}

describe('pgc errors: server errors', () => {
  let client;
  before(async () => {
    client = new Client(config());
    await client.connect();
    await client.query(`DROP TABLE IF EXISTS ${table}; DROP TABLE IF EXISTS ${parent}`);
    await client.query(`CREATE TABLE ${parent}(id int PRIMARY KEY)`);
    await client.query(
      `CREATE TABLE ${table}(id int CONSTRAINT pgc_errors_person_pk PRIMARY KEY, name text NOT NULL, age int CHECK (age >= 0), parent_id int REFERENCES ${parent}(id))`,
    );
  });
  after(async () => {
    await client.query(`DROP TABLE IF EXISTS ${table}; DROP TABLE IF EXISTS ${parent}`);
    await client.end();
  });

  test('a syntax error has code 42601, severity ERROR and the position', async () => {
    const err = await rejection(client.query('SELECT 1 FROMM nothing WHERE'));
    assert.ok(err instanceof Error);
    assert.ok(err instanceof DatabaseError);
    assert.equal(err.code, '42601');
    assert.equal(err.severity, 'ERROR');
    assert.match(err.message, /syntax error at or near/);
    // 'FROMM' is read as an alias, so the error is at 'nothing' (character 16).
    // pg gives the position as the string '16', edgepg as the number 16 (its
    // declared type); compare as text.
    assert.equal(String(err.position), '16');
  });

  test('an unknown table (42P01) and an unknown column (42703)', async () => {
    const t = await rejection(client.query('SELECT * FROM pgc_errors_no_such_table'));
    assert.equal(t.code, '42P01');
    assert.equal(t.message, 'relation "pgc_errors_no_such_table" does not exist');
    const c = await rejection(client.query('select eeeee from pg_class'));
    assert.equal(c.code, '42703');
    assert.ok(c instanceof DatabaseError);
  });

  test('a unique violation has code 23505 with constraint, table, schema and detail', async () => {
    await client.query(`INSERT INTO ${table}(id, name) VALUES (1, 'a')`);
    const err = await rejection(client.query(`INSERT INTO ${table}(id, name) VALUES (1, 'b')`));
    assert.ok(err instanceof DatabaseError);
    assert.equal(err.code, '23505');
    assert.equal(err.constraint, 'pgc_errors_person_pk');
    assert.equal(err.table, table);
    assert.equal(err.schema, 'public');
    assert.equal(err.detail, 'Key (id)=(1) already exists.');
    assert.match(err.message, /duplicate key value violates unique constraint "pgc_errors_person_pk"/);
  });

  test('not-null (23502, column), check (23514) and foreign key (23503) violations', async () => {
    const nn = await rejection(client.query(`INSERT INTO ${table}(id, name) VALUES (2, NULL)`));
    assert.equal(nn.code, '23502');
    assert.equal(nn.column, 'name');
    assert.equal(nn.table, table);

    const ck = await rejection(client.query(`INSERT INTO ${table}(id, name, age) VALUES (3, 'c', -1)`));
    assert.equal(ck.code, '23514');
    assert.equal(ck.constraint, 'pgc_errors_person_age_check');

    const fk = await rejection(client.query(`INSERT INTO ${table}(id, name, parent_id) VALUES (4, 'd', 99)`));
    assert.equal(fk.code, '23503');
    assert.equal(fk.constraint, 'pgc_errors_person_parent_id_fkey');
    assert.match(fk.detail, /Key \(parent_id\)=\(99\) is not present in table/);
  });

  test('a bad parameter value (22P02) while binding; the client goes on', async () => {
    const err = await rejection(client.query(`SELECT * FROM ${table} WHERE age = $1`, ['asldkfjasdf']));
    assert.ok(err instanceof DatabaseError);
    assert.equal(err.code, '22P02');
    assert.equal(err.severity, 'ERROR');
    const r = await client.query(`SELECT count(*)::int AS n FROM ${table}`);
    assert.equal(typeof r.rows[0].n, 'number');
  });

  test('an error raised in the middle of the rows (22012)', async () => {
    const err = await rejection(client.query('SELECT 10 / (3 - g) AS x FROM generate_series(1, 5) g'));
    assert.equal(err.code, '22012');
    assert.equal(err.message, 'division by zero');
  });

  test('RAISE EXCEPTION with a custom SQLSTATE, detail and hint; where is set', async () => {
    const err = await rejection(
      client.query(`DO $$ BEGIN RAISE EXCEPTION 'custom %', 'boom' USING ERRCODE = 'PGC01', DETAIL = 'the detail', HINT = 'the hint'; END $$`),
    );
    assert.equal(err.code, 'PGC01');
    assert.equal(err.message, 'custom boom');
    assert.equal(err.detail, 'the detail');
    assert.equal(err.hint, 'the hint');
    assert.match(err.where, /PL\/pgSQL function/);
  });

  test('a query after an error on the same client works', async () => {
    for (let i = 0; i < 3; i++) {
      await rejection(client.query('SELECT * FROM pgc_errors_no_such_table'));
      const r = await client.query('SELECT $1::text AS name', ['after ' + i]);
      assert.deepEqual(r.rows, [{ name: 'after ' + i }]);
    }
  });

  test('an error passes to the callback, with no result', async () => {
    const [err, res] = await queryCb(client, 'SELECT * FROM pgc_errors_no_such_table');
    assert.ok(err instanceof DatabaseError);
    assert.equal(err.code, '42P01');
    assert.equal(res, undefined);
    const [err2, res2] = await queryCb(client, 'SELECT $1::int4 AS n', [5]);
    assert.equal(err2, null);
    assert.equal(res2.rows[0].n, 5);
  });
});

describe('pgc errors: transactions', () => {
  let client;
  before(async () => {
    client = new Client(config());
    await client.connect();
    await client.query('CREATE TEMP TABLE pgc_errors_tx(name text)');
  });
  after(async () => {
    await client.end();
  });

  test('an error in the middle of a transaction aborts it until ROLLBACK', async () => {
    await client.query('BEGIN');
    await client.query(`INSERT INTO pgc_errors_tx VALUES ('in tx')`);
    const err = await rejection(client.query('SELECT * FROM pgc_errors_no_such_table'));
    assert.equal(err.code, '42P01');
    const aborted = await rejection(client.query('SELECT 1'));
    assert.equal(aborted.code, '25P02');
    assert.match(aborted.message, /current transaction is aborted/);
    await client.query('ROLLBACK');
    const r = await client.query('SELECT count(*)::int AS n FROM pgc_errors_tx');
    assert.equal(r.rows[0].n, 0);
  });

  test('COMMIT of a failed transaction rolls it back', async () => {
    await client.query('BEGIN');
    await client.query(`INSERT INTO pgc_errors_tx VALUES ('lost')`);
    await rejection(client.query('SELECT 1/0'));
    const r = await client.query('COMMIT');
    assert.equal(r.command, 'ROLLBACK');
    const n = await client.query('SELECT count(*)::int AS n FROM pgc_errors_tx');
    assert.equal(n.rows[0].n, 0);
  });

  test('a savepoint recovers from an error inside a transaction', async () => {
    await client.query('BEGIN');
    await client.query(`INSERT INTO pgc_errors_tx VALUES ('kept')`);
    await client.query('SAVEPOINT sp');
    await rejection(client.query('SELECT 1/0'));
    await client.query('ROLLBACK TO SAVEPOINT sp');
    await client.query(`INSERT INTO pgc_errors_tx VALUES ('also kept')`);
    await client.query('COMMIT');
    const r = await client.query('SELECT name FROM pgc_errors_tx ORDER BY name');
    assert.deepEqual(r.rows.map((x) => x.name), ['also kept', 'kept']);
  });
});

describe('pgc errors: bad calls', () => {
  let client;
  before(async () => {
    client = new Client(config());
    await client.connect();
  });
  after(async () => {
    await client.end();
  });

  test('the wrong number of parameters is an error; the client goes on', async () => {
    const tooFew = await rejection(client.query('SELECT $1::text AS a, $2::text AS b', ['only one']));
    assert.ok(tooFew instanceof Error);
    const tooMany = await rejection(client.query('SELECT $1::text AS a', ['one', 'two']));
    assert.ok(tooMany instanceof Error);
    const r = await client.query('SELECT $1::text AS a', ['fine']);
    assert.deepEqual(r.rows, [{ a: 'fine' }]);
  });

  test('a non-array values argument calls back with an error', async () => {
    const [err] = await queryCb(client, 'select $1::text as name', 'foo');
    assert.ok(err instanceof Error);
    const [err2, res] = await queryCb(client, 'SELECT $1::text as name', ['foo']);
    assert.ifError(err2);
    assert.equal(res.rows[0].name, 'foo');
  });

  test('a non-string text calls back with an error', async () => {
    const [err] = await queryCb(client, { text: {} });
    assert.ok(err instanceof Error);
    const [err2] = await queryCb(client, {});
    assert.ok(err2 instanceof Error);
    const r = await client.query('SELECT 1 AS one');
    assert.equal(r.rows[0].one, 1);
  });

  test('a non-string text rejects the promise', async () => {
    const err = await rejection(client.query({ text: 42 }));
    assert.ok(err instanceof Error);
  });

  test('passing only a function to pool.query calls back with an error', async () => {
    const pool = new Pool(config());
    try {
      const err = await new Promise((resolve) => pool.query((e) => resolve(e)));
      assert.ok(err instanceof Error);
    } finally {
      await pool.end();
    }
  });

  test('a named statement that fails can be prepared again under that name', async () => {
    const bad = await rejection(client.query({ name: 'pgc_errors_named', text: 'SELECT * FROM pgc_errors_no_such_table' }));
    assert.equal(bad.code, '42P01');
    const good = await client.query({ name: 'pgc_errors_named', text: 'SELECT $1::int4 AS n', values: [3] });
    assert.equal(good.rows[0].n, 3);
  });

  test('a named statement whose execution fails can still run again', async () => {
    const q = { name: 'pgc_errors_div', text: 'SELECT 10 / $1::int4 AS x' };
    const err = await rejection(client.query({ ...q, values: [0] }));
    assert.equal(err.code, '22012');
    const r = await client.query({ ...q, values: [5] });
    assert.equal(r.rows[0].x, 2);
  });
});

describe('pgc errors: pools', () => {
  test('concurrent failing queries all reject; the pool stays usable', async () => {
    const pool = new Pool(config({ max: 3 }));
    try {
      const errs = await Promise.all(Array.from({ length: 5 }, () => rejection(pool.query("SELECT 'asd'+1"))));
      for (const e of errs) {
        assert.ok(e instanceof DatabaseError);
        assert.equal(e.code, '22P02');
      }
      const r = await pool.query('SELECT $1::text AS name', ['hi']);
      assert.equal(r.rows[0].name, 'hi');
      await assertAllIdle(pool);
    } finally {
      await pool.end();
    }
  });

  test('a pool client stays usable after a failed query and can be released normally', async () => {
    const pool = new Pool(config({ max: 1 }));
    try {
      const client = await pool.connect();
      await rejection(client.query('SELECT * FROM pgc_errors_no_such_table'));
      const r = await client.query('SELECT 1 AS one');
      assert.equal(r.rows[0].one, 1);
      client.release();
      const again = await pool.connect();
      const r2 = await again.query('SELECT 2 AS two');
      assert.equal(r2.rows[0].two, 2);
      again.release();
    } finally {
      await pool.end();
    }
  });
});
