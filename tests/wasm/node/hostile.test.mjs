// Hostile input from JavaScript (SPEC §9: no panic is reachable from JS):
// each case gets a typed error, and the same wasm instance answers afterwards.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Pool, Session, InterfaceError, DatabaseError, PoolClosedError, webSocket, diagnostics } from 'edgepg';
import { url, tunnel } from './helpers.mjs';

let pool;
before(() => {
  pool = new Pool({ connectionString: url, transport: tunnel(), max: 2 });
});
after(() => pool.end());

async function stillAnswers() {
  const r = await pool.query('SELECT 1 AS alive');
  assert.equal(r.rows[0].alive, 1);
}

async function rejectsTyped(promise, Class, pattern) {
  await assert.rejects(promise, (e) => {
    assert.ok(e instanceof Class, `expected ${Class.name}, got ${e?.name}: ${e?.message}`);
    if (pattern) assert.match(e.message, pattern);
    return true;
  });
  await stillAnswers();
}

test('wrong argument types', async () => {
  await rejectsTyped(pool.query(42), InterfaceError, /query text must be a string/);
  await rejectsTyped(pool.query(null), InterfaceError);
  await rejectsTyped(pool.query(undefined), InterfaceError);
  await rejectsTyped(pool.query({}), InterfaceError);
  await rejectsTyped(pool.query('SELECT $1', 'not an array'), InterfaceError, /must be an array/);
  await rejectsTyped(pool.query('SELECT $1', 17), InterfaceError);
  await rejectsTyped(pool.query('SELECT $1::text', [Symbol('s')]), InterfaceError, /parameter \$1: a symbol/);
  await rejectsTyped(pool.query('SELECT $1::text', [() => 1]), InterfaceError, /parameter \$1: a function/);
  await rejectsTyped(pool.query('SELECT $1, $2', [1, new Map()]), InterfaceError, /parameter \$2: a Map/);
  await rejectsTyped(pool.query('SELECT $1', [new Int16Array(4)]), InterfaceError, /Int16Array/);
  await rejectsTyped(pool.query('SELECT $1', [new (class Point { constructor() { this.x = 1; } })()]), InterfaceError, /a Point/);
  await rejectsTyped(pool.query('SELECT $1', [new Date('nope')]), InterfaceError, /Date is invalid/);
  await rejectsTyped(pool.sql('SELECT 1'), InterfaceError, /tagged template/);
  await rejectsTyped(pool.callproc(42), InterfaceError);
  await rejectsTyped(pool.transaction('nope'), InterfaceError);
  assert.throws(() => pool.mogrify(1), InterfaceError);
  assert.equal(pool.mogrify('SELECT $1, $2', ['it\'s', null]), "SELECT 'it''s', NULL");
});

test('bad pool options', async () => {
  for (const options of [
    42, { max: -1 }, { max: 'ten' }, { max: 1.5 }, { min: 5, max: 2 }, { max: 0 }, { idleTimeoutMillis: NaN },
    { acquireTimeoutMillis: Infinity }, { types: { int8: 'float' } }, { types: 'x' }, { connectionString: 42 },
    { connectionString: 'mysql://x/y' }, { connectionString: 'postgresql://h:notaport/db' }, { transport: 42 },
    { transport: { proxy: 42 } }, { setsession: 'SET x' }, { port: -5 }, { transport: { proxy: 'ws://x', WebSocket: 1 } },
  ]) {
    assert.throws(() => new Pool(options), InterfaceError, JSON.stringify(options));
  }
  assert.throws(() => webSocket({}), InterfaceError);
  if (typeof globalThis.WebSocket !== 'function') {
    // Node 20: no global WebSocket, and none passed: said at once, not at the first query.
    assert.throws(() => webSocket({ proxy: 'ws://127.0.0.1:1/v1' }), (e) => e instanceof InterfaceError && /ws/.test(e.message));
  }
  assert.throws(() => Session.fromEnv('x', 'not an object'), InterfaceError);
  // A bad proxy URL is reported on use, as a typed error.
  const p = new Pool({ connectionString: url, transport: webSocket({ proxy: 'http://nope', WebSocket: (await import('ws')).default }) });
  await rejectsTyped(p.query('SELECT 1'), DatabaseError, /ws:\/\/ or wss:\/\//);
  await p.end();
  await stillAnswers();
});

test('huge strings: within the limit they work, beyond it a typed error', async () => {
  const big = 'x'.repeat(20 * 1024 * 1024);
  assert.equal((await pool.query('SELECT length($1) AS n', [big])).rows[0].n, big.length);
  const small = new Pool({ connectionString: url, transport: tunnel(), maxParameterBytes: 1 << 20 });
  await assert.rejects(small.query('SELECT length($1)', ['y'.repeat(2 << 20)]), (e) => e instanceof InterfaceError && /limit/.test(e.message));
  await assert.rejects(small.query('SELECT length($1)', [['a'.repeat(600000), 'b'.repeat(600000)]]), InterfaceError);
  await assert.rejects(small.query('SELECT length($1)', [new Uint8Array(2 << 20)]), InterfaceError);
  await assert.rejects(small.query('x'.repeat(2 << 20)), InterfaceError);
  assert.equal((await small.query('SELECT 1 AS ok')).rows[0].ok, 1);
  await small.end();
  await stillAnswers();
});

test('strings that are not valid Unicode, NUL bytes', async () => {
  await rejectsTyped(pool.query('SELECT $1::text', ['a\uD800b']), InterfaceError, /lone surrogate/);
  assert.equal((await pool.query('SELECT $1::text AS s', ['a\uFFFDb'])).rows[0].s, 'a\uFFFDb');
  await rejectsTyped(pool.query('SELECT $1::text', ['a\u0000b']), DatabaseError);
  await rejectsTyped(pool.query('SELECT 1\u0000'), DatabaseError);
});

test('NaN, Infinity and BigInt out of range', async () => {
  assert.ok(Number.isNaN((await pool.query('SELECT $1::float8 AS f', [NaN])).rows[0].f));
  await rejectsTyped(pool.query('SELECT $1::int', [NaN]), DatabaseError);
  await rejectsTyped(pool.query('SELECT $1::int8', [Infinity]), DatabaseError);
  await rejectsTyped(pool.query('SELECT $1::int8', [2n ** 64n]), DatabaseError);
  await rejectsTyped(pool.query('SELECT $1::int8', [-(2n ** 63n) - 1n]), DatabaseError);
  assert.equal((await pool.query('SELECT $1::int8 AS v', [-(2n ** 63n)])).rows[0].v, -(2n ** 63n));
  assert.equal((await pool.query('SELECT $1::numeric AS v', [10n ** 100n])).rows[0].v, (10n ** 100n).toString());
});

test('cyclic and deeply nested values', async () => {
  const cyclic = { a: 1 };
  cyclic.self = cyclic;
  await rejectsTyped(pool.query('SELECT $1::json', [cyclic]), InterfaceError, /JSON\.stringify failed/);
  const arr = [1];
  arr.push(arr);
  await rejectsTyped(pool.query('SELECT $1', [arr]), InterfaceError, /nested|cyclic/);
  let deep = [];
  for (let i = 0; i < 100; i++) deep = [deep];
  await rejectsTyped(pool.query('SELECT $1', [deep]), InterfaceError, /nested/);
  await rejectsTyped(pool.query('SELECT $1::json', [{ n: 1n }]), InterfaceError, /BigInt/);
  let deepObj = {};
  for (let i = 0; i < 5000; i++) deepObj = { d: deepObj };
  // Deep JSON goes out as text: the server decides.
  await pool.query('SELECT $1::jsonb IS NOT NULL AS ok', [deepObj]).catch((e) => assert.ok(e instanceof DatabaseError));
  await stillAnswers();
  await rejectsTyped(pool.query('SELECT 1', new Array(70000).fill(1)), InterfaceError, /65535/);
  const getterBomb = { get toJSON() { throw new Error('boom'); } };
  await rejectsTyped(pool.query('SELECT $1::json', [getterBomb]), InterfaceError);
  const proxyObj = new Proxy({}, { getPrototypeOf() { throw new Error('trap'); } });
  await pool.query('SELECT $1::json', [proxyObj]).catch((e) => assert.ok(e instanceof Error));
  await stillAnswers();
});

test('methods after end(), on released clients, finished transactions, freed results', async () => {
  const p = new Pool({ connectionString: url, transport: tunnel() });
  const client = await p.connect();
  let kept;
  await p.transaction(async (tx) => {
    kept = tx;
  });
  await assert.rejects(kept.query('SELECT 1'), InterfaceError);
  const r = await p.query('SELECT 1 AS x');
  client.release();
  await assert.rejects(client.query('SELECT 1'), InterfaceError);
  await p.end();
  await p.end();
  for (const f of [() => p.query('SELECT 1'), () => p.sql`SELECT 1`, () => p.connect(), () => p.transaction(async () => {}), () => p.callproc('now')]) {
    await assert.rejects(f(), PoolClosedError);
  }
  assert.equal(r.rows[0].x, 1);
  r.free();
  assert.throws(() => r.rows, InterfaceError);
  assert.throws(() => r.asDict(), InterfaceError);
  await stillAnswers();
});

test('results live in JavaScript only: nothing stays behind in wasm memory', { skip: typeof gc !== 'function' }, async () => {
  // Results never freed nor read: the garbage collector takes them, and the
  // wasm memory does not grow with them (their values were copied out).
  assert.equal(diagnostics().liveResults, 0);
  const before = diagnostics().memoryBytes;
  let held = [];
  for (let round = 0; round < 5; round++) {
    held.push(...(await Promise.all(Array.from({ length: 20 }, () => pool.query("SELECT repeat('x', 100000) AS s FROM generate_series(1, 10)")))));
  }
  assert.equal(diagnostics().liveResults, 0);
  // 100 results of 1 MB each: held in JavaScript, not in wasm memory.
  assert.ok(diagnostics().memoryBytes < before + 64 * 1024 * 1024, `wasm memory grew: ${JSON.stringify(diagnostics())}`);
  assert.equal(held[99].rows[9].s.length, 100000);
  held = null;
  gc();
  const read = await pool.query('SELECT 1 AS x');
  assert.equal(read.rows[0].x, 1);
  const unread = await pool.query('SELECT 1 AS x');
  unread.free();
  assert.throws(() => unread.rows, InterfaceError);
  await stillAnswers();
});
