// The package's reach beyond plain queries (cursors, LISTEN/NOTIFY, COPY,
// AbortSignal) and its answers to hostile use, as scenarios that run
// unchanged in Node (tests/wasm/node/reach.test.mjs) and in workerd
// (tests/wasm/workerd/worker.js, /reach): no node:* imports here. Each
// scenario takes the package module and pool options, throws on failure and
// returns figures for the runner to print.

function check(cond, what) {
  if (!cond) throw new Error(`check failed: ${what}`);
}

function eq(actual, expected, what) {
  if (actual !== expected) {
    throw new Error(`check failed: ${what}: expected ${String(expected)}, got ${String(actual)}`);
  }
}

async function rejects(promise, test, what) {
  let err;
  try {
    await promise;
  } catch (e) {
    err = e;
  }
  check(err !== undefined, `${what}: expected a rejection`);
  if (!test(err)) throw new Error(`check failed: ${what}: unexpected error ${err?.name}: ${err?.message} (${err?.code})`);
  return err;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const unique = (what) => `reach_${what}_${Date.now().toString(36)}_${Math.floor(Math.random() * 1e6)}`;

/** The backend pids of `n` connections checked out at once. */
async function pids(pool, n) {
  const clients = await Promise.all(Array.from({ length: n }, () => pool.connect()));
  const set = clients.map((c) => c.processID).sort((a, b) => a - b);
  for (const c of clients) c.release();
  return set.join(',');
}

async function withPool(lib, options, extra, f) {
  const pool = new lib.Pool({ ...options, ...extra });
  try {
    return await f(pool);
  } finally {
    await pool.end();
  }
}

export const scenarios = {
  /** pg_sleep(10) aborted after 50 ms; a signal aborted before the call. */
  async abort(lib, options) {
    return withPool(lib, options, { max: 2 }, async (pool) => {
      const before = await pids(pool, 2);
      const ac = new AbortController();
      const started = Date.now();
      setTimeout(() => ac.abort(), 50);
      // A marked statement: other tests on the same server may sleep too.
      const sleep = `SELECT pg_sleep(10) -- ${unique('abort_sleep')}`;
      const err = await rejects(pool.query(sleep, [], { signal: ac.signal }), (e) => e.name === 'AbortError', 'aborted pg_sleep');
      const ms = Date.now() - started;
      check(ms < 1000, `the aborted query returned in ${ms} ms (< 1000)`);
      // The pool is still full-sized, on the same connections, and none is busy.
      eq(pool.totalCount, 2, 'pool size after the abort');
      eq(await pids(pool, 2), before, 'the same two connections serve after the abort');
      const busy = await pool.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE query = $1 AND state = 'active'", [sleep]);
      eq(busy.rows[0].n, 0, 'pg_sleep still running on the server');

      // Aborted before the call: nothing is sent.
      const table = unique('abort');
      await pool.query(`CREATE TABLE ${table} (id int)`);
      try {
        const pre = new AbortController();
        pre.abort();
        await rejects(pool.query(`INSERT INTO ${table} VALUES (1)`, [], { signal: pre.signal }), (e) => e.name === 'AbortError', 'pre-aborted signal');
        await rejects(pool.connect({ signal: pre.signal }), (e) => e.name === 'AbortError', 'pre-aborted connect');
        eq((await pool.query(`SELECT count(*)::int AS n FROM ${table}`)).rows[0].n, 0, 'rows written by a pre-aborted insert');
      } finally {
        await pool.query(`DROP TABLE ${table}`);
      }

      // A statement timeout still cancels from the server side.
      await rejects(
        pool.transaction(async (tx) => {
          await tx.query("SET LOCAL statement_timeout = '100ms'");
          await tx.query('SELECT pg_sleep(5)');
        }),
        (e) => e.code === '57014',
        'statement_timeout',
      );
      eq((await pool.query('SELECT 1 AS one')).rows[0].one, 1, 'query after the timeout');
      return { abortMs: ms, message: err.message };
    });
  },

  /** Cursors: pool.cursor with break, tx.cursor, Cursor read after close. */
  async cursor(lib, options) {
    return withPool(lib, options, { max: 1 }, async (pool) => {
      let n = 0;
      for await (const row of pool.cursor('SELECT g AS n FROM generate_series(1, 100000) g', [], { batchSize: 500 })) {
        n += 1;
        eq(row.n, n, 'row order');
        if (n === 1234) break;
      }
      eq(pool.idleCount, 1, 'the cursor released its connection on break');
      // An error inside the loop releases it as well.
      await rejects(
        (async () => {
          for await (const _ of pool.cursor('SELECT 1/(3 - g) AS x FROM generate_series(1, 5) g', [], { batchSize: 1 })) { /* rows */ }
        })(),
        (e) => e.code === '22012',
        'division by zero mid-cursor',
      );
      eq(pool.idleCount, 1, 'the cursor released its connection on error');
      const sum = await pool.transaction(async (tx) => {
        let s = 0;
        for await (const r of tx.cursor('SELECT g FROM generate_series(1, 1000) g', [], { batchSize: 64 })) s += r.g;
        return s;
      });
      eq(sum, 500500, 'tx.cursor sum');

      const client = await pool.connect();
      try {
        const cursor = client.query(new lib.Cursor('SELECT generate_series(1, 10) AS n'));
        eq((await cursor.read(3)).length, 3, 'first read');
        await cursor.close();
        const e = await rejects(cursor.read(1), (x) => /closed/.test(x.message), 'read after close');
        const unsubmitted = new lib.Cursor('SELECT 1');
        await rejects(unsubmitted.read(1), (x) => /submitted/.test(x.message), 'read before submit');
        const bad = client.query(new lib.Cursor('SELECT 1'));
        await rejects(bad.read(0), (x) => /positive integer/.test(x.message), 'read(0)');
        await bad.close();
        eq((await client.query('SELECT 2 AS two')).rows[0].two, 2, 'client after the cursors');
        return { readAfterClose: e.message };
      } finally {
        client.release();
      }
    });
  },

  /** LISTEN/NOTIFY, a throwing callback, and the listener's backend terminated. */
  async listen(lib, options) {
    return withPool(lib, options, { max: 2 }, async (pool) => {
      const channel = unique('chan');
      const got = [];
      const errors = [];
      pool.on('error', (e) => errors.push(e));
      const listener = await pool.listen(channel, (msg) => {
        got.push(msg.payload);
        if (msg.payload === 'throw') throw new Error('listener callback failed');
      });
      const waitFor = async (payload, resend) => {
        const deadline = Date.now() + 15000;
        while (!got.includes(payload)) {
          check(Date.now() < deadline, `notification ${payload} within 15 s (got ${got.join(',')})`);
          if (resend) await pool.notify(channel, payload);
          await sleep(resend ? 200 : 20);
        }
      };
      await pool.notify(channel, 'one');
      await waitFor('one');
      await pool.notify(channel, 'throw');
      await waitFor('throw');
      await pool.notify(channel, 'after-throw');
      await waitFor('after-throw');
      check(errors.some((e) => e.message === 'listener callback failed'), 'the throwing callback is reported as the pool error event');

      // Kill the listening backend: the listener reconnects and LISTENs again.
      const found = await pool.query(
        "SELECT pid FROM pg_stat_activity WHERE query ILIKE 'LISTEN%' AND query LIKE '%' || $1 || '%' AND pid <> pg_backend_pid()",
        [channel],
      );
      eq(found.rows.length, 1, 'one backend LISTENs on the channel');
      const killedAt = Date.now();
      await pool.query('SELECT pg_terminate_backend($1)', [found.rows[0].pid]);
      await waitFor('after-kill', true);
      const relistenMs = Date.now() - killedAt;
      await listener.unlisten();
      const after = got.length;
      await pool.notify(channel, 'unheard');
      await sleep(200);
      eq(got.length, after, 'nothing is delivered after unlisten');
      eq((await pool.query('SELECT 1 AS one')).rows[0].one, 1, 'the pool after the listener');
      return { relistenMs, errors: errors.length };
    });
  },

  /** COPY in and out with `rows` rows, in bounded wasm memory; a malformed row. */
  async copy(lib, options, { rows = 1_000_000 } = {}) {
    return withPool(lib, options, { max: 2 }, async (pool) => {
      const table = unique('copy');
      await pool.query(`CREATE TABLE ${table} (id int PRIMARY KEY, note text)`);
      try {
        const memBefore = lib.diagnostics().memoryBytes;
        const writer = pool.copyFrom(`COPY ${table} (id, note) FROM STDIN`).getWriter();
        const batch = 10000;
        const pad = 'x'.repeat(24);
        for (let start = 1; start <= rows; start += batch) {
          let chunk = '';
          for (let i = start; i < start + batch && i <= rows; i++) chunk += `${i}\t${pad}${i}\n`;
          await writer.ready;
          await writer.write(chunk);
        }
        await writer.close();
        eq((await pool.query(`SELECT count(*)::int AS n FROM ${table}`)).rows[0].n, rows, 'rows stored by COPY FROM');

        let bytes = 0;
        let lines = 0;
        const reader = pool.copyTo(`COPY ${table} TO STDOUT`).getReader();
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          bytes += value.length;
          for (let i = 0; i < value.length; i++) if (value[i] === 10) lines += 1;
        }
        eq(lines, rows, 'lines read by COPY TO');
        const growth = lib.diagnostics().memoryBytes - memBefore;
        // The data is ~40 MB each way; the wasm heap may not hold it.
        check(growth < 16 * 1024 * 1024, `wasm memory grew by ${growth} bytes over ${bytes} bytes of COPY (< 16 MiB)`);

        // A malformed row: the error names the line, nothing of the COPY is stored.
        const bad = pool.copyFrom(`COPY ${table} (id, note) FROM STDIN`).getWriter();
        const e = await rejects(
          (async () => {
            await bad.write(`${rows + 1}\tok\n${rows + 2}\tok\nnot-a-number\tbad\n`);
            await bad.close();
          })(),
          (x) => x.code === '22P02' && /line 3/.test(x.message),
          'COPY FROM with a malformed row',
        );
        eq((await pool.query(`SELECT count(*)::int AS n FROM ${table} WHERE id > $1`, [rows])).rows[0].n, 0, 'rows kept from the failed COPY');
        eq((await pool.query(`SELECT count(*)::int AS n FROM ${table}`)).rows[0].n, rows, 'committed rows after the failed COPY');
        eq((await pool.query('SELECT 1 AS one')).rows[0].one, 1, 'the pool after the failed COPY');
        return { rows, bytesOut: bytes, wasmGrowth: growth, malformed: e.message };
      } finally {
        await pool.query(`DROP TABLE IF EXISTS ${table}`);
      }
    });
  },
};
