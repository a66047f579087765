//! Server-side cursors: large results streamed in chunks on one connection.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};

use futures_util::stream;
use tokio_postgres::types::ToSql;

use crate::error::{Error, Result};
use crate::platform::BoxStream;
use crate::pool::{Pool, PooledConnection};
use crate::row::Row;
use crate::transport::Transport;

static CURSOR_IDS: AtomicU64 = AtomicU64::new(0);

struct State<T: Transport> {
    conn: Option<PooledConnection<T>>,
    fetch: String,
    close: String,
    buffered: VecDeque<Row>,
}

impl<T: Transport> Pool<T> {
    /// Streams the rows of `sql` in chunks of `chunk` rows through a server-side
    /// cursor (DECLARE … / FETCH), holding one connection. Memory stays bounded by
    /// the chunk size. Dropping the stream closes the cursor and returns the
    /// connection clean (the pool rolls back the cursor's transaction).
    ///
    /// ```no_run
    /// # async fn f(pool: edgepg_core::Pool<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
    /// use futures_util::TryStreamExt;
    /// let mut rows = pool.cursor("SELECT g FROM generate_series(1, $1) g", &[&1_000_000i32], 10_000).await?;
    /// let mut sum = 0i64;
    /// while let Some(row) = rows.try_next().await? {
    ///     sum += i64::from(row.get::<i32, _>(0));
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn cursor(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
        chunk: usize,
    ) -> Result<BoxStream<'static, Result<Row>>> {
        if chunk == 0 {
            return Err(Error::interface("cursor chunk size must be at least 1"));
        }
        let name = format!(
            "edgepg_cursor_{}",
            CURSOR_IDS.fetch_add(1, Ordering::Relaxed)
        );
        let mut conn = self.begin_connection().await?;
        let declare = format!("DECLARE {name} NO SCROLL CURSOR FOR {sql}");
        if let Err(e) = conn.execute(&declare, params).await {
            // Settle the connection before answering, so the caller sees a quiet pool.
            if conn.batch_execute("ROLLBACK").await.is_ok() {
                conn.conn().in_transaction = false;
            }
            return Err(e);
        }
        let state = State {
            conn: Some(conn),
            fetch: format!("FETCH FORWARD {chunk} FROM {name}"),
            close: format!("CLOSE {name}; COMMIT"),
            buffered: VecDeque::new(),
        };
        Ok(Box::pin(stream::try_unfold(state, |mut st| async move {
            loop {
                if let Some(row) = st.buffered.pop_front() {
                    return Ok(Some((row, st)));
                }
                let Some(conn) = st.conn.as_mut() else {
                    return Ok(None);
                };
                let rows = conn.query(&st.fetch, &[]).await?;
                if rows.is_empty() {
                    conn.batch_execute(&st.close).await?;
                    conn.conn().in_transaction = false;
                    return Ok(None);
                }
                st.buffered.extend(rows);
            }
        })))
    }
}
