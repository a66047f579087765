//! edgepg on tokio: TCP, Unix sockets, TLS (rustls) and the WebSocket tunnel
//! ([`TokioTransport::websocket`]), with the whole edgepg
//! API re-exported so that `use edgepg_tokio::{Pool, Session, …}` is all a
//! Rust application needs.
//!
//! ```no_run
//! use edgepg_tokio::{Pool, Session};
//!
//! # async fn f() -> edgepg_tokio::Result<()> {
//! let session = Session::new("postgresql://postgres@localhost/postgres")?;
//! let results = session.query("SELECT 1 AS value", &[]).await?;
//! assert_eq!(results.as_dict()?["value"], 1);
//!
//! let pool = Pool::builder("postgresql://postgres@localhost/postgres").max_size(10).build()?;
//! let n: i64 = pool.query("SELECT count(*) FROM pg_class", &[]).await?[0].get(0);
//! # let _ = n; Ok(()) }
//! ```
#![deny(missing_docs)]

#[cfg(feature = "http")]
pub mod http;
mod runtime;
mod tls;
mod transport;
mod websocket;

pub use edgepg_core::*;
pub use runtime::TokioRuntime;
pub use transport::TokioTransport;

/// A pool of connections over TCP, Unix sockets or TLS.
///
/// ```
/// let pool = edgepg_tokio::Pool::new("postgresql://app@localhost/shop")?;
/// assert_eq!(pool.config().get_dbname(), Some("shop"));
/// assert_eq!(pool.status().size, 0); // connections open on first use
/// # Ok::<(), edgepg_tokio::Error>(())
/// ```
pub type Pool = edgepg_core::Pool<TokioTransport>;
/// A session over a shared [`Pool`].
///
/// ```
/// use edgepg_tokio::Session;
/// let session = Session::new("postgresql://app@localhost/shop")?;
/// assert_eq!(session.pool().config().get_user(), Some("app"));
/// # Ok::<(), edgepg_tokio::Error>(())
/// ```
pub type Session = edgepg_core::Session<TokioTransport>;
/// Configures a [`Pool`].
///
/// ```
/// use edgepg_tokio::{Builder, Pool};
/// let builder: Builder = Pool::builder("postgresql://app@localhost/shop").max_size(4);
/// assert_eq!(builder.build()?.status().max_size, 4);
/// assert!(Pool::builder("postgresql://app@localhost/shop").max_size(0).build().is_err());
/// # Ok::<(), edgepg_tokio::Error>(())
/// ```
pub type Builder = edgepg_core::Builder<TokioTransport>;
/// A connection checked out of a [`Pool`].
///
/// ```no_run
/// # async fn f() -> edgepg_tokio::Result<()> {
/// use edgepg_tokio::{Pool, PooledConnection};
/// let pool = Pool::new("postgresql://app@localhost/shop")?;
/// let mut conn: PooledConnection = pool.getconn().await?;
/// conn.batch_execute("SET search_path TO shop").await?;
/// pool.putconn(conn);
/// # Ok(()) }
/// ```
pub type PooledConnection = edgepg_core::PooledConnection<TokioTransport>;
/// A transaction on a pooled connection.
///
/// ```no_run
/// # async fn f() -> edgepg_tokio::Result<()> {
/// use edgepg_tokio::{Session, Transaction};
/// let session = Session::new("postgresql://app@localhost/shop")?;
/// let mut tx: Transaction = session.begin().await?;
/// tx.execute("UPDATE stock SET n = n - 1 WHERE id = $1", &[&7i32]).await?;
/// tx.commit().await?;
/// # Ok(()) }
/// ```
pub type Transaction = edgepg_core::Transaction<TokioTransport>;
