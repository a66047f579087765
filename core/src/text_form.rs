//! Text forms, as PostgreSQL prints them, of types that have no `Value`
//! variant of their own: network addresses, ranges, geometric points, bit
//! strings, and arrays with lower bounds other than 1.

use postgres_types::{Kind, Type};

use crate::value::Value;

type BoxError = Box<dyn std::error::Error + Sync + Send>;

/// The text form of a binary value of `ty`, when this module knows the type.
pub(crate) fn decode(ty: &Type, raw: &[u8]) -> Option<Result<String, BoxError>> {
    if let Kind::Range(subtype) = ty.kind() {
        return Some(range(subtype, raw));
    }
    Some(match ty.name() {
        "inet" | "cidr" => inet(raw, ty.name() == "cidr"),
        "macaddr" | "macaddr8" => Ok(raw
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(":")),
        "point" => point(raw),
        "bit" | "varbit" => bits(raw),
        _ => return None,
    })
}

fn inet(raw: &[u8], cidr: bool) -> Result<String, BoxError> {
    let [family, bits, _, len, addr @ ..] = raw else {
        return Err("invalid inet".into());
    };
    let (text, max) = match (family, *len as usize, addr.len()) {
        (2, 4, 4) => (
            std::net::Ipv4Addr::new(addr[0], addr[1], addr[2], addr[3]).to_string(),
            32,
        ),
        (3, 16, 16) => {
            let octets: [u8; 16] = addr.try_into()?;
            (std::net::Ipv6Addr::from(octets).to_string(), 128)
        }
        _ => return Err("invalid inet".into()),
    };
    Ok(if cidr || *bits != max {
        format!("{text}/{bits}")
    } else {
        text
    })
}

fn point(raw: &[u8]) -> Result<String, BoxError> {
    if raw.len() != 16 {
        return Err("invalid point".into());
    }
    let x = f64::from_be_bytes(raw[0..8].try_into()?);
    let y = f64::from_be_bytes(raw[8..16].try_into()?);
    Ok(format!("({x},{y})"))
}

fn bits(raw: &[u8]) -> Result<String, BoxError> {
    if raw.len() < 4 {
        return Err("invalid bit string".into());
    }
    let n = i32::from_be_bytes(raw[0..4].try_into()?).max(0) as usize;
    let data = &raw[4..];
    if data.len() * 8 < n {
        return Err("invalid bit string".into());
    }
    Ok((0..n)
        .map(|i| {
            if data[i / 8] & (0x80 >> (i % 8)) != 0 {
                '1'
            } else {
                '0'
            }
        })
        .collect())
}

fn range(subtype: &Type, raw: &[u8]) -> Result<String, BoxError> {
    let (&flags, mut rest) = raw.split_first().ok_or("invalid range")?;
    if flags & 0x01 != 0 {
        return Ok("empty".into());
    }
    let mut bound = |present: bool| -> Result<String, BoxError> {
        if !present {
            return Ok(String::new());
        }
        if rest.len() < 4 {
            return Err("invalid range bound".into());
        }
        let len = i32::from_be_bytes(rest[0..4].try_into()?).max(0) as usize;
        let bytes = rest.get(4..4 + len).ok_or("invalid range bound")?;
        rest = &rest[4 + len..];
        let value: Value = postgres_types::FromSql::from_sql(subtype, bytes)?;
        Ok(quote_element(&value.text_param()?, "\",\\()[]"))
    };
    let lower = bound(flags & 0x08 == 0)?;
    let upper = bound(flags & 0x10 == 0)?;
    Ok(format!(
        "{}{lower},{upper}{}",
        if flags & 0x02 != 0 { '[' } else { '(' },
        if flags & 0x04 != 0 { ']' } else { ')' }
    ))
}

/// Quotes an array or range element the way PostgreSQL's output functions do.
pub(crate) fn quote_element(text: &str, specials: &str) -> String {
    let needs = text.is_empty()
        || text.eq_ignore_ascii_case("NULL")
        || text
            .chars()
            .any(|c| c.is_ascii_whitespace() || specials.contains(c));
    if !needs {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// `[lo:hi]…={…}` for arrays whose lower bounds are not all 1.
pub(crate) fn bounded_array(dims: &[(usize, i32)], nested: &Value) -> Result<String, BoxError> {
    let mut out = String::new();
    for (len, lower) in dims {
        out.push_str(&format!("[{lower}:{}]", *lower as i64 + *len as i64 - 1));
    }
    out.push('=');
    array_text(nested, &mut out)?;
    Ok(out)
}

fn array_text(v: &Value, out: &mut String) -> Result<(), BoxError> {
    match v {
        Value::Array(items) => {
            out.push('{');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                array_text(item, out)?;
            }
            out.push('}');
        }
        Value::Null => out.push_str("NULL"),
        other => out.push_str(&quote_element(&other.text_param()?, "{}\",\\")),
    }
    Ok(())
}
