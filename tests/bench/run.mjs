// SPEC §10 workloads in Node: the edgepg npm package next to postgres.js, pg and
// @neondatabase/serverless through the same edgepg-proxy. Run by `cargo xtask bench`,
// which starts PostgreSQL and the proxy and passes PG_URL and PROXY (host:port/v1).
// Prints one JSON line per measurement: the median of 7 rounds after a warm-up.
import { performance } from 'node:perf_hooks';
import ws from 'ws';
import postgres from 'postgres';
import pg from 'pg';
import { Pool as NeonPool, neonConfig } from '@neondatabase/serverless';
import { Pool as EdgePool, nodeSocket, webSocket } from 'edgepg';
import { W3, w3params, W4, W5 } from './workloads.mjs';

const PG_URL = process.env.PG_URL;
const PROXY = process.env.PROXY;
if (!PG_URL || !PROXY) throw new Error('PG_URL and PROXY must be set (cargo xtask bench does it)');
const ONLY = process.argv[2]?.split(',');
const wants = (w) => !ONLY || ONLY.includes(w);

neonConfig.webSocketConstructor = ws;
neonConfig.wsProxy = PROXY;
neonConfig.useSecureWebSocket = false;
neonConfig.pipelineConnect = false;
neonConfig.forceDisablePgSSL = true;

const ROUNDS = 7;
const N = 10_000;

async function measure(fn) {
  await fn();
  const times = [];
  for (let i = 0; i < ROUNDS; i++) {
    const t = performance.now();
    await fn();
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

function report(workload, client, ops, ms, round_trips) {
  console.log(JSON.stringify({ workload, client, ops, median_ms: Number(ms.toFixed(3)), ops_per_s: Math.round(ops / (ms / 1000)), round_trips }));
}

// Each client as: name, query(sql, params) → rows, end().
const clients = {
  'edgepg (js, node:net)': () => {
    const pool = new EdgePool({ connectionString: PG_URL, transport: nodeSocket(), max: 4, min: 4 });
    return { query: async (sql, p) => (await pool.query(sql, p)).rows, end: () => pool.end() };
  },
  'postgres.js (js)': () => {
    const sql = postgres(PG_URL, { max: 4, prepare: true, onnotice: () => {} });
    return { query: (q, p) => sql.unsafe(q, p, { prepare: true }), end: () => sql.end() };
  },
  'pg (js)': () => {
    const pool = new pg.Pool({ connectionString: PG_URL, max: 4 });
    return { query: async (q, p) => (await pool.query(q, p)).rows, end: () => pool.end() };
  },
  'edgepg (js, tunnel)': () => {
    const pool = new EdgePool({ connectionString: PG_URL, transport: webSocket({ proxy: `ws://${PROXY}`, WebSocket: ws }), max: 4, min: 4 });
    return { query: async (sql, p) => (await pool.query(sql, p)).rows, end: () => pool.end() };
  },
  '@neondatabase/serverless Pool (js, tunnel)': () => {
    const pool = new NeonPool({ connectionString: PG_URL, max: 4 });
    return { query: async (q, p) => (await pool.query(q, p)).rows, end: () => pool.end() };
  },
};

for (const [name, make] of Object.entries(clients)) {
  const c = make();
  try {
    if (wants('W1')) report('W1', name, N, await measure(() => Promise.all(Array.from({ length: N }, () => c.query('select 1 as x', [])))));
    if (wants('W2')) report('W2', name, N, await measure(() => Promise.all(Array.from({ length: N }, (_, i) => c.query('select $1 as x', [i])))));
    if (wants('W3')) report('W3', name, N, await measure(() => Promise.all(Array.from({ length: N }, () => c.query(W3, w3params())))));
    if (wants('W4')) report('W4', name, N, await measure(() => Promise.all(Array.from({ length: N }, () => c.query(W4, ['int4'])))));
    if (wants('W5')) {
      report('W5', name, 10_000, await measure(async () => {
        const rows = await c.query(W5, []);
        let n = 0;
        for (const r of rows) n += r.id > 0 ? 8 : 0;
        if (n !== 80_000) throw new Error(`W5: ${n} cells`);
      }));
    }
  } finally {
    await c.end();
  }
}

if (wants('W7')) {
  // W7 logs in as a role whose password the server wants in cleartext
  // (`password` in pg_hba, as behind Neon's proxy), so that both edgepg and
  // Neon's driver can send it with the startup message. Round trips are
  // counted at the proxy (edgepg_proxy_round_trips_total).
  const PW_URL = process.env.PG_PASSWORD_URL ?? PG_URL;
  const pipelined = `${PW_URL}${PW_URL.includes('?') ? '&' : '?'}pipeline_connect=password`;
  neonConfig.pipelineConnect = 'password';
  const w7 = {
    'edgepg (js, node:net)': async () => {
      const pool = new EdgePool({ connectionString: pipelined, transport: nodeSocket(), max: 1 });
      await pool.query('select 1', []);
      await pool.end();
    },
    'pg (js)': async () => {
      const client = new pg.Client({ connectionString: PW_URL });
      await client.connect();
      await client.query('select 1');
      await client.end();
    },
    'postgres.js (js)': async () => {
      const sql = postgres(PW_URL, { max: 1 });
      await sql`select 1`;
      await sql.end();
    },
    'edgepg (js, tunnel)': async () => {
      const pool = new EdgePool({ connectionString: pipelined, transport: webSocket({ proxy: `ws://${PROXY}`, WebSocket: ws }), max: 1 });
      await pool.query('select 1', []);
      await pool.end();
    },
    '@neondatabase/serverless Pool (js, tunnel)': async () => {
      const pool = new NeonPool({ connectionString: PW_URL, max: 1 });
      await pool.query('select 1');
      await pool.end();
    },
  };
  const roundTrips = async () => {
    if (!process.env.PROXY_METRICS) return undefined;
    const text = await (await fetch(`http://${process.env.PROXY_METRICS}/metrics`)).text();
    return Number(text.match(/^edgepg_proxy_round_trips_total (\d+)/m)?.[1]);
  };
  for (const [name, fn] of Object.entries(w7)) {
    const before = await roundTrips();
    const ms = await measure(fn);
    const after = await roundTrips();
    const tunnelled = name.includes('tunnel') && before !== undefined;
    // measure() runs a warm-up and ROUNDS timed runs.
    report('W7', name, 1, ms, tunnelled ? (after - before) / (ROUNDS + 1) : undefined);
  }
}
