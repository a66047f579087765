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

mod runtime;
mod tls;
mod transport;
mod websocket;

pub use edgepg_core::*;
pub use runtime::TokioRuntime;
pub use transport::TokioTransport;

/// A pool of connections over TCP, Unix sockets or TLS.
pub type Pool = edgepg_core::Pool<TokioTransport>;
/// A session over a shared [`Pool`].
pub type Session = edgepg_core::Session<TokioTransport>;
/// Configures a [`Pool`].
pub type Builder = edgepg_core::Builder<TokioTransport>;
/// A connection checked out of a [`Pool`].
pub type PooledConnection = edgepg_core::PooledConnection<TokioTransport>;
/// A transaction on a pooled connection.
pub type Transaction = edgepg_core::Transaction<TokioTransport>;
