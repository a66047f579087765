// A Worker that uses the npm package: GET /?transport=socket|websocket
// answers with query results, over cloudflare:sockets or the WebSocket tunnel.
import * as edgepg from 'edgepg';
import { scenarios } from 'reach/scenarios.mjs';

const { Pool, Session, webSocket, cloudflareSocket, DatabaseError, http } = edgepg;

export default {
  async fetch(request, env, ctx) {
    const url = new URL(request.url);
    if (url.pathname === '/ready') return new Response('ok');
    const via = url.searchParams.get('transport') ?? 'socket';
    if (via === 'tls') return tls(env, ctx);
    if (via === 'http') return overHttp(env);
    if (url.pathname === '/reach') return reach(request, url.searchParams.get('name'), via, env);
    const transport = via === 'websocket' ? webSocket({ proxy: env.PROXY }) : cloudflareSocket();
    // Sockets belong to the request that opened them: one pool per request.
    const pool = new Pool({ connectionString: env.DATABASE_URL, transport, max: 2 });
    try {
      const r = await pool.query('SELECT $1::text AS via, n, n * 10 AS ten FROM generate_series(1, 3) n', [via]);
      const tx = await pool.transaction(async (t) => (await t.sql`SELECT ${'in tx'}::text AS s`).rows[0].s);
      let error = null;
      try {
        await pool.query('SELECT * FROM no_such_table');
      } catch (e) {
        error = { name: e.name, code: e.code, isDatabaseError: e instanceof DatabaseError };
      }
      // Session.fromEnv with the Worker's env object; the default transport here is cloudflareSocket().
      const session = Session.fromEnv('app', env);
      const fromEnv = (await session.query('SELECT current_database() AS db')).rows[0].db;
      ctx.waitUntil(session.end());
      return Response.json({ rows: r.rows, status: r.status, tx, error, fromEnv });
    } catch (e) {
      return Response.json({ failed: String(e), name: e?.name, code: e?.code }, { status: 500 });
    } finally {
      ctx.waitUntil(pool.end());
    }
  },
};

// sslmode=verify-full over cloudflare:sockets: startTls() after SSLRequest,
// verified against the test CA that the workerd config trusts.
async function tls(env, ctx) {
  const pool = new Pool({ connectionString: env.DATABASE_TLS_URL, transport: cloudflareSocket() });
  try {
    const r = await pool.query('SELECT ssl, current_user AS u FROM pg_stat_ssl WHERE pid = pg_backend_pid()');
    return Response.json(r.rows[0]);
  } catch (e) {
    return Response.json({ failed: String(e), name: e?.name }, { status: 500 });
  } finally {
    ctx.waitUntil(pool.end());
  }
}

// One-shot queries over HTTP (`POST /sql` of edgepg-proxy) with http(), on workerd's fetch.
async function overHttp(env) {
  const out = {};
  try {
    const sql = http(env.DATABASE_SCRAM_URL, { endpoint: env.SQL_ENDPOINT });
    out.tagged = await sql`SELECT ${41}::int + 1 AS n, ${'w'}::text AS t, 9007199254740993::int8 AS big`;
    out.tagged = out.tagged.map((r) => ({ ...r, big: String(r.big), bigType: typeof r.big }));
    const full = await http(env.DATABASE_SCRAM_URL, { endpoint: env.SQL_ENDPOINT, fullResults: true, arrayMode: true })
      .query('SELECT 1 AS a UNION ALL SELECT 2');
    out.full = { command: full.command, rowCount: full.rowCount, rows: full.rows };
    const table = `workerd_http_${Date.now()}_${Math.floor(Math.random() * 1e6)}`;
    await sql.query(`CREATE TABLE ${table} (id int PRIMARY KEY)`);
    const [, count] = await sql.transaction(
      [sql.query(`INSERT INTO ${table} VALUES (1)`), sql.query(`SELECT count(*)::int AS n FROM ${table}`)],
      { isolationLevel: 'Serializable' },
    );
    out.batch = count;
    try {
      await sql.transaction([sql.query(`INSERT INTO ${table} VALUES (2)`), sql.query(`INSERT INTO ${table} VALUES (1)`)]);
    } catch (e) {
      out.failed = { name: e.name, code: e.code };
    }
    out.after = await sql.query(`SELECT id FROM ${table} ORDER BY id`);
    await sql.query(`DROP TABLE ${table}`);
    try {
      await sql`SELEC 1`;
    } catch (e) {
      out.syntax = { name: e.name, code: e.code };
    }
    try {
      await http(env.FORBIDDEN_URL, { endpoint: env.SQL_ENDPOINT }).query('SELECT 1');
    } catch (e) {
      out.forbidden = { name: e.name, refused: /not allowed/.test(e.message) };
    }
    return Response.json(out);
  } catch (e) {
    return Response.json({ failed: String(e), name: e?.name, code: e?.code, out }, { status: 500 });
  }
}

// GET /reach?name=…&transport=… runs one of tests/wasm/reach/scenarios.mjs.
async function reach(request, name, via, env) {
  const run = scenarios[name];
  if (run === undefined) return Response.json({ failed: `no scenario ${name}` }, { status: 404 });
  const transport = via === 'websocket' ? webSocket({ proxy: env.PROXY }) : cloudflareSocket();
  try {
    const rows = Number(new URL(request.url).searchParams.get('rows') ?? 1_000_000);
    return Response.json(await run(edgepg, { connectionString: env.DATABASE_URL, transport }, { rows }));
  } catch (e) {
    return Response.json({ failed: String(e), stack: e?.stack }, { status: 500 });
  }
}
