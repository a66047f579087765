// cloudflareSocket(): the `cloudflare:sockets` TCP API (Workers, workerd).
// TLS goes through the socket's own `startTls()`, which verifies the server
// against the public roots.

import { connect } from 'cloudflare:sockets';

function wrap(socket) {
  return {
    readable: socket.readable,
    writable: socket.writable,
    opened: socket.opened,
    close() {
      return socket.close();
    },
    startTls(request = {}) {
      const options = request.hostname ? { expectedServerHostname: request.hostname } : undefined;
      return wrap(socket.startTls(options));
    },
  };
}

/** A socket transport over `cloudflare:sockets`. */
export function cloudflareSocket() {
  return {
    connect(host, port) {
      return wrap(connect({ hostname: host, port }, { secureTransport: 'starttls', allowHalfOpen: false }));
    },
  };
}
