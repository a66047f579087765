// The wasm module's exports never return exactly one externref: Node 20's V8
// (11.3) aborts the process ("unreachable code" in
// Deoptimizer::DoComputeBuiltinContinuation) when a JS function that inlined
// a call to such an export is lazily deoptimized during the call (a GC that
// changes an allocation site's pretenuring is enough). Exports returning
// numbers, nothing, or several values (wasm-bindgen's `Result`) are not
// inlined that way, so transport-wasm returns `Result` from every export that
// returns a JavaScript value.
import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const wasmPath = require.resolve('edgepg/package.json').replace(/package\.json$/, 'wasm/edgepg_bg.wasm');

/** `{ name: [result types] }` of the function exports of a wasm binary. */
function exportResults(bytes) {
  let pos = 8;
  const u8 = () => bytes[pos++];
  const leb = () => {
    let result = 0;
    let shift = 0;
    for (;;) {
      const b = u8();
      result += (b & 0x7f) * 2 ** shift;
      shift += 7;
      if (b < 0x80) return result;
    }
  };
  const name = () => {
    const n = leb();
    const s = new TextDecoder().decode(bytes.subarray(pos, pos + n));
    pos += n;
    return s;
  };
  const types = [];
  const funcs = [];
  const out = {};
  while (pos < bytes.length) {
    const id = u8();
    const size = leb();
    const end = pos + size;
    if (id === 1) {
      for (let i = leb(); i > 0; i--) {
        assert.equal(u8(), 0x60, 'only function types are expected');
        const params = leb();
        pos += params; // value types are one byte each in MVP + reference types
        const results = [];
        for (let r = leb(); r > 0; r--) results.push(u8());
        types.push(results);
      }
    } else if (id === 2) {
      for (let i = leb(); i > 0; i--) {
        name();
        name();
        const kind = u8();
        if (kind === 0) funcs.push(leb());
        else if (kind === 1) { u8(); const f = u8(); leb(); if (f & 1) leb(); }
        else if (kind === 2) { const f = u8(); leb(); if (f & 1) leb(); }
        else if (kind === 3) { u8(); u8(); }
        else throw new Error(`import kind ${kind}`);
      }
    } else if (id === 3) {
      for (let i = leb(); i > 0; i--) funcs.push(leb());
    } else if (id === 7) {
      for (let i = leb(); i > 0; i--) {
        const n = name();
        const kind = u8();
        const index = leb();
        if (kind === 0) out[n] = types[funcs[index]];
      }
    }
    pos = end;
  }
  return out;
}

test('no wasm export returns exactly one externref', () => {
  const results = exportResults(new Uint8Array(readFileSync(wasmPath)));
  assert.ok(Object.keys(results).length > 20, 'the exports were found');
  assert.ok(results.wasmpool_query, 'wasmpool_query is exported');
  const EXTERNREF = 0x6f;
  const bad = Object.entries(results).filter(([, r]) => r.length === 1 && r[0] === EXTERNREF).map(([n]) => n);
  assert.deepEqual(bad, [], 'exports returning one externref (wrap their result in Result<_, JsValue>)');
});
