// Entry point for Node (also Deno and Bun): the wasm module is read from
// disk next to this file, compiled and instantiated when first needed (a
// Pool, Client or Session; not http()); the default transport is nodeSocket().
import { readFileSync } from 'node:fs';
import { initSync } from '../wasm/edgepg.js';
import * as bindings from '../wasm/edgepg.js';
import { bind } from './api.js';
import { nodeSocket } from './node-socket.js';
import { interfaceError } from './errors.js';

bind(bindings, {
  init: () => initSync({ module: readFileSync(new URL('../wasm/edgepg_bg.wasm', import.meta.url)) }),
  defaultTransport: () => nodeSocket(),
  codegen: true,
});

export * from './exports.js';
export { default } from './exports.js';
export { nodeSocket };

/** Available on Cloudflare Workers only (the `workerd` export condition). */
export function cloudflareSocket() {
  throw interfaceError('cloudflareSocket() needs cloudflare:sockets (Cloudflare Workers, workerd)');
}
