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

/** A WritableStream feeding `COPY … FROM STDIN` (`start()` resolves to the wasm copy). */
export function copyFromStream(start) {
  let copy = null;
  const encoder = new TextEncoder();
  const stream = new WritableStream({
    async start() {
      try {
        copy = await start();
      } catch (e) {
        throw copyError(e);
      }
    },
    async write(chunk) {
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
      try {
        stream.rowCount = await copy.finish();
      } catch (e) {
        throw copyError(e);
      }
    },
    async abort() {
      await copy?.abort();
    },
  });
  /** Rows stored, once the stream is closed. */
  stream.rowCount = null;
  return stream;
}

/** A ReadableStream of `COPY … TO STDOUT` (`start()` resolves to the wasm copy). */
export function copyToStream(start) {
  let out = null;
  return new ReadableStream({
    async start() {
      try {
        out = await start();
      } catch (e) {
        throw copyError(e);
      }
    },
    async pull(controller) {
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
      await out?.close();
    },
  });
}
