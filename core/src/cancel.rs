//! [`CancelHandle`]: cancels the statement running on one connection, from
//! anywhere, while that connection is busy.

use crate::error::Result;
use crate::transport::{Target, Transport};

/// Sends PostgreSQL's cancel request for whatever statement one connection is
/// running (taken with [`crate::PooledConnection::cancel_handle`] before the
/// statement starts, since the statement borrows the connection).
///
/// The statement then fails with [`crate::ErrorKind::QueryCanceled`] and the
/// connection stays usable; a cancel that arrives when nothing runs does nothing.
///
/// ```no_run
/// # async fn f(pool: edgepg_core::Pool<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
/// use edgepg_core::ErrorKind;
/// let mut conn = pool.getconn().await?;
/// let cancel = conn.cancel_handle();
/// let sleep = conn.execute("SELECT pg_sleep(10)", &[]);
/// let (slept, _) = futures_util::join!(sleep, cancel.cancel());
/// assert_eq!(slept.unwrap_err().kind(), ErrorKind::QueryCanceled);
/// # Ok(()) }
/// ```
pub struct CancelHandle<T: Transport> {
    transport: T,
    target: Target,
    token: tokio_postgres::CancelToken,
}

impl<T: Transport> CancelHandle<T> {
    pub(crate) fn new(transport: T, target: Target, token: tokio_postgres::CancelToken) -> Self {
        CancelHandle {
            transport,
            target,
            token,
        }
    }

    /// Opens a fresh connection to the same server and sends the cancel request.
    ///
    /// ```no_run
    /// # async fn f(pool: edgepg_core::Pool<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
    /// let conn = pool.getconn().await?;
    /// conn.cancel_handle().cancel().await?; // nothing runs: nothing happens
    /// # Ok(()) }
    /// ```
    pub async fn cancel(&self) -> Result<()> {
        crate::connect::cancel(&self.transport, &self.target, &self.token).await
    }
}
