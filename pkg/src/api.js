// The JavaScript API of edgepg (SPEC §9) over the wasm module, shaped as
// node-postgres 8.x (`Pool`, `Client`, `PoolClient`, QueryConfig, callbacks,
// events, `Cursor`) so that tools written for `pg` run on it unchanged.
// Each entry point (node.js, workerd.js, browser.js) loads the module, calls
// `bind`, and re-exports exports.js.

import { toError, interfaceError, abortError } from './errors.js';
import { Results, bindResults } from './results.js';
import { overriddenTypes, globalParsers, parsersFrom } from './types.js';
import { Emitter } from './events.js';
import { Cursor, wrapsCursor, adoptCursor, iterate } from './cursor.js';
import { copyFromStream, copyToStream } from './copy.js';

let wasm = null;
let load = null;
let defaultTransport = () => undefined;

/**
 * Called once by the entry point with the wasm bindings, and `options.init`
 * when they are still to be instantiated: that happens on first use, so that
 * an import that only uses http() (no wasm) does not pay for it.
 */
export function bind(bindings, options = {}) {
  if (options.defaultTransport) defaultTransport = options.defaultTransport;
  load = () => {
    options.init?.();
    bindResults(bindings, options);
    return bindings;
  };
  if (!options.init) wasm = load();
}

/** The wasm bindings, instantiated by the first call. */
function instance() {
  return (wasm ??= load());
}

async function call(f) {
  try {
    return await f();
  } catch (e) {
    throw toError(e);
  }
}

function callSync(f) {
  try {
    return f();
  } catch (e) {
    throw toError(e);
  }
}

/** `promise` to a node-style `callback(err, value)` when one is given (then undefined). */
function nodeback(promise, callback) {
  if (typeof callback !== 'function') return promise;
  promise.then((v) => callback(null, v), (e) => callback(e));
  return undefined;
}

/** `pool.sql\`…${v}…\`` → ['…$1…', [v]]. */
function template(strings, values) {
  if (!Array.isArray(strings) || !Array.isArray(strings.raw)) {
    throw interfaceError('sql must be used as a tagged template: sql`SELECT ${value}`');
  }
  let text = strings[0];
  for (let i = 0; i < values.length; i++) text += '$' + (i + 1) + strings[i + 1];
  return [text, values];
}

/** node-postgres' escapeIdentifier: `"name"` with inner quotes doubled. */
export function escapeIdentifier(str) {
  return '"' + String(str).replace(/"/g, '""') + '"';
}

/** node-postgres' escapeLiteral: `'text'` with quotes doubled; ` E'…'` when it has backslashes. */
export function escapeLiteral(str) {
  const s = String(str);
  let backslash = false;
  let out = "'";
  for (const c of s) {
    if (c === "'") out += "''";
    else if (c === '\\') {
      out += '\\\\';
      backslash = true;
    } else out += c;
  }
  out += "'";
  return backslash ? ' E' + out : out;
}

/**
 * Classifies the parameters of a statement for `WasmPool.queryPacked` (one
 * call into the wasm instead of several per parameter): `[text, layout]`,
 * with every string and JSON text in `text` and a kind and a value per
 * parameter in `layout` (transport-wasm/src/js/params.rs, `convert_packed`).
 * `null` when a parameter needs the general conversion (arrays, bigints,
 * anything unusual or invalid: it reports the error).
 */
function pack(params) {
  const n = params.length;
  const layout = new Float64Array(2 * n);
  let text = '';
  for (let i = 0; i < n; i++) {
    const v = params[i];
    let kind;
    let x = 0;
    switch (typeof v) {
      case 'undefined': kind = 0; break;
      case 'boolean': kind = 1; x = v ? 1 : 0; break;
      case 'number': kind = 2; x = v; break;
      case 'string': kind = 3; x = v.length; text += v; break;
      case 'object': {
        if (v === null) { kind = 0; break; }
        if (v instanceof Date) {
          x = v.getTime();
          if (x !== x) return null;
          kind = 4;
          break;
        }
        if (v instanceof Uint8Array) { kind = 6; break; }
        if (Array.isArray(v) || ArrayBuffer.isView(v) || v instanceof ArrayBuffer) return null;
        const proto = Object.getPrototypeOf(v);
        if (proto !== null && proto !== Object.prototype && typeof v.toJSON !== 'function') return null;
        let json;
        try {
          json = JSON.stringify(v);
        } catch {
          return null;
        }
        if (typeof json !== 'string') return null;
        kind = 5;
        x = json.length;
        text += json;
        break;
      }
      default: return null;
    }
    layout[2 * i] = kind;
    layout[2 * i + 1] = x;
  }
  return [text, layout];
}

/** Settles when `signal` aborts; `[promise, detach]`. */
function abortPromise(signal) {
  let detach = () => {};
  const promise = new Promise((resolve) => {
    const onAbort = () => resolve();
    signal.addEventListener('abort', onAbort, { once: true });
    detach = () => signal.removeEventListener('abort', onAbort);
  });
  return [promise, detach];
}

/**
 * Reads the arguments of `query()`: `(text | config, values?, callback | options?)`.
 * Returns `{ text, values, arrays, parsers, signal, callback }`.
 */
function queryArgs(a, b, c, poolTypes) {
  let text = a;
  let values = b;
  let callback;
  let options;
  if (typeof b === 'function') {
    callback = b;
    values = undefined;
  } else if (typeof c === 'function') {
    callback = c;
  } else if (c !== undefined && c !== null) {
    options = c;
  }
  let rowMode;
  let types;
  let signal;
  let name;
  if (a !== null && typeof a === 'object' && !Array.isArray(a)) {
    text = a.text;
    if (values === undefined) values = a.values;
    rowMode = a.rowMode;
    types = a.types;
    signal = a.signal;
    name = a.name;
    if (callback === undefined && typeof a.callback === 'function') callback = a.callback;
  }
  if (options !== undefined) {
    if (typeof options !== 'object') throw interfaceError('query(text, values, options): options must be an object or a callback');
    rowMode = options.rowMode ?? rowMode;
    types = options.types ?? types;
    signal = options.signal ?? signal;
  }
  if (typeof text !== 'string') {
    throw interfaceError(`the query text must be a string, not ${text === null ? 'null' : typeof text}`);
  }
  if (name !== undefined && typeof name !== 'string') throw interfaceError('a statement name must be a string');
  if (values !== undefined && values !== null && !Array.isArray(values)) {
    throw interfaceError('query values must be an array');
  }
  if (rowMode !== undefined && rowMode !== null && rowMode !== 'array') {
    throw interfaceError("rowMode must be 'array' (or absent, for objects)");
  }
  if (signal !== undefined && signal !== null &&
      (typeof signal !== 'object' || typeof signal.addEventListener !== 'function' || !('aborted' in signal))) {
    throw interfaceError('signal must be an AbortSignal');
  }
  types ??= poolTypes;
  if (types !== undefined && types !== null && typeof types.getTypeParser !== 'function') {
    throw interfaceError('types must have a getTypeParser(oid, format) function');
  }
  return {
    text,
    values: values ?? [],
    arrays: rowMode === 'array',
    parsers: types ? parsersFrom(types) : null,
    signal: signal ?? null,
    callback,
  };
}

/**
 * Runs a statement (or a script of them) on `raw` (WasmPool, WasmClient or
 * WasmTransaction): resolves to Results, or to an array of them for a
 * script of several statements (as node-postgres does).
 */
function runOn(raw, q) {
  const { text, values, arrays, signal } = q;
  if (signal?.aborted) return Promise.reject(abortError(signal));
  const global = q.parsers === null ? overriddenTypes() : null;
  const parsers = q.parsers ?? (global !== null ? globalParsers : null);
  const flags = (arrays ? 1 : 0) | (q.parsers !== null ? 2 : 0);
  let abort;
  let detach = null;
  if (signal) [abort, detach] = abortPromise(signal);
  let pending;
  let script = false;
  try {
    if (values.length === 0 && text.includes(';')) {
      script = true;
      pending = raw.queryScript(text, flags, global ?? undefined, abort);
    } else {
      const packed = values.length > 0 && values.length <= 65535 && typeof raw.queryPacked === 'function'
        ? pack(values) : null;
      pending = packed === null ? raw.query(text, values, flags, global ?? undefined, abort)
        : raw.queryPacked(text, values, packed[0], packed[1], flags, global ?? undefined, abort);
    }
  } catch (e) {
    detach?.();
    return Promise.reject(toError(e));
  }
  // The hot path (one statement, no signal) allocates one closure.
  if (!script && !signal) return pending.then((out) => new Results(out, text, arrays, parsers), rethrow);
  return pending.then((out) => {
    detach?.();
    if (!script) return new Results(out, text, arrays, parsers);
    const all = out.map((p) => new Results(p, text, arrays, parsers));
    return all.length === 1 ? all[0] : all;
  }, (e) => {
    detach?.();
    if (signal?.aborted) {
      const err = abortError(signal);
      if (e?.kind !== 'Aborted') err.serverError = toError(e);
      throw err;
    }
    throw toError(e);
  });
}

function rethrow(e) {
  throw toError(e);
}

/** What every object that runs statements has: query, sql. */
class Queryable extends Emitter {
  /**
   * Runs a statement: `query(text, values?)`, `query({ text, values, rowMode,
   * types, name, signal })`, `query(text, values, { signal, rowMode, types })`,
   * with a node-style callback as the last argument, or a submittable
   * (`Cursor`, pg-query-stream) on a client.
   */
  query(a, b, c) {
    if (a instanceof Cursor || wrapsCursor(a)) return this._submit(a);
    if (a !== null && typeof a === 'object' && typeof a.submit === 'function') {
      throw interfaceError(
        "edgepg runs Cursor and pg-query-stream submittables; other submit(connection) ones need node-postgres' Connection, which edgepg does not have");
    }
    let q;
    try {
      q = queryArgs(a, b, c, this._types());
    } catch (e) {
      const cb = [c, b, a].find((f) => typeof f === 'function');
      if (cb) {
        queueMicrotask(() => cb(e));
        return undefined;
      }
      return Promise.reject(e);
    }
    return nodeback(this._run(q), q.callback);
  }

  _types() {
    return undefined;
  }

  _run(q) {
    return runOn(this._raw(), q);
  }

  _submit() {
    throw interfaceError('a Cursor needs a client: const client = await pool.connect(); client.query(new Cursor(…))');
  }

  /** The object a Cursor runs its statements through. */
  _cursorHost() {
    return {
      query: (text, values, conf) => this._run({
        text,
        values: values ?? [],
        arrays: conf?.rowMode === 'array',
        parsers: conf?.types ? parsersFrom(conf.types) : this._types() ? parsersFrom(this._types()) : null,
        signal: null,
      }),
      inTransaction: this.inTransaction,
    };
  }

  /** Tagged template: sql`SELECT ${a}, ${b}` sends $1, $2. */
  sql(strings, ...values) {
    let text, params;
    try {
      [text, params] = template(strings, values);
    } catch (e) {
      return Promise.reject(e);
    }
    return this.query(text, params);
  }
}

/** A transaction, handed to the callback of `transaction()`. */
export class Transaction extends Queryable {
  #raw;
  #types;
  constructor(raw, types) {
    super();
    this.#raw = raw;
    this.#types = types;
  }
  _raw() {
    return this.#raw;
  }
  _types() {
    return this.#types;
  }
  get inTransaction() {
    return true;
  }
  _submit(cursor) {
    if (cursor instanceof Cursor) {
      cursor._attach(this._cursorHost());
      return cursor;
    }
    return adoptCursor(cursor, this._cursorHost());
  }
  /** `for await (const row of tx.cursor(sql, params, { batchSize }))`. */
  cursor(sql, params, options) {
    return iterate(async () => ({ host: this._cursorHost(), release: () => {} }), sql, params, options);
  }
  /** Creates a savepoint. */
  savepoint(name) {
    return call(() => this.#raw.savepoint(name));
  }
  /** Rolls back to a savepoint; the transaction is usable again. */
  rollbackTo(name) {
    return call(() => this.#raw.rollbackTo(name));
  }
}

/** `SEVERITY: message` → node-postgres' notice shape. */
/** node-postgres' notice message: `{ name: 'notice', message, severity, code, detail, hint, … }`. */
function notice(fields) {
  const n = { name: 'notice' };
  for (const [k, v] of Object.entries(fields)) if (v !== undefined) n[k] = v;
  return n;
}

/** A connection held by JavaScript: `PoolClient` and `Client`. */
class Connected extends Queryable {
  #raw = null;
  #notifying = false;
  #watching = false;

  _hold(raw) {
    this.#raw = raw;
    this.#notifying = false;
    this.#watching = false;
    if (this.listenerCount('notification') > 0) this._listening('notification');
    if (this.listenerCount('error') > 0 || this.listenerCount('end') > 0) this._watch();
  }

  _raw() {
    if (this.#raw === null) throw interfaceError('the client is not connected: call client.connect() first');
    return this.#raw;
  }

  _run(q) {
    let raw;
    try {
      raw = this._raw();
    } catch (e) {
      return Promise.reject(e);
    }
    const done = runOn(raw, q);
    if (this.listenerCount('notice') === 0) return done;
    const report = () => {
      for (const n of raw.takeNotices()) this.emit('notice', notice(n));
    };
    return done.then((r) => {
      report();
      return r;
    }, (e) => {
      report();
      throw e;
    });
  }

  /**
   * Subscribes to what the connection tells once someone listens: its NOTIFY
   * messages, its end (node-postgres' client `error` when it dies).
   */
  _listening(event) {
    if (event === 'error' || event === 'end') this._watch();
    if (event !== 'notification' || this.#notifying || this.#raw === null) return;
    this.#notifying = true;
    const raw = this.#raw;
    const deliver = (channel, payload, processId) => {
      if (this.#raw === raw) this.emit('notification', { name: 'notification', channel, payload, processId });
    };
    raw.onNotification(deliver).catch((e) => this.emit('error', toError(e)));
  }

  /** Emits `error` (when it died of one) and `end` if the connection ends while held. */
  _watch() {
    if (this.#watching || this.#raw === null) return;
    this.#watching = true;
    const raw = this.#raw;
    raw.onClosed((error) => {
      if (this.#raw !== raw) return;
      if (error !== undefined) this.emit('error', toError(error));
      this.emit('end');
    });
  }

  _submit(cursor) {
    this._raw();
    if (cursor instanceof Cursor) {
      cursor._attach(this._cursorHost());
      return cursor;
    }
    return adoptCursor(cursor, this._cursorHost());
  }

  _cursorHost() {
    const host = super._cursorHost();
    const raw = this.#raw;
    Object.defineProperty(host, 'inTransaction', { get: () => raw.inTransaction });
    return host;
  }

  /** The server process ID of this connection (node-postgres' `processID`). */
  get processID() {
    return this.#raw?.processID ?? null;
  }

  /** True while a transaction opened with BEGIN is open on this connection. */
  get inTransaction() {
    return this.#raw?.inTransaction ?? false;
  }

  /** `for await (const row of client.cursor(sql, params, { batchSize }))`. */
  cursor(sql, params, options) {
    return iterate(async () => ({ host: this._cursorHost(), release: () => {} }), sql, params, options);
  }

  /** node-postgres' escapeIdentifier. */
  escapeIdentifier(str) {
    return escapeIdentifier(str);
  }

  /** node-postgres' escapeLiteral. */
  escapeLiteral(str) {
    return escapeLiteral(str);
  }

  _drop(discard) {
    const raw = this.#raw;
    this.#raw = null;
    if (raw === null) return false;
    if (discard) raw.discard();
    else raw.release();
    return true;
  }
}

/** A checked-out connection (`pool.connect()`); give it back with `release()`. */
export class PoolClient extends Connected {
  #pool;
  #released = false;
  #types;

  constructor(raw, pool, types) {
    super();
    this.#pool = pool;
    this.#types = types;
    this._hold(raw);
  }

  _types() {
    return this.#types;
  }

  /**
   * Returns the connection to the pool (idempotent); `release(err)` with a
   * truthy `err` closes it instead, as node-postgres does.
   */
  release(err) {
    this._giveBack(err, Boolean(err));
  }

  /** Returns the connection, closing it when `discard`; tells the pool's `release` listeners `err`. */
  _giveBack(err, discard) {
    if (this.#released) return;
    this.#released = true;
    this._drop(discard);
    this.#pool?._released(err, this);
  }

  /** The same client object again for a new checkout of its connection, as pg-pool does. */
  _reacquire(raw) {
    this.#released = false;
    this._hold(raw);
  }

  /** True once released. */
  get released() {
    return this.#released;
  }
}

function poolOptions(options) {
  if (typeof options === 'string') options = { connectionString: options };
  if (options === undefined || options === null) options = {};
  if (typeof options !== 'object') {
    throw interfaceError(`Pool options must be an object or a connection string, not ${typeof options}`);
  }
  const o = { ...options };
  if (o.transport === undefined) o.transport = defaultTransport();
  // node-postgres' `types` (an object with getTypeParser) is applied in JavaScript.
  let pgTypes;
  if (o.types !== null && typeof o.types === 'object' && typeof o.types.getTypeParser === 'function') {
    pgTypes = o.types;
    delete o.types;
  }
  if (o.connectionTimeoutMillis === 0) delete o.connectionTimeoutMillis; // pg: 0 = no timeout
  return [o, pgTypes];
}

/** How many clients a pool remembers by process ID (pg-pool hands out the same client object per connection). */
const KNOWN_CLIENTS = 4096;

/** Pool events a `pool.query` takes part in, as a checkout does (pg-pool). */
const CHECKOUT_EVENTS = ['connect', 'acquire', 'release'];

/**
 * A pool of connections (SPEC §4, §9), with node-postgres' Pool API and events
 * (`connect`, `acquire`, `release`, `remove`, `error`).
 *
 *   const pool = new Pool({ connectionString, transport, max, min, types });
 */
export class Pool extends Queryable {
  #raw;
  #types;
  #clients = new Map();

  constructor(options) {
    super();
    const [o, pgTypes] = poolOptions(options);
    this.#types = pgTypes;
    this.options = { ...options };
    o.onEvent = (kind, error, idle, pid) => this.#event(kind, error, idle, pid);
    this.#raw = callSync(() => new (instance().WasmPool)(o));
  }

  #event(kind, error, idle, pid) {
    if (kind !== 'close') return;
    const client = this.#clients.get(pid);
    this.#clients.delete(pid);
    if (error !== undefined && idle) this.emit('error', toError(error), client);
    this.emit('remove', client);
  }

  #checkoutWatched() {
    for (let i = 0; i < CHECKOUT_EVENTS.length; i++) if (this.listenerCount(CHECKOUT_EVENTS[i]) > 0) return true;
    return false;
  }

  /** pool.query: a checkout, query and release when someone listens to those events, else the pool's own path. */
  _run(q) {
    if (!this.#checkoutWatched()) return super._run(q);
    return this.#checkout(q.signal ?? undefined).then((client) => client._run(q).then((r) => {
      client._giveBack(undefined, false);
      return r;
    }, (e) => {
      client._giveBack(e, false);
      throw e;
    }));
  }

  _raw() {
    return this.#raw;
  }

  _types() {
    return this.#types;
  }

  _released(err, client) {
    this.emit('release', err, client);
  }

  /**
   * Runs `fn(tx)` between BEGIN and COMMIT on one connection; rolls back and
   * rethrows when it throws. With an array of statements (SQL strings or
   * [sql, params] pairs) runs them in order and returns their Results.
   */
  async transaction(fn) {
    if (Array.isArray(fn)) {
      const statements = fn;
      return this.transaction(async (tx) => {
        const out = [];
        for (const s of statements) {
          out.push(Array.isArray(s) ? await tx.query(s[0], s[1]) : await tx.query(s));
        }
        return out;
      });
    }
    if (typeof fn !== 'function') {
      throw interfaceError('transaction() needs a callback (async (tx) => …) or an array of statements');
    }
    const raw = await call(() => this.#raw.begin());
    let result;
    try {
      result = await fn(new Transaction(raw, this.#types));
    } catch (e) {
      try {
        await raw.rollback();
      } catch {
        // the original error matters more
      }
      throw toError(e);
    }
    await call(() => raw.commit());
    return result;
  }

  /**
   * Checks out a connection: `const c = await pool.connect(); …; c.release()`,
   * or `pool.connect((err, client, release) => …)`. `{ signal }` aborts the wait.
   */
  connect(callback) {
    const signal = callback !== null && typeof callback === 'object' ? callback.signal : undefined;
    const promise = this.#checkout(signal);
    if (typeof callback !== 'function') return promise;
    promise.then((client) => callback(null, client, (err) => client.release(err)), (e) => callback(e));
    return undefined;
  }

  async #checkout(signal) {
    if (signal?.aborted) throw abortError(signal);
    let abort;
    let detach = null;
    if (signal) [abort, detach] = abortPromise(signal);
    let raw;
    try {
      raw = await this.#raw.checkout(abort);
    } catch (e) {
      if (signal?.aborted) throw abortError(signal);
      throw toError(e);
    } finally {
      detach?.();
    }
    const pid = raw.processID;
    let client = this.#clients.get(pid);
    if (client !== undefined) {
      client._reacquire(raw);
    } else {
      client = new PoolClient(raw, this, this.#types);
      if (this.#clients.size >= KNOWN_CLIENTS) this.#clients.delete(this.#clients.keys().next().value);
      this.#clients.set(pid, client);
      this.emit('connect', client);
    }
    this.emit('acquire', client);
    return client;
  }

  /** `for await (const row of pool.cursor(sql, params, { batchSize }))` on one connection. */
  cursor(sql, params, options) {
    return iterate(async () => {
      const client = await this.connect();
      return { host: client._cursorHost(), release: (err) => client.release(err) };
    }, sql, params, options);
  }

  /**
   * LISTENs on `channel` on a dedicated connection, calling `onNotify({ channel,
   * payload, processId })` for each NOTIFY (it LISTENs again after a
   * reconnect); resolves once listening, to `{ unlisten() }`. A callback that
   * throws is reported as the pool's `error` event.
   */
  async listen(channel, onNotify) {
    if (typeof onNotify !== 'function') throw interfaceError('listen(channel, onNotify) needs a callback');
    const deliver = (ch, payload, processId) => {
      try {
        const r = onNotify({ name: 'notification', channel: ch, payload, processId });
        if (r !== null && typeof r === 'object' && typeof r.then === 'function') {
          r.then(undefined, (e) => this.emit('error', e));
        }
      } catch (e) {
        this.emit('error', e);
      }
    };
    const raw = await call(() => this.#raw.listen(channel, deliver, (e) => this.emit('error', toError(e))));
    return {
      channel,
      unlisten: () => call(() => raw.unlisten()),
    };
  }

  /** NOTIFY `channel` with `payload` (`SELECT pg_notify($1, $2)`). */
  async notify(channel, payload = '') {
    await this.query('SELECT pg_notify($1, $2)', [channel, payload]);
  }

  /** `COPY … FROM STDIN` as a WritableStream of Uint8Array (or string) chunks. */
  copyFrom(sql) {
    return copyFromStream(() => call(() => this.#raw.copyIn(sql)));
  }

  /** `COPY … TO STDOUT` as a ReadableStream of Uint8Array chunks. */
  copyTo(sql) {
    return copyToStream(() => call(() => this.#raw.copyOut(sql)));
  }

  /** Opens `min` connections now (otherwise they open on first use). */
  open() {
    return call(() => this.#raw.connect());
  }

  /** Calls a function: SELECT * FROM name($1, …). */
  async callproc(name, params) {
    const [packet, sql] = await call(() => this.#raw.callproc(name, params));
    return new Results(packet, sql);
  }

  /** `sql` with its parameters interpolated as literals (no I/O). */
  mogrify(sql, params) {
    return callSync(() => this.#raw.mogrify(sql, params));
  }

  /** Closes every connection; later calls fail with PoolClosedError. */
  end(callback) {
    this.ending = true;
    return nodeback(call(() => this.#raw.end()), callback);
  }

  /** True after `end()`. */
  get ended() {
    return this.#raw.ended;
  }

  /** `{ size, idle, inUse, pending, waiting, min, max, closed }`. */
  status() {
    return this.#raw.status();
  }

  /** node-postgres' counts: connections open or opening, idle, callers waiting. */
  get totalCount() {
    return this.status().size;
  }

  get idleCount() {
    return this.status().idle;
  }

  get waitingCount() {
    return this.status().waiting;
  }
}

/**
 * node-postgres' Client: one connection, `await client.connect()`, queries,
 * `await client.end()`. Events: `error`, `notice`, `notification`, `end`.
 */
export class Client extends Connected {
  #pool;
  #types;
  #connecting = null;
  #ended = false;

  constructor(options) {
    super();
    const [o, pgTypes] = poolOptions(options);
    this.#types = pgTypes;
    Object.assign(o, { max: 1, min: 0, acquireTimeoutMillis: o.connectionTimeoutMillis });
    this.#pool = callSync(() => new (instance().WasmPool)(o));
  }

  _types() {
    return this.#types;
  }

  /** Connects (once); `connect(callback)` for node-style callers. */
  connect(callback) {
    if (this.#connecting === null) {
      this.#connecting = this.#ended
        ? Promise.reject(interfaceError('the client was ended; create a new Client'))
        : call(() => this.#pool.checkout()).then((raw) => {
          this._hold(raw);
          this._watch();
        });
    } else if (callback === undefined) {
      return Promise.reject(interfaceError('Client has already been connected. You cannot reuse a client.'));
    }
    return nodeback(this.#connecting, callback);
  }

  /** Closes the connection; emits `end`. */
  end(callback) {
    const done = (async () => {
      if (this.#ended) return;
      this.#ended = true;
      this._drop(false);
      await call(() => this.#pool.end());
      this.emit('end');
    })();
    return nodeback(done, callback);
  }
}

const sharedPools = new Map();

/**
 * The `queries` Session: `new Session(url)` shares one pool per URL;
 * `Session.fromEnv('foo', env)` reads PGSQL_FOO (`fromEnv(null, env)` reads PGSQL); when it is
 * unset, PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE…
 */
export class Session extends Queryable {
  #pool;

  constructor(options) {
    super();
    if (options instanceof Pool) {
      this.#pool = options;
    } else if (typeof options === 'string') {
      let pool = sharedPools.get(options);
      if (pool === undefined || pool.ended) {
        pool = new Pool(options);
        sharedPools.set(options, pool);
      }
      this.#pool = pool;
    } else {
      this.#pool = new Pool(options);
    }
  }

  /** A session configured from an env object (Workers' `env`, `process.env`, `Deno.env.toObject()`). */
  static fromEnv(name, env, options = {}) {
    if (env === undefined) env = globalThis.process?.env;
    if (env === null || typeof env !== 'object') {
      throw interfaceError('Session.fromEnv(name, env) needs an env object');
    }
    if (name !== undefined && name !== null && typeof name !== 'string') {
      throw interfaceError('Session.fromEnv: the name must be a string');
    }
    return new Session({ ...options, env, envName: name ?? undefined });
  }

  _raw() {
    return this.#pool._raw();
  }

  _types() {
    return this.#pool._types();
  }

  /** The pool behind this session. */
  get pool() {
    return this.#pool;
  }

  transaction(fn) {
    return this.#pool.transaction(fn);
  }

  connect(callback) {
    return this.#pool.connect(callback);
  }

  cursor(sql, params, options) {
    return this.#pool.cursor(sql, params, options);
  }

  listen(channel, onNotify) {
    return this.#pool.listen(channel, onNotify);
  }

  callproc(name, params) {
    return this.#pool.callproc(name, params);
  }

  mogrify(sql, params) {
    return this.#pool.mogrify(sql, params);
  }

  end(callback) {
    return this.#pool.end(callback);
  }
}

/** Through a WebSocket proxy (edgepg-proxy, Neon's wsproxy). */
export function webSocket(options) {
  if (typeof options === 'string') options = { proxy: options };
  if (options === null || typeof options !== 'object' || typeof options.proxy !== 'string') {
    throw interfaceError("webSocket({ proxy: 'wss://host/v1', WebSocket? }) needs a proxy URL");
  }
  if (options.WebSocket !== undefined && typeof options.WebSocket !== 'function') {
    throw interfaceError('webSocket: WebSocket must be a constructor');
  }
  if (options.WebSocket === undefined && typeof globalThis.WebSocket !== 'function') {
    throw interfaceError(
      "webSocket: this runtime has no global WebSocket (Node 20): pass one, e.g. webSocket({ proxy, WebSocket }) with WebSocket from 'ws'");
  }
  return { proxy: options.proxy, WebSocket: options.WebSocket };
}

/** Reads a configuration from an env object as Session.fromEnv does (diagnostics). */
export function describeEnv(name, env) {
  return callSync(() => instance().describeEnv(name, env));
}

/** `{ liveResults, memoryBytes }`: liveResults is always 0 (results live in JavaScript), and the wasm memory size. */
export function diagnostics() {
  return instance().diagnostics();
}
