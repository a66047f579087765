// Prisma ORM 7 through @prisma/adapter-pg, unchanged, given the driver's Pool:
// node-postgres itself (EDGEPG_COMPAT_DRIVER=pg) or edgepg's `edgepg/pg`
// (the adapter's own `import pg from 'pg'` resolved to it, as a bundler
// alias does). The client is generated here from prisma/schema.prisma with
// Prisma's TypeScript query compiler, which needs no engine binary, and
// compiled with tsc.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync, rmSync } from 'node:fs';
import { register } from 'node:module';
import { fileURLToPath } from 'node:url';
import { isPg, config } from './driver.mjs';

const here = (p) => fileURLToPath(new URL(p, import.meta.url));
const wasmDir = here('..');
const generated = here('../prisma/.generated');

/** prisma generate + tsc into prisma/.generated/out. */
function generateClient() {
  rmSync(generated, { recursive: true, force: true });
  execFileSync(process.execPath, [
    'node_modules/prisma/build/index.js', 'generate', '--schema', 'prisma/schema.prisma', '--no-hints',
  ], {
    cwd: wasmDir,
    stdio: 'pipe',
    // `generate` with engineType "client" runs no engine, but the CLI looks
    // for the schema engine before any command and would download it
    // (binaries.prisma.sh, unreachable here): point it at a stand-in.
    env: { ...process.env, PRISMA_SCHEMA_ENGINE_BINARY: '/bin/true', PRISMA_HIDE_UPDATE_MESSAGE: '1', CHECKPOINT_DISABLE: '1' },
  });
  writeFileSync(`${generated}/package.json`, '{"type":"module"}');
  writeFileSync(`${generated}/tsconfig.json`, JSON.stringify({
    compilerOptions: {
      module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', outDir: 'out',
      skipLibCheck: true, noCheck: true,
    },
    include: ['*.ts', 'internal/*.ts', 'models/*.ts'],
  }));
  execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', generated], { cwd: wasmDir, stdio: 'pipe' });
  writeFileSync(`${generated}/out/package.json`, '{"type":"module"}');
}

describe('Prisma (@prisma/adapter-pg)', () => {
  let prisma;
  let pool;

  before(async () => {
    generateClient();
    if (!isPg) register('../prisma/alias-hooks.mjs', import.meta.url);
    const pg = (await import('pg')).default;
    const { PrismaPg } = await import('@prisma/adapter-pg');
    const { PrismaClient } = await import(`${generated}/out/client.js`);
    pool = new pg.Pool(config({ max: 4 }));
    if (!isPg) assert.equal(typeof pool.status, 'function', "the adapter's pg is edgepg/pg");
    await pool.query(`DROP TABLE IF EXISTS prisma_item;
      CREATE TABLE prisma_item (id serial PRIMARY KEY, name text UNIQUE NOT NULL, price int NOT NULL,
        big bigint NOT NULL DEFAULT 0, cost numeric(20, 4) NOT NULL DEFAULT 0)`);
    prisma = new PrismaClient({ adapter: new PrismaPg(pool) });
  });

  after(async () => {
    await prisma?.$disconnect();
    await pool?.query('DROP TABLE IF EXISTS prisma_item');
    await pool?.end();
  });

  test('create, read, update, delete', async () => {
    const a = await prisma.item.create({ data: { name: 'a', price: 1, big: 9007199254740993n, cost: '12.3456' } });
    assert.equal(a.name, 'a');
    assert.equal(a.big, 9007199254740993n);
    assert.equal(a.cost.toString(), '12.3456');
    const found = await prisma.item.findUnique({ where: { name: 'a' } });
    assert.equal(found.id, a.id);
    const updated = await prisma.item.update({ where: { id: a.id }, data: { price: { increment: 4 } } });
    assert.equal(updated.price, 5);
    assert.equal(await prisma.item.count(), 1);
    const many = await prisma.item.updateMany({ where: { price: { gt: 0 } }, data: { price: 7 } });
    assert.equal(many.count, 1);
    const gone = await prisma.item.deleteMany({});
    assert.equal(gone.count, 1);
    assert.deepEqual(await prisma.item.findMany(), []);
  });

  test('$transaction: an interactive one that throws leaves nothing; a batch commits together', async () => {
    await assert.rejects(prisma.$transaction(async (tx) => {
      await tx.item.create({ data: { name: 'in-tx', price: 1 } });
      assert.equal(await tx.item.count(), 1);
      throw new Error('roll it back');
    }), /roll it back/);
    assert.equal(await prisma.item.count(), 0);
    const [b, c] = await prisma.$transaction([
      prisma.item.create({ data: { name: 'b', price: 2 } }),
      prisma.item.create({ data: { name: 'c', price: 3 } }),
    ]);
    assert.deepEqual([b.name, c.name], ['b', 'c']);
    const agg = await prisma.item.aggregate({ _sum: { price: true } });
    assert.equal(agg._sum.price, 5);
    await prisma.item.deleteMany({});
  });

  test('a unique violation is P2002 and the pool keeps serving', async () => {
    await prisma.item.create({ data: { name: 'dup', price: 1 } });
    await assert.rejects(prisma.item.create({ data: { name: 'dup', price: 2 } }), (e) => e.code === 'P2002');
    const raw = await prisma.$queryRaw`SELECT count(*)::int AS n FROM prisma_item WHERE name = ${'dup'}`;
    assert.equal(raw[0].n, 1);
    await prisma.item.deleteMany({});
  });
});
