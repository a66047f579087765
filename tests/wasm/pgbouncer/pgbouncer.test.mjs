// The npm package (Node, node:net) through PgBouncer in transaction mode, two
// server connections shared by every client (run by tests/tests/pgbouncer.rs).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Pool, Client, Cursor, NotSupportedError, nodeSocket } from 'edgepg';

const url = process.env.EDGEPG_TEST_URL;
const directUrl = process.env.EDGEPG_TEST_DIRECT_URL;
if (!url || !directUrl) throw new Error('run through `cargo test -p edgepg-tests --test pgbouncer`');

let pool;
before(async () => {
  pool = new Pool({ connectionString: url, transport: nodeSocket(), max: 4 });
  await pool.query('DROP TABLE IF EXISTS js_bouncer');
  await pool.query('CREATE TABLE js_bouncer (id int PRIMARY KEY, note text)');
});
after(async () => {
  await pool.query('DROP TABLE IF EXISTS js_bouncer');
  await pool.end();
});

test('concurrent parameterised queries give right answers with the default settings', async () => {
  const pids = new Set();
  await Promise.all(Array.from({ length: 12 }, async (_, t) => {
    for (let i = 0; i < 30; i++) {
      const n = t * 1000 + i;
      if (i % 3 === 0) {
        const r = await pool.query('SELECT $1::int + 1 AS n', [n]);
        assert.equal(r.rows[0].n, n + 1);
      } else if (i % 3 === 1) {
        const r = await pool.query("SELECT $1::text || '!' AS s", [String(n)]);
        assert.equal(r.rows[0].s, `${n}!`);
      } else {
        const r = await pool.query('SELECT pg_backend_pid() AS pid');
        pids.add(r.rows[0].pid);
      }
    }
  }));
  assert.equal(pids.size, 2, 'the clients shared both server connections');
});

test('transactions commit and roll back, savepoints included', async () => {
  await pool.transaction(async (tx) => {
    await tx.query('INSERT INTO js_bouncer VALUES ($1, $2)', [1, 'kept']);
    await tx.query('SAVEPOINT s');
    await assert.rejects(tx.query('INSERT INTO js_bouncer VALUES ($1, $2)', [1, 'dup']), (e) => e.code === '23505');
    await tx.query('ROLLBACK TO SAVEPOINT s');
  });
  await assert.rejects(pool.transaction(async (tx) => {
    await tx.query('INSERT INTO js_bouncer VALUES ($1, $2)', [2, 'gone']);
    throw new Error('abandon');
  }), /abandon/);
  const r = await pool.query('SELECT id, note FROM js_bouncer ORDER BY id');
  assert.deepEqual(r.rows, [{ id: 1, note: 'kept' }]);
});

test('cursors: pool.cursor and a pg-cursor Cursor on a client', async () => {
  let sum = 0;
  let count = 0;
  for await (const row of pool.cursor('SELECT g FROM generate_series(1, $1) g', [500], { batchSize: 32 })) {
    sum += row.g;
    count++;
  }
  assert.deepEqual([count, sum], [500, 125250]);
  const client = await pool.connect();
  try {
    const cursor = client.query(new Cursor('SELECT g FROM generate_series(1, 100) g'));
    const first = await cursor.read(40);
    const rest = await cursor.read(100);
    assert.deepEqual([first.length, rest.length, rest.at(-1).g], [40, 60, 100]);
    await cursor.close();
  } finally {
    client.release();
  }
});

test('COPY in and out', async () => {
  const sink = pool.copyFrom('COPY js_bouncer (id, note) FROM STDIN');
  const writer = sink.getWriter();
  for (let i = 100; i < 300; i++) await writer.write(`${i}\tc${i}\n`);
  await writer.close();
  assert.equal(sink.rowCount, 200);
  const chunks = [];
  for await (const chunk of pool.copyTo('COPY (SELECT id FROM js_bouncer WHERE id >= 100 ORDER BY id) TO STDOUT')) {
    chunks.push(Buffer.from(chunk));
  }
  const ids = Buffer.concat(chunks).toString().trim().split('\n').map(Number);
  assert.equal(ids.length, 200);
  assert.deepEqual([ids[0], ids.at(-1)], [100, 299]);
});

test('LISTEN is refused with an error that says why; straight to PostgreSQL it works', async () => {
  await assert.rejects(pool.listen('js_bouncer_chan', () => {}), (e) => {
    assert.ok(e instanceof NotSupportedError, String(e));
    assert.match(e.message, /pooler/);
    assert.match(e.message, /transaction mode/);
    return true;
  });
  const client = new Client({ connectionString: url, transport: nodeSocket() });
  await client.connect();
  await assert.rejects(client.query('LISTEN js_bouncer_chan'), NotSupportedError);
  assert.equal((await client.query('SELECT 1 AS one')).rows[0].one, 1, 'the client is still usable');
  await client.end();

  const direct = new Pool({ connectionString: directUrl, transport: nodeSocket() });
  const got = new Promise((resolve) => {
    direct.listen('js_bouncer_chan', (n) => resolve(n.payload)).then(async () => {
      await pool.query("NOTIFY js_bouncer_chan, 'via the bouncer'");
    });
  });
  assert.equal(await got, 'via the bouncer');
  await direct.end();
});
