//! [`PooledConnection`]: a checked-out connection that goes back on drop.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio_postgres::types::{ToSql, Type};

use crate::cancel::CancelHandle;
use crate::connection::{Connection, Notification};
use crate::error::Result;
use crate::platform::BoxStream;
use crate::pool::Inner;
use crate::results::Results;
use crate::row::RowSink;
use crate::runtime::Runtime;
use crate::sql_text::transaction_control;
use crate::transport::Transport;

/// A connection checked out of a [`crate::Pool`] (momoko's `getconn`).
///
/// Dropping it returns it to the pool (rule 10: a statement still in flight
/// is cancelled and an open transaction rolled back first, or the connection
/// is discarded).
///
/// ```no_run
/// # async fn f(pool: edgepg_core::Pool<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
/// {
///     let mut conn = pool.getconn().await?;
///     conn.execute("INSERT INTO log (msg) VALUES ($1)", &[&"hello"]).await?;
/// }
/// assert_eq!(pool.status().in_use, 0);
/// # Ok(()) }
/// ```
pub struct PooledConnection<T: Transport> {
    pool: Arc<Inner<T>>,
    conn: Option<Connection>,
}

impl<T: Transport> PooledConnection<T> {
    pub(crate) fn new(pool: Arc<Inner<T>>, conn: Connection) -> Self {
        PooledConnection {
            pool,
            conn: Some(conn),
        }
    }

    /// Takes the connection out; the caller becomes responsible for returning it.
    pub(crate) fn detach(mut self) -> Connection {
        self.conn.take().expect("present until drop")
    }

    pub(crate) fn conn(&mut self) -> &mut Connection {
        self.conn.as_mut().expect("present until drop")
    }

    pub(crate) fn conn_ref(&self) -> &Connection {
        self.conn.as_ref().expect("present until drop")
    }

    /// Runs a statement on this connection and buffers its rows.
    ///
    /// ```no_run
    /// # async fn f(pool: edgepg_core::Pool<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
    /// # let mut conn = pool.getconn().await?;
    /// let rows = conn.query("SELECT $1::text AS greeting", &[&"hi"]).await?;
    /// assert_eq!(rows[0].get::<&str, _>("greeting"), "hi");
    /// # Ok(()) }
    /// ```
    pub async fn query(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Results> {
        self.statement(sql, params, None).await.map(|(r, _)| r)
    }

    /// Runs a statement on this connection and hands its rows to `rows` as
    /// they arrive; the [`Results`] carry the command tag, count and
    /// columns, and no rows (see [`crate::Pool::query_into`]).
    ///
    /// ```no_run
    /// # async fn f(pool: edgepg_core::Pool<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
    /// let mut conn = pool.getconn().await?;
    /// let mut rows = Vec::new();
    /// let results = conn.query_into("SELECT generate_series(1, 3)", &[], &mut rows).await?;
    /// assert_eq!((rows.len(), results.len(), results.count()), (3, 0, 3));
    /// # Ok(()) }
    /// ```
    pub async fn query_into(
        &mut self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
        rows: &mut dyn RowSink,
    ) -> Result<Results> {
        self.statement(sql, params, Some(rows))
            .await
            .map(|(r, _)| r)
    }

    /// Runs a statement on this connection and returns the rows affected.
    ///
    /// ```no_run
    /// # async fn f(pool: edgepg_core::Pool<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
    /// # let mut conn = pool.getconn().await?;
    /// let n = conn.execute("UPDATE jobs SET state = 'done' WHERE id = $1", &[&7i32]).await?;
    /// assert!(n <= 1);
    /// # Ok(()) }
    /// ```
    pub async fn execute(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64> {
        self.statement(sql, params, None).await.map(|(_, n)| n)
    }

    /// One statement (or a script of them), with the query timeout.
    async fn statement(
        &mut self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
        rows: Option<&mut (dyn RowSink + '_)>,
    ) -> Result<(Results, u64)> {
        if let Some((prefix, last)) = script_parts(sql, None, params) {
            // Boxed: `script` runs its last statement through here.
            return Box::pin(self.script(prefix, last, rows)).await;
        }
        let (rt, limit) = (self.pool.rt.clone(), self.pool.options.query_timeout);
        let outcome = within(&rt, limit, self.conn().exclusive(sql, params, rows)).await;
        self.timed(outcome, limit).await
    }

    /// A script of several statements (see [`crate::Pool::query`]): all but
    /// the last with the simple protocol, then the last, whose results these are.
    pub(crate) async fn script(
        &mut self,
        prefix: &str,
        last: &str,
        rows: Option<&mut (dyn RowSink + '_)>,
    ) -> Result<(Results, u64)> {
        // All or nothing, as the simple protocol runs a script, unless it
        // controls transactions itself or runs in an open one.
        let atomic = !self.conn().in_transaction
            && transaction_control(prefix).is_none()
            && transaction_control(last).is_none();
        let run = async {
            if atomic {
                self.batch_execute(&format!("BEGIN;{prefix}")).await?;
            } else {
                self.batch_execute(prefix).await?;
            }
            let last = self.statement(last, &[], rows).await?;
            if atomic {
                self.batch_execute("COMMIT").await?;
            }
            Ok(last)
        };
        let result: Result<(Results, u64)> = run.await;
        if result.is_err() && atomic && self.conn().in_transaction {
            // The script's error is the one to report.
            let _ = self.batch_execute("ROLLBACK").await;
        }
        result
    }

    /// Runs one or more statements without parameters (simple protocol).
    ///
    /// ```no_run
    /// # async fn f(pool: edgepg_core::Pool<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
    /// # let mut conn = pool.getconn().await?;
    /// conn.batch_execute("CREATE TEMP TABLE t (n int); INSERT INTO t VALUES (1), (2)").await?;
    /// assert_eq!(conn.execute("DELETE FROM t", &[]).await?, 2);
    /// # Ok(()) }
    /// ```
    pub async fn batch_execute(&mut self, sql: &str) -> Result<()> {
        let (rt, limit) = (self.pool.rt.clone(), self.pool.options.query_timeout);
        let outcome = within(&rt, limit, self.conn().batch(sql)).await;
        self.timed(outcome, limit).await
    }

    /// The statement's result (a broken connection under it is
    /// `ConnectionLost`, rule 6), or (`None`: it outlived the query timeout) a
    /// `QueryCanceled` error once the connection is cleaned.
    async fn timed<R>(&mut self, outcome: Option<Result<R>>, limit: Option<Duration>) -> Result<R> {
        match (outcome, limit) {
            (Some(result), _) => result.map_err(crate::error::lost),
            (None, limit) => Err(self.timed_out(limit.unwrap_or_default()).await),
        }
    }

    /// A statement outlived the query timeout: cancel it on the server and roll
    /// back the open transaction (rule 10), here and now, so this connection is
    /// usable again — or, if that fails, unusable for good.
    async fn timed_out(&mut self, limit: Duration) -> crate::Error {
        let pool = self.pool.clone();
        let in_transaction = self.conn_ref().in_transaction;
        if pool.clean_in_place(self.conn()).await.is_none() {
            self.conn().mark_unusable();
        }
        if in_transaction {
            self.conn().mark_transaction_failed();
        }
        crate::error::query_timed_out(limit)
    }

    /// True when the socket has closed.
    ///
    /// ```no_run
    /// # async fn f(pool: edgepg_core::Pool<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
    /// # let mut conn = pool.getconn().await?;
    /// if conn.is_closed() {
    ///     conn = pool.getconn().await?;
    /// }
    /// conn.execute("SELECT 1", &[]).await?;
    /// # Ok(()) }
    /// ```
    pub fn is_closed(&self) -> bool {
        self.conn_ref().is_closed()
    }

    /// The last server notices received on this connection (at most 50).
    ///
    /// ```no_run
    /// # async fn f(pool: edgepg_core::Pool<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
    /// # let mut conn = pool.getconn().await?;
    /// conn.batch_execute("DO $$ BEGIN RAISE NOTICE 'hello'; END $$").await?;
    /// assert!(conn.notices().iter().any(|n| n.ends_with("hello")));
    /// # Ok(()) }
    /// ```
    pub fn notices(&self) -> Vec<String> {
        self.conn_ref().notices()
    }

    /// Runs a script of statements without parameters and returns the results
    /// of each, in order (node-postgres' multi-statement query). Like the
    /// simple protocol, the script is all or nothing unless it controls
    /// transactions itself or runs in an open one.
    ///
    /// ```no_run
    /// # async fn f(pool: edgepg_core::Pool<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
    /// let mut conn = pool.getconn().await?;
    /// let all = conn.query_script("SELECT 1 AS a; SELECT 2 AS b, 3 AS c").await?;
    /// assert_eq!((all.len(), all[1].columns().len()), (2, 2));
    /// # Ok(()) }
    /// ```
    pub async fn query_script(&mut self, sql: &str) -> Result<Vec<Results>> {
        let statements = crate::sql_text::split_statements(sql);
        if statements.len() <= 1 {
            return Ok(vec![self.query(sql, &[]).await?]);
        }
        let atomic = !self.conn().in_transaction && transaction_control(sql).is_none();
        let run = async {
            if atomic {
                self.batch_execute("BEGIN").await?;
            }
            let mut all = Vec::with_capacity(statements.len());
            for statement in &statements {
                all.push(self.query(statement, &[]).await?);
            }
            if atomic {
                self.batch_execute("COMMIT").await?;
            }
            Ok(all)
        };
        let result: Result<Vec<Results>> = run.await;
        if result.is_err() && atomic && self.conn().in_transaction {
            // The script's error is the one to report.
            let _ = self.batch_execute("ROLLBACK").await;
        }
        result
    }

    /// True while an explicit transaction may be open on this connection
    /// (after BEGIN, until COMMIT or ROLLBACK succeeds).
    ///
    /// ```no_run
    /// # async fn f(pool: edgepg_core::Pool<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
    /// let mut conn = pool.getconn().await?;
    /// conn.batch_execute("BEGIN").await?;
    /// assert!(conn.in_transaction());
    /// conn.batch_execute("COMMIT").await?;
    /// assert!(!conn.in_transaction());
    /// # Ok(()) }
    /// ```
    pub fn in_transaction(&self) -> bool {
        self.conn_ref().in_transaction
    }

    /// A handle that cancels the statement this connection runs (see [`CancelHandle`]).
    ///
    /// ```no_run
    /// # async fn f(pool: edgepg_core::Pool<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
    /// let conn = pool.getconn().await?;
    /// let cancel = conn.cancel_handle();
    /// # drop(cancel);
    /// # Ok(()) }
    /// ```
    pub fn cancel_handle(&self) -> CancelHandle<T> {
        let conn = self.conn_ref();
        CancelHandle::new(
            self.pool.transport.clone(),
            conn.target().clone(),
            conn.client().cancel_token(),
        )
    }

    /// The NOTIFY messages this connection receives from now on (after a
    /// `LISTEN` of yours), until it goes back to the pool. A second call
    /// takes them over from the first.
    ///
    /// ```no_run
    /// # async fn f(pool: edgepg_core::Pool<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
    /// use futures_util::StreamExt;
    /// let mut conn = pool.getconn().await?;
    /// let mut events = conn.notifications();
    /// conn.batch_execute("LISTEN jobs; NOTIFY jobs, 'go'").await?;
    /// assert_eq!(events.next().await.expect("open").payload, "go");
    /// # Ok(()) }
    /// ```
    pub fn notifications(&mut self) -> BoxStream<'static, Notification> {
        let (tx, rx) = futures_channel::mpsc::unbounded();
        self.conn_ref().set_listener(Some(tx));
        Box::pin(rx)
    }

    /// Resolves when this connection ends (the server or the network closed
    /// it, or it was closed), with the error it ended with, if any: how a
    /// holder learns that an idle checked-out connection died.
    ///
    /// ```no_run
    /// # async fn f(pool: edgepg_core::Pool<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
    /// let conn = pool.getconn().await?;
    /// // Waits as long as the connection lives.
    /// if let Some(e) = conn.closed().await {
    ///     eprintln!("the connection died: {e}");
    /// }
    /// # Ok(()) }
    /// ```
    pub fn closed(&self) -> impl Future<Output = Option<crate::Error>> + 'static {
        self.conn_ref().ended()
    }

    /// Closes this connection instead of returning it to the pool
    /// (node-postgres' `release(err)`); the pool opens another when needed.
    ///
    /// ```no_run
    /// # async fn f(pool: edgepg_core::Pool<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
    /// let conn = pool.getconn().await?;
    /// conn.discard();
    /// assert_eq!(pool.status().size, 0);
    /// # Ok(()) }
    /// ```
    pub fn discard(mut self) {
        self.conn().mark_unusable();
    }

    /// Removes and returns the notices received on this connection so far,
    /// with all their fields, oldest first: for callers that report each once.
    ///
    /// ```no_run
    /// # async fn f(pool: edgepg_core::Pool<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
    /// let mut conn = pool.getconn().await?;
    /// conn.batch_execute("DO $$ BEGIN RAISE NOTICE 'once'; END $$").await?;
    /// let notices = conn.take_notices();
    /// assert_eq!((notices[0].severity.as_str(), notices[0].message.as_str()), ("NOTICE", "once"));
    /// assert!(conn.take_notices().is_empty());
    /// # Ok(()) }
    /// ```
    pub fn take_notices(&mut self) -> Vec<crate::DbErrorFields> {
        self.conn_ref().take_notices()
    }

    /// The server process ID of this connection.
    ///
    /// ```no_run
    /// # async fn f(pool: edgepg_core::Pool<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
    /// # let mut conn = pool.getconn().await?;
    /// let pid = conn.backend_pid().await?;
    /// let other = pool.getconn().await?.backend_pid().await?;
    /// assert_ne!(pid, other);
    /// # Ok(()) }
    /// ```
    pub async fn backend_pid(&mut self) -> Result<i32> {
        if let Some(pid) = self.conn_ref().backend_pid {
            return Ok(pid);
        }
        let r = self.query("SELECT pg_backend_pid()", &[]).await?;
        let pid = r
            .get(0)
            .map(|row| row.try_get::<i32, _>(0))
            .unwrap_or_else(|| Err(crate::Error::interface("no pid")))?;
        self.conn().backend_pid = Some(pid);
        Ok(pid)
    }
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

/// Runs `work`, within `limit` if there is one; `None` when it ran out of time.
async fn within<R: Runtime, F: Future>(
    rt: &R,
    limit: Option<Duration>,
    work: F,
) -> Option<F::Output> {
    match limit {
        None => Some(work.await),
        // Boxed: only the timed path pays for moving the statement's future.
        Some(limit) => crate::runtime::timeout(rt, limit, Box::pin(work)).await,
    }
}

impl<T: Transport> Drop for PooledConnection<T> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            // Notifications were this caller's (see `notifications`).
            conn.set_listener(None);
            self.pool.release(conn);
        }
    }
}
