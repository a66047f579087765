// W9 (cold start) in workerd: the Worker that run.mjs starts in a fresh
// workerd process per round. The driver (env.CLIENT) is imported inside the
// first request, not at the Worker's top level, so that the request's time
// covers the module's evaluation; then `select 1` on a new connection.
// Answers { import_ms, first_row_ms } by the Worker's own clock (1 ms
// steps). On Cloudflare that clock only moves on I/O (a Spectre mitigation)
// and would miss the compute; the workerd that runs here moves it during
// compute too, which `?calibrate` checks (cold-start.mjs), and the request
// is timed from outside as well.

const clients = {
  'edgepg (workerd, cloudflare:sockets)': async (env) => {
    const { Pool } = await import('edgepg');
    return () => {
      const pool = new Pool({ connectionString: env.PG_URL, max: 1 });
      return [pool.query('select 1 as x').then((r) => r.rows[0].x), () => pool.end()];
    };
  },
  'postgres.js (workerd, cloudflare:sockets)': async (env) => {
    const { default: postgres } = await import('postgres');
    return () => {
      const sql = postgres(env.PG_URL, { max: 1 });
      return [sql`select 1 as x`.then((r) => r[0].x), () => sql.end()];
    };
  },
  'edgepg (workerd, tunnel)': async (env) => {
    const { Pool, webSocket } = await import('edgepg');
    return () => {
      const pool = new Pool({ connectionString: env.PG_URL, transport: webSocket({ proxy: `ws://${env.PROXY}` }), max: 1 });
      return [pool.query('select 1 as x').then((r) => r.rows[0].x), () => pool.end()];
    };
  },
  '@neondatabase/serverless Pool (workerd, tunnel)': async (env) => {
    const { Pool, neonConfig } = await import('@neondatabase/serverless');
    neonConfig.wsProxy = env.PROXY;
    neonConfig.useSecureWebSocket = false;
    neonConfig.pipelineConnect = false;
    neonConfig.forceDisablePgSSL = true;
    return () => {
      const pool = new Pool({ connectionString: env.PG_URL, max: 1 });
      return [pool.query('select 1 as x').then((r) => r.rows[0].x), () => pool.end()];
    };
  },
  'edgepg http() (workerd, POST /sql)': async (env) => {
    const { http } = await import('edgepg');
    return () => [http(env.PG_URL, { endpoint: env.SQL_ENDPOINT }).query('select 1 as x').then((r) => r[0].x), () => {}];
  },
  'neon() (workerd, POST /sql)': async (env) => {
    const { neon, neonConfig } = await import('@neondatabase/serverless');
    neonConfig.fetchEndpoint = env.SQL_ENDPOINT;
    return () => [neon(env.PG_URL).query('select 1 as x').then((r) => r[0].x), () => {}];
  },
};

export default {
  async fetch(request, env, ctx) {
    const params = new URL(request.url).searchParams;
    if (params.has('calibrate')) return calibrate();
    if (params.has('phases')) return phases(env);
    const t0 = performance.now();
    try {
      const start = await clients[env.CLIENT](env);
      const t1 = performance.now();
      const [first, end] = start();
      const x = await first;
      const t2 = performance.now();
      if (x !== 1) throw new Error(`select 1 gave ${JSON.stringify(x)}`);
      ctx.waitUntil(Promise.resolve(end()));
      return Response.json({ import_ms: t1 - t0, first_row_ms: t2 - t0 });
    } catch (e) {
      return Response.json({ failed: String(e?.stack ?? e) }, { status: 500 });
    }
  },
};

// A fixed busy loop (no I/O), timed by the Worker's clock: if that clock
// stood still during compute this would answer ~0 for tens of milliseconds.
function calibrate() {
  const t0 = performance.now();
  let x = 0;
  for (let i = 0; i < 20_000_000; i++) x = (x + i) % 1_000_003;
  return Response.json({ busy_ms: performance.now() - t0, x });
}

// edgepg's cold start step by step (cold-phases.mjs --workerd): the import,
// the wasm's instantiation (diagnostics() is the first use), the first
// connection → first row, and a second connection in the now warm isolate.
async function phases(env) {
  const t = [performance.now()];
  const { Pool, diagnostics } = await import('edgepg');
  t.push(performance.now());
  diagnostics();
  t.push(performance.now());
  for (let i = 0; i < 2; i++) {
    const pool = new Pool({ connectionString: env.PG_URL, max: 1 });
    await pool.query('select 1 as x');
    t.push(performance.now());
    await pool.end();
    t.push(performance.now());
  }
  return Response.json({
    'import (module evaluation)': t[1] - t[0],
    'instantiate (first use)': t[2] - t[1],
    'first connection → first row': t[3] - t[2],
    '(second connection → first row, warm isolate)': t[5] - t[4],
  });
}
