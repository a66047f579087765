//! Values both ways (SPEC §7), mogrify (§5) and the statement cache (issue 4).

use edgepg_tests::PgServer;
use edgepg_tokio::{mogrify, Pool, Value};

async fn pool() -> Pool {
    Pool::builder(PgServer::shared().url())
        .setsession([
            "SET TIME ZONE 'UTC'",
            "SET DateStyle = 'ISO, YMD'",
            "SET IntervalStyle = 'postgres'",
            "SET extra_float_digits = 3",
        ])
        .build()
        .unwrap()
}

/// Expressions whose decoded text must equal the server's own `::text`.
const TEXTUAL: &[&str] = &[
    "0::numeric",
    "'-12345.678900'::numeric",
    "'0.000001'::numeric",
    "'NaN'::numeric",
    "'Infinity'::numeric",
    "'-Infinity'::numeric",
    "(repeat('9', 500) || '.' || repeat('1', 500))::numeric",
    "'1e-300'::numeric",
    "'10000'::numeric",
    "'2024-02-29'::date",
    "'0044-03-15 BC'::date",
    "'infinity'::date",
    "'-infinity'::date",
    "'2000-01-01 00:00:00'::timestamp",
    "'1999-12-31 23:59:59.999999'::timestamp",
    "'0001-01-01 00:00:00 BC'::timestamp",
    "'294276-12-31 23:59:59.999999'::timestamp",
    "'4713-11-24 00:00:00 BC'::timestamp",
    "'-infinity'::timestamp",
    "'infinity'::timestamptz",
    "'2021-06-01 12:34:56.5+02'::timestamptz",
    "'1900-01-01 00:00:00.000001+00'::timestamptz",
    "'13:14:15.1617'::time",
    "'24:00:00'::time",
    "'13:14:15+05:30'::timetz",
    "'13:14:15-08'::timetz",
    "'1 year 2 mons 3 days 04:05:06.789'::interval",
    "'-1 days -00:00:01'::interval",
    "'0'::interval",
    "'-2 years'::interval",
    "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid",
    "'192.168.0.1/24'::inet",
    "'10.1.2.3'::inet",
    "'::1'::inet",
    "'2001:db8::/32'::cidr",
    "'08:00:2b:01:02:03'::macaddr",
    "'[1,10)'::int4range",
    "'empty'::int4range",
    "'(,5]'::int8range",
    "'[2020-01-01,2021-01-01)'::daterange",
    "'[1.5,2.5]'::numrange",
    "'(1.5,2)'::point",
    "B'10101'::varbit",
    "'[0:2]={1,2,3}'::int[]",
];

#[tokio::test]
async fn decoded_text_matches_the_server() {
    let pool = pool().await;
    for expr in TEXTUAL {
        let r = pool
            .query(
                &format!("SELECT {expr} AS v, format('%s', {expr}) AS t"),
                &[],
            )
            .await
            .unwrap();
        let v = &r[0].values()[0];
        let t: String = r[0].get("t");
        assert_eq!(v.as_str(), Some(t.as_str()), "{expr}: decoded {v:?}");
        // …and the value goes back in unchanged.
        let back = pool
            .query(
                &format!(
                    "SELECT format('%s', $1::{}) = format('%s', {expr}) AS same",
                    r.columns()[0].type_name()
                ),
                &[v],
            )
            .await;
        let same: Option<bool> = back.unwrap_or_else(|e| panic!("{expr}: {e}"))[0].get("same");
        assert!(same != Some(false), "{expr} did not round-trip: {v:?}");
    }
}

#[tokio::test]
async fn round_trip_table() {
    let pool = pool().await;
    let deep_json = (0..100).fold(
        serde_json::json!("leaf"),
        |acc, _| serde_json::json!({ "k": [acc] }),
    );
    let cases: Vec<(&str, Value)> = vec![
        ("bool", Value::Bool(true)),
        ("bool", Value::Bool(false)),
        ("int2", Value::Int(i16::MIN.into())),
        ("int2", Value::Int(i16::MAX.into())),
        ("int4", Value::Int(i32::MIN.into())),
        ("int4", Value::Int(i32::MAX.into())),
        ("int8", Value::Int(i64::MIN)),
        ("int8", Value::Int(i64::MAX)),
        ("float8", Value::Float(f64::INFINITY)),
        ("float8", Value::Float(f64::NEG_INFINITY)),
        ("float8", Value::Float(-0.0)),
        ("float8", Value::Float(f64::MIN_POSITIVE)),
        ("float8", Value::Float(1.0e308)),
        ("float4", Value::Float(1.5)),
        (
            "numeric",
            Value::Numeric(format!("-{}.{}", "7".repeat(600), "3".repeat(400))),
        ),
        ("numeric", Value::Numeric("NaN".into())),
        ("text", Value::Text(String::new())),
        (
            "text",
            Value::Text("emoji 🐘 ünïcödé 'quotes' \"double\" back\\slash".into()),
        ),
        ("varchar", Value::Text("v".into())),
        ("bytea", Value::Bytes(vec![])),
        ("bytea", Value::Bytes((0..=255).collect())),
        ("jsonb", Value::Json(deep_json.clone())),
        (
            "json",
            Value::Json(serde_json::json!({"a": [1, 2.5, null, true, "x"]})),
        ),
        (
            "uuid",
            Value::Uuid("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11".into()),
        ),
        ("date", Value::Date("0044-03-15 BC".into())),
        ("timestamp", Value::Timestamp("-infinity".into())),
        (
            "timestamptz",
            Value::TimestampTz("2021-06-01 10:34:56.5+00".into()),
        ),
        (
            "int4[]",
            Value::Array(vec![Value::Int(1), Value::Null, Value::Int(3)]),
        ),
        (
            "text[]",
            Value::Array(vec![
                Value::Text("a,b".into()),
                Value::Text("{}\"\\".into()),
                Value::Null,
            ]),
        ),
        ("int8[]", Value::Array(vec![])),
    ];
    for (ty, value) in cases {
        let r = pool
            .query(&format!("SELECT $1::{ty} AS v"), &[&value])
            .await
            .unwrap_or_else(|e| panic!("{ty}: {e}"));
        let got = &r[0].values()[0];
        match (&value, got) {
            (Value::Float(a), Value::Float(b)) => {
                assert!(a.to_bits() == b.to_bits(), "{ty}: {a} vs {b}")
            }
            _ => assert_eq!(got, &value, "{ty}"),
        }
    }
    // NaN is kept.
    let r = pool.query("SELECT 'NaN'::float8 AS v", &[]).await.unwrap();
    assert!(r[0].values()[0].as_f64().unwrap().is_nan());
    // A 4-D array with NULLs.
    let r = pool
        .query(
            "SELECT ARRAY[[[[1,NULL],[3,4]]],[[[5,6],[NULL,8]]]]::int4[] AS v",
            &[],
        )
        .await
        .unwrap();
    let v = &r[0].values()[0];
    let leaf = |a: &Value, path: &[usize]| {
        path.iter().fold(a.clone(), |acc, i| match acc {
            Value::Array(items) => items[*i].clone(),
            other => other,
        })
    };
    assert_eq!(leaf(v, &[0, 0, 0, 1]), Value::Null);
    assert_eq!(leaf(v, &[1, 0, 1, 1]), Value::Int(8));
    let back = pool
        .query(
            "SELECT $1::int4[] = ARRAY[[[[1,NULL],[3,4]]],[[[5,6],[NULL,8]]]] IS NOT FALSE AS same",
            &[v],
        )
        .await
        .unwrap();
    assert!(back[0].get::<bool, _>(0));
}

#[tokio::test]
async fn enums_domains_and_percent_signs() {
    let pool = pool().await;
    let mut conn = pool.getconn().await.unwrap();
    conn.batch_execute(
        "DROP TYPE IF EXISTS v_mood CASCADE; CREATE TYPE v_mood AS ENUM ('sad', 'ok', 'happy');
         DROP DOMAIN IF EXISTS v_pos; CREATE DOMAIN v_pos AS int4 CHECK (VALUE > 0);",
    )
    .await
    .unwrap();
    let r = conn
        .query(
            "SELECT 'happy'::v_mood AS m, 5::v_pos AS p, $1::v_mood AS m2",
            &[&Value::from("ok")],
        )
        .await
        .unwrap();
    assert_eq!(
        r[0].values(),
        &[
            Value::Text("happy".into()),
            Value::Int(5),
            Value::Text("ok".into())
        ]
    );
    let r = conn
        .query("SELECT 100 % 7 AS m, '%s %d %%' AS f", &[])
        .await
        .unwrap();
    assert_eq!(r[0].get::<i32, _>("m"), 2);
    assert_eq!(r[0].get::<String, _>("f"), "%s %d %%");
    assert_eq!(
        pool.execute("SELECT 1 WHERE '%' = '%'", &[]).await.unwrap(),
        1
    );
}

#[tokio::test]
async fn large_rows_with_returning() {
    let pool = pool().await;
    pool.execute(
        "CREATE TABLE IF NOT EXISTS v_large (id serial, body text)",
        &[],
    )
    .await
    .unwrap();
    let body = "x".repeat(100 * 1024);
    for _ in 0..5 {
        let r = pool
            .query(
                "INSERT INTO v_large (body) VALUES ($1) RETURNING id, length(body) AS n",
                &[&body],
            )
            .await
            .unwrap();
        assert_eq!(r[0].get::<i32, _>("n"), 100 * 1024);
    }
    pool.execute("DROP TABLE v_large", &[]).await.unwrap();
}

#[tokio::test]
async fn mogrify_output_reads_back_the_same() {
    let pool = pool().await;
    let cases: Vec<(&str, Value)> = vec![
        ("text", Value::Text("it's a \\ back'slash\"".into())),
        ("bytea", Value::Bytes(vec![0, 39, 92, 255])),
        ("int4[]", Value::Array(vec![Value::Int(1), Value::Null])),
        (
            "text[]",
            Value::Array(vec![
                Value::Text("q\"uo'te".into()),
                Value::Text("NULL".into()),
            ]),
        ),
        ("jsonb", Value::Json(serde_json::json!({"a'b": "c\\d"}))),
        ("float8", Value::Float(f64::NEG_INFINITY)),
        ("float8", Value::Float(f64::NAN)),
        ("numeric", Value::Numeric("Infinity".into())),
        ("text", Value::Null),
    ];
    for (ty, value) in cases {
        let sql = format!("SELECT $1::{ty} AS v, '$1' AS literal");
        let bound = pool.query(&sql, &[&value]).await.unwrap();
        let inlined = pool.mogrify(&sql, &[&value]).unwrap();
        let direct = pool
            .query(&inlined, &[])
            .await
            .unwrap_or_else(|e| panic!("{inlined}: {e}"));
        assert_eq!(
            format!("{:?}", bound[0]),
            format!("{:?}", direct[0]),
            "{inlined}"
        );
        assert_eq!(direct[0].get::<String, _>("literal"), "$1");
    }
    let typed = mogrify("SELECT $1::int8 + $2", &[&41i64, &1i32]).unwrap();
    assert_eq!(
        pool.query(&typed, &[]).await.unwrap()[0].get::<i64, _>(0),
        42
    );
    assert!(mogrify("SELECT $2", &[&1i32]).is_err());
    // Typed Rust arrays and oids, bound and inlined, read back the same.
    let ints = vec![1i32, -2];
    let texts = vec!["a'b".to_string(), "c\\d".to_string(), "{x}".to_string()];
    let nullable = vec![Some(1.5f64), None];
    let oid = 26u32;
    let params: [&(dyn edgepg_tokio::ToSql + Sync); 4] = [&ints, &texts, &nullable, &oid];
    let sql = "SELECT $1::int4[] AS i, $2::text[] AS t, $3::float8[] AS f, $4::oid AS o";
    let bound = pool.query(sql, &params).await.unwrap();
    let inlined = mogrify(sql, &params).unwrap();
    let direct = pool.query(&inlined, &[]).await.unwrap();
    assert_eq!(
        format!("{:?}", bound[0]),
        format!("{:?}", direct[0]),
        "{inlined}"
    );
    assert_eq!(direct[0].get::<Vec<String>, _>("t"), texts);
}

#[tokio::test]
async fn statement_cache_counts_evicts_and_turns_off() {
    let pg = PgServer::shared();
    let pool = Pool::builder(pg.url())
        .max_size(1)
        .statement_cache_size(2)
        .build()
        .unwrap();
    for sql in ["SELECT 1", "SELECT 1", "SELECT 2", "SELECT 3", "SELECT 1"] {
        pool.query(sql, &[]).await.unwrap();
    }
    let s = pool.status();
    assert_eq!(
        (
            s.statement_cache_hits,
            s.statement_cache_misses,
            s.statement_cache_evictions
        ),
        (1, 4, 2),
        "{s:?}"
    );
    // The server forgets every prepared statement (as behind a transaction-mode pooler):
    // a cached statement is prepared again, transparently.
    let mut conn = pool.getconn().await.unwrap();
    conn.query("SELECT 2", &[]).await.unwrap();
    conn.batch_execute("DEALLOCATE ALL").await.unwrap();
    assert_eq!(
        conn.query("SELECT 2", &[]).await.unwrap()[0].get::<i32, _>(0),
        2
    );
    drop(conn);

    // Cache off: unnamed statements, nothing left prepared on the server.
    let off = Pool::builder(pg.url())
        .max_size(1)
        .statement_cache_size(0)
        .build()
        .unwrap();
    let mut conn = off.getconn().await.unwrap();
    for i in 0..5i32 {
        let r = conn.query("SELECT $1::int + 1 AS n", &[&i]).await.unwrap();
        assert_eq!(r[0].get::<i32, _>("n"), i + 1);
        conn.batch_execute("DEALLOCATE ALL").await.unwrap();
    }
    let r = conn
        .query("SELECT count(*) AS n FROM pg_prepared_statements", &[])
        .await
        .unwrap();
    assert_eq!(r[0].get::<i64, _>("n"), 0);
    let n = conn
        .execute("SELECT generate_series(1, $1)", &[&Value::Int(4)])
        .await
        .unwrap();
    assert_eq!(n, 4);
    // `Value`s go with unspecified types, as with the cache on: the server infers them.
    let r = conn
        .query(
            "SELECT 'x'::text = $1 AS same, $2::date AS d",
            &[&Value::Int(5), &Value::from("2024-02-29")],
        )
        .await
        .unwrap();
    assert!(!r[0].get::<bool, _>("same"));
    assert_eq!(r[0].value("d"), Some(&Value::Date("2024-02-29".into())));
    conn.batch_execute("CREATE TEMP TABLE v_off (n int, at timestamptz)")
        .await
        .unwrap();
    let n = conn
        .execute(
            "INSERT INTO v_off VALUES ($1, $2)",
            &[&Value::Null, &Value::from("2024-01-01 00:00:00+00")],
        )
        .await
        .unwrap();
    assert_eq!(n, 1);
    assert_eq!(off.status().statement_cache_misses, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_one_new_statement_prepares_it_once() {
    let pool = Pool::builder(PgServer::shared().url())
        .min_size(1)
        .max_size(1)
        .build()
        .unwrap();
    pool.connect().await.unwrap();
    let sql = "SELECT $1::int * 2 AS doubled /* burst */";
    let jobs = (0..200i32).map(|i| {
        let pool = pool.clone();
        async move { pool.query(sql, &[&i]).await.map(|r| r[0].get::<i32, _>(0)) }
    });
    let results = futures_util::future::join_all(jobs).await;
    for (i, r) in results.into_iter().enumerate() {
        assert_eq!(r.unwrap(), 2 * i as i32);
    }
    let s = pool.status();
    assert_eq!(s.statement_cache_misses, 1, "{s:?}");
    assert_eq!(s.statement_cache_hits, 199, "{s:?}");
}

/// `reg*` types arrive in binary as a bare OID: decoded as that number (valid
/// input for the type), never as hex bytes; bytea as PostgreSQL's hex text.
#[tokio::test]
async fn reg_types_as_oids_and_bytea_as_hex() {
    let pool = pool().await;
    let r = pool
        .query(
            "SELECT 'int4in'::regproc AS p, 'pg_class'::regclass AS c, 'int4'::regtype AS t, \
             'int4in'::regproc::oid::text AS p_oid, 'pg_class'::regclass::oid::text AS c_oid, \
             '\\x00ff10ab'::bytea AS b",
            &[],
        )
        .await
        .unwrap();
    let row = &r[0];
    let p_oid: String = row.get("p_oid");
    let c_oid: String = row.get("c_oid");
    assert_eq!(
        row.value("p").unwrap(),
        &Value::Other {
            type_name: "regproc".into(),
            text: p_oid
        }
    );
    assert_eq!(
        row.value("c").unwrap(),
        &Value::Other {
            type_name: "regclass".into(),
            text: c_oid
        }
    );
    assert_eq!(row.value("t").unwrap().to_string(), "23");
    assert_eq!(
        row.value("b").unwrap(),
        &Value::Bytes(vec![0, 255, 16, 171])
    );
    assert_eq!(row.value("b").unwrap().to_string(), "\\x00ff10ab");
}
