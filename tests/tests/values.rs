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
    // Geometric types: floats as float8out prints them.
    "'(Infinity,-0)'::point",
    "'(1e20,1.5e-7)'::point",
    "'(NaN,-Infinity)'::point",
    "'(0.1,123456789012345.6)'::point",
    "'(1e15,1e-4)'::point",
    "'(1e14,0.00001)'::point",
    "'(-1.7976931348623157e308,5e-324)'::point",
    "'(1,2),(3,4)'::box",
    "'(Infinity,-0),(1e-300,2)'::box",
    "'<(1,2),3>'::circle",
    "'<(1e-7,-2.5),0.1>'::circle",
    "'((0,0),(1,1),(2,0))'::polygon",
    "'((1.5e300,-1),(NaN,2))'::polygon",
    "'((-0,1e100))'::polygon",
    "'[(0,0),(1e20,-1.5e-7)]'::lseg",
    "'{1,-1,0}'::line",
    "'{0.1,1e15,-1e-5}'::line",
    "'[(0,0),(1,1),(2,-3)]'::path",
    "'((0,0),(1,1))'::path",
    "'((-0,1e100))'::path",
    // LSNs, snapshots.
    "'16/B374D848'::pg_lsn",
    "'0/0'::pg_lsn",
    "'FFFFFFFF/FFFFFFFF'::pg_lsn",
    "'10:20:10,14,15'::txid_snapshot",
    "'10:20:'::pg_snapshot",
    "pg_current_snapshot()",
    // Money, in the test servers' C locale.
    "'12.34'::money",
    "'-1234.56'::money",
    "0::money",
    "'-0.05'::money",
    "'1000'::money",
    "'-92233720368547758.08'::money",
    "'92233720368547758.07'::money",
    // Ranges with quoted bounds, multiranges.
    "'[\"2020-01-01 00:00\",)'::tsrange",
    "'(\"2020-01-01 00:00:00.5+00\",\"2021-01-01 00:00+00\"]'::tstzrange",
    "'{[1,3),[5,7)}'::int4multirange",
    "'{}'::int4multirange",
    "'{(,5], [10,)}'::int8multirange",
    "'{[2020-01-01,2021-01-01), [2022-01-01,infinity)}'::datemultirange",
    "'{[1.5,2.5], (3,)}'::nummultirange",
    "'{[\"2020-01-01 00:00\",\"2020-01-02 00:00\")}'::tsmultirange",
    "'{[\"2020-01-01 00:00+00\",)}'::tstzmultirange",
    // Text search.
    "to_tsvector('english', 'the fat cats ate fat rats')",
    r"$$'a''b':1A,2B,3C,4 'c\\d' x:16383D$$::tsvector",
    "''::tsvector",
    "'a & b | c'::tsquery",
    "'a & (b | c)'::tsquery",
    "'!a & !(b|c)'::tsquery",
    "'a:*AB <3> (b <-> c)'::tsquery",
    "'(a <-> b) <-> c'::tsquery",
    "'a <-> (b <-> c)'::tsquery",
    "'a <-> (b & c) <0> d'::tsquery",
    "'!(a <-> b) | c:D & d:*'::tsquery",
    "'(a | b) <2> !c'::tsquery",
    r"$$'it''s' & 'back\\slash' & 'x y'$$::tsquery",
    "''::tsquery",
    // Records (no round trip: anonymous records have no input function).
    "row(1,'a')",
    "row(NULL,'',' x','a\"b\\c',NULL,'NULL','(,)')",
    "row(row(1,'a b'),ARRAY[1,2],NULL::int[],row(row(row(NULL))))",
    "row()",
    "row(1.5::float4, '1e6'::float4, '3.4028235e38'::float4, 1e20::float8, 'NaN'::float8, '-0'::float8)",
    "row('{\"a\": [1, 2]}'::jsonb, '{ \"b\" : 1 }'::json)",
    "row(true, '\\x00ff'::bytea, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid, '2024-02-29'::date, '1 day'::interval)",
    "row('[0:1]={a,NULL}'::text[], ARRAY['NULL', '', 'x y', 'a\"b', '{}'])",
    "row('(1,2),(3,4)'::box, ARRAY['(1,2),(3,4)'::box,'(0,0),(1,1)'], '[1,3)'::int4range, '{[1,3)}'::int4multirange)",
    "row('2021-06-01 12:34:56.5+02'::timestamptz, 12.5::numeric, '12.34'::money, 'a & b'::tsquery)",
    "row(E'tab\\there', E'nl\\n', E'vt\\x0b', 'ünï')",
    "row('1 2'::int2vector, ''::oidvector, '5'::oidvector, B'101'::bit(3), 'x'::\"char\", 'ab'::char(4))",
];

/// Arrays of text-form types, with their dimension count: each element must
/// equal the server's text of that element (NULL stays NULL).
const ARRAYS: &[(&str, usize)] = &[
    ("ARRAY['(1,2),(3,4)'::box, NULL, '(5,6),(7,8)']", 1),
    ("ARRAY['(1,2)'::point, NULL, '(Infinity,1e20)']", 1),
    ("ARRAY['<(1,2),3>'::circle]", 1),
    (
        "ARRAY[['[(0,0),(1,1)]'::lseg],['[(1,1),(2,2.5)]'::lseg]]",
        2,
    ),
    ("ARRAY['((0,0),(1,1))'::path, '[(0,0),(1,1)]']", 1),
    ("ARRAY['{1,2,3}'::line]", 1),
    ("ARRAY['((0,0),(1,1),(2,0))'::polygon, NULL]", 1),
    ("ARRAY['{[1,3)}'::int4multirange, '{}', NULL]", 1),
    ("ARRAY['12.34'::money, NULL, '-1']", 1),
    ("ARRAY['a:1 b:2A'::tsvector, '']", 1),
    ("ARRAY['a & b'::tsquery, '!c']", 1),
    ("ARRAY['0/16'::pg_lsn]", 1),
    ("ARRAY['1:2:'::pg_snapshot]", 1),
    ("ARRAY[row(1,'a'), NULL, row(NULL, 'x y')]", 1),
    // Lower bounds other than 1: the elements, in order (the bounds are dropped).
    ("'[0:2]={1,2,3}'::int[]", 1),
    ("'[-2:-1][3:4]={{1,NULL},{3,4}}'::int[]", 2),
    ("'[0:1]={(1,2),(3,4);NULL}'::box[]", 1),
];

#[tokio::test]
async fn arrays_of_text_forms_match_the_server() {
    let pool = pool().await;
    for (expr, ndims) in ARRAYS {
        let subscripts: Vec<String> = (1..=*ndims).map(|d| format!("s{d}")).collect();
        let sql = format!(
            "WITH t(a) AS (SELECT {expr}) SELECT a AS v, ARRAY(SELECT a[{}]::text FROM {} ORDER BY {}) AS t FROM t",
            subscripts.join("]["),
            std::iter::once("t".to_string())
                .chain((1..=*ndims).map(|d| format!("generate_subscripts(a, {d}) s{d}")))
                .collect::<Vec<_>>()
                .join(", "),
            subscripts.join(", "),
        );
        let r = pool
            .query(&sql, &[])
            .await
            .unwrap_or_else(|e| panic!("{expr}: {e}"));
        fn flatten(v: &Value, out: &mut Vec<Value>) {
            match v {
                Value::Array(items) => items.iter().for_each(|i| flatten(i, out)),
                other => out.push(other.clone()),
            }
        }
        let mut ours = Vec::new();
        flatten(&r[0].values()[0], &mut ours);
        let Value::Array(theirs) = &r[0].values()[1] else {
            panic!("{expr}: {:?}", r[0].values()[1])
        };
        assert_eq!(ours.len(), theirs.len(), "{expr}: {ours:?}");
        for (a, b) in ours.iter().zip(theirs) {
            match b {
                Value::Null => assert!(a.is_null(), "{expr}: {a:?}"),
                b => assert_eq!(Some(a.to_string().as_str()), b.as_str(), "{expr}: {a:?}"),
            }
        }
        // Arrays with bounds 1 go back in unchanged (box[] with its `;` delimiter).
        let type_name = r.columns()[0].type_name().to_string();
        if type_name == "_record" || expr.starts_with("'[") {
            continue;
        }
        let back = pool
            .query(
                &format!("SELECT format('%s', $1::{type_name}) = format('%s', {expr}) AS same"),
                &[&r[0].values()[0]],
            )
            .await
            .unwrap_or_else(|e| panic!("{expr}: {e}"));
        assert!(back[0].get::<bool, _>("same"), "{expr} did not round-trip");
    }
    // Bounds dropped, not a string: `[0:1]={1,2}` is the Array [1, 2].
    let r = pool
        .query("SELECT '[0:1]={1,2}'::int[] AS v", &[])
        .await
        .unwrap();
    assert_eq!(
        r[0].values()[0],
        Value::Array(vec![Value::Int(1), Value::Int(2)])
    );
}

/// xorshift64*: deterministic pseudo-random bits.
fn random_bits(n: usize) -> Vec<u64> {
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    (0..n)
        .map(|_| {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            x.wrapping_mul(0x2545_F491_4F6C_DD1D)
        })
        .collect()
}

/// Floats inside text forms print as float8out/float4out: checked against the
/// server for random bit patterns, round decimals and the thresholds.
#[tokio::test]
async fn floats_in_text_forms_match_the_server() {
    let pool = pool().await;
    let bits = random_bits(4000);
    let mut doubles: Vec<f64> = bits.iter().map(|b| f64::from_bits(*b)).collect();
    doubles.extend(bits.iter().map(|b| {
        let digits = (b >> 20) % 100_000_000;
        digits as f64 * 10f64.powi((b % 40) as i32 - 25)
    }));
    for e in -330..=310 {
        let p = format!("1e{e}").parse::<f64>().unwrap();
        doubles.extend([
            p,
            -p,
            p * 1.5,
            p * (1.0 - f64::EPSILON),
            p * (1.0 + f64::EPSILON),
        ]);
    }
    doubles.extend([
        f64::MIN_POSITIVE,
        f64::MAX,
        f64::MIN,
        5e-324,
        f64::NAN,
        f64::INFINITY,
        -0.0,
        0.0,
    ]);
    let r = pool
        .query(
            "SELECT ARRAY(SELECT point(x, -x) FROM unnest($1::float8[]) x) AS v, \
             ARRAY(SELECT point(x, -x)::text FROM unnest($1::float8[]) x) AS t",
            &[&doubles],
        )
        .await
        .unwrap();
    let (Value::Array(ours), Value::Array(theirs)) = (&r[0].values()[0], &r[0].values()[1]) else {
        panic!("{:?}", r[0])
    };
    assert_eq!(ours.len(), doubles.len());
    for ((a, b), x) in ours.iter().zip(theirs).zip(&doubles) {
        assert_eq!(a.as_str(), b.as_str(), "{x:e}");
    }
    let mut singles: Vec<f32> = bits.iter().map(|b| f32::from_bits(*b as u32)).collect();
    singles.extend(doubles.iter().map(|d| *d as f32));
    let r = pool
        .query(
            "SELECT ARRAY(SELECT row(x) FROM unnest($1::float4[]) x) AS v, \
             ARRAY(SELECT row(x)::text FROM unnest($1::float4[]) x) AS t",
            &[&singles],
        )
        .await
        .unwrap();
    let (Value::Array(ours), Value::Array(theirs)) = (&r[0].values()[0], &r[0].values()[1]) else {
        panic!("{:?}", r[0])
    };
    assert_eq!(ours.len(), singles.len());
    for ((a, b), x) in ours.iter().zip(theirs).zip(&singles) {
        assert_eq!(a.as_str(), b.as_str(), "{x:e}");
    }
}

/// float4 parameters are narrowed as the server's own float8::float4 is:
/// overflow and underflow are errors, NaN and ±Infinity pass.
#[tokio::test]
async fn float4_parameters_out_of_range_are_errors() {
    let pool = pool().await;
    for f in [1e300, -1e300, 1e-50, -1e-50, 3.5e38] {
        let err = pool
            .query("SELECT $1::float4 AS v", &[&Value::Float(f)])
            .await
            .unwrap_err();
        assert!(
            err.to_string().contains("out of range for type float4"),
            "{f:e}: {err}"
        );
        assert!(err.to_string().contains("parameter $1"), "{f:e}: {err}");
        // The server agrees that this value does not fit.
        let server = pool
            .query(&format!("SELECT '{f:e}'::float4"), &[])
            .await
            .unwrap_err();
        assert!(
            server.to_string().contains("out of range"),
            "{f:e}: {server}"
        );
    }
    for f in [
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        0.0,
        -0.0,
        1e-40,
        f64::from(f32::MAX),
        f64::from(f32::MIN),
        1.5,
    ] {
        let r = pool
            .query("SELECT $1::float4 AS v", &[&Value::Float(f)])
            .await
            .unwrap_or_else(|e| panic!("{f:e}: {e}"));
        let got = r[0].values()[0].as_f64().unwrap();
        // The same float4, held as the number its text reads as.
        assert_eq!((got as f32).to_bits(), (f as f32).to_bits(), "{f:e}");
        assert_eq!(
            got.to_bits(),
            edgepg_tokio::float4_value(f as f32).to_bits(),
            "{f:e}"
        );
    }
    // float4 values are the numbers their text reads as, as psycopg2 and
    // node-postgres give them; typed reads keep the exact f32.
    let r = pool
        .query(
            "SELECT 1.1::float4 AS a, ARRAY[0.1, -2.2]::float4[] AS b",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(r[0].value("a"), Some(&Value::Float(1.1)));
    assert_eq!(
        r[0].value("b"),
        Some(&Value::Array(vec![Value::Float(0.1), Value::Float(-2.2)]))
    );
    assert_eq!(r[0].get::<f32, _>("a"), 1.1f32);
}

/// Named composite types (fields of user-defined types) and user-defined range types.
#[tokio::test]
async fn named_composites_decode_as_the_server_prints_them() {
    let pool = pool().await;
    let mut conn = pool.getconn().await.unwrap();
    conn.batch_execute(
        "DROP TYPE IF EXISTS v_comp CASCADE; DROP TYPE IF EXISTS v_comp_mood CASCADE;
         CREATE TYPE v_comp_mood AS ENUM ('sad', 'so so');
         CREATE TYPE v_comp AS (n int, t text, m v_comp_mood, ms v_comp_mood[], b box, p point[]);
         DROP TYPE IF EXISTS v_trange; CREATE TYPE v_trange AS RANGE (subtype = text);
         DROP TYPE IF EXISTS v_frange; CREATE TYPE v_frange AS RANGE (subtype = float8);",
    )
    .await
    .unwrap();
    for expr in [
        "row(1, 'a b', 'so so', ARRAY['sad', 'so so']::v_comp_mood[], '(1,1),(0,0)', ARRAY['(1,2)'::point])::v_comp",
        "row(NULL, '', NULL, '{}', NULL, NULL)::v_comp",
        "ARRAY[row(1, 'x', 'sad', NULL, NULL, NULL)::v_comp]",
        "row(2, 'y', 'sad', NULL, NULL, NULL)::v_comp::text::v_comp",
        // Ranges of user-defined range types: bounds quoted as range_out does.
        r#"'["a b","c""d\\e")'::v_trange"#,
        "'[,\"\")'::v_trange",
        "'[1.0,1e20)'::v_frange",
        "'(-Infinity,-1.5e-7]'::v_frange",
    ] {
        let r = conn
            .query(&format!("SELECT {expr} AS v, format('%s', {expr}) AS t"), &[])
            .await
            .unwrap_or_else(|e| panic!("{expr}: {e}"));
        let v = &r[0].values()[0];
        let t: String = r[0].get("t");
        let ours = match v {
            Value::Array(items) => format!(
                "{{{}}}",
                items
                    .iter()
                    .map(|i| format!("\"{}\"", i.as_str().unwrap().replace('"', "\\\"")))
                    .collect::<Vec<_>>()
                    .join(",")
            ),
            v => v.as_str().unwrap_or_default().to_string(),
        };
        assert_eq!(ours, t, "{expr}: decoded {v:?}");
    }
    // A named composite goes back in through its text form.
    let r = conn
        .query(
            "SELECT row(3, 'z z', 'sad', NULL, NULL, NULL)::v_comp AS v",
            &[],
        )
        .await
        .unwrap();
    let back = conn
        .query(
            "SELECT format('%s', $1::v_comp) = format('%s', row(3, 'z z', 'sad', NULL, NULL, NULL)::v_comp) AS same",
            &[&r[0].values()[0]],
        )
        .await
        .unwrap();
    assert!(back[0].get::<bool, _>("same"));
    conn.batch_execute(
        "DROP TYPE v_comp; DROP TYPE v_comp_mood; DROP TYPE v_trange; DROP TYPE v_frange",
    )
    .await
    .unwrap();
}

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
        // …and the value goes back in unchanged (anonymous records have no input).
        if r.columns()[0].type_name() == "record" {
            continue;
        }
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
