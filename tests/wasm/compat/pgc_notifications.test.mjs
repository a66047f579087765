// Port of node-postgres' tests of LISTEN/NOTIFY and notices
// (packages/pg/test/integration/client/notice-tests, the notification parts of
// api-tests and gh-issues): first proved against `pg`, then run unchanged on
// edgepg (./driver.mjs).
import { describe, test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { Pool, Client, config } from './driver.mjs';

/** Resolves with the next `event` on `emitter`, or rejects after `ms`. */
function next(emitter, event, ms = 5000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no '${event}' event within ${ms} ms`)), ms);
    emitter.once(event, (arg) => {
      clearTimeout(timer);
      resolve(arg);
    });
  });
}

/** Collects `event`s on `emitter` until `count` arrived, or rejects after `ms`. */
function collect(emitter, event, count, ms = 5000) {
  const got = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`only ${got.length} of ${count} '${event}' events within ${ms} ms`)), ms);
    const on = (arg) => {
      got.push(arg);
      if (got.length === count) {
        clearTimeout(timer);
        emitter.off(event, on);
        resolve(got);
      }
    };
    emitter.on(event, on);
  });
}

const delay = (ms) => new Promise((r) => setTimeout(r, ms));

describe('pgc notifications: LISTEN / NOTIFY', () => {
  let listener;
  let notifier;
  beforeEach(async () => {
    listener = new Client(config());
    notifier = new Client(config());
    await Promise.all([listener.connect(), notifier.connect()]);
  });
  afterEach(async () => {
    await Promise.all([listener.end(), notifier.end()]);
  });

  test('a client gets its own NOTIFY, with channel, payload and processId', async () => {
    const got = next(listener, 'notification');
    await listener.query('LISTEN pgc_notify_self');
    await listener.query(`NOTIFY pgc_notify_self, 'hello self'`);
    const msg = await got;
    assert.equal(msg.channel, 'pgc_notify_self');
    assert.equal(msg.payload, 'hello self');
    assert.equal(msg.processId, listener.processID);
    assert.equal(typeof msg.processId, 'number');
  });

  test('a client gets NOTIFY from another client, with the notifier’s processId', async () => {
    await listener.query('LISTEN pgc_notify_other');
    const got = next(listener, 'notification');
    await notifier.query(`SELECT pg_notify('pgc_notify_other', $1)`, ['from afar']);
    const msg = await got;
    assert.equal(msg.channel, 'pgc_notify_other');
    assert.equal(msg.payload, 'from afar');
    assert.equal(msg.processId, notifier.processID);
    assert.notEqual(msg.processId, listener.processID);
  });

  test('NOTIFY without a payload gives an empty payload', async () => {
    await listener.query('LISTEN pgc_notify_empty');
    const got = next(listener, 'notification');
    await notifier.query('NOTIFY pgc_notify_empty');
    const msg = await got;
    assert.equal(msg.channel, 'pgc_notify_empty');
    assert.equal(msg.payload, '');
  });

  test('payloads keep quotes, unicode and newlines; notifications arrive in order', async () => {
    await listener.query('LISTEN pgc_notify_order');
    const payloads = [`it's "quoted"`, 'héllo — ünïcode ✓', 'two\nlines', '{"json":true}'];
    const got = collect(listener, 'notification', payloads.length);
    for (const p of payloads) await notifier.query(`SELECT pg_notify('pgc_notify_order', $1)`, [p]);
    const msgs = await got;
    assert.deepEqual(msgs.map((m) => m.payload), payloads);
  });

  test('several channels are told apart; a quoted channel name works', async () => {
    await listener.query('LISTEN pgc_notify_a');
    await listener.query('LISTEN "pgc_notify_B"');
    const got = collect(listener, 'notification', 2);
    await notifier.query(`NOTIFY pgc_notify_a, 'one'`);
    await notifier.query(`NOTIFY "pgc_notify_B", 'two'`);
    const msgs = await got;
    assert.deepEqual(msgs.map((m) => [m.channel, m.payload]), [['pgc_notify_a', 'one'], ['pgc_notify_B', 'two']]);
  });

  test('UNLISTEN stops the notifications of that channel', async () => {
    await listener.query('LISTEN pgc_notify_stop');
    await listener.query('LISTEN pgc_notify_keep');
    await listener.query('UNLISTEN pgc_notify_stop');
    const seen = [];
    listener.on('notification', (m) => seen.push(m.channel));
    const kept = next(listener, 'notification');
    await notifier.query(`NOTIFY pgc_notify_stop, 'x'`);
    await notifier.query(`NOTIFY pgc_notify_keep, 'y'`);
    const msg = await kept;
    assert.equal(msg.channel, 'pgc_notify_keep');
    await listener.query('SELECT 1'); // anything queued is read by now
    assert.deepEqual(seen, ['pgc_notify_keep']);
  });

  test('NOTIFY in a transaction is delivered at COMMIT, not at all on ROLLBACK', async () => {
    await listener.query('LISTEN pgc_notify_tx');
    const seen = [];
    listener.on('notification', (m) => seen.push(m.payload));
    await notifier.query('BEGIN');
    await notifier.query(`NOTIFY pgc_notify_tx, 'rolled back'`);
    await notifier.query('ROLLBACK');
    await notifier.query('BEGIN');
    await notifier.query(`NOTIFY pgc_notify_tx, 'committed'`);
    await delay(30);
    await listener.query('SELECT 1');
    assert.deepEqual(seen, []);
    const got = next(listener, 'notification');
    await notifier.query('COMMIT');
    const msg = await got;
    assert.equal(msg.payload, 'committed');
    await listener.query('SELECT 1');
    assert.deepEqual(seen, ['committed']);
  });

  test('an idle listening client receives notifications without querying', async () => {
    await listener.query('LISTEN pgc_notify_idle');
    await delay(20);
    const got = collect(listener, 'notification', 3);
    await notifier.query(`NOTIFY pgc_notify_idle, '1'; NOTIFY pgc_notify_idle, '2'; NOTIFY pgc_notify_idle, '3'`);
    const msgs = await got;
    assert.deepEqual(msgs.map((m) => m.payload), ['1', '2', '3']);
  });
});

describe('pgc notifications: pool clients', () => {
  test('LISTEN on a checked-out pool client, NOTIFY through pool.query', async () => {
    const pool = new Pool(config({ max: 3 }));
    const client = await pool.connect();
    try {
      await client.query('LISTEN pgc_notify_pool');
      const got = next(client, 'notification');
      await pool.query(`SELECT pg_notify('pgc_notify_pool', 'via pool')`);
      const msg = await got;
      assert.equal(msg.channel, 'pgc_notify_pool');
      assert.equal(msg.payload, 'via pool');
      assert.notEqual(msg.processId, client.processID);
      await client.query('UNLISTEN *');
    } finally {
      client.release();
      await pool.end();
    }
  });
});

describe('pgc notifications: notices', () => {
  let client;
  beforeEach(async () => {
    client = new Client(config());
    await client.connect();
  });
  afterEach(async () => {
    await client.end();
  });

  test("RAISE NOTICE emits 'notice' with message and severity", async () => {
    const got = next(client, 'notice');
    await client.query(`DO $$ BEGIN RAISE NOTICE 'hello from plpgsql %', 42; END $$`);
    const msg = await got;
    assert.equal(msg.name, 'notice');
    assert.equal(msg.message, 'hello from plpgsql 42');
    assert.equal(msg.severity, 'NOTICE');
    assert.equal(msg.code, '00000');
  });

  test('several notices arrive in order; RAISE WARNING has severity WARNING', async () => {
    const got = collect(client, 'notice', 3);
    await client.query(`DO $$ BEGIN
      RAISE NOTICE 'first';
      RAISE WARNING 'second';
      RAISE NOTICE 'third';
    END $$`);
    const msgs = await got;
    assert.deepEqual(msgs.map((m) => m.message), ['first', 'second', 'third']);
    assert.deepEqual(msgs.map((m) => m.severity), ['NOTICE', 'WARNING', 'NOTICE']);
  });

  test('a notice with detail and hint', async () => {
    const got = next(client, 'notice');
    await client.query(`DO $$ BEGIN RAISE NOTICE 'with extras' USING DETAIL = 'the detail', HINT = 'the hint'; END $$`);
    const msg = await got;
    assert.equal(msg.message, 'with extras');
    assert.equal(msg.detail, 'the detail');
    assert.equal(msg.hint, 'the hint');
  });

  test('a notice from a statement that then fails is still emitted', async () => {
    const got = next(client, 'notice');
    await assert.rejects(
      client.query(`DO $$ BEGIN RAISE NOTICE 'before the error'; RAISE EXCEPTION 'boom'; END $$`),
      (err) => err.message === 'boom',
    );
    const msg = await got;
    assert.equal(msg.message, 'before the error');
  });

  test('server notices such as DROP ... IF EXISTS on a missing table', async () => {
    const got = next(client, 'notice');
    await client.query('DROP TABLE IF EXISTS pgc_notice_no_such_table');
    const msg = await got;
    assert.match(msg.message, /pgc_notice_no_such_table/);
    assert.equal(msg.severity, 'NOTICE');
  });
});
