//! The connection pool: every rule of SPEC §4 lives in this module.
//!
//! `State` is guarded by a plain mutex that is never held across an await;
//! connects run as spawned tasks so that a caller dropping its future can
//! never leak capacity (rule 11).

mod builder;
mod connection;
mod hooks;
mod maintain;
mod pipeline;
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
use crate::runtime::{timeout, Runtime};
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

    /// Checks out a connection (rules 2–5, 7, 11).
    pub(crate) async fn acquire(self: &Arc<Self>) -> Result<PooledConnection<T>> {
        self.acquire_pinging(self.options.ping_on_checkout).await
    }

    /// Like `acquire`, pinging idle connections first when `ping` is set (used
    /// for a retry, so that it lands on a connection known to be alive).
    pub(crate) async fn acquire_pinging(
        self: &Arc<Self>,
        ping: bool,
    ) -> Result<PooledConnection<T>> {
        self.ensure_maintainer();
        let start = self.now();
        let limit = self.options.acquire_timeout;
        loop {
            let next = self.try_acquire(limit)?;
            let conn = match next {
                Next::Ready(conn) => conn,
                Next::Wait(mut waiter) => {
                    let received = if limit.is_zero() {
                        Some(waiter.recv().await)
                    } else {
                        let left = limit.saturating_sub(self.now().saturating_sub(start));
                        timeout(&self.rt, left, waiter.recv()).await
                    };
                    match received {
                        Some(Ok(conn)) => {
                            waiter.disarm();
                            conn
                        }
                        Some(Err(e)) => {
                            waiter.disarm();
                            return Err(e);
                        }
                        None => {
                            drop(waiter);
                            return Err(self.timed_out(limit));
                        }
                    }
                }
            };
            // The acquire timeout bounds the ping too (rule 4).
            let deadline = (!limit.is_zero()).then(|| start + limit);
            match self.checked(conn, ping, deadline).await {
                Checked::Ready(conn) => return Ok(conn),
                Checked::Dead => continue,
                Checked::OutOfTime => return Err(self.timed_out(limit)),
            }
        }
    }

    /// The synchronous part of a checkout: an idle connection, or a place in the queue.
    fn try_acquire(self: &Arc<Self>, limit: Duration) -> Result<Next<T>> {
        let mut st = self.lock();
        if st.closed {
            return Err(pool_closed());
        }
        if let Some(conn) = self.take_idle(&mut st) {
            st.in_use += 1;
            return Ok(Next::Ready(conn));
        }
        if let Some(err) = self.unavailable(&st) {
            return Err(err);
        }
        // A connect under way that no earlier waiter counts on serves this caller;
        // otherwise it gets one of its own while below max_size (rule 3).
        let spare_connect = st.connecting > st.waiters.len();
        let can_open = !spare_connect && st.open < self.options.max_size;
        // ZERO never waits for another caller to give a connection back, as with
        // deadpool's zero wait timeout and psycopg2's pool (which momoko
        // builds on): with capacity free — a connect under way nobody else waits for,
        // or room below max_size — the caller is served (bounded by the connect
        // timeout); PoolFull only when every connection, open or opening, is taken.
        if limit.is_zero() && !spare_connect && !can_open {
            st.counters.timeouts += 1;
            return Err(Error::new(
                ErrorKind::PoolFull,
                format!("all {} connections are in use", self.options.max_size),
            ));
        }
        if can_open {
            self.spawn_open(&mut st);
        }
        st.counters.waits += 1;
        let (tx, rx) = oneshot::channel();
        let id = st.next_waiter;
        st.next_waiter += 1;
        st.waiters.push_back(Waiter { id, tx });
        Ok(Next::Wait(WaitGuard {
            inner: self.clone(),
            id,
            rx: Some(rx),
        }))
    }

    /// Rule 4: a timeout caused by failing connects carries the connect error.
    fn timed_out(&self, limit: Duration) -> Error {
        let mut st = self.lock();
        st.counters.timeouts += 1;
        let msg = format!("no connection became available within {limit:?}");
        match &st.last_connect_error {
            Some(cause) if st.down.is_some() => Error::with_source(
                ErrorKind::PoolTimeout,
                format!("{msg}; the last connect attempt failed: {cause}"),
                cause.clone(),
            ),
            _ => Error::new(ErrorKind::PoolTimeout, msg),
        }
    }

    /// Rule 5: a connection handed out is open, and answers a ping if asked to
    /// (before `deadline`, the end of the acquire timeout, if bounded).
    ///
    /// The connection is a [`PooledConnection`] before the ping is sent: if the
    /// caller drops the checkout mid-ping, it goes back through the rule-10
    /// clean-up like any connection dropped with a statement in flight (rule 11).
    async fn checked(
        self: &Arc<Self>,
        conn: Connection,
        ping: bool,
        deadline: Option<Duration>,
    ) -> Checked<T> {
        let mut conn = PooledConnection::new(self.clone(), conn);
        if !ping && !conn.is_closed() {
            return Checked::Ready(conn);
        }
        // A half-open socket never answers: bound the ping.
        let own_limit = self.config.get_connect_timeout().unwrap_or(PING_TIMEOUT);
        let limit = deadline.map_or(own_limit, |d| d.saturating_sub(self.now()).min(own_limit));
        if !conn.is_closed() {
            match timeout(&self.rt, limit, conn.conn().ping()).await {
                Some(Ok(())) => return Checked::Ready(conn),
                // Out of acquire time, not proven dead: the ping is abandoned and
                // the connection cleaned and returned in the background.
                None if limit < own_limit => return Checked::OutOfTime,
                _ => {}
            }
        }
        let conn = conn.detach();
        let mut st = self.lock();
        st.in_use -= 1;
        st.open -= 1;
        st.counters.closed_broken += 1;
        self.replenish(&mut st);
        drop(st);
        drop(conn);
        Checked::Dead
    }

    /// Rule 7: while the server is known to be unreachable, fail at once.
    fn unavailable(&self, st: &State) -> Option<Error> {
        let (err, at) = st.down.as_ref()?;
        let recent = self.now().saturating_sub(*at) < self.options.reconnect_interval;
        (recent && st.connecting == 0).then(|| err.clone())
    }

    /// Pops the most recently used idle connection that is still usable (rules 2, 5, 8).
    fn take_idle(&self, st: &mut State) -> Option<Connection> {
        while let Some(conn) = st.idle.pop() {
            if conn.is_closed() {
                st.open -= 1;
                st.counters.closed_broken += 1;
                continue;
            }
            if self.expired(&conn) {
                st.open -= 1;
                st.counters.closed_lifetime += 1;
                continue;
            }
            return Some(conn);
        }
        None
    }

    /// Rule 8: past `max_lifetime`, with up to 10 % jitter so connections do not expire together.
    pub(crate) fn expired(&self, conn: &Connection) -> bool {
        let Some(lifetime) = self.options.max_lifetime else {
            return false;
        };
        let jitter = lifetime.mul_f64(f64::from(conn.created_at.subsec_nanos() % 100) / 1000.0);
        self.now().saturating_sub(conn.created_at) >= lifetime.saturating_sub(jitter)
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

    /// Gives an idle connection to the oldest live waiter, or parks it (rule 2).
    fn hand_over(&self, st: &mut State, mut conn: Connection) {
        conn.idle_since = self.now();
        while let Some(w) = st.waiters.pop_front() {
            match w.tx.send(Ok(conn)) {
                Ok(()) => {
                    st.in_use += 1;
                    return;
                }
                Err(Ok(back)) => conn = back,
                Err(Err(_)) => unreachable!("only connections are sent here"),
            }
        }
        st.idle.push(conn);
    }

    /// Opens connections for waiters left without one (rule 3).
    fn replenish(self: &Arc<Self>, st: &mut State) {
        while !st.closed && st.open < self.options.max_size && st.connecting < st.waiters.len() {
            self.spawn_open(st);
        }
    }

    /// Takes a connection back from a caller (rules 10 and 11).
    pub(crate) fn release(self: &Arc<Self>, conn: Connection) {
        conn.report_cache_hits();
        if conn.busy || conn.in_transaction {
            // Armed before the task exists: a task the runtime drops, even one never
            // polled (no runtime left to run it on), still gives the slot back.
            let slot = {
                let inner = self.clone();
                OnDrop::new(move || inner.put_back(None))
            };
            let inner = self.clone();
            self.rt.spawn(Box::pin(async move {
                let cleaned = inner.clean(conn).await;
                slot.disarm();
                inner.put_back(cleaned);
            }));
        } else {
            self.put_back(Some(conn));
        }
    }

    /// Rule 10: cancel an abandoned statement, roll back an open transaction.
    async fn clean(&self, mut conn: Connection) -> Option<Connection> {
        self.clean_in_place(&mut conn).await?;
        Some(conn)
    }

    /// [`Self::clean`] on a connection the caller keeps; `None` when it could
    /// not be cleaned (and must not be used again).
    pub(crate) async fn clean_in_place(&self, conn: &mut Connection) -> Option<()> {
        let limit = Duration::from_secs(5);
        if conn.is_closed() {
            return None;
        }
        if conn.busy {
            // A ping queues behind the abandoned statement: if it answers quickly the
            // statement has ended by itself and no cancel is needed.
            let finished = matches!(
                timeout(&self.rt, Duration::from_millis(50), conn.ping()).await,
                Some(Ok(()))
            );
            if !finished {
                let token = conn.client().cancel_token();
                let target = conn.target().clone();
                let cancel = crate::connect::cancel(&self.transport, &target, &token);
                timeout(&self.rt, limit, cancel).await?.ok()?;
                self.settle(conn, limit).await?;
                // The server may deliver the cancel signal after the statement ended;
                // an idle backend discards it. Give it that moment, then check again,
                // so that it can never hit the next user's statement.
                self.rt.sleep(Duration::from_millis(20)).await;
                self.settle(conn, limit).await?;
            }
            conn.busy = false;
        }
        if conn.in_transaction
            && !matches!(
                timeout(&self.rt, limit, conn.batch("ROLLBACK")).await,
                Some(Ok(()))
            )
        {
            return None;
        }
        Some(())
    }

    /// Pings until a ping succeeds; a ping hit by a late cancel (57014) is retried.
    async fn settle(&self, conn: &mut Connection, limit: Duration) -> Option<()> {
        for _ in 0..3 {
            match timeout(&self.rt, limit, conn.ping()).await? {
                Ok(()) => return Some(()),
                Err(e) if e.kind() == ErrorKind::QueryCanceled => continue,
                Err(_) => return None,
            }
        }
        None
    }

    fn put_back(self: &Arc<Self>, conn: Option<Connection>) {
        let mut st = self.lock();
        st.in_use -= 1;
        match conn {
            Some(conn) if !st.closed && !conn.is_closed() && !self.expired(&conn) => {
                self.hand_over(&mut st, conn)
            }
            other => {
                st.open -= 1;
                match &other {
                    None => st.counters.closed_dirty += 1,
                    Some(_) if st.closed => st.counters.closed_by_close += 1,
                    Some(c) if c.is_closed() => st.counters.closed_broken += 1,
                    Some(_) => st.counters.closed_lifetime += 1,
                }
                self.replenish(&mut st);
                drop(st);
                let error = other
                    .as_ref()
                    .filter(|c| c.is_closed())
                    .and_then(Connection::ended_with);
                let process_id = other.as_ref().and_then(|c| c.backend_pid);
                drop(other);
                self.fire(PoolEvent::Closed {
                    error,
                    idle: false,
                    process_id,
                });
            }
        }
    }

    /// Tells the `on_event` callback, if any (never call with the lock held).
    pub(crate) fn fire(&self, event: PoolEvent) {
        if let Some(hook) = &self.options.on_event {
            hook.fire(&event);
        }
    }

    fn remove_waiter(&self, id: u64) {
        let mut st = self.lock();
        st.waiters.retain(|w| w.id != id);
    }
}

/// Runs a closure when dropped unless disarmed: keeps the books right when a
/// spawned task is cancelled at an await point (rule 11).
pub(crate) struct OnDrop<F: FnOnce()>(Option<F>);

impl<F: FnOnce()> OnDrop<F> {
    pub(crate) fn new(f: F) -> Self {
        OnDrop(Some(f))
    }

    pub(crate) fn disarm(mut self) {
        self.0 = None;
    }
}

impl<F: FnOnce()> Drop for OnDrop<F> {
    fn drop(&mut self) {
        if let Some(f) = self.0.take() {
            f();
        }
    }
}

/// The outcome of [`Inner::checked`].
// Transient, never stored, like `Next`.
#[allow(clippy::large_enum_variant)]
enum Checked<T: Transport> {
    Ready(PooledConnection<T>),
    /// The connection was dead and is discarded: try another.
    Dead,
    /// The acquire timeout ran out during the ping.
    OutOfTime,
}

// Transient, never stored: boxing the connection would only add an allocation.
#[allow(clippy::large_enum_variant)]
enum Next<T: Transport> {
    Ready(Connection),
    Wait(WaitGuard<T>),
}

/// Removes a waiter that gave up, and returns any connection sent to it meanwhile (rule 11).
struct WaitGuard<T: Transport> {
    inner: Arc<Inner<T>>,
    id: u64,
    rx: Option<oneshot::Receiver<Result<Connection>>>,
}

impl<T: Transport> WaitGuard<T> {
    async fn recv(&mut self) -> Result<Connection> {
        match self.rx.as_mut() {
            Some(rx) => rx.await.unwrap_or_else(|_| Err(pool_closed())),
            None => Err(pool_closed()),
        }
    }

    fn disarm(&mut self) {
        self.rx = None;
    }
}

impl<T: Transport> Drop for WaitGuard<T> {
    fn drop(&mut self) {
        let Some(mut rx) = self.rx.take() else {
            return;
        };
        self.inner.remove_waiter(self.id);
        rx.close();
        if let Ok(Some(Ok(conn))) = rx.try_recv() {
            self.inner.put_back(Some(conn));
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
    pub(crate) fn counters_mut(&mut self) -> &mut PoolStatus {
        &mut self.counters
    }
}
