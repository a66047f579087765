//! The server connections behind `POST /sql`: one bounded [`Pool`] per
//! destination and login (host:port, user, database, password, TLS mode,
//! startup options), made on first use and dropped once it has been empty
//! for the idle timeout. Every new server connection resolves and checks its
//! destination against the allow-list again ([`CheckedTransport`]), and the
//! server checks the credentials of every new connection: a wrong password
//! is its own key, never served by a pool of the right one.

use std::collections::HashMap;
use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use edgepg_core::{async_trait, BoxSocket, Pool, Target, TlsRequest, Transport};
use edgepg_tokio::{TokioRuntime, TokioTransport};
use tokio::time::Instant;
use tracing::debug;

use crate::address::{self, AllowList};
use crate::metrics::Metrics;
use crate::metrics::Reject;
use crate::shared::{connect, refused, resolve_checked, Refused};
use crate::Options;

/// Opens server connections for the pools: resolves the destination, checks
/// every address against the allow-list, connects only to those (as the
/// tunnel does), and leaves TLS to [`TokioTransport`].
#[derive(Clone)]
pub(crate) struct CheckedTransport {
    allow: Arc<AllowList>,
    connect_timeout: Duration,
    metrics: Arc<Metrics>,
    tls: TokioTransport,
}

#[async_trait]
impl Transport for CheckedTransport {
    type Runtime = TokioRuntime;

    fn runtime(&self) -> TokioRuntime {
        TokioRuntime
    }

    async fn connect(&self, target: &Target) -> io::Result<BoxSocket> {
        let Target::Tcp { .. } = target else {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                "Unix sockets are not reachable through the proxy",
            ));
        };
        let dest = address::parse_address(&target.to_string()).map_err(|e| {
            io::Error::new(io::ErrorKind::InvalidInput, format!("invalid address: {e}"))
        })?;
        let deadline = Instant::now() + self.connect_timeout;
        let addrs = resolve_checked(&self.allow, &dest, deadline)
            .await
            .map_err(|r| io::Error::new(io::ErrorKind::PermissionDenied, r.message))?;
        let stream = connect(&addrs, deadline)
            .await
            .map_err(|(_, e)| io::Error::new(io::ErrorKind::ConnectionRefused, e))?;
        let _ = stream.set_nodelay(true);
        self.metrics.sql_server_connect();
        Ok(Box::new(stream))
    }

    fn supports_tls(&self) -> bool {
        true
    }

    async fn upgrade_tls(&self, socket: BoxSocket, request: &TlsRequest) -> io::Result<BoxSocket> {
        self.tls.upgrade_tls(socket, request).await
    }
}

/// What identifies a pool: everything that decides which server session a
/// connection opens. (No `Debug`: it holds the password.)
#[derive(Clone, PartialEq, Eq, Hash)]
pub(crate) struct Key {
    pub(crate) dest: String,
    pub(crate) user: String,
    pub(crate) dbname: String,
    pub(crate) password: Option<String>,
    pub(crate) ssl_mode: &'static str,
    pub(crate) application_name: Option<String>,
    /// The connection string as given: any other parameter (`options`,
    /// `target_session_attrs`, …) makes its own pool too.
    pub(crate) url: String,
}

struct Entry {
    pool: Pool<CheckedTransport>,
    last_used: Instant,
}

/// The pools, bounded in number (`--sql-max-pools`) and size (`--sql-pool-size`).
pub(crate) struct Pools {
    map: Mutex<HashMap<Key, Entry>>,
    transport: CheckedTransport,
    max_pools: usize,
    pool_size: usize,
    idle_timeout: Duration,
    acquire_timeout: Duration,
    statement_timeout: Duration,
}

impl Pools {
    pub(crate) fn new(opts: &Options, allow: Arc<AllowList>, metrics: Arc<Metrics>) -> Pools {
        Pools {
            map: Mutex::new(HashMap::new()),
            transport: CheckedTransport {
                allow,
                connect_timeout: opts.connect_timeout,
                metrics,
                tls: TokioTransport::new(),
            },
            max_pools: opts.sql_max_pools.max(1),
            pool_size: opts.sql_pool_size.max(1),
            idle_timeout: opts.sql_pool_idle_timeout,
            acquire_timeout: opts.sql_acquire_timeout,
            statement_timeout: opts.sql_statement_timeout,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Entry>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The pool for `key`, made from `config` when there is none yet.
    pub(crate) fn get(
        &self,
        key: &Key,
        config: edgepg_core::Config,
    ) -> Result<Pool<CheckedTransport>, Refused> {
        let now = Instant::now();
        let mut map = self.lock();
        if let Some(entry) = map.get_mut(key) {
            entry.last_used = now;
            return Ok(entry.pool.clone());
        }
        self.reap_locked(&mut map, now);
        if map.len() >= self.max_pools {
            // Make room: the least recently used pool nobody is using.
            let victim = map
                .iter()
                .filter(|(_, e)| {
                    let s = e.pool.status();
                    s.in_use == 0 && s.pending == 0 && s.waiting == 0
                })
                .min_by_key(|(_, e)| e.last_used)
                .map(|(k, _)| k.clone());
            match victim.and_then(|k| map.remove(&k)) {
                Some(entry) => close_later(entry.pool),
                None => {
                    return Err(refused(
                        Reject::TooManyConnections,
                        503,
                        format!(
                            "every one of the {} server connection pools is busy",
                            self.max_pools
                        ),
                    ))
                }
            }
        }
        let mut builder = Pool::builder_with(config, self.transport.clone())
            .min_size(0)
            .max_size(self.pool_size)
            .acquire_timeout(self.acquire_timeout)
            .raise_connect_errors(true);
        if !self.idle_timeout.is_zero() {
            builder = builder.idle_timeout(self.idle_timeout);
        }
        if !self.statement_timeout.is_zero() {
            builder = builder.query_timeout(self.statement_timeout);
        }
        let pool = builder
            .build()
            .map_err(|e| refused(Reject::BadRequest, 400, e.message().to_string()))?;
        debug!(dest = %key.dest, user = %key.user, db = %key.dbname, "sql pool made");
        map.insert(
            key.clone(),
            Entry {
                pool: pool.clone(),
                last_used: now,
            },
        );
        Ok(pool)
    }

    /// Whether there is a pool for `key`.
    pub(crate) fn contains(&self, key: &Key) -> bool {
        self.lock().contains_key(key)
    }

    /// Drops the pool of `key` when it holds no connection (after a failed
    /// connect: a wrong password, a database that does not exist).
    pub(crate) fn forget_if_empty(&self, key: &Key) {
        let mut map = self.lock();
        let empty = map.get(key).is_some_and(|e| {
            let s = e.pool.status();
            s.size == 0 && s.in_use == 0 && s.pending == 0 && s.waiting == 0
        });
        if empty {
            if let Some(entry) = map.remove(key) {
                close_later(entry.pool);
            }
        }
    }

    /// Drops the pools that have been empty for the idle timeout.
    pub(crate) fn reap(&self) {
        let mut map = self.lock();
        self.reap_locked(&mut map, Instant::now());
    }

    fn reap_locked(&self, map: &mut HashMap<Key, Entry>, now: Instant) {
        let idle = self.idle_timeout.max(Duration::from_secs(1));
        let stale: Vec<Key> = map
            .iter()
            .filter(|(_, e)| {
                let s = e.pool.status();
                s.size == 0 && s.waiting == 0 && now.saturating_duration_since(e.last_used) >= idle
            })
            .map(|(k, _)| k.clone())
            .collect();
        for k in stale {
            if let Some(entry) = map.remove(&k) {
                close_later(entry.pool);
            }
        }
    }

    /// How many pools and server connections there are now.
    pub(crate) fn counts(&self) -> (usize, usize) {
        let map = self.lock();
        let conns = map.values().map(|e| e.pool.status().size).sum();
        (map.len(), conns)
    }

    /// Closes every pool (on shutdown): server connections end with Terminate.
    pub(crate) async fn close_all(&self) {
        let pools: Vec<Pool<CheckedTransport>> = self.lock().drain().map(|(_, e)| e.pool).collect();
        for pool in pools {
            pool.close().await;
        }
    }
}

/// Closes a pool in the background (in-use connections finish first).
fn close_later(pool: Pool<CheckedTransport>) {
    if let Ok(handle) = tokio::runtime::Handle::try_current() {
        handle.spawn(async move { pool.close().await });
    }
}
