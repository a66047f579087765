//! Transactions: [`Transaction`], an explicit one on a pooled connection
//! (`Pool::begin`), and momoko's `Pool::transaction`, a list of
//! [`Statement`]s run in one.

use std::sync::Arc;

use tokio_postgres::types::ToSql;

use crate::connection::{collect_notices, NoticeSink};
use crate::error::{lost, Error, ErrorKind, Result};
use crate::pool::{Pool, PooledConnection};
use crate::results::Results;
use crate::row::RowSink;
use crate::sql_text::quote_qualified_single;
use crate::transport::Transport;
use crate::value::Value;

/// Transaction isolation levels.
///
/// ```
/// use edgepg_core::{IsolationLevel, TransactionOptions};
/// let explicit = TransactionOptions::new().isolation(IsolationLevel::ReadCommitted);
/// assert_ne!(explicit, TransactionOptions::new());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IsolationLevel {
    /// `READ UNCOMMITTED` (behaves as READ COMMITTED in PostgreSQL).
    ReadUncommitted,
    /// `READ COMMITTED`, the server default.
    ReadCommitted,
    /// `REPEATABLE READ`.
    RepeatableRead,
    /// `SERIALIZABLE`.
    Serializable,
}

/// How `begin_with()` starts a transaction.
///
/// ```
/// use edgepg_core::{IsolationLevel, TransactionOptions};
/// let o = TransactionOptions::new().isolation(IsolationLevel::Serializable).read_only(true).deferrable(true);
/// # let _ = o;
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TransactionOptions {
    isolation: Option<IsolationLevel>,
    read_only: Option<bool>,
    deferrable: Option<bool>,
}

impl TransactionOptions {
    /// The server's defaults.
    ///
    /// ```
    /// use edgepg_core::TransactionOptions;
    /// assert_eq!(TransactionOptions::new(), TransactionOptions::default());
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the isolation level.
    ///
    /// ```
    /// use edgepg_core::{IsolationLevel::*, TransactionOptions};
    /// let twice = TransactionOptions::new().isolation(Serializable).isolation(RepeatableRead);
    /// assert_eq!(twice, TransactionOptions::new().isolation(RepeatableRead));
    /// ```
    pub fn isolation(mut self, level: IsolationLevel) -> Self {
        self.isolation = Some(level);
        self
    }

    /// READ ONLY (true) or READ WRITE (false).
    ///
    /// ```
    /// use edgepg_core::TransactionOptions;
    /// let read_write = TransactionOptions::new().read_only(false);
    /// assert_ne!(read_write, TransactionOptions::new());
    /// ```
    pub fn read_only(mut self, on: bool) -> Self {
        self.read_only = Some(on);
        self
    }

    /// DEFERRABLE (true) or NOT DEFERRABLE (false); matters for serializable read-only.
    ///
    /// ```
    /// use edgepg_core::TransactionOptions;
    /// let a = TransactionOptions::new().read_only(true).deferrable(true);
    /// assert_eq!(a, TransactionOptions::new().deferrable(true).read_only(true));
    /// ```
    pub fn deferrable(mut self, on: bool) -> Self {
        self.deferrable = Some(on);
        self
    }

    pub(crate) fn begin_sql(&self) -> String {
        let mut sql = String::from("BEGIN");
        if let Some(level) = self.isolation {
            sql.push_str(match level {
                IsolationLevel::ReadUncommitted => " ISOLATION LEVEL READ UNCOMMITTED",
                IsolationLevel::ReadCommitted => " ISOLATION LEVEL READ COMMITTED",
                IsolationLevel::RepeatableRead => " ISOLATION LEVEL REPEATABLE READ",
                IsolationLevel::Serializable => " ISOLATION LEVEL SERIALIZABLE",
            });
        }
        match self.read_only {
            Some(true) => sql.push_str(" READ ONLY"),
            Some(false) => sql.push_str(" READ WRITE"),
            None => {}
        }
        match self.deferrable {
            Some(true) => sql.push_str(" DEFERRABLE"),
            Some(false) => sql.push_str(" NOT DEFERRABLE"),
            None => {}
        }
        sql
    }
}

/// A transaction started by `begin()`. Uncommitted on drop means rolled back
/// (the pool rolls it back before the connection is reused, rule 10).
///
/// ```no_run
/// # async fn f(pool: edgepg_core::Pool<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
/// let mut tx = pool.begin().await?;
/// tx.execute("DELETE FROM jobs", &[]).await?;
/// drop(tx);
/// let left = pool.query("SELECT count(*) FROM jobs", &[]).await?;
/// println!("{} jobs remain", left[0].get::<i64, _>(0));
/// # Ok(()) }
/// ```
pub struct Transaction<T: Transport> {
    conn: PooledConnection<T>,
    /// The notices of a Session's transaction go to the Session.
    notices: Option<Arc<NoticeSink>>,
}

impl<T: Transport> Transaction<T> {
    pub(crate) fn new(conn: PooledConnection<T>) -> Self {
        Transaction {
            conn,
            notices: None,
        }
    }

    pub(crate) fn noting(mut self, notices: Arc<NoticeSink>) -> Self {
        self.notices = Some(notices);
        self
    }

    /// A statement's outcome, with its notices collected. (Whether it doomed
    /// the transaction, or a ROLLBACK TO SAVEPOINT saved it, the connection
    /// keeps: see [`Self::commit`].)
    fn note<R>(&mut self, r: Result<R>) -> Result<R> {
        self.collect_notices();
        r
    }

    fn collect_notices(&mut self) {
        collect_notices(self.notices.as_deref(), self.conn.conn());
    }

    /// Transaction control SQL (its notices collected, its failure not a
    /// statement's).
    async fn control(&mut self, sql: &str) -> Result<()> {
        let r = self.conn.batch_execute(sql).await;
        self.collect_notices();
        r
    }

    /// Runs a statement inside the transaction and buffers its rows.
    ///
    /// ```no_run
    /// # async fn f(pool: edgepg_core::Pool<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
    /// # let mut tx = pool.begin().await?;
    /// let rows = tx.query("SELECT balance FROM accounts WHERE id = $1 FOR UPDATE", &[&1i32]).await?;
    /// let balance: i64 = rows[0].get("balance");
    /// # Ok(()) }
    /// ```
    pub async fn query(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Results> {
        let r = self.conn.query(sql, params).await;
        self.note(r)
    }

    /// Runs a statement inside the transaction and hands its rows to `rows`
    /// as they arrive (see [`crate::Pool::query_into`]).
    ///
    /// ```no_run
    /// # async fn f(pool: edgepg_core::Pool<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
    /// let mut tx = pool.begin().await?;
    /// let mut rows = Vec::new();
    /// let results = tx.query_into("SELECT generate_series(1, 3)", &[], &mut rows).await?;
    /// assert_eq!((rows.len(), results.count()), (3, 3));
    /// tx.commit().await?;
    /// # Ok(()) }
    /// ```
    pub async fn query_into(
        &mut self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
        rows: &mut dyn RowSink,
    ) -> Result<Results> {
        let r = self.conn.query_into(sql, params, rows).await;
        self.note(r)
    }

    /// Runs a script of statements without parameters inside the transaction
    /// and returns the results of each.
    ///
    /// ```no_run
    /// # async fn f(pool: edgepg_core::Pool<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
    /// let mut tx = pool.begin().await?;
    /// let all = tx.query_script("SELECT 1; SELECT 2").await?;
    /// assert_eq!(all.len(), 2);
    /// tx.commit().await?;
    /// # Ok(()) }
    /// ```
    pub async fn query_script(&mut self, sql: &str) -> Result<Vec<Results>> {
        let r = self.conn.query_script(sql).await;
        self.note(r)
    }

    /// The connection this transaction runs on (to cancel its statements,
    /// read its notices or process ID).
    ///
    /// ```no_run
    /// # async fn f(pool: edgepg_core::Pool<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
    /// let mut tx = pool.begin().await?;
    /// let pid = tx.connection().backend_pid().await?;
    /// assert!(pid > 0);
    /// # Ok(()) }
    /// ```
    pub fn connection(&mut self) -> &mut PooledConnection<T> {
        &mut self.conn
    }

    /// Runs a statement inside the transaction and returns the rows affected.
    ///
    /// ```no_run
    /// # async fn f(pool: edgepg_core::Pool<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
    /// # let mut tx = pool.begin().await?;
    /// let n = tx.execute("UPDATE accounts SET balance = balance + 10 WHERE id = $1", &[&2i32]).await?;
    /// assert_eq!(n, 1);
    /// tx.commit().await?;
    /// # Ok(()) }
    /// ```
    pub async fn execute(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64> {
        let r = self.conn.execute(sql, params).await;
        self.note(r)
    }

    /// Creates a savepoint.
    ///
    /// ```no_run
    /// # async fn f(pool: edgepg_core::Pool<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
    /// # let mut tx = pool.begin().await?;
    /// tx.savepoint("before_import").await?;
    /// tx.execute("INSERT INTO items (id) VALUES (1)", &[]).await?;
    /// tx.release_savepoint("before_import").await?;
    /// tx.commit().await?;
    /// # Ok(()) }
    /// ```
    pub async fn savepoint(&mut self, name: &str) -> Result<()> {
        let sql = format!("SAVEPOINT {}", quote_qualified_single(name)?);
        let r = self.conn.batch_execute(&sql).await;
        self.note(r)
    }

    /// Rolls back to a savepoint; the transaction is usable again after an error.
    ///
    /// ```no_run
    /// # async fn f(pool: edgepg_core::Pool<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
    /// # let mut tx = pool.begin().await?;
    /// tx.savepoint("attempt").await?;
    /// if tx.execute("INSERT INTO items (id) VALUES (1)", &[]).await.is_err() {
    ///     tx.rollback_to("attempt").await?;
    /// }
    /// tx.commit().await?;
    /// # Ok(()) }
    /// ```
    pub async fn rollback_to(&mut self, name: &str) -> Result<()> {
        let sql = format!("ROLLBACK TO SAVEPOINT {}", quote_qualified_single(name)?);
        self.control(&sql).await
    }

    /// Releases a savepoint.
    ///
    /// ```no_run
    /// # async fn f(pool: edgepg_core::Pool<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
    /// # let mut tx = pool.begin().await?;
    /// tx.savepoint("s1").await?;
    /// tx.release_savepoint("s1").await?;
    /// assert!(tx.rollback_to("s1").await.is_err());
    /// # Ok(()) }
    /// ```
    pub async fn release_savepoint(&mut self, name: &str) -> Result<()> {
        let sql = format!("RELEASE SAVEPOINT {}", quote_qualified_single(name)?);
        let r = self.conn.batch_execute(&sql).await;
        self.note(r)
    }

    /// Commits. If a statement failed earlier (and was not rolled back to a
    /// savepoint), the server rolls back instead, and this returns an error.
    ///
    /// ```no_run
    /// # async fn f(pool: edgepg_core::Pool<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
    /// # let mut tx = pool.begin().await?;
    /// use edgepg_core::ErrorKind;
    /// let _ = tx.execute("SELECT 1 / 0", &[]).await;
    /// assert_eq!(tx.commit().await.unwrap_err().kind(), ErrorKind::TransactionRollback);
    /// # Ok(()) }
    /// ```
    pub async fn commit(mut self) -> Result<()> {
        if self.conn.conn_ref().transaction_failed() {
            self.control("ROLLBACK").await?;
            return Err(Error::new(
                ErrorKind::TransactionRollback,
                "the transaction was rolled back because a statement in it failed",
            ));
        }
        self.control("COMMIT").await
    }

    /// Rolls back.
    ///
    /// ```no_run
    /// # async fn f(pool: edgepg_core::Pool<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
    /// # let mut tx = pool.begin().await?;
    /// tx.execute("DELETE FROM items", &[]).await?;
    /// tx.rollback().await?;
    /// # Ok(()) }
    /// ```
    pub async fn rollback(mut self) -> Result<()> {
        self.control("ROLLBACK").await
    }
}

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

impl<T: Transport> Pool<T> {
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
    pub async fn begin_with(&self, options: TransactionOptions) -> Result<Transaction<T>> {
        Ok(Transaction::new(
            self.begin_guard(None, &options.begin_sql()).await?,
        ))
    }
}
