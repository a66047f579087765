// The JavaScript API of SPEC §9 against a real PostgreSQL, over both the
// WebSocket tunnel (edgepg-proxy, `ws`) and node:net (nodeSocket).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  Pool, Session, Results, DatabaseError, ProgrammingError, IntegrityError, DataError,
  InternalError, OperationalError, PoolClosedError, InterfaceError, TransactionRollbackError,
  webSocket, PoolFullError, PoolTimeoutError, describeEnv,
} from 'edgepg';
import WebSocket from 'ws';
import { env, url, proxy, tunnel, direct } from './helpers.mjs';

const transports = { tunnel, nodesocket: () => direct() };

for (const [name, transport] of Object.entries(transports)) {
  describe(`over ${name}`, () => {
    let pool;
    before(async () => {
      pool = new Pool({ connectionString: url, transport: transport(), max: 4 });
      await pool.query(`DROP TABLE IF EXISTS js_${name}`);
      await pool.query(`CREATE TABLE js_${name} (id int PRIMARY KEY, note text)`);
    });
    after(async () => {
      await pool.query(`DROP TABLE IF EXISTS js_${name}`);
      await pool.end();
    });

    test('SCRAM authentication', async () => {
      const scram = new Pool({ connectionString: env.EDGEPG_TEST_SCRAM_URL, transport: transport() });
      const r = await scram.query('SELECT current_user AS u');
      assert.equal(r.rows[0].u, new URL(env.EDGEPG_TEST_SCRAM_URL).username);
      await scram.end();
      const wrong = new Pool({ connectionString: env.EDGEPG_TEST_WRONG_PW_URL, transport: transport() });
      await assert.rejects(wrong.query('SELECT 1'), (e) => {
        assert.ok(e instanceof DatabaseError, String(e));
        assert.equal(e.code, '28P01');
        return true;
      });
      await wrong.end();
    });

    test('SCRAM with a password SASLprep changes (NFKC from the JS engine)', async () => {
      const role = `edgepg_js_sasl_${name}`;
      await pool.query(`DROP ROLE IF EXISTS ${role}`);
      // Stored precomposed with a Roman numeral; typed decomposed with a no-break space.
      await pool.query(`CREATE ROLE ${role} LOGIN PASSWORD 'p\u00e4ssw\u00f6rd \u2168' IN ROLE edgepg_scram_group`);
      const login = async (password) => {
        const u = new URL(url);
        u.username = role;
        u.password = encodeURIComponent(password);
        const p = new Pool({ connectionString: u.href, transport: transport(), max: 1 });
        try {
          return (await p.query('SELECT current_user AS u')).rows[0].u;
        } finally {
          await p.end();
        }
      };
      assert.equal(await login('pa\u0308sswo\u0308rd\u00a0IX'), role);
      await assert.rejects(login('passw\u00f6rd IX'), (e) => e.code === '28P01');
      await pool.query(`DROP ROLE ${role}`);
    });

    test('pipelineConnect: the password goes with the startup message', { skip: !env.EDGEPG_TEST_PASSWORD_URL }, async () => {
      const url = env.EDGEPG_TEST_PASSWORD_URL;
      const piped = new Pool({ connectionString: url, transport: transport(), pipelineConnect: 'password' });
      const r = await piped.query('SELECT current_user AS u, $1::int + 1 AS n', [41]);
      assert.equal(r.rows[0].u, new URL(url).username);
      assert.equal(r.rows[0].n, 42);
      await piped.end();
      // A server that wants SCRAM refuses the early password, and says why.
      const scram = new Pool({ connectionString: env.EDGEPG_TEST_SCRAM_URL, transport: transport(), pipelineConnect: 'password' });
      await assert.rejects(scram.query('SELECT 1'), (e) => {
        assert.match(String(e.message), /asked for SASL \(SCRAM\)/);
        return true;
      });
      await scram.end();
      assert.throws(() => new Pool({ connectionString: url, transport: transport(), pipelineConnect: 'always' }), /pipeline_connect/);
    });

    test('errors carry the SQLSTATE fields', async () => {
      await assert.rejects(pool.query('SELEC 1'), (e) => {
        assert.ok(e instanceof ProgrammingError);
        assert.equal(e.name, 'ProgrammingError');
        assert.equal(e.code, '42601');
        assert.equal(e.message, 'syntax error at or near "SELEC"');
        assert.equal(e.position, 1);
        assert.equal(e.severity, 'ERROR');
        return true;
      });
      await pool.query(`INSERT INTO js_${name} VALUES (1, 'a')`);
      await assert.rejects(pool.query(`INSERT INTO js_${name} VALUES (1, 'b')`), (e) => {
        assert.ok(e instanceof IntegrityError);
        assert.equal(e.code, '23505');
        assert.match(e.detail, /Key \(id\)=\(1\) already exists/);
        assert.equal(e.constraint, `js_${name}_pkey`);
        assert.equal(e.table, `js_${name}`);
        return true;
      });
      await assert.rejects(pool.query('SELECT 1/0'), (e) => e instanceof DataError && e.code === '22012');
      await assert.rejects(
        pool.query(`DO $$ BEGIN RAISE EXCEPTION 'boom' USING DETAIL = 'the detail', HINT = 'the hint'; END $$`),
        (e) => {
          assert.ok(e instanceof InternalError);
          assert.equal(e.code, 'P0001');
          assert.equal(e.detail, 'the detail');
          assert.equal(e.hint, 'the hint');
          return true;
        },
      );
      await pool.query(`DELETE FROM js_${name}`);
    });

    test('transactions commit, and roll back when the callback throws', async () => {
      // A statement that failed (and was swallowed) makes the commit fail: all rolled back.
      await assert.rejects(
        pool.transaction(async (tx) => {
          await tx.query(`INSERT INTO js_${name} VALUES ($1, $2)`, [10, 'ten']);
          await tx.query('SELECT no_such_column').catch(() => {});
        }),
        TransactionRollbackError,
      );
      assert.equal((await pool.query(`SELECT count(*)::int AS n FROM js_${name}`)).rows[0].n, 0);

      const note = await pool.transaction(async (tx) => {
        await tx.query(`INSERT INTO js_${name} VALUES ($1, $2)`, [11, 'eleven']);
        const r = await tx.query(`SELECT note FROM js_${name} WHERE id = $1`, [11]);
        return r.rows[0].note;
      });
      assert.equal(note, 'eleven');
      assert.equal((await pool.query(`SELECT count(*)::int AS n FROM js_${name}`)).rows[0].n, 1);

      await assert.rejects(
        pool.transaction(async (tx) => {
          await tx.query(`INSERT INTO js_${name} VALUES (12, 'twelve')`);
          throw new Error('changed my mind');
        }),
        /changed my mind/,
      );
      assert.equal((await pool.query(`SELECT count(*)::int AS n FROM js_${name} WHERE id = 12`)).rows[0].n, 0);

      await pool.transaction(async (tx) => {
        await tx.savepoint('sp');
        await assert.rejects(tx.query(`INSERT INTO js_${name} VALUES (11, 'dup')`), IntegrityError);
        await tx.rollbackTo('sp');
        await tx.query(`INSERT INTO js_${name} VALUES (13, 'thirteen')`);
      });
      const many = await pool.transaction([
        [`INSERT INTO js_${name} VALUES ($1, $2)`, [14, 'fourteen']],
        `SELECT count(*)::int AS n FROM js_${name}`,
      ]);
      assert.equal(many.length, 2);
      assert.equal(many[1].rows[0].n, 3);
      await pool.query(`DELETE FROM js_${name}`);
    });

    test('the sql tagged template sends parameters', async () => {
      const evil = "'; DROP TABLE x; --";
      const r = await pool.sql`SELECT ${1}::int AS a, ${evil}::text AS b, ${null}::int AS c`;
      assert.deepEqual(r.rows, [{ a: 1, b: evil, c: null }]);
    });

    test('Results: rows, fields, status, count, asDict, iteration, free', async () => {
      const r = await pool.query('SELECT g AS n, g::text AS t FROM generate_series(1, 3) g');
      assert.ok(r instanceof Results);
      assert.equal(r.length, 3);
      assert.equal(r.count, 3);
      assert.equal(r.status, 'SELECT 3');
      assert.equal(r.query, 'SELECT g AS n, g::text AS t FROM generate_series(1, 3) g');
      assert.deepEqual(r.fields.map((f) => [f.name, f.dataType]), [['n', 'int4'], ['t', 'text']]);
      assert.equal(r.fields[0].dataTypeID, 23);
      assert.deepEqual([...r].map((row) => row.n), [1, 2, 3]);
      assert.deepEqual(r.get(1), { n: 2, t: '2' });
      assert.throws(() => r.asDict(), InterfaceError);
      assert.deepEqual((await pool.query('SELECT 1 AS one')).asDict(), { one: 1 });
      assert.deepEqual((await pool.query('SELECT 1 WHERE false')).asDict(), {});
      const ins = await pool.query(`INSERT INTO js_${name} SELECT g, 'x' FROM generate_series(1, 5) g`);
      assert.equal(ins.count, 5);
      assert.equal(ins.rowCount, 5);
      assert.equal(ins.status, 'INSERT 0 5');
      assert.deepEqual(ins.rows, []);
      const upd = await pool.query(`UPDATE js_${name} SET note = 'y' WHERE id > 2`);
      assert.equal(upd.count, 3);
      assert.equal(upd.status, 'UPDATE 3');
      await pool.query(`DELETE FROM js_${name}`);
      const f = await pool.query('SELECT 1 AS x');
      f.free();
      f.free();
      assert.throws(() => f.rows, InterfaceError);
      // pg-style query config
      const cfg = await pool.query({ text: 'SELECT $1::int AS v', values: [5] });
      assert.equal(cfg.rows[0].v, 5);
    });

    test('connect / release', async () => {
      const client = await pool.connect();
      const pid1 = (await client.query('SELECT pg_backend_pid() AS p')).rows[0].p;
      const pid2 = (await client.sql`SELECT pg_backend_pid() AS p`).rows[0].p;
      assert.equal(pid1, pid2);
      await client.query('SET application_name = $$edgepg_js$$');
      assert.equal(pool.status().inUse, 1);
      // node-postgres' counts.
      assert.equal(pool.totalCount, pool.status().size);
      assert.ok(pool.totalCount >= 1);
      assert.equal(pool.idleCount, pool.totalCount - 1);
      assert.equal(pool.waitingCount, 0);
      client.release();
      client.release();
      assert.equal(client.released, true);
      assert.equal(pool.status().inUse, 0);
      await assert.rejects(client.query('SELECT 1'), InterfaceError);
    });

    test('rows, fields and errors in transactions and on a checked-out client', async () => {
      const many = 'SELECT g AS n, repeat($1, g) AS t FROM generate_series(1, 2000) g';
      const check = async (q) => {
        const r = await q.query(many, ['x']);
        assert.equal(r.rowCount, 2000);
        assert.deepEqual(r.rows[1999], { n: 2000, t: 'x'.repeat(2000) });
        assert.deepEqual(r.fields.map((f) => f.name), ['n', 't']);
        const none = await q.query('SELECT 1 AS one, $1::text AS two WHERE false', ['y']);
        assert.deepEqual([none.rows, none.rowCount, none.fields.map((f) => f.name)], [[], 0, ['one', 'two']]);
        // Fails after the server has sent rows: an error, no partial rows.
        await assert.rejects(q.query('SELECT 10 / (3 - g) AS q FROM generate_series(1, 5) g'), DataError);
      };
      const client = await pool.connect();
      try {
        await check(client);
        assert.equal((await client.query('SELECT 1 AS alive')).rows[0].alive, 1);
      } finally {
        client.release();
      }
      await assert.rejects(pool.transaction(check), TransactionRollbackError);
    });

    test('scripts of several statements without parameters, as node-postgres runs them', async () => {
      const t = `js_script_${name}`;
      const r = await pool.query(`DROP TABLE IF EXISTS ${t}; CREATE TABLE ${t} (n int);
        INSERT INTO ${t} VALUES (1), (2); SELECT sum(n)::int AS total FROM ${t}`);
      // An array of results, one per statement (node-postgres' multi-statement shape).
      assert.ok(Array.isArray(r));
      assert.deepEqual(r.map((x) => x.command), ['DROP', 'CREATE', 'INSERT', 'SELECT']);
      assert.deepEqual(r.map((x) => x.rowCount), [null, null, 2, 1]);
      assert.deepEqual([r[3].rows, r[3].status], [[{ total: 3 }], 'SELECT 1']);
      // All or nothing: a failing last statement leaves nothing behind.
      await assert.rejects(pool.query(`INSERT INTO ${t} VALUES (3); SELECT 1 / 0`), DataError);
      const client = await pool.connect();
      try {
        const left = await client.query(`SET application_name = 'js_script'; SELECT count(*)::int AS n FROM ${t}`);
        assert.equal(left.length, 2);
        assert.equal(left[1].rows[0].n, 2);
      } finally {
        client.release();
      }
      await pool.transaction(async (tx) => {
        await tx.query(`INSERT INTO ${t} VALUES (4); INSERT INTO ${t} VALUES (5)`);
      });
      assert.equal((await pool.query(`SELECT count(*)::int AS n FROM ${t}`)).rows[0].n, 4);
      await pool.query(`DROP TABLE ${t}`);
    });

    test("rowMode: 'array' gives rows as arrays in column order, duplicates kept", async () => {
      const q = { text: 'SELECT 1 AS a, $1::text AS a, NULL AS "1", 2.5::float8 AS b', values: ['x'], rowMode: 'array' };
      const r = await pool.query(q);
      assert.deepEqual(r.rows, [[1, 'x', null, 2.5]]);
      assert.deepEqual(r.fields.map((f) => f.name), ['a', 'a', '1', 'b']);
      // Without parameters, on a checked-out client and in a transaction too.
      const client = await pool.connect();
      try {
        assert.deepEqual((await client.query({ text: 'SELECT 1, 2', rowMode: 'array' })).rows, [[1, 2]]);
      } finally {
        client.release();
      }
      await pool.transaction(async (tx) => {
        assert.deepEqual((await tx.query({ text: 'SELECT $1::int, 3', values: [4], rowMode: 'array' })).rows, [[4, 3]]);
      });
      // The same shape as objects again afterwards.
      assert.deepEqual((await pool.query('SELECT 1 AS a, 2 AS b')).rows, [{ a: 1, b: 2 }]);
    });

    test('concurrent queries share the pool', async () => {
      const rs = await Promise.all(Array.from({ length: 40 }, (_, i) => pool.query('SELECT $1::int AS i, pg_sleep(0.005)', [i])));
      assert.deepEqual(rs.map((r) => r.rows[0].i), Array.from({ length: 40 }, (_, i) => i));
      assert.ok(pool.status().size <= 4);
    });
  });
}

test('pool options: acquireTimeoutMillis 0 and bounded, idleTimeoutMillis, maxLifetimeMillis', async () => {
  const full = new Pool({ connectionString: url, transport: direct(), max: 1, acquireTimeoutMillis: 0 });
  const held = await full.connect();
  await assert.rejects(full.query('SELECT 1'), PoolFullError);
  held.release();
  assert.equal((await full.query('SELECT 1 AS one')).rows[0].one, 1);
  await full.end();

  const slow = new Pool({ connectionString: url, transport: direct(), max: 1, acquireTimeoutMillis: 200 });
  const busy = await slow.connect();
  const started = Date.now();
  await assert.rejects(slow.query('SELECT 1'), PoolTimeoutError);
  assert.ok(Date.now() - started < 2000);
  busy.release();
  await slow.end();

  const idle = new Pool({ connectionString: url, transport: direct(), max: 2, min: 0, idleTimeoutMillis: 200 });
  await Promise.all([idle.query('SELECT pg_sleep(0.05)'), idle.query('SELECT pg_sleep(0.05)')]);
  assert.equal(idle.status().size, 2);
  const until = Date.now() + 10_000;
  while (idle.status().size > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
  assert.equal(idle.status().size, 0, 'idle connections above min close after idleTimeoutMillis');
  await idle.end();

  const aging = new Pool({ connectionString: url, transport: direct(), max: 1, min: 1, maxLifetimeMillis: 200 });
  const first = (await aging.query('SELECT pg_backend_pid() AS p')).rows[0].p;
  let later = first;
  const deadline = Date.now() + 10_000;
  while (later === first && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    later = (await aging.query('SELECT pg_backend_pid() AS p')).rows[0].p;
  }
  assert.notEqual(later, first, 'the connection was recycled after maxLifetimeMillis');
  await aging.end();
});

test('a bare socket factory of Web streams, without startTls', async () => {
  const net = await import('node:net');
  const { Readable, Writable } = await import('node:stream');
  const factory = (host, port) => new Promise((resolve, reject) => {
    const s = net.connect(port, host);
    s.once('connect', () => resolve({ readable: Readable.toWeb(s), writable: Writable.toWeb(s), close: () => s.destroy() }));
    s.once('error', reject);
  });
  const withMode = (mode) => {
    const u = new URL(url);
    u.searchParams.set('sslmode', mode);
    return u.toString();
  };
  for (const mode of ['disable', 'prefer']) {
    const p = new Pool({ connectionString: withMode(mode), transport: factory });
    const r = await p.query('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()');
    assert.equal(r.rows[0].ssl, false, mode);
    await p.end();
  }
  // `require` cannot be met without startTls: a clear error, not plaintext.
  const p = new Pool({ connectionString: withMode('require'), transport: factory });
  await assert.rejects(p.query('SELECT 1'), DatabaseError);
  await p.end();
});

test('Session: shared pools per URL and fromEnv', async () => {
  const a = new Session({ connectionString: url, transport: tunnel() });
  assert.equal((await a.query('SELECT 2 AS two')).rows[0].two, 2);
  await a.end();
  const s = Session.fromEnv('orders', { PGSQL_ORDERS: url }, { transport: tunnel() });
  assert.equal((await s.sql`SELECT ${'x'}::text AS v`).rows[0].v, 'x');
  await s.end();
  const u = new URL(url);
  const libpq = Session.fromEnv(undefined, {
    PGHOST: u.hostname, PGPORT: u.port, PGUSER: decodeURIComponent(u.username), PGDATABASE: 'postgres', PGSSLMODE: 'disable',
  });
  assert.equal((await libpq.query('SELECT 3 AS three')).rows[0].three, 3);
  await libpq.end();
  // The name is upper-cased by Unicode rules (as Python's str.upper), `-` becomes `_`.
  const named = describeEnv('straße-eu', { PGSQL_STRASSE_EU: 'postgresql://ann@db.example:6543/shop' });
  assert.deepEqual(named, { targets: ['db.example:6543'], user: 'ann', database: 'shop' });
  const s1 = new Session(url);
  const s2 = new Session(url);
  assert.equal(s1.pool, s2.pool);
  await s1.query('SELECT 1');
  await s1.end();
  const s3 = new Session(url);
  assert.notEqual(s3.pool, s1.pool);
  await s3.end();
});

test('methods after end() fail with PoolClosedError', async () => {
  const pool = new Pool({ connectionString: url, transport: tunnel() });
  await pool.query('SELECT 1');
  await pool.end();
  assert.equal(pool.ended, true);
  await assert.rejects(pool.query('SELECT 1'), PoolClosedError);
  await assert.rejects(pool.sql`SELECT 1`, PoolClosedError);
  await assert.rejects(pool.connect(), PoolClosedError);
  await assert.rejects(pool.transaction(async () => {}), PoolClosedError);
  await assert.rejects(pool.query('SELECT 1'), OperationalError);
  await pool.end();
});

test('TLS through startTls (node:tls): verify-ca / verify-full with the test CA, require, wrong CA', { skip: !env.EDGEPG_TEST_CA }, async () => {
  const ssl = async (connectionString) => {
    const p = new Pool({ connectionString, transport: direct() });
    try {
      const r = await p.query('SELECT ssl, current_user AS u FROM pg_stat_ssl WHERE pid = pg_backend_pid()');
      return r.rows[0].ssl;
    } finally {
      await p.end();
    }
  };
  const base = new URL(env.EDGEPG_TEST_SCRAM_URL);
  const withMode = (mode, host, ca) => {
    const u = new URL(base);
    if (host) u.hostname = host;
    u.searchParams.set('sslmode', mode);
    if (ca) u.searchParams.set('sslrootcert', ca);
    return u.toString();
  };
  assert.equal(await ssl(withMode('verify-ca', null, env.EDGEPG_TEST_CA)), true);
  assert.equal(await ssl(withMode('verify-full', 'localhost', env.EDGEPG_TEST_CA)), true);
  assert.equal(await ssl(withMode('require')), true);
  assert.equal(await ssl(withMode('prefer')), true);
  assert.equal(await ssl(withMode('disable')), false);
  await assert.rejects(ssl(withMode('verify-full', null, env.EDGEPG_TEST_CA)), OperationalError);
  // Through the tunnel there is no TLS to PostgreSQL: `require` is satisfied by a
  // proxy on this machine (or a wss:// one), as Neon's driver treats it; the
  // verify modes, and `require` through a plain ws:// proxy elsewhere, are clear errors.
  const tunnelled = async (connectionString, transport) => {
    const p = new Pool({ connectionString, transport });
    try {
      return (await p.query('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()')).rows[0].ssl;
    } finally {
      await p.end();
    }
  };
  assert.equal(await tunnelled(withMode('require'), tunnel()), false);
  await assert.rejects(tunnelled(withMode('verify-full', 'localhost', env.EDGEPG_TEST_CA), tunnel()), InterfaceError);
  // 0.0.0.0 reaches this machine on Linux, but is not a loopback name: it stands
  // in for a proxy elsewhere.
  const elsewhere = webSocket({ proxy: proxy.replace('127.0.0.1', '0.0.0.0'), WebSocket });
  await assert.rejects(tunnelled(withMode('require'), elsewhere), (e) => e instanceof InterfaceError && /wss:\/\//.test(e.message));
});
