//! Property: `mogrify(sql, params)` executed returns exactly what the bound query returns (SPEC §5).

use proptest::prelude::*;

use edgepg_tests::PgServer;
use edgepg_tokio::{Pool, Value};

fn text() -> impl Strategy<Value = String> {
    // Any Unicode but NUL, with the characters that break naive quoting made likely.
    prop::collection::vec(
        prop_oneof![
            3 => any::<char>().prop_filter("no NUL", |c| *c != '\0'),
            1 => prop::sample::select(vec!['\'', '\\', '"', '$', '{', '}', ',', ' ', '\n', '🐘']),
        ],
        0..24,
    )
    .prop_map(|chars| chars.into_iter().collect())
}

fn case() -> impl Strategy<Value = (&'static str, Value)> {
    prop_oneof![
        text().prop_map(|s| ("text", Value::Text(s))),
        any::<i64>().prop_map(|i| ("int8", Value::Int(i))),
        any::<i32>().prop_map(|i| ("int4", Value::Int(i.into()))),
        prop_oneof![
            any::<f64>(),
            Just(f64::NAN),
            Just(f64::INFINITY),
            Just(f64::NEG_INFINITY),
            Just(-0.0)
        ]
        .prop_map(|f| ("float8", Value::Float(f))),
        any::<bool>().prop_map(|b| ("bool", Value::Bool(b))),
        prop::collection::vec(any::<u8>(), 0..32).prop_map(|b| ("bytea", Value::Bytes(b))),
        (any::<i64>(), 0u32..12).prop_map(|(i, scale)| {
            let digits = i.unsigned_abs().to_string();
            let scale = (scale as usize).min(digits.len());
            let (int, frac) = digits.split_at(digits.len() - scale);
            let int = if int.is_empty() { "0" } else { int };
            let sign = if i < 0 { "-" } else { "" };
            (
                "numeric",
                Value::Numeric(if frac.is_empty() {
                    format!("{sign}{int}")
                } else {
                    format!("{sign}{int}.{frac}")
                }),
            )
        }),
        prop::collection::vec(prop::option::of(text()), 0..5).prop_map(|items| {
            (
                "text[]",
                Value::Array(
                    items
                        .into_iter()
                        .map(|s| s.map_or(Value::Null, Value::Text))
                        .collect(),
                ),
            )
        }),
        prop::collection::vec(prop::option::of(any::<i32>()), 0..5).prop_map(|items| {
            (
                "int4[]",
                Value::Array(
                    items
                        .into_iter()
                        .map(|i| i.map_or(Value::Null, |i| Value::Int(i.into())))
                        .collect(),
                ),
            )
        }),
        (text(), any::<i32>()).prop_map(|(k, v)| (
            "jsonb",
            Value::Json(serde_json::json!({ k: [v, null, true] }))
        )),
        Just(("text", Value::Null)),
    ]
}

#[test]
fn mogrify_matches_bound_parameters() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let pool = rt.block_on(async { Pool::new(PgServer::shared().url()).unwrap() });
    let config = ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    proptest!(config, |((ty, value) in case(), (ty2, value2) in case())| {
        let sql = format!("SELECT $1::{ty} AS a, $2::{ty2} AS b, $1::{ty} IS NULL AS n, '$2' AS lit -- $1\n");
        let (bound, inlined, direct) = rt.block_on(async {
            let bound = pool.query(&sql, &[&value, &value2]).await.map(|r| format!("{:?}", r[0]));
            let inlined = pool.mogrify(&sql, &[&value, &value2]).unwrap();
            let direct = pool.query(&inlined, &[]).await.map(|r| format!("{:?}", r[0]));
            (bound, inlined, direct)
        });
        match (bound, direct) {
            (Ok(b), Ok(d)) => prop_assert_eq!(b, d, "{}", inlined),
            (Err(b), Err(d)) => prop_assert_eq!(b.code(), d.code(), "{}", inlined),
            (b, d) => prop_assert!(false, "bound {:?} vs mogrified {:?}: {}", b, d, inlined),
        }
    });
}
