// `edgepg/pg`: edgepg shaped and valued as node-postgres, for code that
// imports `pg` itself (alias `pg` to `edgepg/pg` in the bundler, or with a
// Node resolve hook): @prisma/adapter-pg, pg-based libraries. Pools and
// clients return pg's values (int8 and numeric as strings, dates as local
// Dates) through `types`, which is pg's; everything else is edgepg's.
import * as edgepg from 'edgepg';
import { pgTypes } from './types.js';

/** `options` with pg's types unless the caller brought their own. */
function withPgTypes(options) {
  if (typeof options === 'string') return { connectionString: options, types: pgTypes };
  return { types: pgTypes, ...(options ?? {}) };
}

/** edgepg's Pool with node-postgres' values. */
export class Pool extends edgepg.Pool {
  constructor(options) {
    super(withPgTypes(options));
  }
}

/** edgepg's Client with node-postgres' values. */
export class Client extends edgepg.Client {
  constructor(options) {
    super(withPgTypes(options));
  }
}

export const types = pgTypes;
export {
  Cursor, Results, DatabaseError, escapeIdentifier, escapeLiteral, webSocket, Session, Transaction, PoolClient,
} from 'edgepg';

/** `import pg from 'edgepg/pg'`, as `import pg from 'pg'`. */
export default {
  Pool, Client, types, Cursor: edgepg.Cursor, DatabaseError: edgepg.DatabaseError,
  escapeIdentifier: edgepg.escapeIdentifier, escapeLiteral: edgepg.escapeLiteral,
};
