// The HTTP/1.1 client under edgepg's http() in Node (pkg/src/node-http.js)
// against the real edgepg-proxy and PostgreSQL, and against tiny real
// servers (node:http, node:net) for what the proxy never sends: chunked
// bodies, Connection: close, a stall, malformed answers, a socket closed
// under a request.
//
// Driven by proxy/tests/sql_http.rs, which starts PostgreSQL and the proxies and sets:
//   EDGEPG_PKG                 path of the `edgepg` package's Node entry
//   EDGEPG_SQL_URL             a connection string for a SCRAM user
//   EDGEPG_SQL_ENDPOINT        http://HOST:PORT/sql of a proxy
//   EDGEPG_SQL_METRICS         http://HOST:PORT/metrics of that proxy
//   EDGEPG_SQL_SHORT_ENDPOINT  /sql of a proxy with --keepalive-timeout 300ms
//   EDGEPG_SQL_TLS_ENDPOINT    https://localhost:PORT/sql of a TLS proxy (its CA in NODE_EXTRA_CA_CERTS)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { subscribe } from 'node:diagnostics_channel';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { spawnSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';

const env = process.env;
for (const k of ['EDGEPG_PKG', 'EDGEPG_SQL_URL', 'EDGEPG_SQL_ENDPOINT', 'EDGEPG_SQL_METRICS', 'EDGEPG_SQL_SHORT_ENDPOINT', 'EDGEPG_SQL_TLS_ENDPOINT']) {
  if (!env[k]) throw new Error(`${k} is not set: run this through proxy/tests/sql_http.rs (cargo test -p edgepg-proxy --test sql_http)`);
}
const { http, DatabaseNotAvailableError, ProgrammingError } = await import(env.EDGEPG_PKG);
const url = env.EDGEPG_SQL_URL;
const endpoint = env.EDGEPG_SQL_ENDPOINT;

// The remote port of every TCP client socket this process connects (node:net
// publishes each new one), to count those to the proxy.
const connected = [];
subscribe('net.client.socket', ({ socket }) => socket.once('connect', () => connected.push(socket.remotePort)));
const socketsTo = (u) => connected.filter((p) => p === Number(new URL(u).port)).length;
const realFetch = globalThis.fetch;

async function metric(name) {
  const text = await (await fetch(env.EDGEPG_SQL_METRICS)).text();
  const line = text.split('\n').find((l) => l.startsWith(name + ' '));
  assert.ok(line, `no ${name} in the metrics`);
  return Number(line.slice(name.length + 1));
}

/** A real server on a free loopback port; `url` is its /sql. */
async function serve(server) {
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address();
  return { url: `http://127.0.0.1:${port}/sql`, close: () => new Promise((r) => { server.close(r); server.closeAllConnections?.(); }) };
}

/** A node:http server answering with `handler`; `connections()` counts the sockets it accepted. */
async function httpServer(handler) {
  let connections = 0;
  const server = createHttpServer(handler);
  server.on('connection', () => connections++);
  return { ...(await serve(server)), connections: () => connections };
}

/** A raw TCP server: `onRequest(socket, n)` for each request head seen, n counting from 0. */
async function rawServer(onRequest) {
  const state = { connections: 0, requests: 0, sockets: new Set() };
  const server = createNetServer((s) => {
    state.connections++;
    state.sockets.add(s);
    s.on('close', () => state.sockets.delete(s));
    s.on('error', () => {});
    let buf = '';
    s.on('data', (d) => {
      buf += d;
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const len = Number(/content-length: *(\d+)/i.exec(buf.slice(0, end))?.[1] ?? 0);
        if (buf.length < end + 4 + len) return;
        buf = buf.slice(end + 4 + len);
        onRequest(s, state.requests++);
      }
    });
  });
  const served = await serve(server);
  return { ...served, state, close: () => { for (const s of state.sockets) s.destroy(); return served.close(); } };
}

const ONE_ROW = JSON.stringify({ command: 'SELECT', rowCount: 1, rows: [['7']], fields: [{ name: 'x', dataTypeID: 23 }], rowAsArray: true });
const answer = (body, extra = '') => `HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${extra}\r\n${body}`;

test('sequential queries reuse one socket, and the proxy sees one', async () => {
  const sql = http(url, { endpoint });
  const before = socketsTo(endpoint);
  const requests = await metric('edgepg_proxy_sql_requests_total{outcome="ok"}');
  for (let i = 0; i < 50; i++) {
    const [r] = await sql.query('SELECT $1::int AS i', [i]);
    assert.equal(r.i, i);
  }
  assert.equal(socketsTo(endpoint) - before, 1, 'one socket for 50 sequential queries');
  assert.equal(await metric('edgepg_proxy_sql_requests_total{outcome="ok"}') - requests, 50);
  assert.equal(await metric('edgepg_proxy_sockets_open'), 1);
  // Another http() for the same endpoint shares the socket.
  await http(url, { endpoint }).query('SELECT 1');
  assert.equal(socketsTo(endpoint) - before, 1);
});

test('concurrent queries: all answered, on a few sockets', async () => {
  const sql = http(url, { endpoint });
  const before = socketsTo(endpoint);
  const rows = await Promise.all(Array.from({ length: 40 }, (_, i) => sql.query('SELECT $1::int AS i, pg_sleep(0.005)::text AS z', [i])));
  assert.deepEqual(rows.map((r) => r[0].i), Array.from({ length: 40 }, (_, i) => i));
  const opened = socketsTo(endpoint) - before;
  assert.ok(opened >= 1 && opened <= 6, `${opened} sockets opened`);
  assert.ok(await metric('edgepg_proxy_sockets_open') <= 6);
  // Errors on some do not disturb the others.
  const mixed = await Promise.allSettled(Array.from({ length: 12 }, (_, i) => sql.query(i % 3 ? 'SELECT $1::int AS i' : 'SELEC $1', [i])));
  mixed.forEach((r, i) => {
    if (i % 3) assert.equal(r.value[0].i, i);
    else assert.ok(r.reason instanceof ProgrammingError, String(r.reason));
  });
});

test('a kept-alive socket the proxy closed when idle: the next query opens a new one', async () => {
  const sql = http(url, { endpoint: env.EDGEPG_SQL_SHORT_ENDPOINT });
  assert.deepEqual(await sql`SELECT ${1}::int AS n`, [{ n: 1 }]);
  const before = socketsTo(env.EDGEPG_SQL_SHORT_ENDPOINT);
  await sleep(800); // past the proxy's --keepalive-timeout 300ms
  assert.deepEqual(await sql`SELECT ${2}::int AS n`, [{ n: 2 }]);
  assert.equal(socketsTo(env.EDGEPG_SQL_SHORT_ENDPOINT) - before, 1);
});

test('a reused socket closed under a request with nothing answered: sent again once, on a fresh socket', async () => {
  // Request 0 is answered and kept alive; request 1 meets a socket the
  // server closes without a byte (as one closed for idleness just as the
  // request left); request 2, on a new connection, is answered.
  const server = await rawServer((s, n) => (n === 1 ? s.destroy() : s.write(answer(ONE_ROW))));
  try {
    const sql = http(url, { endpoint: server.url });
    assert.deepEqual(await sql.query('SELECT 7'), [{ x: 7 }]);
    assert.deepEqual(await sql.query('SELECT 7'), [{ x: 7 }]);
    assert.deepEqual([server.state.connections, server.state.requests], [2, 3]);
  } finally {
    await server.close();
  }
});

test('no resend when the socket was fresh, or when part of the answer came', async () => {
  const fresh = await rawServer((s) => s.destroy());
  try {
    await assert.rejects(http(url, { endpoint: fresh.url }).query('SELECT 7'),
      (e) => e instanceof DatabaseNotAvailableError && /closed without an answer/.test(e.message));
    assert.equal(fresh.state.requests, 1);
  } finally {
    await fresh.close();
  }
  const partial = await rawServer((s, n) => (n === 0 ? s.write(answer(ONE_ROW)) : s.end('HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n{"com')));
  try {
    const sql = http(url, { endpoint: partial.url });
    await sql.query('SELECT 7');
    await assert.rejects(sql.query('SELECT 7'), (e) => e instanceof DatabaseNotAvailableError && /before the answer was complete/.test(e.message));
    assert.equal(partial.state.requests, 2);
  } finally {
    await partial.close();
  }
});

test('a chunked answer (with a trailer), from node:http', async () => {
  const s = await httpServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'Content-Type': 'application/json', Trailer: 'X-Done' });
      // Split inside the JSON, in several writes: chunks of any size.
      for (let i = 0; i < ONE_ROW.length; i += 7) res.write(ONE_ROW.slice(i, i + 7));
      res.addTrailers({ 'X-Done': 'yes' });
      res.end();
    });
  });
  await threeQueries(s, 1, 'chunked answers keep the socket');
});

test('Connection: close from the server: the next request opens a new socket', async () => {
  const s = await httpServer((req, res) => {
    req.resume();
    res.writeHead(200, { 'Content-Type': 'application/json', Connection: 'close', 'Content-Length': Buffer.byteLength(ONE_ROW) });
    res.end(ONE_ROW);
  });
  await threeQueries(s, 3, 'a socket per answer');
});

/** Three queries to `s`, answered by ONE_ROW, on `sockets` sockets; closes `s`. */
async function threeQueries(s, sockets, why) {
  try {
    const sql = http(url, { endpoint: s.url });
    for (let i = 0; i < 3; i++) assert.deepEqual(await sql.query('SELECT 7'), [{ x: 7 }]);
    assert.equal(s.connections(), sockets, why);
  } finally {
    await s.close();
  }
}

test('a body that ends with the connection (no length, no chunks)', async () => {
  const server = await rawServer((s) => s.end(`HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n${ONE_ROW}`));
  try {
    assert.deepEqual(await http(url, { endpoint: server.url }).query('SELECT 7'), [{ x: 7 }]);
  } finally {
    await server.close();
  }
});

test('a server that stalls: the timeout fails the request clearly, and a signal aborts it', async () => {
  const server = await rawServer(() => {});
  try {
    const t = performance.now();
    await assert.rejects(http(url, { endpoint: server.url, timeout: 200 }).query('SELECT 7'),
      (e) => e instanceof DatabaseNotAvailableError && /within 200 ms/.test(e.message));
    assert.ok(performance.now() - t < 3000);
    await assert.rejects(http(url, { endpoint: server.url, fetchOptions: { signal: AbortSignal.timeout(100) } }).query('SELECT 7'),
      (e) => e instanceof DatabaseNotAvailableError && /cannot reach/.test(e.message));
    // A stalled head that is half there times out as well.
    const half = await rawServer((s) => s.write('HTTP/1.1 200 OK\r\nContent-Le'));
    try {
      await assert.rejects(http(url, { endpoint: half.url, timeout: 200 }).query('SELECT 7'), /within 200 ms/);
    } finally {
      await half.close();
    }
  } finally {
    await server.close();
  }
  assert.throws(() => http(url, { endpoint, timeout: -1 }), /timeout must be a positive number/);
});

test('malformed or unsupported answers: clear errors, never a hang', async () => {
  const cases = [
    ['garbage\r\n\r\n', /malformed HTTP response.*status line/],
    ['HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n', /malformed HTTP response.*Content-Length/],
    ['HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}', /malformed HTTP response.*Content-Length/],
    ['HTTP/1.1 200 OK\r\nbad header\r\n\r\n', /malformed HTTP response.*header line/],
    ['HTTP/1.1 200 OK\nContent-Length: 2\n\n{}', /not ended by CRLF/],
    ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', /malformed HTTP response.*chunk size/],
    ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}XX', /no CRLF after a chunk/],
    ['HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n', /unsupported Transfer-Encoding/],
    ['HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 2\r\n\r\n{}', /unsupported Content-Encoding/],
    ['HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n', /unexpected informational answer HTTP 101/],
    ['HTTP/1.1 302 Found\r\nLocation: http://elsewhere/sql\r\nContent-Length: 0\r\n\r\n', /redirects \(HTTP 302 to http:\/\/elsewhere\/sql\)/],
    [`HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nnot js`, /invalid JSON/],
    [`HTTP/1.1 200 OK\r\nContent-Length: ${8 + 70 * 1024}\r\nX: ${'a'.repeat(70 * 1024)}`, /over 64 KiB/],
  ];
  for (const [reply, why] of cases) {
    const server = await rawServer((s) => s.write(reply));
    try {
      await assert.rejects(http(url, { endpoint: server.url, timeout: 5000 }).query('SELECT 7'), (e) => {
        assert.match(e.message, why, JSON.stringify(reply.slice(0, 60)));
        assert.ok(e instanceof DatabaseNotAvailableError || e.name === 'InterfaceError', e.name);
        return true;
      });
    } finally {
      await server.close();
    }
  }
  // 100 Continue before the answer is skipped.
  const cont = await rawServer((s) => s.write('HTTP/1.1 100 Continue\r\n\r\n' + answer(ONE_ROW)));
  try {
    assert.deepEqual(await http(url, { endpoint: cont.url }).query('SELECT 7'), [{ x: 7 }]);
  } finally {
    await cont.close();
  }
});

test('bad input: a connection string with a line break is not sent as a header', async () => {
  const server = await rawServer((s) => s.write(answer(ONE_ROW)));
  try {
    await assert.rejects(http(`${url}\r\nX-Injected: 1`, { endpoint: server.url }).query('SELECT 7'), /invalid value of header Neon-Connection-String/);
    await assert.rejects(http(url, { endpoint: 'ftp://127.0.0.1/sql' }).query('SELECT 7'), /unsupported protocol ftp:/);
    assert.equal(server.state.requests, 0);
  } finally {
    await server.close();
  }
});

test('a caller fetch, or a fetch-only option, goes through fetch', async () => {
  let calls = 0;
  const own = (input, init) => {
    calls++;
    return realFetch(input, init);
  };
  assert.deepEqual(await http(url, { endpoint, fetch: own }).query('SELECT 3 AS n'), [{ n: 3 }]);
  assert.equal(calls, 1);
  const global = globalThis.fetch;
  globalThis.fetch = own;
  try {
    assert.deepEqual(await http(url, { endpoint, fetchOptions: { redirect: 'error' } }).query('SELECT 4 AS n'), [{ n: 4 }]);
    assert.deepEqual(await http(url, { endpoint }).query('SELECT 5 AS n'), [{ n: 5 }]);
  } finally {
    globalThis.fetch = global;
  }
  assert.equal(calls, 2);
});

test('https: SNI and certificate verification as Node does them', async () => {
  const tls = env.EDGEPG_SQL_TLS_ENDPOINT;
  const sql = http(url, { endpoint: tls });
  for (let i = 0; i < 3; i++) assert.deepEqual(await sql`SELECT ${i}::int AS i`, [{ i }]);
  // The certificate names localhost, not 127.0.0.1.
  const byIp = tls.replace('//localhost:', '//127.0.0.1:');
  await assert.rejects(http(url, { endpoint: byIp }).query('SELECT 1'), (e) => e instanceof DatabaseNotAvailableError && /altnames|does not match/i.test(e.message));
  // Without its CA, the certificate is not trusted.
  const child = spawnSync(process.execPath, ['--input-type=module', '-e',
    `const { http } = await import(${JSON.stringify(env.EDGEPG_PKG)});
     await http(${JSON.stringify(url)}, { endpoint: ${JSON.stringify(tls)} }).query('SELECT 1').then(() => console.log('trusted'), (e) => console.log(e.name, e.message));`],
  { env: { ...env, NODE_EXTRA_CA_CERTS: '' }, encoding: 'utf8', timeout: 20_000 });
  assert.match(child.stdout, /DatabaseNotAvailableError .*certificate/i, child.stdout + child.stderr);
});

test('idle sockets do not keep the process alive', () => {
  const t = performance.now();
  const child = spawnSync(process.execPath, ['--input-type=module', '-e',
    `const { http } = await import(${JSON.stringify(env.EDGEPG_PKG)});
     console.log(JSON.stringify(await http(${JSON.stringify(url)}, { endpoint: ${JSON.stringify(endpoint)} }).query('SELECT 1 AS one')));`],
  { encoding: 'utf8', timeout: 20_000 });
  assert.equal(child.stdout.trim(), '[{"one":1}]', child.stderr);
  assert.equal(child.status, 0);
  assert.ok(performance.now() - t < 10_000, 'the process exited on its own');
});
