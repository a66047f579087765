//! edgepg-core: the transport-agnostic heart of edgepg.
//!
//! Configuration, [`Session`], [`Results`], the [`Pool`], errors and values,
//! over the [`Transport`] and [`Runtime`] traits. It does no I/O of its own
//! and builds for `wasm32-unknown-unknown`. The PostgreSQL protocol comes from
//! `tokio-postgres` through `connect_raw`; everything around it (hosts,
//! timeouts, TLS policy, pooling) is here.
//!
//! Applications use a transport crate, e.g. `edgepg_tokio`, which re-exports
//! this API with the transport filled in.
//!
//! ```
//! use edgepg_core::{Config, ErrorKind};
//! let config = Config::parse("postgresql://app@db.internal/shop")?;
//! assert_eq!(config.get_dbname(), Some("shop"));
//! assert_eq!(Config::parse("postgresql://db:port/x").unwrap_err().kind(), ErrorKind::Interface);
//! # Ok::<(), edgepg_core::Error>(())
//! ```
#![deny(missing_docs)]

mod cancel;
mod command_tag;
mod config;
mod connect;
mod connection;
mod copy;
mod cursor;
mod deserialize;
mod error;
mod listen;
mod mogrify;
mod on_drop;
mod param_types;
mod pipelined_password;
mod platform;
pub mod pool;
mod results;
mod row;
mod runtime;
mod session;
mod sql_text;
mod transaction;
mod transport;
mod value;

pub use async_trait::async_trait;
pub use cancel::CancelHandle;
pub use config::{Config, Host, IntoConfig, PipelineConnect, TargetSessionAttrs};
pub use connection::Notification;
pub use copy::CopyIn;
pub use cursor::Cursor;
pub use error::{DbErrorFields, Error, ErrorKind, Result};
pub use mogrify::mogrify;
pub use platform::{BoxFuture, BoxStream, MaybeSend, MaybeSync};
pub use pool::{Builder, Pool, PoolStatus, PooledConnection};
pub use results::Results;
pub use row::{Column, ColumnIndex, Row, RowSink};
pub use runtime::Runtime;
pub use session::Session;
pub use tokio_postgres::types::{FromSql, ToSql, Type};
pub use transaction::{IsolationLevel, Statement, Transaction, TransactionOptions};
pub use transport::{BoxSocket, Socket, SslMode, Target, TlsRequest, Transport};
pub use value::text_form::float4_value;
pub use value::Value;
