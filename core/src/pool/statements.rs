//! Running statements through the pool: query, execute, callproc and
//! scripts, with the query timeout and the retry rule (§4 rule 6); the BEGIN
//! that transactions and cursors start with.

use tokio_postgres::types::{ToSql, Type};

use crate::connection::{collect_notices, Connection, NoticeSink};
use crate::error::{is_terminating, lost, query_timed_out, Error, ErrorKind, Result};
use crate::param_types::probe_type;
use crate::pool::connection::script_parts;
use crate::pool::{Pool, PooledConnection};
use crate::results::Results;
use crate::row::{reborrow, RowSink};
use crate::sql_text::quote_qualified;
use crate::transport::Transport;

/// Rule 6: retry only when the statement cannot have taken effect.
fn retryable(e: &Error, conn: &Connection, sent: bool) -> bool {
    let lost = conn.is_closed() || e.kind() == ErrorKind::ConnectionLost;
    let dead_before_send = lost && (!sent || conn.terminated_by_server());
    dead_before_send || is_terminating(e)
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

    /// A connection with BEGIN run on it (for cursors).
    pub(crate) async fn begin_connection(&self) -> Result<PooledConnection<T>> {
        self.begin_guard(None, "BEGIN").await
    }

    /// Checks out a connection and runs BEGIN on it, retrying once on a fresh
    /// connection if the first was dead (nothing has run yet, so this is safe).
    pub(crate) async fn begin_guard(
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

fn callproc_sql(name: &str, n: usize) -> Result<String> {
    let placeholders: Vec<String> = (1..=n).map(|i| format!("${i}")).collect();
    Ok(format!(
        "SELECT * FROM {}({})",
        quote_qualified(name)?,
        placeholders.join(", ")
    ))
}
