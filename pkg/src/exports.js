// What every entry point exports besides its transports.
export { Pool, Session, Results, Transaction, PoolClient, webSocket, describeEnv, diagnostics } from './api.js';
export {
  DatabaseError, InterfaceError, DataError, IntegrityError, ProgrammingError, NotSupportedError,
  QueryCanceledError, TransactionRollbackError, OperationalError, InternalError, ConnectionLostError,
  PoolFullError, PoolTimeoutError, PoolClosedError, DatabaseNotAvailableError, PartiallyConnectedError,
} from './errors.js';
