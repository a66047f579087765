// Results of a statement: built from the packet the wasm hands over
// (transport-wasm/src/js/packet.rs), in node-postgres' shape (`command`,
// `rowCount`, `oid`, `fields`, `rows`) and ours (`status`, `count`, `asDict()`).

import { interfaceError } from './errors.js';

/**
 * Column descriptors by slot: the wasm side numbers the shapes of results it
 * has seen (one per prepared statement and connection) and sends a shape's
 * description only when it (re)assigns its slot.
 */
const slots = [];

/**
 * Whether rows may be built by a function generated per shape of result
 * (`new Function`: object literals are many times faster than adding the
 * properties one by one). Only where code generation is surely allowed
 * (Node, Deno, Bun): workerd and pages with a CSP forbid it.
 */
let codegen = false;

/** The wasm memory, and views of it (remade when it grows). */
let memory = null;
let memBuffer = null;
let f64 = null;
let u32 = null;
let u8 = null;

/** Called once by `bind` with the wasm bindings. */
export function bindResults(wasm, options) {
  memory = wasm.bindRows(buildPacket);
  if (options.codegen) codegen = true;
}

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

/** The columns of a `name\0oid\0type\0table\0column\0modifier\0…` string. */
function columnsOf(key) {
  const parts = key.split('\0');
  const names = [];
  const oids = [];
  const types = [];
  const tables = [];
  const columns = [];
  const modifiers = [];
  for (let i = 0; i + 5 < parts.length; i += 6) {
    names.push(parts[i]);
    oids.push(Number(parts[i + 1]));
    types.push(parts[i + 2]);
    tables.push(Number(parts[i + 3]));
    columns.push(Number(parts[i + 4]));
    modifiers.push(Number(parts[i + 5]));
  }
  return { names, oids, types, tables, columns, modifiers, proto: names.includes('__proto__'), make: undefined };
}

/**
 * Called by the wasm when a statement completes (`Packet::finish`): builds
 * its rows from the text, the cells and the vectors at `nptr` (f64 numbers),
 * `lptr` (u32 string lengths) and `kptr` (u8 kinds) in the wasm memory,
 * which are freed once this returns. Never throws (it runs inside the wasm):
 * a failure is kept and fails the query (see `Results`). `arrays` asks for
 * rows as arrays in column order (`rowMode: 'array'`).
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

/** `pg_type.typlen` of the built-in types (node-postgres' `dataTypeSize`). */
const TYPLEN = {
  16: 1, 17: -1, 18: 1, 19: 64, 20: 8, 21: 2, 23: 4, 24: 4, 25: -1, 26: 4, 27: 6, 28: 4, 29: 4,
  114: -1, 142: -1, 600: 16, 601: 32, 602: -1, 603: 32, 604: -1, 628: 24, 650: -1, 700: 4,
  701: 8, 705: -2, 718: 24, 774: 8, 790: 8, 829: 6, 869: -1, 1042: -1, 1043: -1, 1082: 4,
  1083: 8, 1114: 8, 1184: 8, 1186: 16, 1266: 12, 1560: -1, 1562: -1, 1700: -1, 1790: -1,
  2202: 4, 2203: 4, 2204: 4, 2205: 4, 2206: 4, 2249: -1, 2275: -2, 2278: 4, 2950: 16,
  2970: -1, 3220: 8, 3614: -1, 3615: -1, 3734: 4, 3769: 4, 3802: -1, 4089: 4, 4096: 4,
  5038: -1,
};

/**
 * The fields of node-postgres for columns `cols`. `format` is 'text': values
 * reach type parsers in PostgreSQL's text form, as with node-postgres.
 * `dataTypeSize` is -1 for types outside the built-in table (user-defined).
 */
function fieldsOf(cols) {
  const { names, oids, types, tables, columns, modifiers } = cols;
  return names.map((name, i) => ({
    name,
    tableID: tables[i],
    columnID: columns[i],
    dataTypeID: oids[i],
    dataTypeSize: TYPLEN[oids[i]] ?? -1,
    dataTypeModifier: modifiers[i],
    format: 'text',
    dataType: types[i],
  }));
}

/**
 * Tags read lately: most statements repeat a handful (`SELECT 1`, `INSERT 0 1`),
 * and reading one afresh costs a regex match and two arrays.
 */
const tags = new Map();

/** node-postgres' reading of a command tag: `[command, rowCount, oid]` (shared: do not modify). */
function tagOf(status) {
  let tag = tags.get(status);
  if (tag === undefined) {
    if (tags.size >= 512) tags.clear();
    tag = parseTag(status);
    tags.set(status, tag);
  }
  return tag;
}

function parseTag(status) {
  const m = /^([A-Za-z]+)(?: (\d+))?(?: (\d+))?/.exec(status);
  if (m === null) return [null, null, null];
  const command = m[1];
  if (m[3] !== undefined) return [command, Number(m[3]), Number(m[2])];
  if (m[2] !== undefined) return [command, Number(m[2]), null];
  return [command, null, null];
}

/**
 * The results of one statement: rows (plain objects, or arrays with
 * `rowMode: 'array'`), fields, the command tag, the count. `free()` drops
 * everything.
 */
export class Results {
  #cols;
  #rows;
  #fields = null;

  /** `parsers(cols)`: per-column type parsers for text columns (or null). */
  constructor(packet, sql, arrays = false, parsers = null) {
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
    // Own fields, as node-postgres' Result has them: `{ ...result }` keeps them.
    const [command, rowCount, oid] = tagOf(this.status);
    /** node-postgres' command: 'SELECT', 'INSERT', 'UPDATE', 'DELETE', 'CREATE', … */
    this.command = command;
    /** node-postgres' rowCount: from the tag; null for commands without a count. */
    this.rowCount = rowCount;
    /** The OID of an inserted row (the tag's, 0 nowadays); null for other commands. */
    this.oid = oid;
    /** Whether rows are arrays (`rowMode: 'array'`). */
    this.rowAsArray = arrays;
    if (parsers !== null && this.#rows.length > 0) applyParsers(this.#rows, this.#cols, arrays, parsers);
  }

  #check() {
    if (this.#rows === null) throw interfaceError('these results were freed');
  }

  /** `[{ name, tableID, columnID, dataTypeID, dataTypeSize, dataTypeModifier, format, dataType }]`. */
  get fields() {
    this.#check();
    if (this.#fields === null) this.#fields = fieldsOf(this.#cols);
    return this.#fields;
  }

  /** Every row as an object keyed by column name (or an array, `rowMode: 'array'`). */
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
    this.#rows = null;
    this.#fields = null;
  }
}

/** Runs the type parsers over the text columns of `rows`, in place. */
function applyParsers(rows, cols, arrays, parsers) {
  const chosen = parsers(cols);
  if (chosen === null) return;
  const { names } = cols;
  for (let c = 0; c < names.length; c++) {
    const parse = chosen[c];
    if (typeof parse !== 'function') continue;
    const key = arrays ? c : names[c];
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i];
      const v = row[key];
      if (v !== null && v !== undefined) row[key] = parse(v);
    }
  }
}
