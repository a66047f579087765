//! A statement's results on their way to JavaScript: filled as the rows
//! arrive from the server (so converting them overlaps with the server
//! sending the rest), then handed in one call to the package's `buildPacket`
//! (`pkg/src/api.js`), which reads the simple values straight from the wasm
//! memory and builds the rows: no wasm-side object outlives the query, and
//! no buffer is copied.
//!
//! `buildPacket(text, cells, columns, slot, count, rows, numbers, lengths, kinds)`:
//!
//! * `numbers`, `lengths`, `kinds`: addresses in the wasm memory of the f64
//!   values, the u32 UTF-16 lengths of the strings, and one kind byte per
//!   value (row after row).
//! * `text`: the command tag, then every string value, concatenated; cut by
//!   the lengths (the first is the tag's).
//! * The kind of a value says where it is: 0 the next value of `cells` (an
//!   array, or `undefined` when no value needs it), 1 null, 2 true, 3 false,
//!   4 the next number, 5 a `Date` at the next number, 6 the next string of
//!   `text`, 7 an error, the next value of `cells`, to throw when the rows
//!   are read (an int8 past 2^53 under `types.int8 = 'number'`), 8 an array
//!   of numbers: the next number is their count, and they follow.
//! * `slot`: where the package keeps the column descriptors of this shape of
//!   result; `columns` is `undefined` when the slot already holds them, else
//!   `name \0 dataTypeID \0 dataType \0` for each column (names cannot hold
//!   NUL), to be stored in the slot.
//! * `count`: rows returned or affected; `rows`: the number of rows.

use std::cell::RefCell;
use std::sync::Arc;

use edgepg_core::{float4_value, Column, FromSql, Results, Row, RowSink, Type, Value};
use js_sys::{Array, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

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
    /// A one-dimensional array of int2, int4, oid, float4 or float8 without
    /// nulls, lower bound 1, checked (see [`numbers_array`]).
    Numbers {
        /// The element size: 2, 4 or 8.
        size: usize,
        float: bool,
        /// The elements, `size` bytes each after a 4-byte length.
        elements: &'a [u8],
        count: usize,
    },
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
            Type::FLOAT4 => Raw::Number(float4_value(f32::from_be_bytes(be(raw)?))),
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
            Type::INT2_ARRAY => numbers_array(raw, 2, false)?,
            Type::INT4_ARRAY | Type::OID_ARRAY => numbers_array(raw, 4, false)?,
            Type::FLOAT4_ARRAY => numbers_array(raw, 4, true)?,
            Type::FLOAT8_ARRAY => numbers_array(raw, 8, true)?,
            _ => return None,
        })
    }
}

/// A binary array of numbers as [`Raw::Numbers`], when it has the simple
/// shape (else `None`: it goes through [`Value`], which handles the rest).
fn numbers_array(raw: &[u8], size: usize, float: bool) -> Option<Raw<'_>> {
    let word = |at: usize| {
        raw.get(at..at + 4)
            .map(|b| i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    };
    // Dimensions, flags, element type; then the length and lower bound of each dimension.
    let (elements, count) = match word(0)? {
        0 => (raw.get(12..)?, 0),
        1 if word(16)? == 1 => (raw.get(20..)?, usize::try_from(word(12)?).ok()?),
        _ => return None,
    };
    // Every element: its length (exactly `size`, never -1 for null), then its bytes.
    if elements.len() != count.checked_mul(4 + size)? {
        return None;
    }
    if elements
        .chunks_exact(4 + size)
        .any(|e| e[..4] != (size as u32).to_be_bytes())
    {
        return None;
    }
    Some(Raw::Numbers {
        size,
        float,
        elements,
        count,
    })
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

#[derive(Default)]
struct Slots {
    /// The columns last seen in each slot: held, so that a shape's address
    /// is not reused while its slot remembers it.
    slots: Vec<Arc<[Column]>>,
    next: usize,
}

thread_local! {
    static SLOTS_CACHE: RefCell<Slots> = RefCell::default();
}

/// The slot of `columns`, and their description when the slot is new to them.
///
/// Results of one prepared statement share their columns, so the pointer is
/// a cheap key; other results with equal columns share the slot too.
fn slot_of(columns: &Arc<[Column]>) -> (u32, Option<String>) {
    SLOTS_CACHE.with(|cache| {
        let mut cache = cache.borrow_mut();
        if let Some(i) = cache.slots.iter().position(|s| Arc::ptr_eq(s, columns)) {
            return (i as u32, None);
        }
        if let Some(i) = cache.slots.iter().position(|s| **s == **columns) {
            cache.slots[i] = columns.clone();
            return (i as u32, None);
        }
        let i = if cache.slots.len() < SLOTS {
            cache.slots.push(columns.clone());
            cache.slots.len() - 1
        } else {
            let i = cache.next;
            cache.next = (i + 1) % SLOTS;
            cache.slots[i] = columns.clone();
            i
        };
        (i as u32, Some(describe(columns)))
    })
}

/// `name \0 oid \0 type \0 table \0 column \0 modifier \0` for each
/// column (table and column 0 when it is not a table's).
fn describe(columns: &[Column]) -> String {
    let mut out = String::new();
    for c in columns {
        out.push_str(c.name());
        out.push('\0');
        push_u32(&mut out, c.type_oid());
        out.push('\0');
        out.push_str(c.type_name());
        out.push('\0');
        push_u32(&mut out, c.table_oid().unwrap_or(0));
        out.push('\0');
        push_u32(&mut out, c.column_id().map_or(0, |n| n.max(0) as u32));
        out.push('\0');
        let modifier = c.type_modifier();
        if modifier < 0 {
            out.push('-');
        }
        push_u32(&mut out, modifier.unsigned_abs());
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

/// The length of `s` in UTF-16 units (JavaScript's `length`).
fn utf16_len(s: &str) -> usize {
    if s.is_ascii() {
        s.len()
    } else {
        s.encode_utf16().count()
    }
}

/// Appends `s` to `text` and its UTF-16 length to `lengths`.
fn push_text(text: &mut String, lengths: &mut Vec<u32>, s: &str) {
    text.push_str(s);
    lengths.push(utf16_len(s) as u32);
}

/// Builds a packet row by row (as they arrive from the server: see
/// [`RowSink`]), then [`Packet::finish`]es it with the command's results.
pub(crate) struct Packet {
    types: Types,
    kinds: Vec<u8>,
    numbers: Vec<f64>,
    text: String,
    lengths: Vec<u32>,
    cells: Option<Array>,
    rows: usize,
    mode: Mode,
}

/// Which columns come as PostgreSQL's text output (for the package's type
/// parsers: node-postgres' `types.getTypeParser` and `setTypeParser`).
#[derive(Clone, Default)]
pub(crate) enum TextColumns {
    /// None: values as `types` maps them.
    #[default]
    None,
    /// Every column.
    All,
    /// Columns of these type OIDs.
    Oids(std::rc::Rc<[u32]>),
}

/// How a statement's rows are shaped for JavaScript.
#[derive(Clone, Default)]
pub(crate) struct Mode {
    /// Rows as arrays in column order (node-postgres' `rowMode: 'array'`).
    pub arrays: bool,
    pub text: TextColumns,
}

impl Mode {
    /// `flags`: 1 rows as arrays, 2 every column as text; `text_oids`: the
    /// types whose columns come as text.
    pub(crate) fn new(flags: Option<u32>, text_oids: Option<Vec<u32>>) -> Mode {
        let flags = flags.unwrap_or(0);
        let text = if flags & 2 != 0 {
            TextColumns::All
        } else {
            match text_oids {
                Some(oids) if !oids.is_empty() => TextColumns::Oids(oids.into()),
                _ => TextColumns::None,
            }
        };
        Mode {
            arrays: flags & 1 != 0,
            text,
        }
    }

    fn text(&self, oid: u32) -> bool {
        match &self.text {
            TextColumns::None => false,
            TextColumns::All => true,
            TextColumns::Oids(oids) => oids.contains(&oid),
        }
    }
}

impl Packet {
    pub(crate) fn new(types: Types, mode: Mode) -> Packet {
        let mut p = Packet {
            types,
            mode,
            kinds: Vec::new(),
            numbers: Vec::new(),
            text: String::new(),
            lengths: Vec::new(),
            cells: None,
            rows: 0,
        };
        // The command tag comes first; its length is filled in by `finish`.
        p.lengths.push(0);
        p
    }

    /// The packet of buffered `results` (see the module documentation).
    pub(crate) fn of(results: &Results, types: Types, mode: Mode) -> Result<JsValue, JsValue> {
        let mut p = Packet::new(types, mode);
        for row in results.iter() {
            p.push_row(row);
        }
        p.finish(results)
    }

    fn js_cell(&mut self, v: Result<JsValue, JsValue>) {
        let (kind, v) = match v {
            Ok(v) => (0, v),
            Err(e) => (7, e),
        };
        self.cells.get_or_insert_with(Array::new).push(&v);
        self.kinds.push(kind);
    }

    fn push_row(&mut self, row: &Row) {
        self.rows += 1;
        let types = self.types;
        for (i, column) in row.columns().iter().enumerate() {
            if self.mode.text(column.type_oid()) {
                match row.text(i) {
                    Ok(Some(s)) => {
                        push_text(&mut self.text, &mut self.lengths, &s);
                        self.kinds.push(6);
                    }
                    Ok(None) => self.kinds.push(1),
                    Err(e) => self.js_cell(Err(super::error_to_js(&e))),
                }
                continue;
            }
            let value = match raw_value(row, i) {
                Raw::Null => {
                    self.kinds.push(1);
                    continue;
                }
                Raw::Bool(b) => {
                    self.kinds.push(if b { 2 } else { 3 });
                    continue;
                }
                Raw::Number(n) => {
                    self.numbers.push(n);
                    self.kinds.push(4);
                    continue;
                }
                Raw::Text(s) => {
                    push_text(&mut self.text, &mut self.lengths, s);
                    self.kinds.push(6);
                    continue;
                }
                Raw::Int8(i) => match types.int8 {
                    Int8::Number if i.unsigned_abs() < (1u64 << 53) => {
                        self.numbers.push(i as f64);
                        self.kinds.push(4);
                        continue;
                    }
                    Int8::BigInt => {
                        self.js_cell(Ok(JsValue::from(i)));
                        continue;
                    }
                    _ => Value::Int(i),
                },
                Raw::Timestamp { micros, zoned } => {
                    if zoned && types.timestamptz_date || !zoned && types.timestamp_date {
                        let (kind, n) = match micros {
                            i64::MAX => (4, f64::INFINITY),
                            i64::MIN => (4, f64::NEG_INFINITY),
                            _ => (5, (micros.div_euclid(1000) + EPOCH_2000_MS) as f64),
                        };
                        // Past a Date's range the decoder below makes the RangeError.
                        if kind == 4 || n.abs() <= decode::MAX_DATE_MS {
                            self.numbers.push(n);
                            self.kinds.push(kind);
                            continue;
                        }
                    }
                    match row.try_get::<Value, usize>(i) {
                        Ok(v) => v,
                        Err(_) => row.values()[i].clone(),
                    }
                }
                Raw::Json(s) => match js_sys::JSON::parse(s) {
                    Ok(v) => {
                        self.js_cell(Ok(v));
                        continue;
                    }
                    Err(_) => row.values()[i].clone(),
                },
                Raw::Numbers {
                    size,
                    float,
                    elements,
                    count,
                } => {
                    self.numbers.push(count as f64);
                    for e in elements.chunks_exact(4 + size) {
                        let b = &e[4..];
                        self.numbers.push(match (size, float) {
                            (2, _) => f64::from(i16::from_be_bytes([b[0], b[1]])),
                            (4, false) if column.type_oid() == Type::OID_ARRAY.oid() => {
                                f64::from(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
                            }
                            (4, false) => f64::from(i32::from_be_bytes([b[0], b[1], b[2], b[3]])),
                            (4, true) => float4_value(f32::from_be_bytes([b[0], b[1], b[2], b[3]])),
                            _ => {
                                f64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
                            }
                        });
                    }
                    self.kinds.push(8);
                    continue;
                }
                Raw::Bytes(b) => {
                    self.js_cell(Ok(Uint8Array::from(b).into()));
                    continue;
                }
                Raw::Value(v) => v,
            };
            let cell = decode::cell(&value, column, types);
            match cell {
                Cell::Js => self.js_cell(decode::to_js(&value, column, types)),
                Cell::Number(n) | Cell::Date(n) => {
                    self.numbers.push(n);
                    self.kinds.push(cell.kind());
                }
                Cell::Text(s) => {
                    push_text(&mut self.text, &mut self.lengths, s);
                    self.kinds.push(6);
                }
                Cell::Null | Cell::True | Cell::False => self.kinds.push(cell.kind()),
            }
        }
    }

    /// The packet: these rows, with the command tag, count and columns of
    /// `results`, built by the package's function (see [`bind_rows`]) from
    /// the wasm memory directly (no copy of the numbers, lengths and kinds).
    pub(crate) fn finish(self, results: &Results) -> Result<JsValue, JsValue> {
        let Packet {
            kinds,
            numbers,
            mut text,
            mut lengths,
            cells,
            rows,
            mode,
            ..
        } = self;
        // The tag goes first in `text`.
        let status = results.status();
        text.insert_str(0, status);
        lengths[0] = utf16_len(status) as u32;
        let (slot, described) = slot_of(results.shared_columns());
        let cells = cells.map_or(JsValue::UNDEFINED, Into::into);
        let columns = described.map_or(JsValue::UNDEFINED, |s| JsValue::from_str(&s));
        // The function reads the vectors before anything else runs in the wasm
        // (and does not call into it: the borrow of ROWS is safe).
        ROWS.with(|f| match &*f.borrow() {
            Some(build) => Ok(build.call_rows(
                &JsValue::UNDEFINED,
                &text,
                &cells,
                &columns,
                slot,
                results.count() as f64,
                rows as u32,
                numbers.as_ptr() as u32,
                lengths.as_ptr() as u32,
                kinds.as_ptr() as u32,
                mode.arrays,
            )),
            None => Err(JsValue::from_str(
                "edgepg: internal error: bindRows was not called",
            )),
        })
    }
}

#[wasm_bindgen]
extern "C" {
    /// The package's function that builds results (see [`bind_rows`]).
    type RowsFn;

    /// `build.call(this, text, cells, columns, slot, count, rows, numbers,
    /// lengths, kinds, arrays)`: `numbers`, `lengths` and `kinds` are
    /// addresses in the wasm memory of the f64 numbers, u32 lengths and u8
    /// kinds; `arrays` asks for rows as arrays.
    #[wasm_bindgen(method, js_name = call)]
    #[allow(clippy::too_many_arguments)]
    fn call_rows(
        build: &RowsFn,
        this: &JsValue,
        text: &str,
        cells: &JsValue,
        columns: &JsValue,
        slot: u32,
        count: f64,
        rows: u32,
        numbers: u32,
        lengths: u32,
        kinds: u32,
        arrays: bool,
    ) -> JsValue;
}

thread_local! {
    static ROWS: RefCell<Option<RowsFn>> = const { RefCell::new(None) };
}

/// Sets the package's function that turns packets into results (it must not
/// throw, nor call into the wasm); returns the wasm memory it reads them from.
#[wasm_bindgen(js_name = bindRows)]
pub fn bind_rows(build: js_sys::Function) -> Result<JsValue, JsValue> {
    ROWS.with(|f| *f.borrow_mut() = Some(build.unchecked_into()));
    Ok(wasm_bindgen::memory())
}

impl RowSink for Packet {
    fn reset(&mut self) {
        if self.rows > 0 || self.lengths.len() > 1 || self.cells.is_some() {
            *self = Packet::new(self.types, std::mem::take(&mut self.mode));
        }
    }

    fn row(&mut self, row: Row) {
        self.push_row(&row);
    }
}
