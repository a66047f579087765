// The driver under test for the node-postgres compatibility tests: edgepg
// (default) or node-postgres itself (EDGEPG_COMPAT_DRIVER=pg), so that every
// test here is first proved against `pg` and then run, unchanged, on edgepg.
//
// EDGEPG_COMPAT_TRANSPORT=tunnel runs edgepg through edgepg-proxy (`ws`).
import WebSocket from 'ws';

export const env = process.env;
export const url = env.EDGEPG_TEST_URL;
if (!url) throw new Error('EDGEPG_TEST_URL is not set (run through `cargo test -p edgepg-tests --test wasm_js`)');

export const which = env.EDGEPG_COMPAT_DRIVER ?? 'edgepg';
export const isPg = which === 'pg';

const mod = isPg ? (await import('pg')).default : await import('edgepg');
const CursorMod = isPg ? (await import('pg-cursor')).default : mod.Cursor;

export const { Pool, Client, types, escapeIdentifier, escapeLiteral, DatabaseError } = mod;
export const Cursor = CursorMod;

/** Extra pool/client options for the chosen transport (nothing for node:net or pg). */
export function transportOptions() {
  if (!isPg && env.EDGEPG_COMPAT_TRANSPORT === 'tunnel') {
    if (!env.EDGEPG_TEST_PROXY) throw new Error('EDGEPG_TEST_PROXY is not set');
    return { transport: mod.webSocket({ proxy: env.EDGEPG_TEST_PROXY, WebSocket }) };
  }
  return {};
}

/** Options for `new Pool(...)` / `new Client(...)` against the test server. */
export function config(extra = {}) {
  return { connectionString: url, ...transportOptions(), ...extra };
}

/**
 * Every connection of `pool` ends up idle, none left checked out. edgepg may
 * still be opening connections for queries that pipelining already served
 * (node-postgres never is), so this waits up to 2 s for those to finish.
 */
export async function assertAllIdle(pool) {
  for (let i = 0; i < 100 && pool.idleCount !== pool.totalCount; i++) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  if (pool.idleCount !== pool.totalCount) {
    throw new Error(`idle ${pool.idleCount} of ${pool.totalCount} connections`);
  }
}
