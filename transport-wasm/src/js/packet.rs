//! A statement's results as one JavaScript array (the "packet" the package's
//! `Results` is built from), made when the statement completes: no wasm-side
//! object outlives the query, and simple values cross the boundary in bulk.
//!
//! `[text, bytes, numbers, lengths, cells, slot, columns, count, rows]`:
//!
//! * `bytes`: one `Uint8Array` (one allocation per result) holding, little
//!   endian, `numbers` f64 values, then `lengths` u32 values, then one kind
//!   byte per value (row after row).
//! * `text`: the command tag, then every string value, concatenated; cut by
//!   the UTF-16 lengths (the first is the tag's).
//! * The kind of a value says where it is: 0 in `cells` (a sparse array, or
//!   `undefined` when no value needs it), 1 null, 2 true, 3 false, 4 the next
//!   number, 5 a `Date` at the next number, 6 the next string of `text`, 7 an
//!   error in `cells` to throw when the rows are read (an int8 past 2^53
//!   under `types.int8 = 'number'`).
//! * `slot`: where the package keeps the column descriptors of this shape of
//!   result; `columns` is `undefined` when the slot already holds them, else
//!   `name \0 dataTypeID \0 dataType \0` for each column (names cannot hold
//!   NUL), to be stored in the slot.
//! * `count`: rows returned or affected; `rows`: the number of rows.

use std::cell::RefCell;

use edgepg_core::{Column, FromSql, Results, Row, Type, Value};
use js_sys::{Array, Uint8Array};
use wasm_bindgen::prelude::*;

use super::decode::{self, Cell, Int8, Types};

type BoxError = Box<dyn std::error::Error + Sync + Send>;

/// One value read straight from the wire for the common types, or through
/// [`Value`] (exactly as `Row::values` decodes it) for the others.
enum Raw<'a> {
    Null,
    Bool(bool),
    /// int2, int4, oid, float4, float8.
    Number(f64),
    Int8(i64),
    /// Text-like types (valid UTF-8).
    Text(&'a str),
    /// timestamp / timestamptz: microseconds since 2000-01-01.
    Timestamp {
        micros: i64,
        zoned: bool,
    },
    /// json / jsonb text (for `JSON.parse`).
    Json(&'a str),
    Bytes(&'a [u8]),
    Value(Value),
}

/// Fixed-size big-endian bytes.
fn be<const N: usize>(raw: &[u8]) -> Option<[u8; N]> {
    raw.try_into().ok()
}

impl<'a> Raw<'a> {
    fn fast(ty: &Type, raw: &'a [u8]) -> Option<Raw<'a>> {
        Some(match *ty {
            Type::BOOL => match raw {
                [b] => Raw::Bool(*b != 0),
                _ => return None,
            },
            Type::INT2 => Raw::Number(f64::from(i16::from_be_bytes(be(raw)?))),
            Type::INT4 => Raw::Number(f64::from(i32::from_be_bytes(be(raw)?))),
            Type::OID => Raw::Number(f64::from(u32::from_be_bytes(be(raw)?))),
            Type::INT8 => Raw::Int8(i64::from_be_bytes(be(raw)?)),
            Type::FLOAT4 => Raw::Number(f64::from(f32::from_be_bytes(be(raw)?))),
            Type::FLOAT8 => Raw::Number(f64::from_be_bytes(be(raw)?)),
            Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::CHAR | Type::UNKNOWN => {
                Raw::Text(std::str::from_utf8(raw).ok()?)
            }
            Type::TIMESTAMP | Type::TIMESTAMPTZ => Raw::Timestamp {
                micros: i64::from_be_bytes(be(raw)?),
                zoned: *ty == Type::TIMESTAMPTZ,
            },
            Type::JSON => Raw::Json(std::str::from_utf8(raw).ok()?),
            Type::JSONB => match raw.split_first() {
                Some((1, rest)) => Raw::Json(std::str::from_utf8(rest).ok()?),
                _ => return None,
            },
            Type::BYTEA => Raw::Bytes(raw),
            _ => return None,
        })
    }
}

impl<'a> FromSql<'a> for Raw<'a> {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Raw<'a>, BoxError> {
        match Raw::fast(ty, raw) {
            Some(r) => Ok(r),
            None => Value::from_sql(ty, raw).map(Raw::Value),
        }
    }

    fn from_sql_null(_: &Type) -> Result<Raw<'a>, BoxError> {
        Ok(Raw::Null)
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

/// Value `i` of `row`; a value the core could not decode becomes the text
/// `Row::values` gives it.
fn raw_value(row: &Row, i: usize) -> Raw<'_> {
    match row.try_get::<Raw, usize>(i) {
        Ok(r) => r,
        Err(_) => Raw::Value(row.values()[i].clone()),
    }
}

/// Milliseconds between 1970-01-01 and 2000-01-01.
const EPOCH_2000_MS: i64 = 946_684_800_000;

/// Column shapes remembered (the package keeps as many descriptors).
const SLOTS: usize = 256;

struct Slot {
    /// Address of the columns of the statement last seen in this slot.
    addr: usize,
    columns: Vec<Column>,
}

#[derive(Default)]
struct Slots {
    slots: Vec<Slot>,
    next: usize,
}

thread_local! {
    static SLOTS_CACHE: RefCell<Slots> = RefCell::default();
}

/// The slot of `columns`, and their description when the slot is new to them.
///
/// Results of one prepared statement share their columns, so the address is
/// a cheap key; the contents are compared too (an address can be reused).
fn slot_of(columns: &[Column]) -> (u32, Option<String>) {
    let addr = columns.as_ptr() as usize;
    SLOTS_CACHE.with(|cache| {
        let mut cache = cache.borrow_mut();
        if let Some(i) = cache
            .slots
            .iter()
            .position(|s| s.addr == addr && s.columns == columns)
        {
            return (i as u32, None);
        }
        let i = if cache.slots.len() < SLOTS {
            cache.slots.push(Slot {
                addr,
                columns: columns.to_vec(),
            });
            cache.slots.len() - 1
        } else {
            let i = cache.next;
            cache.next = (i + 1) % SLOTS;
            cache.slots[i] = Slot {
                addr,
                columns: columns.to_vec(),
            };
            i
        };
        (i as u32, Some(describe(columns)))
    })
}

/// `name \0 oid \0 type \0` for each column.
fn describe(columns: &[Column]) -> String {
    let mut out = String::new();
    for c in columns {
        out.push_str(c.name());
        out.push('\0');
        push_u32(&mut out, c.type_oid());
        out.push('\0');
        out.push_str(c.type_name());
        out.push('\0');
    }
    out
}

/// Appends `n` in decimal.
fn push_u32(out: &mut String, n: u32) {
    if n >= 10 {
        push_u32(out, n / 10);
    }
    out.push(char::from(b'0' + (n % 10) as u8));
}

/// Appends `s` to `text` and its UTF-16 length to `lengths`.
fn push_text(text: &mut String, lengths: &mut Vec<u32>, s: &str) {
    text.push_str(s);
    let units = if s.is_ascii() {
        s.len()
    } else {
        s.encode_utf16().count()
    };
    lengths.push(units as u32);
}

/// The packet of `results` (see the module documentation).
pub(crate) fn packet(results: &Results, types: Types) -> JsValue {
    let columns = results.columns();
    let total = results.len() * columns.len();
    let mut kinds: Vec<u8> = Vec::with_capacity(total);
    let mut numbers: Vec<f64> = Vec::new();
    let mut text = String::new();
    let mut lengths: Vec<u32> = Vec::new();
    let mut cells: Option<Array> = None;
    push_text(&mut text, &mut lengths, results.status());
    let mut js_cell = |k: usize, v: Result<JsValue, JsValue>, kinds: &mut Vec<u8>| {
        let (kind, v) = match v {
            Ok(v) => (0, v),
            Err(e) => (7, e),
        };
        cells
            .get_or_insert_with(|| Array::new_with_length(total as u32))
            .set(k as u32, v);
        kinds.push(kind);
    };
    for row in results.iter() {
        for (i, column) in columns.iter().enumerate() {
            let k = kinds.len();
            let value = match raw_value(row, i) {
                Raw::Null => {
                    kinds.push(1);
                    continue;
                }
                Raw::Bool(b) => {
                    kinds.push(if b { 2 } else { 3 });
                    continue;
                }
                Raw::Number(n) => {
                    numbers.push(n);
                    kinds.push(4);
                    continue;
                }
                Raw::Text(s) => {
                    push_text(&mut text, &mut lengths, s);
                    kinds.push(6);
                    continue;
                }
                Raw::Int8(i) => match types.int8 {
                    Int8::Number if i.unsigned_abs() < (1u64 << 53) => {
                        numbers.push(i as f64);
                        kinds.push(4);
                        continue;
                    }
                    Int8::BigInt => {
                        js_cell(k, Ok(JsValue::from(i)), &mut kinds);
                        continue;
                    }
                    _ => Value::Int(i),
                },
                Raw::Timestamp { micros, zoned } => {
                    if zoned && types.timestamptz_date || !zoned && types.timestamp_date {
                        match micros {
                            i64::MAX => numbers.push(f64::INFINITY),
                            i64::MIN => numbers.push(f64::NEG_INFINITY),
                            _ => {
                                let ms = micros.div_euclid(1000) + EPOCH_2000_MS;
                                numbers.push(ms as f64);
                                kinds.push(5);
                                continue;
                            }
                        }
                        kinds.push(4);
                        continue;
                    }
                    match row.try_get::<Value, usize>(i) {
                        Ok(v) => v,
                        Err(_) => row.values()[i].clone(),
                    }
                }
                Raw::Json(s) => match js_sys::JSON::parse(s) {
                    Ok(v) => {
                        js_cell(k, Ok(v), &mut kinds);
                        continue;
                    }
                    Err(_) => row.values()[i].clone(),
                },
                Raw::Bytes(b) => {
                    js_cell(k, Ok(Uint8Array::from(b).into()), &mut kinds);
                    continue;
                }
                Raw::Value(v) => v,
            };
            let cell = decode::cell(&value, column, types);
            match cell {
                Cell::Js => js_cell(k, decode::to_js(&value, column, types), &mut kinds),
                Cell::Number(n) | Cell::Date(n) => {
                    numbers.push(n);
                    kinds.push(cell.kind());
                }
                Cell::Text(s) => {
                    push_text(&mut text, &mut lengths, s);
                    kinds.push(6);
                }
                Cell::Null | Cell::True | Cell::False => kinds.push(cell.kind()),
            }
        }
    }
    let (slot, described) = slot_of(columns);
    let out = Array::new_with_length(9);
    let mut bytes = Vec::with_capacity(numbers.len() * 8 + lengths.len() * 4 + kinds.len());
    for n in &numbers {
        bytes.extend_from_slice(&n.to_le_bytes());
    }
    for n in &lengths {
        bytes.extend_from_slice(&n.to_le_bytes());
    }
    bytes.extend_from_slice(&kinds);
    out.set(0, JsValue::from_str(&text));
    out.set(1, Uint8Array::from(&bytes[..]).into());
    out.set(2, JsValue::from_f64(numbers.len() as f64));
    out.set(3, JsValue::from_f64(lengths.len() as f64));
    out.set(4, cells.map_or(JsValue::UNDEFINED, Into::into));
    out.set(5, JsValue::from_f64(f64::from(slot)));
    out.set(
        6,
        described.map_or(JsValue::UNDEFINED, |s| JsValue::from_str(&s)),
    );
    out.set(7, JsValue::from_f64(results.count() as f64));
    out.set(8, JsValue::from_f64(results.len() as f64));
    out.into()
}
