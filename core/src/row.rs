//! [`Row`]: one result row, with typed and dynamic access, and the
//! [`Column`]s it shares with its [`Results`](crate::Results).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, OnceLock};

use postgres_types::FromSql;

use crate::error::{Error, Result};
use crate::value::Value;

/// Name and type of a result column.
///
/// ```no_run
/// # async fn f(pool: edgepg_core::Pool<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
/// let r = pool.query("SELECT 1::int8 AS n", &[]).await?;
/// let c = &r.columns()[0];
/// assert_eq!((c.name(), c.type_name(), c.type_oid()), ("n", "int8", 20));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    name: String,
    type_name: String,
    type_oid: u32,
    table_oid: Option<u32>,
    column_id: Option<i16>,
    type_modifier: i32,
}

impl Column {
    pub(crate) fn from_pg(c: &tokio_postgres::Column) -> Column {
        Column {
            name: c.name().to_string(),
            type_name: c.type_().name().to_string(),
            type_oid: c.type_().oid(),
            table_oid: c.table_oid(),
            column_id: c.column_id(),
            type_modifier: c.type_modifier(),
        }
    }

    /// The column name (its alias, if any).
    ///
    /// ```no_run
    /// # async fn f(pool: edgepg_core::Pool<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
    /// let r = pool.query("SELECT count(*) FROM pg_class", &[]).await?;
    /// assert_eq!(r.columns()[0].name(), "count");
    /// # Ok(()) }
    /// ```
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The type name (`int4`, `text`, `_int4` for arrays, …).
    ///
    /// ```no_run
    /// # async fn f(pool: edgepg_core::Pool<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
    /// let r = pool.query("SELECT ARRAY[1, 2]", &[]).await?;
    /// assert_eq!(r.columns()[0].type_name(), "_int4");
    /// # Ok(()) }
    /// ```
    pub fn type_name(&self) -> &str {
        &self.type_name
    }

    /// The type OID.
    ///
    /// ```no_run
    /// # async fn f(pool: edgepg_core::Pool<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
    /// use edgepg_core::Type;
    /// let r = pool.query("SELECT 'x'::text", &[]).await?;
    /// assert_eq!(r.columns()[0].type_oid(), Type::TEXT.oid());
    /// # Ok(()) }
    /// ```
    pub fn type_oid(&self) -> u32 {
        self.type_oid
    }

    /// The OID of the table the column comes from, if it is a plain table column.
    ///
    /// ```no_run
    /// # async fn f(pool: edgepg_core::Pool<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
    /// let r = pool.query("SELECT relname, 1 AS one FROM pg_class LIMIT 1", &[]).await?;
    /// assert_eq!(r.columns()[0].table_oid(), Some(1259)); // pg_class
    /// assert_eq!(r.columns()[1].table_oid(), None);
    /// # Ok(()) }
    /// ```
    pub fn table_oid(&self) -> Option<u32> {
        self.table_oid
    }

    /// The column's attribute number in its table (`pg_attribute.attnum`), if it is a table column.
    ///
    /// ```no_run
    /// # async fn f(pool: edgepg_core::Pool<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
    /// let r = pool.query("SELECT oid, relname FROM pg_class LIMIT 1", &[]).await?;
    /// assert_eq!(r.columns()[1].column_id(), Some(2));
    /// # Ok(()) }
    /// ```
    pub fn column_id(&self) -> Option<i16> {
        self.column_id
    }

    /// The type modifier (`atttypmod`): `varchar(10)` is 14, `numeric(10, 2)`
    /// is 655366; -1 when the type has none.
    ///
    /// ```no_run
    /// # async fn f(pool: edgepg_core::Pool<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
    /// let r = pool.query("SELECT 'x'::varchar(10) AS v, 1 AS n", &[]).await?;
    /// assert_eq!((r.columns()[0].type_modifier(), r.columns()[1].type_modifier()), (14, -1));
    /// # Ok(()) }
    /// ```
    pub fn type_modifier(&self) -> i32 {
        self.type_modifier
    }
}

mod sealed {
    pub trait Sealed {}
}

/// A column position or name (`usize`, `&str`, `String`).
///
/// ```no_run
/// # async fn f(pool: edgepg_core::Pool<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
/// let r = pool.query("SELECT 1 AS one, 2 AS two", &[]).await?;
/// let name = String::from("two");
/// assert_eq!(r[0].get::<i32, _>(1), r[0].get::<i32, _>(name));
/// # Ok(()) }
/// ```
pub trait ColumnIndex: sealed::Sealed + fmt::Display {
    /// The position of this column in `columns`, if it exists.
    ///
    /// ```no_run
    /// # async fn f(pool: edgepg_core::Pool<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
    /// use edgepg_core::ColumnIndex;
    /// let r = pool.query("SELECT 1 AS one, 2 AS two", &[]).await?;
    /// assert_eq!("two".position(r.columns()), Some(1));
    /// assert_eq!(5usize.position(r.columns()), None);
    /// # Ok(()) }
    /// ```
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
///
/// ```no_run
/// # async fn f(pool: edgepg_core::Pool<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
/// let r = pool.query("SELECT 1 AS id, 'ann'::text AS name", &[]).await?;
/// let row = &r[0];
/// assert_eq!(row.get::<&str, _>("name"), "ann");
/// assert_eq!(serde_json::to_string(row).unwrap(), r#"{"id":1,"name":"ann"}"#);
/// # Ok(()) }
/// ```
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
    ///
    /// ```no_run
    /// # async fn f(pool: edgepg_core::Pool<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
    /// let r = pool.query("SELECT 1 AS a, 2 AS b", &[]).await?;
    /// assert_eq!(r[0].len(), 2);
    /// # Ok(()) }
    /// ```
    pub fn len(&self) -> usize {
        self.columns.len()
    }

    /// True when the row has no columns.
    ///
    /// ```no_run
    /// # async fn f(pool: edgepg_core::Pool<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
    /// let r = pool.query("SELECT", &[]).await?;
    /// assert!(r[0].is_empty());
    /// # Ok(()) }
    /// ```
    pub fn is_empty(&self) -> bool {
        self.columns.is_empty()
    }

    /// The columns of this row.
    ///
    /// ```no_run
    /// # async fn f(pool: edgepg_core::Pool<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
    /// let r = pool.query("SELECT 1 AS one", &[]).await?;
    /// assert_eq!(r[0].columns()[0].name(), "one");
    /// # Ok(()) }
    /// ```
    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    /// The value of a column converted to `T`.
    ///
    /// # Panics
    ///
    /// When the column does not exist or does not convert to `T`, like
    /// tokio-postgres' `Row::get`; use [`Row::try_get`] to get an error instead.
    ///
    /// ```no_run
    /// # async fn f(pool: edgepg_core::Pool<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
    /// let r = pool.query("SELECT 1 AS one, NULL::text AS nothing", &[]).await?;
    /// assert_eq!(r[0].get::<i32, _>("one"), 1);
    /// assert_eq!(r[0].get::<Option<&str>, _>(1), None);
    /// # Ok(()) }
    /// ```
    #[track_caller]
    pub fn get<'a, T: FromSql<'a>, I: ColumnIndex>(&'a self, idx: I) -> T {
        match self.try_get(idx) {
            Ok(v) => v,
            Err(e) => panic!("{e}"),
        }
    }

    /// The value of a column converted to `T`, or an [`crate::ErrorKind::Interface`] error.
    ///
    /// ```no_run
    /// # async fn f(pool: edgepg_core::Pool<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
    /// use edgepg_core::ErrorKind;
    /// let r = pool.query("SELECT 'x'::text AS t", &[]).await?;
    /// assert_eq!(r[0].try_get::<i32, _>("t").unwrap_err().kind(), ErrorKind::Interface);
    /// assert!(r[0].try_get::<&str, _>("missing").is_err());
    /// # Ok(()) }
    /// ```
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

    /// The value of a column as PostgreSQL's output function prints it (what a
    /// text-format query returns: `t`, `{1,2}`, `\\x0102`, jsonb's own
    /// spacing), or `None` for NULL. timestamptz values print in UTC (`+00`),
    /// whatever the session's time zone.
    ///
    /// ```no_run
    /// # async fn f(pool: edgepg_core::Pool<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
    /// let r = pool.query("SELECT true, ARRAY['a b', NULL], NULL::int", &[]).await?;
    /// assert_eq!(r[0].text(0)?.as_deref(), Some("t"));
    /// assert_eq!(r[0].text(1)?.as_deref(), Some(r#"{"a b",NULL}"#));
    /// assert_eq!(r[0].text(2)?, None);
    /// # Ok(()) }
    /// ```
    pub fn text<I: ColumnIndex>(&self, idx: I) -> Result<Option<String>> {
        Ok(self.try_get::<Option<TextOutput>, I>(idx)?.map(|t| t.0))
    }

    /// The dynamic value of a column, or `None` if there is no such column.
    ///
    /// ```no_run
    /// # async fn f(pool: edgepg_core::Pool<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
    /// use edgepg_core::Value;
    /// let r = pool.query("SELECT 2.50::numeric AS price", &[]).await?;
    /// assert_eq!(r[0].value("price"), Some(&Value::Numeric("2.50".into())));
    /// assert_eq!(r[0].value("missing"), None);
    /// # Ok(()) }
    /// ```
    pub fn value<I: ColumnIndex>(&self, idx: I) -> Option<&Value> {
        idx.position(&self.columns).map(|i| &self.values()[i])
    }

    /// All values, in column order.
    ///
    /// ```no_run
    /// # async fn f(pool: edgepg_core::Pool<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
    /// use edgepg_core::Value;
    /// let r = pool.query("SELECT 1 AS a, NULL::text AS b", &[]).await?;
    /// assert_eq!(r[0].values(), [Value::Int(1), Value::Null]);
    /// # Ok(()) }
    /// ```
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
    ///
    /// ```no_run
    /// # async fn f(pool: edgepg_core::Pool<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
    /// let r = pool.query("SELECT 1 AS id, true AS active", &[]).await?;
    /// let map = r[0].to_map();
    /// assert_eq!((map["id"].as_i64(), map["active"].as_bool()), (Some(1), Some(true)));
    /// # Ok(()) }
    /// ```
    pub fn to_map(&self) -> BTreeMap<String, Value> {
        self.columns
            .iter()
            .zip(self.values())
            .map(|(c, v)| (c.name().to_string(), v.clone()))
            .collect()
    }

    /// The row as a JSON object.
    ///
    /// ```no_run
    /// # async fn f(pool: edgepg_core::Pool<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
    /// let r = pool.query("SELECT 1 AS id, '\\x01'::bytea AS raw", &[]).await?;
    /// assert_eq!(r[0].to_json(), serde_json::json!({"id": 1, "raw": "\\x01"}));
    /// # Ok(()) }
    /// ```
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

/// A value read as its text output ([`Row::text`]).
struct TextOutput(String);

impl<'a> FromSql<'a> for TextOutput {
    fn from_sql(
        ty: &postgres_types::Type,
        raw: &'a [u8],
    ) -> std::result::Result<TextOutput, Box<dyn std::error::Error + Sync + Send>> {
        crate::value::text_form::text_output(ty, raw).map(TextOutput)
    }

    fn accepts(_: &postgres_types::Type) -> bool {
        true
    }
}
