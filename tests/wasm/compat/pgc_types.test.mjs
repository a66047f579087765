// Port of node-postgres' tests of type parsing and coercion
// (packages/pg/test/integration/client/type-coercion, type-parser-override,
// custom-types, parse-int-8, huge-numeric, json-type-parsing, array,
// timezone): first proved against `pg`, then run unchanged on edgepg
// (./driver.mjs).
//
// Deliberate differences (edgepg keeps lossless defaults, pkg/README.md
// "Values"), branched on `isPg`:
//   int8       pg: string '9007199254740993'     edgepg: bigint 9007199254740993n
//   date       pg: Date at local midnight         edgepg: the exact string '2010-10-31'
//   timestamp  pg: Date read in local time         edgepg: the exact string
//   numeric[]  pg: numbers (parseFloat)          edgepg: exact strings, like numeric
//   bytea      pg: Buffer                         edgepg: Uint8Array (both are Uint8Arrays)
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Pool, Client, types, config, isPg } from './driver.mjs';

const INT8 = 20;
const INT4 = 23;
const NUMERIC = 1700;
const BOOL = 16;

/** Runs `fn` with `parser` set globally for `oid`, then puts the previous parser back. */
async function withGlobalParser(oid, parser, fn) {
  const previous = types.getTypeParser(oid, 'text');
  types.setTypeParser(oid, parser);
  try {
    return await fn();
  } finally {
    types.setTypeParser(oid, previous);
  }
}

describe('pgc types: default parsers', () => {
  let client;
  before(async () => {
    client = new Client(config());
    await client.connect();
  });
  after(async () => {
    await client.end();
  });

  const one = async (sql, params) => (await client.query(sql, params)).rows[0].v;

  test('int2 and int4 are numbers; NULL is null', async () => {
    assert.equal(await one('SELECT 32767::int2 AS v'), 32767);
    assert.equal(await one('SELECT (-2147483648)::int4 AS v'), -2147483648);
    assert.equal(await one('SELECT NULL::int4 AS v'), null);
  });

  test('int8: pg gives a string, edgepg a lossless bigint', async () => {
    const v = await one('SELECT 9007199254740993::int8 AS v');
    // edgepg's lossless int8 default; node-postgres leaves int8 as text.
    if (isPg) assert.equal(v, '9007199254740993');
    else assert.equal(v, 9007199254740993n);
    const small = await one('SELECT count(*) AS v FROM generate_series(1, 3)');
    if (isPg) assert.equal(small, '3');
    else assert.equal(small, 3n);
  });

  test('float4 and float8 are numbers, NaN and ±Infinity kept', async () => {
    assert.equal(await one('SELECT 1.5::float4 AS v'), 1.5);
    assert.equal(await one('SELECT 0.1::float8 AS v'), 0.1);
    assert.ok(Number.isNaN(await one(`SELECT 'NaN'::float8 AS v`)));
    assert.equal(await one(`SELECT 'Infinity'::float8 AS v`), Infinity);
    assert.equal(await one(`SELECT '-Infinity'::float8 AS v`), -Infinity);
  });

  test('numeric is an exact string, even huge', async () => {
    assert.equal(await one('SELECT 12345678901234567890.123::numeric AS v'), '12345678901234567890.123');
    assert.equal(await one('SELECT (2::numeric ^ 64)::numeric(30, 0) AS v'), '18446744073709551616');
    assert.equal(await one('SELECT 1.50::numeric(5,2) AS v'), '1.50');
  });

  test('bool', async () => {
    const r = await client.query('SELECT true AS t, false AS f, NULL::bool AS n');
    assert.deepEqual(r.rows[0], { t: true, f: false, n: null });
  });

  test('text, varchar, char and uuid are strings', async () => {
    const r = await client.query(
      `SELECT 'a'::text AS t, 'b'::varchar(5) AS v, 'c'::char(3) AS c, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid AS u`,
    );
    assert.deepEqual(r.rows[0], { t: 'a', v: 'b', c: 'c  ', u: 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11' });
  });

  test('timestamptz is a Date', async () => {
    const v = await one(`SELECT '2010-10-31 14:54:13.74-05:30'::timestamptz AS v`);
    assert.ok(v instanceof Date);
    assert.equal(v.toISOString(), '2010-10-31T20:24:13.740Z');
    const now = await one('SELECT now() AS v');
    assert.ok(now instanceof Date);
    assert.ok(Math.abs(now.getTime() - Date.now()) < 60_000);
  });

  test('date: pg gives a local-midnight Date, edgepg the exact string', async () => {
    const v = await one(`SELECT '2010-10-31'::date AS v`);
    if (isPg) {
      assert.ok(v instanceof Date);
      assert.equal(v.getFullYear(), 2010);
      assert.equal(v.getMonth(), 9);
      assert.equal(v.getDate(), 31);
      assert.equal(v.getHours(), 0);
    } else {
      // edgepg keeps a calendar date exact (no time zone to invent).
      assert.equal(v, '2010-10-31');
    }
  });

  test('timestamp without time zone: pg gives a local Date, edgepg the exact string', async () => {
    const v = await one(`SELECT '2010-10-31 14:54:13.74'::timestamp AS v`);
    if (isPg) {
      assert.ok(v instanceof Date);
      assert.equal(v.getTime(), new Date(2010, 9, 31, 14, 54, 13, 740).getTime());
    } else {
      assert.equal(v, '2010-10-31 14:54:13.74');
    }
  });

  test('json and jsonb are parsed', async () => {
    const r = await client.query(
      `SELECT '{"x": [1, "two", null, true]}'::json AS j, '{"b": {"c": 1}}'::jsonb AS jb, '"str"'::json AS s, 'null'::jsonb AS jn, NULL::json AS n, '[1,2]'::jsonb AS a`,
    );
    assert.deepEqual(r.rows[0], { j: { x: [1, 'two', null, true] }, jb: { b: { c: 1 } }, s: 'str', jn: null, n: null, a: [1, 2] });
  });

  test('bytea is a Uint8Array (a Buffer on pg)', async () => {
    const v = await one(`SELECT '\\x0102ff'::bytea AS v`);
    assert.ok(v instanceof Uint8Array);
    assert.deepEqual([...v], [1, 2, 255]);
  });

  test('int4[] and text[] (with NULLs, quotes and commas)', async () => {
    const r = await client.query(
      `SELECT ARRAY[1, 2, NULL, -3]::int4[] AS i, ARRAY['a,b', 'c"d', NULL, 'NULL', '', 'e f', 'g\\h']::text[] AS t`,
    );
    assert.deepEqual(r.rows[0].i, [1, 2, null, -3]);
    assert.deepEqual(r.rows[0].t, ['a,b', 'c"d', null, 'NULL', '', 'e f', 'g\\h']);
  });

  test('nested, empty, bool, float and varchar arrays', async () => {
    const r = await client.query(
      `SELECT ARRAY[[1,2],[3,4]]::int4[] AS nested, '{}'::int4[] AS empty, ARRAY[true,false,NULL] AS b,
              ARRAY[1.5, 2.25]::float8[] AS f, ARRAY['x','y']::varchar[] AS v, ARRAY[1,2]::int2[] AS s`,
    );
    assert.deepEqual(r.rows[0], {
      nested: [[1, 2], [3, 4]],
      empty: [],
      b: [true, false, null],
      f: [1.5, 2.25],
      v: ['x', 'y'],
      s: [1, 2],
    });
  });

  test('int8[] and numeric[] follow their elements', async () => {
    const r = await client.query(`SELECT ARRAY[1, 9007199254740993]::int8[] AS i, ARRAY[1.10, 2]::numeric[] AS n`);
    if (isPg) assert.deepEqual(r.rows[0].i, ['1', '9007199254740993']);
    else assert.deepEqual(r.rows[0].i, [1n, 9007199254740993n]); // edgepg's lossless int8
    // pg-types parses numeric[] elements with parseFloat (unlike numeric itself);
    // edgepg keeps them exact strings, like numeric.
    if (isPg) assert.deepEqual(r.rows[0].n, [1.1, 2]);
    else assert.deepEqual(r.rows[0].n, ['1.10', '2']);
  });

  test('json[] elements are parsed', async () => {
    const r = await client.query(`SELECT ARRAY['{"a":1}'::json, '[2]'::json] AS v`);
    assert.deepEqual(r.rows[0].v, [{ a: 1 }, [2]]);
  });
});

describe('pgc types: parameters round-trip', () => {
  let pool;
  before(() => {
    pool = new Pool(config({ max: 2 }));
  });
  after(async () => {
    await pool.end();
  });

  test('values of many types go in as parameters and come back', async () => {
    const date = new Date('2020-02-29T12:34:56.789Z');
    const r = await pool.query(
      'SELECT $1::int4 AS i, $2::text AS t, $3::bool AS b, $4::float8 AS f, $5::timestamptz AS d, $6::json AS j, $7::int4[] AS a, $8::text AS n, $9::numeric AS num',
      [42, 'hi', false, 1.25, date, { k: ['v'] }, [1, 2, 3], null, '3.14159265358979323846'],
    );
    assert.deepEqual(r.rows[0], {
      i: 42,
      t: 'hi',
      b: false,
      f: 1.25,
      d: date,
      j: { k: ['v'] },
      a: [1, 2, 3],
      n: null,
      num: '3.14159265358979323846',
    });
  });

  test('undefined is sent as NULL', async () => {
    const r = await pool.query('SELECT $1::text AS v, $1::text IS NULL AS isnull', [undefined]);
    assert.deepEqual(r.rows[0], { v: null, isnull: true });
  });

  test('a Uint8Array parameter is bytea', async () => {
    const r = await pool.query('SELECT $1::bytea AS v, length($1::bytea) AS len', [Uint8Array.from([0, 1, 254])]);
    assert.deepEqual([...r.rows[0].v], [0, 1, 254]);
    assert.equal(r.rows[0].len, 3);
  });

  test('text arrays with quotes and NULLs as parameters', async () => {
    const value = ['a,b', 'c"d', null, 'e\\f', ''];
    const r = await pool.query('SELECT $1::text[] AS v', [value]);
    assert.deepEqual(r.rows[0].v, value);
  });

  test('a string parameter is coerced by the server to the column type', async () => {
    const r = await pool.query('SELECT $1::int4 + 1 AS v, $2::bool AS b', ['41', 't']);
    assert.deepEqual(r.rows[0], { v: 42, b: true });
  });
});

describe('pgc types: overriding parsers', () => {
  let client;
  before(async () => {
    client = new Client(config());
    await client.connect();
  });
  after(async () => {
    await client.end();
  });

  test('types.getTypeParser gives the default parsers', () => {
    assert.equal(types.getTypeParser(INT4)('42'), 42);
    assert.equal(types.getTypeParser(INT4, 'text')('-7'), -7);
    assert.equal(types.getTypeParser(BOOL)('t'), true);
    assert.equal(types.getTypeParser(BOOL)('f'), false);
    assert.deepEqual(types.getTypeParser(114)('{"a":1}'), { a: 1 });
    const d = types.getTypeParser(1184)('2010-10-31 14:54:13.74+00');
    assert.ok(d instanceof Date);
    assert.equal(d.toISOString(), '2010-10-31T14:54:13.740Z');
    assert.deepEqual(types.getTypeParser(1007)('{1,2,NULL}'), [1, 2, null]);
    assert.deepEqual(types.getTypeParser(1009)('{a,"b c",NULL}'), ['a', 'b c', null]);
    // An unknown type is left as text.
    assert.equal(types.getTypeParser(999999)('as is'), 'as is');
    const i8 = types.getTypeParser(INT8)('9007199254740993');
    // edgepg's lossless int8 default; node-postgres leaves int8 as text.
    assert.equal(i8, isPg ? '9007199254740993' : 9007199254740993n);
    assert.equal(types.builtins.INT8, 20);
    assert.equal(types.builtins.TIMESTAMPTZ, 1184);
  });

  test('setTypeParser(int8, parseInt) makes int8 a number everywhere', async () => {
    await withGlobalParser(INT8, (v) => parseInt(v, 10), async () => {
      const r = await client.query('SELECT 42::int8 AS v, count(*) AS c FROM generate_series(1, 5)');
      assert.deepEqual(r.rows[0], { v: 42, c: 5 });
      const pool = new Pool(config());
      try {
        const p = await pool.query('SELECT 7::int8 AS v');
        assert.equal(p.rows[0].v, 7);
      } finally {
        await pool.end();
      }
    });
    // Put back: the default again.
    const r = await client.query('SELECT 42::int8 AS v');
    assert.equal(r.rows[0].v, isPg ? '42' : 42n);
  });

  test("setTypeParser(oid, 'text', fn), the three-argument form", async () => {
    await withGlobalParser(NUMERIC, parseFloat, async () => {
      types.setTypeParser(NUMERIC, 'text', (v) => `numeric:${v}`);
      const r = await client.query('SELECT 1.5::numeric AS v');
      assert.equal(r.rows[0].v, 'numeric:1.5');
    });
  });

  test('a global parser is used for array elements only through the array type', async () => {
    await withGlobalParser(INT4, (v) => `int4:${v}`, async () => {
      const r = await client.query('SELECT 1::int4 AS v');
      assert.equal(r.rows[0].v, 'int4:1');
    });
    await withGlobalParser(1007, (v) => `array:${v}`, async () => {
      const r = await client.query('SELECT ARRAY[1,2]::int4[] AS v');
      assert.equal(r.rows[0].v, 'array:{1,2}');
    });
  });

  test('a global parser for timestamptz sees the text form', async () => {
    await withGlobalParser(1184, (v) => v, async () => {
      const r = await client.query(`SELECT '2010-10-31 14:54:13.74+00'::timestamptz AS v`);
      assert.equal(typeof r.rows[0].v, 'string');
      assert.match(r.rows[0].v, /^2010-10-31 \d\d:54:13\.74/);
    });
  });

  test('per-query types: { getTypeParser } overrides and falls back to the globals', async () => {
    const custom = {
      getTypeParser: (oid, format) => (oid === INT4 ? (v) => `custom:${v}` : types.getTypeParser(oid, format)),
    };
    const r = await client.query({ text: `SELECT 1::int4 AS a, true AS b, 'x'::text AS c`, types: custom });
    assert.deepEqual(r.rows[0], { a: 'custom:1', b: true, c: 'x' });
    // Only that query.
    const plain = await client.query('SELECT 1::int4 AS a');
    assert.equal(plain.rows[0].a, 1);
  });

  test('per-query types win over a global parser', async () => {
    await withGlobalParser(BOOL, () => 'global', async () => {
      const local = { getTypeParser: () => () => 'local' };
      const r = await client.query({ text: 'SELECT true AS v', types: local });
      assert.equal(r.rows[0].v, 'local');
      const g = await client.query('SELECT true AS v');
      assert.equal(g.rows[0].v, 'global');
    });
  });

  test('per-query types with values and rowMode array', async () => {
    const t = { getTypeParser: (oid) => (oid === 25 ? (v) => v.toUpperCase() : (v) => v) };
    const r = await client.query({ text: 'SELECT $1::text AS a, $2::int4 AS b', values: ['abc', 5], rowMode: 'array', types: t });
    assert.deepEqual(r.rows, [['ABC', '5']]);
  });

  test('types given to a Client or a Pool apply to its queries', async () => {
    const custom = { getTypeParser: (oid, format) => (oid === BOOL ? (v) => `bool:${v}` : types.getTypeParser(oid, format)) };
    const c = new Client(config({ types: custom }));
    await c.connect();
    try {
      const r = await c.query('SELECT true AS b, 2::int4 AS i');
      assert.deepEqual(r.rows[0], { b: 'bool:t', i: 2 });
    } finally {
      await c.end();
    }
    const pool = new Pool(config({ types: custom }));
    try {
      const r = await pool.query('SELECT false AS b');
      assert.equal(r.rows[0].b, 'bool:f');
      const pc = await pool.connect();
      try {
        const r2 = await pc.query('SELECT true AS b');
        assert.equal(r2.rows[0].b, 'bool:t');
      } finally {
        pc.release();
      }
    } finally {
      await pool.end();
    }
  });

  test('a parser is not called for NULL', async () => {
    let calls = 0;
    const t = { getTypeParser: () => (v) => {
      calls++;
      return v;
    } };
    const r = await client.query({ text: 'SELECT NULL::int4 AS a, 1::int4 AS b', types: t });
    assert.deepEqual(r.rows[0], { a: null, b: '1' });
    assert.equal(calls, 1);
  });
});
