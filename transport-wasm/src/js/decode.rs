//! [`Value`] → JavaScript, following the `types` options (SPEC §7).

use edgepg_core::{Column, Value};
use js_sys::{Array, Uint8Array};
use wasm_bindgen::prelude::*;

use super::params::days_from_civil;
use crate::sys;

/// How int8 columns come out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Int8 {
    BigInt,
    Number,
    String,
}

/// The `types` option of a pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Types {
    pub int8: Int8,
    pub numeric_number: bool,
    pub timestamptz_date: bool,
    pub timestamp_date: bool,
}

impl Default for Types {
    fn default() -> Types {
        Types {
            int8: Int8::BigInt,
            numeric_number: false,
            timestamptz_date: true,
            timestamp_date: false,
        }
    }
}

impl Types {
    /// Reads `{ int8, numeric, timestamptz, timestamp }`; unknown choices are errors.
    pub(crate) fn parse(obj: &JsValue) -> Result<Types, String> {
        let mut t = Types::default();
        if obj.is_undefined() || obj.is_null() {
            return Ok(t);
        }
        if !obj.is_object() {
            return Err("types must be an object".into());
        }
        let pick = |key: &str, choices: &[&str]| -> Result<Option<String>, String> {
            let v = sys::get(obj, key);
            if v.is_undefined() {
                return Ok(None);
            }
            match v.as_string() {
                Some(s) if choices.contains(&s.as_str()) => Ok(Some(s)),
                _ => Err(format!(
                    "types.{key} must be one of {}",
                    choices
                        .iter()
                        .map(|c| format!("'{c}'"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            }
        };
        if let Some(s) = pick("int8", &["bigint", "number", "string"])? {
            t.int8 = match s.as_str() {
                "number" => Int8::Number,
                "string" => Int8::String,
                _ => Int8::BigInt,
            };
        }
        if let Some(s) = pick("numeric", &["string", "number"])? {
            t.numeric_number = s == "number";
        }
        if let Some(s) = pick("timestamptz", &["date", "string"])? {
            t.timestamptz_date = s == "date";
        }
        if let Some(s) = pick("timestamp", &["string", "date"])? {
            t.timestamp_date = s == "date";
        }
        Ok(t)
    }
}

/// int8 and its array.
fn is_int8(column: &Column) -> bool {
    matches!(column.type_oid(), 20 | 1016)
}

/// How a top-level value travels to JavaScript in a packet (`packet.rs`):
/// the simple ones in typed arrays and one string, the rest as [`to_js`] values.
pub(crate) enum Cell<'a> {
    /// Through [`to_js`].
    Js,
    Null,
    True,
    False,
    Number(f64),
    /// A `Date` at these epoch milliseconds.
    Date(f64),
    Text(&'a str),
}

impl Cell<'_> {
    /// The kind byte the package reads (`pkg/src/api.js`).
    pub(crate) fn kind(&self) -> u8 {
        match self {
            Cell::Js => 0,
            Cell::Null => 1,
            Cell::True => 2,
            Cell::False => 3,
            Cell::Number(_) => 4,
            Cell::Date(_) => 5,
            Cell::Text(_) => 6,
        }
    }
}

/// Classifies one value of `column`; gives the same JavaScript value as
/// [`to_js`] once the package has rebuilt it.
pub(crate) fn cell<'a>(value: &'a Value, column: &Column, types: Types) -> Cell<'a> {
    match value {
        Value::Null => Cell::Null,
        Value::Bool(true) => Cell::True,
        Value::Bool(false) => Cell::False,
        Value::Int(i) if is_int8(column) => match types.int8 {
            Int8::Number if i.unsigned_abs() < (1u64 << 53) => Cell::Number(*i as f64),
            _ => Cell::Js,
        },
        Value::Int(i) => Cell::Number(*i as f64),
        Value::Float(f) => Cell::Number(*f),
        Value::Numeric(s) if types.numeric_number => {
            numeric_number(s).map_or(Cell::Js, Cell::Number)
        }
        Value::TimestampTz(s) if types.timestamptz_date => date_cell(s, true),
        Value::Timestamp(s) if types.timestamp_date => date_cell(s, false),
        other => other.as_str().map_or(Cell::Js, Cell::Text),
    }
}

/// [`timestamp_to_date`] as a [`Cell`].
fn date_cell(s: &str, with_zone: bool) -> Cell<'_> {
    match s {
        "infinity" => Cell::Number(f64::INFINITY),
        "-infinity" => Cell::Number(f64::NEG_INFINITY),
        _ => match epoch_ms(s, with_zone) {
            Some(ms) if ms.abs() <= MAX_DATE_MS => Cell::Date(ms),
            // Out of a Date's range: `to_js` makes the RangeError.
            Some(_) => Cell::Js,
            None => Cell::Text(s),
        },
    }
}

/// The largest time a JavaScript `Date` holds, in milliseconds from the epoch.
pub(crate) const MAX_DATE_MS: f64 = 8.64e15;

/// A numeric as a number (`types.numeric = 'number'`), or `None` when it is
/// finite but too large for one (it would silently become `Infinity`).
/// Read by `parseFloat` (the numeric text is always a valid number), not
/// Rust's parser: see `read_back` in edgepg-core's `text_form/float.rs`.
fn numeric_number(s: &str) -> Option<f64> {
    let n = js_sys::parse_float(s);
    (n.is_finite() || matches!(s, "Infinity" | "-Infinity" | "NaN")).then_some(n)
}

/// Converts one value of `column`.
pub(crate) fn to_js(value: &Value, column: &Column, types: Types) -> Result<JsValue, JsValue> {
    convert(value, is_int8(column), column.name(), types)
}

fn convert(value: &Value, int8: bool, column: &str, types: Types) -> Result<JsValue, JsValue> {
    Ok(match value {
        Value::Null => JsValue::NULL,
        Value::Bool(b) => JsValue::from_bool(*b),
        Value::Int(i) if int8 => match types.int8 {
            Int8::BigInt => JsValue::from(*i),
            Int8::String => JsValue::from_str(&i.to_string()),
            Int8::Number => {
                if i.unsigned_abs() > (1u64 << 53) - 1 {
                    return Err(js_sys::RangeError::new(&format!(
                        "column \"{column}\": int8 value {i} cannot be represented exactly as a \
                         number (types.int8 = 'number'); use 'bigint' or 'string'"
                    ))
                    .into());
                }
                JsValue::from_f64(*i as f64)
            }
        },
        Value::Int(i) => JsValue::from_f64(*i as f64),
        Value::Float(f) => JsValue::from_f64(*f),
        Value::Numeric(s) if types.numeric_number => match numeric_number(s) {
            Some(n) => JsValue::from_f64(n),
            None => {
                return Err(js_sys::RangeError::new(&format!(
                    "column \"{column}\": numeric value {s} is too large for a number \
                     (types.numeric = 'number'); use the default 'string'"
                ))
                .into())
            }
        },
        Value::Bytes(b) => Uint8Array::from(&b[..]).into(),
        Value::Json(j) => {
            let text = j.to_string();
            js_sys::JSON::parse(&text)?
        }
        Value::TimestampTz(s) if types.timestamptz_date => timestamp_to_date(s, true, column)?,
        Value::Timestamp(s) if types.timestamp_date => timestamp_to_date(s, false, column)?,
        Value::Array(items) => {
            let array = Array::new_with_length(items.len() as u32);
            for (i, item) in items.iter().enumerate() {
                array.set(i as u32, convert(item, int8, column, types)?);
            }
            array.into()
        }
        other => JsValue::from_str(other.as_str().unwrap_or_default()),
    })
}

/// `YYYY-MM-DD HH:MM:SS[.ffffff][+00][ BC]` → a `Date` (UTC); `±infinity` →
/// `±Infinity` (as node-postgres does); anything unparsable stays a string;
/// a time outside a `Date`'s range is a RangeError naming `column`.
fn timestamp_to_date(s: &str, with_zone: bool, column: &str) -> Result<JsValue, JsValue> {
    match s {
        "infinity" => return Ok(JsValue::from_f64(f64::INFINITY)),
        "-infinity" => return Ok(JsValue::from_f64(f64::NEG_INFINITY)),
        _ => {}
    }
    Ok(match epoch_ms(s, with_zone) {
        Some(ms) if ms.abs() <= MAX_DATE_MS => js_sys::Date::new(&JsValue::from_f64(ms)).into(),
        Some(_) => {
            return Err(js_sys::RangeError::new(&format!(
                "column \"{column}\": {s} is outside the range of a JavaScript Date; \
                 read it as a string (types.timestamptz / types.timestamp = 'string')"
            ))
            .into())
        }
        None => JsValue::from_str(s),
    })
}

fn epoch_ms(s: &str, with_zone: bool) -> Option<f64> {
    let (s, bc) = match s.strip_suffix(" BC") {
        Some(rest) => (rest, true),
        None => (s, false),
    };
    let s = if with_zone { s.strip_suffix("+00")? } else { s };
    let (date, time) = s.split_once(' ')?;
    let mut d = date.splitn(3, '-');
    let year: i64 = d.next()?.parse().ok()?;
    let month: u32 = d.next()?.parse().ok()?;
    let day: u32 = d.next()?.parse().ok()?;
    let (clock, frac) = match time.split_once('.') {
        Some((c, f)) => (c, f),
        None => (time, ""),
    };
    let mut t = clock.splitn(3, ':');
    let h: i64 = t.next()?.parse().ok()?;
    let m: i64 = t.next()?.parse().ok()?;
    let sec: i64 = t.next()?.parse().ok()?;
    let mut micros: i64 = 0;
    for (i, c) in frac
        .chars()
        .chain(std::iter::repeat('0'))
        .take(6)
        .enumerate()
    {
        let _ = i;
        micros = micros * 10 + i64::from(c.to_digit(10)?);
    }
    let year = if bc { 1 - year } else { year };
    let days = days_from_civil(year, month, day);
    let ms = (days * 86_400 + h * 3600 + m * 60 + sec) as f64 * 1000.0 + micros as f64 / 1000.0;
    Some(ms.floor())
}
