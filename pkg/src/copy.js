// COPY as Web streams: `copyFrom(sql)` → WritableStream<Uint8Array | string>,
// `copyTo(sql)` → ReadableStream<Uint8Array>, one chunk at a time (the
// stream waits for the connection: back-pressure). A COPY FROM that fails
// stores nothing; the error names the failing line (`where`, also in the message).

import { toError } from './errors.js';

function copyError(e) {
  const err = toError(e);
  if (typeof err?.where === 'string' && err.message !== undefined && !err.message.includes(err.where)) {
    err.message = `${err.message} (${err.where})`;
  }
  return err;
}

/**
 * The wasm copy `start()` resolves to, awaited by each stream callback: some
 * runtimes (workerd) call `pull`/`write` before an async `start` settles.
 */
function opening(start) {
  let p = null;
  return () => {
    if (p === null) p = (async () => start())().catch((e) => {
      throw copyError(e);
    });
    return p;
  };
}

/** A WritableStream feeding `COPY … FROM STDIN` (`start()` resolves to the wasm copy). */
export function copyFromStream(start) {
  const open = opening(start);
  const encoder = new TextEncoder();
  const stream = new WritableStream({
    async start() {
      await open();
    },
    async write(chunk) {
      const copy = await open();
      const bytes = typeof chunk === 'string' ? encoder.encode(chunk) : chunk;
      if (!(bytes instanceof Uint8Array)) {
        throw new TypeError('copyFrom: write Uint8Array or string chunks');
      }
      try {
        await copy.send(bytes);
      } catch (e) {
        throw copyError(e);
      }
    },
    async close() {
      const copy = await open();
      try {
        stream.rowCount = await copy.finish();
      } catch (e) {
        throw copyError(e);
      }
    },
    async abort() {
      const copy = await open().catch(() => null); // a COPY that never started has nothing to abort
      await copy?.abort();
    },
  });
  /** Rows stored, once the stream is closed. */
  stream.rowCount = null;
  return stream;
}

/** A ReadableStream of `COPY … TO STDOUT` (`start()` resolves to the wasm copy). */
export function copyToStream(start) {
  const open = opening(start);
  return new ReadableStream({
    async start() {
      await open();
    },
    async pull(controller) {
      const out = await open();
      let chunk;
      try {
        chunk = await out.next();
      } catch (e) {
        throw copyError(e);
      }
      if (chunk === undefined) controller.close();
      else controller.enqueue(chunk);
    },
    async cancel() {
      const out = await open().catch(() => null);
      await out?.close();
    },
  });
}
