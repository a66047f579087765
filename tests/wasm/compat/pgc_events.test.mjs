// Port of node-postgres' tests of pool and client events
// (packages/pg-pool/test/events, error-handling, sizing; packages/pg/test/
// integration/client/error-handling, connection-pool/error-tests): first
// proved against `pg`, then run unchanged on edgepg (./driver.mjs).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Pool, Client, config, url } from './driver.mjs';

/** Resolves with the arguments of the next `event` on `emitter`, or rejects after `ms`. */
function next(emitter, event, ms = 5000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no '${event}' event within ${ms} ms`)), ms);
    emitter.once(event, (...args) => {
      clearTimeout(timer);
      resolve(args);
    });
  });
}

/** Terminates the backend `pid` from a separate connection. */
async function terminate(pid) {
  const killer = new Client(config());
  await killer.connect();
  try {
    const r = await killer.query('SELECT pg_terminate_backend($1) AS ok', [pid]);
    assert.equal(r.rows[0].ok, true);
  } finally {
    await killer.end();
  }
}

/** A pool ended after the test even when an assertion failed first. */
function makePool(t, extra) {
  const pool = new Pool(config(extra));
  t.after(async () => {
    if (!pool.ended) await pool.end();
  });
  return pool;
}

const delay = (ms) => new Promise((r) => setTimeout(r, ms));

describe('pgc events: pool', () => {
  test('emits connect before the connect callback, with the same client', async (t) => {
    const pool = makePool(t);
    let emitted = null;
    pool.on('connect', (client) => {
      emitted = client;
    });
    const client = await new Promise((resolve, reject) => {
      pool.connect((err, c, release) => {
        if (err) return reject(err);
        release();
        resolve(c);
      });
    });
    assert.ok(emitted);
    assert.equal(client, emitted);
    await pool.end();
  });

  test('connect is emitted once per new connection, acquire on every checkout', async (t) => {
    const pool = makePool(t, { max: 1 });
    const seen = [];
    pool.on('connect', () => seen.push('connect'));
    pool.on('acquire', () => seen.push('acquire'));
    pool.on('release', () => seen.push('release'));
    for (let i = 0; i < 3; i++) {
      const c = await pool.connect();
      c.release();
    }
    assert.deepEqual(seen, ['connect', 'acquire', 'release', 'acquire', 'release', 'acquire', 'release']);
    await pool.end();
  });

  test('pool.query emits connect (new connection), acquire and release like a checkout', async (t) => {
    const pool = makePool(t, { max: 1 });
    const seen = [];
    pool.on('connect', () => seen.push('connect'));
    pool.on('acquire', () => seen.push('acquire'));
    pool.on('release', (err) => seen.push(err ? 'release-err' : 'release'));
    await pool.query('SELECT 1');
    await pool.query('SELECT 2');
    assert.deepEqual(seen, ['connect', 'acquire', 'release', 'acquire', 'release']);
  });

  test('queries issued by a connect listener run before the first query', async (t) => {
    const pool = makePool(t, { max: 2 });
    pool.on('connect', (client) => {
      client.query(`SET application_name = 'pgc_events_on_connect'`);
    });
    const r = await pool.query('SHOW application_name');
    assert.equal(r.rows[0].application_name, 'pgc_events_on_connect');
    await pool.end();
  });

  test('emits acquire every time a client is acquired (connect and query)', async (t) => {
    const pool = makePool(t, { max: 4 });
    let acquired = 0;
    pool.on('acquire', (client) => {
      assert.ok(client);
      acquired++;
    });
    const work = [];
    for (let i = 0; i < 10; i++) {
      work.push(
        new Promise((resolve, reject) => {
          pool.connect((err, client, release) => {
            if (err) return reject(err);
            release();
            resolve();
          });
        }),
      );
      work.push(pool.query('SELECT now()'));
    }
    await Promise.all(work);
    assert.equal(acquired, 20);
    await pool.end();
  });

  test('emits release (undefined err, client) every time a client is released', async (t) => {
    const pool = makePool(t, { max: 4 });
    let released = 0;
    pool.on('release', (err, client) => {
      assert.equal(err instanceof Error, false);
      assert.ok(client);
      released++;
    });
    const work = [];
    for (let i = 0; i < 10; i++) {
      work.push(pool.connect().then((c) => c.release()));
      work.push(pool.query('SELECT now()'));
    }
    await Promise.all(work);
    await pool.end();
    assert.equal(released, 20);
  });

  test('release(err) emits release with the error and removes the client', async (t) => {
    const pool = makePool(t, { max: 2 });
    const client = await pool.connect();
    assert.equal(pool.totalCount, 1);
    const problem = new Error('problem');
    const releasedWith = next(pool, 'release');
    const removed = next(pool, 'remove');
    client.release(problem);
    const [err, errClient] = await releasedWith;
    assert.equal(err, problem);
    assert.equal(errClient, client);
    const [removedClient] = await removed;
    assert.equal(removedClient, client);
    assert.equal(pool.totalCount, 0);
    assert.equal(pool.idleCount, 0);
    // The pool makes a new connection for the next caller.
    const r = await pool.query('SELECT 1 AS one');
    assert.equal(r.rows[0].one, 1);
    assert.equal(pool.totalCount, 1);
    await pool.end();
  });

  test('end() removes every idle client (remove events) and the pool refuses more work', async (t) => {
    const pool = makePool(t, { max: 3 });
    const clients = await Promise.all([pool.connect(), pool.connect(), pool.connect()]);
    for (const c of clients) c.release();
    assert.equal(pool.idleCount, 3);
    let removed = 0;
    pool.on('remove', () => removed++);
    await pool.end();
    // pg-pool emits 'remove' once each connection has closed, which may be just after end() settles.
    for (let i = 0; i < 100 && removed < 3; i++) await delay(10);
    assert.equal(removed, 3);
    assert.equal(pool.totalCount, 0);
    assert.equal(pool.ended, true);
    await assert.rejects(pool.query('SELECT 1'));
    await assert.rejects(pool.connect());
  });

  test('end(callback) and calls after end report errors through callbacks', async (t) => {
    const pool = makePool(t);
    await pool.query('SELECT 1');
    await new Promise((resolve, reject) => pool.end((err) => (err ? reject(err) : resolve())));
    const queryErr = await new Promise((resolve) => pool.query('SELECT 1', (err) => resolve(err)));
    assert.ok(queryErr instanceof Error);
    const connectErr = await new Promise((resolve) => pool.connect((err) => resolve(err)));
    assert.ok(connectErr instanceof Error);
  });

  test('totalCount, idleCount and waitingCount follow checkouts', async (t) => {
    const pool = makePool(t, { max: 1 });
    assert.equal(pool.totalCount, 0);
    assert.equal(pool.idleCount, 0);
    assert.equal(pool.waitingCount, 0);

    const first = await pool.connect();
    assert.equal(pool.totalCount, 1);
    assert.equal(pool.idleCount, 0);
    assert.equal(pool.waitingCount, 0);

    const secondP = pool.connect();
    await delay(20);
    assert.equal(pool.waitingCount, 1);
    assert.equal(pool.totalCount, 1);

    first.release();
    const second = await secondP;
    assert.equal(pool.waitingCount, 0);
    assert.equal(pool.idleCount, 0);
    assert.equal(pool.totalCount, 1);

    second.release();
    assert.equal(pool.idleCount, 1);
    assert.equal(pool.totalCount, 1);
    await pool.end();
  });

  test('an idle client killed by pg_terminate_backend emits error on the pool; the pool recovers', async (t) => {
    const pool = makePool(t, { max: 2 });
    const client = await pool.connect();
    const pid = client.processID;
    assert.equal(typeof pid, 'number');
    client.release();
    assert.equal(pool.idleCount, 1);

    const poolError = next(pool, 'error');
    await terminate(pid);
    const [err, errClient] = await poolError;
    assert.ok(err instanceof Error);
    assert.equal(errClient, client);
    // The dead client left the pool.
    for (let i = 0; i < 50 && pool.totalCount !== 0; i++) await delay(10);
    assert.equal(pool.totalCount, 0);
    assert.equal(pool.idleCount, 0);

    const r = await pool.query('SELECT pg_backend_pid() AS pid');
    assert.notEqual(r.rows[0].pid, pid);
    await pool.end();
  });

  test('a checked-out client whose backend dies emits error on the client, not the pool', async (t) => {
    const pool = makePool(t, { max: 2 });
    let poolErrors = 0;
    pool.on('error', () => poolErrors++);
    const client = await pool.connect();
    // node-postgres may emit more than one error here (the FATAL message, then the socket's end).
    client.on('error', () => {});
    const clientError = next(client, 'error');
    await terminate(client.processID);
    const [err] = await clientError;
    assert.ok(err instanceof Error);
    await assert.rejects(client.query('SELECT 1'));
    client.release(err);
    assert.equal(poolErrors, 0);
    for (let i = 0; i < 50 && pool.totalCount !== 0; i++) await delay(10);
    assert.equal(pool.totalCount, 0);
    const r = await pool.query('SELECT 1 AS one');
    assert.equal(r.rows[0].one, 1);
    await pool.end();
  });

  test('many failing queries do not use up the pool', async (t) => {
    const pool = makePool(t, { max: 1 });
    let errors = 0;
    for (let i = 0; i < 20; i++) {
      try {
        await pool.query('invalid sql');
      } catch {
        errors++;
      }
    }
    assert.equal(errors, 20);
    const r = await pool.query('SELECT $1::text AS name', ['brianc']);
    assert.deepEqual(r.rows, [{ name: 'brianc' }]);
    assert.equal(pool.totalCount, 1);
    await pool.end();
  });
});

describe('pgc events: client', () => {
  test("end() emits 'end' once", async () => {
    const client = new Client(config());
    await client.connect();
    let ends = 0;
    client.on('end', () => ends++);
    await client.end();
    await delay(10);
    assert.equal(ends, 1);
  });

  test("a client whose backend is terminated emits 'error' then 'end'", async () => {
    const client = new Client(config());
    await client.connect();
    const order = [];
    const errored = next(client, 'error');
    const ended = next(client, 'end');
    client.on('error', () => order.push('error'));
    client.on('end', () => order.push('end'));
    await terminate(client.processID);
    const [err] = await errored;
    assert.ok(err instanceof Error);
    await ended;
    // node-postgres emits the FATAL error and then 'Connection terminated unexpectedly':
    // one or more errors, then a single 'end'.
    assert.ok(order.length >= 2);
    assert.equal(order.at(-1), 'end');
    assert.ok(order.slice(0, -1).every((e) => e === 'error'));
    await assert.rejects(client.query('SELECT 1'));
  });

  test('a query after end() is rejected', async () => {
    const client = new Client(config());
    await client.connect();
    await client.end();
    await assert.rejects(client.query('SELECT 1'), (err) => err instanceof Error);
  });

  test('connect(callback) reports success; connecting twice is an error', async () => {
    const client = new Client(config());
    await new Promise((resolve, reject) => client.connect((err) => (err ? reject(err) : resolve())));
    const again = await client.connect().then(
      () => null,
      (e) => e,
    );
    assert.ok(again instanceof Error);
    await new Promise((resolve, reject) => client.end((err) => (err ? reject(err) : resolve())));
  });

  test('connecting as an unknown user fails the connect without an error event', async () => {
    const bad = new URL(url);
    bad.username = 'pgc_no_such_user_xyz';
    const client = new Client(config({ connectionString: bad.href }));
    let errorEvents = 0;
    client.on('error', () => errorEvents++);
    const err = await new Promise((resolve) => client.connect((e) => resolve(e)));
    assert.ok(err instanceof Error);
    assert.equal(errorEvents, 0);
  });
});
