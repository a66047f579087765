//! [`Builder`]: pool options, each named after the rule of SPEC §4 it implements.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::platform::{MaybeSend, MaybeSync};
use crate::pool::hooks::{EventHook, PoolEvent};
use crate::pool::{Inner, Pool, State};
use crate::transport::Transport;

/// Pool settings. Built by [`Builder`]; see the rules of SPEC §4.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    pub min_size: usize,
    pub max_size: usize,
    pub acquire_timeout: Duration,
    pub idle_timeout: Option<Duration>,
    pub max_lifetime: Option<Duration>,
    pub reconnect_interval: Duration,
    pub setsession: Vec<String>,
    pub ping_on_checkout: bool,
    pub raise_connect_errors: bool,
    pub statement_cache_size: usize,
    pub query_timeout: Option<Duration>,
    pub pipeline_depth: usize,
    pub on_event: Option<EventHook>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            min_size: 1,
            max_size: 25,
            acquire_timeout: Duration::from_secs(30),
            idle_timeout: Some(Duration::from_secs(60)),
            max_lifetime: None,
            reconnect_interval: Duration::from_millis(500),
            setsession: Vec::new(),
            ping_on_checkout: false,
            raise_connect_errors: true,
            statement_cache_size: 100,
            query_timeout: None,
            pipeline_depth: usize::MAX,
            on_event: None,
        }
    }
}

/// Configures a [`Pool`]. `build()` does no I/O (rule 1).
///
/// ```
/// use std::time::Duration;
/// # use edgepg_core::{async_trait, BoxSocket, BoxFuture, Runtime, Target, Transport, Pool};
/// # #[derive(Clone)] struct Rt;
/// # impl Runtime for Rt {
/// #     fn spawn(&self, _: BoxFuture<'static, ()>) {}
/// #     fn sleep(&self, _: Duration) -> BoxFuture<'static, ()> { Box::pin(async {}) }
/// #     fn now(&self) -> Duration { Duration::ZERO }
/// # }
/// # #[derive(Clone, Default)] struct Tcp;
/// # #[async_trait] impl Transport for Tcp {
/// #     type Runtime = Rt; fn runtime(&self) -> Rt { Rt }
/// #     async fn connect(&self, _: &Target) -> std::io::Result<BoxSocket> { Err(std::io::ErrorKind::Unsupported.into()) }
/// # }
/// let pool = Pool::<Tcp>::builder("postgresql://app@db/shop")
///     .min_size(2)
///     .max_size(10)
///     .acquire_timeout(Duration::from_secs(5))
///     .setsession(["SET TIME ZONE 'UTC'"])
///     .build()?;
/// assert_eq!(pool.status().max_size, 10);
/// # Ok::<(), edgepg_core::Error>(())
/// ```
pub struct Builder<T: Transport> {
    config: Result<Config>,
    transport: T,
    options: Options,
}

impl<T: Transport> Builder<T> {
    pub(crate) fn new(config: Result<Config>, transport: T) -> Builder<T> {
        Builder {
            config,
            transport,
            options: Options::default(),
        }
    }

    /// Rule 1 and 8: connections kept open (momoko `size`). Default 1.
    ///
    /// ```
    /// # use edgepg_core::{async_trait, BoxFuture, BoxSocket, Pool, Runtime, Target, Transport};
    /// # #[derive(Clone, Default)] struct Offline;
    /// # impl Runtime for Offline { fn spawn(&self, _: BoxFuture<'static, ()>) {} fn sleep(&self, _: std::time::Duration) -> BoxFuture<'static, ()> { Box::pin(async {}) } fn now(&self) -> std::time::Duration { Default::default() } }
    /// # #[async_trait] impl Transport for Offline { type Runtime = Self; fn runtime(&self) -> Self { Self } async fn connect(&self, _: &Target) -> std::io::Result<BoxSocket> { Err(std::io::ErrorKind::Unsupported.into()) } }
    /// let pool = Pool::<Offline>::builder("postgresql://app@db/shop").min_size(5).build()?;
    /// let status = pool.status();
    /// assert_eq!((status.min_size, status.size), (5, 0));
    /// # Ok::<(), edgepg_core::Error>(())
    /// ```
    pub fn min_size(mut self, n: usize) -> Self {
        self.options.min_size = n;
        self
    }

    /// Rule 3: the stretch limit, never exceeded, counting connects under way
    /// (momoko `max_size`). Default 25.
    ///
    /// ```
    /// # use edgepg_core::{async_trait, BoxFuture, BoxSocket, Pool, Runtime, Target, Transport};
    /// # #[derive(Clone, Default)] struct Offline;
    /// # impl Runtime for Offline { fn spawn(&self, _: BoxFuture<'static, ()>) {} fn sleep(&self, _: std::time::Duration) -> BoxFuture<'static, ()> { Box::pin(async {}) } fn now(&self) -> std::time::Duration { Default::default() } }
    /// # #[async_trait] impl Transport for Offline { type Runtime = Self; fn runtime(&self) -> Self { Self } async fn connect(&self, _: &Target) -> std::io::Result<BoxSocket> { Err(std::io::ErrorKind::Unsupported.into()) } }
    /// let pool = Pool::<Offline>::builder("postgresql://app@db/shop").max_size(4).build()?;
    /// assert_eq!(pool.status().max_size, 4);
    /// # Ok::<(), edgepg_core::Error>(())
    /// ```
    pub fn max_size(mut self, n: usize) -> Self {
        self.options.max_size = n;
        self
    }

    /// Rule 4: bound on a whole checkout, liveness ping included.
    /// `Duration::ZERO` never waits for another caller to give a connection
    /// back: it fails at once with `PoolFull` when every connection, open or
    /// opening, is taken, and otherwise is served by an idle connection, a
    /// connect under way, or a new one below `max_size`; statements do not
    /// pipeline onto busy connections then. Default 30 s.
    ///
    /// ```no_run
    /// # async fn f(builder: edgepg_core::Builder<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
    /// use edgepg_core::ErrorKind;
    /// let pool = builder.max_size(1).acquire_timeout(std::time::Duration::ZERO).build()?;
    /// let _held = pool.getconn().await?;
    /// let second = pool.getconn().await.err().map(|e| e.kind());
    /// assert_eq!(second, Some(ErrorKind::PoolFull));
    /// # Ok(()) }
    /// ```
    pub fn acquire_timeout(mut self, d: Duration) -> Self {
        self.options.acquire_timeout = d;
        self
    }

    /// Rule 8: idle connections above `min_size` close after this long
    /// (queries `pool_idle_ttl`, momoko `shrink_delay`). Default 60 s.
    ///
    /// ```no_run
    /// # fn f(builder: edgepg_core::Builder<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
    /// use std::time::Duration;
    /// let pool = builder.min_size(2).idle_timeout(Duration::from_secs(10)).build()?;
    /// # Ok(()) }
    /// ```
    pub fn idle_timeout(mut self, d: Duration) -> Self {
        self.options.idle_timeout = Some(d);
        self
    }

    /// Rule 8: connections older than this are closed when idle and replaced
    /// (tornado-mysql `max_recycle_sec`). Default: never.
    ///
    /// ```no_run
    /// # fn f(builder: edgepg_core::Builder<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
    /// use std::time::Duration;
    /// let pool = builder.max_lifetime(Duration::from_secs(30 * 60)).build()?;
    /// # Ok(()) }
    /// ```
    pub fn max_lifetime(mut self, d: Duration) -> Self {
        self.options.max_lifetime = Some(d);
        self
    }

    /// Rule 7: how often to retry while the server is unreachable (momoko). Default 500 ms.
    ///
    /// ```no_run
    /// # fn f(builder: edgepg_core::Builder<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
    /// use std::time::Duration;
    /// let pool = builder.reconnect_interval(Duration::from_secs(2)).build()?;
    /// # Ok(()) }
    /// ```
    pub fn reconnect_interval(mut self, d: Duration) -> Self {
        self.options.reconnect_interval = d;
        self
    }

    /// Rule 9: statements run on every new connection before its first use.
    ///
    /// ```no_run
    /// # async fn f(builder: edgepg_core::Builder<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
    /// let pool = builder
    ///     .setsession(["SET TIME ZONE 'UTC'", "SET search_path TO app, public"])
    ///     .build()?;
    /// let tz = pool.query("SHOW TimeZone", &[]).await?;
    /// assert_eq!(tz[0].get::<&str, _>(0), "UTC");
    /// # Ok(()) }
    /// ```
    pub fn setsession<I, S>(mut self, statements: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.options.setsession = statements.into_iter().map(Into::into).collect();
        self
    }

    /// Rule 5: check liveness with one round trip before handing a connection out
    /// (momoko `getconn(ping=True)`). Default off.
    ///
    /// ```no_run
    /// # async fn f(builder: edgepg_core::Builder<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
    /// let pool = builder.ping_on_checkout(true).build()?;
    /// let conn = pool.getconn().await?;
    /// assert!(!conn.is_closed());
    /// # Ok(()) }
    /// ```
    pub fn ping_on_checkout(mut self, on: bool) -> Self {
        self.options.ping_on_checkout = on;
        self
    }

    /// Rule 1: `connect()` fails with `PartiallyConnected` when some of `min_size`
    /// connections could not be opened (momoko). Default on.
    ///
    /// ```no_run
    /// # async fn f(builder: edgepg_core::Builder<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
    /// let pool = builder.min_size(4).raise_connect_errors(false).build()?;
    /// pool.connect().await?;
    /// let status = pool.status();
    /// println!("{} opened, {} failed", status.created, status.connect_failures);
    /// # Ok(()) }
    /// ```
    pub fn raise_connect_errors(mut self, on: bool) -> Self {
        self.options.raise_connect_errors = on;
        self
    }

    /// Prepared statements cached per connection (LRU). 0 turns the cache off
    /// (no statement is prepared by name). Default 100. Behind PgBouncer or
    /// another pooler the cache is off by itself: a connection notices the
    /// pooler (its cancel key does not name its backend) and then prepares
    /// nothing by name and refuses LISTEN (RELIABILITY.md, "PgBouncer").
    ///
    /// ```no_run
    /// # fn f<T: edgepg_core::Transport + Default>() -> edgepg_core::Result<()> {
    /// let pool = edgepg_core::Pool::<T>::builder("postgresql://app@pgbouncer:6432/shop")
    ///     .statement_cache_size(0)
    ///     .build()?;
    /// # Ok(()) }
    /// ```
    pub fn statement_cache_size(mut self, n: usize) -> Self {
        self.options.statement_cache_size = n;
        self
    }

    /// Client-side limit on each statement — `query`/`execute`/`callproc`, and
    /// those of checked-out connections, transactions and cursor FETCHes: past
    /// it the call fails with `QueryCanceled` and the statement is cancelled on
    /// the server through the transport (rule 10); an open transaction is
    /// rolled back. Default: none.
    ///
    /// ```no_run
    /// # async fn f(builder: edgepg_core::Builder<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
    /// use edgepg_core::ErrorKind;
    /// let pool = builder.query_timeout(std::time::Duration::from_secs(1)).build()?;
    /// let err = pool.execute("SELECT pg_sleep(5)", &[]).await.unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::QueryCanceled);
    /// # Ok(()) }
    /// ```
    pub fn query_timeout(mut self, d: Duration) -> Self {
        self.options.query_timeout = Some(d);
        self
    }

    /// How many independent statements (`query`, `execute`, `callproc`) may be in
    /// flight on one connection when all `max_size` connections are busy and no
    /// caller waits for a connection of its own. 1 turns pipelining off. Default:
    /// unbounded, as tokio-postgres pipelines. With a bound, statements beyond it
    /// wait for a connection of their own. A long statement delays the ones queued
    /// behind it on the same connection (head-of-line blocking).
    ///
    /// ```no_run
    /// # fn f(builder: edgepg_core::Builder<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
    /// let pool = builder.max_size(4).pipeline_depth(16).build()?;
    /// # Ok(()) }
    /// ```
    pub fn pipeline_depth(mut self, depth: usize) -> Self {
        self.options.pipeline_depth = depth.max(1);
        self
    }

    /// Calls `f` when a connection opens or closes (see [`PoolEvent`]): for
    /// logging, metrics, or reporting a connection that died while idle. It
    /// runs on the pool's tasks and must not block.
    ///
    /// ```no_run
    /// # fn f<T: edgepg_core::Transport>(transport: T) -> edgepg_core::Result<()> {
    /// use edgepg_core::pool::PoolEvent;
    /// let pool = edgepg_core::Pool::builder_with("postgresql://app@db/shop", transport)
    ///     .on_event(|e| {
    ///         if let PoolEvent::Closed { error: Some(err), idle: true, .. } = e {
    ///             eprintln!("an idle connection died: {err}");
    ///         }
    ///     })
    ///     .build()?;
    /// # Ok(()) }
    /// ```
    pub fn on_event(mut self, f: impl Fn(&PoolEvent) + MaybeSend + MaybeSync + 'static) -> Self {
        self.options.on_event = Some(EventHook::new(f));
        self
    }

    /// Replaces the transport (e.g. a WebSocket tunnel instead of TCP).
    ///
    /// ```no_run
    /// # fn f<T: edgepg_core::Transport>(tcp: T, tunnel: T) -> edgepg_core::Result<()> {
    /// let pool = edgepg_core::Pool::builder_with("postgresql://app@db/shop", tcp)
    ///     .transport(tunnel)
    ///     .build()?;
    /// # Ok(()) }
    /// ```
    pub fn transport(mut self, transport: T) -> Self {
        self.transport = transport;
        self
    }

    /// Checks the options and creates the pool, without any I/O.
    ///
    /// ```
    /// # use edgepg_core::{async_trait, BoxFuture, BoxSocket, Pool, Runtime, Target, Transport};
    /// # #[derive(Clone, Default)] struct Offline;
    /// # impl Runtime for Offline { fn spawn(&self, _: BoxFuture<'static, ()>) {} fn sleep(&self, _: std::time::Duration) -> BoxFuture<'static, ()> { Box::pin(async {}) } fn now(&self) -> std::time::Duration { Default::default() } }
    /// # #[async_trait] impl Transport for Offline { type Runtime = Self; fn runtime(&self) -> Self { Self } async fn connect(&self, _: &Target) -> std::io::Result<BoxSocket> { Err(std::io::ErrorKind::Unsupported.into()) } }
    /// use edgepg_core::ErrorKind;
    /// let url = "postgresql://app@db/shop";
    /// let empty = Pool::<Offline>::builder(url).max_size(0).build();
    /// assert_eq!(empty.err().map(|e| e.kind()), Some(ErrorKind::Interface));
    /// assert!(Pool::<Offline>::builder(url).min_size(3).max_size(2).build().is_err());
    /// # Ok::<(), edgepg_core::Error>(())
    /// ```
    pub fn build(self) -> Result<Pool<T>> {
        let config = self.config?;
        let o = &self.options;
        if o.max_size == 0 {
            return Err(Error::interface("max_size must be at least 1"));
        }
        if o.min_size > o.max_size {
            return Err(Error::interface(format!(
                "min_size ({}) must not exceed max_size ({})",
                o.min_size, o.max_size
            )));
        }
        let rt = self.transport.runtime();
        Ok(Pool {
            inner: Arc::new(Inner {
                config,
                transport: self.transport,
                rt,
                options: self.options,
                state: Mutex::new(State::default()),
                cache_stats: Default::default(),
            }),
        })
    }
}
