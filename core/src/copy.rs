//! COPY FROM STDIN and COPY TO STDOUT as streams.

use std::pin::Pin;

use bytes::Bytes;
use futures_util::{stream, SinkExt, TryStreamExt};
use tokio_postgres::CopyInSink;

use crate::error::{Error, Result};
use crate::platform::BoxStream;
use crate::pool::{Pool, PooledConnection};
use crate::transport::Transport;

/// A `COPY … FROM STDIN` in progress: send chunks, then [`CopyIn::finish`].
/// Dropped unfinished, the COPY is aborted and nothing is stored.
///
/// ```no_run
/// # async fn f(pool: edgepg_core::Pool<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
/// let mut copy = pool.copy_in("COPY items (id, name) FROM STDIN").await?;
/// copy.send("1\tpen\n").await?;
/// drop(copy);
/// # Ok(()) }
/// ```
pub struct CopyIn<T: Transport> {
    conn: PooledConnection<T>,
    sink: Pin<Box<CopyInSink<Bytes>>>,
    /// The COPY runs in a transaction of its own (see [`pin_to_one_server`]).
    commit: bool,
}

impl<T: Transport> CopyIn<T> {
    /// Sends one chunk of COPY data (any split of the text or binary format).
    ///
    /// ```no_run
    /// # async fn f(pool: edgepg_core::Pool<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
    /// let mut copy = pool.copy_in("COPY items (id, name) FROM STDIN (FORMAT csv)").await?;
    /// copy.send("1,pen\n2,").await?;
    /// copy.send("ink\n").await?;
    /// assert_eq!(copy.finish().await?, 2);
    /// # Ok(()) }
    /// ```
    pub async fn send(&mut self, data: impl Into<Bytes>) -> Result<()> {
        self.sink.send(data.into()).await.map_err(Error::from_pg)
    }

    /// Sends every chunk of a stream.
    ///
    /// ```no_run
    /// # async fn f(pool: edgepg_core::Pool<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
    /// let chunks = ["1\tpen\n", "2\tink\n"].map(|s| Ok(bytes::Bytes::from(s)));
    /// let mut copy = pool.copy_in("COPY items (id, name) FROM STDIN").await?;
    /// copy.send_all(futures_util::stream::iter(chunks)).await?;
    /// assert_eq!(copy.finish().await?, 2);
    /// # Ok(()) }
    /// ```
    pub async fn send_all<S>(&mut self, chunks: S) -> Result<()>
    where
        S: futures_util::Stream<Item = Result<Bytes>>,
    {
        let mut chunks = std::pin::pin!(chunks);
        while let Some(chunk) = chunks.try_next().await? {
            self.send(chunk).await?;
        }
        Ok(())
    }

    /// Ends the COPY and returns the number of rows stored.
    ///
    /// ```no_run
    /// # async fn f(pool: edgepg_core::Pool<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
    /// let mut copy = pool.copy_in("COPY items (id) FROM STDIN").await?;
    /// copy.send("1\n2\n3\n").await?;
    /// assert_eq!(copy.finish().await?, 3);
    /// # Ok(()) }
    /// ```
    pub async fn finish(mut self) -> Result<u64> {
        let n = self.sink.as_mut().finish().await.map_err(Error::from_pg)?;
        let c = self.conn.conn();
        c.busy = false;
        if self.commit {
            c.batch("COMMIT").await?;
        }
        Ok(n)
    }
}

impl<T: Transport> Pool<T> {
    /// Starts `COPY … FROM STDIN` on a pooled connection.
    ///
    /// ```no_run
    /// # async fn f(pool: edgepg_core::Pool<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
    /// let mut copy = pool.copy_in("COPY items (id, name) FROM STDIN").await?;
    /// copy.send("1\tpen\n2\tink\n").await?;
    /// assert_eq!(copy.finish().await?, 2);
    /// # Ok(()) }
    /// ```
    pub async fn copy_in(&self, sql: &str) -> Result<CopyIn<T>> {
        let mut conn = self.getconn().await?;
        let commit = pin_to_one_server(&mut conn).await?;
        let c = conn.conn();
        c.busy = true;
        let sink = c
            .client()
            .copy_in::<_, Bytes>(sql)
            .await
            .map_err(Error::from_pg)?;
        Ok(CopyIn {
            conn,
            sink: Box::pin(sink),
            commit,
        })
    }

    /// Runs `COPY … TO STDOUT` and streams its data in the chunks the server sends.
    /// Dropping the stream early returns the connection clean.
    ///
    /// ```no_run
    /// # async fn f(pool: edgepg_core::Pool<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
    /// use futures_util::TryStreamExt;
    /// let mut out = pool.copy_out("COPY (SELECT 1, 'pen') TO STDOUT").await?;
    /// let mut data = Vec::new();
    /// while let Some(chunk) = out.try_next().await? {
    ///     data.extend_from_slice(&chunk);
    /// }
    /// assert_eq!(data, b"1\tpen\n");
    /// # Ok(()) }
    /// ```
    pub async fn copy_out(&self, sql: &str) -> Result<BoxStream<'static, Result<Bytes>>> {
        let mut conn = self.getconn().await?;
        let commit = pin_to_one_server(&mut conn).await?;
        let c = conn.conn();
        c.busy = true;
        let out = c.client().copy_out(sql).await.map_err(Error::from_pg)?;
        let state = (Some(conn), Box::pin(out));
        Ok(Box::pin(stream::try_unfold(
            state,
            move |(mut conn, mut out)| async move {
                match out.as_mut().try_next().await.map_err(Error::from_pg)? {
                    Some(chunk) => Ok(Some((chunk, (conn, out)))),
                    None => {
                        if let Some(c) = conn.as_mut() {
                            c.conn().busy = false;
                            if commit {
                                c.conn().batch("COMMIT").await?;
                            }
                        }
                        Ok(None)
                    }
                }
            },
        )))
    }
}

/// tokio-postgres prepares a COPY and then runs it: two transactions to a
/// pooler in transaction mode, which may hand them to two servers (the second
/// then lacks the statement). Behind a pooler, and outside a transaction, the
/// COPY gets a transaction of its own; returns whether it did.
async fn pin_to_one_server<T: Transport>(conn: &mut PooledConnection<T>) -> Result<bool> {
    let c = conn.conn();
    if c.in_transaction || !c.detect_pooler().await? {
        return Ok(false);
    }
    c.batch("BEGIN").await?;
    Ok(true)
}
