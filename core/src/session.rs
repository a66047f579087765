//! [`Session`]: the `queries` TornadoSession over a shared pool.

use std::any::TypeId;
use std::collections::{HashMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};

use tokio_postgres::types::ToSql;

use crate::config::{Config, IntoConfig};
use crate::connection::{NoticeSink, Notification};
use crate::cursor::Cursor;
use crate::error::{Error, ErrorKind, Result};
use crate::platform::{BoxAny, BoxStream};
use crate::pool::Pool;
use crate::results::Results;
use crate::runtime::Runtime;
use crate::transaction::{Statement, Transaction};
use crate::transport::Transport;

/// A handle for running statements: each call takes a connection from the
/// pool and returns it before the call resolves (`queries.TornadoSession`).
///
/// `Session::new(url)` shares one pool per URL in the process, as
/// `queries`' PoolManager does.
///
/// ```no_run
/// # async fn f<T: edgepg_core::Transport + Default>() -> edgepg_core::Result<()> {
/// # use edgepg_core::Session;
/// let a = Session::<T>::new("postgresql://app@db/shop")?;
/// let b = Session::<T>::new("postgresql://app@db/shop")?;
/// a.close().await;
/// assert!(b.pool().is_closed());
/// # Ok(()) }
/// ```
pub struct Session<T: Transport> {
    pool: Pool<T>,
    notices: Arc<NoticeSink>,
}

impl<T: Transport> Clone for Session<T> {
    fn clone(&self) -> Self {
        Session {
            pool: self.pool.clone(),
            notices: self.notices.clone(),
        }
    }
}

type Registry = HashMap<(TypeId, u64, Config), BoxAny>;

#[cfg(not(target_arch = "wasm32"))]
fn with_registry<R>(f: impl FnOnce(&mut Registry) -> R) -> R {
    static REGISTRY: std::sync::OnceLock<Mutex<Registry>> = std::sync::OnceLock::new();
    let mut map = REGISTRY
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    f(&mut map)
}

#[cfg(target_arch = "wasm32")]
fn with_registry<R>(f: impl FnOnce(&mut Registry) -> R) -> R {
    thread_local!(static REGISTRY: std::cell::RefCell<Registry> = Default::default());
    REGISTRY.with(|r| f(&mut r.borrow_mut()))
}

impl<T: Transport + Default> Session<T> {
    /// A session on the process-wide pool for this URL (created on first use, no I/O).
    ///
    /// ```no_run
    /// # async fn f() -> edgepg_core::Result<()> {
    /// # type Session = edgepg_core::Session<MyTransport>;
    /// # #[derive(Clone, Default)] struct MyTransport;
    /// # #[edgepg_core::async_trait] impl edgepg_core::Transport for MyTransport {
    /// #   type Runtime = Rt; fn runtime(&self) -> Rt { Rt }
    /// #   async fn connect(&self, _: &edgepg_core::Target) -> std::io::Result<edgepg_core::BoxSocket> { Err(std::io::ErrorKind::Unsupported.into()) } }
    /// # #[derive(Clone)] struct Rt;
    /// # impl edgepg_core::Runtime for Rt { fn spawn(&self, _: edgepg_core::BoxFuture<'static, ()>) {}
    /// #   fn sleep(&self, _: std::time::Duration) -> edgepg_core::BoxFuture<'static, ()> { Box::pin(async {}) }
    /// #   fn now(&self) -> std::time::Duration { Default::default() } }
    /// let session = Session::new("postgresql://postgres@localhost/postgres")?;
    /// let row = session.query("SELECT 1 AS value", &[]).await?.as_dict()?;
    /// assert_eq!(row["value"], 1);
    /// # Ok(()) }
    /// ```
    pub fn new(config: impl IntoConfig) -> Result<Session<T>> {
        let config = config.into_config()?;
        let scope = T::default().runtime().scope();
        let key = (TypeId::of::<T>(), scope, config.clone());
        let pool = with_registry(|map| {
            if let Some(pool) = map.get(&key).and_then(|p| p.downcast_ref::<Pool<T>>()) {
                if !pool.is_closed() {
                    return Ok(pool.clone());
                }
            }
            let pool = Pool::<T>::builder(config).min_size(0).build()?;
            map.insert(key, Box::new(pool.clone()));
            Ok::<_, Error>(pool)
        })?;
        Ok(Session::from_pool(pool))
    }

    /// A session configured from the environment (`PGSQL_FOO` for `Some("foo")`;
    /// see [`Config::from_env`]).
    ///
    /// ```no_run
    /// # fn f<T: edgepg_core::Transport + Default>() -> edgepg_core::Result<()> {
    /// // PGSQL_SHOP=postgresql://app@db/shop
    /// let session = edgepg_core::Session::<T>::from_env(Some("shop"))?;
    /// assert_eq!(session.pool().config().get_dbname(), Some("shop"));
    /// # Ok(()) }
    /// ```
    pub fn from_env(name: Option<&str>) -> Result<Session<T>> {
        Session::new(Config::from_env(name)?)
    }
}

impl<T: Transport> Session<T> {
    /// A session over an existing pool.
    ///
    /// ```no_run
    /// # fn f<T: edgepg_core::Transport + Default>() -> edgepg_core::Result<()> {
    /// # use edgepg_core::{Pool, Session};
    /// let pool = Pool::<T>::builder("postgresql://app@db/shop").max_size(5).build()?;
    /// let session = Session::from_pool(pool);
    /// assert_eq!(session.pool().status().max_size, 5);
    /// # Ok(()) }
    /// ```
    pub fn from_pool(pool: Pool<T>) -> Session<T> {
        Session {
            pool,
            notices: Arc::new(Mutex::new(VecDeque::new())),
        }
    }

    /// The pool behind this session.
    ///
    /// ```no_run
    /// # fn f(session: edgepg_core::Session<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
    /// let status = session.pool().status();
    /// println!("{} of {} connections in use", status.in_use, status.max_size);
    /// # Ok(()) }
    /// ```
    pub fn pool(&self) -> &Pool<T> {
        &self.pool
    }

    /// Runs a statement and buffers its rows.
    ///
    /// ```no_run
    /// # async fn f(session: edgepg_core::Session<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
    /// let rows = session.query("SELECT $1::int * 2 AS n", &[&21i32]).await?;
    /// assert_eq!(rows[0].get::<i32, _>("n"), 42);
    /// # Ok(()) }
    /// ```
    pub async fn query(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Results> {
        self.pool
            .query_noting(Some(&self.notices), sql, params)
            .await
    }

    /// Runs a statement and returns the rows affected.
    ///
    /// ```no_run
    /// # async fn f(session: edgepg_core::Session<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
    /// let n = session.execute("DELETE FROM carts WHERE updated < now() - interval '1 day'", &[]).await?;
    /// println!("{n} stale carts removed");
    /// # Ok(()) }
    /// ```
    pub async fn execute(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64> {
        self.pool
            .execute_noting(Some(&self.notices), sql, params)
            .await
    }

    /// Calls a function (see [`Pool::callproc`]).
    ///
    /// ```no_run
    /// # async fn f(session: edgepg_core::Session<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
    /// let r = session.callproc("pg_catalog.lower", &[&"ABC"]).await?;
    /// assert_eq!(r[0].get::<&str, _>(0), "abc");
    /// # Ok(()) }
    /// ```
    pub async fn callproc(&self, name: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Results> {
        self.pool
            .callproc_noting(Some(&self.notices), name, params)
            .await
    }

    /// Runs statements in one transaction (see [`Pool::transaction`]).
    ///
    /// ```no_run
    /// # async fn f(session: edgepg_core::Session<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
    /// let results = session
    ///     .transaction(["UPDATE stock SET n = n - 1 WHERE id = 1", "SELECT n FROM stock"])
    ///     .await?;
    /// assert_eq!(results.len(), 2);
    /// # Ok(()) }
    /// ```
    pub async fn transaction<I>(&self, statements: I) -> Result<Vec<Results>>
    where
        I: IntoIterator,
        I::Item: Into<Statement>,
    {
        self.pool
            .transaction_noting(
                Some(&self.notices),
                statements.into_iter().map(Into::into).collect(),
            )
            .await
    }

    /// `sql` with parameters interpolated as literals (see [`crate::mogrify()`]).
    ///
    /// ```no_run
    /// # fn f(session: edgepg_core::Session<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
    /// let sql = session.mogrify("SELECT $1::int", &[&5i32])?;
    /// assert_eq!(sql, "SELECT '5'::int");
    /// # Ok(()) }
    /// ```
    pub fn mogrify(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<String> {
        crate::mogrify::mogrify(sql, params)
    }

    /// Starts an explicit transaction (see [`Pool::begin`]).
    ///
    /// ```no_run
    /// # async fn f(session: edgepg_core::Session<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
    /// let mut tx = session.begin().await?;
    /// tx.execute("INSERT INTO log (msg) VALUES ($1)", &[&"hello"]).await?;
    /// tx.commit().await?;
    /// # Ok(()) }
    /// ```
    pub async fn begin(&self) -> Result<Transaction<T>> {
        let tx = self.pool.begin().await?;
        Ok(tx.noting(self.notices.clone()))
    }

    /// Streams a large result through a server-side cursor (see [`Pool::cursor`]).
    ///
    /// ```no_run
    /// # async fn f(session: edgepg_core::Session<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
    /// use futures_util::TryStreamExt;
    /// let mut rows = session.cursor("SELECT generate_series(1, 100000)", &[], 1_000);
    /// let mut n = 0;
    /// while rows.try_next().await?.is_some() {
    ///     n += 1;
    /// }
    /// assert_eq!(n, 100_000);
    /// # Ok(()) }
    /// ```
    pub fn cursor<'a>(
        &'a self,
        sql: &'a str,
        params: &'a [&'a (dyn ToSql + Sync)],
        chunk: usize,
    ) -> Cursor<'a> {
        self.pool.cursor(sql, params, chunk)
    }

    /// Delivers NOTIFY payloads of `channel` (see [`Pool::listen`]).
    ///
    /// ```no_run
    /// # async fn f(session: edgepg_core::Session<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
    /// use futures_util::TryStreamExt;
    /// let mut events = session.listen("jobs").await?;
    /// session.execute("NOTIFY jobs, 'ready'", &[]).await?;
    /// assert_eq!(events.try_next().await?.unwrap().payload, "ready");
    /// # Ok(()) }
    /// ```
    pub async fn listen(&self, channel: &str) -> Result<BoxStream<'static, Result<Notification>>> {
        self.pool.listen(channel).await
    }

    /// The server process ID of a pooled connection.
    ///
    /// ```no_run
    /// # async fn f(session: edgepg_core::Session<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
    /// let pid = session.backend_pid().await?;
    /// assert!(pid > 0);
    /// # Ok(()) }
    /// ```
    pub async fn backend_pid(&self) -> Result<i32> {
        self.pool.getconn().await?.backend_pid().await
    }

    /// An identifier of the pool this session uses (`queries`' `Session.pid`).
    ///
    /// ```no_run
    /// # fn f<T: edgepg_core::Transport + Default>() -> edgepg_core::Result<()> {
    /// # use edgepg_core::Session;
    /// let a = Session::<T>::new("postgresql://app@db/shop")?;
    /// let b = Session::<T>::new("postgresql://app@db/shop")?;
    /// assert_eq!(a.pid(), b.pid());
    /// # Ok(()) }
    /// ```
    pub fn pid(&self) -> String {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.pool.config().hash(&mut h);
        format!("{:016x}", h.finish())
    }

    /// The client encoding; always `UTF8`, the only one the wire decoding supports.
    ///
    /// ```no_run
    /// # fn f(session: edgepg_core::Session<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
    /// assert_eq!(session.encoding(), "UTF8");
    /// # Ok(()) }
    /// ```
    pub fn encoding(&self) -> &'static str {
        "UTF8"
    }

    /// Accepts the spellings of UTF-8 and rejects any other encoding with `NotSupported`.
    ///
    /// ```no_run
    /// # fn f(session: edgepg_core::Session<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
    /// use edgepg_core::ErrorKind;
    /// session.set_encoding("utf-8")?;
    /// assert_eq!(session.set_encoding("LATIN1").unwrap_err().kind(), ErrorKind::NotSupported);
    /// # Ok(()) }
    /// ```
    pub fn set_encoding(&self, encoding: &str) -> Result<()> {
        let normalized: String = encoding
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_uppercase();
        match normalized.as_str() {
            "UTF8" | "UNICODE" => Ok(()),
            _ => Err(Error::new(
                ErrorKind::NotSupported,
                format!("encoding \"{encoding}\" is not supported: edgepg speaks UTF-8 only"),
            )),
        }
    }

    /// The last server notices seen by this session (at most 50), oldest first.
    ///
    /// ```no_run
    /// # async fn f(session: edgepg_core::Session<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
    /// session.execute("DO $$ BEGIN RAISE NOTICE 'hello'; END $$", &[]).await?;
    /// assert!(session.notices().iter().any(|n| n.ends_with("hello")));
    /// # Ok(()) }
    /// ```
    pub fn notices(&self) -> Vec<String> {
        self.notices
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .cloned()
            .collect()
    }

    /// Checks that a connection can be had and answers (one round trip).
    ///
    /// ```no_run
    /// # async fn f(session: edgepg_core::Session<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
    /// session.validate().await?;
    /// println!("database reachable");
    /// # Ok(()) }
    /// ```
    pub async fn validate(&self) -> Result<()> {
        self.pool.getconn().await?.batch_execute("").await
    }

    /// Closes the pool behind this session (and forgets it if it was shared).
    ///
    /// ```no_run
    /// # async fn f(session: edgepg_core::Session<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
    /// session.close().await;
    /// assert!(session.pool().is_closed());
    /// # Ok(()) }
    /// ```
    pub async fn close(&self) {
        self.pool.close().await;
    }
}
