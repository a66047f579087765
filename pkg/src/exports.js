// What every entry point exports besides its transports.
import { Pool, Client, Session, Transaction, PoolClient, webSocket, describeEnv, diagnostics, escapeIdentifier, escapeLiteral } from './api.js';
import { Results } from './results.js';
import { Cursor } from './cursor.js';
import { types } from './types.js';
import { http } from './http.js';
import {
  DatabaseError, InterfaceError, DataError, IntegrityError, ProgrammingError, NotSupportedError,
  QueryCanceledError, TransactionRollbackError, OperationalError, InternalError, ConnectionLostError,
  PoolFullError, PoolTimeoutError, PoolClosedError, DatabaseNotAvailableError, PartiallyConnectedError,
} from './errors.js';

export {
  Pool, Client, Session, Results, Transaction, PoolClient, Cursor, types, escapeIdentifier, escapeLiteral,
  webSocket, describeEnv, diagnostics, http,
  DatabaseError, InterfaceError, DataError, IntegrityError, ProgrammingError, NotSupportedError,
  QueryCanceledError, TransactionRollbackError, OperationalError, InternalError, ConnectionLostError,
  PoolFullError, PoolTimeoutError, PoolClosedError, DatabaseNotAvailableError, PartiallyConnectedError,
};

/** `import pg from 'edgepg'`, as with node-postgres' default export. */
export default {
  Pool, Client, Session, Results, Transaction, PoolClient, Cursor, types, escapeIdentifier, escapeLiteral,
  webSocket, DatabaseError,
};
