// Type declarations for the `edgepg` package: PostgreSQL for browsers, Node,
// Deno, Bun and Cloudflare Workers. Query methods are generic over the row
// type: `pool.query<{ id: number; name: string }>('SELECT id, name FROM t')`.

/** How a pool reaches PostgreSQL. */
export type Transport = WebSocketTransport | SocketTransport | SocketFactory;

/** Through a WebSocket proxy (edgepg-proxy, Neon's wsproxy); see {@link webSocket}. */
export interface WebSocketTransport {
  readonly proxy: string;
  readonly WebSocket?: WebSocketConstructor;
}

/** Any constructor with the browser `WebSocket` shape (e.g. the `ws` package). */
export type WebSocketConstructor = new (url: string) => unknown;

/** A socket made of Web streams, as `cloudflare:sockets` and `Deno.connect` return. */
export interface Socket {
  readable: ReadableStream<Uint8Array>;
  writable: WritableStream<Uint8Array>;
  /** Resolves once connected; a rejection fails the connect. */
  opened?: Promise<unknown>;
  close?(): unknown;
  /** Upgrades to TLS after PostgreSQL accepted SSLRequest; returns the new socket. */
  startTls?(options: StartTlsOptions): Socket | Promise<Socket>;
}

/** What `startTls` receives. */
export interface StartTlsOptions {
  hostname: string;
  servername: string;
  expectedServerHostname: string;
  sslmode: 'require' | 'verify-ca' | 'verify-full';
  sslrootcert?: string;
}

/** `(host, port) → socket`: plugs in any runtime's TCP API. */
export type SocketFactory = (host: string, port: number) => Socket | Promise<Socket>;

/** A socket transport object (what nodeSocket() and cloudflareSocket() return). */
export interface SocketTransport {
  connect: SocketFactory;
}

/** How values come back (SPEC §7). */
export interface TypeOptions {
  /** int8: `'bigint'` (default), `'number'` (RangeError past 2^53) or `'string'`. */
  int8?: 'bigint' | 'number' | 'string';
  /** numeric: exact `'string'` (default) or `'number'`. */
  numeric?: 'string' | 'number';
  /** timestamptz: `'date'` (default) or the exact `'string'`. */
  timestamptz?: 'date' | 'string';
  /** timestamp (no time zone): the exact `'string'` (default) or `'date'` (read as UTC). */
  timestamp?: 'string' | 'date';
}

export interface PoolOptions {
  /** `postgresql://user:password@host:5432/db?sslmode=…` or `host=… dbname=…`. */
  connectionString?: string;
  host?: string;
  port?: number;
  user?: string;
  password?: string;
  database?: string;
  applicationName?: string;
  /**
   * `'password'` sends the password with the startup message, saving a round
   * trip on each new connection (like Neon's `pipelineConnect`). Only for
   * servers that ask for a cleartext password (`password` in pg_hba.conf, or
   * a proxy that always does); others fail with an error that says so.
   * Same as `pipeline_connect=password` in the connection string.
   */
  pipelineConnect?: 'password' | false;
  sslmode?: 'disable' | 'allow' | 'prefer' | 'require' | 'verify-ca' | 'verify-full';
  /** Default: nodeSocket() on Node/Deno/Bun, cloudflareSocket() on Workers; required in browsers. */
  transport?: Transport;
  /** Most connections open at once (default 10). */
  max?: number;
  /** Connections kept open (default 0). */
  min?: number;
  /** Idle connections above `min` close after this long (default 10 000). */
  idleTimeoutMillis?: number;
  /** Bound on waiting for a connection; 0 fails at once with PoolFullError (default 30 000). */
  acquireTimeoutMillis?: number;
  /** Connections older than this are replaced when idle (default: never). */
  maxLifetimeMillis?: number;
  /** Bound on one connect attempt (default 10 000). */
  connectionTimeoutMillis?: number;
  /** Client-side limit per statement; past it the statement is cancelled (QueryCanceledError). */
  queryTimeoutMillis?: number;
  /** Retry period while the server is unreachable (default 500). */
  reconnectIntervalMillis?: number;
  /** Prepared statements cached per connection; 0 for PgBouncer transaction mode (default 100). */
  statementCacheSize?: number;
  /** Statements run on every new connection, e.g. `["SET TIME ZONE 'UTC'"]`. */
  setsession?: string[];
  types?: TypeOptions;
  /** Cap on the parameters of one statement, in bytes (default 128 MiB). */
  maxParameterBytes?: number;
}

/** A value that can be sent as a parameter (SPEC §7). */
export type Param =
  | null
  | undefined
  | boolean
  | number
  | bigint
  | string
  | Date
  | Uint8Array
  | ArrayBuffer
  | readonly Param[]
  | { readonly [key: string]: unknown };

/** A result column. */
export interface Field {
  name: string;
  /** The type OID. */
  dataTypeID: number;
  /** The type name (`int4`, `text`, `_int8`, …). */
  dataType: string;
}

/** A row when no row type is given. */
export type Row = Record<string, any>;

/** The results of one statement. Iterable over its rows. */
export declare class Results<R = Row> implements Iterable<R> {
  private constructor();
  /** Every row, as an object keyed by column name. */
  readonly rows: R[];
  readonly fields: Field[];
  /** The command tag: `SELECT 3`, `INSERT 0 1`, … */
  readonly status: string;
  /** Rows returned, or rows affected by INSERT / UPDATE / DELETE. */
  readonly count: number;
  /** node-postgres' name for `count`. */
  readonly rowCount: number;
  /** The number of rows. */
  readonly length: number;
  /** The SQL text. */
  readonly query: string;
  /** Row `i`. */
  get(i: number): R | undefined;
  /** `{}` for no rows, the row for one, an InterfaceError for more. */
  asDict(): R | Record<string, never>;
  /** Releases the rows now (garbage collection does it otherwise). */
  free(): void;
  [Symbol.iterator](): Iterator<R>;
}

/** A statement as node-postgres writes it. */
export interface QueryConfig {
  text: string;
  values?: readonly Param[];
  /** node-postgres' `'array'`: rows as arrays of values in column order. */
  rowMode?: 'array';
}

interface Queryable {
  query<R = Row>(sql: string | QueryConfig, params?: readonly Param[]): Promise<Results<R>>;
  /** Tagged template: sql`SELECT * FROM t WHERE id = ${id}` sends `$1`. */
  sql<R = Row>(strings: TemplateStringsArray, ...values: Param[]): Promise<Results<R>>;
}

/** The transaction handed to `transaction(async (tx) => …)`. */
export declare class Transaction implements Queryable {
  private constructor();
  query<R = Row>(sql: string | QueryConfig, params?: readonly Param[]): Promise<Results<R>>;
  sql<R = Row>(strings: TemplateStringsArray, ...values: Param[]): Promise<Results<R>>;
  savepoint(name: string): Promise<void>;
  /** Rolls back to a savepoint; the transaction is usable again. */
  rollbackTo(name: string): Promise<void>;
}

/** A checked-out connection: `const c = await pool.connect(); try { … } finally { c.release(); }`. */
export declare class PoolClient implements Queryable {
  private constructor();
  query<R = Row>(sql: string | QueryConfig, params?: readonly Param[]): Promise<Results<R>>;
  sql<R = Row>(strings: TemplateStringsArray, ...values: Param[]): Promise<Results<R>>;
  /** Returns the connection to the pool (idempotent). */
  release(): void;
  readonly released: boolean;
}

/** `transaction([...])` statements: SQL, or [SQL, params]. */
export type TransactionStatement = string | readonly [string, readonly Param[]];

export interface PoolStatus {
  size: number;
  idle: number;
  inUse: number;
  pending: number;
  waiting: number;
  min: number;
  max: number;
  closed: boolean;
}

/** A pool of connections. No I/O until the first query. */
export declare class Pool implements Queryable {
  constructor(options?: PoolOptions | string);
  query<R = Row>(sql: string | QueryConfig, params?: readonly Param[]): Promise<Results<R>>;
  sql<R = Row>(strings: TemplateStringsArray, ...values: Param[]): Promise<Results<R>>;
  /** BEGIN, `fn(tx)`, COMMIT; rolled back (and rethrown) when `fn` throws. */
  transaction<T>(fn: (tx: Transaction) => Promise<T>): Promise<T>;
  /** Runs the statements in one transaction and returns their results. */
  transaction(statements: readonly TransactionStatement[]): Promise<Results[]>;
  /** Checks out a connection; give it back with `release()`. */
  connect(): Promise<PoolClient>;
  /** Opens `min` connections now. */
  open(): Promise<void>;
  /** `SELECT * FROM name($1, …)`, the name quoted as an identifier. */
  callproc<R = Row>(name: string, params?: readonly Param[]): Promise<Results<R>>;
  /** The statement with its parameters as literals, as the server would read them. */
  mogrify(sql: string, params?: readonly Param[]): string;
  /** Closes every connection; later calls fail with PoolClosedError. */
  end(): Promise<void>;
  readonly ended: boolean;
  status(): PoolStatus;
  /** node-postgres' names: connections open or opening, idle ones, callers waiting. */
  readonly totalCount: number;
  readonly idleCount: number;
  readonly waitingCount: number;
}

/** `queries`' Session: `new Session(url)` shares one pool per URL. */
export declare class Session implements Queryable {
  constructor(options: PoolOptions | string | Pool);
  /** PGSQL_<NAME> (or PGSQL for a null name) from an env object; when unset, PGHOST/PGPORT/PGUSER/PGPASSWORD/PGDATABASE…. */
  static fromEnv(name: string | undefined, env?: Record<string, unknown>, options?: Omit<PoolOptions, 'connectionString'>): Session;
  readonly pool: Pool;
  query<R = Row>(sql: string | QueryConfig, params?: readonly Param[]): Promise<Results<R>>;
  sql<R = Row>(strings: TemplateStringsArray, ...values: Param[]): Promise<Results<R>>;
  transaction<T>(fn: (tx: Transaction) => Promise<T>): Promise<T>;
  transaction(statements: readonly TransactionStatement[]): Promise<Results[]>;
  connect(): Promise<PoolClient>;
  callproc<R = Row>(name: string, params?: readonly Param[]): Promise<Results<R>>;
  mogrify(sql: string, params?: readonly Param[]): string;
  end(): Promise<void>;
}

/** Through a WebSocket proxy: `webSocket({ proxy: 'wss://proxy.example/v1', WebSocket })`. */
export declare function webSocket(options: { proxy: string; WebSocket?: WebSocketConstructor } | string): WebSocketTransport;

/** node:net / node:tls (Node, Deno, Bun). `tls` goes to `tls.connect` (e.g. `{ ca }`). */
export declare function nodeSocket(options?: { tls?: Record<string, unknown>; keepAlive?: number | false }): SocketTransport;

/** `cloudflare:sockets` (Cloudflare Workers, workerd). */
export declare function cloudflareSocket(): SocketTransport;

/** Where Session.fromEnv would connect: `{ targets, user, database }` (diagnostics). */
export declare function describeEnv(name: string | undefined, env: Record<string, unknown>): {
  targets: string[];
  user?: string;
  database?: string;
};

/** `liveResults` is always 0 (results live in JavaScript only; kept for compatibility), and the wasm memory size. */
export declare function diagnostics(): { liveResults: number; memoryBytes: number };

/** The kinds of SPEC §6. */
export type ErrorKind =
  | 'Interface' | 'Data' | 'Integrity' | 'Programming' | 'NotSupported' | 'QueryCanceled'
  | 'TransactionRollback' | 'Operational' | 'Internal' | 'Database' | 'ConnectionLost'
  | 'PoolFull' | 'PoolTimeout' | 'PoolClosed' | 'DatabaseNotAvailable' | 'PartiallyConnected';

/** Every error edgepg raises. Server errors carry the SQLSTATE fields. */
export declare class DatabaseError extends Error {
  kind: ErrorKind;
  /** SQLSTATE, e.g. `23505`. */
  code?: string;
  severity?: string;
  detail?: string;
  hint?: string;
  /** 1-based character position in the query. */
  position?: number;
  schema?: string;
  table?: string;
  column?: string;
  constraint?: string;
  dataType?: string;
  /** The server's message (for a server error `message` is the same, as in node-postgres). */
  serverMessage?: string;
  /** For PartiallyConnectedError. */
  connected?: number;
  failed?: number;
}
export declare class InterfaceError extends DatabaseError {}
export declare class DataError extends DatabaseError {}
export declare class IntegrityError extends DatabaseError {}
export declare class ProgrammingError extends DatabaseError {}
export declare class NotSupportedError extends DatabaseError {}
export declare class QueryCanceledError extends DatabaseError {}
export declare class TransactionRollbackError extends DatabaseError {}
export declare class OperationalError extends DatabaseError {}
export declare class InternalError extends DatabaseError {}
export declare class ConnectionLostError extends OperationalError {}
export declare class PoolFullError extends OperationalError {}
export declare class PoolTimeoutError extends OperationalError {}
export declare class PoolClosedError extends OperationalError {}
export declare class DatabaseNotAvailableError extends OperationalError {}
export declare class PartiallyConnectedError extends OperationalError {}
