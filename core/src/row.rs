//! [`Row`]: one result row, with typed and dynamic access.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, OnceLock};

use postgres_types::FromSql;

use crate::error::{Error, Result};
use crate::results::Column;
use crate::value::Value;

mod sealed {
    pub trait Sealed {}
}

/// A column position or name (`usize`, `&str`, `String`).
pub trait ColumnIndex: sealed::Sealed + fmt::Display {
    /// The position of this column in `columns`, if it exists.
    fn position(&self, columns: &[Column]) -> Option<usize>;
}

impl sealed::Sealed for usize {}
impl ColumnIndex for usize {
    fn position(&self, columns: &[Column]) -> Option<usize> {
        (*self < columns.len()).then_some(*self)
    }
}

impl sealed::Sealed for &str {}
impl ColumnIndex for &str {
    fn position(&self, columns: &[Column]) -> Option<usize> {
        columns.iter().position(|c| c.name() == *self)
    }
}

impl sealed::Sealed for String {}
impl ColumnIndex for String {
    fn position(&self, columns: &[Column]) -> Option<usize> {
        self.as_str().position(columns)
    }
}

/// Receives the rows of a statement one by one as they arrive from the
/// server, instead of buffering them in [`crate::Results`] (see
/// [`crate::Pool::query_into`]): a consumer that converts rows can then work
/// while the server is still sending the rest.
///
/// ```
/// use edgepg_core::{Row, RowSink};
/// struct Count(usize);
/// impl RowSink for Count {
///     fn reset(&mut self) { self.0 = 0; }
///     fn row(&mut self, _row: Row) { self.0 += 1; }
/// }
/// ```
pub trait RowSink: crate::MaybeSend {
    /// Forgets the rows received so far: called before the first row of
    /// every attempt (a statement retried under the pool rules starts over).
    fn reset(&mut self);

    /// One row, in order.
    fn row(&mut self, row: Row);
}

/// Reborrows an optional sink for one call (the trait object's lifetime
/// shortened to the borrow, which `Option::as_deref_mut` cannot do).
pub(crate) fn reborrow<'b>(
    sink: &'b mut Option<&mut (dyn RowSink + '_)>,
) -> Option<&'b mut (dyn RowSink + 'b)> {
    match sink {
        Some(s) => Some(&mut **s),
        None => None,
    }
}

/// Buffers the rows.
impl RowSink for Vec<Row> {
    fn reset(&mut self) {
        self.clear();
    }

    fn row(&mut self, row: Row) {
        self.push(row);
    }
}

/// One row of a [`crate::Results`]. Values are decoded lazily, once.
///
/// Serializes (serde) as a map from column name to value.
pub struct Row {
    inner: tokio_postgres::Row,
    columns: Arc<[Column]>,
    values: OnceLock<Vec<Value>>,
}

impl Row {
    pub(crate) fn new(inner: tokio_postgres::Row, columns: Arc<[Column]>) -> Row {
        Row {
            inner,
            columns,
            values: OnceLock::new(),
        }
    }

    /// The number of columns.
    pub fn len(&self) -> usize {
        self.columns.len()
    }

    /// True when the row has no columns.
    pub fn is_empty(&self) -> bool {
        self.columns.is_empty()
    }

    /// The columns of this row.
    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    /// The value of a column converted to `T`.
    ///
    /// # Panics
    ///
    /// When the column does not exist or does not convert to `T`, like
    /// tokio-postgres' `Row::get`; use [`Row::try_get`] to get an error instead.
    #[track_caller]
    pub fn get<'a, T: FromSql<'a>, I: ColumnIndex>(&'a self, idx: I) -> T {
        match self.try_get(idx) {
            Ok(v) => v,
            Err(e) => panic!("{e}"),
        }
    }

    /// The value of a column converted to `T`, or an [`crate::ErrorKind::Interface`] error.
    pub fn try_get<'a, T: FromSql<'a>, I: ColumnIndex>(&'a self, idx: I) -> Result<T> {
        let i = idx
            .position(&self.columns)
            .ok_or_else(|| Error::interface(format!("no column {idx} in this row")))?;
        self.inner.try_get::<usize, T>(i).map_err(|e| {
            let source = std::error::Error::source(&e)
                .map(|s| format!(": {s}"))
                .unwrap_or_default();
            Error::interface(format!(
                "cannot read column \"{}\" ({}) as {}{source}",
                self.columns[i].name(),
                self.columns[i].type_name(),
                std::any::type_name::<T>()
            ))
        })
    }

    /// The dynamic value of a column, or `None` if there is no such column.
    pub fn value<I: ColumnIndex>(&self, idx: I) -> Option<&Value> {
        idx.position(&self.columns).map(|i| &self.values()[i])
    }

    /// All values, in column order.
    pub fn values(&self) -> &[Value] {
        self.values.get_or_init(|| {
            (0..self.columns.len())
                .map(|i| {
                    self.inner
                        .try_get::<usize, Value>(i)
                        .unwrap_or_else(|e| Value::Other {
                            type_name: self.columns[i].type_name().to_string(),
                            text: format!("<undecodable: {e}>"),
                        })
                })
                .collect()
        })
    }

    /// The row as a map from column name to value.
    pub fn to_map(&self) -> BTreeMap<String, Value> {
        self.columns
            .iter()
            .zip(self.values())
            .map(|(c, v)| (c.name().to_string(), v.clone()))
            .collect()
    }

    /// The row as a JSON object.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::Value::Object(
            self.columns
                .iter()
                .zip(self.values())
                .map(|(c, v)| (c.name().to_string(), v.to_json()))
                .collect(),
        )
    }
}

impl fmt::Debug for Row {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.columns.iter().map(|c| c.name()).zip(self.values()))
            .finish()
    }
}

impl serde::Serialize for Row {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(self.columns.len()))?;
        for (c, v) in self.columns.iter().zip(self.values()) {
            map.serialize_entry(c.name(), v)?;
        }
        map.end()
    }
}
