// Drizzle's node-postgres driver, unchanged, on the driver under test
// (./driver.mjs). Drizzle sends its queries as QueryConfig objects with
// `rowMode: 'array'` and its own `types.getTypeParser`, so this exercises both.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { drizzle } from 'drizzle-orm/node-postgres';
import { pgTable, serial, text, integer, timestamp, jsonb, boolean } from 'drizzle-orm/pg-core';
import { eq, gt, sql, asc } from 'drizzle-orm';
import { Pool, config, assertAllIdle } from './driver.mjs';

const users = pgTable('orm_drizzle_users', {
  id: serial('id').primaryKey(),
  name: text('name').notNull(),
  age: integer('age'),
  active: boolean('active').default(true),
  meta: jsonb('meta'),
  createdAt: timestamp('created_at', { withTimezone: true }).defaultNow(),
});

describe('Drizzle node-postgres', () => {
  let pool;
  let db;
  before(async () => {
    pool = new Pool(config({ max: 3 }));
    db = drizzle(pool);
    await db.execute(sql`DROP TABLE IF EXISTS orm_drizzle_users`);
    await db.execute(sql`CREATE TABLE orm_drizzle_users (
      id serial PRIMARY KEY, name text NOT NULL, age int, active boolean DEFAULT true,
      meta jsonb, created_at timestamptz DEFAULT now())`);
  });
  after(async () => {
    await db.execute(sql`DROP TABLE IF EXISTS orm_drizzle_users`);
    await pool.end();
  });

  test('insert returning, select with where/order, update, delete', async () => {
    const inserted = await db
      .insert(users)
      .values([
        { name: 'ann', age: 30, meta: { tags: ['a', 'b'] } },
        { name: 'bob', age: 40 },
      ])
      .returning();
    assert.equal(inserted.length, 2);
    assert.equal(inserted[0].name, 'ann');
    assert.deepEqual(inserted[0].meta, { tags: ['a', 'b'] });
    assert.equal(inserted[0].active, true);
    assert.ok(inserted[0].createdAt instanceof Date);
    assert.equal(typeof inserted[0].id, 'number');

    const older = await db.select().from(users).where(gt(users.age, 35)).orderBy(asc(users.id));
    assert.deepEqual(older.map((u) => u.name), ['bob']);

    const partial = await db.select({ n: users.name, a: users.age }).from(users).orderBy(asc(users.name));
    assert.deepEqual(partial, [{ n: 'ann', a: 30 }, { n: 'bob', a: 40 }]);

    const updated = await db.update(users).set({ age: 31 }).where(eq(users.name, 'ann')).returning({ age: users.age });
    assert.deepEqual(updated, [{ age: 31 }]);

    const res = await db.update(users).set({ active: false }).where(gt(users.age, 0));
    assert.equal(res.rowCount, 2);
    assert.equal(res.command, 'UPDATE');

    const del = await db.delete(users).where(eq(users.name, 'bob'));
    assert.equal(del.rowCount, 1);
  });

  test('a transaction commits, rolls back on throw and on tx.rollback(), nested savepoints', async () => {
    await db.transaction(async (tx) => {
      await tx.insert(users).values({ name: 'kept' });
    });
    await assert.rejects(
      db.transaction(async (tx) => {
        await tx.insert(users).values({ name: 'lost-1' });
        tx.rollback();
      }),
      (e) => e.constructor.name === 'TransactionRollbackError' || /Rollback/.test(e.message),
    );
    await assert.rejects(
      db.transaction(async (tx) => {
        await tx.insert(users).values({ name: 'lost-2' });
        await tx.execute(sql`SELECT 1/0`);
      }),
      (e) => e.cause?.code === '22012' || e.code === '22012',
    );
    await db.transaction(async (tx) => {
      await tx.insert(users).values({ name: 'outer' });
      await assert.rejects(
        tx.transaction(async (inner) => {
          await inner.insert(users).values({ name: 'inner-lost' });
          inner.rollback();
        }),
      );
    });
    const names = (await db.select({ name: users.name }).from(users).orderBy(asc(users.name))).map((r) => r.name);
    assert.ok(names.includes('kept'));
    assert.ok(names.includes('outer'));
    for (const n of ['lost-1', 'lost-2', 'inner-lost']) assert.ok(!names.includes(n), `${n} must be rolled back`);
    await assertAllIdle(pool);
  });

  test('raw execute and errors', async () => {
    const r = await db.execute(sql`SELECT ${42}::int AS answer, ${'x'} AS s`);
    assert.equal(r.rows[0].answer, 42);
    assert.equal(r.rows[0].s, 'x');
    await assert.rejects(db.execute(sql`SELEKT 1`), (e) => (e.cause?.code ?? e.code) === '42601');
    const again = await db.select().from(users).limit(1);
    assert.ok(Array.isArray(again));
  });
});
