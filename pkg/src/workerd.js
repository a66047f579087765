// Entry point for Cloudflare Workers / workerd: the wasm module is imported
// as a module that the runtime compiles once per isolate, instantiated when
// first needed (not by http()); the default transport is cloudflareSocket().
import wasmModule from '../wasm/edgepg_bg.wasm';
import { initSync } from '../wasm/edgepg.js';
import * as bindings from '../wasm/edgepg.js';
import { bind } from './api.js';
import { cloudflareSocket } from './cloudflare-socket.js';
import { interfaceError } from './errors.js';

bind(bindings, { init: () => initSync({ module: wasmModule }), defaultTransport: () => cloudflareSocket() });

export * from './exports.js';
export { default } from './exports.js';
export { cloudflareSocket };

/** Available on Node, Deno and Bun only (the `node` export condition). */
export function nodeSocket() {
  throw interfaceError('nodeSocket() needs node:net (Node, Deno, Bun)');
}
