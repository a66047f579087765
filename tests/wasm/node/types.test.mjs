// Values both ways (SPEC §7) and the `types` options.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Pool, DataError, DatabaseError } from 'edgepg';
import { url, tunnel } from './helpers.mjs';

let pool;
before(() => {
  pool = new Pool({ connectionString: url, transport: tunnel() });
});
after(() => pool.end());

test('defaults: int8 bigint, numeric string, timestamptz Date, timestamp string', async () => {
  const r = await pool.query(`SELECT 9007199254740993::int8 AS big, 12.50::numeric AS num,
    '2024-02-29 12:34:56.789+00'::timestamptz AS tz, '2024-02-29 12:34:56.123456'::timestamp AS ts,
    true AS b, 1.5::float8 AS f, 'NaN'::float8 AS nan, '-Infinity'::float8 AS ninf, 7::int2 AS small,
    '\\x00ff'::bytea AS bytes, '{"a":[1,2,{"b":null}]}'::jsonb AS j, '[1, "x"]'::json AS jarr,
    'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid AS id, '2024-01-02'::date AS d, '1 day 02:00'::interval AS iv,
    ARRAY[1,NULL,3]::int8[] AS arr, ARRAY[[1,2],[3,4]] AS arr2, '192.168.0.1/24'::inet AS net, NULL::text AS nothing,
    'infinity'::timestamptz AS inf_tz`);
  const row = r.rows[0];
  assert.equal(row.big, 9007199254740993n);
  assert.equal(row.num, '12.50');
  assert.ok(row.tz instanceof Date);
  assert.equal(row.tz.toISOString(), '2024-02-29T12:34:56.789Z');
  assert.equal(row.ts, '2024-02-29 12:34:56.123456');
  assert.equal(row.b, true);
  assert.equal(row.f, 1.5);
  assert.ok(Number.isNaN(row.nan));
  assert.equal(row.ninf, -Infinity);
  assert.equal(row.small, 7);
  assert.deepEqual(row.bytes, new Uint8Array([0, 255]));
  assert.ok(row.bytes instanceof Uint8Array);
  assert.deepEqual(row.j, { a: [1, 2, { b: null }] });
  assert.deepEqual(row.jarr, [1, 'x']);
  assert.equal(row.id, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11');
  assert.equal(row.d, '2024-01-02');
  assert.equal(row.iv, '1 day 02:00:00');
  assert.deepEqual(row.arr, [1n, null, 3n]);
  assert.deepEqual(row.arr2, [[1, 2], [3, 4]]);
  assert.equal(row.net, '192.168.0.1/24');
  assert.equal(row.nothing, null);
  assert.equal(row.inf_tz, Infinity);
});

test("types: int8 'number' (RangeError past 2^53) and 'string'", async () => {
  const num = new Pool({ connectionString: url, transport: tunnel(), types: { int8: 'number' } });
  assert.equal((await num.query('SELECT 42::int8 AS n')).rows[0].n, 42);
  assert.deepEqual((await num.query('SELECT ARRAY[1,2]::int8[] AS a')).rows[0].a, [1, 2]);
  // The query itself fails, naming the column.
  await assert.rejects(num.query('SELECT 9007199254740993::int8 AS n'), (e) => e instanceof RangeError && /"n"/.test(e.message));
  await assert.rejects(num.query('SELECT ARRAY[1, -9007199254740993]::int8[] AS a'), RangeError);
  assert.equal((await num.query('SELECT 1 AS still_ok')).rows[0].still_ok, 1);
  await num.end();
  const str = new Pool({ connectionString: url, transport: tunnel(), types: { int8: 'string' } });
  assert.equal((await str.query('SELECT 9223372036854775807::int8 AS n')).rows[0].n, '9223372036854775807');
  await str.end();
});

test("types: numeric 'number', timestamptz 'string', timestamp 'date'", async () => {
  const p = new Pool({
    connectionString: url, transport: tunnel(),
    types: { numeric: 'number', timestamptz: 'string', timestamp: 'date' },
  });
  const row = (await p.query(`SELECT 12.5::numeric AS n, 'NaN'::numeric AS nn,
    '2024-02-29 12:34:56.123456+00'::timestamptz AS tz, '0044-03-15 10:00:00 BC'::timestamp AS ts`)).rows[0];
  assert.equal(row.n, 12.5);
  assert.ok(Number.isNaN(row.nn));
  assert.equal(row.tz, '2024-02-29 12:34:56.123456+00');
  assert.ok(row.ts instanceof Date);
  assert.equal(row.ts.getUTCFullYear(), -43);
  // Nothing silently becomes Infinity or an Invalid Date: a RangeError naming the column.
  await assert.rejects(p.query(`SELECT ('1' || repeat('0', 400))::numeric AS huge`),
    (e) => e instanceof RangeError && /"huge"/.test(e.message));
  assert.equal((await p.query(`SELECT 'Infinity'::numeric AS inf`)).rows[0].inf, Infinity);
  await assert.rejects(p.query(`SELECT '294276-12-31 23:59:59'::timestamp AS late`),
    (e) => e instanceof RangeError && /"late"/.test(e.message));
  const dates = new Pool({ connectionString: url, transport: tunnel() });
  await assert.rejects(dates.query(`SELECT '294276-12-31 23:59:59+00'::timestamptz AS far`),
    (e) => e instanceof RangeError && /"far"/.test(e.message));
  await assert.rejects(dates.query(`SELECT ARRAY['294276-12-31 23:59:59+00'::timestamptz] AS far_list`),
    (e) => e instanceof RangeError && /"far_list"/.test(e.message));
  // The largest time a Date holds is still a Date.
  const edge = (await dates.query(`SELECT '275760-09-13 00:00:00+00'::timestamptz AS edge`)).rows[0].edge;
  assert.equal(edge.getTime(), 8.64e15);
  assert.equal((await dates.query('SELECT 1 AS alive')).rows[0].alive, 1);
  await dates.end();
  await p.end();
});

test('parameters: every JavaScript kind', async () => {
  const when = new Date('2001-02-03T04:05:06.789Z');
  const bytes = new Uint8Array([1, 2, 3, 0, 255]);
  const r = await pool.query(
    `SELECT $1::bool AS b, $2::int AS i, $3::float8 AS f, $4::int8 AS big, $5::text AS s,
      $6::timestamptz AS d, $7::bytea AS by, $8::int[] AS arr, $9::jsonb AS j, $10::int AS nul,
      $11::text AS und, $12::numeric AS hugebig, $13::text[] AS texts, $14::float8 AS nan, $15::bytea AS ab`,
    [true, 42, 2.5, 2n ** 62n, 'héllo ✓ 😀', when, bytes, [1, null, 3], { k: ['v', 1, true, null] }, null,
      undefined, 2n ** 70n, ['a', 'b"c', 'd\\e', null], NaN, bytes.buffer],
  );
  const row = r.rows[0];
  assert.equal(row.b, true);
  assert.equal(row.i, 42);
  assert.equal(row.f, 2.5);
  assert.equal(row.big, 2n ** 62n);
  assert.equal(row.s, 'héllo ✓ 😀');
  assert.equal(row.d.getTime(), when.getTime());
  assert.deepEqual(row.by, bytes);
  assert.deepEqual(row.arr, [1, null, 3]);
  assert.deepEqual(row.j, { k: ['v', 1, true, null] });
  assert.equal(row.nul, null);
  assert.equal(row.und, null);
  assert.equal(row.hugebig, (2n ** 70n).toString());
  assert.deepEqual(row.texts, ['a', 'b"c', 'd\\e', null]);
  assert.ok(Number.isNaN(row.nan));
  assert.deepEqual(row.ab, bytes);
  // json arrays of objects, and a Date far in the past
  const old = new Date(Date.UTC(-100, 0, 1));
  const r2 = await pool.query('SELECT $1::timestamptz AS t, $2::json AS j', [old, [{ a: 1 }, { b: 2 }]]);
  assert.equal(r2.rows[0].t.getTime(), old.getTime());
  assert.deepEqual(r2.rows[0].j, [{ a: 1 }, { b: 2 }]);
});

test('parameters the package classifies itself: strings around non-ASCII ones, JSON, bytes, dates, and a fallback', async () => {
  const bytes = new Uint8Array([9, 0, 7]);
  const when = new Date(Date.UTC(1999, 11, 31, 23, 59, 59, 999));
  const params = ['a', 'é😀ß', '', { x: 'ü', y: [1, null] }, bytes, when, false, -0.5, 2 ** 53, null, 'z✓',
    { toJSON: () => 'json ✓' }, Object.assign(Object.create(null), { n: 1 })];
  const r = await pool.query(
    `SELECT $1::text AS a, $2::text AS b, $3::text AS c, $4::jsonb AS d, $5::bytea AS e, $6::timestamptz AS f,
      $7::bool AS g, $8::float8 AS h, $9::float8 AS i, $10::text AS j, $11::text AS k, $12::json AS l, $13::json AS m`,
    params,
  );
  assert.deepEqual({ ...r.rows[0] }, {
    a: 'a', b: 'é😀ß', c: '', d: { x: 'ü', y: [1, null] }, e: bytes, f: when, g: false, h: -0.5, i: 2 ** 53,
    j: null, k: 'z✓', l: 'json ✓', m: { n: 1 },
  });
  // A lone surrogate after valid strings: the general conversion names the parameter.
  await assert.rejects(pool.query('SELECT $1::text, $2::text', ['ok', 'a\uD800']), /parameter \$2: .*lone surrogate/);
  await assert.rejects(pool.query('SELECT $1::timestamptz', [new Date(NaN)]), /parameter \$1: the Date is invalid/);
  // Rows converted as they arrive: values that cross as JavaScript objects keep their places.
  const many = await pool.query(`SELECT g, CASE WHEN g % 3 = 0 THEN NULL ELSE int4send(g) END AS b,
    json_build_object('g', g) AS j, 'r' || g AS t FROM generate_series(1, 5000) g`);
  assert.equal(many.length, 5000);
  assert.equal(many.status, 'SELECT 5000');
  for (const [i, row] of many.rows.entries()) {
    const g = i + 1;
    assert.equal(row.g, g);
    assert.deepEqual(row.b, g % 3 === 0 ? null : new Uint8Array([g >>> 24, (g >>> 16) & 255, (g >>> 8) & 255, g & 255]));
    assert.deepEqual(row.j, { g });
    assert.equal(row.t, 'r' + g);
  }
});

test('arrays of numbers read straight from the wire, and the shapes that are not', async () => {
  const r = await pool.query(`SELECT array[1,2]::int2[] a, array[-1,2147483647]::int4[] b, array[1.5,-2.25]::float4[] c,
    array['NaN',1e300,'-Infinity']::float8[] d, array[4294967295]::oid[] e, '{}'::int4[] f, array[1,null]::int4[] g,
    '[0:1]={1,2}'::int4[] h, array[[1,2],[3,4]]::int4[] i, null::int4[] k, array[7]::int8[] l`);
  assert.deepEqual({ ...r.rows[0] }, {
    a: [1, 2], b: [-1, 2147483647], c: [1.5, -2.25], d: [NaN, 1e300, -Infinity], e: [4294967295], f: [], g: [1, null],
    // Lower bounds other than 1 are dropped: an Array of the elements, as node-postgres gives.
    h: [1, 2], i: [[1, 2], [3, 4]], k: null, l: [7n],
  });
});

test('geometric, money, LSN, snapshot, multirange, record and text search values in their server text form', async () => {
  const exprs = [
    `'(Infinity,-0)'::point`, `'(1e20,1.5e-7)'::point`, `'(1,2),(3,4)'::box`, `'<(1,2),0.1>'::circle`,
    `'((0,0),(1,1),(2,0))'::polygon`, `'[(0,0),(1e20,-1.5e-7)]'::lseg`, `'{1,-1,0}'::line`, `'[(0,0),(1,1)]'::path`,
    `'-1234.56'::money`, `'16/B374D848'::pg_lsn`, `'10:20:10,14'::pg_snapshot`, `'{[1,3),[5,7)}'::int4multirange`,
    `row(1, '', NULL, 'a "b"', row(2.5::float4, 'x y'))`, `$$'a''b':1A,2 c$$::tsvector`, `'!a & (b | c:*B)'::tsquery`,
    // Exact ties between two candidates (the even one, as Ryu; JavaScript's
    // toExponential alone would round up) and a decimal on a float midpoint.
    `'(1125899906842624.25,-1.3948654250235363e15)'::point`, `'(5.9199409e19,0.1)'::point`,
  ];
  const r = await pool.query(`SELECT ${exprs.map((e, i) => `${e} AS v${i}, (${e})::text AS t${i}`).join(', ')}`);
  const row = r.rows[0];
  exprs.forEach((e, i) => assert.equal(row[`v${i}`], row[`t${i}`], e));
  assert.equal(row.v0, '(Infinity,-0)');
  assert.equal(row.v1, '(1e+20,1.5e-07)');
  assert.equal(row.v8, '-$1,234.56');
  assert.equal(row.v12, '(1,"",,"a ""b""","(2.5,""x y"")")');
  assert.equal(row.v15, '(1.1258999068426242e+15,-1.3948654250235362e+15)');
  assert.equal(row.v16, '(5.9199408999999996e+19,0.1)');
  // Arrays of them: arrays of their text forms.
  const a = (await pool.query(`SELECT ARRAY['(1,2),(3,4)'::box, NULL, '(0,0),(1,1)'] AS boxes,
    ARRAY[row(1, 'a'), NULL] AS records`)).rows[0];
  assert.deepEqual(a.boxes, ['(3,4),(1,2)', null, '(1,1),(0,0)']);
  assert.deepEqual(a.records, ['(1,a)', null]);
});

test('float4 parameters out of range are errors, as the server says for its own float4', async () => {
  for (const x of [1e300, -1e300, 1e-50]) {
    await assert.rejects(pool.query('SELECT $1::float4 AS f', [x]), (e) => e instanceof DatabaseError && /out of range/.test(e.message));
  }
  const row = (await pool.query('SELECT $1::float4 AS a, $2::float4 AS b, $3::float4 AS c, $4::float4 AS d',
    [NaN, -Infinity, 1.5, 0])).rows[0];
  assert.ok(Number.isNaN(row.a));
  assert.deepEqual([row.b, row.c, row.d], [-Infinity, 1.5, 0]);
  // float4 results are the numbers their text reads as, as node-postgres gives them.
  const f4 = (await pool.query(`SELECT 1.1::float4 AS a, ARRAY[0.1, -2.2]::float4[] AS b, '3.4028235e38'::float4 AS m`)).rows[0];
  assert.deepEqual(f4, { a: 1.1, b: [0.1, -2.2], m: 3.4028235e38 });
});

test('column names: __proto__ is an own property, duplicates keep the last value, any text is a key', async () => {
  const r = await pool.query(`SELECT 1 AS a, 2 AS "__proto__", 3 AS a, 4 AS "1", 'x' AS "we""ird\n", 5 AS "constructor"`);
  const row = r.rows[0];
  assert.equal(Object.getPrototypeOf(row), Object.prototype);
  assert.deepEqual(Object.entries(row), [['1', 4], ['a', 3], ['__proto__', 2], ['we"ird\n', 'x'], ['constructor', 5]]);
  assert.deepEqual(r.fields.map((f) => f.name), ['a', '__proto__', 'a', '1', 'we"ird\n', 'constructor']);
});

test('column names that try to break out of the generated row code are plain keys', async () => {
  const names = ['"}; globalThis.pwned = 1; ({"', "'+(globalThis.pwned=2)+'", '\u2028\u2029', '\\', '\\"',
    '${globalThis.pwned=3}', '*/ globalThis.pwned = 4 /*', '</script>', 'v[0]', 'v',
    'a": (globalThis.pwned = 5), "b'];
  const select = (list) => 'SELECT ' + list.map((n, i) => `${i} AS "${n.replaceAll('"', '""')}"`).join(', ');
  // Each name alone (one that breaks the syntax would hide the others) and all together.
  for (const list of [...names.map((n) => [n, 'after']), names]) {
    for (let round = 0; round < 2; round++) {
      const r = await pool.query(select(list));
      assert.equal(globalThis.pwned, undefined);
      assert.deepEqual(Object.entries(r.rows[0]), list.map((n, i) => [n, i]));
      assert.deepEqual(r.fields.map((f) => f.name), list);
    }
  }
});

test('values the server rejects are typed errors, never truncated', async () => {
  await assert.rejects(pool.query('SELECT $1::int AS i', [1.5]), (e) => e instanceof DataError && e.code === '22P02');
  await assert.rejects(pool.query('SELECT $1::int AS i', [NaN]), DataError);
  await assert.rejects(pool.query('SELECT $1::int8 AS i', [2n ** 70n]), (e) => e instanceof DataError && e.code === '22003');
  await assert.rejects(pool.query('SELECT $1::int2 AS i', [70000]), DatabaseError);
  await assert.rejects(pool.query('SELECT $1::int AS i', [2 ** 53 + 2]), DataError);
  assert.equal((await pool.query('SELECT $1::float8 AS f', [2 ** 53 + 2])).rows[0].f, 2 ** 53 + 2);
  assert.equal((await pool.query('SELECT $1::float8 AS f', [Infinity])).rows[0].f, Infinity);
  assert.equal((await pool.query('SELECT 1 AS alive')).rows[0].alive, 1);
});

test('values read straight from the wire: timestamps to the millisecond (floor), scalars, text-like types', async () => {
  const row = (await pool.query(`SELECT '1969-12-31 23:59:59.9995+00'::timestamptz AS before_epoch,
    '1970-01-01 00:00:00.0015+00'::timestamptz AS after_epoch, '-infinity'::timestamptz AS ninf,
    '0044-03-15 10:00:00+00 BC'::timestamptz AS bc, '9999-12-31 23:59:59.999999+00'::timestamptz AS late,
    26::oid AS o, 1.25::float4 AS f4, (-32768)::int2 AS i2, 'x'::"char" AS c, 'nm'::name AS n,
    'pad'::char(5) AS bp, 'é☃'::varchar AS v, '{"b":1,"a":[true]}'::json AS j, '{}'::jsonb AS e,
    '\\x'::bytea AS empty, ''::text AS blank, (-9007199254740993)::int8 AS negbig`)).rows[0];
  assert.equal(row.before_epoch.getTime(), -1);
  assert.equal(row.after_epoch.getTime(), 1);
  assert.equal(row.ninf, -Infinity);
  assert.equal(row.bc.getUTCFullYear(), -43);
  assert.equal(row.bc.toISOString(), '-000043-03-15T10:00:00.000Z');
  assert.equal(row.late.toISOString(), '9999-12-31T23:59:59.999Z');
  assert.equal(row.o, 26);
  assert.equal(row.f4, 1.25);
  assert.equal(row.i2, -32768);
  assert.equal(row.c, 'x');
  assert.equal(row.n, 'nm');
  assert.equal(row.bp, 'pad  ');
  assert.equal(row.v, 'é☃');
  assert.deepEqual(row.j, { b: 1, a: [true] });
  assert.deepEqual(row.e, {});
  assert.deepEqual(row.empty, new Uint8Array([]));
  assert.equal(row.blank, '');
  assert.equal(row.negbig, -9007199254740993n);
  const num = new Pool({ connectionString: url, transport: tunnel(), types: { int8: 'number' } });
  const edge = (await num.query('SELECT 9007199254740991::int8 AS max, (-9007199254740991)::int8 AS min')).rows[0];
  assert.deepEqual(edge, { max: 9007199254740991, min: -9007199254740991 });
  await assert.rejects((async () => (await num.query('SELECT (-9007199254740992)::int8 AS n')).rows)(), RangeError);
  await num.end();
});
