// W9 (cold start) in Node: ONE cold start per process. `node cold.mjs CLIENT`
// imports that driver (nothing is imported before the clock starts), runs
// `select 1` on a new connection and prints one JSON line:
//   { import_ms, first_row_ms }   both from the clock's start, before import.
// run.mjs spawns it once per round, so that every round pays the module
// loading, the wasm compile and the JIT warm-up of a fresh process.
// Environment: PG_URL, PROXY (host:port/v1), as run.mjs gets them.

const t0 = performance.now();
const PG_URL = process.env.PG_URL;
const PROXY = process.env.PROXY;
const endpoint = `http://${PROXY?.replace(/\/v1$/, '')}/sql`;

// Each client: import its modules, then () => first row's value, and a closer.
const clients = {
  'edgepg (js, node:net)': async () => {
    const { Pool, nodeSocket } = await import('edgepg');
    return () => {
      const pool = new Pool({ connectionString: PG_URL, transport: nodeSocket(), max: 1 });
      return [pool.query('select 1 as x').then((r) => r.rows[0].x), () => pool.end()];
    };
  },
  'postgres.js (js, node:net)': async () => {
    const { default: postgres } = await import('postgres');
    return () => {
      const sql = postgres(PG_URL, { max: 1 });
      return [sql`select 1 as x`.then((r) => r[0].x), () => sql.end()];
    };
  },
  'edgepg (js, tunnel)': async () => {
    const [{ Pool, webSocket }, { default: ws }] = await Promise.all([import('edgepg'), import('ws')]);
    return () => {
      const pool = new Pool({ connectionString: PG_URL, transport: webSocket({ proxy: `ws://${PROXY}`, WebSocket: ws }), max: 1 });
      return [pool.query('select 1 as x').then((r) => r.rows[0].x), () => pool.end()];
    };
  },
  '@neondatabase/serverless Pool (js, tunnel)': async () => {
    const [{ Pool, neonConfig }, { default: ws }] = await Promise.all([import('@neondatabase/serverless'), import('ws')]);
    neonConfig.webSocketConstructor = ws;
    neonConfig.wsProxy = PROXY;
    neonConfig.useSecureWebSocket = false;
    neonConfig.pipelineConnect = false;
    neonConfig.forceDisablePgSSL = true;
    return () => {
      const pool = new Pool({ connectionString: PG_URL, max: 1 });
      return [pool.query('select 1 as x').then((r) => r.rows[0].x), () => pool.end()];
    };
  },
  'edgepg http() (js, POST /sql)': async () => {
    const { http } = await import('edgepg');
    return () => [http(PG_URL, { endpoint }).query('select 1 as x').then((r) => r[0].x), () => {}];
  },
  'neon() (js, POST /sql)': async () => {
    const { neon, neonConfig } = await import('@neondatabase/serverless');
    neonConfig.fetchEndpoint = endpoint;
    return () => [neon(PG_URL).query('select 1 as x').then((r) => r[0].x), () => {}];
  },
};

const name = process.argv[2];
if (!clients[name]) throw new Error(`cold.mjs: unknown client ${JSON.stringify(name)}; one of ${Object.keys(clients).join(', ')}`);
const start = await clients[name]();
const t1 = performance.now();
const [first, end] = start();
const x = await first;
const t2 = performance.now();
if (x !== 1) throw new Error(`${name}: select 1 gave ${JSON.stringify(x)}`);
await end();
console.log(JSON.stringify({ import_ms: t1 - t0, first_row_ms: t2 - t0 }));
