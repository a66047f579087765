//! [`Value`]: a dynamically typed PostgreSQL value, decoded from and encoded to the wire.

pub(crate) mod text_form;

use std::error::Error as StdError;
use std::fmt;

use bytes::{BufMut, BytesMut};
use postgres_protocol::types as wire;
use postgres_types::{FromSql, IsNull, Kind, ToSql, Type};

type BoxError = Box<dyn StdError + Sync + Send>;

/// A PostgreSQL value whose type is known only at run time (SPEC §7).
///
/// Decoding never loses information: `numeric` stays an exact decimal string,
/// timestamps keep their microseconds, and types without a dedicated variant
/// keep their server text form.
///
/// As a parameter, a `Value` adapts to the type the server inferred for the
/// placeholder; where it has no binary encoding for that type it is sent in
/// text form and parsed by the server, as node-postgres does.
///
/// ```
/// use edgepg_core::Value;
/// assert_eq!(Value::from(42), Value::Int(42));
/// assert_eq!(Value::from("hi").as_str(), Some("hi"));
/// assert!(Value::Null.is_null());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// SQL NULL.
    Null,
    /// `bool`.
    Bool(bool),
    /// `int2`, `int4`, `int8`.
    Int(i64),
    /// `float4`, `float8` (NaN and ±Infinity kept).
    Float(f64),
    /// `numeric`, as an exact decimal string (`"NaN"`, `"Infinity"` included).
    Numeric(String),
    /// `text`, `varchar`, `bpchar`, `name`, `citext`, enums.
    Text(String),
    /// `bytea`.
    Bytes(Vec<u8>),
    /// `json`, `jsonb`.
    Json(serde_json::Value),
    /// `uuid`, in its canonical hyphenated form.
    Uuid(String),
    /// `date`, as PostgreSQL prints it (ISO, `BC` suffix, `infinity`).
    Date(String),
    /// `time` and `timetz`, as PostgreSQL prints them.
    Time(String),
    /// `timestamp` without time zone, exact to the microsecond, no shift.
    Timestamp(String),
    /// `timestamptz`, exact to the microsecond, in UTC (`+00`).
    TimestampTz(String),
    /// `interval`, as PostgreSQL prints it in `postgres` style.
    Interval(String),
    /// An array; multi-dimensional arrays nest. Lower bounds other than 1
    /// are not kept: `'[0:1]={1,2}'` is `[1, 2]`.
    Array(Vec<Value>),
    /// Any other type, in its text form when it has one, or its raw bytes hex-encoded.
    Other {
        /// The type name (`inet`, `int4range`, …).
        type_name: String,
        /// The value as text.
        text: String,
    },
}

impl Value {
    /// True for [`Value::Null`].
    ///
    /// ```
    /// use edgepg_core::Value;
    /// assert!(Value::from(None::<i32>).is_null());
    /// assert!(!Value::Int(0).is_null());
    /// ```
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The integer, for [`Value::Int`].
    ///
    /// ```
    /// use edgepg_core::Value;
    /// assert_eq!(Value::from(7u8).as_i64(), Some(7));
    /// assert_eq!(Value::Float(7.0).as_i64(), None);
    /// ```
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// The number, for [`Value::Int`] and [`Value::Float`].
    ///
    /// ```
    /// use edgepg_core::Value;
    /// assert_eq!(Value::Int(2).as_f64(), Some(2.0));
    /// assert_eq!(Value::Numeric("2.5".into()).as_f64(), None);
    /// ```
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            _ => None,
        }
    }

    /// The boolean, for [`Value::Bool`].
    ///
    /// ```
    /// use edgepg_core::Value;
    /// assert_eq!(Value::from(true).as_bool(), Some(true));
    /// assert_eq!(Value::from("t").as_bool(), None);
    /// ```
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The text of every textual variant (text, numeric, uuid, dates and times, other).
    ///
    /// ```
    /// use edgepg_core::Value;
    /// assert_eq!(Value::Numeric("1.50".into()).as_str(), Some("1.50"));
    /// assert_eq!(Value::Int(1).as_str(), None);
    /// ```
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Text(s)
            | Value::Numeric(s)
            | Value::Uuid(s)
            | Value::Date(s)
            | Value::Time(s)
            | Value::Timestamp(s)
            | Value::TimestampTz(s)
            | Value::Interval(s) => Some(s),
            Value::Other { text, .. } => Some(text),
            _ => None,
        }
    }

    /// The bytes, for [`Value::Bytes`].
    ///
    /// ```
    /// use edgepg_core::Value;
    /// assert_eq!(Value::from(vec![0xde_u8, 0xad]).as_bytes(), Some(&[0xde, 0xad][..]));
    /// assert_eq!(Value::from("dead").as_bytes(), None);
    /// ```
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }

    /// The value as JSON (bytes become a `\x…` hex string, numeric a string).
    ///
    /// ```
    /// use edgepg_core::Value;
    /// let v = Value::Array(vec![Value::Numeric("1.50".into()), Value::Bytes(vec![1, 255]), Value::Null]);
    /// assert_eq!(v.to_json(), serde_json::json!(["1.50", "\\x01ff", null]));
    /// ```
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            Value::Float(f) => serde_json::Number::from_f64(*f)
                .map(J::Number)
                .unwrap_or_else(|| J::String(format_float(*f))),
            Value::Json(j) => j.clone(),
            Value::Bytes(b) => J::String(hex_bytea(b)),
            Value::Array(items) => J::Array(items.iter().map(Value::to_json).collect()),
            other => J::String(other.as_str().unwrap_or_default().to_string()),
        }
    }
}

pub(crate) fn format_float(f: f64) -> String {
    if f.is_nan() {
        "NaN".to_string()
    } else if f == f64::INFINITY {
        "Infinity".to_string()
    } else if f == f64::NEG_INFINITY {
        "-Infinity".to_string()
    } else {
        text_form::debug_float(f)
    }
}

fn hex_bytea(b: &[u8]) -> String {
    let mut s = String::with_capacity(2 + b.len() * 2);
    s.push_str("\\x");
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for byte in b {
        s.push(char::from(HEX[usize::from(byte >> 4)]));
        s.push(char::from(HEX[usize::from(byte & 15)]));
    }
    s
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => write!(f, "NULL"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => write!(f, "{}", format_float(*x)),
            Value::Bytes(b) => write!(f, "{}", hex_bytea(b)),
            Value::Json(j) => write!(f, "{j}"),
            Value::Array(_) => write!(f, "{}", self.to_json()),
            other => write!(f, "{}", other.as_str().unwrap_or_default()),
        }
    }
}

macro_rules! value_from {
    ($($t:ty => $v:ident $(as $cast:ty)?),* $(,)?) => {$(
        impl From<$t> for Value {
            fn from(x: $t) -> Value { Value::$v((x $(as $cast)?).into()) }
        }
    )*};
}
value_from!(bool => Bool, i8 => Int as i64, i16 => Int as i64, i32 => Int as i64, i64 => Int, u8 => Int as i64,
    u16 => Int as i64, u32 => Int as i64, f32 => Float as f64, f64 => Float, String => Text, &str => Text,
    Vec<u8> => Bytes, serde_json::Value => Json);

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(x: Option<T>) -> Value {
        x.map_or(Value::Null, Into::into)
    }
}

impl From<Vec<Value>> for Value {
    fn from(items: Vec<Value>) -> Value {
        Value::Array(items)
    }
}

impl PartialEq<i64> for Value {
    fn eq(&self, other: &i64) -> bool {
        self.as_i64() == Some(*other)
    }
}

impl PartialEq<i32> for Value {
    fn eq(&self, other: &i32) -> bool {
        self.as_i64() == Some(i64::from(*other))
    }
}

impl PartialEq<&str> for Value {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == Some(*other)
    }
}

impl PartialEq<bool> for Value {
    fn eq(&self, other: &bool) -> bool {
        self.as_bool() == Some(*other)
    }
}

impl serde::Serialize for Value {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Null => s.serialize_none(),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Int(i) => s.serialize_i64(*i),
            Value::Float(f) => s.serialize_f64(*f),
            Value::Bytes(b) => s.serialize_bytes(b),
            Value::Json(j) => j.serialize(s),
            Value::Array(items) => items.serialize(s),
            other => s.serialize_str(other.as_str().unwrap_or_default()),
        }
    }
}

// ---------------------------------------------------------------- decoding

fn is_text_like(ty: &Type) -> bool {
    matches!(
        *ty,
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN | Type::CHAR
    ) || ty.name() == "citext"
        || matches!(ty.kind(), Kind::Enum(_))
}

impl<'a> FromSql<'a> for Value {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Value, BoxError> {
        decode(ty, raw)
    }

    fn from_sql_null(_: &Type) -> Result<Value, BoxError> {
        Ok(Value::Null)
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

fn decode(ty: &Type, raw: &[u8]) -> Result<Value, BoxError> {
    // By OID first: one jump for the built-in scalar types (matching `Type`
    // constants compares them one by one).
    Ok(match ty.oid() {
        16 => Value::Bool(wire::bool_from_sql(raw)?),
        21 => Value::Int(wire::int2_from_sql(raw)?.into()),
        23 => Value::Int(wire::int4_from_sql(raw)?.into()),
        20 => Value::Int(wire::int8_from_sql(raw)?),
        26 => Value::Int(wire::oid_from_sql(raw)?.into()),
        700 => Value::Float(crate::value::text_form::float4_value(
            wire::float4_from_sql(raw)?,
        )),
        701 => Value::Float(wire::float8_from_sql(raw)?),
        1700 => Value::Numeric(numeric_to_string(raw)?),
        17 => Value::Bytes(raw.to_vec()),
        25 | 1043 | 1042 | 19 | 705 | 18 => Value::Text(String::from_utf8(raw.to_vec())?),
        114 => Value::Json(parse_json(raw)?),
        3802 => match raw.split_first() {
            Some((1, rest)) => Value::Json(parse_json(rest)?),
            _ => return Err("unsupported jsonb version".into()),
        },
        2950 => Value::Uuid(format_uuid(wire::uuid_from_sql(raw)?)),
        1082 => Value::Date(format_date(wire::date_from_sql(raw)?)),
        1114 => Value::Timestamp(format_timestamp(wire::timestamp_from_sql(raw)?, "")),
        1184 => Value::TimestampTz(format_timestamp(wire::timestamp_from_sql(raw)?, "+00")),
        1083 => Value::Time(format_time(wire::time_from_sql(raw)?)),
        1266 => Value::Time(format_timetz(raw)?),
        1186 => Value::Interval(format_interval(raw)?),
        // regproc, regclass, regtype, …: the binary form is the bare OID, and the
        // name behind it would take a catalog lookup; the OID is valid input for them.
        24 | 2202 | 2203 | 2204 | 2205 | 2206 | 3734 | 3769 | 4089 | 4096 | 4191 => Value::Other {
            type_name: ty.name().to_string(),
            text: wire::oid_from_sql(raw)?.to_string(),
        },
        // record[] is a pseudo-type: no array kind of its own.
        2287 => return decode_array(&Type::RECORD, raw),
        _ => match ty.kind() {
            Kind::Domain(base) => return decode(base, raw),
            Kind::Array(member) => return decode_array(member, raw),
            _ => decode_other(ty, raw)?,
        },
    })
}

/// Types without a variant of their own: text-like ones, then text forms.
fn decode_other(ty: &Type, raw: &[u8]) -> Result<Value, BoxError> {
    if is_text_like(ty) {
        return Ok(Value::Text(String::from_utf8(raw.to_vec())?));
    }
    let text = match crate::value::text_form::decode(ty, raw) {
        Some(text) => text?,
        None => match std::str::from_utf8(raw) {
            Ok(s) if !s.contains('\0') => s.to_string(),
            _ => hex_bytea(raw),
        },
    };
    Ok(Value::Other {
        type_name: ty.name().to_string(),
        text,
    })
}

/// Deepest JSON nesting decoded; deeper documents are an error, never a stack overflow.
const MAX_JSON_DEPTH: usize = 2048;

/// Parses JSON nested up to [`MAX_JSON_DEPTH`] (serde_json alone stops at 128).
fn parse_json(raw: &[u8]) -> Result<serde_json::Value, BoxError> {
    let (mut depth, mut deepest, mut in_string, mut escaped) = (0usize, 0usize, false, false);
    for &b in raw {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    if deepest > MAX_JSON_DEPTH {
        return Err(format!(
            "JSON nested {deepest} levels deep; at most {MAX_JSON_DEPTH} are decoded"
        )
        .into());
    }
    let mut de = serde_json::Deserializer::from_slice(raw);
    de.disable_recursion_limit();
    let value = serde::Deserialize::deserialize(&mut de)?;
    de.end()?;
    Ok(value)
}

/// PostgreSQL's `MAXDIM`.
const MAX_ARRAY_DIMS: usize = 6;

fn decode_array(member: &Type, raw: &[u8]) -> Result<Value, BoxError> {
    use fallible_iterator::FallibleIterator;
    let array = wire::array_from_sql(raw)?;
    // PostgreSQL arrays have at most 6 dimensions, and an empty one has none.
    // A server that claims more (or a zero-length dimension beside a huge one)
    // must not make us recurse per dimension or allocate per claimed row.
    let mut bounds = [(0usize, 1i32); MAX_ARRAY_DIMS];
    let mut ndims = 0;
    let mut dimensions = array.dimensions();
    while let Some(d) = dimensions.next()? {
        let Some(slot) = bounds.get_mut(ndims) else {
            let claimed = ndims + 1 + dimensions.count()?;
            return Err(format!(
                "array with {claimed} dimensions (PostgreSQL allows {MAX_ARRAY_DIMS})"
            )
            .into());
        };
        *slot = (d.len.max(0) as usize, d.lower_bound);
        ndims += 1;
    }
    let bounds = bounds.get(..ndims).unwrap_or_default();
    if bounds.is_empty() || bounds.iter().any(|(len, _)| *len == 0) {
        return Ok(Value::Array(Vec::new()));
    }
    // Each element takes at least 4 bytes (its length): never reserve more than the data holds.
    let claimed = bounds
        .iter()
        .try_fold(1usize, |n, (len, _)| n.checked_mul(*len))
        .unwrap_or(usize::MAX);
    let mut flat = Vec::with_capacity(claimed.min(raw.len() / 4));
    let mut values = array.values();
    while let Some(v) = values.next()? {
        flat.push(match v {
            Some(bytes) => decode(member, bytes)?,
            None => Value::Null,
        });
    }
    if let [_] = bounds {
        return Ok(Value::Array(flat));
    }
    fn nest(dims: &[(usize, i32)], flat: &mut std::vec::IntoIter<Value>) -> Value {
        match dims {
            [(len, _)] => Value::Array(flat.by_ref().take(*len).collect()),
            [(len, _), rest @ ..] => Value::Array((0..*len).map(|_| nest(rest, flat)).collect()),
            [] => Value::Array(Vec::new()),
        }
    }
    // Lower bounds other than 1 (`'[0:1]={1,2}'`) are dropped: the value is
    // an Array of its elements in order, as SPEC §7 maps arrays and as
    // node-postgres, psycopg and asyncpg do, so a column's values never
    // change shape (Array or string) with the data. Every element is kept;
    // only the subscript origin is lost (`array_lower(col, 1)` or `col::text`
    // give it), and the array goes back with lower bounds 1.
    Ok(nest(bounds, &mut flat.into_iter()))
}

/// The exact decimal text of a binary `numeric`.
fn numeric_to_string(raw: &[u8]) -> Result<String, BoxError> {
    if raw.len() < 8 {
        return Err("invalid numeric: too short".into());
    }
    let word = |i: usize| i16::from_be_bytes([raw[i], raw[i + 1]]);
    let ndigits = word(0).max(0) as usize;
    let weight = word(2) as i32;
    let sign = word(4) as u16;
    let dscale = word(6).max(0) as usize;
    if raw.len() < 8 + 2 * ndigits {
        return Err("invalid numeric: truncated digits".into());
    }
    match sign {
        0xC000 => return Ok("NaN".into()),
        0xD000 => return Ok("Infinity".into()),
        0xF000 => return Ok("-Infinity".into()),
        0x0000 | 0x4000 => {}
        _ => return Err("invalid numeric sign".into()),
    }
    let digit = |i: i32| -> u64 {
        if i < 0 || i as usize >= ndigits {
            0
        } else {
            word(8 + 2 * i as usize).max(0) as u64
        }
    };
    let mut out: Vec<u8> = Vec::with_capacity(4 * (ndigits + 2) + dscale);
    if sign == 0x4000 {
        out.push(b'-');
    }
    let group = |d: u64| {
        let d = d.min(9999) as u16;
        [d / 1000, d / 100 % 10, d / 10 % 10, d % 10].map(|x| b'0' + x as u8)
    };
    // Integer part: base-10000 digit groups with index 0..=weight.
    if weight < 0 {
        out.push(b'0');
    } else {
        let first = group(digit(0));
        let skip = first.iter().take(3).take_while(|&&c| c == b'0').count();
        out.extend_from_slice(first.get(skip..).unwrap_or_default());
        for i in 1..=weight {
            out.extend_from_slice(&group(digit(i)));
        }
    }
    if dscale > 0 {
        out.push(b'.');
        let start = out.len();
        let mut i = weight + 1;
        while out.len() - start < dscale {
            out.extend_from_slice(&group(digit(i)));
            i += 1;
        }
        out.truncate(start + dscale);
    }
    // Only ASCII was written.
    Ok(String::from_utf8(out).unwrap_or_default())
}

/// A stack buffer for short ASCII text (dates, times): no per-character
/// `String` pushes, one exact allocation at the end. Text beyond its
/// capacity is dropped; what is written here always fits.
struct Ascii {
    buf: [u8; 48],
    len: usize,
}

impl Ascii {
    fn new() -> Ascii {
        Ascii {
            buf: [0; 48],
            len: 0,
        }
    }

    fn push(&mut self, b: u8) {
        if let Some(slot) = self.buf.get_mut(self.len) {
            *slot = b;
            self.len += 1;
        }
    }

    fn push_str(&mut self, s: &str) {
        s.bytes().for_each(|b| self.push(b));
    }

    /// Appends `n` in decimal, zero-padded to `width` digits.
    fn push_int(&mut self, mut n: u64, width: usize) {
        let mut digits = [b'0'; 20];
        let mut pos = digits.len();
        loop {
            pos -= 1;
            digits[pos] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        let start = pos.min(digits.len().saturating_sub(width));
        digits
            .get(start..)
            .unwrap_or_default()
            .iter()
            .for_each(|&b| self.push(b));
    }

    fn trim_end(&mut self, byte: u8) {
        while self.len > 0 && self.buf.get(self.len - 1) == Some(&byte) {
            self.len -= 1;
        }
    }

    fn as_str(&self) -> &str {
        std::str::from_utf8(self.buf.get(..self.len).unwrap_or_default()).unwrap_or_default()
    }

    fn into_string(self) -> String {
        self.as_str().to_string()
    }
}

fn format_uuid(b: [u8; 16]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let h: String = b
        .iter()
        .flat_map(|x| {
            [
                HEX[(x >> 4) as usize] as char,
                HEX[(x & 15) as usize] as char,
            ]
        })
        .collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// Days since 2000-01-01 → (year, month, day), proleptic Gregorian (Howard Hinnant's algorithm).
fn civil_from_days(days_since_2000: i64) -> (i64, u32, u32) {
    let z = days_since_2000 + 10957 + 719468;
    let era = z.div_euclid(146097);
    let doe = z.rem_euclid(146097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Appends `YYYY-MM-DD`; true when the year is BC.
fn push_ymd(out: &mut Ascii, days: i64) -> bool {
    let (y, m, d) = civil_from_days(days);
    let bc = y <= 0;
    out.push_int(if bc { (1 - y) as u64 } else { y as u64 }, 4);
    out.push(b'-');
    out.push_int(m.into(), 2);
    out.push(b'-');
    out.push_int(d.into(), 2);
    bc
}

fn format_date(days: i32) -> String {
    match days {
        i32::MAX => "infinity".into(),
        i32::MIN => "-infinity".into(),
        _ => {
            let mut s = Ascii::new();
            if push_ymd(&mut s, days.into()) {
                s.push_str(" BC");
            }
            s.into_string()
        }
    }
}

/// Appends `HH:MM:SS[.ffffff]` with trailing fractional zeros trimmed, as PostgreSQL prints.
fn push_clock(out: &mut Ascii, micros: i64) {
    let secs = micros.div_euclid(1_000_000) as u64;
    let frac = micros.rem_euclid(1_000_000) as u64;
    push_clock_parts(out, secs, frac);
}

/// Appends `HH:MM:SS[.ffffff]` for whole seconds and microseconds.
fn push_clock_parts(out: &mut Ascii, secs: u64, frac: u64) {
    out.push_int(secs / 3600, 2);
    out.push(b':');
    out.push_int((secs / 60) % 60, 2);
    out.push(b':');
    out.push_int(secs % 60, 2);
    if frac != 0 {
        out.push(b'.');
        out.push_int(frac, 6);
        out.trim_end(b'0');
    }
}

fn format_clock(micros: i64) -> String {
    let mut s = Ascii::new();
    push_clock(&mut s, micros);
    s.into_string()
}

fn format_timestamp(micros: i64, zone: &str) -> String {
    match micros {
        i64::MAX => "infinity".into(),
        i64::MIN => "-infinity".into(),
        _ => {
            let mut s = Ascii::new();
            let bc = push_ymd(&mut s, micros.div_euclid(86_400_000_000));
            s.push(b' ');
            push_clock(&mut s, micros.rem_euclid(86_400_000_000));
            s.push_str(zone);
            if bc {
                s.push_str(" BC");
            }
            s.into_string()
        }
    }
}

fn format_time(micros: i64) -> String {
    format_clock(micros)
}

fn format_timetz(raw: &[u8]) -> Result<String, BoxError> {
    if raw.len() != 12 {
        return Err("invalid timetz".into());
    }
    let micros = i64::from_be_bytes(raw[0..8].try_into()?);
    // The wire offset is seconds *west* of UTC (i64: a hostile i32::MIN negates).
    let offset = -i64::from(i32::from_be_bytes(raw[8..12].try_into()?));
    let sign = if offset < 0 { '-' } else { '+' };
    let abs = offset.unsigned_abs();
    let mut zone = format!("{sign}{:02}", abs / 3600);
    if abs % 3600 != 0 {
        zone.push_str(&format!(":{:02}", (abs / 60) % 60));
        if abs % 60 != 0 {
            zone.push_str(&format!(":{:02}", abs % 60));
        }
    }
    Ok(format!("{}{zone}", format_clock(micros)))
}

fn format_interval(raw: &[u8]) -> Result<String, BoxError> {
    if raw.len() != 16 {
        return Err("invalid interval".into());
    }
    let micros = i64::from_be_bytes(raw[0..8].try_into()?);
    let days = i32::from_be_bytes(raw[8..12].try_into()?);
    let months = i32::from_be_bytes(raw[12..16].try_into()?);
    let mut parts = Vec::new();
    let (years, months) = (months / 12, months % 12);
    let plural = |n: i64, unit: &str| format!("{n} {unit}{}", if n == 1 { "" } else { "s" });
    if years != 0 {
        parts.push(plural(years.into(), "year"));
    }
    if months != 0 {
        parts.push(plural(months.into(), "mon"));
    }
    if days != 0 {
        parts.push(plural(days.into(), "day"));
    }
    if micros != 0 || parts.is_empty() {
        let sign = if micros < 0 { "-" } else { "" };
        let abs = micros.unsigned_abs();
        let mut clock = Ascii::new();
        push_clock_parts(&mut clock, abs / 1_000_000, abs % 1_000_000);
        parts.push(format!("{sign}{}", clock.as_str()));
    }
    Ok(parts.join(" "))
}

// ---------------------------------------------------------------- encoding

impl Value {
    /// Text form sent when the target type has no binary encoding here.
    pub(crate) fn text_param(&self) -> Result<String, BoxError> {
        Ok(match self {
            Value::Null => return Err("NULL has no text form".into()),
            Value::Bool(b) => if *b { "t" } else { "f" }.to_string(),
            Value::Int(i) => i.to_string(),
            Value::Float(f) => format_float(*f),
            Value::Bytes(b) => hex_bytea(b),
            Value::Json(j) => j.to_string(),
            Value::Array(items) => array_literal(items, ',')?,
            other => other.as_str().unwrap_or_default().to_string(),
        })
    }

    fn binary_encodable(&self, ty: &Type) -> bool {
        let ty = base_type(ty);
        match self {
            Value::Null => true,
            Value::Bool(_) => *ty == Type::BOOL,
            Value::Int(_) => matches!(
                *ty,
                Type::INT2 | Type::INT4 | Type::INT8 | Type::FLOAT4 | Type::FLOAT8 | Type::OID
            ),
            Value::Float(_) => matches!(*ty, Type::FLOAT4 | Type::FLOAT8),
            Value::Bytes(_) => *ty == Type::BYTEA,
            Value::Json(_) => matches!(*ty, Type::JSON | Type::JSONB),
            Value::Text(_) => is_text_like(ty),
            _ => false,
        }
    }
}

fn base_type(ty: &Type) -> &Type {
    match ty.kind() {
        Kind::Domain(base) => base_type(base),
        _ => ty,
    }
}

fn array_literal(items: &[Value], delim: char) -> Result<String, BoxError> {
    let mut out = String::from("{");
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(delim);
        }
        match item {
            Value::Null => out.push_str("NULL"),
            Value::Array(inner) => out.push_str(&array_literal(inner, delim)?),
            other => {
                out.push('"');
                for c in other.text_param()?.chars() {
                    if c == '"' || c == '\\' {
                        out.push('\\');
                    }
                    out.push(c);
                }
                out.push('"');
            }
        }
    }
    out.push('}');
    Ok(out)
}

impl ToSql for Value {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
        if self.is_null() {
            return Ok(IsNull::Yes);
        }
        if !self.binary_encodable(ty) {
            let text = match (self, base_type(ty).oid()) {
                // `box[]` separates its elements with `;` (a box holds commas).
                (Value::Array(items), 1020) => array_literal(items, ';')?,
                _ => self.text_param()?,
            };
            out.put_slice(text.as_bytes());
            return Ok(IsNull::No);
        }
        let base = base_type(ty);
        match (self, base) {
            (Value::Bool(b), _) => wire::bool_to_sql(*b, out),
            (Value::Int(i), &Type::INT2) => {
                wire::int2_to_sql(i16::try_from(*i).map_err(|_| range_error(*i, ty))?, out)
            }
            (Value::Int(i), &Type::INT4) => {
                wire::int4_to_sql(i32::try_from(*i).map_err(|_| range_error(*i, ty))?, out)
            }
            (Value::Int(i), &Type::OID) => {
                wire::oid_to_sql(u32::try_from(*i).map_err(|_| range_error(*i, ty))?, out)
            }
            (Value::Int(i), &Type::INT8) => wire::int8_to_sql(*i, out),
            (Value::Int(i), &Type::FLOAT4) => wire::float4_to_sql(*i as f32, out),
            (Value::Int(i), _) => wire::float8_to_sql(*i as f64, out),
            (Value::Float(f), &Type::FLOAT4) => wire::float4_to_sql(to_float4(*f, ty)?, out),
            (Value::Float(f), _) => wire::float8_to_sql(*f, out),
            (Value::Bytes(b), _) => wire::bytea_to_sql(b, out),
            (Value::Json(j), &Type::JSONB) => {
                out.put_u8(1);
                serde_json::to_writer(out.writer(), j)?;
            }
            (Value::Json(j), _) => serde_json::to_writer(out.writer(), j)?,
            (Value::Text(s), _) => wire::text_to_sql(s, out),
            _ => unreachable!("binary_encodable covers every pair"),
        }
        Ok(IsNull::No)
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    fn encode_format(&self, ty: &Type) -> postgres_types::Format {
        if self.binary_encodable(ty) {
            postgres_types::Format::Binary
        } else {
            postgres_types::Format::Text
        }
    }

    postgres_types::to_sql_checked!();
}

fn range_error(i: i64, ty: &Type) -> BoxError {
    format!("value {i} is out of range for type {}", ty.name()).into()
}

/// Narrows to `float4` as the server's own `float8::float4` does: NaN and
/// ±Infinity pass, a finite value that overflows to ±Infinity or a nonzero
/// one that underflows to 0 is an error (SQLSTATE 22003 on the server).
fn to_float4(f: f64, ty: &Type) -> Result<f32, BoxError> {
    let narrow = f as f32;
    if (narrow.is_infinite() && f.is_finite()) || (narrow == 0.0 && f != 0.0) {
        let mut text = String::new();
        crate::value::text_form::push_float(&mut text, f, false);
        return Err(format!("value {text} is out of range for type {}", ty.name()).into());
    }
    Ok(narrow)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(format_date(0), "2000-01-01");
        assert_eq!(format_date(-730119), "0001-01-01");
        assert_eq!(format_date(-730120), "0001-12-31 BC");
        assert_eq!(
            format_timestamp(1_500_000, "+00"),
            "2000-01-01 00:00:01.5+00"
        );
        assert_eq!(format_timestamp(-1, ""), "1999-12-31 23:59:59.999999");
    }

    /// A binary int4[] with the given dimensions and no elements.
    fn empty_array(dims: &[(i32, i32)]) -> Vec<u8> {
        let mut b = (dims.len() as i32).to_be_bytes().to_vec();
        b.extend_from_slice(&0i32.to_be_bytes());
        b.extend_from_slice(&23u32.to_be_bytes());
        for (len, lower) in dims {
            b.extend_from_slice(&len.to_be_bytes());
            b.extend_from_slice(&lower.to_be_bytes());
        }
        b
    }

    #[test]
    fn hostile_array_headers() {
        // 2^31-1 × 0 elements: was one allocation of ~100 GB (abort).
        let raw = empty_array(&[(i32::MAX, 1), (0, 1)]);
        assert_eq!(
            decode(&Type::INT4_ARRAY, &raw).unwrap(),
            Value::Array(vec![])
        );
        // 100 000 dimensions: was one recursion level per dimension.
        let raw = empty_array(&vec![(1, 1); 100_000]);
        let err = decode(&Type::INT4_ARRAY, &raw).unwrap_err();
        assert!(err.to_string().contains("dimensions"), "{err}");
    }

    #[test]
    fn extreme_times_and_intervals() {
        let mut timetz = 0i64.to_be_bytes().to_vec();
        timetz.extend_from_slice(&i32::MIN.to_be_bytes());
        // Was "attempt to negate with overflow".
        assert_eq!(format_timetz(&timetz).unwrap(), "00:00:00+596523:14:08");
        let mut interval = i64::MIN.to_be_bytes().to_vec();
        interval.extend_from_slice(&[0; 8]);
        // As PostgreSQL prints it (was a garbled hour count).
        assert_eq!(
            format_interval(&interval).unwrap(),
            "-2562047788:00:54.775808"
        );
    }

    #[test]
    fn lower_bounds_are_dropped() {
        // '[0:1][-1:0]={{1,NULL},{3,4}}'::int4[]
        let mut raw = empty_array(&[(2, 0), (2, -1)]);
        raw[4..8].copy_from_slice(&1i32.to_be_bytes());
        for v in [Some(1i32), None, Some(3), Some(4)] {
            match v {
                Some(v) => {
                    raw.extend_from_slice(&4i32.to_be_bytes());
                    raw.extend_from_slice(&v.to_be_bytes());
                }
                None => raw.extend_from_slice(&(-1i32).to_be_bytes()),
            }
        }
        let row = |a: Value, b: Value| Value::Array(vec![a, b]);
        assert_eq!(
            decode(&Type::INT4_ARRAY, &raw).unwrap(),
            row(
                row(Value::Int(1), Value::Null),
                row(Value::Int(3), Value::Int(4))
            )
        );
    }

    #[test]
    fn float4_narrowing() {
        let ty = Type::FLOAT4;
        for f in [1e300, -1e300, 1e-50, -1e-50, 3.5e38] {
            let err = to_float4(f, &ty).unwrap_err().to_string();
            assert!(err.contains("out of range for type float4"), "{err}");
        }
        assert_eq!(
            to_float4(1e300, &ty).unwrap_err().to_string(),
            "value 1e+300 is out of range for type float4"
        );
        for f in [0.0, -0.0, 1e-40, 1.5, f64::from(f32::MAX), f64::INFINITY] {
            assert_eq!(to_float4(f, &ty).unwrap().to_bits(), (f as f32).to_bits());
        }
        assert!(to_float4(f64::NAN, &ty).unwrap().is_nan());
        let mut out = BytesMut::new();
        assert!(Value::Float(1e39).to_sql(&ty, &mut out).is_err());
    }

    #[test]
    fn numeric_text() {
        // 12345.678: ndigits 3, weight 1, sign +, dscale 3; digits 1, 2345, 6780
        let raw = [0, 3, 0, 1, 0, 0, 0, 3, 0, 1, 0x09, 0x29, 0x1A, 0x7C];
        assert_eq!(numeric_to_string(&raw).unwrap(), "12345.678");
        // 0.0001: ndigits 1, weight -1, dscale 4; digit 1
        let raw = [0, 1, 0xff, 0xff, 0, 0, 0, 4, 0, 1];
        assert_eq!(numeric_to_string(&raw).unwrap(), "0.0001");
        assert!(numeric_to_string(&[0, 5, 0, 0]).is_err());
    }
}
