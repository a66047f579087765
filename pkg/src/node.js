// Entry point for Node (also Deno and Bun): the wasm module is read from
// disk next to this file, compiled and instantiated when first needed (a
// Pool, Client or Session; not http()); the default transport is nodeSocket(),
// and http() sends its requests with node-http.js rather than fetch.
import { readFileSync } from 'node:fs';
import { initSync } from '../wasm/edgepg.js';
import * as bindings from '../wasm/edgepg.js';
import { bind } from './api.js';
import { nodeSocket } from './node-socket.js';
import { interfaceError } from './errors.js';
import { http as fetchHttp } from './http.js';
import { nodeFetch, DEFAULT_TIMEOUT_MS } from './node-http.js';

bind(bindings, {
  init: () => initSync({ module: readFileSync(new URL('../wasm/edgepg_bg.wasm', import.meta.url)) }),
  defaultTransport: () => nodeSocket(),
  codegen: true,
});

export * from './exports.js';
export { default } from './exports.js';
export { nodeSocket };

/**
 * http() of http.js on the keep-alive client of node-http.js (a fraction of
 * fetch's cost per request), unless the caller brings their own `fetch`.
 * `options.timeout`: the most milliseconds a request may go without progress.
 * (This local export wins over the one of exports.js.)
 */
export function http(connectionString, options = {}) {
  if (options?.fetch) return fetchHttp(connectionString, options);
  const timeout = options?.timeout ?? DEFAULT_TIMEOUT_MS;
  if (typeof timeout !== 'number' || !(timeout > 0) || timeout > 2 ** 31 - 1) {
    throw interfaceError('http(): timeout must be a positive number of milliseconds');
  }
  return fetchHttp(connectionString, { ...options, fetch: nodeFetch(timeout) });
}

/** Available on Cloudflare Workers only (the `workerd` export condition). */
export function cloudflareSocket() {
  throw interfaceError('cloudflareSocket() needs cloudflare:sockets (Cloudflare Workers, workerd)');
}
