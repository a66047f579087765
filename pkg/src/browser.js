// Entry point for browsers (and the `default` condition): the wasm module is
// fetched next to this file. There is no default transport: pass
// webSocket({ proxy }) or a socket factory.
import init from '../wasm/edgepg.js';
import * as bindings from '../wasm/edgepg.js';
import { bind } from './api.js';
import { interfaceError } from './errors.js';

await init({ module_or_path: new URL('../wasm/edgepg_bg.wasm', import.meta.url) });
bind(bindings);

export * from './exports.js';
export { default } from './exports.js';

/** Available on Node, Deno and Bun only (the `node` export condition). */
export function nodeSocket() {
  throw interfaceError('nodeSocket() needs node:net (Node, Deno, Bun)');
}

/** Available on Cloudflare Workers only (the `workerd` export condition). */
export function cloudflareSocket() {
  throw interfaceError('cloudflareSocket() needs cloudflare:sockets (Cloudflare Workers, workerd)');
}
