// `edgepg/pg`: edgepg with node-postgres' values (int8 and numeric as strings,
// dates as local Dates), for code that imports `pg` itself.
import { Pool, Client, Cursor, DatabaseError, escapeIdentifier, escapeLiteral, types } from './index.js';

export {
  Pool, Client, Cursor, Results, DatabaseError, escapeIdentifier, escapeLiteral, webSocket, Session, Transaction,
  PoolClient, types,
} from './index.js';

declare const pg: {
  Pool: typeof Pool;
  Client: typeof Client;
  Cursor: typeof Cursor;
  DatabaseError: typeof DatabaseError;
  escapeIdentifier: typeof escapeIdentifier;
  escapeLiteral: typeof escapeLiteral;
  types: typeof types;
};
export default pg;
