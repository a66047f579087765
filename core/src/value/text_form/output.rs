//! Any binary value as PostgreSQL's output function prints it (what a
//! text-format query returns): the input of node-postgres-style type parsers.

use postgres_protocol::types as wire;
use postgres_types::{FromSql, Kind, Type};

use super::BoxError;
use crate::value::Value;

/// The text form of `raw`, a binary value of `ty`.
pub(crate) fn text_output(ty: &Type, raw: &[u8]) -> Result<String, BoxError> {
    let mut out = String::new();
    push_text(&mut out, ty, raw)?;
    Ok(out)
}

fn push_text(out: &mut String, ty: &Type, raw: &[u8]) -> Result<(), BoxError> {
    match ty.oid() {
        16 => out.push(if wire::bool_from_sql(raw)? { 't' } else { 'f' }),
        21 => out.push_str(&wire::int2_from_sql(raw)?.to_string()),
        23 => out.push_str(&wire::int4_from_sql(raw)?.to_string()),
        20 => out.push_str(&wire::int8_from_sql(raw)?.to_string()),
        26 => out.push_str(&wire::oid_from_sql(raw)?.to_string()),
        700 => super::push_float(out, super::float4_value(wire::float4_from_sql(raw)?), true),
        701 => super::push_float(out, wire::float8_from_sql(raw)?, false),
        // The binary form of json is its text; of jsonb, a version byte and its text.
        114 => out.push_str(std::str::from_utf8(raw)?),
        3802 => match raw.split_first() {
            Some((1, rest)) => out.push_str(std::str::from_utf8(rest)?),
            _ => return Err("unsupported jsonb version".into()),
        },
        17 => push_hex(out, raw),
        _ => match ty.kind() {
            Kind::Domain(base) => push_text(out, base, raw)?,
            Kind::Array(member) => push_array(out, member, raw)?,
            _ => push_value(out, &Value::from_sql(ty, raw)?),
        },
    }
    Ok(())
}

fn push_hex(out: &mut String, raw: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push_str("\\x");
    for b in raw {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 15)]));
    }
}

/// A decoded scalar value's text (the types `push_text` does not read itself).
fn push_value(out: &mut String, v: &Value) {
    match v {
        Value::Null => out.push_str("NULL"),
        Value::Bool(b) => out.push(if *b { 't' } else { 'f' }),
        Value::Int(i) => out.push_str(&i.to_string()),
        Value::Float(f) => super::push_float(out, *f, false),
        Value::Bytes(b) => push_hex(out, b),
        Value::Json(j) => out.push_str(&j.to_string()),
        Value::Array(items) => {
            // Not produced for scalar types; kept total.
            out.push('{');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                push_value(out, item);
            }
            out.push('}');
        }
        Value::Other { text, .. } => out.push_str(text),
        other => out.push_str(other.as_str().unwrap_or_default()),
    }
}

/// `array_out`: `{a,b}`, nested per dimension, with `[lo:hi]=` bounds when
/// a lower bound is not 1; elements quoted where the input syntax needs it.
fn push_array(out: &mut String, member: &Type, raw: &[u8]) -> Result<(), BoxError> {
    use fallible_iterator::FallibleIterator;
    let array = wire::array_from_sql(raw)?;
    let dims: Vec<wire::ArrayDimension> = array.dimensions().collect()?;
    if dims.iter().any(|d| d.len <= 0) || dims.is_empty() {
        out.push_str("{}");
        return Ok(());
    }
    if dims.iter().any(|d| d.lower_bound != 1) {
        for d in &dims {
            let hi = i64::from(d.lower_bound) + i64::from(d.len) - 1;
            out.push_str(&format!("[{}:{hi}]", d.lower_bound));
        }
        out.push('=');
    }
    // Box arrays are the one built-in type delimited by ';'.
    let delimiter = if member.oid() == 603 { ';' } else { ',' };
    let mut elements = array.values();
    push_dimension(out, member, &dims, delimiter, &mut elements)?;
    Ok(())
}

fn push_dimension<'a>(
    out: &mut String,
    member: &Type,
    dims: &[wire::ArrayDimension],
    delimiter: char,
    elements: &mut wire::ArrayValues<'a>,
) -> Result<(), BoxError> {
    use fallible_iterator::FallibleIterator;
    out.push('{');
    for i in 0..dims[0].len {
        if i > 0 {
            out.push(delimiter);
        }
        if dims.len() > 1 {
            push_dimension(out, member, &dims[1..], delimiter, elements)?;
            continue;
        }
        match elements.next()? {
            None => return Err("array has fewer elements than its dimensions".into()),
            Some(None) => out.push_str("NULL"),
            Some(Some(raw)) => push_element(out, &text_output(member, raw)?, delimiter),
        }
    }
    out.push('}');
    Ok(())
}

/// One element, quoted as `array_out` quotes it.
fn push_element(out: &mut String, s: &str, delimiter: char) {
    let needs_quotes = s.is_empty()
        || s.eq_ignore_ascii_case("NULL")
        || s.chars().any(|c| {
            matches!(
                c,
                '"' | '\\' | '{' | '}' | ' ' | '\t' | '\n' | '\r' | '\x0b' | '\x0c'
            ) || c == delimiter
        });
    if !needs_quotes {
        out.push_str(s);
        return;
    }
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::push_element;

    fn quoted(s: &str) -> String {
        let mut out = String::new();
        push_element(&mut out, s, ',');
        out
    }

    #[test]
    fn elements_are_quoted_as_array_out_does() {
        assert_eq!(quoted("abc"), "abc");
        assert_eq!(quoted(""), "\"\"");
        assert_eq!(quoted("null"), "\"null\"");
        assert_eq!(quoted("a b"), "\"a b\"");
        assert_eq!(quoted("a,b"), "\"a,b\"");
        assert_eq!(quoted("say \"hi\"\\"), "\"say \\\"hi\\\"\\\\\"");
    }
}
