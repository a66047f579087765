// Compile-only check of pkg/index.d.ts (tsc --noEmit --strict), run by
// tests/tests/wasm_js.rs: the declarations must describe real usage.
import WebSocket from 'ws';
import {
  Pool, Session, Results, webSocket, nodeSocket, DatabaseError, IntegrityError, type PoolOptions,
} from 'edgepg';

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
  console.log(n, status, fields, big, total, all.length, pool.status().inUse);
  await pool.end();
}

void main;
