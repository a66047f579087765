// node-postgres' `types` (pg-types): `builtins`, `setTypeParser`,
// `getTypeParser`. A parser registered here, or given per query as
// `types: { getTypeParser }`, receives PostgreSQL's text form of a value, as
// with node-postgres. Without one, edgepg's own lossless mapping applies
// (SPEC §7); `getTypeParser` of a type nobody overrode returns a text parser
// that gives the same values as that mapping.

import { interfaceError } from './errors.js';

/** Type OIDs by name, as pg-types' `builtins`. */
export const builtins = Object.freeze({
  BOOL: 16, BYTEA: 17, CHAR: 18, INT8: 20, INT2: 21, INT4: 23, REGPROC: 24, TEXT: 25, OID: 26,
  TID: 27, XID: 28, CID: 29, JSON: 114, XML: 142, PG_NODE_TREE: 194, SMGR: 210, PATH: 602,
  POLYGON: 604, CIDR: 650, FLOAT4: 700, FLOAT8: 701, ABSTIME: 702, RELTIME: 703,
  TINTERVAL: 704, CIRCLE: 718, MACADDR8: 774, MONEY: 790, MACADDR: 829, INET: 869,
  ACLITEM: 1033, BPCHAR: 1042, VARCHAR: 1043, DATE: 1082, TIME: 1083, TIMESTAMP: 1114,
  TIMESTAMPTZ: 1184, INTERVAL: 1186, TIMETZ: 1266, BIT: 1560, VARBIT: 1562, NUMERIC: 1700,
  REFCURSOR: 1790, REGPROCEDURE: 2202, REGOPER: 2203, REGOPERATOR: 2204, REGCLASS: 2205,
  REGTYPE: 2206, UUID: 2950, TXID_SNAPSHOT: 2970, PG_LSN: 3220, PG_NDISTINCT: 3361,
  PG_DEPENDENCIES: 3402, TSVECTOR: 3614, TSQUERY: 3615, GTSVECTOR: 3642, REGCONFIG: 3734,
  REGDICTIONARY: 3769, JSONB: 3802, REGNAMESPACE: 4089, REGROLE: 4096,
});

/** Parsers set with `setTypeParser`, by format then OID. */
const overrides = { text: new Map(), binary: new Map() };
/** The OIDs with a text parser set, for the wasm (which sends those columns as text). */
let overriddenOids = null;

const identity = (v) => v;

/** `\x0102` → Uint8Array. */
function parseBytea(v) {
  if (!v.startsWith('\\x')) return new TextEncoder().encode(v);
  const out = new Uint8Array((v.length - 2) >> 1);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(v.substr(2 + 2 * i, 2), 16);
  return out;
}

/** timestamptz text (`2024-01-02 03:04:05.123456+00`, `… BC`, `infinity`) → Date. */
function parseTimestamptz(v) {
  if (v === 'infinity') return Infinity;
  if (v === '-infinity') return -Infinity;
  const m = /^(\d{4,})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)(\.\d+)?([+-]\d\d)(?::?(\d\d))?(?::?(\d\d))?( BC)?$/.exec(v);
  if (m === null) return v;
  let year = Number(m[1]);
  if (m[11]) year = 1 - year;
  const ms = m[7] ? Math.floor(Number(m[7]) * 1000) : 0;
  const sign = m[8][0] === '-' ? -1 : 1;
  const offset = sign * (Math.abs(Number(m[8])) * 3600 + Number(m[9] ?? 0) * 60 + Number(m[10] ?? 0));
  const t = Date.UTC(year, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]), ms);
  const d = new Date(t - offset * 1000);
  // Date.UTC maps years 0–99 to 1900–1999.
  if (year >= 0 && year < 100) d.setUTCFullYear(d.getUTCFullYear() - 1900);
  return d;
}

/**
 * Parses PostgreSQL's array text (`{1,NULL,"a b"}`, nested, with an optional
 * `[1:2]=` bounds prefix) with `element` for each non-null element.
 */
export function parseArray(text, element = identity, delimiter = ',') {
  let i = 0;
  if (text[0] === '[') {
    const eq = text.indexOf('=');
    if (eq > 0) i = eq + 1;
  }
  const parse = () => {
    if (text[i] !== '{') throw interfaceError(`not an array literal: ${text}`);
    i++;
    const out = [];
    if (text[i] === '}') {
      i++;
      return out;
    }
    for (;;) {
      if (text[i] === '{') {
        out.push(parse());
      } else if (text[i] === '"') {
        let s = '';
        for (i++; i < text.length && text[i] !== '"'; i++) {
          if (text[i] === '\\') i++;
          s += text[i];
        }
        i++;
        out.push(element(s));
      } else {
        let j = i;
        while (j < text.length && text[j] !== delimiter && text[j] !== '}') j++;
        const s = text.slice(i, j);
        i = j;
        out.push(s === 'NULL' ? null : element(s));
      }
      if (text[i] === delimiter) {
        i++;
        continue;
      }
      if (text[i] === '}') {
        i++;
        return out;
      }
      throw interfaceError(`malformed array literal: ${text}`);
    }
  };
  return parse();
}

const number = (v) => Number(v);
const bool = (v) => v === 't' || v === 'true';

/**
 * Text parsers by OID: `scalars` ([oid, parse]), arrays ([array oid,
 * element oid or element parser]), and arrays whose elements stay strings.
 */
function parserTable(scalars, arraysOf, textArrays) {
  const table = new Map(scalars);
  for (const [array, element] of arraysOf) {
    const parse = typeof element === 'function' ? element : table.get(element);
    table.set(array, (v) => parseArray(v, parse));
  }
  for (const array of textArrays) table.set(array, (v) => parseArray(v));
  return table;
}

/** edgepg's mapping (SPEC §7 defaults) as text parsers, by OID. */
const defaults = parserTable([
  [16, bool], [17, parseBytea], [20, (v) => BigInt(v)], [21, number], [23, number], [26, number],
  [700, number], [701, number], [114, JSON.parse], [3802, JSON.parse], [1184, parseTimestamptz],
], [
  [1000, 16], [1001, 17], [1016, 20], [1005, 21], [1007, 23], [1028, 26], [1021, 700],
  [1022, 701], [199, 114], [3807, 3802], [1185, 1184],
], [1009, 1015, 1014, 1002, 1003, 1231, 1182, 1183, 1115, 1187, 1270, 2951, 1041, 651, 1040]);

function checkOid(oid) {
  if (!Number.isInteger(oid) || oid < 0 || oid > 0xffffffff) {
    throw interfaceError(`a type OID must be a non-negative integer, not ${String(oid)}`);
  }
}

/**
 * Sets the parser of a type for every pool and client: `setTypeParser(oid,
 * fn)` or `setTypeParser(oid, 'text' | 'binary', fn)`. Values reach text
 * parsers in PostgreSQL's text form; edgepg never hands parsers binary data,
 * so 'binary' parsers are kept (for `getTypeParser`) but not called.
 */
export function setTypeParser(oid, format, parser) {
  if (typeof format === 'function') {
    parser = format;
    format = 'text';
  }
  checkOid(oid);
  if (format !== 'text' && format !== 'binary') throw interfaceError("a parser's format is 'text' or 'binary'");
  if (typeof parser !== 'function') throw interfaceError('setTypeParser needs a function');
  overrides[format].set(oid, parser);
  if (format === 'text') overriddenOids = Uint32Array.from(overrides.text.keys());
}

/**
 * A `types` object over `table`: `getTypeParser` gives the parser set with
 * `setTypeParser` (shared by every `types`), else `table`'s, else the identity.
 */
function typesOver(table) {
  const getTypeParser = (oid, format = 'text') => {
    const set = overrides[format === 'binary' ? 'binary' : 'text'].get(oid);
    if (set !== undefined) return set;
    return table.get(oid) ?? identity;
  };
  return Object.freeze({
    builtins,
    setTypeParser,
    getTypeParser,
    arrayParser: { create: (text, parse) => ({ parse: () => parseArray(text, parse) }) },
  });
}

/** node-postgres' `types` export, with edgepg's own values. */
export const types = typesOver(defaults);

/** The parser of a type, as `types.getTypeParser`. */
export const getTypeParser = types.getTypeParser;

/** The OIDs with a global text parser (`Uint32Array`), or null. */
export function overriddenTypes() {
  return overriddenOids;
}

/** The global text parsers for columns `cols`, by column (null where none). */
export function globalParsers(cols) {
  let any = false;
  const out = cols.oids.map((oid) => {
    const p = overrides.text.get(oid);
    if (p !== undefined) any = true;
    return p ?? null;
  });
  return any ? out : null;
}

/** `2024-01-02` or `2024-01-02 03:04:05.678` as a local-time Date (pg-types' date and timestamp). */
function parseLocal(v) {
  const m = /^(\d{4,})-(\d\d)-(\d\d)(?: (\d\d):(\d\d):(\d\d)(\.\d+)?)?( BC)?$/.exec(v);
  if (m === null) return v === 'infinity' ? Infinity : v === '-infinity' ? -Infinity : v;
  let year = Number(m[1]);
  if (m[8]) year = 1 - year;
  const ms = m[7] ? Math.floor(Number(m[7]) * 1000) : 0;
  const d = new Date(year, Number(m[2]) - 1, Number(m[3]), Number(m[4] ?? 0), Number(m[5] ?? 0), Number(m[6] ?? 0), ms);
  if (year >= 0 && year < 100) d.setFullYear(year);
  return d;
}

/**
 * node-postgres' own values (pg-types' text parsers): int8 and numeric as
 * strings (numeric[] as floats, as pg-types has it), date/timestamp as local
 * Dates, for code written against `pg` (`edgepg/pg`). bytea is a Uint8Array
 * where pg has a Buffer; interval stays PostgreSQL's text.
 */
const pgDefaults = parserTable([
  [16, bool], [17, parseBytea], [21, number], [23, number], [26, number], [700, number], [701, number],
  [114, JSON.parse], [3802, JSON.parse], [1082, parseLocal], [1114, parseLocal], [1184, parseTimestamptz],
], [
  [1000, 16], [1001, 17], [1005, 21], [1007, 23], [1028, 26], [1021, 700], [1022, 701], [199, 114],
  [3807, 3802], [1182, 1082], [1115, 1114], [1185, 1184], [1231, number],
], [1009, 1015, 1014, 1002, 1003, 1016, 1183, 1187, 1270, 2951, 1041, 651, 1040]);

/** pg's `types`: `setTypeParser` shared with edgepg's, defaults as node-postgres has them. */
export const pgTypes = typesOver(pgDefaults);

/** Per-column parsers from a `{ getTypeParser(oid, format) }` object. */
export function parsersFrom(typesObject) {
  return (cols) => cols.oids.map((oid) => {
    const p = typesObject.getTypeParser(oid, 'text');
    return typeof p === 'function' ? p : identity;
  });
}
