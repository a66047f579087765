//! The types parameters are declared with: probed from the Rust value for
//! `callproc` and `mogrify`, left to the server for a dynamic [`Value`] in an
//! unnamed statement (§3).
//!
//! [`Value`]: crate::Value

use tokio_postgres::types::{Kind, ToSql, Type};

/// The type to declare for a parameter of an unnamed statement: unspecified
/// for a dynamic [`Value`], which the server types by inference as it does
/// with a prepared statement (§3), otherwise [`probe_type`].
pub(crate) fn declared_type(param: &(dyn ToSql + Sync)) -> Type {
    let unspecified = unspecified_type();
    // Only `Value` accepts a type it cannot know.
    let mut buf = bytes::BytesMut::new();
    if param.to_sql_checked(&unspecified, &mut buf).is_ok() {
        unspecified
    } else {
        probe_type(param)
    }
}

/// OID 0: the server infers the parameter's type. Made once (`Type::new`
/// allocates) and shared.
fn unspecified_type() -> Type {
    static UNSPECIFIED: std::sync::OnceLock<Type> = std::sync::OnceLock::new();
    UNSPECIFIED
        .get_or_init(|| Type::new("unspecified".into(), 0, Kind::Pseudo, "pg_catalog".into()))
        .clone()
}

/// The first type a parameter encodes to in binary; "unspecified" (OID 0) when none.
pub(crate) fn probe_type(param: &(dyn ToSql + Sync)) -> Type {
    const CANDIDATES: [Type; 28] = [
        Type::BOOL,
        Type::INT4,
        Type::INT8,
        Type::INT2,
        Type::FLOAT8,
        Type::FLOAT4,
        Type::TEXT,
        Type::BYTEA,
        Type::JSONB,
        Type::UUID,
        Type::TIMESTAMPTZ,
        Type::TIMESTAMP,
        Type::DATE,
        Type::OID,
        Type::CHAR,
        Type::BOOL_ARRAY,
        Type::INT4_ARRAY,
        Type::INT8_ARRAY,
        Type::INT2_ARRAY,
        Type::FLOAT8_ARRAY,
        Type::FLOAT4_ARRAY,
        Type::TEXT_ARRAY,
        Type::BYTEA_ARRAY,
        Type::JSONB_ARRAY,
        Type::UUID_ARRAY,
        Type::TIMESTAMPTZ_ARRAY,
        Type::TIMESTAMP_ARRAY,
        Type::DATE_ARRAY,
    ];
    let mut buf = bytes::BytesMut::new();
    for ty in CANDIDATES {
        buf.clear();
        if matches!(param.encode_format(&ty), postgres_types::Format::Binary)
            && param.to_sql_checked(&ty, &mut buf).is_ok()
        {
            return ty;
        }
    }
    unspecified_type()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Value;

    #[test]
    fn probing() {
        assert_eq!(probe_type(&6i32), Type::INT4);
        assert_eq!(probe_type(&Value::Int(6)), Type::INT4);
        assert_eq!(probe_type(&Value::Int(1 << 40)), Type::INT8);
        assert_eq!(probe_type(&"x"), Type::TEXT);
        assert_eq!(probe_type(&Value::Numeric("1.5".into())).oid(), 0);
        assert_eq!(probe_type(&vec![1i32, 2]), Type::INT4_ARRAY);
        assert_eq!(probe_type(&vec!["a".to_string()]), Type::TEXT_ARRAY);
        assert_eq!(probe_type(&7u32), Type::OID);
        assert_eq!(declared_type(&Value::Int(6)).oid(), 0);
        assert_eq!(declared_type(&Value::Null).oid(), 0);
        assert_eq!(declared_type(&6i32), Type::INT4);
        assert_eq!(declared_type(&None::<i64>), Type::INT8);
    }
}
