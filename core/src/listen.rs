//! LISTEN on a dedicated connection that re-LISTENs after a reconnect.

use std::time::Duration;

use futures_channel::mpsc;
use futures_util::future::{select, Either};
use futures_util::StreamExt;

use crate::connection::{Connection, Notification};
use crate::error::Result;
use crate::on_drop::OnDrop;
use crate::platform::BoxStream;
use crate::pool::{pool_closed, Inner, Pool};
use crate::runtime::{timeout, Runtime};
use crate::transport::Transport;

/// How often a listener checks whether its stream was dropped.
const STREAM_CHECK: Duration = Duration::from_millis(200);

/// How long a listener waits for its connection to finish sending Terminate.
const TERMINATE_WAIT: Duration = Duration::from_secs(2);

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
    /// [`Pool::close`] ends the connection (with a Terminate message) and the
    /// stream, and stops reconnecting; after it, `listen` fails with
    /// [`crate::ErrorKind::PoolClosed`] (rule 12).
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
            crate::sql_text::quote_qualified_single(channel)?
        );
        let inner = self.inner.clone();
        // Counted in before any I/O, so that `close()` reaches it at every step.
        let (id, mut stop) = inner.register_listener()?;
        let registration = {
            let inner = inner.clone();
            OnDrop::new(move || inner.listener_gone(id))
        };
        let (tx, rx) = mpsc::unbounded();
        let conn = {
            let first = std::pin::pin!(subscribe(&inner, &listen_sql, &tx));
            match select(first, &mut stop).await {
                Either::Left((conn, _)) => conn?,
                Either::Right(_) => return Err(pool_closed()),
            }
        };
        let rt = inner.rt.clone();
        rt.clone().spawn(Box::pin(async move {
            let _registration = registration;
            let mut conn = Some(conn);
            loop {
                if let Some(mut live) = conn.take() {
                    // Wait until the connection ends, the stream is dropped or the pool closes.
                    let mut ended = std::pin::pin!(live.take_closed_signal());
                    let broken = loop {
                        let tick = select(rt.sleep(STREAM_CHECK), &mut stop);
                        match select(ended.as_mut(), tick).await {
                            Either::Left(_) => break true,
                            Either::Right((Either::Left(_), _)) if !tx.is_closed() => {}
                            Either::Right(_) => break false,
                        }
                    };
                    live.set_listener(None);
                    drop(live);
                    if !broken {
                        // Dropping the connection sent Terminate; let it go out.
                        let _ = timeout(&rt, TERMINATE_WAIT, ended).await;
                        return;
                    }
                }
                if tx.is_closed() {
                    return;
                }
                // Reconnect after `reconnect_interval`, unless the pool closes meanwhile.
                let pause = rt.sleep(inner.options.reconnect_interval);
                if let Either::Right(_) = select(pause, &mut stop).await {
                    return;
                }
                let attempt = std::pin::pin!(subscribe(&inner, &listen_sql, &tx));
                match select(attempt, &mut stop).await {
                    Either::Left((fresh, _)) => conn = fresh.ok(),
                    Either::Right(_) => return,
                }
            }
        }));
        Ok(Box::pin(rx.map(Ok)))
    }
}

/// Opens a dedicated connection that feeds `tx` and LISTENs.
async fn subscribe<T: Transport>(
    inner: &Inner<T>,
    listen_sql: &str,
    tx: &mpsc::UnboundedSender<Notification>,
) -> Result<Connection> {
    let mut conn = inner.open_dedicated().await?;
    conn.set_listener(Some(tx.clone()));
    // Behind a pooler, `batch` refuses the LISTEN with an error that says why.
    conn.batch(listen_sql).await?;
    Ok(conn)
}
