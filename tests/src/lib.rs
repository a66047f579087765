//! Test harness for edgepg.
//!
//! Everything here talks to real things (SPEC §11):
//!
//! * [`PgServer`] — a throwaway PostgreSQL cluster (initdb + pg_ctl on a free
//!   port in a temporary directory, as the `postgres` OS user when run as
//!   root), with TLS certificates, a SCRAM role and connection logging. A
//!   process-wide [`PgServer::shared`] instance serves ordinary tests; fault
//!   tests start private ones with [`PgServer::start`]. When the environment
//!   variable `PGSQL_TEST` holds a PostgreSQL URL, [`PgServer::shared`] uses
//!   that server instead and starts nothing ([`PgServer::is_managed`] is then
//!   false).
//! * [`PgServer::start_standby`] — a streaming standby of a managed server
//!   (`pg_basebackup -R`), synchronous or not, with [`PgServer::promote`] and
//!   [`PgServer::kill`] (`pg_ctl stop -m immediate`) for failovers.
//! * [`PgBouncer`] — Debian's PgBouncer in front of a server, in any pool mode.
//! * [`Relay`] — a real TCP relay that can cut, stall, black-hole or refuse
//!   connections.
//!
//! ```no_run
//! use edgepg_tests::{PgServer, Relay};
//!
//! let pg = PgServer::shared();
//! assert_eq!(pg.psql("SELECT 1").unwrap(), "1");
//! let relay = Relay::start(pg.socket_addr());
//! let url = format!("postgresql://postgres@127.0.0.1:{}/postgres", relay.port());
//! # let _ = url;
//! relay.cut_all();
//! ```

#![deny(missing_docs)]

mod certs;
mod pgbouncer;
mod relay;
mod server;
mod source;
mod util;

pub use certs::{generate as generate_certs, Certs};
pub use pgbouncer::{pgbouncer_bin, PgBouncer};
pub use relay::Relay;
pub use server::{pg_bindir, PgServer, ServerOptions, SCRAM_GROUP, STANDBY_NAME};
pub use source::rust_sources;
