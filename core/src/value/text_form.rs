//! Text forms, as PostgreSQL prints them, of types that have no `Value`
//! variant of their own: network addresses, ranges and multiranges, geometric
//! types, bit strings, money, LSNs, snapshots, records, text search types.
//!
//! Every decoder reads through [`Reader`], which checks each length against
//! the bytes at hand: malformed input from the server is an error, never a
//! panic.

mod float;
mod geometry;
mod output;
mod search;

use std::cell::Cell;

use postgres_protocol::types as wire;
use postgres_types::{FromSql, Kind, Type};

use crate::value::Value;

pub use float::float4_value;
pub(crate) use float::{debug_float, push_float};
pub(crate) use output::text_output;

type BoxError = Box<dyn std::error::Error + Sync + Send>;

/// The text form of a binary value of `ty`, when this module knows the type.
pub(crate) fn decode(ty: &Type, raw: &[u8]) -> Option<Result<String, BoxError>> {
    match ty.kind() {
        Kind::Range(subtype) => return Some(range(subtype, raw)),
        Kind::Multirange(subtype) => return Some(multirange(subtype, raw)),
        Kind::Composite(_) => return Some(record(ty, raw)),
        _ => {}
    }
    Some(match ty.oid() {
        869 | 650 => inet(raw, ty.oid() == 650),
        829 | 774 => macaddr(raw),
        1560 | 1562 => bits(raw),
        600..=604 | 628 | 718 => geometry::decode(ty.oid(), raw),
        790 => money(raw),
        3220 => pg_lsn(raw),
        2970 | 5038 => snapshot(raw),
        2249 => record(ty, raw),
        3614 => search::tsvector(raw),
        3615 => search::tsquery(raw),
        _ => return None,
    })
}

/// Bounds-checked big-endian reads; `what` names the type in errors.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    what: &'static str,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8], what: &'static str) -> Reader<'a> {
        Reader { buf, what }
    }

    pub(crate) fn error(&self, why: &str) -> BoxError {
        format!("invalid {} value: {why}", self.what).into()
    }

    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], BoxError> {
        if n > self.buf.len() {
            return Err(self.error("truncated"));
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    /// An unsigned big-endian integer of `n` bytes (at most 8).
    fn uint(&mut self, n: usize) -> Result<u64, BoxError> {
        Ok(self.take(n)?.iter().fold(0, |v, &b| v << 8 | u64::from(b)))
    }

    pub(crate) fn u8(&mut self) -> Result<u8, BoxError> {
        Ok(self.uint(1)? as u8)
    }

    pub(crate) fn u16(&mut self) -> Result<u16, BoxError> {
        Ok(self.uint(2)? as u16)
    }

    pub(crate) fn u32(&mut self) -> Result<u32, BoxError> {
        Ok(self.uint(4)? as u32)
    }

    pub(crate) fn i32(&mut self) -> Result<i32, BoxError> {
        Ok(self.uint(4)? as u32 as i32)
    }

    /// A count or length that must not be negative.
    pub(crate) fn len(&mut self) -> Result<usize, BoxError> {
        let n = self.i32()?;
        usize::try_from(n).map_err(|_| self.error("negative length"))
    }

    pub(crate) fn u64(&mut self) -> Result<u64, BoxError> {
        self.uint(8)
    }

    pub(crate) fn f64(&mut self) -> Result<f64, BoxError> {
        self.uint(8).map(f64::from_bits)
    }

    /// A NUL-terminated UTF-8 string.
    pub(crate) fn cstr(&mut self) -> Result<&'a str, BoxError> {
        let end = self
            .buf
            .iter()
            .position(|&b| b == 0)
            .ok_or_else(|| self.error("unterminated string"))?;
        let s = std::str::from_utf8(self.take(end)?)?;
        self.take(1)?;
        Ok(s)
    }

    /// Errors unless every byte was read.
    pub(crate) fn end(&self) -> Result<(), BoxError> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(self.error("trailing bytes"))
        }
    }
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

fn macaddr(raw: &[u8]) -> Result<String, BoxError> {
    Ok(raw
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":"))
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

/// `cash_out` in the C locale (`lc_monetary` of the test servers and of
/// most containers): `$1,234.56`, `-$0.05`. A server with another
/// `lc_monetary` prints its own currency symbol and separators.
fn money(raw: &[u8]) -> Result<String, BoxError> {
    let mut r = Reader::new(raw, "money");
    let cents = r.u64()? as i64;
    r.end()?;
    let digits = format!("{:03}", cents.unsigned_abs());
    let (int, frac) = digits.split_at(digits.len() - 2);
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 3);
    if cents < 0 {
        out.push('-');
    }
    out.push('$');
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out.push('.');
    out.push_str(frac);
    Ok(out)
}

fn pg_lsn(raw: &[u8]) -> Result<String, BoxError> {
    let mut r = Reader::new(raw, "pg_lsn");
    let lsn = r.u64()?;
    r.end()?;
    Ok(format!("{:X}/{:X}", lsn >> 32, lsn as u32))
}

/// `txid_snapshot` and `pg_snapshot`: `xmin:xmax:xip,xip,…`.
fn snapshot(raw: &[u8]) -> Result<String, BoxError> {
    let mut r = Reader::new(raw, "snapshot");
    let n = r.len()?;
    let mut out = format!("{}:{}:", r.u64()?, r.u64()?);
    for i in 0..n {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&r.u64()?.to_string());
    }
    r.end()?;
    Ok(out)
}

fn range(subtype: &Type, raw: &[u8]) -> Result<String, BoxError> {
    let mut r = Reader::new(raw, "range");
    let flags = r.u8()?;
    if flags & 0x01 != 0 {
        r.end()?;
        return Ok("empty".into());
    }
    let mut out = String::new();
    out.push(if flags & 0x02 != 0 { '[' } else { '(' });
    for (i, infinite) in [(0, 0x08), (1, 0x10)] {
        if i > 0 {
            out.push(',');
        }
        if flags & infinite == 0 {
            let n = r.len()?;
            let text = field_text(subtype, r.take(n)?)?;
            push_quoted(&mut out, &text, "\"\\()[],", Style::Doubled);
        }
    }
    out.push(if flags & 0x04 != 0 { ']' } else { ')' });
    r.end()?;
    Ok(out)
}

/// `{range,range,…}`, each range as [`range`] prints it.
fn multirange(subtype: &Type, raw: &[u8]) -> Result<String, BoxError> {
    let mut r = Reader::new(raw, "multirange");
    let n = r.len()?;
    let mut out = String::from("{");
    for i in 0..n {
        if i > 0 {
            out.push(',');
        }
        let len = r.len()?;
        out.push_str(&range(subtype, r.take(len)?)?);
    }
    r.end()?;
    out.push('}');
    Ok(out)
}

/// Records nest per field (a record in a record…) as the data says: deeper
/// than this is an error, never a stack overflow.
const MAX_RECORD_DEPTH: u32 = 100;

thread_local! {
    static RECORD_DEPTH: Cell<u32> = const { Cell::new(0) };
}

/// `record_out`: `(1,a)`, `(,"","a b")`: NULL fields print nothing; empty
/// fields and those holding `"\(),` or whitespace are double-quoted, with
/// `"` and `\` doubled.
fn record(ty: &Type, raw: &[u8]) -> Result<String, BoxError> {
    RECORD_DEPTH.with(|depth| {
        if depth.get() >= MAX_RECORD_DEPTH {
            return Err(format!("record nested more than {MAX_RECORD_DEPTH} levels deep").into());
        }
        depth.set(depth.get() + 1);
        let text = record_fields(ty, raw);
        depth.set(depth.get() - 1);
        text
    })
}

fn record_fields(ty: &Type, raw: &[u8]) -> Result<String, BoxError> {
    let fields = match ty.kind() {
        Kind::Composite(fields) => &fields[..],
        _ => &[],
    };
    let mut r = Reader::new(raw, "record");
    let n = r.len()?;
    let mut out = String::from("(");
    for i in 0..n {
        if i > 0 {
            out.push(',');
        }
        let oid = r.u32()?;
        let len = r.i32()?;
        if len == -1 {
            continue;
        }
        let bytes = r.take(usize::try_from(len).map_err(|_| r.error("negative length"))?)?;
        // The composite's own field types know user-defined types; built-in
        // ones are known by OID; anything else is read as an unknown type.
        let field_type = match fields.get(i).map(|f| f.type_()) {
            Some(t) if t.oid() == oid => t.clone(),
            _ => Type::from_oid(oid)
                .unwrap_or_else(|| Type::new(format!("oid {oid}"), oid, Kind::Simple, "".into())),
        };
        let text = field_text(&field_type, bytes)?;
        push_quoted(&mut out, &text, "\"\\(),", Style::Doubled);
    }
    r.end()?;
    out.push(')');
    Ok(out)
}

/// The server's text form of a binary value of `ty`, as it appears inside
/// records, ranges and arrays (floats and JSON exactly, arrays as `{…}`).
pub(crate) fn field_text(ty: &Type, raw: &[u8]) -> Result<String, BoxError> {
    let mut ty = ty;
    while let Kind::Domain(base) = ty.kind() {
        ty = base;
    }
    let mut out = String::new();
    match ty.oid() {
        700 => push_float(&mut out, wire::float4_from_sql(raw)?.into(), true),
        701 => push_float(&mut out, wire::float8_from_sql(raw)?, false),
        114 => out.push_str(std::str::from_utf8(raw)?),
        3802 => match raw.split_first() {
            Some((1, rest)) => out.push_str(std::str::from_utf8(rest)?),
            _ => return Err("unsupported jsonb version".into()),
        },
        2287 => array_text(&Type::RECORD, raw, &mut out)?,
        // int2vector, oidvector: space-separated.
        22 | 30 => {
            if let Value::Array(items) = Value::from_sql(ty, raw)? {
                let items: Result<Vec<String>, _> = items.iter().map(Value::text_param).collect();
                out = items?.join(" ");
            }
        }
        _ => match ty.kind() {
            Kind::Array(member) => array_text(member, raw, &mut out)?,
            _ => out = Value::from_sql(ty, raw)?.text_param()?,
        },
    }
    Ok(out)
}

/// `array_out`: `{…}` nested per dimension, `[lo:hi]…=` first when a lower
/// bound is not 1, elements quoted as PostgreSQL does.
fn array_text(member: &Type, raw: &[u8], out: &mut String) -> Result<(), BoxError> {
    use fallible_iterator::FallibleIterator;
    let array = wire::array_from_sql(raw)?;
    let mut dims = [(0usize, 1i32); 6];
    let mut n = 0;
    let mut dimensions = array.dimensions();
    while let Some(d) = dimensions.next()? {
        let slot = dims.get_mut(n).ok_or("array with more than 6 dimensions")?;
        *slot = (usize::try_from(d.len)?, d.lower_bound);
        n += 1;
    }
    let dims = &dims[..n];
    if dims.is_empty() || dims.iter().any(|(len, _)| *len == 0) {
        out.push_str("{}");
        return Ok(());
    }
    if dims.iter().any(|(_, lower)| *lower != 1) {
        for (len, lower) in dims {
            let upper = i64::from(*lower) + *len as i64 - 1;
            out.push_str(&format!("[{lower}:{upper}]"));
        }
        out.push('=');
    }
    // Only `box` has another delimiter than `,` among the built-in types.
    let delim = if member.oid() == 603 { ";" } else { "," };
    let specials = format!("{{}}\"\\{delim}");
    let mut index = [0usize; 6];
    let mut values = array.values();
    out.extend(std::iter::repeat_n('{', n));
    'elements: loop {
        match values
            .next()?
            .ok_or("array with fewer elements than dimensions")?
        {
            None => out.push_str("NULL"),
            Some(bytes) => push_quoted(out, &field_text(member, bytes)?, &specials, Style::Array),
        }
        let mut d = n;
        loop {
            if d == 0 {
                break 'elements;
            }
            d -= 1;
            index[d] += 1;
            if index[d] < dims[d].0 {
                break;
            }
            index[d] = 0;
            out.push('}');
        }
        out.push_str(delim);
        out.extend(std::iter::repeat_n('{', n - d - 1));
    }
    if values.next()?.is_some() {
        return Err("array with more elements than dimensions".into());
    }
    Ok(())
}

#[derive(PartialEq)]
enum Style {
    /// `array_out`: `\"` and `\\` escapes; `NULL` is quoted too.
    Array,
    /// `record_out`, `range_out`: `""` and `\\` (doubled).
    Doubled,
}

/// Appends `text`, double-quoted when empty or holding whitespace or one of
/// `specials`, as PostgreSQL's output functions do.
fn push_quoted(out: &mut String, text: &str, specials: &str, style: Style) {
    let needs = text.is_empty()
        || (style == Style::Array && text.eq_ignore_ascii_case("NULL"))
        || text
            .chars()
            .any(|c| matches!(c, ' ' | '\t'..='\r') || specials.contains(c));
    if !needs {
        out.push_str(text);
        return;
    }
    out.push('"');
    for c in text.chars() {
        if c == '"' || c == '\\' {
            out.push(if style == Style::Array { '\\' } else { c });
        }
        out.push(c);
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every prefix of `raw` (all truncations) is an error, never a panic.
    pub(crate) fn truncations_fail(ty: &Type, raw: &[u8]) {
        for n in 0..raw.len() {
            assert!(
                decode(ty, &raw[..n]).unwrap().is_err(),
                "{} accepted {n} of {} bytes",
                ty.name(),
                raw.len()
            );
        }
        let mut long = raw.to_vec();
        long.push(0);
        assert!(
            decode(ty, &long).unwrap().is_err(),
            "{} trailing",
            ty.name()
        );
    }

    fn text(ty: &Type, raw: &[u8]) -> String {
        decode(ty, raw).unwrap().unwrap()
    }

    #[test]
    fn money_lsn_snapshot() {
        let money = |c: i64| text(&Type::MONEY, &c.to_be_bytes());
        assert_eq!(money(1234), "$12.34");
        assert_eq!(money(-123456), "-$1,234.56");
        assert_eq!(money(0), "$0.00");
        assert_eq!(money(-5), "-$0.05");
        assert_eq!(money(i64::MIN), "-$92,233,720,368,547,758.08");
        assert_eq!(money(100_000), "$1,000.00");
        truncations_fail(&Type::MONEY, &5i64.to_be_bytes());
        let lsn = 0x16_B374_D848u64.to_be_bytes();
        assert_eq!(text(&Type::PG_LSN, &lsn), "16/B374D848");
        truncations_fail(&Type::PG_LSN, &lsn);
        let mut snap = 2i32.to_be_bytes().to_vec();
        for x in [10u64, 20, 10, 14] {
            snap.extend_from_slice(&x.to_be_bytes());
        }
        assert_eq!(text(&Type::TXID_SNAPSHOT, &snap), "10:20:10,14");
        truncations_fail(&Type::PG_SNAPSHOT, &snap);
        let mut hostile = (-1i32).to_be_bytes().to_vec();
        hostile.extend_from_slice(&[0; 16]);
        assert!(decode(&Type::PG_SNAPSHOT, &hostile).unwrap().is_err());
    }

    fn record_bytes(fields: &[(u32, Option<&[u8]>)]) -> Vec<u8> {
        let mut b = (fields.len() as i32).to_be_bytes().to_vec();
        for (oid, value) in fields {
            b.extend_from_slice(&oid.to_be_bytes());
            match value {
                Some(v) => {
                    b.extend_from_slice(&(v.len() as i32).to_be_bytes());
                    b.extend_from_slice(v);
                }
                None => b.extend_from_slice(&(-1i32).to_be_bytes()),
            }
        }
        b
    }

    #[test]
    fn records() {
        let raw = record_bytes(&[
            (23, Some(&1i32.to_be_bytes())),
            (25, Some(b"")),
            (25, None),
            (25, Some(b"a \"b\\")),
            (701, Some(&1e20f64.to_be_bytes())),
            (114, Some(b"{\"a\": [1,2]}")),
        ]);
        assert_eq!(
            text(&Type::RECORD, &raw),
            r#"(1,"",,"a ""b\\",1e+20,"{""a"": [1,2]}")"#
        );
        truncations_fail(&Type::RECORD, &raw);
        let inner = record_bytes(&[(25, Some(b"x,y")), (1007, None)]);
        let outer = record_bytes(&[(2249, Some(&inner))]);
        assert_eq!(text(&Type::RECORD, &outer), r#"("(""x,y"",)")"#);
        // Records nested as deep as the bytes allow: an error, not a stack overflow.
        let mut deep = record_bytes(&[]);
        for _ in 0..10_000 {
            deep = record_bytes(&[(2249, Some(&deep))]);
        }
        let err = decode(&Type::RECORD, &deep).unwrap().unwrap_err();
        assert!(err.to_string().contains("nested"), "{err}");
        // …and the depth count is back to zero afterwards.
        assert_eq!(text(&Type::RECORD, &outer), r#"("(""x,y"",)")"#);
        // Hostile lengths.
        let mut bad = 1i32.to_be_bytes().to_vec();
        bad.extend_from_slice(&25u32.to_be_bytes());
        bad.extend_from_slice(&(-2i32).to_be_bytes());
        assert!(decode(&Type::RECORD, &bad).unwrap().is_err());
        let huge = record_bytes(&[(25, None)]);
        let mut huge = huge.clone();
        huge[..4].copy_from_slice(&i32::MAX.to_be_bytes());
        assert!(decode(&Type::RECORD, &huge).unwrap().is_err());
    }

    fn array_bytes(elem: u32, dims: &[(i32, i32)], items: &[Option<&[u8]>]) -> Vec<u8> {
        let mut b = (dims.len() as i32).to_be_bytes().to_vec();
        b.extend_from_slice(&(items.iter().any(Option::is_none) as i32).to_be_bytes());
        b.extend_from_slice(&elem.to_be_bytes());
        for (len, lower) in dims {
            b.extend_from_slice(&len.to_be_bytes());
            b.extend_from_slice(&lower.to_be_bytes());
        }
        for item in items {
            match item {
                Some(v) => {
                    b.extend_from_slice(&(v.len() as i32).to_be_bytes());
                    b.extend_from_slice(v);
                }
                None => b.extend_from_slice(&(-1i32).to_be_bytes()),
            }
        }
        b
    }

    #[test]
    fn arrays_in_records() {
        let one = 1i32.to_be_bytes();
        let arr = array_bytes(23, &[(2, 0), (2, 1)], &[Some(&one), None, Some(&one), None]);
        assert_eq!(
            field_text(&Type::INT4_ARRAY, &arr).unwrap(),
            "[0:1][1:2]={{1,NULL},{1,NULL}}"
        );
        let texts = array_bytes(25, &[(3, 1)], &[Some(b"NULL"), Some(b""), Some(b"a\"{")]);
        assert_eq!(
            field_text(&Type::TEXT_ARRAY, &texts).unwrap(),
            r#"{"NULL","","a\"{"}"#
        );
        let bx = [1f64, 1.0, 0.0, 0.0]
            .iter()
            .flat_map(|f| f.to_be_bytes())
            .collect::<Vec<_>>();
        let boxes = array_bytes(603, &[(2, 1)], &[Some(&bx), Some(&bx)]);
        assert_eq!(
            field_text(&Type::BOX_ARRAY, &boxes).unwrap(),
            "{(1,1),(0,0);(1,1),(0,0)}"
        );
        // Too few or too many elements for the dimensions.
        let short = array_bytes(23, &[(3, 1)], &[Some(&one)]);
        assert!(field_text(&Type::INT4_ARRAY, &short).is_err());
        let long = array_bytes(23, &[(1, 1)], &[Some(&one), Some(&one)]);
        assert!(field_text(&Type::INT4_ARRAY, &long).is_err());
        let huge = array_bytes(23, &[(i32::MAX, 1); 6], &[Some(&one)]);
        assert!(field_text(&Type::INT4_ARRAY, &huge).is_err());
        let record = record_bytes(&[(1007, Some(&arr))]);
        assert_eq!(
            text(&Type::RECORD, &record),
            r#"("[0:1][1:2]={{1,NULL},{1,NULL}}")"#
        );
    }

    #[test]
    fn ranges_and_multiranges() {
        let mut r = vec![0x02u8];
        for v in [1i32, 3] {
            r.extend_from_slice(&4i32.to_be_bytes());
            r.extend_from_slice(&v.to_be_bytes());
        }
        assert_eq!(text(&Type::INT4_RANGE, &r), "[1,3)");
        truncations_fail(&Type::INT4_RANGE, &r);
        let mut m = 2i32.to_be_bytes().to_vec();
        for range in [&r[..], &[1u8][..]] {
            m.extend_from_slice(&(range.len() as i32).to_be_bytes());
            m.extend_from_slice(range);
        }
        assert_eq!(text(&Type::INT4MULTI_RANGE, &m), "{[1,3),empty}");
        truncations_fail(&Type::INT4MULTI_RANGE, &m);
        assert_eq!(text(&Type::INT4MULTI_RANGE, &[0, 0, 0, 0]), "{}");
    }

    /// Random bytes, and valid values with random bytes overwritten, through
    /// every decoder here (and arrays of them): errors or text, never a panic.
    #[test]
    fn garbage_never_panics() {
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let types = [
            Type::POINT,
            Type::LSEG,
            Type::PATH,
            Type::BOX,
            Type::POLYGON,
            Type::LINE,
            Type::CIRCLE,
            Type::MONEY,
            Type::PG_LSN,
            Type::TXID_SNAPSHOT,
            Type::RECORD,
            Type::TS_VECTOR,
            Type::TSQUERY,
            Type::INT4_RANGE,
            Type::TSTZ_RANGE,
            Type::INT4MULTI_RANGE,
            Type::RECORD_ARRAY,
            Type::BOX_ARRAY,
            Type::INET,
            Type::VARBIT,
        ];
        let seeds: Vec<Vec<u8>> = vec![
            record_bytes(&[(23, Some(&[0, 0, 0, 1])), (2249, Some(&record_bytes(&[])))]),
            array_bytes(2249, &[(2, 1)], &[None, Some(&record_bytes(&[(25, None)]))]),
            [2u8, 0, 0, 0, 4, 0, 0, 0, 1, 0, 0, 0, 4, 0, 0, 0, 2].to_vec(),
            // tsquery 'a & b', tsvector 'a':1A 'c', path [(0,0),(0,0)]
            [0, 0, 0, 3, 2, 2, 1, 0, 0, b'b', 0, 1, 0, 0, b'a', 0].to_vec(),
            [0, 0, 0, 2, b'a', 0, 0, 1, 0xc0, 1, b'c', 0, 0, 0].to_vec(),
            [[0u8, 0, 0, 0, 2].to_vec(), vec![0; 32]].concat(),
        ];
        for round in 0..6_000 {
            let mut raw = match round % 4 {
                0 => (0..next() % 64).map(|_| next() as u8).collect::<Vec<u8>>(),
                _ => seeds[round % seeds.len()].clone(),
            };
            for _ in 0..next() % 4 {
                if !raw.is_empty() {
                    let at = next() as usize % raw.len();
                    raw[at] = next() as u8;
                }
            }
            for ty in &types {
                let _ = Value::from_sql(ty, &raw);
                let _ = field_text(ty, &raw);
            }
        }
    }

    #[test]
    fn quoting() {
        let q = |s: &str, style| {
            let mut out = String::new();
            push_quoted(&mut out, s, "\"\\(),", style);
            out
        };
        assert_eq!(q("a", Style::Doubled), "a");
        assert_eq!(q("", Style::Doubled), "\"\"");
        assert_eq!(q("NULL", Style::Doubled), "NULL");
        assert_eq!(q("NULL", Style::Array), "\"NULL\"");
        assert_eq!(q("a\u{b}b", Style::Doubled), "\"a\u{b}b\"");
        assert_eq!(q("x\"\\", Style::Doubled), "\"x\"\"\\\\\"");
        assert_eq!(q("x\"\\", Style::Array), "\"x\\\"\\\\\"");
    }
}
