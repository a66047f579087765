// A Node resolve hook standing in for the bundler alias `pg` → `edgepg/pg`:
// @prisma/adapter-pg imports `pg` itself and checks `instanceof pg.Pool`.
export async function resolve(specifier, context, next) {
  if (specifier === 'pg') return next('edgepg/pg', context);
  return next(specifier, context);
}
