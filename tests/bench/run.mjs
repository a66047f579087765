// SPEC §10 workloads in Node: the edgepg npm package next to postgres.js, pg and
// @neondatabase/serverless through the same edgepg-proxy. Run by `cargo xtask bench`,
// which starts PostgreSQL and the proxy and passes PG_URL and PROXY (host:port/v1).
// Prints one JSON line per measurement: the median of 7 rounds after a warm-up
// (W9, cold start, spawns a Node or workerd process per round: cold-start.mjs).
import { performance } from 'node:perf_hooks';
import ws from 'ws';
import postgres from 'postgres';
import pg from 'pg';
import { Pool as NeonPool, neonConfig, neon } from '@neondatabase/serverless';
import { Pool as EdgePool, nodeSocket, webSocket, http } from 'edgepg';
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

function report(workload, client, ops, ms, round_trips, extra = {}) {
  console.log(JSON.stringify({ workload, client, ops, median_ms: Number(ms.toFixed(3)), ops_per_s: Math.round(ops / (ms / 1000)), round_trips, ...extra }));
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

if (wants('W8')) {
  // W8: one-shot latency of `select $1::int`, one query at a time, warm and
  // cold: edgepg's http() and Neon's neon() over POST /sql of the same proxy,
  // next to a query on an open tunnel connection and a fresh WebSocket Pool
  // connection (connect, query, end). "Warm" HTTP reuses the fetch
  // keep-alive connection and a pooled server connection; "cold" asks for a
  // new server connection (a new application_name is a new pool in the proxy).
  // Reported: the median of the single-query latencies.
  const PW_URL = process.env.PG_PASSWORD_URL ?? PG_URL;
  const endpoint = `http://${PROXY.replace(/\/v1$/, '')}/sql`;
  neonConfig.fetchEndpoint = endpoint;
  neonConfig.pipelineConnect = false;
  const withApp = (name) => `${PW_URL}${PW_URL.includes('?') ? '&' : '?'}application_name=${name}`;
  const latency = async (fn, n) => {
    for (let i = 0; i < 5; i++) await fn(i);
    const times = [];
    for (let i = 0; i < n; i++) {
      const t = performance.now();
      await fn(i);
      times.push(performance.now() - t);
    }
    times.sort((a, b) => a - b);
    return times[Math.floor(times.length / 2)];
  };
  const open = new EdgePool({ connectionString: PW_URL, transport: webSocket({ proxy: `ws://${PROXY}`, WebSocket: ws }), max: 1, min: 1 });
  const edgeHttp = http(PW_URL, { endpoint });
  const neonHttp = neon(PW_URL);
  let cold = 0;
  // The same request on a raw keep-alive socket: the proxy's share, without fetch.
  const raw = await rawHttp(endpoint, PW_URL);
  const w8 = {
    'raw HTTP/1.1 keep-alive socket, no fetch (js)': [() => raw.query(), 300],
    'query on an open tunnel connection (edgepg, js)': [(i) => open.query('select $1::int as x', [i]), 300],
    'edgepg http() warm (js)': [(i) => edgeHttp.query('select $1::int as x', [i]), 300],
    'neon() warm (js)': [(i) => neonHttp.query('select $1::int as x', [i]), 300],
    'edgepg http() cold (js, new server connection)': [(i) => http(withApp(`edgepg_cold_${process.pid}_${cold++}`), { endpoint }).query('select $1::int as x', [i]), 60],
    'neon() cold (js, new server connection)': [(i) => neon(withApp(`neon_cold_${process.pid}_${cold++}`)).query('select $1::int as x', [i]), 60],
    'edgepg fresh WebSocket Pool connection (js, tunnel)': [async (i) => {
      const pool = new EdgePool({ connectionString: PW_URL, transport: webSocket({ proxy: `ws://${PROXY}`, WebSocket: ws }), max: 1 });
      await pool.query('select $1::int as x', [i]);
      await pool.end();
    }, 60],
    '@neondatabase/serverless fresh Pool connection (js, tunnel)': [async (i) => {
      const pool = new NeonPool({ connectionString: PW_URL, max: 1 });
      await pool.query('select $1::int as x', [i]);
      await pool.end();
    }, 60],
  };
  try {
    for (const [name, [fn, n]] of Object.entries(w8)) report('W8', name, 1, await latency(fn, n));
  } finally {
    await open.end();
    raw.end();
  }
}

if (wants('W9')) {
  // W9: cold start, from before the driver's import to the first row of
  // `select 1` on a new connection, in a fresh process per round: a Node
  // process, or a workerd process (a new isolate) — cold-start.mjs.
  const { nodeColdStart, workerdColdStart } = await import('./cold-start.mjs');
  const env = { PG_URL, PROXY };
  const inNode = ['edgepg (js, node:net)', 'postgres.js (js, node:net)', 'edgepg (js, tunnel)', '@neondatabase/serverless Pool (js, tunnel)',
    'edgepg http() (js, POST /sql)', 'neon() (js, POST /sql)'];
  const inWorkerd = ['edgepg (workerd, cloudflare:sockets)', 'postgres.js (workerd, cloudflare:sockets)', 'edgepg (workerd, tunnel)',
    '@neondatabase/serverless Pool (workerd, tunnel)', 'edgepg http() (workerd, POST /sql)', 'neon() (workerd, POST /sql)'];
  const all = [...inNode, ...inWorkerd];
  const COLD_ROUNDS = 11;
  const samples = Object.fromEntries(all.map((c) => [c, []]));
  // Each round runs every client once, in reversed order every other round,
  // so that a burst of load on the (shared) machine falls on all of them.
  // Round 0 warms the file cache and is dropped; it also checks that the
  // Worker's clock moves during compute.
  for (let round = 0; round <= COLD_ROUNDS; round++) {
    for (const c of round % 2 ? [...all].reverse() : all) {
      const s = inNode.includes(c) ? await nodeColdStart(c, env) : await workerdColdStart(c, env, { calibrate: round === 0 });
      if (round > 0) samples[c].push(s);
    }
  }
  const median = (xs) => {
    const v = xs.filter((x) => typeof x === 'number').sort((a, b) => a - b);
    return v.length ? Number(v[Math.floor(v.length / 2)].toFixed(3)) : undefined;
  };
  for (const c of all) {
    const of = (k) => median(samples[c].map((s) => s[k]));
    report('W9', c, 1, of('first_row_ms'), undefined, { import_ms: of('import_ms'), startup_ms: of('startup_ms'), request_ms: of('request_ms'), rounds: COLD_ROUNDS });
  }
}

/** POST /sql on one raw keep-alive TCP connection (node:net), one request at a time. */
async function rawHttp(endpoint, url) {
  const { connect } = await import('node:net');
  const u = new URL(endpoint);
  const s = connect(Number(u.port), u.hostname);
  s.setNoDelay(true);
  await new Promise((r) => s.on('connect', r));
  let buf = '';
  let waiter = null;
  s.on('data', (d) => {
    buf += d;
    const i = buf.indexOf('\r\n\r\n');
    if (i < 0) return;
    const len = Number(/content-length: (\d+)/i.exec(buf.slice(0, i))[1]);
    if (buf.length < i + 4 + len) return;
    if (!buf.startsWith('HTTP/1.1 200')) throw new Error(`POST /sql failed: ${buf.slice(0, i + 4 + len)}`);
    buf = buf.slice(i + 4 + len);
    const w = waiter;
    waiter = null;
    w();
  });
  const body = JSON.stringify({ query: 'select $1::int as x', params: ['1'] });
  const req = `POST /sql HTTP/1.1\r\nHost: x\r\nNeon-Connection-String: ${url}\r\nNeon-Raw-Text-Output: true\r\n` +
    `Neon-Array-Mode: true\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
  return {
    query: () => new Promise((r) => { waiter = r; s.write(req); }),
    end: () => s.end(),
  };
}
