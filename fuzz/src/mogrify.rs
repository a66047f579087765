//! `mogrify` with arbitrary SQL and parameters.

use arbitrary::{Arbitrary, Unstructured};
use edgepg_core::{ErrorKind, ToSql, Value};

use crate::values::FValue;

/// A parameter: a dynamic `Value` or a typed Rust value.
#[derive(Arbitrary, Debug)]
enum Param {
    Value(FValue),
    I32(i32),
    I64(i64),
    F64(f64),
    Bool(bool),
    Str(String),
    Bytes(Vec<u8>),
    OptI32(Option<i32>),
}

/// A parameter ready to pass as `&dyn ToSql`.
enum Owned {
    Value(Value),
    I32(i32),
    I64(i64),
    F64(f64),
    Bool(bool),
    Str(String),
    Bytes(Vec<u8>),
    OptI32(Option<i32>),
}

impl Owned {
    fn new(p: &Param) -> Owned {
        match p {
            Param::Value(v) => Owned::Value(v.to_value()),
            Param::I32(x) => Owned::I32(*x),
            Param::I64(x) => Owned::I64(*x),
            Param::F64(x) => Owned::F64(*x),
            Param::Bool(x) => Owned::Bool(*x),
            Param::Str(x) => Owned::Str(x.clone()),
            Param::Bytes(x) => Owned::Bytes(x.clone()),
            Param::OptI32(x) => Owned::OptI32(*x),
        }
    }

    fn sql(&self) -> &(dyn ToSql + Sync) {
        match self {
            Owned::Value(v) => v,
            Owned::I32(x) => x,
            Owned::I64(x) => x,
            Owned::F64(x) => x,
            Owned::Bool(x) => x,
            Owned::Str(x) => x,
            Owned::Bytes(x) => x,
            Owned::OptI32(x) => x,
        }
    }

    fn is_null(&self) -> bool {
        matches!(self, Owned::Value(Value::Null) | Owned::OptI32(None))
    }

    /// The text the literal must read back as, where it is obvious.
    fn expected_text(&self) -> Option<String> {
        match self {
            Owned::Value(Value::Text(s)) | Owned::Str(s) => Some(s.clone()),
            Owned::Value(Value::Int(i)) | Owned::I64(i) => Some(i.to_string()),
            Owned::I32(i) | Owned::OptI32(Some(i)) => Some(i.to_string()),
            Owned::Value(Value::Bool(b)) | Owned::Bool(b) => {
                Some(if *b { "t" } else { "f" }.to_string())
            }
            _ => None,
        }
    }
}

#[derive(Arbitrary, Debug)]
struct Input {
    sql: String,
    params: Vec<Param>,
}

/// Reads a literal produced by mogrify back: `'…'` (no backslash inside, so it
/// reads the same whatever `standard_conforming_strings` is) or `E'…'`.
/// `None` if it is not exactly one well-formed string constant.
fn unquote(lit: &str) -> Option<String> {
    let (body, escapes) = if let Some(b) = lit.strip_prefix("E'") {
        (b.strip_suffix('\'')?, true)
    } else {
        (lit.strip_prefix('\'')?.strip_suffix('\'')?, false)
    };
    let mut out = String::with_capacity(body.len());
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' if escapes => {
                if chars.next()? != '\\' {
                    return None;
                }
                out.push('\\');
            }
            '\\' => return None,
            '\'' => {
                if chars.next()? != '\'' {
                    return None;
                }
                out.push('\'');
            }
            c => out.push(c),
        }
    }
    Some(out)
}

/// Runs the mogrify target. Input starting with `SQL:` is SQL text run with
/// fixed parameters (readable regressions); anything else is structured.
pub fn mogrify(data: &[u8]) {
    let input = match data.strip_prefix(b"SQL:") {
        Some(sql) => Input {
            sql: String::from_utf8_lossy(sql).into_owned(),
            params: vec![
                Param::Str("it's \\ $1".into()),
                Param::I64(-7),
                Param::OptI32(None),
                Param::Value(FValue::Array(vec![
                    FValue::Text("a\"b".into()),
                    FValue::Null,
                ])),
                Param::Bytes(vec![0, 255]),
            ],
        },
        None => {
            let mut u = Unstructured::new(data);
            let Ok(input) = Input::arbitrary(&mut u) else {
                return;
            };
            input
        }
    };
    let owned: Vec<Owned> = input.params.iter().map(Owned::new).collect();
    let refs: Vec<&(dyn ToSql + Sync)> = owned.iter().map(Owned::sql).collect();

    // Arbitrary SQL: never a panic; text without `$` passes through unchanged.
    match edgepg_core::mogrify(&input.sql, &refs) {
        Ok(out) => {
            if !input.sql.contains('$') {
                assert_eq!(out, input.sql);
            }
            if out.contains('\0') {
                assert!(input.sql.contains('\0'), "mogrify produced a NUL byte");
            }
        }
        Err(e) => assert_eq!(e.kind(), ErrorKind::Interface, "{e:?}"),
    }

    // Each parameter alone: one well-formed literal that reads back as its text.
    let mut literals = Vec::new();
    for (i, p) in owned.iter().enumerate() {
        match edgepg_core::mogrify("$1", &[p.sql()]) {
            Ok(lit) => {
                if p.is_null() {
                    assert_eq!(lit, "NULL");
                } else {
                    let text = unquote(&lit)
                        .unwrap_or_else(|| panic!("param {i}: not one string constant: {lit:?}"));
                    assert!(!text.contains('\0'), "param {i}: NUL in {lit:?}");
                    if let Some(want) = p.expected_text() {
                        assert_eq!(text, want, "param {i}: {lit:?}");
                    }
                }
                literals.push(Some(lit));
            }
            Err(e) => {
                assert_eq!(e.kind(), ErrorKind::Interface, "{e:?}");
                assert!(e.to_string().contains("$1"), "{e}");
                if let Some(t) = p.expected_text() {
                    assert!(t.contains('\0'), "param {i}: {t:?} refused: {e}");
                }
                literals.push(None);
            }
        }
    }

    // In context: only placeholders outside quotes, identifiers and comments move.
    if owned.len() >= 2 {
        if let (Some(a), Some(b)) = (&literals[0], &literals[1]) {
            let sql = "SELECT $1, '$1', \"$2\", $$ $1 $$, E'\\' $2', $2 -- $1\n/* $2 */ , $1";
            let want =
                format!("SELECT {a}, '$1', \"$2\", $$ $1 $$, E'\\' $2', {b} -- $1\n/* $2 */ , {a}");
            let got = edgepg_core::mogrify(sql, &[owned[0].sql(), owned[1].sql()])
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(got, want);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::unquote;

    #[test]
    fn unquoting() {
        assert_eq!(unquote("'a''b'").as_deref(), Some("a'b"));
        assert_eq!(unquote("E'a\\\\b'").as_deref(), Some("a\\b"));
        assert_eq!(unquote("''").as_deref(), Some(""));
        for bad in ["'", "'a'b'", "'a\\b'", "E'\\'", "x", "'a' "] {
            assert_eq!(unquote(bad), None, "{bad:?}");
        }
    }
}
