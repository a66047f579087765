// The JavaScript API of edgepg (SPEC §9) over the wasm module. Each entry
// point (node.js, workerd.js, browser.js) loads the module, calls `bind`,
// and re-exports this file.

import { toError, interfaceError } from './errors.js';

let wasm = null;
let defaultTransport = () => undefined;

/** Called once by the entry point with the initialised wasm bindings. */
export function bind(bindings, options = {}) {
  wasm = bindings;
  memory = wasm.bindRows(buildPacket);
  if (options.defaultTransport) defaultTransport = options.defaultTransport;
  if (options.codegen) codegen = true;
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

/** `pool.sql\`…${v}…\`` → ['…$1…', [v]]. */
function template(strings, values) {
  if (!Array.isArray(strings) || !Array.isArray(strings.raw)) {
    throw interfaceError('sql must be used as a tagged template: sql`SELECT ${value}`');
  }
  let text = strings[0];
  for (let i = 0; i < values.length; i++) text += '$' + (i + 1) + strings[i + 1];
  return [text, values];
}

function rethrow(e) {
  throw toError(e);
}

/**
 * Column descriptors by slot: the wasm side numbers the shapes of results it
 * has seen (one per prepared statement and connection) and sends a shape's
 * description only when it (re)assigns its slot (transport-wasm/src/js/packet.rs).
 */
const slots = [];

/**
 * Whether rows may be built by a function generated per shape of result
 * (`new Function`: object literals are many times faster than adding the
 * properties one by one). Only where code generation is surely allowed
 * (Node, Deno, Bun): workerd and pages with a CSP forbid it.
 */
let codegen = false;

/** A function making a row of `names` from an array of values, or null. */
function rowMaker(names) {
  if (!codegen || names.length > 1000) return null;
  // JSON string literals are JavaScript string literals; `__proto__` is computed,
  // so that it is an own property and not the prototype.
  const fields = names.map((n, i) => (n === '__proto__' ? '["__proto__"]' : JSON.stringify(n)) + ': v[' + i + ']');
  try {
    return new Function('v', 'return {' + fields.join(', ') + '};');
  } catch {
    return null;
  }
}

/** `{ names, oids, types, proto }` of a `name\0oid\0type\0…` string. */
function columnsOf(key) {
  const parts = key.split('\0');
  const names = [];
  const oids = [];
  const types = [];
  for (let i = 0; i + 2 < parts.length; i += 3) {
    names.push(parts[i]);
    oids.push(Number(parts[i + 1]));
    types.push(parts[i + 2]);
  }
  return { names, oids, types, proto: names.includes('__proto__'), make: undefined };
}

/** The wasm memory, and views of it (remade when it grows). */
let memory = null;
let memBuffer = null;
let f64 = null;
let u32 = null;
let u8 = null;

/**
 * Called by the wasm when a statement completes (transport-wasm/src/js/packet.rs,
 * `Packet::finish`): builds its rows from the text, the cells and the vectors
 * at `nptr` (f64 numbers), `lptr` (u32 string lengths) and `kptr` (u8 kinds) in
 * the wasm memory, which are freed once this returns. Never throws (it runs
 * inside the wasm): a failure is kept and fails the query (see `Results`).
 * `arrays` asks for rows as arrays in column order (`rowMode: 'array'`).
 * Returns `[rows, status, count, columns, error, length]`.
 */
function buildPacket(text, cells, columns, slot, count, length, nptr, lptr, kptr, arrays) {
  try {
    if (columns !== undefined) slots[slot] = columnsOf(columns);
    const cols = slots[slot];
    const b = memory.buffer;
    if (b !== memBuffer) {
      memBuffer = b;
      f64 = new Float64Array(b);
      u32 = new Uint32Array(b);
      u8 = new Uint8Array(b);
    }
    const tag = u32[lptr >>> 2];
    let rows = null;
    let error = null;
    try {
      rows = decodeRows(text, cells, cols, length, nptr >>> 3, (lptr >>> 2) + 1, kptr, tag, arrays);
    } catch (e) {
      error = e;
    }
    return [rows, text.slice(0, tag), count, cols, error, length];
  } catch (e) {
    return [null, '', 0, columnsOf(''), e, 0];
  }
}

/** Builds the rows of a packet (see packet.rs for its layout): objects, or arrays. */
function decodeRows(text, cells, cols, length, n, t, k, pos, arrays) {
  const numbers = f64;
  const lengths = u32;
  const kinds = u8;
  const { names, proto } = cols;
  const width = names.length;
  const rows = new Array(length);
  if (length === 0) return rows;
  if (cols.make === undefined) cols.make = rowMaker(names);
  const make = arrays ? null : cols.make;
  const values = make === null ? null : new Array(width).fill(null);
  let j = 0;
  for (let i = 0; i < length; i++) {
    const row = arrays ? new Array(width) : make === null ? {} : null;
    for (let c = 0; c < width; c++, k++) {
      let v;
      switch (kinds[k]) {
        case 1: v = null; break;
        case 2: v = true; break;
        case 3: v = false; break;
        case 4: v = numbers[n++]; break;
        case 5: v = new Date(numbers[n++]); break;
        case 6: {
          const end = pos + lengths[t++];
          v = text.slice(pos, end);
          pos = end;
          break;
        }
        case 7: throw cells[j];
        case 8: {
          const end = n + 1 + numbers[n];
          v = [];
          for (n++; n < end; n++) v.push(numbers[n]);
          break;
        }
        default: v = cells[j++];
      }
      if (make !== null) {
        values[c] = v;
      } else if (arrays) {
        row[c] = v;
      } else if (proto && names[c] === '__proto__') {
        Object.defineProperty(row, '__proto__', { value: v, enumerable: true, writable: true, configurable: true });
      } else {
        row[names[c]] = v;
      }
    }
    rows[i] = make === null ? row : make(values);
  }
  return rows;
}

/**
 * The results of one statement: rows (plain objects), fields, the command
 * tag, the count. `free()` drops everything.
 */
export class Results {
  #cols;
  #rows;
  #fields = null;
  #freed = false;

  constructor(packet, sql) {
    // A value that cannot be converted (a RangeError naming its column) fails
    // the query itself.
    if (packet[4] !== null) throw packet[4];
    this.#rows = packet[0];
    this.#cols = packet[3];
    /** The command tag, e.g. `SELECT 3`, `INSERT 0 1`. */
    this.status = packet[1];
    /** Rows returned, or rows affected by INSERT/UPDATE/DELETE. */
    this.count = packet[2];
    /** The number of rows. */
    this.length = packet[5];
    /** The SQL text. */
    this.query = sql;
  }

  #check() {
    if (this.#freed) throw interfaceError('these results were freed');
  }

  /** `[{ name, dataTypeID, dataType }]`. */
  get fields() {
    this.#check();
    if (this.#fields === null) {
      const { names, oids, types } = this.#cols;
      this.#fields = names.map((name, i) => ({ name, dataTypeID: oids[i], dataType: types[i] }));
    }
    return this.#fields;
  }

  /** node-postgres' name for `count`. */
  get rowCount() {
    return this.count;
  }

  /** Every row as an object keyed by column name. */
  get rows() {
    this.#check();
    return this.#rows;
  }

  /** Row `i`, or undefined. */
  get(i) {
    return this.rows[i];
  }

  /** `{}` for no rows, the row for one, an InterfaceError for more (queries' as_dict). */
  asDict() {
    const rows = this.rows;
    if (rows.length === 0) return {};
    if (rows.length === 1) return rows[0];
    throw interfaceError(`asDict() needs at most one row, but the results have ${rows.length}`);
  }

  [Symbol.iterator]() {
    return this.rows[Symbol.iterator]();
  }

  /** Drops the rows now (garbage collection does the same). */
  free() {
    if (this.#freed) return;
    this.#freed = true;
    this.#rows = null;
    this.#fields = null;
  }
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

class Queryable {
  /** Runs `sql` with `params` ($1, $2, …). */
  query(sql, params) {
    let text = sql;
    let values = params;
    let arrays = false;
    if (sql !== null && typeof sql === 'object' && !Array.isArray(sql) && 'text' in sql) {
      text = sql.text;
      values = sql.values ?? params;
      // node-postgres' rowMode: 'array' gives rows as arrays in column order.
      arrays = sql.rowMode === 'array';
    }
    // One promise per query (no async wrappers): this is the hot path.
    let pending;
    try {
      const raw = this._raw();
      const packed = Array.isArray(values) && values.length > 0 && values.length <= 65535 &&
        typeof raw.queryPacked === 'function' ? pack(values) : null;
      pending = packed === null ? raw.query(text, values, arrays)
        : raw.queryPacked(text, values, packed[0], packed[1], arrays);
    } catch (e) {
      return Promise.reject(toError(e));
    }
    return pending.then((packet) => new Results(packet, text), rethrow);
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
  constructor(raw) {
    super();
    this.#raw = raw;
  }
  _raw() {
    return this.#raw;
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

/** A checked-out connection (`pool.connect()`); give it back with `release()`. */
export class PoolClient extends Queryable {
  #raw;
  constructor(raw) {
    super();
    this.#raw = raw;
  }
  _raw() {
    return this.#raw;
  }
  /** Returns the connection to the pool (idempotent). */
  release() {
    this.#raw.release();
  }
  /** True once released. */
  get released() {
    return this.#raw.released;
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
  return o;
}

/**
 * A pool of connections (SPEC §4, §9).
 *
 *   const pool = new Pool({ connectionString, transport, max, min, types });
 */
export class Pool extends Queryable {
  #raw;

  constructor(options) {
    super();
    const o = poolOptions(options);
    this.#raw = callSync(() => new wasm.WasmPool(o));
  }

  _raw() {
    return this.#raw;
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
      result = await fn(new Transaction(raw));
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

  /** Checks out a connection: `const c = await pool.connect(); …; c.release()`. */
  async connect() {
    return new PoolClient(await call(() => this.#raw.checkout()));
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
  end() {
    return call(() => this.#raw.end());
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

  /** The pool behind this session. */
  get pool() {
    return this.#pool;
  }

  transaction(fn) {
    return this.#pool.transaction(fn);
  }

  connect() {
    return this.#pool.connect();
  }

  callproc(name, params) {
    return this.#pool.callproc(name, params);
  }

  mogrify(sql, params) {
    return this.#pool.mogrify(sql, params);
  }

  end() {
    return this.#pool.end();
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
  return callSync(() => wasm.describeEnv(name, env));
}

/** `{ liveResults, memoryBytes }`: liveResults is always 0 (results live in JavaScript), and the wasm memory size. */
export function diagnostics() {
  return wasm.diagnostics();
}
