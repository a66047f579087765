// SQL over HTTP: Neon's `neon()` (@neondatabase/serverless) and edgepg's own
// `http()` against edgepg-proxy's `POST /sql`, on a real PostgreSQL.
//
// Driven by proxy/tests/sql_http.rs, which starts PostgreSQL and the proxy and sets:
//   EDGEPG_SQL_ENDPOINT  http://HOST:PORT/sql of the proxy
//   EDGEPG_SQL_URL       a connection string for a SCRAM user (as the proxy sees the server)
//   EDGEPG_SQL_FORBIDDEN a connection string for a destination outside the allow-list
//   EDGEPG_PKG           (optional) path of the built `edgepg` package, to test `http()` too
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { neon, neonConfig } from '@neondatabase/serverless';

const endpoint = process.env.EDGEPG_SQL_ENDPOINT;
const url = process.env.EDGEPG_SQL_URL;
const forbidden = process.env.EDGEPG_SQL_FORBIDDEN;
if (!endpoint || !url || !forbidden) {
  throw new Error('run this through proxy/tests/sql_http.rs (cargo test -p edgepg-proxy --test sql_http)');
}
neonConfig.fetchEndpoint = endpoint;

const clients = [['neon()', (u, o) => neon(u, o), 'code']];
if (process.env.EDGEPG_PKG) {
  const { http } = await import(process.env.EDGEPG_PKG);
  clients.push(['edgepg http()', (u, o) => http(u, { endpoint, ...o }), 'code']);
}

for (const [name, make] of clients) {
  const table = `http_${name.replace(/\W/g, '')}_${process.pid}`;

  test(`${name}: a tagged query with parameters`, async () => {
    const sql = make(url);
    const n = 41;
    const rows = await sql`SELECT ${n}::int + 1 AS n, ${'héllo'}::text AS t, ${null}::text AS z`;
    assert.deepEqual(rows, [{ n: 42, t: 'héllo', z: null }]);
  });

  test(`${name}: query(text, params)`, async () => {
    const sql = make(url);
    const rows = await sql.query('SELECT $1::int * 2 AS d, $2::bool AS b', [21, true]);
    assert.equal(rows[0].d, 42);
    assert.equal(rows[0].b, true);
  });

  test(`${name}: fullResults and arrayMode`, async () => {
    const sql = make(url, { fullResults: true, arrayMode: true });
    const r = await sql`SELECT 1 AS a, 'x' AS b UNION ALL SELECT 2, 'y'`;
    assert.equal(r.command, 'SELECT');
    assert.equal(r.rowCount, 2);
    assert.deepEqual(r.rows, [[1, 'x'], [2, 'y']]);
    assert.deepEqual(r.fields.map((f) => [f.name, f.dataTypeID]), [['a', 23], ['b', 25]]);
    assert.equal(r.rowAsArray, true);
  });

  test(`${name}: a batch transaction (Serializable) commits`, async () => {
    const sql = make(url);
    await sql.query(`CREATE TABLE IF NOT EXISTS ${table} (id int PRIMARY KEY, v text)`);
    await sql.query(`TRUNCATE ${table}`);
    const [a, b] = await sql.transaction(
      [sql.query(`INSERT INTO ${table} VALUES (1, 'one')`),
        sql.query(`SELECT count(*)::int AS n FROM ${table}`)],
      { isolationLevel: 'Serializable' },
    );
    assert.ok(Array.isArray(a));
    assert.deepEqual(b, [{ n: 1 }]);
  });

  test(`${name}: a failing batch leaves no row behind and raises 23505`, async () => {
    const sql = make(url);
    await assert.rejects(
      sql.transaction([
        sql.query(`INSERT INTO ${table} VALUES (2, 'two')`),
        sql.query(`INSERT INTO ${table} VALUES (1, 'again')`),
      ]),
      (e) => e.code === '23505' && (!name.startsWith('edgepg') || e.name === 'IntegrityError'),
    );
    const rows = await sql.query(`SELECT id FROM ${table} ORDER BY id`);
    assert.deepEqual(rows, [{ id: 1 }]);
  });

  test(`${name}: a syntax error raises 42601 with its position`, async () => {
    const sql = make(url);
    await assert.rejects(sql.query('SELEC 1'), (e) => e.code === '42601' && String(e.position) === '1' && (!name.startsWith('edgepg') || e.name === 'ProgrammingError'));
  });

  test(`${name}: a destination outside the allow-list is refused`, async () => {
    const sql = make(forbidden);
    await assert.rejects(sql.query('SELECT 1'), (e) => /not allowed|403/.test(e.message));
  });

  test(`${name}: types arrive as the driver maps them`, async () => {
    const sql = make(url);
    const [r] = await sql`SELECT 9007199254740993::int8 AS big, 1.50::numeric AS num, '{1,2}'::int[] AS arr,
      '{"a":1}'::jsonb AS j, '\\x00ff'::bytea AS y`;
    if (name.startsWith('edgepg')) {
      assert.equal(r.big, 9007199254740993n);
      assert.equal(r.num, '1.50');
      assert.deepEqual([...r.y], [0, 255]);
    } else {
      assert.equal(r.big, '9007199254740993');
    }
    assert.deepEqual(r.arr, [1, 2]);
    assert.deepEqual(r.j, { a: 1 });
  });

  test(`${name}: cleanup`, async () => {
    await make(url).query(`DROP TABLE IF EXISTS ${table}`);
  });
}
