//! `Value`: decoding arbitrary bytes as if a (hostile) server sent them, and
//! the encode → decode round trip.

use arbitrary::{Arbitrary, Unstructured};
use bytes::BytesMut;
use edgepg_core::{float4_value, FromSql, ToSql, Type, Value};
use postgres_types::{Format, IsNull, Kind};

/// A JSON document, nesting bounded.
#[derive(Arbitrary, Debug, Clone)]
pub(crate) enum Json {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(String, Json)>),
}

impl Json {
    fn to_serde(&self, depth: usize) -> serde_json::Value {
        use serde_json::Value as J;
        if depth > 8 {
            return J::Null;
        }
        match self {
            Json::Null => J::Null,
            Json::Bool(b) => J::Bool(*b),
            Json::Int(i) => J::from(*i),
            Json::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
            Json::Str(s) => J::String(s.clone()),
            Json::Arr(a) => J::Array(a.iter().map(|j| j.to_serde(depth + 1)).collect()),
            Json::Obj(o) => J::Object(
                o.iter()
                    .map(|(k, v)| (k.clone(), v.to_serde(depth + 1)))
                    .collect(),
            ),
        }
    }
}

/// A `Value` as the fuzzer builds it.
#[derive(Arbitrary, Debug, Clone)]
pub(crate) enum FValue {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Numeric(String),
    Text(String),
    Bytes(Vec<u8>),
    Json(Json),
    Uuid(String),
    Date(String),
    Time(String),
    Timestamp(String),
    TimestampTz(String),
    Interval(String),
    Array(Vec<FValue>),
    Other(String, String),
}

impl FValue {
    pub(crate) fn to_value(&self) -> Value {
        self.build(0)
    }

    fn build(&self, depth: usize) -> Value {
        match self {
            FValue::Null => Value::Null,
            FValue::Bool(b) => Value::Bool(*b),
            FValue::Int(i) => Value::Int(*i),
            FValue::Float(f) => Value::Float(*f),
            FValue::Numeric(s) => Value::Numeric(s.clone()),
            FValue::Text(s) => Value::Text(s.clone()),
            FValue::Bytes(b) => Value::Bytes(b.clone()),
            FValue::Json(j) => Value::Json(j.to_serde(0)),
            FValue::Uuid(s) => Value::Uuid(s.clone()),
            FValue::Date(s) => Value::Date(s.clone()),
            FValue::Time(s) => Value::Time(s.clone()),
            FValue::Timestamp(s) => Value::Timestamp(s.clone()),
            FValue::TimestampTz(s) => Value::TimestampTz(s.clone()),
            FValue::Interval(s) => Value::Interval(s.clone()),
            FValue::Array(items) if depth < 6 => {
                Value::Array(items.iter().map(|v| v.build(depth + 1)).collect())
            }
            FValue::Array(_) => Value::Null,
            FValue::Other(t, s) => Value::Other {
                type_name: t.clone(),
                text: s.clone(),
            },
        }
    }
}

/// The types a server may declare for a column.
fn types() -> &'static [Type] {
    static TYPES: std::sync::OnceLock<Vec<Type>> = std::sync::OnceLock::new();
    TYPES.get_or_init(build_types)
}

fn build_types() -> Vec<Type> {
    let domain = Type::new(
        "fuzz_domain".into(),
        900_001,
        Kind::Domain(Type::INT4),
        "public".into(),
    );
    let enumeration = Type::new(
        "fuzz_enum".into(),
        900_002,
        Kind::Enum(vec!["a".into(), "b".into()]),
        "public".into(),
    );
    let domain_array = Type::new(
        "_fuzz_domain".into(),
        900_003,
        Kind::Array(domain.clone()),
        "public".into(),
    );
    let nested_range = Type::new(
        "fuzz_range".into(),
        900_004,
        Kind::Range(Type::TIMESTAMPTZ),
        "public".into(),
    );
    let citext = Type::new("citext".into(), 900_005, Kind::Simple, "public".into());
    let unknown = Type::new("fuzz_opaque".into(), 900_006, Kind::Simple, "public".into());
    vec![
        Type::BOOL,
        Type::INT2,
        Type::INT4,
        Type::INT8,
        Type::OID,
        Type::FLOAT4,
        Type::FLOAT8,
        Type::NUMERIC,
        Type::BYTEA,
        Type::JSON,
        Type::JSONB,
        Type::UUID,
        Type::DATE,
        Type::TIME,
        Type::TIMETZ,
        Type::TIMESTAMP,
        Type::TIMESTAMPTZ,
        Type::INTERVAL,
        Type::TEXT,
        Type::VARCHAR,
        Type::BPCHAR,
        Type::NAME,
        Type::CHAR,
        Type::UNKNOWN,
        Type::INET,
        Type::CIDR,
        Type::MACADDR,
        Type::MACADDR8,
        Type::POINT,
        Type::BIT,
        Type::VARBIT,
        Type::INT4_RANGE,
        Type::INT8_RANGE,
        Type::NUM_RANGE,
        Type::TS_RANGE,
        Type::TSTZ_RANGE,
        Type::DATE_RANGE,
        Type::BOOL_ARRAY,
        Type::INT2_ARRAY,
        Type::INT4_ARRAY,
        Type::INT8_ARRAY,
        Type::FLOAT8_ARRAY,
        Type::NUMERIC_ARRAY,
        Type::TEXT_ARRAY,
        Type::BYTEA_ARRAY,
        Type::JSONB_ARRAY,
        Type::UUID_ARRAY,
        Type::TIMESTAMPTZ_ARRAY,
        Type::INTERVAL_ARRAY,
        Type::INT4_RANGE_ARRAY,
        Type::INET_ARRAY,
        Type::XML,
        Type::MONEY,
        Type::TS_VECTOR,
        domain,
        enumeration,
        domain_array,
        nested_range,
        citext,
        unknown,
    ]
}

#[derive(Arbitrary, Debug)]
struct RoundTrip {
    ty: u8,
    value: FValue,
}

/// Runs the values target: `data[0]` picks a type and the rest is decoded
/// as a value of it (readable regression files); the whole input is also
/// decoded as every type, and read as an arbitrary `Value` to round-trip.
pub fn values(data: &[u8]) {
    let types = types();
    if let Some((&pick, raw)) = data.split_first() {
        decode(&types[pick as usize % types.len()], raw);
    }
    for t in types {
        decode(t, data);
    }
    let mut u = Unstructured::new(data);
    if let Ok(RoundTrip { ty, value }) = RoundTrip::arbitrary(&mut u) {
        let value = value.to_value();
        round_trip(&types[ty as usize % types.len()], &value);
        // Every other type too: encoding never panics.
        for t in types {
            let mut buf = BytesMut::new();
            let _ = value.to_sql_checked(t, &mut buf);
        }
    }
}

/// The index of `ty` in the type list (for writing regression inputs).
pub fn type_index(ty: &Type) -> Option<u8> {
    types().iter().position(|t| t == ty).map(|i| i as u8)
}

/// What a column of type `ty` holding `raw` decodes to; decoding is total
/// (an error, never a panic), and what decodes re-encodes to the same value.
fn decode(ty: &Type, raw: &[u8]) {
    let Ok(v) = Value::from_sql(ty, raw) else {
        return;
    };
    let _ = v.to_string();
    let _ = v.to_json();
    let _ = format!("{v:?}");
    if matches!(v.encode_format(ty), Format::Binary) {
        let mut buf = BytesMut::new();
        if let Ok(IsNull::No) = v.to_sql_checked(ty, &mut buf) {
            let again = Value::from_sql(ty, &buf)
                .unwrap_or_else(|e| panic!("{ty}: {v:?} re-encoded does not decode: {e}"));
            assert!(same(&v, &again), "{ty}: {v:?} came back as {again:?}");
        }
    }
}

/// Encodes `v` as `ty` where it has a binary encoding, and decodes it back.
fn round_trip(ty: &Type, v: &Value) {
    let mut buf = BytesMut::new();
    let encoded = v.to_sql_checked(ty, &mut buf);
    if v.is_null() {
        assert!(
            matches!(encoded, Ok(IsNull::Yes)),
            "{ty}: NULL not encoded as NULL"
        );
        return;
    }
    if !matches!(v.encode_format(ty), Format::Binary) {
        // Sent as text for the server to parse: nothing to decode here.
        return;
    }
    let Ok(IsNull::No) = encoded else {
        // Refused (e.g. out of range for int2): fine, as long as it did not panic.
        return;
    };
    let back = Value::from_sql(ty, &buf)
        .unwrap_or_else(|e| panic!("{ty}: {v:?} encoded does not decode: {e}"));
    let want = match (v, base(ty)) {
        // A float4 reads back as the number its text reads as.
        (Value::Int(i), t) if *t == Type::FLOAT4 => Value::Float(float4_value(*i as f32)),
        (Value::Int(i), t) if *t == Type::FLOAT8 => Value::Float(*i as f64),
        (Value::Float(f), t) if *t == Type::FLOAT4 => Value::Float(float4_value(*f as f32)),
        _ => v.clone(),
    };
    assert!(same(&want, &back), "{ty}: {v:?} came back as {back:?}");
}

fn base(ty: &Type) -> &Type {
    match ty.kind() {
        Kind::Domain(b) => base(b),
        _ => ty,
    }
}

/// Equality with NaN equal to itself and JSON numbers compared as numbers.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Float(x), Value::Float(y)) => x == y || (x.is_nan() && y.is_nan()),
        (Value::Json(x), Value::Json(y)) => same_json(x, y),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        _ => a == b,
    }
}

fn same_json(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    use serde_json::Value as J;
    match (a, b) {
        (J::Number(x), J::Number(y)) => match (x.as_f64(), y.as_f64()) {
            (Some(x), Some(y)) if x.is_finite() && y.is_finite() => {
                x == y || (x - y).abs() <= x.abs().max(y.abs()) * 1e-15
            }
            _ => x == y,
        },
        (J::Array(x), J::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same_json(a, b))
        }
        (J::Object(x), J::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| same_json(v, w)))
        }
        _ => a == b,
    }
}
