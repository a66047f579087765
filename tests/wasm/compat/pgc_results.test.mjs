// Port of node-postgres' own integration tests about results
// (packages/pg/test/integration/client/result-metadata, row-description-on-results,
// multiple-results, results-as-array, empty-query, no-data, no-row-result,
// query-column-names, field-name-escape): first proved against `pg`, then run
// unchanged on edgepg (./driver.mjs).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Pool, Client, config } from './driver.mjs';

const table = 'pgc_results_zugzug';

describe('pgc results: metadata', () => {
  let client;
  before(async () => {
    client = new Client(config());
    await client.connect();
    await client.query(`DROP TABLE IF EXISTS ${table}`);
  });
  after(async () => {
    await client.query(`DROP TABLE IF EXISTS ${table}`);
    await client.end();
  });

  test('command, rowCount, oid and rowAsArray are own properties: a spread copy keeps them', async () => {
    const res = await client.query('SELECT 1 AS one');
    const copy = { ...res, rows: res.rows.map((r) => r.one) };
    assert.equal(copy.command, 'SELECT');
    assert.equal(copy.rowCount, 1);
    assert.equal(copy.oid, null);
    assert.equal(copy.rowAsArray, false);
    assert.deepEqual(copy.rows, [1]);
  });

  test('CREATE, INSERT, SELECT, UPDATE, DELETE report command, rowCount and oid', async () => {
    const created = await client.query(`CREATE TABLE ${table}(id serial primary key, name varchar(10), n int4, note text)`);
    assert.equal(created.command, 'CREATE');
    assert.equal(created.oid, null);
    assert.equal(created.rowCount, null);
    assert.deepEqual(created.rows, []);

    const inserted = await client.query(`INSERT INTO ${table}(name, n) VALUES ('more work?', 1), ('b', 2)`);
    assert.equal(inserted.command, 'INSERT');
    assert.equal(inserted.rowCount, 2);
    // `INSERT 0 2`: the oid part of the tag is 0 on every modern server.
    assert.equal(inserted.oid, 0);

    const selected = await client.query(`SELECT * FROM ${table} ORDER BY id`);
    assert.equal(selected.command, 'SELECT');
    assert.equal(selected.rowCount, 2);
    assert.equal(selected.oid, null);
    assert.equal(selected.rows.length, 2);

    const updated = await client.query(`UPDATE ${table} SET n = n + 1`);
    assert.equal(updated.command, 'UPDATE');
    assert.equal(updated.rowCount, 2);
    assert.deepEqual(updated.rows, []);

    const noneUpdated = await client.query(`UPDATE ${table} SET n = 0 WHERE false`);
    assert.equal(noneUpdated.rowCount, 0);

    const deleted = await client.query(`DELETE FROM ${table} WHERE name = $1`, ['b']);
    assert.equal(deleted.command, 'DELETE');
    assert.equal(deleted.rowCount, 1);

    const returning = await client.query(`INSERT INTO ${table}(name) VALUES ($1) RETURNING name`, ['c']);
    assert.equal(returning.command, 'INSERT');
    assert.equal(returning.rowCount, 1);
    assert.deepEqual(returning.rows, [{ name: 'c' }]);

    const set = await client.query(`SET application_name = 'pgc'`);
    assert.equal(set.command, 'SET');
    assert.equal(set.rowCount, null);
  });

  test('row description on results (with and without rows)', async () => {
    for (const limit of ['', ' LIMIT 0']) {
      const r = await client.query(`SELECT NOW() as now, 1::int as num, $1::text as texty${limit}`, ['hello']);
      assert.equal(r.fields.length, 3);
      assert.deepEqual(r.fields.map((f) => f.name), ['now', 'num', 'texty']);
      assert.deepEqual(r.fields.map((f) => f.dataTypeID), [1184, 23, 25]);
      assert.equal(r.rows.length, limit ? 0 : 1);
      assert.equal(r.rowCount, limit ? 0 : 1);
    }
  });

  test('fields carry tableID, columnID, dataTypeSize, dataTypeModifier and format', async () => {
    const { rows: [{ oid }] } = await client.query(`SELECT $1::regclass::oid::int4 AS oid`, [table]);
    const r = await client.query(`SELECT id, name, n, note, 1::int2 AS lit FROM ${table}`);
    const byName = Object.fromEntries(r.fields.map((f) => [f.name, f]));
    assert.equal(byName.id.tableID, oid);
    assert.equal(byName.id.columnID, 1);
    assert.equal(byName.id.dataTypeID, 23);
    assert.equal(byName.id.dataTypeSize, 4);
    assert.equal(byName.id.dataTypeModifier, -1);
    assert.equal(byName.id.format, 'text');

    assert.equal(byName.name.tableID, oid);
    assert.equal(byName.name.columnID, 2);
    assert.equal(byName.name.dataTypeID, 1043);
    assert.equal(byName.name.dataTypeSize, -1);
    assert.equal(byName.name.dataTypeModifier, 14); // varchar(10): 10 + 4

    assert.equal(byName.n.columnID, 3);
    assert.equal(byName.note.columnID, 4);
    assert.equal(byName.note.dataTypeID, 25);
    assert.equal(byName.note.dataTypeSize, -1);

    // A computed column comes from no table.
    assert.equal(byName.lit.tableID, 0);
    assert.equal(byName.lit.columnID, 0);
    assert.equal(byName.lit.dataTypeID, 21);
    assert.equal(byName.lit.dataTypeSize, 2);
  });

  test('query column names keep their order and case; odd names are fine', async () => {
    const r = await client.query(`SELECT 1 AS "b", 2 AS "A", 3 AS "a", 4 AS "the ""quoted"" one", 5 AS "x'y"`);
    assert.deepEqual(r.fields.map((f) => f.name), ['b', 'A', 'a', 'the "quoted" one', "x'y"]);
    assert.deepEqual(Object.keys(r.rows[0]), ['b', 'A', 'a', 'the "quoted" one', "x'y"]);
    assert.equal(r.rows[0]['the "quoted" one'], 4);
  });

  test('no row results still describe their columns', async () => {
    const r = await client.query('SELECT * FROM generate_series(1, 0) AS g');
    assert.equal(r.command, 'SELECT');
    assert.equal(r.rowCount, 0);
    assert.deepEqual(r.rows, []);
    assert.deepEqual(r.fields.map((f) => f.name), ['g']);
  });
});

describe('pgc results: multiple result sets', () => {
  let client;
  before(async () => {
    client = new Client(config());
    await client.connect();
  });
  after(async () => {
    await client.end();
  });

  test('two select results come back as an array', async () => {
    const results = await client.query(`SELECT 'foo'::text as name; SELECT 'bar'::text as baz`);
    assert.ok(Array.isArray(results));
    assert.equal(results.length, 2);
    assert.equal(results[0].fields[0].name, 'name');
    assert.deepEqual(results[0].rows, [{ name: 'foo' }]);
    assert.equal(results[1].fields[0].name, 'baz');
    assert.deepEqual(results[1].rows, [{ baz: 'bar' }]);
  });

  test('three selects', async () => {
    const results = await client.query(`
      SELECT * FROM generate_series(2, 4) as foo;
      SELECT * FROM generate_series(8, 10) as bar;
      SELECT * FROM generate_series(20, 22) as baz;
    `);
    assert.equal(results.length, 3);
    assert.deepEqual(results[0].rows, [{ foo: 2 }, { foo: 3 }, { foo: 4 }]);
    assert.deepEqual(results[1].rows, [{ bar: 8 }, { bar: 9 }, { bar: 10 }]);
    assert.deepEqual(results[2].rows, [{ baz: 20 }, { baz: 21 }, { baz: 22 }]);
    assert.equal(results[2].fields[0].name, 'baz');
  });

  test('mixed statements report each command', async () => {
    const results = await client.query(`
      CREATE TEMP TABLE pgc_results_weather(type text);
      INSERT INTO pgc_results_weather(type) VALUES ('rain'), ('snow');
      SELECT * FROM pgc_results_weather ORDER BY type;
      DROP TABLE pgc_results_weather;
    `);
    assert.deepEqual(results.map((r) => r.command), ['CREATE', 'INSERT', 'SELECT', 'DROP']);
    assert.equal(results[1].rowCount, 2);
    assert.deepEqual(results[2].rows, [{ type: 'rain' }, { type: 'snow' }]);
  });

  test('a multi-statement query in rowMode array gives arrays in each result', async () => {
    const results = await client.query({ text: 'SELECT 1 AS a, 2 AS b; SELECT 3 AS c', rowMode: 'array' });
    assert.equal(results.length, 2);
    assert.deepEqual(results[0].rows, [[1, 2]]);
    assert.deepEqual(results[1].rows, [[3]]);
  });

  test('an error in the second statement rejects the whole query; the client stays usable', async () => {
    await assert.rejects(client.query('SELECT 1; SELECT * FROM pgc_results_does_not_exist; SELECT 3'), (err) => {
      assert.equal(err.code, '42P01');
      return true;
    });
    const r = await client.query('SELECT 4 AS four');
    assert.deepEqual(r.rows, [{ four: 4 }]);
  });
});

describe('pgc results: rows as arrays', () => {
  let pool;
  before(() => {
    pool = new Pool(config({ max: 2 }));
  });
  after(async () => {
    await pool.end();
  });

  test('rowMode array gives arrays in column order, objects otherwise', async () => {
    const text = `SELECT 'hi'::text AS a, $1::int4 AS b, NULL::text AS c, 'hi'::text AS a`;
    const arr = await pool.query({ text, values: [10], rowMode: 'array' });
    assert.equal(arr.rowAsArray, true);
    assert.ok(Array.isArray(arr.rows[0]));
    // A repeated column name survives as its own value.
    assert.deepEqual(arr.rows, [['hi', 10, null, 'hi']]);
    assert.deepEqual(arr.fields.map((f) => f.name), ['a', 'b', 'c', 'a']);
    assert.equal(arr.rowCount, 1);

    const obj = await pool.query(text, [10]);
    assert.equal(obj.rowAsArray, false);
    assert.deepEqual(obj.rows, [{ a: 'hi', b: 10, c: null }]);
  });

  test('rowMode array on a pool client with many rows', async () => {
    const client = await pool.connect();
    try {
      const r = await client.query({ text: 'SELECT g, g * 2 FROM generate_series(1, 3) g', rowMode: 'array' });
      assert.deepEqual(r.rows, [[1, 2], [2, 4], [3, 6]]);
    } finally {
      client.release();
    }
  });
});

describe('pgc results: empty and no-data queries', () => {
  let client;
  before(async () => {
    client = new Client(config());
    await client.connect();
  });
  after(async () => {
    await client.end();
  });

  test('an empty query resolves with no rows', async () => {
    const r = await client.query('');
    assert.deepEqual(r.rows, []);
    assert.equal(r.command, null);
    assert.equal(r.rowCount, null);
  });

  test('a query that is only a comment resolves with no rows', async () => {
    const r = await client.query('-- just a comment');
    assert.deepEqual(r.rows, []);
    assert.equal(r.rowCount, null);
  });

  test('statements that return no data', async () => {
    const r = await client.query('CREATE TEMP TABLE pgc_results_nodata(x int)');
    assert.deepEqual(r.rows, []);
    assert.deepEqual(r.fields, []);
    const i = await client.query('INSERT INTO pgc_results_nodata VALUES ($1)', [1]);
    assert.deepEqual(i.rows, []);
    assert.equal(i.rowCount, 1);
    await client.query('DROP TABLE pgc_results_nodata');
  });

  test('the client is usable after an empty query', async () => {
    await client.query('');
    const r = await client.query('SELECT $1::text AS t', ['after']);
    assert.deepEqual(r.rows, [{ t: 'after' }]);
  });
});
