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

/** A result column, as node-postgres describes it. */
export interface Field {
  name: string;
  /** OID of the table the column comes from (0 when it is not a table column). */
  tableID: number;
  /** The column's attribute number in that table (0 when none). */
  columnID: number;
  /** The type OID. */
  dataTypeID: number;
  /** `pg_type.typlen` of built-in types (4 for int4, -1 for varlena); -1 for types it does not know. */
  dataTypeSize: number;
  /** The type modifier (`varchar(10)` → 14), -1 when none. */
  dataTypeModifier: number;
  /** Always 'text': type parsers receive PostgreSQL's text form. */
  format: 'text';
  /** The type name (`int4`, `text`, `_int8`, …). */
  dataType: string;
}

/** A row when no row type is given. */
export type Row = Record<string, any>;

/** The results of one statement. Iterable over its rows. */
export declare class Results<R = Row> implements Iterable<R> {
  private constructor();
  /** Every row, as an object keyed by column name (arrays with `rowMode: 'array'`). */
  readonly rows: R[];
  readonly fields: Field[];
  /** The command tag: `SELECT 3`, `INSERT 0 1`, … */
  readonly status: string;
  /** node-postgres' command: the tag's first word ('SELECT', 'INSERT', 'UPDATE', 'DELETE', 'MERGE', 'COPY', 'CREATE', …). */
  readonly command: string | null;
  /** Rows returned, or rows affected by INSERT / UPDATE / DELETE. */
  readonly count: number;
  /** node-postgres' rowCount: the tag's count, null for commands without one (CREATE, SET, …). */
  readonly rowCount: number | null;
  /** The inserted row's OID from an INSERT tag (0 nowadays); null otherwise. */
  readonly oid: number | null;
  /** Whether rows are arrays (`rowMode: 'array'`). */
  readonly rowAsArray: boolean;
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

/** A text parser: PostgreSQL's text form of a value → the value. */
export type TypeParser = (text: string) => any;

/** node-postgres' per-query or per-pool type overrides. */
export interface CustomTypesConfig {
  getTypeParser(oid: number, format?: 'text' | 'binary'): TypeParser;
}

/** A statement as node-postgres writes it. */
export interface QueryConfig {
  text: string;
  values?: readonly Param[];
  /** node-postgres' `'array'`: rows as arrays of values in column order. */
  rowMode?: 'array';
  /** Parsers for the result columns (they receive PostgreSQL's text form). */
  types?: CustomTypesConfig;
  /** A prepared statement's name (edgepg prepares and caches every statement by its text). */
  name?: string;
  /** Aborts the statement: it is cancelled on the server and the call rejects with an AbortError. */
  signal?: AbortSignal;
}

/** Options of one call: `query(text, values, { signal })`. */
export interface QueryOptions {
  signal?: AbortSignal;
  rowMode?: 'array';
  types?: CustomTypesConfig;
}

/** node-style callback of `query`. */
export type QueryCallback<R = Row> = (err: Error | null, result: Results<R>) => void;

/** A notification (LISTEN / NOTIFY). */
export interface Notification {
  name: 'notification';
  channel: string;
  payload: string;
  /** PID of the notifying backend. */
  processId: number;
}

/** A server notice (`RAISE NOTICE`). */
export interface Notice {
  name: 'notice';
  severity: string;
  message: string;
  /** SQLSTATE (`00000` for RAISE NOTICE, `01000` for a warning, …). */
  code: string;
  detail?: string;
  hint?: string;
  position?: number;
  where?: string;
  schema?: string;
  table?: string;
  column?: string;
  dataType?: string;
  constraint?: string;
  file?: string;
  line?: number;
  routine?: string;
}

/** The result a Cursor hands to its `row` and `end` listeners (pg-cursor's). */
export interface CursorResult<R = Row> {
  command: string | null;
  rowCount: number | null;
  oid: number | null;
  fields: Field[];
  rows: R[];
  rowAsArray: boolean;
  addRow(row: R): void;
}

/** node:events' common methods, in every runtime. */
export declare class Emitter {
  on(event: string, listener: (...args: any[]) => void): this;
  addListener(event: string, listener: (...args: any[]) => void): this;
  once(event: string, listener: (...args: any[]) => void): this;
  off(event: string, listener: (...args: any[]) => void): this;
  removeListener(event: string, listener: (...args: any[]) => void): this;
  removeAllListeners(event?: string): this;
  listenerCount(event: string): number;
  listeners(event: string): Function[];
  emit(event: string, ...args: any[]): boolean;
}

interface Queryable {
  query<R = Row>(sql: string | QueryConfig, params?: readonly Param[], options?: QueryOptions): Promise<Results<R>>;
  query<R = Row>(sql: string | QueryConfig, callback: QueryCallback<R>): void;
  query<R = Row>(sql: string | QueryConfig, params: readonly Param[], callback: QueryCallback<R>): void;
  /** Tagged template: sql`SELECT * FROM t WHERE id = ${id}` sends `$1`. */
  sql<R = Row>(strings: TemplateStringsArray, ...values: Param[]): Promise<Results<R>>;
}

/** pg-cursor's Cursor: `const c = client.query(new Cursor(text, values)); await c.read(100); await c.close();`. */
export declare class Cursor<R = Row> extends Emitter {
  constructor(text: string, values?: readonly Param[], config?: { rowMode?: 'array'; types?: CustomTypesConfig });
  readonly text: string;
  readonly values: readonly Param[];
  readonly state: 'initialized' | 'idle' | 'busy' | 'done' | 'closed' | 'error';
  /** Up to `rows` more rows; `[]` once all were read. */
  read(rows: number): Promise<R[]>;
  read(rows: number, callback: (err: Error | null, rows: R[], result?: Results<R>) => void): void;
  /** Closes the cursor (and the transaction it opened). */
  close(): Promise<void>;
  close(callback: (err?: Error | null) => void): void;
  /** Each row as it is read. */
  on(event: 'row', listener: (row: R, result: CursorResult<R>) => void): this;
  /** Once the rows are exhausted (the cursor then closes itself). */
  on(event: 'end', listener: (result: CursorResult<R>) => void): this;
  on(event: 'error', listener: (err: Error) => void): this;
}

/** Options of `cursor()` iteration. */
export interface CursorOptions {
  /** Rows fetched per round trip (default 100). */
  batchSize?: number;
  rowMode?: 'array';
  types?: CustomTypesConfig;
}

/** The transaction handed to `transaction(async (tx) => …)`. */
export declare class Transaction extends Emitter implements Queryable {
  private constructor();
  query<R = Row>(sql: string | QueryConfig, params?: readonly Param[], options?: QueryOptions): Promise<Results<R>>;
  query<R = Row>(sql: string | QueryConfig, callback: QueryCallback<R>): void;
  query<R = Row>(sql: string | QueryConfig, params: readonly Param[], callback: QueryCallback<R>): void;
  query<C extends Cursor<any>>(cursor: C): C;
  sql<R = Row>(strings: TemplateStringsArray, ...values: Param[]): Promise<Results<R>>;
  /** `for await (const row of tx.cursor(sql, params, { batchSize }))`. */
  cursor<R = Row>(sql: string, params?: readonly Param[], options?: CursorOptions): AsyncGenerator<R, void, undefined>;
  savepoint(name: string): Promise<void>;
  /** Rolls back to a savepoint; the transaction is usable again. */
  rollbackTo(name: string): Promise<void>;
}

/** What a held connection has: `PoolClient` and `Client`. Events: `error`, `end`, `notice`, `notification`. */
declare class Connected extends Emitter implements Queryable {
  query<R = Row>(sql: string | QueryConfig, params?: readonly Param[], options?: QueryOptions): Promise<Results<R>>;
  query<R = Row>(sql: string | QueryConfig, callback: QueryCallback<R>): void;
  query<R = Row>(sql: string | QueryConfig, params: readonly Param[], callback: QueryCallback<R>): void;
  /** Submittables: a Cursor, or a pg-query-stream QueryStream. */
  query<S extends { submit: Function } | Cursor<any>>(submittable: S): S;
  sql<R = Row>(strings: TemplateStringsArray, ...values: Param[]): Promise<Results<R>>;
  /** The server process ID of the connection. */
  readonly processID: number | null;
  /** True while a transaction opened with BEGIN is open. */
  readonly inTransaction: boolean;
  /** `for await (const row of client.cursor(sql, params, { batchSize }))`. */
  cursor<R = Row>(sql: string, params?: readonly Param[], options?: CursorOptions): AsyncGenerator<R, void, undefined>;
  escapeIdentifier(str: string): string;
  escapeLiteral(str: string): string;
  on(event: 'notification', listener: (n: Notification) => void): this;
  on(event: 'notice', listener: (n: Notice) => void): this;
  on(event: 'error', listener: (err: Error) => void): this;
  on(event: 'end', listener: () => void): this;
  on(event: string, listener: (...args: any[]) => void): this;
}

/** A checked-out connection: `const c = await pool.connect(); try { … } finally { c.release(); }`. */
export declare class PoolClient extends Connected {
  private constructor();
  /** Returns the connection to the pool (idempotent); with a truthy `err`, closes it instead. */
  release(err?: unknown): void;
  readonly released: boolean;
}

/** node-postgres' Client: one connection. */
export declare class Client extends Connected {
  constructor(options?: PoolOptions | string);
  connect(): Promise<void>;
  connect(callback: (err: Error | null) => void): void;
  end(): Promise<void>;
  end(callback: (err: Error | null) => void): void;
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

/** A running `pool.listen()`. */
export interface Listener {
  readonly channel: string;
  /** Stops listening and closes its connection. */
  unlisten(): Promise<void>;
}

/** A COPY FROM STDIN stream; `rowCount` is set once it is closed. */
export interface CopyFromStream extends WritableStream<Uint8Array | string> {
  rowCount: number | null;
}

/**
 * A pool of connections. No I/O until the first query. Events: `connect`
 * (a connection's first checkout), `acquire`, `release`, `remove`, `error`
 * (an idle connection died; never fatal).
 */
export declare class Pool extends Emitter implements Queryable {
  constructor(options?: (PoolOptions & { types?: TypeOptions | CustomTypesConfig }) | string);
  query<R = Row>(sql: string | QueryConfig, params?: readonly Param[], options?: QueryOptions): Promise<Results<R>>;
  query<R = Row>(sql: string | QueryConfig, callback: QueryCallback<R>): void;
  query<R = Row>(sql: string | QueryConfig, params: readonly Param[], callback: QueryCallback<R>): void;
  sql<R = Row>(strings: TemplateStringsArray, ...values: Param[]): Promise<Results<R>>;
  /** BEGIN, `fn(tx)`, COMMIT; rolled back (and rethrown) when `fn` throws. */
  transaction<T>(fn: (tx: Transaction) => Promise<T>): Promise<T>;
  /** Runs the statements in one transaction and returns their results. */
  transaction(statements: readonly TransactionStatement[]): Promise<Results[]>;
  /** Checks out a connection; give it back with `release()`. */
  connect(options?: { signal?: AbortSignal }): Promise<PoolClient>;
  connect(callback: (err: Error | null, client: PoolClient, release: (err?: unknown) => void) => void): void;
  /** `for await (const row of pool.cursor(sql, params, { batchSize }))`, on one connection, released on break or error. */
  cursor<R = Row>(sql: string, params?: readonly Param[], options?: CursorOptions): AsyncGenerator<R, void, undefined>;
  /** LISTEN on a dedicated connection (re-LISTENed after reconnects). */
  listen(channel: string, onNotify: (n: Notification) => unknown): Promise<Listener>;
  /** `SELECT pg_notify(channel, payload)`. */
  notify(channel: string, payload?: string): Promise<void>;
  /** `COPY … FROM STDIN` as a WritableStream. */
  copyFrom(sql: string): CopyFromStream;
  /** `COPY … TO STDOUT` as a ReadableStream. */
  copyTo(sql: string): ReadableStream<Uint8Array>;
  /** Opens `min` connections now. */
  open(): Promise<void>;
  /** `SELECT * FROM name($1, …)`, the name quoted as an identifier. */
  callproc<R = Row>(name: string, params?: readonly Param[]): Promise<Results<R>>;
  /** The statement with its parameters as literals, as the server would read them. */
  mogrify(sql: string, params?: readonly Param[]): string;
  /** Closes every connection; later calls fail with PoolClosedError. */
  end(): Promise<void>;
  end(callback: (err: Error | null) => void): void;
  readonly ended: boolean;
  status(): PoolStatus;
  /** node-postgres' names: connections open or opening, idle ones, callers waiting. */
  readonly totalCount: number;
  readonly idleCount: number;
  readonly waitingCount: number;
}

/** `queries`' Session: `new Session(url)` shares one pool per URL. */
export declare class Session extends Emitter implements Queryable {
  constructor(options: PoolOptions | string | Pool);
  /** PGSQL_<NAME> (or PGSQL for a null name) from an env object; when unset, PGHOST/PGPORT/PGUSER/PGPASSWORD/PGDATABASE…. */
  static fromEnv(name: string | undefined, env?: Record<string, unknown>, options?: Omit<PoolOptions, 'connectionString'>): Session;
  readonly pool: Pool;
  query<R = Row>(sql: string | QueryConfig, params?: readonly Param[], options?: QueryOptions): Promise<Results<R>>;
  query<R = Row>(sql: string | QueryConfig, callback: QueryCallback<R>): void;
  query<R = Row>(sql: string | QueryConfig, params: readonly Param[], callback: QueryCallback<R>): void;
  sql<R = Row>(strings: TemplateStringsArray, ...values: Param[]): Promise<Results<R>>;
  transaction<T>(fn: (tx: Transaction) => Promise<T>): Promise<T>;
  transaction(statements: readonly TransactionStatement[]): Promise<Results[]>;
  connect(): Promise<PoolClient>;
  cursor<R = Row>(sql: string, params?: readonly Param[], options?: CursorOptions): AsyncGenerator<R, void, undefined>;
  listen(channel: string, onNotify: (n: Notification) => unknown): Promise<Listener>;
  callproc<R = Row>(name: string, params?: readonly Param[]): Promise<Results<R>>;
  mogrify(sql: string, params?: readonly Param[]): string;
  end(): Promise<void>;
}

/** node-postgres' `types` (pg-types). Parsers receive PostgreSQL's text form. */
export declare const types: {
  readonly builtins: Readonly<Record<string, number>>;
  setTypeParser(oid: number, parser: TypeParser): void;
  setTypeParser(oid: number, format: 'text' | 'binary', parser: TypeParser): void;
  getTypeParser(oid: number, format?: 'text' | 'binary'): TypeParser;
};

/** `"name"`, inner quotes doubled (node-postgres). */
export declare function escapeIdentifier(str: string): string;
/** `'text'`, quotes doubled; ` E'…'` when it has backslashes (node-postgres). */
export declare function escapeLiteral(str: string): string;

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

/** Options of {@link http}. */
export interface HttpOptions {
  /** The proxy's `/sql` URL (edgepg-proxy or Neon); default `https://HOST/sql`. */
  endpoint?: string;
  /**
   * The `fetch` to use; default the global one, except in Node (also Deno
   * and Bun), where requests go over the package's own keep-alive HTTP/1.1
   * client (node:net / node:tls), a fraction of fetch's cost per request.
   */
  fetch?: (input: string, init?: Record<string, unknown>) => Promise<Response>;
  /**
   * Merged into every request (e.g. `{ signal }`). In Node, an option other
   * than `signal` (a `dispatcher`, …) sends that request through the global `fetch`.
   */
  fetchOptions?: Record<string, unknown>;
  /**
   * Node's built-in client only: the most milliseconds a request may go
   * without progress (connect, answer, body) before it fails with
   * `DatabaseNotAvailableError`; default 300 000, as fetch's. Elsewhere use
   * `fetchOptions: { signal: AbortSignal.timeout(ms) }`.
   */
  timeout?: number;
  /** Rows as arrays in column order. */
  arrayMode?: boolean;
  /** Resolve to `{ command, rowCount, rows, fields, rowAsArray }` instead of the rows. */
  fullResults?: boolean;
  /** Type parsers, as node-postgres' `types`. */
  types?: { getTypeParser(oid: number, format?: string): (value: string) => unknown };
}

/** Per-query options of {@link HttpSql.query}. */
export interface HttpQueryOptions {
  arrayMode?: boolean;
  fullResults?: boolean;
  types?: HttpOptions['types'];
  fetchOptions?: Record<string, unknown>;
}

/** The full results of one statement over HTTP (`fullResults: true`). */
export interface HttpFullResults<R = Record<string, any>> {
  command: string | null;
  rowCount: number | null;
  rows: R[];
  fields: Array<{ name: string; tableID: number; columnID: number; dataTypeID: number; dataTypeSize: number; dataTypeModifier: number; format: string }>;
  rowAsArray: boolean;
}

/** A statement over HTTP: runs when awaited, or as part of `transaction()`. */
export interface HttpQuery<T = any> extends PromiseLike<T> {
  readonly queryData: { query: string; params: Array<string | null> };
  catch<U = never>(onrejected?: (reason: any) => U | PromiseLike<U>): Promise<T | U>;
  finally(onfinally?: () => void): Promise<T>;
}

/** The client made by {@link http}. */
export interface HttpSql {
  /** ``sql`SELECT ${x}` `` → `SELECT $1` with `[x]`. */
  <T = Record<string, any>[]>(strings: TemplateStringsArray, ...values: unknown[]): HttpQuery<T>;
  /** A statement with `$n` placeholders. */
  query<T = Record<string, any>[]>(text: string, params?: unknown[], options?: HttpQueryOptions): HttpQuery<T>;
  /** The queries in one transaction, all or nothing; one result per query. */
  transaction<T extends any[] = any[]>(
    queries: HttpQuery[] | ((sql: HttpSql) => HttpQuery[]),
    options?: {
      isolationLevel?: 'ReadUncommitted' | 'ReadCommitted' | 'RepeatableRead' | 'Serializable';
      readOnly?: boolean;
      deferrable?: boolean;
      arrayMode?: boolean;
      fullResults?: boolean;
      fetchOptions?: Record<string, unknown>;
    },
  ): Promise<T>;
}

/**
 * One-shot queries over HTTP through edgepg-proxy's (or Neon's) `POST /sql`,
 * on `fetch`: `const sql = http(url, { endpoint: 'https://proxy.example/sql' })`.
 */
export declare function http(connectionString: string, options?: HttpOptions): HttpSql;

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
  /** Where it happened (`COPY t, line 3, column n: "x"`, a PL/pgSQL stack). */
  where?: string;
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

declare const pg: {
  Pool: typeof Pool;
  Client: typeof Client;
  Session: typeof Session;
  Results: typeof Results;
  Transaction: typeof Transaction;
  PoolClient: typeof PoolClient;
  Cursor: typeof Cursor;
  types: typeof types;
  escapeIdentifier: typeof escapeIdentifier;
  escapeLiteral: typeof escapeLiteral;
  webSocket: typeof webSocket;
  DatabaseError: typeof DatabaseError;
};
/** `import pg from 'edgepg'`, as with node-postgres. */
export default pg;
