// Server-side cursors: `Cursor`, compatible with pg-cursor
// (`client.query(new Cursor(text, values, { rowMode, types }))`, `read(n)`,
// `close()`), and the `for await` iterator behind `pool.cursor()` /
// `tx.cursor()`. A cursor is DECLAREd on its client's connection; outside a
// transaction it opens one (BEGIN … COMMIT around the cursor's life), so
// memory stays bounded by what one `read(n)` fetches.

import { Emitter } from './events.js';
import { interfaceError, toError } from './errors.js';

let cursorIds = 0;

/** The first keyword of `sql`, lower-cased, past whitespace, comments and `(`. */
function firstKeyword(sql) {
  let i = 0;
  for (;;) {
    while (i < sql.length && (/\s/.test(sql[i]) || sql[i] === '(')) i++;
    if (sql.startsWith('--', i)) {
      const end = sql.indexOf('\n', i);
      i = end < 0 ? sql.length : end + 1;
    } else if (sql.startsWith('/*', i)) {
      let depth = 0;
      while (i < sql.length) {
        if (sql.startsWith('/*', i)) {
          depth++;
          i += 2;
        } else if (sql.startsWith('*/', i)) {
          depth--;
          i += 2;
          if (depth === 0) break;
        } else {
          i++;
        }
      }
    } else {
      break;
    }
  }
  const m = /^[A-Za-z]+/.exec(sql.slice(i, i + 16));
  return m === null ? '' : m[0].toLowerCase();
}

/** Statements DECLARE accepts; others run once and are served from memory (as pg-cursor runs any statement). */
const DECLARABLE = new Set(['select', 'values', 'table', 'with']);

/** pg-cursor's result object: the fields and command of the cursor's statement; `addRow` for 'row' listeners. */
function cursorResult(from) {
  return {
    command: from.command,
    rowCount: from.rowCount,
    oid: from.oid,
    fields: from.fields,
    rows: [],
    rowAsArray: from.rowAsArray,
    addRow(row) {
      this.rows.push(row);
    },
  };
}

/** `promise` reported to a node-style callback when one is given; else the promise. */
function settle(promise, callback, extra) {
  if (typeof callback !== 'function') return promise;
  promise.then((v) => callback(null, v, extra?.()), (e) => callback(e));
  return undefined;
}

/**
 * pg-cursor's Cursor. `client.query(cursor)` hands it the client's
 * connection and returns it; then `await cursor.read(100)` gives up to 100
 * rows (`[]` at the end), and `await cursor.close()` ends it.
 */
export class Cursor extends Emitter {
  constructor(text, values, config) {
    super();
    if (typeof text !== 'string') throw interfaceError('new Cursor(text, values, config): text must be a string');
    if (values !== undefined && values !== null && !Array.isArray(values)) {
      throw interfaceError('new Cursor(text, values, config): values must be an array');
    }
    this.text = text;
    this.values = values ?? [];
    this._conf = config ?? {};
    /** 'initialized', 'idle', 'busy', 'done', 'closed' or 'error'. */
    this.state = 'initialized';
    this._host = null;
    this._name = `edgepg_cursor_${++cursorIds}`;
    this._opened = null;
    this._ownTransaction = false;
    this._exhausted = false;
    this._result = null;
    this._buffered = undefined;
    this._declarable = DECLARABLE.has(firstKeyword(text));
    this._error = null;
    this._queue = Promise.resolve();
  }

  /** Binds the cursor to a connection (done by `client.query(cursor)`). */
  _attach(host) {
    if (this._host !== null) throw interfaceError('this cursor was already submitted to a client');
    this._host = host;
    this.state = 'idle';
  }

  /** One operation at a time, in call order. */
  _serial(f) {
    const next = this._queue.then(f, f);
    this._queue = next.catch(() => {});
    return next;
  }

  /** Up to `rows` more rows (`[]` once all were read); with a callback, `(err, rows, result)`. */
  read(rows, callback) {
    const p = this._serial(() => this._read(rows));
    return settle(p, callback, () => this._result);
  }

  async _read(n) {
    if (!Number.isInteger(n) || n < 1) throw interfaceError(`cursor.read(n): n must be a positive integer, not ${String(n)}`);
    if (this._host === null) throw interfaceError('this cursor was not submitted: call client.query(cursor) first');
    if (this.state === 'closed') throw interfaceError('the cursor is closed');
    if (this.state === 'error') throw this._error;
    if (this._exhausted) return [];
    this.state = 'busy';
    try {
      let rows;
      if (!this._declarable && this._buffered === undefined) {
        // INSERT/UPDATE/DDL/comments: one run, its rows (RETURNING) handed out n at a time.
        const r = await this._host.query(this.text, this.values, this._conf);
        this._result = cursorResult(r);
        this._buffered = r.rows;
      }
      if (this._buffered !== undefined) {
        rows = this._buffered.splice(0, n);
      } else {
        await this._open();
        const r = await this._host.query(`FETCH FORWARD ${n} FROM ${this._name}`, [], this._conf);
        if (this._result === null) this._result = cursorResult(r);
        rows = r.rows;
      }
      for (const row of rows) this.emit('row', row, this._result);
      this._result.rows = rows; // pg-cursor: the callback's result holds the rows it got
      if (rows.length < n) {
        await this._finish();
      } else {
        this.state = 'idle';
      }
      return rows;
    } catch (e) {
      await this._fail(e);
      throw toError(e);
    }
  }

  /**
   * At the end of the rows: the cursor closes itself (and commits the
   * transaction it opened), so the connection is free for what follows.
   */
  async _finish() {
    this._exhausted = true;
    if (this._opened !== null) await this._closeDeclared();
    this.state = 'done';
    this.emit('end', this._result);
  }

  /** CLOSEs the DECLAREd cursor and COMMITs the transaction it opened, if it did. */
  async _closeDeclared() {
    await this._host.query(`CLOSE ${this._name}`, [], {});
    if (this._ownTransaction) {
      this._ownTransaction = false;
      await this._host.query('COMMIT', [], {});
    }
  }

  _open() {
    if (this._opened === null) {
      this._opened = (async () => {
        if (!this._host.inTransaction) {
          await this._host.query('BEGIN', [], {});
          this._ownTransaction = true;
        }
        await this._host.query(`DECLARE ${this._name} NO SCROLL CURSOR FOR ${this.text}`, this.values, this._conf);
      })();
    }
    return this._opened;
  }

  async _fail(e) {
    this.state = 'error';
    this._error = toError(e);
    if (this._ownTransaction) {
      this._ownTransaction = false;
      try {
        await this._host.query('ROLLBACK', [], {});
      } catch {
        // the cursor's error is the one to report
      }
    }
    if (this.listenerCount('error') > 0) this.emit('error', this._error);
  }

  /** Closes the cursor (and the transaction it opened); idempotent. */
  close(callback) {
    return settle(this._serial(() => this._close()), callback);
  }

  async _close() {
    if (this.state === 'closed') return;
    const wasOpen = this._opened !== null && this.state !== 'error' && !this._exhausted;
    this.state = 'closed';
    if (!wasOpen) return;
    try {
      await this._opened;
      await this._closeDeclared();
    } catch (e) {
      if (this._ownTransaction) {
        this._ownTransaction = false;
        try {
          await this._host.query('ROLLBACK', [], {});
        } catch {
          // report the first error
        }
      }
      throw toError(e);
    }
  }
}

/** Whether `q` is a pg-query-stream–style submittable around a pg-cursor. */
export function wrapsCursor(q) {
  const c = q?.cursor;
  return c !== null && typeof c === 'object' && typeof c.text === 'string' && typeof c.read === 'function' &&
    typeof q.submit === 'function';
}

/** Gives a pg-query-stream an edgepg Cursor in place of its pg-cursor. */
export function adoptCursor(q, host) {
  const theirs = q.cursor;
  const ours = new Cursor(theirs.text, theirs.values, theirs._conf ?? {});
  ours._attach(host);
  q.cursor = ours;
  return q;
}

/**
 * The rows of `sql` one by one through a cursor on a connection from
 * `acquire()` (`release(err)` returns it), `batchSize` rows per round trip.
 */
export async function* iterate(acquire, sql, params, options = {}) {
  const batch = options.batchSize ?? 100;
  if (!Number.isInteger(batch) || batch < 1) throw interfaceError('cursor: batchSize must be a positive integer');
  const { host, release } = await acquire();
  const cursor = new Cursor(sql, params, { rowMode: options.rowMode, types: options.types });
  cursor._attach(host);
  try {
    for (;;) {
      const rows = await cursor.read(batch);
      for (const row of rows) yield row;
      if (rows.length < batch) break;
    }
  } finally {
    // A query error leaves the connection fine once the cursor closed (the
    // pool drops a broken one itself); only a failed close discards it.
    let closeError;
    try {
      await cursor.close();
    } catch (e) {
      closeError = e;
    }
    release(closeError);
  }
}
