// nodeSocket(): node:net / node:tls as Web-stream sockets (SPEC §9), for
// Node, Deno and Bun. TLS goes through node:tls on the same TCP socket
// (`startTls`), after PostgreSQL's SSLRequest.

import net from 'node:net';
import tls from 'node:tls';
import fs from 'node:fs';

function webStreams(sock, connectedEvent, tlsOptionsFor) {
  const listeners = [];
  const on = (event, fn) => {
    sock.on(event, fn);
    listeners.push([event, fn]);
  };
  let opened;
  const openedPromise = new Promise((resolve, reject) => {
    opened = { resolve, reject };
  });
  // A rejection nobody awaits must not be reported as unhandled.
  openedPromise.catch(() => {});
  let controller;
  let done = false;
  const finish = (err) => {
    if (done) return;
    done = true;
    try {
      if (err) controller.error(err);
      else controller.close();
    } catch {
      // already closed
    }
  };
  const readable = new ReadableStream({
    start(c) {
      controller = c;
    },
    cancel() {
      sock.destroy();
    },
  });
  on(connectedEvent, () => opened.resolve());
  on('data', (chunk) => {
    if (!done) controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
  });
  on('end', () => finish());
  on('error', (err) => {
    opened.reject(err);
    finish(err);
  });
  on('close', () => {
    opened.reject(new Error('socket closed'));
    finish();
  });
  const writable = new WritableStream({
    write(chunk) {
      return new Promise((resolve, reject) => {
        sock.write(chunk, (err) => (err ? reject(err) : resolve()));
      });
    },
    close() {
      return new Promise((resolve) => sock.end(resolve));
    },
    abort() {
      sock.destroy();
    },
  }, { highWaterMark: 64 }); // writes queue up; node:net buffers them anyway
  return {
    readable,
    writable,
    opened: openedPromise,
    close() {
      sock.destroy();
    },
    startTls(request = {}) {
      // Hand the TCP socket over to TLS: our listeners go, a silent error
      // listener stays (node:tls reports errors on the TLS socket).
      for (const [event, fn] of listeners) sock.off(event, fn);
      sock.on('error', () => {});
      const secure = tls.connect({ ...tlsOptionsFor(request), socket: sock });
      return webStreams(secure, 'secureConnect', null);
    },
  };
}

function tlsOptions(options, request) {
  const host = request.hostname ?? '';
  const mode = request.sslmode ?? 'require';
  const o = { ...(options.tls ?? {}) };
  if (o.ca === undefined && request.sslrootcert && request.sslrootcert !== 'system') {
    o.ca = fs.readFileSync(request.sslrootcert);
  }
  // `host` is what the certificate is checked against (node:tls defaults to 'localhost').
  if (host) o.host = host;
  if (host && !net.isIP(host) && o.servername === undefined) o.servername = host;
  if (mode === 'require' && options.tls?.rejectUnauthorized === undefined) {
    // libpq's `require`: encrypted, not verified.
    o.rejectUnauthorized = false;
  } else if (mode === 'verify-ca') {
    o.rejectUnauthorized = true;
    o.checkServerIdentity = () => undefined;
  } else {
    o.rejectUnauthorized = o.rejectUnauthorized ?? true;
  }
  return o;
}

/**
 * A socket transport over node:net, with TLS through node:tls.
 * `options.tls` is passed to `tls.connect` (e.g. `{ ca }`); `sslmode` decides
 * verification (`require` encrypts only, `verify-ca`, `verify-full`).
 */
export function nodeSocket(options = {}) {
  const keepAlive = options.keepAlive ?? 60_000;
  return {
    connect(host, port) {
      const sock = net.connect({ host, port });
      sock.setNoDelay(true);
      if (keepAlive) sock.setKeepAlive(true, keepAlive);
      return webStreams(sock, 'connect', (request) => tlsOptions(options, request));
    },
  };
}
