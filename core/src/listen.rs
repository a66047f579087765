//! LISTEN on a dedicated connection that re-LISTENs after a reconnect.

use std::time::Duration;

use futures_channel::mpsc;
use futures_util::future::{select, Either};
use futures_util::StreamExt;

use crate::connection::Notification;
use crate::error::Result;
use crate::platform::BoxStream;
use crate::pool::Pool;
use crate::runtime::Runtime;
use crate::transport::Transport;

impl<T: Transport> Pool<T> {
    /// Delivers the NOTIFY payloads of `channel`, on a dedicated connection
    /// outside the pool's capacity. If the connection breaks, it reconnects every
    /// `reconnect_interval` and LISTENs again (notifications sent while
    /// disconnected are lost, as with any LISTEN). Dropping the stream UNLISTENs
    /// by closing that connection.
    ///
    /// The first LISTEN happens before this returns, so a NOTIFY sent afterwards
    /// is delivered.
    ///
    /// ```no_run
    /// # async fn f(pool: edgepg_core::Pool<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
    /// use futures_util::TryStreamExt;
    /// let mut events = pool.listen("jobs").await?;
    /// pool.execute("NOTIFY jobs, 'ready'", &[]).await?;
    /// let n = events.try_next().await?.expect("stream ended");
    /// assert_eq!((n.channel.as_str(), n.payload.as_str()), ("jobs", "ready"));
    /// # Ok(()) }
    /// ```
    pub async fn listen(&self, channel: &str) -> Result<BoxStream<'static, Result<Notification>>> {
        let listen_sql = format!(
            "LISTEN {}",
            crate::execute::quote_qualified_single(channel)?
        );
        let (tx, rx) = mpsc::unbounded();
        let inner = self.inner.clone();
        let mut conn = inner.open_dedicated().await?;
        conn.set_listener(Some(tx.clone()));
        conn.batch(&listen_sql).await?;
        let rt = inner.rt.clone();
        rt.clone().spawn(Box::pin(async move {
            let mut conn = Some(conn);
            loop {
                if let Some(mut live) = conn.take() {
                    // Wait until the connection ends or the listener goes away.
                    let closed = live.take_closed_signal();
                    let mut closed = std::pin::pin!(closed);
                    loop {
                        let tick = rt.sleep(Duration::from_millis(200));
                        match select(closed.as_mut(), tick).await {
                            Either::Left(_) => break,
                            Either::Right(_) if tx.is_closed() => return,
                            Either::Right(_) => {}
                        }
                    }
                }
                if tx.is_closed() {
                    return;
                }
                rt.sleep(inner.options.reconnect_interval).await;
                if let Ok(mut fresh) = inner.open_dedicated().await {
                    fresh.set_listener(Some(tx.clone()));
                    if fresh.batch(&listen_sql).await.is_ok() {
                        conn = Some(fresh);
                    }
                }
            }
        }));
        Ok(Box::pin(rx.map(Ok)))
    }
}
