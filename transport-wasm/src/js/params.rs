//! JavaScript parameters → [`Value`] (SPEC §7).
//!
//! null/undefined → NULL, boolean, number (integral and safe → integer, else
//! float; NaN and ±Infinity kept), bigint (beyond int8 → exact numeric text),
//! string, Date (→ timestamptz), Uint8Array / ArrayBuffer (→ bytea), arrays
//! (nested), plain objects and objects with `toJSON` (→ json text). Anything
//! else is an error naming the parameter; nothing is truncated or coerced.

use bytes::{BufMut, BytesMut};
use edgepg_core::{ToSql, Type, Value};
use js_sys::{Array, ArrayBuffer, BigInt, Date, JsString, Object, Uint8Array};
use postgres_types::{Format, IsNull};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::sys;

/// Deepest array nesting accepted (deeper, or cyclic, is an error).
const MAX_DEPTH: usize = 64;
/// PostgreSQL's protocol limit on parameters per statement.
pub(crate) const MAX_PARAMS: u32 = 65_535;
/// Largest integer a JavaScript number represents exactly.
const MAX_SAFE: f64 = 9_007_199_254_740_991.0;

/// One parameter: its [`Value`], and for a JavaScript array also its JSON
/// text, sent instead when the server wants `json`/`jsonb` (so `[1, {…}]`
/// binds to a JSON column as JSON, and to an array column as an array).
pub(crate) struct Param {
    pub(crate) value: Value,
    json: Option<String>,
}

/// `ToSql` needs `Debug`. By the value's `Display`: `Value`'s derived
/// `Debug` would keep Rust's float printing (about 11 KB) in the module, and
/// nothing in the package prints a parameter (issue 19).
impl std::fmt::Debug for Param {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Param({})", self.value)
    }
}

fn wants_json(ty: &Type) -> bool {
    *ty == Type::JSON || *ty == Type::JSONB
}

impl ToSql for Param {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match &self.json {
            Some(json) if wants_json(ty) => {
                if *ty == Type::JSONB {
                    out.put_u8(1);
                }
                out.put_slice(json.as_bytes());
                Ok(IsNull::No)
            }
            _ => self.value.to_sql(ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    fn encode_format(&self, ty: &Type) -> Format {
        match &self.json {
            Some(_) if wants_json(ty) => Format::Binary,
            _ => self.value.encode_format(ty),
        }
    }

    postgres_types::to_sql_checked!();
}

/// Converts `params` (undefined, null or an array) into parameters, spending
/// at most `budget` bytes of wasm memory on them.
pub(crate) fn convert_all(params: &JsValue, budget: usize) -> Result<Vec<Param>, String> {
    if params.is_undefined() || params.is_null() {
        return Ok(Vec::new());
    }
    if !Array::is_array(params) {
        return Err(format!(
            "query parameters must be an array, not {}",
            describe_type(params)
        ));
    }
    let array: &Array = params.unchecked_ref();
    let n = array.length();
    if n > MAX_PARAMS {
        return Err(format!(
            "{n} query parameters: PostgreSQL accepts at most {MAX_PARAMS}"
        ));
    }
    let mut left = budget;
    (0..n)
        .map(|i| {
            let v = array.get(i);
            let value = convert(&v, 0, &mut left, budget)
                .map_err(|e| format!("parameter ${}: {e}", i + 1))?;
            let json = if matches!(value, Value::Array(_)) {
                js_sys::JSON::stringify(&v)
                    .ok()
                    .map(JsValue::from)
                    .and_then(|t| string(&t, &mut left, budget).ok())
            } else {
                None
            };
            Ok(Param { value, json })
        })
        .collect()
}

/// What a value is, for error messages.
pub(crate) fn describe_type(v: &JsValue) -> String {
    if v.is_null() {
        return "null".into();
    }
    if v.is_function() {
        return "a function".into();
    }
    if v.is_symbol() {
        return "a symbol".into();
    }
    if v.is_object() {
        let ctor = sys::get(&sys::get(v, "constructor"), "name");
        return match ctor.as_string() {
            Some(name) if !name.is_empty() => format!("a {name}"),
            _ => "an object".into(),
        };
    }
    v.js_typeof()
        .as_string()
        .unwrap_or_else(|| "a value".into())
}

fn spend(left: &mut usize, bytes: usize, budget: usize) -> Result<(), String> {
    if bytes > *left {
        return Err(format!(
            "the parameters exceed the {} MiB limit (maxParameterBytes)",
            budget >> 20
        ));
    }
    *left -= bytes;
    Ok(())
}

/// Copies a JavaScript string into wasm memory, refusing what does not fit
/// and strings that are not valid Unicode (lone surrogates would otherwise
/// be replaced silently).
pub(crate) fn string(v: &JsValue, left: &mut usize, budget: usize) -> Result<String, String> {
    let js: &JsString = v.unchecked_ref();
    // UTF-8 takes at least one byte per UTF-16 unit: check before copying.
    spend(left, js.length() as usize, budget)?;
    let s = v.as_string().unwrap_or_default();
    let extra = s.len().saturating_sub(js.length() as usize);
    spend(left, extra, budget)?;
    if s.contains('\u{FFFD}') {
        let well_formed = match sys::call_method(v, "isWellFormed", &[]) {
            Ok(b) => b.as_bool().unwrap_or(true),
            Err(_) => js.is_valid_utf16(),
        };
        if !well_formed {
            return Err("the string contains a lone surrogate (it is not valid Unicode)".into());
        }
    }
    Ok(s)
}

fn convert(v: &JsValue, depth: usize, left: &mut usize, budget: usize) -> Result<Value, String> {
    if v.is_null() || v.is_undefined() {
        return Ok(Value::Null);
    }
    if let Some(b) = v.as_bool() {
        return Ok(Value::Bool(b));
    }
    if let Some(n) = v.as_f64() {
        return Ok(if n.fract() == 0.0 && n.abs() <= MAX_SAFE {
            Value::Int(n as i64)
        } else {
            Value::Float(n)
        });
    }
    if v.is_string() {
        return string(v, left, budget).map(Value::Text);
    }
    if v.is_bigint() {
        let big: &BigInt = v.unchecked_ref();
        let text = big
            .to_string(10)
            .map_err(|e| sys::describe(&e))?
            .as_string()
            .unwrap_or_default();
        spend(left, text.len(), budget)?;
        return Ok(match text.parse::<i64>() {
            Ok(i) => Value::Int(i),
            // Exact, as numeric text: the server decides whether it fits the column.
            Err(_) => Value::Numeric(text),
        });
    }
    if v.is_symbol() || v.is_function() {
        return Err(format!("{} cannot be sent", describe_type(v)));
    }
    if !v.is_object() {
        return Err(format!("{} cannot be sent", describe_type(v)));
    }
    if let Some(date) = v.dyn_ref::<Date>() {
        let ms = date.get_time();
        if !ms.is_finite() {
            return Err("the Date is invalid".into());
        }
        return Ok(Value::TimestampTz(format_epoch_ms(ms)));
    }
    if let Some(bytes) = v.dyn_ref::<Uint8Array>() {
        spend(left, bytes.length() as usize, budget)?;
        return Ok(Value::Bytes(bytes.to_vec()));
    }
    if let Some(buf) = v.dyn_ref::<ArrayBuffer>() {
        spend(left, buf.byte_length() as usize, budget)?;
        return Ok(Value::Bytes(Uint8Array::new(buf).to_vec()));
    }
    if ArrayBuffer::is_view(v) {
        return Err(format!(
            "{} cannot be sent: use a Uint8Array for bytea",
            describe_type(v)
        ));
    }
    if Array::is_array(v) {
        if depth >= MAX_DEPTH {
            return Err(format!(
                "arrays nested more than {MAX_DEPTH} levels deep (or cyclic) cannot be sent"
            ));
        }
        let array: &Array = v.unchecked_ref();
        let mut items = Vec::with_capacity(array.length().min(1 << 16) as usize);
        for i in 0..array.length() {
            spend(left, 8, budget)?;
            items.push(
                convert(&array.get(i), depth + 1, left, budget)
                    .map_err(|e| format!("element {i}: {e}"))?,
            );
        }
        return Ok(Value::Array(items));
    }
    let proto = Object::get_prototype_of(v);
    let plain = proto.is_null()
        || sys::get(&proto, "constructor")
            .dyn_ref::<js_sys::Function>()
            .is_some_and(|c| c.name() == "Object")
        || sys::get(v, "toJSON").is_function();
    if !plain {
        return Err(format!(
            "{} cannot be sent (plain objects are sent as JSON)",
            describe_type(v)
        ));
    }
    let text = js_sys::JSON::stringify(v)
        .map_err(|e| format!("JSON.stringify failed: {}", sys::describe(&e)))?;
    let text: JsValue = text.into();
    if !text.is_string() {
        return Err(format!("{} has no JSON form", describe_type(v)));
    }
    let json = string(&text, left, budget)?;
    Ok(Value::Other {
        type_name: "json".into(),
        text: json,
    })
}

/// Milliseconds since the Unix epoch → `YYYY-MM-DD HH:MM:SS.mmm+00[ BC]`.
pub(crate) fn format_epoch_ms(ms: f64) -> String {
    let ms = ms as i64; // finite and within ±8.64e15 for a valid Date
    let days = ms.div_euclid(86_400_000);
    let rem = ms.rem_euclid(86_400_000);
    let (y, m, d) = civil_from_days(days);
    let (year, bc) = if y <= 0 { (1 - y, " BC") } else { (y, "") };
    let (h, min, s, milli) = (
        rem / 3_600_000,
        (rem / 60_000) % 60,
        (rem / 1000) % 60,
        rem % 1000,
    );
    format!("{year:04}-{m:02}-{d:02} {h:02}:{min:02}:{s:02}.{milli:03}+00{bc}")
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian.
pub(crate) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// (year, month, day) → days since 1970-01-01, proleptic Gregorian.
pub(crate) fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The kinds of parameters the package classifies itself (`pack` in
/// `pkg/src/api.js`); anything else goes through [`convert_all`].
const PACKED_NULL: f64 = 0.0;
const PACKED_BOOL: f64 = 1.0;
const PACKED_NUMBER: f64 = 2.0;
const PACKED_TEXT: f64 = 3.0;
const PACKED_DATE: f64 = 4.0;
const PACKED_JSON: f64 = 5.0;
const PACKED_BYTES: f64 = 6.0;

/// The first `units` UTF-16 units of `rest`, removed from it.
fn take_utf16<'a>(rest: &mut &'a str, units: f64, ascii: bool) -> Option<&'a str> {
    if !(units >= 0.0 && units.fract() == 0.0) {
        return None;
    }
    let units = units as usize;
    let at = if ascii {
        units
    } else {
        let mut seen = 0;
        let mut at = None;
        for (i, c) in rest.char_indices() {
            if seen == units {
                at = Some(i);
                break;
            }
            seen += c.len_utf16();
        }
        match at {
            Some(i) => i,
            None if seen == units => rest.len(),
            None => return None,
        }
    };
    if at > rest.len() || !rest.is_char_boundary(at) {
        return None;
    }
    let (head, tail) = rest.split_at(at);
    *rest = tail;
    Some(head)
}

/// Parameters the package classified (`pack` in `pkg/src/api.js`): `layout`
/// holds a kind and a value for each parameter (a number, 0/1, epoch
/// milliseconds, or the UTF-16 length of a string or JSON text, which follow
/// one another in `text`); byte arrays are read from `params`. `Ok(None)`:
/// convert `params` with [`convert_all`] instead (a string that may not be
/// valid Unicode). A layout that does not match is an error, never a panic.
pub(crate) fn convert_packed(
    text: &JsValue,
    layout: &[f64],
    params: &JsValue,
    budget: usize,
) -> Result<Option<Vec<Param>>, String> {
    const BAD: &str = "internal error: the packed parameters do not match";
    if !text.is_string()
        || !Array::is_array(params)
        || layout.len() % 2 != 0
        || layout.len() / 2 > MAX_PARAMS as usize
    {
        return Err(BAD.into());
    }
    let array: &Array = params.unchecked_ref();
    let mut left = budget;
    // As `string` does, without its Unicode check: a replacement character
    // may be a lone surrogate, which the general conversion reports with the
    // parameter's number.
    let js: &JsString = text.unchecked_ref();
    spend(&mut left, js.length() as usize, budget)?;
    let all = text.as_string().unwrap_or_default();
    spend(
        &mut left,
        all.len().saturating_sub(js.length() as usize),
        budget,
    )?;
    if all.contains('\u{FFFD}') {
        return Ok(None);
    }
    let ascii = all.is_ascii();
    let mut rest = all.as_str();
    let mut out = Vec::with_capacity(layout.len() / 2);
    for (i, pair) in layout.chunks_exact(2).enumerate() {
        let (kind, x) = (pair[0], pair[1]);
        let value = if kind == PACKED_NULL {
            Value::Null
        } else if kind == PACKED_BOOL {
            Value::Bool(x != 0.0)
        } else if kind == PACKED_NUMBER {
            if x.fract() == 0.0 && x.abs() <= MAX_SAFE {
                Value::Int(x as i64)
            } else {
                Value::Float(x)
            }
        } else if kind == PACKED_TEXT {
            Value::Text(take_utf16(&mut rest, x, ascii).ok_or(BAD)?.to_owned())
        } else if kind == PACKED_DATE {
            if !x.is_finite() || x.abs() > 8.64e15 {
                return Err(format!("parameter ${}: the Date is invalid", i + 1));
            }
            Value::TimestampTz(format_epoch_ms(x))
        } else if kind == PACKED_JSON {
            Value::Other {
                type_name: "json".into(),
                text: take_utf16(&mut rest, x, ascii).ok_or(BAD)?.to_owned(),
            }
        } else if kind == PACKED_BYTES {
            let v = array.get(i as u32);
            let bytes = v.dyn_ref::<Uint8Array>().ok_or(BAD)?;
            spend(&mut left, bytes.length() as usize, budget)
                .map_err(|e| format!("parameter ${}: {e}", i + 1))?;
            Value::Bytes(bytes.to_vec())
        } else {
            return Err(BAD.into());
        };
        out.push(Param { value, json: None });
    }
    if !rest.is_empty() {
        return Err(BAD.into());
    }
    Ok(Some(out))
}
