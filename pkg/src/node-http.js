// The HTTP client of http() in Node (also Deno and Bun; node.js wires it):
// a small keep-alive HTTP/1.1 client on node:net and node:tls. Node's fetch
// (undici) spends about half a millisecond per request of its own, several
// times what a query on an open tunnel costs (BENCHMARKS.md, W8); this
// writes one request per socket at a time and parses the answer in place.
// It has fetch's shape (a response with ok, status, text(), json()), so that
// http.js runs on it unchanged, and it speaks only what `POST /sql` needs:
// Content-Length or chunked responses, no redirects, no content encodings,
// no upgrades. Anything else is an error, never a hang. A rejection carries
// its reason in `message`; http.js turns it into DatabaseNotAvailableError,
// as it does fetch's failures.
import { connect as netConnect, isIP } from 'node:net';
import { connect as tlsConnect } from 'node:tls';

/** Sockets per origin; more requests at once wait for one. */
const MAX_SOCKETS = 6;
/** An idle socket closes after this long (edgepg-proxy's own default is 60 s). */
const IDLE_MS = 30_000;
/** No progress on a request for this long fails it, as fetch's 300 s headers/body timeouts. */
export const DEFAULT_TIMEOUT_MS = 300_000;
const MAX_HEAD = 64 * 1024;
const MAX_LINE = 4096;
/** The init keys this client honours; a request with any other goes to the global fetch. */
const KNOWN = new Set(['method', 'headers', 'body', 'signal']);
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
// What fetch refuses in a header value (not a ByteString, or a line break):
// in a request written by hand it would be header injection.
const BAD_VALUE = /[\r\n\0]|[^\x00-\xff]/;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/** Origin ("http://host:port") → its sockets; shared by every http() of the process. */
const origins = new Map();
/** Endpoint URL → { origin, path, host }, parsed once. */
const targets = new Map();

function fail(message, cause) {
  return cause === undefined ? new Error(message) : new Error(message, { cause });
}

/**
 * A fetch for http(): `timeout` is the most milliseconds a request may go
 * without progress (connecting, waiting for the answer, reading it).
 */
export function nodeFetch(timeout = DEFAULT_TIMEOUT_MS) {
  return (input, init = {}) => {
    for (const k in init) {
      // Something only fetch knows (a dispatcher, credentials, …): let it
      // do the request rather than drop what the caller asked for.
      if (!KNOWN.has(k) && init[k] !== undefined) return globalThis.fetch(input, init);
    }
    return new Promise((resolve, reject) => request(String(input), init, timeout, resolve, reject));
  };
}

function targetOf(url) {
  let t = targets.get(url);
  if (t !== undefined) return t;
  const u = new URL(url);
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw fail(`unsupported protocol ${u.protocol}`);
  if (u.username || u.password) throw fail('the endpoint URL must not include credentials');
  const tls = u.protocol === 'https:';
  const port = Number(u.port) || (tls ? 443 : 80);
  const hostname = u.hostname.replace(/^\[(.*)\]$/, '$1');
  t = { origin: `${u.protocol}//${hostname}:${port}`, tls, hostname, port, path: u.pathname + u.search, host: u.host };
  if (targets.size > 64) targets.clear();
  targets.set(url, t);
  return t;
}

function originOf(t) {
  let o = origins.get(t.origin);
  if (o === undefined) {
    o = { t, idle: [], open: 0, queue: [] };
    origins.set(t.origin, o);
  }
  return o;
}

function request(url, init, timeout, resolve, reject) {
  let t;
  let head;
  let body;
  try {
    t = targetOf(url);
    const method = init.method ?? 'GET';
    if (!TOKEN.test(method)) throw fail(`invalid method ${method}`);
    body = init.body ?? '';
    if (typeof body !== 'string' && !(body instanceof Uint8Array)) throw fail('the body must be a string or a Uint8Array');
    head = `${method} ${t.path} HTTP/1.1\r\nHost: ${t.host}\r\n`;
    for (const [k, v] of Object.entries(init.headers ?? {})) {
      const value = String(v);
      if (!TOKEN.test(k)) throw fail(`invalid header name ${JSON.stringify(k)}`);
      if (BAD_VALUE.test(value)) throw fail(`invalid value of header ${k} (a line break or a character beyond U+00FF)`);
      const lower = k.toLowerCase();
      // Framing is this client's: a caller's would desynchronize the socket.
      if (lower === 'content-length' || lower === 'transfer-encoding' || lower === 'connection' || lower === 'host') continue;
      head += `${k}: ${value}\r\n`;
    }
    head += `Content-Length: ${typeof body === 'string' ? Buffer.byteLength(body) : body.length}\r\n\r\n`;
  } catch (e) {
    reject(e);
    return;
  }
  const job = { head, body, timeout, resolve, reject, signal: init.signal, onAbort: null, conn: null, origin: originOf(t), retried: false, done: false };
  if (job.signal) {
    if (job.signal.aborted) {
      reject(job.signal.reason);
      return;
    }
    job.onAbort = () => abort(job);
    job.signal.addEventListener('abort', job.onAbort, { once: true });
  }
  dispatch(job.origin, job);
}

function dispatch(o, job) {
  let conn;
  // The most recently used first: the least likely to have been closed by the server.
  while ((conn = o.idle.pop()) !== undefined) {
    if (!conn.dropped) return start(conn, job);
  }
  if (o.open < MAX_SOCKETS) return start(open(o), job);
  o.queue.push(job);
}

/** A queued request gets a socket that is now free or may now be opened. */
function pump(o) {
  while (o.queue.length > 0 && (o.idle.length > 0 || o.open < MAX_SOCKETS)) dispatch(o, o.queue.shift());
}

function open(o) {
  const { t } = o;
  const socket = t.tls
    ? tlsConnect({ host: t.hostname, port: t.port, servername: isIP(t.hostname) ? undefined : t.hostname, ALPNProtocols: ['http/1.1'] })
    : netConnect({ host: t.hostname, port: t.port });
  socket.setNoDelay(true);
  const conn = { socket, o, uses: 0, job: null, dropped: false, error: null, buf: null };
  o.open++;
  socket.on('data', (d) => {
    if (conn.job) onData(conn, d);
    // Bytes nobody asked for: the socket no longer frames responses.
    else destroy(conn);
  });
  socket.on('timeout', () => {
    const job = conn.job;
    if (job) finish(job, fail(`no answer from ${t.origin} within ${job.timeout} ms`), false);
    else destroy(conn);
  });
  socket.on('error', (e) => {
    conn.error = e;
  });
  socket.on('close', () => {
    const job = conn.job;
    drop(conn);
    if (job) onClose(conn, job);
    pump(o);
  });
  return conn;
}

function start(conn, job) {
  job.conn = conn;
  job.reused = conn.uses > 0;
  job.got = false;
  job.state = STATE_HEAD;
  job.parts = [];
  conn.uses++;
  conn.job = job;
  conn.buf = null;
  const s = conn.socket;
  s.ref();
  s.setTimeout(job.timeout);
  s.cork();
  s.write(job.head, 'latin1');
  if (job.body.length > 0) s.write(job.body, typeof job.body === 'string' ? 'utf8' : undefined);
  s.uncork();
}

/** Forgets a socket (idempotent): it no longer counts against MAX_SOCKETS. */
function drop(conn) {
  if (conn.dropped) return;
  conn.dropped = true;
  conn.o.open--;
  const i = conn.o.idle.indexOf(conn);
  if (i >= 0) conn.o.idle.splice(i, 1);
}

function destroy(conn) {
  drop(conn);
  conn.job = null;
  conn.socket.destroy();
  pump(conn.o);
}

/** Ends a request: `err` fails it, else `res` answers it; `keep` returns the socket to the pool. */
function finish(job, err, keep, res) {
  if (job.done) return;
  job.done = true;
  if (job.onAbort) job.signal.removeEventListener('abort', job.onAbort);
  const conn = job.conn;
  if (conn && conn.job === job) {
    conn.job = null;
    if (keep && !conn.dropped) release(conn);
    else destroy(conn);
  }
  if (err) job.reject(err);
  else job.resolve(res);
}

function release(conn) {
  const { o, socket } = conn;
  if (o.queue.length > 0) return start(conn, o.queue.shift());
  // An idle socket must not keep the process alive, nor linger forever.
  socket.setTimeout(IDLE_MS);
  socket.unref();
  o.idle.push(conn);
}

function abort(job) {
  if (job.conn === null) {
    const q = job.origin.queue;
    const i = q.indexOf(job);
    if (i >= 0) q.splice(i, 1);
  }
  finish(job, job.signal.reason ?? fail('aborted'), false);
}

function onClose(conn, job) {
  if (job.done) return;
  // A body framed by the end of the connection ends cleanly, not by a reset.
  if (job.state === STATE_UNTIL_CLOSE && !conn.error) return complete(job, false);
  // A kept-alive socket that the server closed (idle too long, or draining)
  // while this request was on its way: nothing came back, and edgepg-proxy
  // closes a keep-alive connection only between requests, never with one in
  // progress, so this POST /sql never reached it and is safe to send again,
  // once, on a fresh socket. (Only a server dying in the middle of a request
  // looks the same.) A fresh socket that fails, or an answer cut short, is
  // not retried: that request may have run.
  if (!job.got && job.reused && !job.retried) {
    job.retried = true;
    job.conn = null;
    return start(open(job.origin), job);
  }
  const why = conn.error ? `: ${conn.error.message}` : '';
  const what = job.got ? 'the connection closed before the answer was complete' : 'the connection closed without an answer';
  finish(job, fail(`${what}${why}`, conn.error ?? undefined), false);
}

const STATE_HEAD = 0;
const STATE_LENGTH = 1;
const STATE_CHUNK_SIZE = 2;
const STATE_CHUNK_DATA = 3;
const STATE_CHUNK_END = 4;
const STATE_TRAILERS = 5;
const STATE_UNTIL_CLOSE = 6;

function malformed(job, why) {
  finish(job, fail(`malformed HTTP response from the SQL endpoint (${why})`), false);
  return false;
}

function onData(conn, chunk) {
  const job = conn.job;
  job.got = true;
  let buf = conn.buf === null ? chunk : Buffer.concat([conn.buf, chunk]);
  while (!job.done) {
    if (job.state === STATE_HEAD) {
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) {
        if (buf.length > MAX_HEAD) return malformed(job, 'a response head over 64 KiB');
        if (buf.indexOf('\n\n') >= 0) return malformed(job, 'head lines not ended by CRLF');
        break;
      }
      const head = buf.toString('latin1', 0, end);
      buf = buf.subarray(end + 4);
      if (!parseHead(job, head)) return;
    } else if (job.state === STATE_LENGTH || job.state === STATE_CHUNK_DATA) {
      if (job.left > 0) {
        if (buf.length === 0) break;
        const n = Math.min(job.left, buf.length);
        job.parts.push(buf.subarray(0, n));
        buf = buf.subarray(n);
        job.left -= n;
        if (job.left > 0) break;
      }
      if (job.state === STATE_LENGTH) {
        // More than Content-Length: the socket no longer frames responses.
        return complete(job, job.keepAlive && buf.length === 0);
      }
      job.state = STATE_CHUNK_END;
    } else if (job.state === STATE_CHUNK_END) {
      if (buf.length < 2) break;
      if (buf[0] !== 13 || buf[1] !== 10) return malformed(job, 'no CRLF after a chunk');
      buf = buf.subarray(2);
      job.state = STATE_CHUNK_SIZE;
    } else if (job.state === STATE_CHUNK_SIZE || job.state === STATE_TRAILERS) {
      const eol = buf.indexOf('\r\n');
      if (eol < 0) {
        if (buf.length > MAX_LINE) return malformed(job, 'a chunk line over 4 KiB');
        break;
      }
      const line = buf.toString('latin1', 0, eol);
      buf = buf.subarray(eol + 2);
      if (job.state === STATE_TRAILERS) {
        if (line === '') return complete(job, job.keepAlive && buf.length === 0);
        continue;
      }
      const size = line.split(';', 1)[0].trim();
      if (!/^[0-9a-fA-F]{1,8}$/.test(size)) return malformed(job, `chunk size ${JSON.stringify(line.slice(0, 40))}`);
      job.left = parseInt(size, 16);
      job.state = job.left === 0 ? STATE_TRAILERS : STATE_CHUNK_DATA;
    } else {
      // STATE_UNTIL_CLOSE: the body ends with the connection.
      if (buf.length > 0) job.parts.push(buf);
      buf = buf.subarray(buf.length);
      break;
    }
  }
  conn.buf = buf.length > 0 ? buf : null;
}

/** Reads a response head into `job`; false when it failed the request. */
function parseHead(job, head) {
  const lines = head.split('\r\n');
  const m = /^HTTP\/1\.([01]) (\d{3})(?: (.*))?$/.exec(lines[0]);
  if (m === null) return malformed(job, `status line ${JSON.stringify(lines[0].slice(0, 80))}`);
  const status = Number(m[2]);
  const headers = new Map();
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i];
    const colon = line.indexOf(':');
    const name = colon > 0 ? line.slice(0, colon) : '';
    if (!TOKEN.test(name)) return malformed(job, `header line ${JSON.stringify(line.slice(0, 80))}`);
    const key = name.toLowerCase();
    const value = line.slice(colon + 1).trim();
    const before = headers.get(key);
    headers.set(key, before === undefined ? value : `${before}, ${value}`);
  }
  if (status === 100) return true; // Continue: the real answer follows.
  if (status < 200) return fail1(job, `an unexpected informational answer HTTP ${status}`);
  if (REDIRECTS.has(status)) {
    return fail1(job, `the SQL endpoint redirects (HTTP ${status} to ${headers.get('location') ?? '?'}); http() does not follow redirects: use the final URL as endpoint`);
  }
  const encoding = headers.get('content-encoding');
  if (encoding !== undefined && encoding.toLowerCase() !== 'identity') {
    return fail1(job, `an unsupported Content-Encoding ${JSON.stringify(encoding)}`);
  }
  const connection = (headers.get('connection') ?? '').toLowerCase();
  job.keepAlive = m[1] === '1' ? !/(^|,)\s*close\s*(,|$)/.test(connection) : /(^|,)\s*keep-alive\s*(,|$)/.test(connection);
  job.status = status;
  job.statusText = m[3] ?? '';
  job.headers = headers;
  const te = headers.get('transfer-encoding');
  const cl = headers.get('content-length');
  if (te !== undefined) {
    if (te.toLowerCase() !== 'chunked') return fail1(job, `an unsupported Transfer-Encoding ${JSON.stringify(te)}`);
    // Both framings: chunked wins (RFC 9112 §6.3), and the socket is not trusted again.
    if (cl !== undefined) job.keepAlive = false;
    job.state = STATE_CHUNK_SIZE;
  } else if (status === 204 || status === 304) {
    job.left = 0;
    job.state = STATE_LENGTH;
  } else if (cl !== undefined) {
    const values = cl.split(',').map((v) => v.trim());
    if (!values.every((v) => /^\d{1,15}$/.test(v) && v === values[0])) return malformed(job, `Content-Length ${JSON.stringify(cl)}`);
    job.left = Number(values[0]);
    job.state = STATE_LENGTH;
  } else {
    job.keepAlive = false;
    job.state = STATE_UNTIL_CLOSE;
  }
  return true;
}

/** Fails a request for an answer this client does not take (not malformed, just unsupported). */
function fail1(job, why) {
  finish(job, fail(why), false);
  return false;
}

function complete(job, keep) {
  const body = job.parts.length === 1 ? job.parts[0] : Buffer.concat(job.parts);
  job.parts = null;
  finish(job, null, keep, new NodeResponse(job.status, job.statusText, job.headers, body));
}

/** What http.js reads of a fetch Response. */
class NodeResponse {
  #body;

  constructor(status, statusText, headers, body) {
    this.status = status;
    this.statusText = statusText;
    this.ok = status >= 200 && status < 300;
    this.headers = { get: (name) => headers.get(String(name).toLowerCase()) ?? null, has: (name) => headers.has(String(name).toLowerCase()) };
    this.#body = body;
  }

  text() {
    return Promise.resolve(this.#body.toString('utf8'));
  }

  async json() {
    return JSON.parse(this.#body.toString('utf8'));
  }
}
