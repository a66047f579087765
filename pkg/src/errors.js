// Error classes (SPEC §6, §9): every error edgepg raises is a DatabaseError,
// of the subclass named after its kind, carrying the server's fields.

const FIELDS = [
  'kind', 'code', 'severity', 'detail', 'hint', 'position', 'schema', 'table',
  'column', 'constraint', 'dataType', 'where', 'serverMessage', 'connected', 'failed',
];

export class DatabaseError extends Error {
  constructor(message, fields = {}) {
    super(message, fields.cause === undefined ? undefined : { cause: fields.cause });
    this.name = new.target.name;
    this.kind = 'Database';
    for (const key of FIELDS) {
      if (fields[key] !== undefined) this[key] = fields[key];
    }
  }
}

/** Misuse of the API or a bad configuration, detected client-side. */
export class InterfaceError extends DatabaseError {}
/** SQLSTATE class 22. */
export class DataError extends DatabaseError {}
/** SQLSTATE class 23. */
export class IntegrityError extends DatabaseError {}
/** SQLSTATE classes 42, 26, 34, 3D, 3F. */
export class ProgrammingError extends DatabaseError {}
/** SQLSTATE class 0A. */
export class NotSupportedError extends DatabaseError {}
/** SQLSTATE 57014. */
export class QueryCanceledError extends DatabaseError {}
/** SQLSTATE class 40. */
export class TransactionRollbackError extends DatabaseError {}
/** SQLSTATE classes 08, 28, 53, 54, 55, 57, 58, and connect failures. */
export class OperationalError extends DatabaseError {}
/** SQLSTATE classes XX, 25, P0. */
export class InternalError extends DatabaseError {}
/** The connection broke while a statement may have run; it was not retried. */
export class ConnectionLostError extends OperationalError {}
/** The pool is at `max` and `acquireTimeoutMillis` is 0. */
export class PoolFullError extends OperationalError {}
/** No connection became available within `acquireTimeoutMillis`. */
export class PoolTimeoutError extends OperationalError {}
/** The pool was ended. */
export class PoolClosedError extends OperationalError {}
/** No connection to the server can be made right now. */
export class DatabaseNotAvailableError extends OperationalError {}
/** `open()` could open only some of `min` connections. */
export class PartiallyConnectedError extends OperationalError {}

const BY_KIND = {
  Interface: InterfaceError,
  Data: DataError,
  Integrity: IntegrityError,
  Programming: ProgrammingError,
  NotSupported: NotSupportedError,
  QueryCanceled: QueryCanceledError,
  TransactionRollback: TransactionRollbackError,
  Operational: OperationalError,
  Internal: InternalError,
  Database: DatabaseError,
  ConnectionLost: ConnectionLostError,
  PoolFull: PoolFullError,
  PoolTimeout: PoolTimeoutError,
  PoolClosed: PoolClosedError,
  DatabaseNotAvailable: DatabaseNotAvailableError,
  PartiallyConnected: PartiallyConnectedError,
};

/** Turns an error thrown by the wasm module into its class; others pass through. */
export function toError(e) {
  if (e instanceof DatabaseError) return e;
  if (e !== null && typeof e === 'object' && typeof e.kind === 'string' && e.kind in BY_KIND) {
    const Class = BY_KIND[e.kind];
    const fields = {};
    for (const key of FIELDS) if (e[key] !== undefined) fields[key] = e[key];
    if (e.cause !== undefined) fields.cause = toError(e.cause);
    const err = new Class(e.message, fields);
    err.kind = e.kind;
    return err;
  }
  if (typeof WebAssembly !== 'undefined' && e instanceof WebAssembly.RuntimeError) {
    return new InternalError(`edgepg: the WebAssembly instance failed: ${e.message}`, { cause: e });
  }
  return e;
}

/**
 * What an aborted call rejects with: named `AbortError` (as `fetch` rejects),
 * the signal's reason as its `cause`.
 */
export function abortError(signal) {
  const reason = signal?.reason;
  const e = new Error('the query was aborted', reason === undefined ? undefined : { cause: reason });
  e.name = 'AbortError';
  e.code = 'ABORT_ERR';
  return e;
}

export function interfaceError(message) {
  const e = new InterfaceError(message);
  e.kind = 'Interface';
  return e;
}
