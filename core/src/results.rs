//! [`Results`]: buffered rows, the command tag, the query and column metadata.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

use serde::de::DeserializeOwned;

use crate::command_tag::command_tag;
use crate::deserialize::RowDeserializer;
use crate::error::{Error, Result};
use crate::row::{Column, Row};
use crate::value::Value;

/// The result of one statement: its rows (owned, so nothing leaks when
/// [`Results::free`] is forgotten), the command tag, the query text and columns.
///
/// Navigation follows DB-API cursors (momoko) and `queries.Results`.
///
/// ```no_run
/// # async fn demo(session: &edgepg_core::Session<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
/// let results = session.query("SELECT 1 AS value", &[]).await?;
/// assert_eq!(results.as_dict()?["value"], 1);
/// assert_eq!(results.status(), "SELECT 1");
/// # Ok(()) }
/// ```
pub struct Results {
    query: Arc<str>,
    status: std::sync::OnceLock<Cow<'static, str>>,
    columns: Arc<[Column]>,
    rows: Vec<Row>,
    affected: u64,
    position: usize,
}

impl Results {
    pub(crate) fn new(
        query: Arc<str>,
        columns: Arc<[Column]>,
        rows: Vec<Row>,
        affected: u64,
    ) -> Results {
        Results {
            query,
            status: std::sync::OnceLock::new(),
            columns,
            rows,
            affected,
            position: 0,
        }
    }

    /// The number of rows.
    ///
    /// ```no_run
    /// # async fn f(pool: edgepg_core::Pool<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
    /// let r = pool.query("SELECT generate_series(1, 3)", &[]).await?;
    /// assert_eq!(r.len(), 3);
    /// # Ok(()) }
    /// ```
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// True when there are no rows.
    ///
    /// ```no_run
    /// # async fn f(pool: edgepg_core::Pool<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
    /// let r = pool.query("SELECT 1 WHERE false", &[]).await?;
    /// assert!(r.is_empty());
    /// # Ok(()) }
    /// ```
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Iterates over all rows (independent of the cursor position).
    ///
    /// ```no_run
    /// # async fn f(pool: edgepg_core::Pool<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
    /// let r = pool.query("SELECT generate_series(1, 3) AS n", &[]).await?;
    /// assert_eq!(r.iter().map(|row| row.get::<i32, _>("n")).sum::<i32>(), 6);
    /// # Ok(()) }
    /// ```
    pub fn iter(&self) -> std::slice::Iter<'_, Row> {
        self.rows.iter()
    }

    /// The row at `i`.
    ///
    /// ```no_run
    /// # async fn f(pool: edgepg_core::Pool<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
    /// let r = pool.query("SELECT 1", &[]).await?;
    /// assert!(r.get(0).is_some());
    /// assert!(r.get(1).is_none());
    /// # Ok(()) }
    /// ```
    pub fn get(&self, i: usize) -> Option<&Row> {
        self.rows.get(i)
    }

    /// All rows.
    ///
    /// ```no_run
    /// # async fn f(pool: edgepg_core::Pool<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
    /// let r = pool.query("SELECT generate_series(1, 3)", &[]).await?;
    /// let last = r.items().last().unwrap();
    /// assert_eq!(last.get::<i32, _>(0), 3);
    /// # Ok(()) }
    /// ```
    pub fn items(&self) -> &[Row] {
        &self.rows
    }

    /// The row count (`cursor.rowcount`): the count in the command tag — rows
    /// affected by INSERT/UPDATE/DELETE/MERGE/COPY, stored by `CREATE TABLE …
    /// AS`, fetched or moved by FETCH/MOVE — or, for a command whose tag has
    /// no count (SHOW, EXPLAIN, CALL), the rows it returned.
    ///
    /// ```no_run
    /// # async fn f(pool: edgepg_core::Pool<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
    /// // Jobs 1 and 2 exist.
    /// let r = pool.query("UPDATE jobs SET done = true WHERE id = ANY($1)", &[&vec![1i32, 2]]).await?;
    /// assert_eq!((r.count(), r.len()), (2, 0));
    /// # Ok(()) }
    /// ```
    pub fn count(&self) -> u64 {
        self.affected
    }

    /// The command tag the server sent, e.g. `SELECT 3`, `INSERT 0 1`,
    /// `CREATE INDEX` or `SHOW`; empty for an empty statement.
    ///
    /// tokio-postgres keeps only the count, so the tag is rebuilt from the
    /// statement text with PostgreSQL's own rules (comments, `WITH` lists,
    /// `CREATE TABLE … AS` → `SELECT n`, `END` → `COMMIT`, …), when first
    /// asked for. The text cannot tell everything: `EXECUTE name` reads
    /// `SELECT n` when it returns columns, else `EXECUTE n`; `COMMIT` in a
    /// failed transaction reads `COMMIT` (the server says `ROLLBACK`).
    ///
    /// ```no_run
    /// # async fn f(pool: edgepg_core::Pool<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
    /// let r = pool.query("INSERT INTO jobs (id) VALUES (3)", &[]).await?;
    /// assert_eq!(r.status(), "INSERT 0 1");
    /// let r = pool.query("SHOW TimeZone", &[]).await?;
    /// assert_eq!((r.status(), r.count(), r.len()), ("SHOW", 1, 1));
    /// # Ok(()) }
    /// ```
    pub fn status(&self) -> &str {
        self.status
            .get_or_init(|| command_tag(&self.query, self.affected, !self.columns.is_empty()))
    }

    /// Sets the command tag where the server's differs from what the SQL text says.
    pub(crate) fn set_status(&self, tag: &'static str) {
        let _ = self.status.set(Cow::Borrowed(tag));
    }

    /// The SQL text that produced these results.
    ///
    /// ```no_run
    /// # async fn f(pool: edgepg_core::Pool<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
    /// let r = pool.query("SELECT $1::int", &[&1i32]).await?;
    /// assert_eq!(r.query(), "SELECT $1::int");
    /// # Ok(()) }
    /// ```
    pub fn query(&self) -> &str {
        &self.query
    }

    /// The result columns.
    ///
    /// ```no_run
    /// # async fn f(pool: edgepg_core::Pool<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
    /// let r = pool.query("SELECT 1 AS a, 'x'::text AS b", &[]).await?;
    /// let names: Vec<&str> = r.columns().iter().map(|c| c.name()).collect();
    /// assert_eq!(names, ["a", "b"]);
    /// # Ok(()) }
    /// ```
    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    /// The result columns, shared: results of one prepared statement (on one
    /// connection) share them, so `Arc::ptr_eq` tells shapes apart cheaply.
    ///
    /// ```no_run
    /// # async fn f(pool: edgepg_core::Pool<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
    /// let mut conn = pool.getconn().await?;
    /// let a = conn.query("SELECT 1 AS n", &[]).await?;
    /// let b = conn.query("SELECT 1 AS n", &[]).await?;
    /// assert!(std::sync::Arc::ptr_eq(a.shared_columns(), b.shared_columns()));
    /// # Ok(()) }
    /// ```
    pub fn shared_columns(&self) -> &Arc<[Column]> {
        &self.columns
    }

    /// `queries`' `as_dict`: `{}` for no rows, the row for one, an error for more.
    ///
    /// ```no_run
    /// # async fn f(pool: edgepg_core::Pool<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
    /// assert!(pool.query("SELECT 1 WHERE false", &[]).await?.as_dict()?.is_empty());
    /// assert!(pool.query("SELECT generate_series(1, 2)", &[]).await?.as_dict().is_err());
    /// # Ok(()) }
    /// ```
    pub fn as_dict(&self) -> Result<BTreeMap<String, Value>> {
        match self.rows.len() {
            0 => Ok(BTreeMap::new()),
            1 => Ok(self.rows[0].to_map()),
            n => Err(Error::interface(format!(
                "as_dict() needs at most one row, but the results have {n}"
            ))),
        }
    }

    /// The next row, advancing the cursor.
    ///
    /// ```no_run
    /// # async fn f(pool: edgepg_core::Pool<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
    /// let mut r = pool.query("SELECT generate_series(1, 2)", &[]).await?;
    /// assert_eq!(r.fetchone().map(|row| row.get::<i32, _>(0)), Some(1));
    /// assert_eq!(r.fetchone().map(|row| row.get::<i32, _>(0)), Some(2));
    /// assert!(r.fetchone().is_none());
    /// # Ok(()) }
    /// ```
    pub fn fetchone(&mut self) -> Option<&Row> {
        let row = self.rows.get(self.position)?;
        self.position += 1;
        Some(row)
    }

    /// Up to `n` next rows, advancing the cursor.
    ///
    /// ```no_run
    /// # async fn f(pool: edgepg_core::Pool<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
    /// let mut r = pool.query("SELECT generate_series(1, 5)", &[]).await?;
    /// assert_eq!(r.fetchmany(2).len(), 2);
    /// assert_eq!(r.fetchmany(10).len(), 3);
    /// # Ok(()) }
    /// ```
    pub fn fetchmany(&mut self, n: usize) -> &[Row] {
        let start = self.position.min(self.rows.len());
        let end = start.saturating_add(n).min(self.rows.len());
        self.position = end;
        &self.rows[start..end]
    }

    /// All remaining rows, moving the cursor to the end.
    ///
    /// ```no_run
    /// # async fn f(pool: edgepg_core::Pool<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
    /// let mut r = pool.query("SELECT generate_series(1, 3)", &[]).await?;
    /// r.fetchone();
    /// assert_eq!(r.fetchall().len(), 2);
    /// assert!(r.fetchall().is_empty());
    /// # Ok(()) }
    /// ```
    pub fn fetchall(&mut self) -> &[Row] {
        let start = self.position.min(self.rows.len());
        self.position = self.rows.len();
        &self.rows[start..]
    }

    /// The 0-based index of the next row `fetchone` returns.
    ///
    /// ```no_run
    /// # async fn f(pool: edgepg_core::Pool<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
    /// let mut r = pool.query("SELECT generate_series(1, 3)", &[]).await?;
    /// r.fetchmany(2);
    /// assert_eq!(r.rownumber(), 2);
    /// # Ok(()) }
    /// ```
    pub fn rownumber(&self) -> usize {
        self.position
    }

    /// Moves the cursor by `offset` rows (DB-API `scroll(value, mode='relative')`).
    ///
    /// ```no_run
    /// # async fn f(pool: edgepg_core::Pool<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
    /// let mut r = pool.query("SELECT generate_series(1, 3)", &[]).await?;
    /// r.scroll(2)?;
    /// assert_eq!(r.fetchone().map(|row| row.get::<i32, _>(0)), Some(3));
    /// assert!(r.scroll(-5).is_err());
    /// # Ok(()) }
    /// ```
    pub fn scroll(&mut self, offset: isize) -> Result<()> {
        let target = self.position as isize + offset;
        self.scroll_to(
            usize::try_from(target).map_err(|_| Error::interface("scroll before the first row"))?,
        )
    }

    /// Moves the cursor to `index` (DB-API `scroll(value, mode='absolute')`).
    ///
    /// ```no_run
    /// # async fn f(pool: edgepg_core::Pool<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
    /// let mut r = pool.query("SELECT generate_series(1, 3)", &[]).await?;
    /// r.scroll_to(1)?;
    /// assert_eq!(r.fetchone().map(|row| row.get::<i32, _>(0)), Some(2));
    /// assert!(r.scroll_to(4).is_err());
    /// # Ok(()) }
    /// ```
    pub fn scroll_to(&mut self, index: usize) -> Result<()> {
        if index > self.rows.len() {
            return Err(Error::interface(format!(
                "scroll to row {index} is out of range: there are {} rows",
                self.rows.len()
            )));
        }
        self.position = index;
        Ok(())
    }

    /// Every row deserialized into `T` (serde): a struct or map by column
    /// name, a tuple by position. Values follow the field types: `numeric`
    /// into `f64` or `String`, `bytea` into `Vec<u8>`, json into any type,
    /// text into a unit enum variant, NULL into `None`.
    ///
    /// ```no_run
    /// # async fn f(pool: edgepg_core::Pool<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
    /// #[derive(serde::Deserialize)]
    /// struct User { id: i64, name: String }
    /// let users: Vec<User> = pool.query("SELECT 1 AS id, 'ann'::text AS name", &[]).await?.deserialize()?;
    /// assert_eq!((users[0].id, users[0].name.as_str()), (1, "ann"));
    /// # Ok(()) }
    /// ```
    pub fn deserialize<T: DeserializeOwned>(&self) -> Result<Vec<T>> {
        self.rows
            .iter()
            .map(|row| {
                T::deserialize(RowDeserializer(row))
                    .map_err(|e| Error::interface(format!("cannot deserialize a row: {e}")))
            })
            .collect()
    }

    /// Releases the rows now (parity with `queries`; dropping does the same).
    ///
    /// ```no_run
    /// # async fn f(pool: edgepg_core::Pool<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
    /// let r = pool.query("SELECT generate_series(1, 100000)", &[]).await?;
    /// assert_eq!(r.len(), 100_000);
    /// r.free();
    /// # Ok(()) }
    /// ```
    pub fn free(self) {}
}

impl std::ops::Index<usize> for Results {
    type Output = Row;
    fn index(&self, i: usize) -> &Row {
        &self.rows[i]
    }
}

impl<'a> IntoIterator for &'a Results {
    type Item = &'a Row;
    type IntoIter = std::slice::Iter<'a, Row>;
    fn into_iter(self) -> Self::IntoIter {
        self.rows.iter()
    }
}

impl IntoIterator for Results {
    type Item = Row;
    type IntoIter = std::vec::IntoIter<Row>;
    fn into_iter(self) -> Self::IntoIter {
        self.rows.into_iter()
    }
}

impl std::fmt::Debug for Results {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Results")
            .field("status", &self.status())
            .field("rows", &self.rows)
            .finish()
    }
}
