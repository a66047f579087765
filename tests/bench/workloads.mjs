// The SQL of SPEC §10's workloads W3–W5, shared by run.mjs and cmp.mjs (and
// the same as bench/src/main.rs's).
export const W3 = 'select $1::int, $2::text, $3::timestamptz, $4::int, $5::bool, $6::bytea, $7::jsonb';
export const w3params = () => [42, 'hello world', new Date(1_700_000_000_000), null, true, new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]), { a: 1, b: [true, null, 'x'] }];
export const W4 = 'select * from pg_catalog.pg_type where typname = $1';
export const W5 = `select g as id, 'name ' || g as name, g * 1.5::float8 as score,
  timestamptz '2024-01-01' + g * interval '1 second' as at, g % 2 = 0 as even,
  md5(g::text) as digest, (g::numeric / 7)::numeric(12, 4) as ratio, array[g, g + 1] as pair
  from generate_series(1, 10000) g`;
