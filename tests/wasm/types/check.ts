// Compile-only check of pkg/index.d.ts (tsc --noEmit --strict), run by
// tests/tests/wasm_js.rs: the declarations must describe real usage.
import WebSocket from 'ws';
import {
  Pool, Session, Results, webSocket, nodeSocket, DatabaseError, IntegrityError, type PoolOptions,
  Client, Cursor, types, escapeIdentifier, type Field, type Notification,
} from 'edgepg';
import pg from 'edgepg';
import pgCompat, { types as pgTypes } from 'edgepg/pg';

interface User {
  id: number;
  name: string;
}

async function main(): Promise<void> {
  const options: PoolOptions = {
    connectionString: 'postgresql://app@localhost/app',
    transport: webSocket({ proxy: 'ws://127.0.0.1:8080/v1', WebSocket }),
    max: 10,
    types: { int8: 'number', numeric: 'string', timestamptz: 'date' },
  };
  const pool = new Pool(options);
  const r: Results<User> = await pool.query<User>('SELECT id, name FROM users WHERE id = $1', [1]);
  const first: User | undefined = r.rows[0];
  for (const u of r) console.log(u.id.toFixed(0), u.name.toUpperCase(), first);
  const n: number = r.count;
  const status: string = r.status;
  const fields: string[] = r.fields.map((f) => f.name);
  const t = await pool.sql<{ n: bigint }>`SELECT ${1n}::int8 AS n, ${new Date()} AS d, ${new Uint8Array(1)} AS b`;
  const big: bigint | undefined = t.get(0)?.n;
  const total = await pool.transaction(async (tx) => {
    await tx.query('INSERT INTO users (name) VALUES ($1)', ['ann']);
    return (await tx.sql<{ c: number }>`SELECT count(*)::int AS c FROM users`).rows[0].c;
  });
  const all: Results[] = await pool.transaction(['SELECT 1', ['SELECT $1', [{ json: true }]]]);
  const client = await pool.connect();
  try {
    await client.query({ text: 'SELECT $1', values: [null] });
  } finally {
    client.release();
  }
  const session = Session.fromEnv('orders', { PGSQL_ORDERS: 'postgresql://x/y' }, { transport: nodeSocket() });
  try {
    await session.query('SELECT 1');
  } catch (e) {
    if (e instanceof IntegrityError) console.log(e.constraint, e.detail);
    else if (e instanceof DatabaseError) console.log(e.code, e.hint, e.position, e.kind);
  }
  // node-postgres' shape.
  const f: Field = r.fields[0];
  const meta: number = f.tableID + f.columnID + f.dataTypeID + f.dataTypeSize + f.dataTypeModifier;
  const command: string | null = r.command;
  const affected: number | null = r.rowCount;
  const arrays = await pool.query({ text: 'SELECT 1 AS a', rowMode: 'array', types: { getTypeParser: types.getTypeParser } });
  const asArray: boolean = arrays.rowAsArray;
  pool.query('SELECT $1::int AS n', [1], (err, res) => console.log(err?.message, res.rows));
  const ac = new AbortController();
  await pool.query('SELECT pg_sleep(1)', [], { signal: ac.signal }).catch((e: Error) => e.name === 'AbortError');
  types.setTypeParser(20, (text) => Number.parseInt(text, 10));
  pool.on('error', (err: Error) => console.log(err.message));
  pool.on('connect', () => undefined);
  const c2 = await pool.connect();
  c2.on('notification', (msg: Notification) => console.log(msg.channel, msg.payload, msg.processId));
  const cursor = c2.query(new Cursor<{ n: number }>('SELECT generate_series(1, 10) AS n', [], { rowMode: undefined }));
  cursor.on('row', (row, result) => result.addRow(row));
  cursor.on('end', (result) => console.log(result.rows.length, result.command));
  c2.on('notice', (n) => console.log(n.code, n.detail ?? '', n.line ?? 0));
  const batch: { n: number }[] = await cursor.read(5);
  await cursor.close();
  const pid: number | null = c2.processID;
  c2.release(new Error('broken'));
  for await (const row of pool.cursor<{ n: number }>('SELECT 1 AS n', [], { batchSize: 100 })) console.log(row.n);
  const listener = await pool.listen('jobs', (msg) => console.log(msg.payload));
  await pool.notify('jobs', 'go');
  await listener.unlisten();
  const writer = pool.copyFrom('COPY users (name) FROM STDIN').getWriter();
  await writer.write('ann\n');
  await writer.close();
  const reader = pool.copyTo('COPY users TO STDOUT').getReader();
  const chunk = await reader.read();
  const single = new Client('postgresql://app@localhost/app');
  await single.connect();
  await single.end();
  const viaDefault = new pg.Pool({ max: 1 });
  await viaDefault.end();
  console.log(meta, command, affected, asArray, batch.length, pid, chunk.done, escapeIdentifier('a"b'));
  console.log(n, status, fields, big, total, all.length, pool.status().inUse);
  await pool.end();
}

void main;

/** `edgepg/pg`, for code that imports `pg`. */
export async function pgEntry(url: string): Promise<number> {
  const pool = new pgCompat.Pool({ connectionString: url });
  const r = await pool.query<{ n: string }>('SELECT 1::int8 AS n');
  const parse = pgTypes.getTypeParser(20, 'text');
  await pool.end();
  return r.rows.length + String(parse('1')).length;
}
