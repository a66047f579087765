// Kysely's PostgresDialect, unchanged, on the driver under test (./driver.mjs):
// the pool it is given is `new Pool(...)` and its cursor is the `Cursor` export.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Kysely, PostgresDialect, sql } from 'kysely';
import { Pool, Cursor, config, isPg, assertAllIdle } from './driver.mjs';

const table = 'orm_kysely_person';

describe('Kysely PostgresDialect', () => {
  let pool;
  let db;
  before(async () => {
    pool = new Pool(config({ max: 4 }));
    db = new Kysely({ dialect: new PostgresDialect({ pool, cursor: Cursor }) });
    await sql`DROP TABLE IF EXISTS ${sql.table(table)}`.execute(db);
    await db.schema
      .createTable(table)
      .addColumn('id', 'serial', (c) => c.primaryKey())
      .addColumn('first_name', 'text', (c) => c.notNull())
      .addColumn('age', 'integer')
      .addColumn('born', 'timestamptz')
      .execute();
  });
  after(async () => {
    await db.schema.dropTable(table).ifExists().execute();
    await db.destroy();
  });

  test('insert, select, update and delete report their row counts', async () => {
    const inserted = await db
      .insertInto(table)
      .values([
        { first_name: 'Ann', age: 31, born: new Date('1995-03-01T10:00:00Z') },
        { first_name: 'Bob', age: 42, born: null },
        { first_name: 'Cid', age: 42, born: null },
      ])
      .executeTakeFirst();
    assert.equal(inserted.numInsertedOrUpdatedRows, 3n);

    const rows = await db.selectFrom(table).select(['id', 'first_name', 'age', 'born']).orderBy('id').execute();
    assert.deepEqual(rows.map((r) => r.first_name), ['Ann', 'Bob', 'Cid']);
    assert.equal(typeof rows[0].id, 'number');
    assert.ok(rows[0].born instanceof Date);
    assert.equal(rows[0].born.toISOString(), '1995-03-01T10:00:00.000Z');
    assert.equal(rows[1].born, null);

    const updated = await db.updateTable(table).set({ age: 43 }).where('age', '=', 42).executeTakeFirst();
    assert.equal(updated.numUpdatedRows, 2n);

    const returning = await db
      .insertInto(table)
      .values({ first_name: 'Dee', age: 7 })
      .returning(['id', 'first_name'])
      .executeTakeFirstOrThrow();
    assert.equal(returning.first_name, 'Dee');
    assert.equal(typeof returning.id, 'number');

    const upserted = await db
      .insertInto(table)
      .values({ id: returning.id, first_name: 'Dee', age: 8 })
      .onConflict((oc) => oc.column('id').doUpdateSet({ age: 8 }))
      .executeTakeFirst();
    assert.equal(upserted.numInsertedOrUpdatedRows, 1n);

    const deleted = await db.deleteFrom(table).where('age', '>', 40).executeTakeFirst();
    assert.equal(deleted.numDeletedRows, 2n);

    const { count } = await db
      .selectFrom(table)
      .select((eb) => eb.fn.countAll().as('count'))
      .executeTakeFirstOrThrow();
    // count(*) is int8: node-postgres gives a string; edgepg keeps it exact as a BigInt.
    assert.equal(count, isPg ? '2' : 2n);
  });

  test('transactions commit, and roll back on a thrown error', async () => {
    await db.transaction().execute(async (trx) => {
      await trx.insertInto(table).values({ first_name: 'Tx1', age: 1 }).execute();
      await trx.insertInto(table).values({ first_name: 'Tx2', age: 2 }).execute();
    });
    await assert.rejects(
      db.transaction().execute(async (trx) => {
        await trx.insertInto(table).values({ first_name: 'Gone', age: 3 }).execute();
        throw new Error('abort the transaction');
      }),
      /abort the transaction/,
    );
    // A failing statement inside the transaction rolls back the earlier ones too.
    await assert.rejects(
      db.transaction().execute(async (trx) => {
        await trx.insertInto(table).values({ first_name: 'Gone2', age: 4 }).execute();
        await trx.insertInto(table).values({ id: 'not a number', first_name: 'x' }).execute();
      }),
      (e) => e.code === '22P02',
    );
    const names = (await db.selectFrom(table).select('first_name').where('first_name', 'like', 'Tx%').orderBy('first_name').execute())
      .map((r) => r.first_name);
    assert.deepEqual(names, ['Tx1', 'Tx2']);
    const gone = await db.selectFrom(table).selectAll().where('first_name', 'in', ['Gone', 'Gone2']).execute();
    assert.equal(gone.length, 0);
    // The pool is whole afterwards: every connection went back.
    assert.equal(pool.waitingCount, 0);
    await assertAllIdle(pool);
  });

  test('.stream() reads a large result in chunks through the Cursor', async () => {
    const seen = [];
    const stream = db
      .selectFrom(sql`generate_series(1, 2500)`.as('g'))
      .select(sql`g`.as('n'))
      .stream(100);
    for await (const row of stream) seen.push(row.n);
    assert.equal(seen.length, 2500);
    assert.equal(seen[0], 1);
    assert.equal(seen[2499], 2500);
    // Breaking out early closes the cursor and releases the connection.
    let taken = 0;
    for await (const row of db.selectFrom(table).selectAll().stream(1)) {
      assert.ok(row.first_name);
      if (++taken === 1) break;
    }
    assert.equal(taken, 1);
    await assertAllIdle(pool);
    const after = await db.selectFrom(table).select('first_name').where('first_name', '=', 'Ann').execute();
    assert.equal(after.length, 1);
  });

  test('raw sql, errors and the pool afterwards', async () => {
    const r = await sql`SELECT ${'x'}::text || ${1}::int AS s`.execute(db);
    assert.equal(r.rows[0].s, 'x1');
    await assert.rejects(sql`SELEC 1`.execute(db), (e) => e.code === '42601' && e instanceof Error);
    const ok = await sql`SELECT 1 AS one`.execute(db);
    assert.equal(ok.rows[0].one, 1);
  });
});
