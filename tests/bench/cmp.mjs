// edgepg (node:net) next to postgres.js in one process, rounds interleaved,
// medians and their ratio (postgres.js time / edgepg time: above 1 means
// edgepg is faster). Quicker and less noisy than run.mjs for one change:
//   PG_URL=postgresql://… node cmp.mjs W3,W4,W5 [rounds]
// EDGEPG_BASE=/path/to/another/pkg/dist/node.js adds that build as a third client.
// Each line also gives the medians of this process's CPU time (user + system,
// GC threads included) per round: the client's own cost, which the server and
// the scheduler sharing the cores disturb far less than the wall clock.
import { performance } from 'node:perf_hooks';
import postgres from 'postgres';
import { Pool as EdgePool, nodeSocket } from 'edgepg';
import { W3, w3params, W4, W5 } from './workloads.mjs';
const PG_URL = process.env.PG_URL;
const ONLY = (process.argv[2] ?? 'W3,W4,W5').split(',');
const ROUNDS = Number(process.argv[3] ?? 7);
const N = 10_000;
const pool = new EdgePool({ connectionString: PG_URL, transport: nodeSocket(), max: 4, min: 4 });
const sql = postgres(PG_URL, { max: 4, prepare: true, onnotice: () => {} });
const clients = {
  edgepg: async (q, p) => (await pool.query(q, p)).rows,
  pgjs: (q, p) => sql.unsafe(q, p, { prepare: true }),
};
let basePool = null;
if (process.env.EDGEPG_BASE) {
  const base = await import(process.env.EDGEPG_BASE);
  basePool = new base.Pool({ connectionString: PG_URL, transport: base.nodeSocket(), max: 4, min: 4 });
  clients.base = async (q, p) => (await basePool.query(q, p)).rows;
}
const work = {
  W1: (c) => Promise.all(Array.from({ length: N }, () => c('select 1 as x', []))),
  W2: (c) => Promise.all(Array.from({ length: N }, (_, i) => c('select $1 as x', [i]))),
  W3: (c) => Promise.all(Array.from({ length: N }, () => c(W3, w3params()))),
  W4: (c) => Promise.all(Array.from({ length: N }, () => c(W4, ['int4']))),
  W5: async (c) => { const rows = await c(W5, []); let n = 0; for (const r of rows) n += r.id > 0 ? 8 : 0; if (n !== 80000) throw new Error('W5'); },
};
for (const w of ONLY) {
  const names = Object.keys(clients);
  const times = Object.fromEntries(names.map((n) => [n, []]));
  const cpu = Object.fromEntries(names.map((n) => [n, []]));
  for (const name of names) await work[w](clients[name]);
  for (let r = 0; r < ROUNDS; r++) {
    const order = r % 2 ? [...names].reverse() : names;
    for (const name of order) {
      const t = performance.now();
      const c = process.cpuUsage();
      await work[w](clients[name]);
      const d = process.cpuUsage(c);
      times[name].push(performance.now() - t);
      cpu[name].push((d.user + d.system) / 1000);
    }
  }
  const med = (a) => a.sort((x, y) => x - y)[Math.floor(a.length / 2)];
  const e = med(times.edgepg), p = med(times.pgjs);
  let line = `${w}: edgepg ${e.toFixed(1)} ms, postgres.js ${p.toFixed(1)} ms, ratio ${(p / e).toFixed(2)}`;
  if (times.base) { const b = med(times.base); line += `; base ${b.toFixed(1)} ms, ratio ${(p / b).toFixed(2)}`; }
  line += '; CPU ms: ' + names.map((n) => `${n} ${med(cpu[n]).toFixed(1)}`).join(', ');
  console.log(line);
}
await pool.end(); await sql.end(); await basePool?.end();
