//! Running statements through the pool: query, execute, callproc and
//! momoko's `transaction`, with the retry rule (§4 rule 6).

use std::collections::VecDeque;
use std::sync::Mutex;

use tokio_postgres::types::{Kind, ToSql, Type};

use crate::connection::Connection;
use crate::error::{Error, ErrorKind, Result};
use crate::pool::{Pool, PooledConnection};
use crate::results::Results;
use crate::row::{reborrow, RowSink};
use crate::transaction::Transaction;
use crate::transport::Transport;
use crate::value::Value;

/// One statement of [`Pool::transaction`]: SQL text, optionally with parameters.
///
/// ```
/// use edgepg_core::{Statement, Value};
/// let plain: Statement = "DELETE FROM jobs".into();
/// let bound: Statement = ("INSERT INTO jobs VALUES ($1)", vec![Value::from(7)]).into();
/// assert_eq!(bound.params().len(), 1);
/// # let _ = plain;
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    sql: String,
    params: Vec<Value>,
}

impl Statement {
    /// A statement with parameters.
    ///
    /// ```
    /// use edgepg_core::{Statement, Value};
    /// let s = Statement::new("UPDATE jobs SET state = $1", vec![Value::from("done")]);
    /// assert_eq!(s, Statement::from(("UPDATE jobs SET state = $1", vec![Value::from("done")])));
    /// ```
    pub fn new(sql: impl Into<String>, params: Vec<Value>) -> Statement {
        Statement {
            sql: sql.into(),
            params,
        }
    }

    /// The SQL text.
    ///
    /// ```
    /// use edgepg_core::Statement;
    /// assert_eq!(Statement::from("SELECT 1").sql(), "SELECT 1");
    /// ```
    pub fn sql(&self) -> &str {
        &self.sql
    }

    /// The parameters.
    ///
    /// ```
    /// use edgepg_core::{Statement, Value};
    /// let s = Statement::new("SELECT $1", vec![Value::from(7)]);
    /// assert_eq!(s.params(), [Value::Int(7)]);
    /// assert!(Statement::from("SELECT 1").params().is_empty());
    /// ```
    pub fn params(&self) -> &[Value] {
        &self.params
    }

    fn param_refs(&self) -> Vec<&(dyn ToSql + Sync)> {
        self.params
            .iter()
            .map(|v| v as &(dyn ToSql + Sync))
            .collect()
    }
}

impl From<&str> for Statement {
    fn from(sql: &str) -> Statement {
        Statement::new(sql, Vec::new())
    }
}

impl From<String> for Statement {
    fn from(sql: String) -> Statement {
        Statement::new(sql, Vec::new())
    }
}

impl<S: Into<String>> From<(S, Vec<Value>)> for Statement {
    fn from((sql, params): (S, Vec<Value>)) -> Statement {
        Statement::new(sql, params)
    }
}

impl<S: Into<String>> From<(S, &[Value])> for Statement {
    fn from((sql, params): (S, &[Value])) -> Statement {
        Statement::new(sql, params.to_vec())
    }
}

impl<S: Into<String>, const N: usize> From<(S, [Value; N])> for Statement {
    fn from((sql, params): (S, [Value; N])) -> Statement {
        Statement::new(sql, params.into())
    }
}

/// Where a Session collects the notices of the connections it used.
pub(crate) type NoticeSink = Mutex<VecDeque<String>>;

pub(crate) fn collect_notices(sink: Option<&NoticeSink>, conn: &Connection) {
    if let Some(sink) = sink {
        let fresh = conn.take_notices();
        if !fresh.is_empty() {
            let mut ring = sink.lock().unwrap_or_else(|p| p.into_inner());
            for n in fresh {
                if ring.len() == 50 {
                    ring.pop_front();
                }
                ring.push_back(format!("{}: {}", n.severity, n.message));
            }
        }
    }
}

/// The server is ending this backend (admin command, shutdown, crash recovery):
/// whatever statement it was handed did not commit.
fn is_terminating(e: &Error) -> bool {
    is_fatal(e) && matches!(e.code(), Some("57P01" | "57P02" | "57P03"))
}

/// The server ends the backend after this error (`RAISE … USING ERRCODE`
/// can produce any code, but only at ERROR severity).
fn is_fatal(e: &Error) -> bool {
    e.db_error()
        .is_some_and(|db| matches!(db.severity.as_str(), "FATAL" | "PANIC"))
}

pub(crate) fn query_timed_out(limit: std::time::Duration) -> Error {
    Error::new(
        ErrorKind::QueryCanceled,
        format!("the statement did not finish within {limit:?} and was cancelled"),
    )
}

/// `sql` split before its last statement when it is a script of several
/// statements without parameters, which the extended protocol refuses.
pub(crate) fn script_parts<'a>(
    sql: &'a str,
    types: Option<&[Type]>,
    params: &[&(dyn ToSql + Sync)],
) -> Option<(&'a str, &'a str)> {
    if !params.is_empty() || types.is_some() || !sql.contains(';') {
        return None;
    }
    crate::sql_text::split_last_statement(sql)
}

/// Rule 6: retry only when the statement cannot have taken effect.
fn retryable(e: &Error, conn: &Connection, sent: bool) -> bool {
    let lost = conn.is_closed() || e.kind() == ErrorKind::ConnectionLost;
    let dead_before_send = lost && (!sent || conn.terminated_by_server());
    dead_before_send || is_terminating(e)
}

/// Rule 6: a broken connection under a statement that may have run is `ConnectionLost`.
pub(crate) fn lost(e: Error) -> Error {
    let broken = e.kind() == ErrorKind::ConnectionLost
        || is_terminating(&e)
        || (is_fatal(&e) && e.code().is_some_and(|c| c.starts_with("08")));
    if broken && e.kind() != ErrorKind::ConnectionLost {
        Error::with_source(
            ErrorKind::ConnectionLost,
            format!(
                "the connection was lost and the statement was not retried: {}",
                e.message()
            ),
            e,
        )
    } else {
        e
    }
}

impl<T: Transport> Pool<T> {
    /// Runs a statement and buffers its rows.
    ///
    /// Without parameters, `sql` may be a script of several statements: they
    /// run on one connection, all or nothing (unless the script controls
    /// transactions itself), and the results are the last statement's, as
    /// with psycopg2.
    ///
    /// ```no_run
    /// # async fn f(pool: edgepg_core::Pool<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
    /// let rows = pool.query("SELECT $1::int + 1 AS n", &[&41i32]).await?;
    /// assert_eq!(rows[0].get::<i32, _>("n"), 42);
    /// let rows = pool.query("CREATE TEMP TABLE t (n int); INSERT INTO t VALUES (7); TABLE t", &[]).await?;
    /// assert_eq!(rows[0].get::<i32, _>("n"), 7);
    /// # Ok(()) }
    /// ```
    pub async fn query(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Results> {
        self.query_noting(None, sql, params).await
    }

    pub(crate) async fn query_noting(
        &self,
        sink: Option<&NoticeSink>,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Results> {
        self.run_statement(sink, sql, None, params, None)
            .await
            .map(|(r, _)| r)
    }

    /// Runs a statement and hands its rows to `rows` as they arrive (a
    /// retried statement calls [`RowSink::reset`] first); the [`Results`]
    /// carry the command tag, count and columns, and no rows.
    ///
    /// ```no_run
    /// # async fn f(pool: edgepg_core::Pool<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
    /// let mut rows = Vec::new();
    /// let results = pool.query_into("SELECT generate_series(1, 3)", &[], &mut rows).await?;
    /// assert_eq!((rows.len(), results.len(), results.count()), (3, 0, 3));
    /// # Ok(()) }
    /// ```
    pub async fn query_into(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
        rows: &mut dyn RowSink,
    ) -> Result<Results> {
        self.run_statement(None, sql, None, params, Some(rows))
            .await
            .map(|(r, _)| r)
    }

    /// Runs a script of statements without parameters on one connection and
    /// returns the results of each (see [`PooledConnection::query_script`]).
    ///
    /// ```no_run
    /// # async fn f(pool: edgepg_core::Pool<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
    /// let all = pool.query_script("CREATE TEMP TABLE t (n int); INSERT INTO t VALUES (1); SELECT n FROM t").await?;
    /// assert_eq!(all.iter().map(|r| r.status()).collect::<Vec<_>>(), ["CREATE TABLE", "INSERT 0 1", "SELECT 1"]);
    /// # Ok(()) }
    /// ```
    pub async fn query_script(&self, sql: &str) -> Result<Vec<Results>> {
        self.getconn().await?.query_script(sql).await
    }

    /// Runs a statement and returns the number of rows it affected.
    ///
    /// ```no_run
    /// # async fn f(pool: edgepg_core::Pool<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
    /// let n = pool.execute("UPDATE jobs SET state = 'done' WHERE id = $1", &[&7i32]).await?;
    /// assert!(n <= 1);
    /// # Ok(()) }
    /// ```
    pub async fn execute(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64> {
        self.execute_noting(None, sql, params).await
    }

    pub(crate) async fn execute_noting(
        &self,
        sink: Option<&NoticeSink>,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<u64> {
        self.run_statement(sink, sql, None, params, None)
            .await
            .map(|(_, n)| n)
    }

    /// Calls a function: `SELECT * FROM name($1, …)`, the name quoted as a
    /// (possibly schema-qualified) identifier. Parameter types are taken from
    /// the Rust values, so overloaded functions such as `mod` resolve.
    ///
    /// ```no_run
    /// # async fn f(pool: edgepg_core::Pool<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
    /// let r = pool.callproc("mod", &[&6i32, &4i32]).await?;
    /// assert_eq!(r[0].get::<i32, _>(0), 2);
    /// # Ok(()) }
    /// ```
    pub async fn callproc(&self, name: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Results> {
        self.callproc_noting(None, name, params).await
    }

    pub(crate) async fn callproc_noting(
        &self,
        sink: Option<&NoticeSink>,
        name: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Results> {
        let sql = callproc_sql(name, params.len())?;
        let types: Vec<Type> = params.iter().map(|p| probe_type(*p)).collect();
        self.run_statement(sink, &sql, Some(&types), params, None)
            .await
            .map(|(r, _)| r)
    }

    /// Runs one independent statement (possibly pipelined), with the query timeout
    /// and the retry rule (rule 6).
    async fn run_statement(
        &self,
        sink: Option<&NoticeSink>,
        sql: &str,
        types: Option<&[Type]>,
        params: &[&(dyn ToSql + Sync)],
        mut rows: Option<&mut (dyn RowSink + '_)>,
    ) -> Result<(Results, u64)> {
        if let Some((prefix, last)) = script_parts(sql, types, params) {
            // Boxed: scripts are rare and this future is on the hot path.
            return Box::pin(self.run_script(sink, prefix, last, rows)).await;
        }
        let inner = &self.inner;
        let mut retried = false;
        loop {
            let lease = inner
                .lease(retried || inner.options.ping_on_checkout)
                .await?;
            let mut sent = false;
            let (result, completed) = match inner.options.query_timeout {
                // On timeout the statement future is dropped and the lease left
                // unfinished: the pool cancels it on the server before reuse (rule 10).
                // (Boxed, so that this future stays small when there is no timeout.)
                Some(limit) => {
                    let work = Box::pin(lease.conn().run(
                        sql,
                        types,
                        params,
                        &mut sent,
                        reborrow(&mut rows),
                    ));
                    match crate::runtime::timeout(&inner.rt, limit, work).await {
                        Some(r) => (r, true),
                        None => (Err(query_timed_out(limit)), false),
                    }
                }
                None => (
                    lease
                        .conn()
                        .run(sql, types, params, &mut sent, reborrow(&mut rows))
                        .await,
                    true,
                ),
            };
            collect_notices(sink, lease.conn());
            let again = match &result {
                Err(e) => completed && !retried && retryable(e, lease.conn(), sent),
                Ok(_) => false,
            };
            if completed {
                lease.finish();
            }
            if again {
                retried = true;
                inner.lock().counters_retry();
                continue;
            }
            return result.map_err(lost);
        }
    }

    /// A script of several statements without parameters, as the simple query
    /// protocol runs it for psycopg2 and node-postgres: on one connection, all
    /// but the last statement in one round trip, then the last one, whose
    /// results are returned.
    async fn run_script(
        &self,
        sink: Option<&NoticeSink>,
        prefix: &str,
        last: &str,
        rows: Option<&mut (dyn RowSink + '_)>,
    ) -> Result<(Results, u64)> {
        let mut conn = self.getconn().await?;
        let result = conn.script(prefix, last, rows).await;
        collect_notices(sink, conn.conn());
        result
    }

    /// `sql` with its parameters interpolated as literals, exactly as the server
    /// would read the bound parameters (see [`crate::mogrify()`]). No I/O.
    ///
    /// ```no_run
    /// # fn f(pool: edgepg_core::Pool<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
    /// let sql = pool.mogrify("SELECT * FROM users WHERE name = $1", &[&"O'Brien"])?;
    /// assert_eq!(sql, "SELECT * FROM users WHERE name = 'O''Brien'");
    /// # Ok(()) }
    /// ```
    pub fn mogrify(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<String> {
        crate::mogrify::mogrify(sql, params)
    }

    /// momoko's `transaction`: BEGIN, every statement in order on one connection,
    /// COMMIT. On error it rolls back and returns the original error.
    ///
    /// Statements are SQL strings, `(sql, params)` pairs with [`Value`]
    /// parameters, or [`Statement`]s (to mix the two).
    ///
    /// ```no_run
    /// # async fn f(pool: edgepg_core::Pool<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
    /// use edgepg_core::{Statement, Value};
    /// pool.transaction(["DELETE FROM t", "INSERT INTO t VALUES (0)"]).await?;
    /// pool.transaction([("INSERT INTO t VALUES ($1)", vec![Value::from(1)])]).await?;
    /// let results = pool
    ///     .transaction([
    ///         Statement::from(("INSERT INTO t VALUES ($1)", vec![Value::from(2)])),
    ///         Statement::from("SELECT count(*) FROM t"),
    ///     ])
    ///     .await?;
    /// assert_eq!(results.len(), 2);
    /// # Ok(()) }
    /// ```
    pub async fn transaction<I>(&self, statements: I) -> Result<Vec<Results>>
    where
        I: IntoIterator,
        I::Item: Into<Statement>,
    {
        self.transaction_noting(None, statements.into_iter().map(Into::into).collect())
            .await
    }

    pub(crate) async fn transaction_noting(
        &self,
        sink: Option<&NoticeSink>,
        statements: Vec<Statement>,
    ) -> Result<Vec<Results>> {
        let mut guard = self.begin_guard(sink, "BEGIN").await?;
        let conn = guard.conn();
        let mut results = Vec::with_capacity(statements.len());
        for statement in &statements {
            match conn
                .exclusive(statement.sql(), &statement.param_refs(), None)
                .await
            {
                Ok((r, _)) => results.push(r),
                Err(e) => {
                    let _ = conn.batch("ROLLBACK").await;
                    collect_notices(sink, conn);
                    return Err(lost(e));
                }
            }
        }
        let committed = conn.batch("COMMIT").await;
        collect_notices(sink, conn);
        committed.map_err(lost)?;
        Ok(results)
    }

    /// Starts a transaction on one connection; it rolls back if dropped uncommitted.
    ///
    /// ```no_run
    /// # async fn f(pool: edgepg_core::Pool<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
    /// let mut tx = pool.begin().await?;
    /// tx.execute("UPDATE accounts SET balance = balance - 10 WHERE id = $1", &[&1i32]).await?;
    /// tx.commit().await?;
    /// # Ok(()) }
    /// ```
    pub async fn begin(&self) -> Result<Transaction<T>> {
        Ok(Transaction::new(self.begin_guard(None, "BEGIN").await?))
    }

    /// Starts a transaction with an isolation level, read-only or deferrable mode.
    ///
    /// ```no_run
    /// # async fn f(pool: edgepg_core::Pool<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
    /// use edgepg_core::{IsolationLevel, TransactionOptions};
    /// let opts = TransactionOptions::new().isolation(IsolationLevel::Serializable).read_only(true);
    /// let mut tx = pool.begin_with(opts).await?;
    /// tx.query("SELECT 1", &[]).await?;
    /// tx.commit().await?;
    /// # Ok(()) }
    /// ```
    pub async fn begin_with(
        &self,
        options: crate::transaction::TransactionOptions,
    ) -> Result<Transaction<T>> {
        Ok(Transaction::new(
            self.begin_guard(None, &options.begin_sql()).await?,
        ))
    }

    /// A connection with BEGIN run on it (for cursors).
    pub(crate) async fn begin_connection(&self) -> Result<PooledConnection<T>> {
        self.begin_guard(None, "BEGIN").await
    }

    /// Checks out a connection and runs BEGIN on it, retrying once on a fresh
    /// connection if the first was dead (nothing has run yet, so this is safe).
    async fn begin_guard(
        &self,
        sink: Option<&NoticeSink>,
        begin: &str,
    ) -> Result<PooledConnection<T>> {
        let mut retried = false;
        loop {
            let mut guard = self
                .inner
                .acquire_pinging(retried || self.inner.options.ping_on_checkout)
                .await?;
            let conn = guard.conn();
            // A drop mid-BEGIN leaves the connection marked in a transaction (rule 10).
            match conn.batch(begin).await {
                Ok(()) => {
                    collect_notices(sink, conn);
                    return Ok(guard);
                }
                Err(e)
                    if !retried
                        && (conn.is_closed()
                            || e.kind() == ErrorKind::ConnectionLost
                            || is_terminating(&e)) =>
                {
                    retried = true;
                    self.inner.lock().counters_retry();
                }
                Err(e) => return Err(lost(e)),
            }
        }
    }
}

impl crate::pool::State {
    pub(crate) fn counters_retry(&mut self) {
        self.counters_mut().retries += 1;
    }
}

/// Quotes a function name, keeping schema qualification and already-quoted parts.
pub(crate) fn quote_qualified(name: &str) -> Result<String> {
    if name.trim().is_empty() {
        return Err(Error::interface("function name is empty"));
    }
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut in_quotes = false;
    let mut chars = name.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if in_quotes && chars.peek() == Some(&'"') => {
                current.push_str("\"\"");
                chars.next();
            }
            '"' => {
                in_quotes = !in_quotes;
                current.push('"');
            }
            '.' if !in_quotes => parts.push(std::mem::take(&mut current)),
            '\0' => return Err(Error::interface("function name contains a NUL byte")),
            c => current.push(c),
        }
    }
    if in_quotes {
        return Err(Error::interface(format!(
            "function name {name:?} has an unclosed quote"
        )));
    }
    parts.push(current);
    parts
        .into_iter()
        .map(|p| {
            if p.is_empty() {
                Err(Error::interface(format!(
                    "function name {name:?} has an empty part"
                )))
            } else if p.starts_with('"') && p.ends_with('"') && p.len() >= 2 {
                Ok(p)
            } else if p.contains('"') {
                Err(Error::interface(format!(
                    "function name {name:?} has a stray quote"
                )))
            } else {
                Ok(format!("\"{}\"", p.replace('"', "\"\"")))
            }
        })
        .collect::<Result<Vec<_>>>()
        .map(|parts| parts.join("."))
}

/// Quotes one identifier (a channel or cursor name), never qualified.
pub(crate) fn quote_qualified_single(name: &str) -> Result<String> {
    if name.is_empty() || name.contains('\0') {
        return Err(Error::interface(format!("invalid identifier {name:?}")));
    }
    Ok(format!("\"{}\"", name.replace('"', "\"\"")))
}

fn callproc_sql(name: &str, n: usize) -> Result<String> {
    let placeholders: Vec<String> = (1..=n).map(|i| format!("${i}")).collect();
    Ok(format!(
        "SELECT * FROM {}({})",
        quote_qualified(name)?,
        placeholders.join(", ")
    ))
}

/// The type to declare for a parameter of an unnamed statement: unspecified
/// for a dynamic [`Value`], which the server types by inference as it does
/// with a prepared statement (§3), otherwise [`probe_type`].
pub(crate) fn declared_type(param: &(dyn ToSql + Sync)) -> Type {
    let unspecified = unspecified_type();
    // Only `Value` accepts a type it cannot know.
    let mut buf = bytes::BytesMut::new();
    if param.to_sql_checked(&unspecified, &mut buf).is_ok() {
        unspecified
    } else {
        probe_type(param)
    }
}

/// OID 0: the server infers the parameter's type. Made once (`Type::new`
/// allocates) and shared.
fn unspecified_type() -> Type {
    static UNSPECIFIED: std::sync::OnceLock<Type> = std::sync::OnceLock::new();
    UNSPECIFIED
        .get_or_init(|| Type::new("unspecified".into(), 0, Kind::Pseudo, "pg_catalog".into()))
        .clone()
}

/// The first type a parameter encodes to in binary; "unspecified" (OID 0) when none.
pub(crate) fn probe_type(param: &(dyn ToSql + Sync)) -> Type {
    const CANDIDATES: [Type; 28] = [
        Type::BOOL,
        Type::INT4,
        Type::INT8,
        Type::INT2,
        Type::FLOAT8,
        Type::FLOAT4,
        Type::TEXT,
        Type::BYTEA,
        Type::JSONB,
        Type::UUID,
        Type::TIMESTAMPTZ,
        Type::TIMESTAMP,
        Type::DATE,
        Type::OID,
        Type::CHAR,
        Type::BOOL_ARRAY,
        Type::INT4_ARRAY,
        Type::INT8_ARRAY,
        Type::INT2_ARRAY,
        Type::FLOAT8_ARRAY,
        Type::FLOAT4_ARRAY,
        Type::TEXT_ARRAY,
        Type::BYTEA_ARRAY,
        Type::JSONB_ARRAY,
        Type::UUID_ARRAY,
        Type::TIMESTAMPTZ_ARRAY,
        Type::TIMESTAMP_ARRAY,
        Type::DATE_ARRAY,
    ];
    let mut buf = bytes::BytesMut::new();
    for ty in CANDIDATES {
        buf.clear();
        if matches!(param.encode_format(&ty), postgres_types::Format::Binary)
            && param.to_sql_checked(&ty, &mut buf).is_ok()
        {
            return ty;
        }
    }
    unspecified_type()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(quote_qualified("mod").unwrap(), "\"mod\"");
        assert_eq!(quote_qualified("public.mod").unwrap(), "\"public\".\"mod\"");
        assert_eq!(quote_qualified("\"My.Func\"").unwrap(), "\"My.Func\"");
        assert_eq!(
            quote_qualified("s.\"we\"\"ird\"").unwrap(),
            "\"s\".\"we\"\"ird\""
        );
        for bad in ["", "a..b", "\"open", "a\"b", "x\0"] {
            assert!(quote_qualified(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn probing() {
        assert_eq!(probe_type(&6i32), Type::INT4);
        assert_eq!(probe_type(&Value::Int(6)), Type::INT4);
        assert_eq!(probe_type(&Value::Int(1 << 40)), Type::INT8);
        assert_eq!(probe_type(&"x"), Type::TEXT);
        assert_eq!(probe_type(&Value::Numeric("1.5".into())).oid(), 0);
        assert_eq!(probe_type(&vec![1i32, 2]), Type::INT4_ARRAY);
        assert_eq!(probe_type(&vec!["a".to_string()]), Type::TEXT_ARRAY);
        assert_eq!(probe_type(&7u32), Type::OID);
        assert_eq!(declared_type(&Value::Int(6)).oid(), 0);
        assert_eq!(declared_type(&Value::Null).oid(), 0);
        assert_eq!(declared_type(&6i32), Type::INT4);
        assert_eq!(declared_type(&None::<i64>), Type::INT8);
    }
}
