//! Server-side cursors: large results streamed in chunks on one connection.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};

use std::future::IntoFuture;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use futures_util::{stream, Stream};
use tokio_postgres::types::ToSql;

use crate::error::{Error, Result};
use crate::platform::{BoxFuture, BoxStream};
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

/// The rows of a server-side cursor ([`Pool::cursor`]): a stream that
/// declares the cursor when first polled, or, awaited, declares it and
/// resolves to the stream (so a bad statement fails before the first row).
///
/// ```no_run
/// # async fn f(pool: edgepg_core::Pool<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
/// use futures_util::TryStreamExt;
/// // As a stream: a DECLARE that fails is the first item.
/// let rows: Vec<_> = pool.cursor("SELECT generate_series(1, 5)", &[], 2).try_collect().await?;
/// assert_eq!(rows.len(), 5);
/// // Awaited: the DECLARE has run when this returns.
/// let mut rows = pool.cursor("SELECT generate_series(1, 5)", &[], 2).await?;
/// assert!(rows.try_next().await?.is_some());
/// # Ok(()) }
/// ```
#[must_use = "a cursor does nothing until it is polled or awaited"]
pub struct Cursor<'a> {
    state: Opening<'a>,
}

enum Opening<'a> {
    Declaring(BoxFuture<'a, Result<BoxStream<'static, Result<Row>>>>),
    Open(BoxStream<'static, Result<Row>>),
    Failed,
}

impl Stream for Cursor<'_> {
    type Item = Result<Row>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Row>>> {
        loop {
            match &mut self.state {
                Opening::Declaring(declare) => match ready!(declare.as_mut().poll(cx)) {
                    Ok(rows) => self.state = Opening::Open(rows),
                    Err(e) => {
                        self.state = Opening::Failed;
                        return Poll::Ready(Some(Err(e)));
                    }
                },
                Opening::Open(rows) => return rows.as_mut().poll_next(cx),
                Opening::Failed => return Poll::Ready(None),
            }
        }
    }
}

impl<'a> IntoFuture for Cursor<'a> {
    type Output = Result<BoxStream<'static, Result<Row>>>;
    type IntoFuture = BoxFuture<'a, Self::Output>;

    fn into_future(self) -> Self::IntoFuture {
        match self.state {
            Opening::Declaring(declare) => declare,
            Opening::Open(rows) => Box::pin(std::future::ready(Ok(rows))),
            Opening::Failed => Box::pin(std::future::ready(Ok(
                Box::pin(stream::empty()) as BoxStream<'static, Result<Row>>
            ))),
        }
    }
}

impl<T: Transport> Pool<T> {
    /// Streams the rows of `sql` in chunks of `chunk` rows through a server-side
    /// cursor (DECLARE … / FETCH), holding one connection. Memory stays bounded by
    /// the chunk size. Dropping the stream closes the cursor and returns the
    /// connection clean (the pool rolls back the cursor's transaction).
    ///
    /// Use the [`Cursor`] as a stream, or await it to have the cursor declared
    /// (and its errors reported) before reading.
    ///
    /// ```no_run
    /// # async fn f(pool: edgepg_core::Pool<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
    /// use futures_util::TryStreamExt;
    /// let mut rows = pool.cursor("SELECT g FROM generate_series(1, $1) g", &[&1_000_000i32], 10_000);
    /// let mut sum = 0i64;
    /// while let Some(row) = rows.try_next().await? {
    ///     sum += i64::from(row.get::<i32, _>(0));
    /// }
    /// # Ok(()) }
    /// ```
    pub fn cursor<'a>(
        &'a self,
        sql: &'a str,
        params: &'a [&'a (dyn ToSql + Sync)],
        chunk: usize,
    ) -> Cursor<'a> {
        Cursor {
            state: Opening::Declaring(Box::pin(self.declare_cursor(sql, params, chunk))),
        }
    }

    async fn declare_cursor(
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
            let _ = conn.batch_execute("ROLLBACK").await;
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
                    return Ok(None);
                }
                st.buffered.extend(rows);
            }
        })))
    }
}
