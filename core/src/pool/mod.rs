//! The connection pool: every rule of SPEC §4 lives in this module.
//!
//! `State` is guarded by a plain mutex that is never held across an await;
//! connects run as spawned tasks so that a caller dropping its future can
//! never leak capacity (rule 11).

mod builder;
mod checkout;
mod connection;
mod hooks;
mod maintain;
mod pipeline;
mod statements;
mod status;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use futures_channel::oneshot;

pub use builder::Builder;
pub(crate) use builder::Options;
pub use connection::PooledConnection;
pub use hooks::PoolEvent;
pub use status::PoolStatus;

use crate::config::{Config, IntoConfig};
use crate::connect::{close_gracefully, connect};
use crate::connection::{CacheStats, Connection};
use crate::error::{Error, ErrorKind, Result};
use crate::on_drop::OnDrop;
use crate::runtime::Runtime;
use crate::transport::Transport;
use std::sync::atomic::Ordering;

/// How long a liveness ping may take when no `connect_timeout` is configured.
const PING_TIMEOUT: Duration = Duration::from_secs(2);

/// The bound on one connect attempt when the configuration sets no `connect_timeout`.
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A pool of connections to one database, generic over the [`Transport`].
///
/// Cloning is cheap and shares the pool. Transport crates name a concrete
/// type, e.g. `edgepg_tokio::Pool`.
///
/// ```no_run
/// # async fn f(pool: edgepg_core::Pool<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
/// let worker = pool.clone();
/// let task = tokio::spawn(async move { worker.execute("ANALYZE jobs", &[]).await });
/// pool.execute("DELETE FROM jobs WHERE done", &[]).await?;
/// task.await.expect("task panicked")?;
/// # Ok(()) }
/// ```
pub struct Pool<T: Transport> {
    pub(crate) inner: Arc<Inner<T>>,
}

impl<T: Transport> Clone for Pool<T> {
    fn clone(&self) -> Self {
        Pool {
            inner: self.inner.clone(),
        }
    }
}

pub(crate) struct Inner<T: Transport> {
    pub(crate) config: Config,
    pub(crate) transport: T,
    pub(crate) rt: T::Runtime,
    pub(crate) options: Options,
    pub(crate) state: Mutex<State>,
    pub(crate) cache_stats: Arc<CacheStats>,
}

struct Waiter {
    id: u64,
    tx: oneshot::Sender<Result<Connection>>,
}

#[derive(Default)]
pub(crate) struct State {
    /// Idle connections, most recently used last (rule 2).
    idle: Vec<Connection>,
    /// Callers waiting for a connection, oldest first (rule 2).
    waiters: VecDeque<Waiter>,
    /// Idle + in use + connecting; never above `max_size` (rule 3).
    open: usize,
    connecting: usize,
    in_use: usize,
    closed: bool,
    /// The last connect failure and when it happened, while no connect has succeeded since (rule 7).
    down: Option<(Error, Duration)>,
    last_connect_error: Option<Error>,
    maintainer_started: bool,
    next_waiter: u64,
    /// Connections shared by in-flight independent statements.
    pipelines: Vec<pipeline::Pipeline>,
    next_pipeline: u64,
    /// The running LISTEN connections (outside the capacity), each with how to
    /// stop it when the pool closes (rule 12); `close()` waits for them to go.
    listeners: Vec<(u64, Option<oneshot::Sender<()>>)>,
    next_listener: u64,
    counters: PoolStatus,
}

impl<T: Transport + Default> Pool<T> {
    /// Starts configuring a pool for a URL, DSN or [`Config`], on the default transport.
    ///
    /// ```
    /// # use edgepg_core::{async_trait, BoxFuture, BoxSocket, Pool, Runtime, Target, Transport};
    /// # #[derive(Clone, Default)] struct Offline;
    /// # impl Runtime for Offline { fn spawn(&self, _: BoxFuture<'static, ()>) {} fn sleep(&self, _: std::time::Duration) -> BoxFuture<'static, ()> { Box::pin(async {}) } fn now(&self) -> std::time::Duration { Default::default() } }
    /// # #[async_trait] impl Transport for Offline { type Runtime = Self; fn runtime(&self) -> Self { Self } async fn connect(&self, _: &Target) -> std::io::Result<BoxSocket> { Err(std::io::ErrorKind::Unsupported.into()) } }
    /// let builder = Pool::<Offline>::builder("postgresql://db:port/shop");
    /// assert!(builder.max_size(5).build().is_err());
    /// ```
    pub fn builder(config: impl IntoConfig) -> Builder<T> {
        Builder::new(config.into_config(), T::default())
    }

    /// A pool with default options.
    ///
    /// ```
    /// # use edgepg_core::{async_trait, BoxFuture, BoxSocket, Pool, Runtime, Target, Transport};
    /// # #[derive(Clone, Default)] struct Offline;
    /// # impl Runtime for Offline { fn spawn(&self, _: BoxFuture<'static, ()>) {} fn sleep(&self, _: std::time::Duration) -> BoxFuture<'static, ()> { Box::pin(async {}) } fn now(&self) -> std::time::Duration { Default::default() } }
    /// # #[async_trait] impl Transport for Offline { type Runtime = Self; fn runtime(&self) -> Self { Self } async fn connect(&self, _: &Target) -> std::io::Result<BoxSocket> { Err(std::io::ErrorKind::Unsupported.into()) } }
    /// use edgepg_core::ErrorKind;
    /// let pool = Pool::<Offline>::new("postgresql://app@db/shop")?;
    /// assert_eq!((pool.status().min_size, pool.status().max_size), (1, 25));
    /// let bad = Pool::<Offline>::new("mysql://db/shop").err().map(|e| e.kind());
    /// assert_eq!(bad, Some(ErrorKind::Interface));
    /// # Ok::<(), edgepg_core::Error>(())
    /// ```
    pub fn new(config: impl IntoConfig) -> Result<Pool<T>> {
        Pool::builder(config).build()
    }
}

impl<T: Transport> Pool<T> {
    /// Starts configuring a pool on an explicit transport.
    ///
    /// ```no_run
    /// # fn f<T: edgepg_core::Transport>(transport: T) -> edgepg_core::Result<()> {
    /// let pool = edgepg_core::Pool::builder_with("postgresql://app@db/shop", transport)
    ///     .min_size(0)
    ///     .build()?;
    /// # Ok(()) }
    /// ```
    pub fn builder_with(config: impl IntoConfig, transport: T) -> Builder<T> {
        Builder::new(config.into_config(), transport)
    }

    /// The configuration the pool connects with.
    ///
    /// ```
    /// # use edgepg_core::{async_trait, BoxFuture, BoxSocket, Pool, Runtime, Target, Transport};
    /// # #[derive(Clone, Default)] struct Offline;
    /// # impl Runtime for Offline { fn spawn(&self, _: BoxFuture<'static, ()>) {} fn sleep(&self, _: std::time::Duration) -> BoxFuture<'static, ()> { Box::pin(async {}) } fn now(&self) -> std::time::Duration { Default::default() } }
    /// # #[async_trait] impl Transport for Offline { type Runtime = Self; fn runtime(&self) -> Self { Self } async fn connect(&self, _: &Target) -> std::io::Result<BoxSocket> { Err(std::io::ErrorKind::Unsupported.into()) } }
    /// let pool = Pool::<Offline>::new("postgresql://app@db/shop")?;
    /// assert_eq!(pool.config().get_user(), Some("app"));
    /// assert_eq!(pool.config().get_dbname(), Some("shop"));
    /// # Ok::<(), edgepg_core::Error>(())
    /// ```
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// Opens `min_size` connections in parallel (rule 1).
    ///
    /// With `raise_connect_errors` (the default), fails with
    /// [`ErrorKind::PartiallyConnected`] when any could not be opened.
    ///
    /// ```no_run
    /// # async fn f(pool: edgepg_core::Pool<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
    /// if let Err(e) = pool.connect().await {
    ///     let (opened, failed) = e.connect_counts().unwrap_or_default();
    ///     eprintln!("{opened} connections open, {failed} failed: {e}");
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn connect(&self) -> Result<()> {
        let inner = &self.inner;
        inner.ensure_maintainer();
        // Each attempt is a task of its own that books its outcome itself, so a
        // caller dropping this future leaves no slot behind (rule 11).
        let reports: Vec<_> = {
            let mut st = inner.lock();
            if st.closed {
                return Err(pool_closed());
            }
            let n = inner.options.min_size.saturating_sub(st.open);
            (0..n)
                .map(|_| {
                    let (tx, rx) = oneshot::channel();
                    inner.spawn_open_reporting(&mut st, Some(tx));
                    rx
                })
                .collect()
        };
        let wanted = reports.len();
        let outcomes = futures_util::future::join_all(reports).await;
        let failed: Vec<Error> = outcomes
            .into_iter()
            .filter_map(|r| r.unwrap_or_else(|_| Err(open_dropped())).err())
            .collect();
        match failed.first() {
            Some(first) if inner.options.raise_connect_errors => Err(Error::partially_connected(
                wanted - failed.len(),
                failed.len(),
                first.clone(),
            )),
            _ => Ok(()),
        }
    }

    /// Checks out a connection; it returns to the pool when dropped (momoko `getconn`).
    ///
    /// ```no_run
    /// # async fn f(pool: edgepg_core::Pool<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
    /// let mut conn = pool.getconn().await?;
    /// conn.batch_execute("CREATE TEMP TABLE scratch (n int)").await?;
    /// conn.execute("INSERT INTO scratch VALUES ($1)", &[&1i32]).await?;
    /// # Ok(()) }
    /// ```
    pub async fn getconn(&self) -> Result<PooledConnection<T>> {
        self.inner.acquire().await
    }

    /// Returns a connection explicitly (momoko `putconn`); the same as dropping it.
    ///
    /// ```no_run
    /// # async fn f(pool: edgepg_core::Pool<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
    /// let conn = pool.getconn().await?;
    /// pool.putconn(conn);
    /// assert_eq!(pool.status().in_use, 0);
    /// # Ok(()) }
    /// ```
    pub fn putconn(&self, conn: PooledConnection<T>) {
        drop(conn)
    }

    /// Sizes and counters right now.
    ///
    /// ```
    /// # use edgepg_core::{async_trait, BoxFuture, BoxSocket, Pool, Runtime, Target, Transport};
    /// # #[derive(Clone, Default)] struct Offline;
    /// # impl Runtime for Offline { fn spawn(&self, _: BoxFuture<'static, ()>) {} fn sleep(&self, _: std::time::Duration) -> BoxFuture<'static, ()> { Box::pin(async {}) } fn now(&self) -> std::time::Duration { Default::default() } }
    /// # #[async_trait] impl Transport for Offline { type Runtime = Self; fn runtime(&self) -> Self { Self } async fn connect(&self, _: &Target) -> std::io::Result<BoxSocket> { Err(std::io::ErrorKind::Unsupported.into()) } }
    /// use edgepg_core::PoolStatus;
    /// let pool = Pool::<Offline>::new("postgresql://app@db/shop")?;
    /// let fresh = PoolStatus { min_size: 1, max_size: 25, ..PoolStatus::default() };
    /// assert_eq!(pool.status(), fresh);
    /// # Ok::<(), edgepg_core::Error>(())
    /// ```
    pub fn status(&self) -> PoolStatus {
        let st = self.inner.lock();
        let mut s = st.counters.clone();
        s.size = st.open;
        s.idle = st.idle.len();
        s.in_use = st.in_use;
        s.pending = st.connecting;
        s.waiting = st.waiters.len();
        s.min_size = self.inner.options.min_size;
        s.max_size = self.inner.options.max_size;
        s.closed = st.closed;
        s.statement_cache_hits = self.inner.cache_stats.hits.load(Ordering::Relaxed);
        s.statement_cache_misses = self.inner.cache_stats.misses.load(Ordering::Relaxed);
        s.statement_cache_evictions = self.inner.cache_stats.evictions.load(Ordering::Relaxed);
        s
    }

    /// Closes the pool (rule 12): new checkouts and waiters fail with
    /// [`ErrorKind::PoolClosed`], connections in use finish their work, and every
    /// connection ends with a Terminate message, [`Pool::listen`] ones included
    /// (their streams end).
    ///
    /// ```no_run
    /// # async fn f(pool: edgepg_core::Pool<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
    /// use edgepg_core::ErrorKind;
    /// pool.close().await;
    /// let after = pool.getconn().await.err().map(|e| e.kind());
    /// assert_eq!(after, Some(ErrorKind::PoolClosed));
    /// # Ok(()) }
    /// ```
    pub async fn close(&self) {
        let inner = &self.inner;
        let (idle, waiters) = {
            let mut st = inner.lock();
            st.closed = true;
            let idle = std::mem::take(&mut st.idle);
            st.open -= idle.len();
            st.counters.closed_by_close += idle.len() as u64;
            for stop in st.listeners.iter_mut().filter_map(|(_, stop)| stop.take()) {
                let _ = stop.send(());
            }
            (idle, std::mem::take(&mut st.waiters))
        };
        for w in waiters {
            let _ = w.tx.send(Err(pool_closed()));
        }
        let pids: Vec<Option<i32>> = idle.iter().map(|c| c.backend_pid).collect();
        let closing = idle.into_iter().map(|c| close_gracefully(&inner.rt, c));
        futures_util::future::join_all(closing).await;
        for process_id in pids {
            inner.fire(PoolEvent::Closed {
                error: None,
                idle: true,
                process_id,
            });
        }
        // Connections in use are closed as they come back, and listeners as they
        // see the stop signal; wait for them (bounded).
        let start = inner.rt.now();
        while inner.rt.now().saturating_sub(start) < Duration::from_secs(30) {
            let busy = {
                let st = inner.lock();
                st.in_use + st.connecting + st.listeners.len()
            };
            if busy == 0 {
                break;
            }
            inner.rt.sleep(Duration::from_millis(5)).await;
        }
        // Let the drivers of connections released meanwhile send Terminate.
        inner.rt.sleep(Duration::from_millis(1)).await;
    }

    /// True after [`Pool::close`].
    ///
    /// ```no_run
    /// # async fn f(pool: edgepg_core::Pool<impl edgepg_core::Transport>) {
    /// let handle = pool.clone();
    /// handle.close().await;
    /// assert!(pool.is_closed());
    /// # }
    /// ```
    pub fn is_closed(&self) -> bool {
        self.inner.lock().closed
    }
}

impl<T: Transport> Inner<T> {
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn now(&self) -> Duration {
        self.rt.now()
    }

    pub(crate) fn spawn_open(self: &Arc<Self>, st: &mut State) {
        self.spawn_open_reporting(st, None)
    }

    /// Opens one connection in a task of its own; `report` learns how it went.
    fn spawn_open_reporting(
        self: &Arc<Self>,
        st: &mut State,
        report: Option<oneshot::Sender<Result<()>>>,
    ) {
        st.open += 1;
        st.connecting += 1;
        let inner = self.clone();
        self.rt.spawn(Box::pin(async move {
            // If the runtime drops this task midway, give the slot back.
            let slot = OnDrop::new(|| inner.open_abandoned());
            let result = inner.open_connection().await;
            slot.disarm();
            let outcome = report.map(|tx| (tx, result.as_ref().map(|_| ()).map_err(Clone::clone)));
            let ok = result.is_ok();
            inner.opened(result);
            if ok {
                inner.fire(PoolEvent::Opened);
            }
            if let Some((tx, outcome)) = outcome {
                let _ = tx.send(outcome);
            }
        }));
    }

    /// A connect task was dropped before it finished (its runtime shut down).
    fn open_abandoned(self: &Arc<Self>) {
        let mut st = self.lock();
        st.connecting -= 1;
        st.open -= 1;
        self.replenish(&mut st);
    }

    /// A connection outside the pool's capacity (for LISTEN).
    pub(crate) async fn open_dedicated(&self) -> Result<Connection> {
        self.open_connection().await
    }

    /// Counts a new LISTEN connection in, unless the pool is closed; the
    /// receiver completes when `close()` wants it ended (rule 12). Pair with
    /// [`Self::listener_gone`].
    pub(crate) fn register_listener(&self) -> Result<(u64, oneshot::Receiver<()>)> {
        let mut st = self.lock();
        if st.closed {
            return Err(pool_closed());
        }
        let (tx, rx) = oneshot::channel();
        let id = st.next_listener;
        st.next_listener += 1;
        st.listeners.push((id, Some(tx)));
        Ok((id, rx))
    }

    /// A LISTEN connection has ended (its Terminate sent).
    pub(crate) fn listener_gone(&self, id: u64) {
        let mut st = self.lock();
        st.listeners.retain(|(i, _)| *i != id);
    }

    /// Opens one connection and runs `setsession` on it (rule 9).
    async fn open_connection(&self) -> Result<Connection> {
        // A connect that never answers must not hold a slot forever.
        let mut config = self.config.clone();
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(DEFAULT_CONNECT_TIMEOUT);
        }
        let mut conn = connect(&config, &self.transport).await.map_err(|e| {
            // The server answering "shutting down" / "starting up" is as unavailable as
            // no answer; a refused login or a missing database is a real error.
            let starting_or_stopping = e
                .code()
                .is_some_and(|c| c.starts_with("57P") || c.starts_with("08"));
            if (e.db_error().is_some() && !starting_or_stopping) || e.kind() == ErrorKind::Interface
            {
                e
            } else {
                Error::with_source(
                    ErrorKind::DatabaseNotAvailable,
                    format!("cannot reach the database: {}", e.message()),
                    e,
                )
            }
        })?;
        conn.set_statement_cache(self.options.statement_cache_size, self.cache_stats.clone());
        for statement in &self.options.setsession {
            if let Err(e) = conn.batch(statement).await {
                return Err(Error::with_source(
                    e.kind(),
                    format!(
                        "setsession statement \"{statement}\" failed: {}",
                        e.message()
                    ),
                    e,
                ));
            }
        }
        conn.created_at = self.now();
        conn.idle_since = conn.created_at;
        Ok(conn)
    }

    /// Books the outcome of a connect: hand the connection to the oldest waiter,
    /// or fail waiters with the connect error (rule 7).
    fn opened(self: &Arc<Self>, result: Result<Connection>) {
        let mut st = self.lock();
        st.connecting -= 1;
        match result {
            Ok(conn) => {
                st.down = None;
                st.counters.created += 1;
                if st.closed {
                    st.open -= 1;
                    st.counters.closed_by_close += 1;
                    drop(st);
                    drop(conn);
                    return;
                }
                self.hand_over(&mut st, conn);
            }
            Err(e) => {
                st.open -= 1;
                st.counters.connect_failures += 1;
                st.last_connect_error = Some(e.clone());
                st.down = Some((e.clone(), self.now()));
                let failing: Vec<Waiter> = if st.connecting == 0 {
                    st.waiters.drain(..).collect()
                } else {
                    st.waiters.pop_front().into_iter().collect()
                };
                drop(st);
                for w in failing {
                    let _ = w.tx.send(Err(e.clone()));
                }
            }
        }
    }

    /// Tells the `on_event` callback, if any (never call with the lock held).
    pub(crate) fn fire(&self, event: PoolEvent) {
        if let Some(hook) = &self.options.on_event {
            hook.fire(&event);
        }
    }
}

/// A connect task the runtime dropped before it finished.
fn open_dropped() -> Error {
    Error::new(
        ErrorKind::DatabaseNotAvailable,
        "the connect was abandoned before it finished (the runtime shut down)",
    )
}

pub(crate) fn pool_closed() -> Error {
    Error::new(ErrorKind::PoolClosed, "the pool is closed")
}

impl State {
    pub(crate) fn counters_retry(&mut self) {
        self.counters.retries += 1;
    }
}
