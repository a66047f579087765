// W9 (cold start): one round = one fresh process, from before the driver's
// import to the first row of `select 1`. Used by run.mjs.
//
// Node: `node cold.mjs CLIENT`, timed inside the child (performance.now()
// before the dynamic import, after the first row).
//
// workerd: a new `workerd serve` per round with a config holding only that
// client's modules (cold-worker.js + the driver), so that every round is a
// new process and a new isolate. The first request (sent once workerd
// accepts TCP connections, with no request before it) imports the driver and
// runs the query, timed by the Worker's clock (cold-worker.js) and here from
// outside (`request_ms`: plus workerd's handling of a first request). workerd
// compiles a config's wasm modules and evaluates its main module before it
// listens: that part is in `startup_ms` (spawn → accepting connections).

import { spawn, execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, readdirSync, rmSync, realpathSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, dirname, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const here = dirname(fileURLToPath(import.meta.url));
const modulesDir = join(here, 'node_modules');

/** One cold start of `client` in a new Node process: { import_ms, first_row_ms }. */
export async function nodeColdStart(client, env) {
  const { stdout } = await promisify(execFile)(process.execPath, [join(here, 'cold.mjs'), client], { env: { ...process.env, ...env } });
  return JSON.parse(stdout.trim().split('\n').pop());
}

/** The modules (capnp list entries) of each driver, and the flags it needs. */
function driverModules(driver, rel) {
  const embed = (name, file, kind = 'esModule') => `(name = "${name}", ${kind} = embed "${rel(file)}")`;
  if (driver === 'edgepg') {
    const pkgDir = realpathSync(join(modulesDir, 'edgepg'));
    const pkg = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8'));
    const entry = pkg.exports['.'].workerd.replace(/^\.\//, '');
    return {
      flags: [],
      modules: [
        `(name = "edgepg", esModule = "export * from './pkg/${entry}';")`,
        // The entry's own directory: `dist/` (minified) or `src/`.
        ...readdirSync(join(pkgDir, dirname(entry))).filter((f) => f.endsWith('.js'))
          .map((f) => embed(`pkg/${dirname(entry)}/${f}`, join(pkgDir, dirname(entry), f))),
        embed('pkg/wasm/edgepg.js', join(pkgDir, 'wasm/edgepg.js')),
        embed('pkg/wasm/edgepg_bg.wasm', join(pkgDir, 'wasm/edgepg_bg.wasm'), 'wasm'),
      ],
    };
  }
  if (driver === 'postgres') {
    // postgres.js's `workerd` build: cloudflare:sockets, and node:buffer,
    // node:events, node:stream from nodejs_compat.
    const cf = join(modulesDir, 'postgres/cf');
    return {
      flags: ['nodejs_compat'],
      modules: [
        `(name = "postgres", esModule = "export { default } from './postgres/cf/src/index.js';")`,
        embed('postgres/cf/polyfills.js', join(cf, 'polyfills.js')),
        ...readdirSync(join(cf, 'src')).map((f) => embed(`postgres/cf/src/${f}`, join(cf, 'src', f))),
      ],
    };
  }
  if (driver === 'none') return { flags: [], modules: [] };
  if (driver === 'edgepg wasm only') {
    const pkgDir = realpathSync(join(modulesDir, 'edgepg'));
    return { flags: [], modules: [embed('pkg/wasm/edgepg_bg.wasm', join(pkgDir, 'wasm/edgepg_bg.wasm'), 'wasm')] };
  }
  if (driver === 'neon') {
    return { flags: [], modules: [embed('@neondatabase/serverless', join(modulesDir, '@neondatabase/serverless/index.mjs'))] };
  }
  throw new Error(`unknown driver ${driver}`);
}

export const workerdDriver = (client) =>
  client.startsWith('edgepg') ? 'edgepg' : client.startsWith('postgres.js') ? 'postgres' : 'neon';

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

const canConnect = (port) => new Promise((resolve) => {
  const s = connect(port, '127.0.0.1');
  s.on('connect', () => { s.destroy(); resolve(true); });
  s.on('error', () => resolve(false));
});

/**
 * One cold start of `client` in a new workerd process:
 * { request_ms, startup_ms, import_ms, first_row_ms } (the last two by the Worker's clock).
 * Options for cold-phases.mjs: `driver` (the modules in the config, by
 * default the client's; 'none', 'edgepg wasm only'), `path` (the request's;
 * null: none, only `startup_ms`), `v8Flags`.
 */
export async function workerdColdStart(client, { PG_URL, PROXY }, { calibrate = false, driver = workerdDriver(client), path = '/', v8Flags = [] } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'edgepg-cold-'));
  const rel = (p) => relative(dir, p);
  const { flags, modules } = driverModules(driver, rel);
  const port = await freePort();
  const config = `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "main", worker = .worker),
    # Loopback only: PostgreSQL and the proxy live on 127.0.0.1.
    (name = "internet", network = (allow = ["local", "private", "public"])),
  ],
  sockets = [(name = "http", address = "127.0.0.1:${port}", http = (), service = "main")],
  v8Flags = [${v8Flags.map((f) => JSON.stringify(f)).join(', ')}],
);
const worker :Workerd.Worker = (
  modules = [
    ${[`(name = "worker.js", esModule = embed "${rel(join(here, 'cold-worker.js'))}")`, ...modules].join(',\n    ')}
  ],
  compatibilityDate = "2025-01-01",
  compatibilityFlags = [${flags.map((f) => JSON.stringify(f)).join(', ')}],
  bindings = [
    (name = "CLIENT", text = ${JSON.stringify(client)}),
    (name = "PG_URL", text = ${JSON.stringify(PG_URL)}),
    (name = "PROXY", text = ${JSON.stringify(PROXY)}),
    (name = "SQL_ENDPOINT", text = "http://${PROXY.replace(/\/v1$/, '')}/sql"),
  ],
);
`;
  const configPath = join(dir, 'config.capnp');
  writeFileSync(configPath, config);
  let log = '';
  const t0 = performance.now();
  const workerd = spawn(join(modulesDir, '.bin/workerd'), ['serve', configPath], { stdio: ['ignore', 'pipe', 'pipe'] });
  workerd.stdout.on('data', (d) => (log += d));
  workerd.stderr.on('data', (d) => (log += d));
  const exited = new Promise((resolve) => workerd.on('exit', resolve));
  try {
    // Only TCP connects until it listens: an HTTP request would warm the isolate.
    while (!(await canConnect(port))) {
      if (workerd.exitCode !== null) throw new Error(`workerd exited (${workerd.exitCode}):\n${log}`);
      if (performance.now() - t0 > 30_000) throw new Error(`workerd did not start:\n${log}`);
      await new Promise((r) => setTimeout(r, 2));
    }
    const t1 = performance.now();
    if (path === null) return { startup_ms: t1 - t0 };
    const res = await fetch(`http://127.0.0.1:${port}${path}`);
    const body = await res.json();
    const t2 = performance.now();
    if (!res.ok) throw new Error(`${client} in workerd: ${JSON.stringify(body)}\n${log}`);
    const out = { request_ms: t2 - t1, startup_ms: t1 - t0, ...body };
    if (calibrate) {
      // The Worker's clock must move during compute, or its figures miss it.
      const t3 = performance.now();
      const { busy_ms } = await (await fetch(`http://127.0.0.1:${port}/?calibrate`)).json();
      const wall = performance.now() - t3;
      if (!(busy_ms >= 0.5 * wall - 5)) {
        throw new Error(`workerd's clock stood still during compute (${busy_ms} ms inside, ${wall.toFixed(1)} ms outside): W9's in-Worker figures would miss the compute`);
      }
      out.calibration = { inside_ms: busy_ms, outside_ms: wall };
    }
    return out;
  } finally {
    workerd.kill('SIGKILL');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  }
}
