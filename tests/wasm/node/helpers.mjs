// Shared settings of the Node tests (set by tests/tests/wasm_js.rs).
import WebSocket from 'ws';
import { webSocket, nodeSocket } from 'edgepg';

export const env = process.env;
export const url = env.EDGEPG_TEST_URL;
export const proxy = env.EDGEPG_TEST_PROXY;
if (!url || !proxy) throw new Error('run through `cargo test -p edgepg-tests --test wasm_js`');

/** The tunnel transport with the `ws` package (Node 20 has no global WebSocket). */
export const tunnel = () => webSocket({ proxy, WebSocket });
/** The node:net transport. */
export const direct = (options) => nodeSocket(options);
