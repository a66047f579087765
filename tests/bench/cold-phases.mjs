// Where edgepg's cold start in Node goes (W9's breakdown in BENCHMARKS.md):
// the steps of the package's Node entry done one by one in a fresh process,
// each timed, then the first `select 1` on a new connection and, for
// comparison, a second new connection in the same (now warm) process.
//   PG_URL=postgresql://… node cold-phases.mjs [rounds]   (medians of `rounds` processes)
// A child run (`--child`) prints one JSON line of phase → ms.

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
} else {
  const rounds = Number(process.argv[2] ?? 11);
  const runs = [];
  for (let i = 0; i <= rounds; i++) {
    const { stdout } = await promisify(execFile)(process.execPath, [fileURLToPath(import.meta.url), '--child']);
    if (i > 0) runs.push(JSON.parse(stdout)); // the first warms the file cache
  }
  const median = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  for (const phase of Object.keys(runs[0])) console.log(`${phase}: ${median(runs.map((r) => r[phase])).toFixed(1)} ms`);
}
