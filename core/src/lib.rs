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
//! # Layers
//!
//! Each file imports only from its own layer or those below it, with no
//! cycle among files (a directory module counts with its submodules);
//! `tests/tests/layers.rs` checks it. From the ground up:
//!
//! 1. **ground**: `platform`, `runtime`, `error`, `on_drop`, `sql_text`, `command_tag`
//! 2. **values**: `value` (with `value/text_form/`), `row` (and `Column`), `deserialize`, `results`
//! 3. **wire**: `transport` (`Target`, `SslMode`), `config`
//! 4. **connection**: `param_types`, `pipelined_password`, `connection`, `connect`, `cancel`, `mogrify`
//! 5. **pool**: `pool/` (opening, checkout, pipelining, `PooledConnection`, the statement methods of `Pool`)
//! 6. **user-facing**: `transaction`, `cursor`, `listen`, `copy`, `session`
//!
//! One query, from the API to the socket, in five files: `Session::query`
//! (`session.rs`) → `Pool::run_statement` (`pool/statements.rs`: the retry
//! rule, the query timeout) → `Inner::lease` (`pool/pipeline.rs`: a
//! connection of its own, checked out through `pool/checkout.rs`, or a share
//! of a busy one) → `Connection::run` (`connection.rs`: the statement cache,
//! then tokio-postgres' client, whose driver task writes) → the [`Socket`]
//! of `transport.rs`, opened by the transport crate.
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
pub use config::{Config, Host, IntoConfig, LoadBalanceHosts, PipelineConnect, TargetSessionAttrs};
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
