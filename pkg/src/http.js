// SQL over HTTP: one-shot queries through edgepg-proxy's (or Neon's) `POST
// /sql` endpoint, on `fetch`, so they run in every runtime without a socket
// or a WebSocket. Values come back as PostgreSQL text and are mapped as
// everywhere else in the package (types.js: int8 → bigint, numeric → string,
// timestamptz → Date, bytea → Uint8Array, json → parsed); errors are the
// package's classes (errors.js), chosen by SQLSTATE (SPEC §6).
//
//   import { http } from 'edgepg';
//   const sql = http('postgresql://u:p@db:5432/app', { endpoint: 'https://proxy.example/sql' });
//   const rows = await sql`SELECT ${id}::int AS id`;
//   const rows2 = await sql.query('SELECT $1::text AS t', ['x']);
//   const [a, b] = await sql.transaction([sql`INSERT …`, sql`SELECT …`], { isolationLevel: 'Serializable' });

import {
  DatabaseError, InterfaceError, DataError, IntegrityError, ProgrammingError, NotSupportedError,
  QueryCanceledError, TransactionRollbackError, OperationalError, InternalError, DatabaseNotAvailableError,
  PoolTimeoutError, interfaceError,
} from './errors.js';
import { getTypeParser } from './types.js';

/** The error class of a SQLSTATE (SPEC §6) and its kind name. */
function classOf(code) {
  if (typeof code !== 'string' || code.length !== 5) return [DatabaseError, 'Database'];
  const cls = code.slice(0, 2);
  if (code === '57014') return [QueryCanceledError, 'QueryCanceled'];
  switch (cls) {
    case '22': return [DataError, 'Data'];
    case '23': return [IntegrityError, 'Integrity'];
    case '42': case '26': case '34': case '3D': case '3F': return [ProgrammingError, 'Programming'];
    case '0A': return [NotSupportedError, 'NotSupported'];
    case '40': return [TransactionRollbackError, 'TransactionRollback'];
    case '08': case '28': case '53': case '54': case '55': case '57': case '58': return [OperationalError, 'Operational'];
    case 'XX': case '25': case 'P0': return [InternalError, 'Internal'];
    default: return [DatabaseError, 'Database'];
  }
}

function makeError(Class, kind, message, fields = {}) {
  const e = new Class(message, fields);
  e.kind = kind;
  return e;
}

/** The error of a failed response. */
async function responseError(res) {
  const text = await res.text().catch(() => '');
  let body = null;
  try {
    body = JSON.parse(text);
  } catch {
    body = null;
  }
  const message = (body && typeof body.message === 'string' ? body.message : text.trim()) || `HTTP ${res.status}`;
  if (body && typeof body.code === 'string') {
    const [Class, kind] = classOf(body.code);
    const fields = { code: body.code };
    for (const key of ['severity', 'detail', 'hint', 'schema', 'table', 'column', 'constraint', 'dataType', 'where']) {
      if (body[key] !== null && body[key] !== undefined) fields[key] = body[key];
    }
    if (body.position !== null && body.position !== undefined) fields.position = Number(body.position);
    return makeError(Class, kind, message, fields);
  }
  if (res.status === 503 && /busy|pool/.test(message)) return makeError(PoolTimeoutError, 'PoolTimeout', message);
  if (res.status >= 500) return makeError(DatabaseNotAvailableError, 'DatabaseNotAvailable', `${message} (HTTP ${res.status})`);
  if (res.status === 403) return makeError(OperationalError, 'Operational', `${message} (HTTP 403)`);
  return makeError(InterfaceError, 'Interface', `${message} (HTTP ${res.status})`);
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** A parameter in PostgreSQL's text form (as node-postgres' prepareValue), or null. */
function prepareValue(v, seen = new Set()) {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string') return v;
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'number' || typeof v === 'bigint') return String(v);
  if (v instanceof Uint8Array) {
    let s = '\\x';
    for (let i = 0; i < v.length; i++) s += HEX[v[i]];
    return s;
  }
  if (v instanceof Date) {
    if (Number.isNaN(v.getTime())) throw interfaceError('an invalid Date cannot be a parameter');
    return v.toISOString();
  }
  if (Array.isArray(v)) return arrayLiteral(v, seen);
  if (typeof v === 'object') {
    if (seen.has(v)) throw interfaceError('a parameter holds a cycle');
    return JSON.stringify(v);
  }
  throw interfaceError(`a parameter of type ${typeof v} cannot be sent`);
}

function arrayLiteral(items, seen) {
  if (seen.has(items)) throw interfaceError('a parameter holds a cycle');
  seen.add(items);
  const parts = items.map((e) => {
    if (e === null || e === undefined) return 'NULL';
    if (Array.isArray(e)) return arrayLiteral(e, seen);
    const text = prepareValue(e, seen);
    return '"' + text.replace(/\\/g, '\\\\').replace(/"/g, '\\"') + '"';
  });
  seen.delete(items);
  return '{' + parts.join(',') + '}';
}

/** A statement, run when awaited (or sent as part of `transaction()`). */
class HttpQuery {
  #run;
  #promise = null;

  constructor(run, query, params, opts) {
    this.#run = run;
    /** `{ query, params }` as sent. */
    this.queryData = { query, params };
    /** Per-query options: `arrayMode`, `fullResults`, `types`. */
    this.opts = opts;
  }

  #execute() {
    if (this.#promise === null) this.#promise = this.#run(this.queryData, this.opts);
    return this.#promise;
  }

  then(resolve, reject) {
    return this.#execute().then(resolve, reject);
  }

  catch(reject) {
    return this.#execute().catch(reject);
  }

  finally(f) {
    return this.#execute().finally(f);
  }

  get [Symbol.toStringTag]() {
    return 'HttpQuery';
  }
}

/** Rows (or full results) from one statement's JSON. */
function shape(result, opts) {
  if (result === null || typeof result !== 'object' || !Array.isArray(result.fields) || !Array.isArray(result.rows)) {
    throw makeError(InterfaceError, 'Interface', 'the SQL endpoint answered with an unexpected result');
  }
  const typesObject = opts.types;
  const parsers = result.fields.map((f) => {
    const p = typesObject ? typesObject.getTypeParser(f.dataTypeID, 'text') : getTypeParser(f.dataTypeID);
    return typeof p === 'function' ? p : (v) => v;
  });
  const names = result.fields.map((f) => f.name);
  const rows = result.rows.map((raw) => {
    const values = Array.isArray(raw) ? raw : names.map((n) => raw[n]);
    const parsed = values.map((v, i) => (v === null || v === undefined ? null : parsers[i](v)));
    if (opts.arrayMode) return parsed;
    const row = {};
    for (let i = 0; i < names.length; i++) {
      if (names[i] === '__proto__') {
        Object.defineProperty(row, '__proto__', { value: parsed[i], enumerable: true, writable: true, configurable: true });
      } else {
        row[names[i]] = parsed[i];
      }
    }
    return row;
  });
  if (!opts.fullResults) return rows;
  return {
    command: result.command ?? null,
    rowCount: result.rowCount ?? null,
    rows,
    fields: result.fields,
    rowAsArray: Boolean(opts.arrayMode),
  };
}

/** The `/sql` endpoint for a connection string when none is given: `https://HOST/sql`. */
function defaultEndpoint(connectionString) {
  try {
    const u = new URL(connectionString.replace(/^postgres(ql)?:/, 'http:'));
    return `https://${u.hostname}/sql`;
  } catch {
    throw interfaceError('http(): the connection string is not a valid URL');
  }
}

const ISOLATION = {
  ReadUncommitted: 'ReadUncommitted', ReadCommitted: 'ReadCommitted', RepeatableRead: 'RepeatableRead', Serializable: 'Serializable',
  'read uncommitted': 'ReadUncommitted', 'read committed': 'ReadCommitted', 'repeatable read': 'RepeatableRead', serializable: 'Serializable',
};

/**
 * A one-shot SQL client over HTTP. `options`: `endpoint` (the proxy's
 * `…/sql` URL; default `https://HOST/sql`), `fetch` (default the global),
 * `fetchOptions` (merged into every request), `arrayMode`, `fullResults`,
 * `types` (`{ getTypeParser }`).
 */
export function http(connectionString, options = {}) {
  if (typeof connectionString !== 'string' || !/^postgres(ql)?:\/\//.test(connectionString)) {
    throw interfaceError('http() needs a postgresql:// connection string');
  }
  const endpoint = options.endpoint ?? defaultEndpoint(connectionString);
  const doFetch = options.fetch ?? globalThis.fetch;
  if (typeof doFetch !== 'function') throw interfaceError('http() needs fetch (pass options.fetch)');
  const base = { arrayMode: options.arrayMode ?? false, fullResults: options.fullResults ?? false, types: options.types };

  async function send(body, headers, fetchOptions) {
    let res;
    try {
      res = await doFetch(endpoint, {
        method: 'POST',
        ...options.fetchOptions,
        ...fetchOptions,
        headers: {
          'Content-Type': 'application/json',
          'Neon-Connection-String': connectionString,
          'Neon-Raw-Text-Output': 'true',
          'Neon-Array-Mode': 'true',
          ...headers,
        },
        body: JSON.stringify(body),
      });
    } catch (e) {
      throw makeError(DatabaseNotAvailableError, 'DatabaseNotAvailable', `cannot reach the SQL endpoint ${endpoint}: ${e?.message ?? e}`, { cause: e });
    }
    if (!res.ok) throw await responseError(res);
    try {
      return await res.json();
    } catch (e) {
      throw makeError(InterfaceError, 'Interface', `the SQL endpoint answered with invalid JSON: ${e?.message ?? e}`, { cause: e });
    }
  }

  const run = async (queryData, opts) => {
    const result = await send(queryData, {}, opts?.fetchOptions);
    return shape(result, { ...base, ...opts });
  };

  const query = (text, params = [], opts = undefined) => {
    if (typeof text !== 'string') throw interfaceError('sql.query(text, params) needs SQL text');
    if (!Array.isArray(params)) throw interfaceError('sql.query(text, params): params must be an array');
    return new HttpQuery(run, text, params.map((p) => prepareValue(p)), opts ?? {});
  };

  function sql(strings, ...values) {
    if (!Array.isArray(strings) || !Array.isArray(strings.raw)) {
      throw interfaceError('sql is a tagged template (sql`SELECT ${x}`); use sql.query(text, params) for text and parameters');
    }
    let text = strings[0];
    for (let i = 0; i < values.length; i++) text += '$' + (i + 1) + strings[i + 1];
    return query(text, values);
  }

  sql.query = query;

  /**
   * Runs the queries in one transaction (any failure rolls back all of them);
   * `opts`: `isolationLevel` ('ReadCommitted', 'RepeatableRead',
   * 'Serializable', …), `readOnly`, `deferrable`, `arrayMode`, `fullResults`.
   * Resolves to one result per query.
   */
  sql.transaction = async (queries, opts = {}) => {
    if (typeof queries === 'function') queries = queries(sql);
    if (!Array.isArray(queries) || !queries.every((q) => q instanceof HttpQuery)) {
      throw interfaceError('transaction() takes an array of sql`…` or sql.query(…) queries');
    }
    const headers = {};
    if (opts.isolationLevel !== undefined) {
      const level = ISOLATION[opts.isolationLevel];
      if (level === undefined) throw interfaceError(`unknown isolationLevel ${String(opts.isolationLevel)}`);
      headers['Neon-Batch-Isolation-Level'] = level;
    }
    if (opts.readOnly !== undefined) headers['Neon-Batch-Read-Only'] = String(Boolean(opts.readOnly));
    if (opts.deferrable !== undefined) headers['Neon-Batch-Deferrable'] = String(Boolean(opts.deferrable));
    const body = await send({ queries: queries.map((q) => q.queryData) }, headers, opts.fetchOptions);
    if (!body || !Array.isArray(body.results) || body.results.length !== queries.length) {
      throw makeError(InterfaceError, 'Interface', 'the SQL endpoint answered a batch with an unexpected result');
    }
    const shared = { arrayMode: opts.arrayMode, fullResults: opts.fullResults };
    for (const k of Object.keys(shared)) if (shared[k] === undefined) delete shared[k];
    return body.results.map((r, i) => shape(r, { ...base, ...shared, ...queries[i].opts }));
  };

  return sql;
}
