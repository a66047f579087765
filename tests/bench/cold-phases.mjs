// Where edgepg's cold start in Node goes (W9's breakdown in BENCHMARKS.md):
// the steps of the package's Node entry done one by one in a fresh process,
// each timed, then the first `select 1` on a new connection and, for
// comparison, a second new connection in the same (now warm) process.
//   PG_URL=postgresql://… node cold-phases.mjs [rounds]   (medians of `rounds` processes)
// A child run (`--child`) prints one JSON line of phase → ms.
//   PG_URL=… PROXY=host:port/v1 node cold-phases.mjs --workerd [rounds]
// does the same in a fresh workerd per round (cold-worker.js `?phases`, by
// the Worker's clock), and times workerd's start with no driver, with only
// edgepg's wasm module (compiled by workerd before it listens) and with the
// whole package, none of them imported.

import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';

if (process.argv[2] === '--child') {
  const marks = [['process start → script', performance.now()]];
  const mark = (name) => marks.push([name, performance.now()]);
  // The package's own files, by path: its `exports` hide them.
  const pkg = new URL('node_modules/edgepg/', import.meta.url);
  const { readFileSync } = await import('node:fs');
  const glue = await import(new URL('wasm/edgepg.js', pkg));
  mark('wasm-bindgen glue (JS)');
  const bytes = readFileSync(new URL('wasm/edgepg_bg.wasm', pkg));
  mark('read .wasm');
  const module = new WebAssembly.Module(bytes);
  mark('compile (new WebAssembly.Module)');
  glue.initSync({ module });
  mark('instantiate (initSync)');
  const api = await import(new URL('src/api.js', pkg));
  const { nodeSocket } = await import(new URL('src/node-socket.js', pkg));
  mark('package JS (api.js and the rest)');
  api.bind(glue, { defaultTransport: () => nodeSocket(), codegen: true });
  mark('bind');
  const connectAndQuery = async () => {
    const pool = new api.Pool({ connectionString: process.env.PG_URL, transport: nodeSocket(), max: 1 });
    const r = await pool.query('select 1 as x');
    if (r.rows[0].x !== 1) throw new Error('select 1');
    return pool;
  };
  const first = await connectAndQuery();
  mark('first connection → first row');
  await first.end();
  const t = performance.now();
  await (await connectAndQuery()).end();
  const second = performance.now() - t;
  const out = {};
  for (let i = 0; i < marks.length; i++) out[marks[i][0]] = marks[i][1] - (i ? marks[i - 1][1] : 0);
  out['(second connection → first row, warm process)'] = second;
  console.log(JSON.stringify(out));
} else if (process.argv[2] === '--workerd') {
  const { workerdColdStart } = await import('./cold-start.mjs');
  const env = { PG_URL: process.env.PG_URL, PROXY: process.env.PROXY };
  const rounds = Number(process.argv[3] ?? 11);
  const client = 'edgepg (workerd, cloudflare:sockets)';
  const runs = { phases: [], eager: [], none: [], 'edgepg wasm only': [], edgepg: [] };
  for (let i = 0; i <= rounds; i++) {
    const phases = await workerdColdStart(client, env, { path: '/?phases' });
    // V8 compiles a wasm function on its first call; compiling them all
    // up front shows what that costs the first connection.
    const eager = await workerdColdStart(client, env, { path: '/?phases', v8Flags: ['--no-wasm-lazy-compilation'] });
    const starts = {};
    for (const driver of ['none', 'edgepg wasm only', 'edgepg']) starts[driver] = await workerdColdStart(client, env, { driver, path: null });
    if (i === 0) continue; // warms the file cache
    runs.phases.push(phases);
    runs.eager.push(eager);
    for (const [driver, s] of Object.entries(starts)) runs[driver].push(s.startup_ms);
  }
  const median = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  for (const phase of Object.keys(runs.phases[0])) console.log(`${phase}: ${median(runs.phases.map((r) => r[phase])).toFixed(1)} ms`);
  for (const phase of ['startup_ms', 'first connection → first row']) console.log(`with --no-wasm-lazy-compilation, ${phase}: ${median(runs.eager.map((r) => r[phase])).toFixed(1)} ms`);
  for (const driver of ['none', 'edgepg wasm only', 'edgepg']) console.log(`workerd start (spawn → listening), modules: ${driver}: ${median(runs[driver]).toFixed(1)} ms`);
} else {
  const rounds = Number(process.argv[2] ?? 11);
  const runs = [];
  const eager = [];
  const child = async (flags) => JSON.parse((await promisify(execFile)(process.execPath, [...flags, fileURLToPath(import.meta.url), '--child'])).stdout);
  for (let i = 0; i <= rounds; i++) {
    const lazy = await child([]);
    // V8 compiles a wasm function on its first call; compiling them all up
    // front shows what that costs the first connection.
    const all = await child(['--no-wasm-lazy-compilation']);
    if (i === 0) continue; // warms the file cache
    runs.push(lazy);
    eager.push(all);
  }
  const median = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  for (const phase of Object.keys(runs[0])) console.log(`${phase}: ${median(runs.map((r) => r[phase])).toFixed(1)} ms`);
  for (const phase of ['compile (new WebAssembly.Module)', 'first connection → first row']) console.log(`with --no-wasm-lazy-compilation, ${phase}: ${median(eager.map((r) => r[phase])).toFixed(1)} ms`);
}
