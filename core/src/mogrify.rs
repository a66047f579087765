//! `mogrify`: SQL with its `$n` parameters replaced by literals (SPEC §5).
//!
//! Every value becomes an untyped quoted literal holding exactly the text the
//! server would parse for a parameter of unspecified type, so the server types
//! the literal by the same inference it applies to `$n`. Placeholders inside
//! string literals, quoted identifiers, comments and dollar quotes are left
//! alone; identifiers are never produced.

use tokio_postgres::types::ToSql;

use crate::error::{Error, Result};
use crate::param_types::probe_type;
use crate::sql_text::{Lexer, Token};
use crate::value::Value;

/// Renders `sql` with `params` interpolated as literals.
///
/// ```
/// use edgepg_core::{mogrify, Value};
/// let sql = mogrify("SELECT $1::text, $2::int, '$1'", &[&"it's", &Value::Int(7)])?;
/// assert_eq!(sql, "SELECT 'it''s'::text, '7'::int, '$1'");
/// # Ok::<(), edgepg_core::Error>(())
/// ```
pub fn mogrify(sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<String> {
    let literals = params
        .iter()
        .enumerate()
        .map(|(i, p)| {
            literal(*p)
                .map_err(|e| Error::interface(format!("cannot mogrify parameter ${}: {e}", i + 1)))
        })
        .collect::<Result<Vec<String>>>()?;
    substitute(sql, &literals)
}

/// The literal for one parameter: `NULL`, or a quoted string.
fn literal(param: &(dyn ToSql + Sync)) -> std::result::Result<String, String> {
    // Only accept-anything parameters (`Value`) take this made-up type, and they
    // encode it in their text form: exactly what is needed here.
    let sentinel = postgres_types::Type::new(
        "edgepg_text_form".into(),
        u32::MAX,
        postgres_types::Kind::Pseudo,
        "pg_catalog".into(),
    );
    let mut buf = bytes::BytesMut::new();
    if let Ok(is_null) = param.to_sql_checked(&sentinel, &mut buf) {
        return match is_null {
            postgres_types::IsNull::Yes => Ok("NULL".into()),
            postgres_types::IsNull::No => {
                let text = std::str::from_utf8(&buf)
                    .map_err(|_| "its text form is not UTF-8".to_string())?;
                quote_literal(text)
            }
        };
    }
    let ty = probe_type(param);
    if ty.oid() == 0 {
        return Err("its type has no text form here; pass it as an edgepg Value".into());
    }
    buf.clear();
    let is_null = param
        .to_sql_checked(&ty, &mut buf)
        .map_err(|e| e.to_string())?;
    if matches!(is_null, postgres_types::IsNull::Yes) {
        return Ok("NULL".into());
    }
    let value: Value = postgres_types::FromSql::from_sql(&ty, &buf).map_err(|e| e.to_string())?;
    let text = value.text_param().map_err(|e| e.to_string())?;
    quote_literal(&text)
}

/// Quotes text as a string constant that reads back the same whatever
/// `standard_conforming_strings` is.
pub(crate) fn quote_literal(text: &str) -> std::result::Result<String, String> {
    if text.contains('\0') {
        return Err("text contains a NUL byte, which PostgreSQL cannot store".into());
    }
    let escaped = text.replace('\'', "''");
    if text.contains('\\') {
        Ok(format!("E'{}'", escaped.replace('\\', "\\\\")))
    } else {
        Ok(format!("'{escaped}'"))
    }
}

/// `sql` with each `$n` outside quotes, comments and dollar quotes replaced
/// by `literals[n - 1]`.
fn substitute(sql: &str, literals: &[String]) -> Result<String> {
    let mut out =
        String::with_capacity(sql.len() + literals.iter().map(String::len).sum::<usize>());
    let mut copied = 0;
    for token in Lexer::new(sql) {
        let Token::Param(param) = token else {
            continue;
        };
        let at = param.as_ptr() as usize - sql.as_ptr() as usize;
        let n: usize = param[1..]
            .parse()
            .map_err(|_| Error::interface(format!("placeholder at byte {at} is out of range")))?;
        let lit = n
            .checked_sub(1)
            .and_then(|k| literals.get(k))
            .ok_or_else(|| {
                Error::interface(format!(
                    "placeholder ${n} has no parameter ({} given)",
                    literals.len()
                ))
            })?;
        out.push_str(&sql[copied..at]);
        out.push_str(lit);
        copied = at + param.len();
    }
    out.push_str(&sql[copied..]);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_outside_literals_only() {
        let lit = vec!["'a'".to_string(), "'b'".to_string()];
        let cases = [
            ("SELECT $1, $2", "SELECT 'a', 'b'"),
            ("SELECT '$1', \"$2\", $2", "SELECT '$1', \"$2\", 'b'"),
            (
                "SELECT $$ $1 $$, $tag$ $2 $tag$, $1",
                "SELECT $$ $1 $$, $tag$ $2 $tag$, 'a'",
            ),
            ("SELECT 1 -- $1\n, $2", "SELECT 1 -- $1\n, 'b'"),
            (
                "SELECT /* $1 /* $2 */ */ $1",
                "SELECT /* $1 /* $2 */ */ 'a'",
            ),
            ("SELECT E'\\' $1', $2", "SELECT E'\\' $1', 'b'"),
            ("SELECT a$1 FROM t", "SELECT a$1 FROM t"),
            ("SELECT 100 % 7, $1", "SELECT 100 % 7, 'a'"),
        ];
        for (sql, want) in cases {
            assert_eq!(substitute(sql, &lit).unwrap(), want, "{sql}");
        }
        assert!(substitute("SELECT $3", &lit).is_err());
        assert!(substitute("SELECT $0", &lit).is_err());
        assert!(substitute("SELECT $99999999999999999999999", &lit).is_err());
    }

    #[test]
    fn literals() {
        assert_eq!(
            mogrify("SELECT $1", &[&Value::Null]).unwrap(),
            "SELECT NULL"
        );
        assert_eq!(
            mogrify("SELECT $1", &[&"a\\b'c"]).unwrap(),
            "SELECT E'a\\\\b''c'"
        );
        assert_eq!(mogrify("SELECT $1", &[&f64::NAN]).unwrap(), "SELECT 'NaN'");
        assert_eq!(
            mogrify("SELECT $1", &[&vec![1u8, 255]]).unwrap(),
            "SELECT E'\\\\x01ff'"
        );
        assert!(mogrify("SELECT $1", &[&"nul\0"]).is_err());
        let arr = Value::Array(vec![Value::from("x\"y"), Value::Null]);
        assert_eq!(
            mogrify("SELECT $1", &[&arr]).unwrap(),
            "SELECT E'{\"x\\\\\"y\",NULL}'"
        );
    }
}
