// Runs tests/wasm/workerd/worker.js in workerd (npm `workerd`) with the
// package's `workerd` export, and checks its HTTP answers over
// cloudflareSocket() and webSocket().
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, dirname, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const pkgDir = join(here, '../../../pkg');
const env = process.env;

/** The SCRAM user over TLS, verify-full against the certificate's name (localhost). */
function tlsUrl() {
  const u = new URL(env.EDGEPG_TEST_SCRAM_URL);
  u.hostname = 'localhost';
  u.searchParams.set('sslmode', 'verify-full');
  return u.toString();
}

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

let workerd;
let dir;
let base;
let log = '';

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'edgepg-workerd-'));
  const rel = (p) => relative(dir, p);
  const pkg = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8'));
  const entry = pkg.exports['.'].workerd; // the condition under test
  const entryDir = dirname(entry.replace(/^\.\//, ''));
  const modules = [
    `(name = "worker.js", esModule = embed "${rel(join(here, 'worker.js'))}")`,
    `(name = "reach/scenarios.mjs", esModule = embed "${rel(join(here, '../reach/scenarios.mjs'))}")`,
    // The bare specifier `edgepg` resolves to the package's workerd entry.
    `(name = "edgepg", esModule = "export * from './pkg/${entry.replace(/^\.\//, '')}';")`,
    // The modules of the entry's folder (`dist/`, what the package ships).
    ...readdirSync(join(pkgDir, entryDir)).filter((f) => f.endsWith('.js'))
      .map((f) => `(name = "pkg/${entryDir}/${f}", esModule = embed "${rel(join(pkgDir, entryDir, f))}")`),
    `(name = "pkg/wasm/edgepg.js", esModule = embed "${rel(join(pkgDir, 'wasm/edgepg.js'))}")`,
    `(name = "pkg/wasm/edgepg_bg.wasm", wasm = embed "${rel(join(pkgDir, 'wasm/edgepg_bg.wasm'))}")`,
  ];
  const port = await freePort();
  const dbUrl = env.EDGEPG_TEST_URL;
  const config = `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "main", worker = .worker),
    # Loopback only: the test server and proxy live on 127.0.0.1.
    (name = "internet", network = (
      allow = ["local", "private", "public"],
      tlsOptions = (trustedCertificates = [${env.EDGEPG_TEST_CA ? `embed "${rel(env.EDGEPG_TEST_CA)}"` : ''}]),
    )),
  ],
  sockets = [(name = "http", address = "127.0.0.1:${port}", http = (), service = "main")],
);
const worker :Workerd.Worker = (
  modules = [
    ${modules.join(',\n    ')}
  ],
  compatibilityDate = "2025-01-01",
  bindings = [
    (name = "DATABASE_URL", text = "${dbUrl}"),
    (name = "PGSQL_APP", text = "${dbUrl}"),
    (name = "PROXY", text = "${env.EDGEPG_TEST_PROXY}"),
    (name = "DATABASE_TLS_URL", text = "${tlsUrl()}"),
    (name = "DATABASE_SCRAM_URL", text = "${env.EDGEPG_TEST_SCRAM_URL}"),
    (name = "SQL_ENDPOINT", text = "${env.EDGEPG_TEST_PROXY.replace(/^ws/, 'http').replace(/\/v1$/, '/sql')}"),
    (name = "FORBIDDEN_URL", text = "postgresql://u:p@127.0.0.1:${Number(env.EDGEPG_TEST_PORT) + 1}/postgres"),
  ],
);
`;
  const configPath = join(dir, 'config.capnp');
  writeFileSync(configPath, config);
  const bin = join(here, '../node_modules/.bin/workerd');
  workerd = spawn(bin, ['serve', configPath, '--verbose'], { stdio: ['ignore', 'pipe', 'pipe'] });
  workerd.stdout.on('data', (d) => (log += d));
  workerd.stderr.on('data', (d) => (log += d));
  base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      const res = await fetch(`${base}/ready`);
      if (res.ok) break;
    } catch (e) {
      if (workerd.exitCode !== null) throw new Error(`workerd exited (${workerd.exitCode}):\n${log}`);
      if (Date.now() > deadline) throw new Error(`workerd did not start:\n${log}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
});

after(() => {
  workerd?.kill('SIGKILL');
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function ask(transport) {
  const res = await fetch(`${base}/?transport=${transport}`);
  const body = await res.json();
  assert.equal(res.status, 200, `${JSON.stringify(body)}\n${log}`);
  return body;
}

for (const transport of ['socket', 'websocket']) {
  test(`workerd answers with query results over ${transport === 'socket' ? 'cloudflareSocket()' : 'webSocket()'}`, async () => {
    const body = await ask(transport);
    assert.deepEqual(body.rows, [1, 2, 3].map((n) => ({ via: transport, n, ten: n * 10 })));
    assert.equal(body.status, 'SELECT 3');
    assert.equal(body.tx, 'in tx');
    assert.deepEqual(body.error, { name: 'ProgrammingError', code: '42P01', isDatabaseError: true });
    assert.equal(body.fromEnv, 'postgres');
  });
}

test('workerd: TLS through startTls() (cloudflare:sockets), verify-full', { skip: !env.EDGEPG_TEST_CA }, async () => {
  const res = await fetch(`${base}/?transport=tls`);
  const body = await res.json();
  assert.equal(res.status, 200, `${JSON.stringify(body)}\n${log}`);
  assert.equal(body.ssl, true);
  assert.equal(body.u, new URL(env.EDGEPG_TEST_SCRAM_URL).username);
});

test('workerd: http() over POST /sql of edgepg-proxy', async () => {
  const res = await fetch(`${base}/?transport=http`);
  const body = await res.json();
  assert.equal(res.status, 200, `${JSON.stringify(body)}\n${log}`);
  assert.deepEqual(body.tagged, [{ n: 42, t: 'w', big: '9007199254740993', bigType: 'bigint' }]);
  assert.deepEqual(body.full, { command: 'SELECT', rowCount: 2, rows: [[1], [2]] });
  assert.deepEqual(body.batch, [{ n: 1 }]);
  assert.deepEqual(body.failed, { name: 'IntegrityError', code: '23505' });
  assert.deepEqual(body.after, [{ id: 1 }]);
  assert.deepEqual(body.syntax, { name: 'ProgrammingError', code: '42601' });
  assert.deepEqual(body.forbidden, { name: 'OperationalError', refused: true });
});

for (const transport of ['socket', 'websocket']) {
  for (const name of ['abort', 'cursor', 'listen', 'copy']) {
    test(`workerd: ${name} over ${transport === 'socket' ? 'cloudflareSocket()' : 'webSocket()'}`, async () => {
      const res = await fetch(`${base}/reach?name=${name}&transport=${transport}&rows=${env.EDGEPG_REACH_ROWS ?? 1000000}`);
      const body = await res.json();
      assert.equal(res.status, 200, `${JSON.stringify(body)}\n${log}`);
      console.log(`# reach workerd ${transport} ${name}: ${JSON.stringify(body)}`);
    });
  }
}

test('workerd: concurrent requests', async () => {
  const bodies = await Promise.all(Array.from({ length: 6 }, (_, i) => ask(i % 2 ? 'socket' : 'websocket')));
  assert.equal(bodies.length, 6);
});
