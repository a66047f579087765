//! [`Connection`]: one tokio-postgres client, its background driver, and what
//! the pool needs to know about it.

use std::collections::{HashMap, VecDeque};
use std::hash::BuildHasherDefault;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};

use futures_channel::{mpsc, oneshot};
use futures_util::{StreamExt, TryStreamExt};
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{AsyncMessage, Client, Statement};

use crate::error::{DbErrorFields, Error, ErrorKind, Result};
use crate::on_drop::OnDrop;
use crate::param_types::declared_type;
use crate::results::Results;
use crate::row::{reborrow, Column, Row, RowSink};
use crate::runtime::Runtime;
use crate::sql_text::transaction_control;
use crate::transport::{Socket, Target};

/// How many server notices a connection keeps (SPEC §5).
const NOTICES_KEPT: usize = 50;

/// A NOTIFY delivered to a listening connection.
///
/// ```no_run
/// # async fn f(pool: edgepg_core::Pool<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
/// use futures_util::TryStreamExt;
/// let mut events = pool.listen("orders").await?;
/// while let Some(n) = events.try_next().await? {
///     println!("{} from backend {}: {}", n.channel, n.process_id, n.payload);
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// The channel name.
    pub channel: String,
    /// The payload (empty when none was given).
    pub payload: String,
    /// PID of the notifying backend.
    pub process_id: i32,
}

#[derive(Default)]
struct Shared {
    /// Set when the server ended the connection with a FATAL shutdown error
    /// (57P01–57P03) that answered no request of ours.
    terminated_by_server: std::sync::atomic::AtomicBool,
    /// The connection must not be used again: its driver ended, or a statement
    /// saw the protocol go wrong (an unexpected or unparsable message) while
    /// the socket was still open.
    unusable: std::sync::atomic::AtomicBool,
    /// A connection that promised a writable server (`target_session_attrs`
    /// `read-write` or `primary`) was told the server is read-only (25006):
    /// the server was demoted or turned read-only under it.
    wrong_role: std::sync::atomic::AtomicBool,
    notices: Mutex<VecDeque<DbErrorFields>>,
    listener: Mutex<Option<mpsc::UnboundedSender<Notification>>>,
    /// Why the driver ended, when it ended with an error (a server error such
    /// as 57P01, or an I/O error): what a pool reports for a dead idle connection.
    ended_with: Mutex<Option<Error>>,
    /// Told when the driver ends (see [`Connection::ended`]).
    end_watchers: Mutex<Vec<oneshot::Sender<()>>>,
}

/// The SQL text (shared with the Results), a prepared statement, its result
/// columns, and when it was last used (for LRU).
type CachedStatement = (Arc<str>, Statement, Arc<[Column]>, u64);

/// Prepared statements by SQL text, with their columns and last use (for LRU).
#[derive(Default)]
pub(crate) struct StatementCache {
    map: HashMap<Arc<str>, CachedStatement, BuildHasherDefault<FxHasher>>,
    /// Statements being prepared, with the callers waiting for them: a burst of
    /// the same new statement prepares it once, not once per caller.
    pending:
        HashMap<Arc<str>, Vec<oneshot::Sender<Result<Prepared>>>, BuildHasherDefault<FxHasher>>,
    /// Counts lookups: the LRU's notion of time.
    clock: u64,
    /// Hits not yet added to the pool's counters: counted here, under the lock
    /// already held, rather than on a counter every connection shares.
    unreported_hits: u64,
}

/// A prepared statement ready to run: the statement, its columns and its text.
type Prepared = (Statement, Arc<[Column]>, Arc<str>);

impl StatementCache {
    fn get_mut(&mut self, sql: &str) -> Option<&mut CachedStatement> {
        self.map.get_mut(sql)
    }

    fn len(&self) -> usize {
        self.map.len()
    }

    fn contains_key(&self, sql: &str) -> bool {
        self.map.contains_key(sql)
    }

    fn iter(&self) -> impl Iterator<Item = (&Arc<str>, &CachedStatement)> {
        self.map.iter()
    }

    fn remove(&mut self, sql: &str) {
        self.map.remove(sql);
    }

    fn insert(&mut self, key: Arc<str>, value: CachedStatement) {
        self.map.insert(key, value);
    }

    fn clear(&mut self) {
        self.map.clear();
        self.pending.clear();
    }
}

/// A fast non-cryptographic hash for SQL text (rustc's Fx): the cache is keyed by
/// our own statements, not by attacker-chosen keys in bulk.
#[derive(Default)]
struct FxHasher(u64);

impl std::hash::Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(word))
                .wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// Prepared-statement cache counters, shared by the connections of a pool.
#[derive(Debug, Default)]
pub(crate) struct CacheStats {
    pub(crate) hits: AtomicU64,
    pub(crate) misses: AtomicU64,
    pub(crate) evictions: AtomicU64,
}

/// Not yet known whether a pooler sits between us and PostgreSQL.
const POOLER_UNKNOWN: u8 = 0;
/// The backend we talk to is the one our cancel key names: no pooler.
const POOLER_NONE: u8 = 1;
/// The backend's pid differs from our cancel key's: a pooler (PgBouncer and
/// the like) or a proxy that rewrites cancel keys.
const POOLER_FOUND: u8 = 2;
/// The cancel key's process ID is no process ID a server could have (PgBouncer
/// makes keys of random bytes): most likely a pooler, to be confirmed.
const POOLER_SUSPECTED: u8 = 3;

/// The largest process ID Linux hands out (`PID_MAX_LIMIT` on 64-bit).
const PID_MAX: i32 = 4 * 1024 * 1024;

/// The process ID of the `BackendKeyData` this connection got at startup,
/// read back from the cancel request tokio-postgres would send (it keeps the
/// key private): written to an in-memory socket, no I/O.
fn cancel_key_pid(client: &Client) -> Option<i32> {
    use futures_util::FutureExt;
    let mut out = CaptureSocket::default();
    client
        .cancel_token()
        .cancel_query_raw(&mut out, tokio_postgres::NoTls)
        .now_or_never()?
        .ok()?;
    // CancelRequest: length 16, code 80877102, process ID, secret key.
    let pid = out.written.get(8..12)?;
    Some(i32::from_be_bytes(pid.try_into().ok()?))
}

/// A socket that keeps what is written to it and reads as closed.
#[derive(Default)]
struct CaptureSocket {
    written: Vec<u8>,
}

impl tokio::io::AsyncRead for CaptureSocket {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        _: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

impl tokio::io::AsyncWrite for CaptureSocket {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        self.written.extend_from_slice(buf);
        std::task::Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

/// A live connection to one server.
pub(crate) struct Connection {
    client: Client,
    shared: Arc<Shared>,
    target: Target,
    closed: Option<oneshot::Receiver<()>>,
    statements: Mutex<StatementCache>,
    statement_capacity: usize,
    cache_stats: Arc<CacheStats>,
    /// Whether a connection pooler sits between us and PostgreSQL
    /// ([`POOLER_UNKNOWN`], [`POOLER_SUSPECTED`], [`POOLER_NONE`] or
    /// [`POOLER_FOUND`]); found out alongside the first statement (see
    /// [`Connection::detect_pooler`]).
    pooler: AtomicU8,
    /// A statement in flight carries the pooler check.
    pooler_check_claimed: std::sync::atomic::AtomicBool,
    /// The process ID of the cancel key the server (or pooler) sent at startup.
    key_pid: Option<i32>,
    /// A statement was started and its future has not finished (it may have been dropped).
    pub(crate) busy: bool,
    /// The current statement reached the point where it may have run on the server (rule 6).
    pub(crate) sent: bool,
    /// An explicit transaction may be open: set when SQL that opens or ends
    /// one is sent, cleared when a COMMIT or ROLLBACK succeeds (see
    /// [`Connection::exclusive`]).
    pub(crate) in_transaction: bool,
    /// The last statement failed inside a transaction: the server now ignores
    /// everything but a rollback, and answers COMMIT with `ROLLBACK`.
    transaction_failed: bool,
    /// The server process ID, once asked for.
    pub(crate) backend_pid: Option<i32>,
    /// Opened for `target_session_attrs` `read-write` or `primary`: a
    /// read-only answer (25006) means the server no longer fits.
    pub(crate) wants_writable: bool,
    /// Runtime clock when the connection was opened.
    pub(crate) created_at: std::time::Duration,
    /// Runtime clock when the connection was last returned to the pool.
    pub(crate) idle_since: std::time::Duration,
}

impl Connection {
    /// Spawns the driver of a freshly opened connection on `rt`.
    pub(crate) fn start<S, R>(
        client: Client,
        connection: tokio_postgres::Connection<S, tokio_postgres::tls::NoTlsStream>,
        rt: R,
        target: Target,
    ) -> Connection
    where
        S: Socket + 'static,
        R: Runtime,
    {
        let key_pid = cancel_key_pid(&client);
        let pooler = match key_pid {
            Some(pid) if (1..=PID_MAX).contains(&pid) => POOLER_UNKNOWN,
            _ => POOLER_SUSPECTED,
        };
        let shared = Arc::new(Shared::default());
        let (done_tx, done_rx) = oneshot::channel::<()>();
        let driver_shared = shared.clone();
        rt.spawn(Box::pin(async move {
            let mut connection = connection;
            let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
            while let Some(message) = messages.next().await {
                match message {
                    Ok(AsyncMessage::Notice(notice)) => {
                        let mut notices = driver_shared
                            .notices
                            .lock()
                            .unwrap_or_else(|p| p.into_inner());
                        if notices.len() == NOTICES_KEPT {
                            notices.pop_front();
                        }
                        notices.push_back(DbErrorFields::from_db(&notice));
                    }
                    Ok(AsyncMessage::Notification(n)) => {
                        let listener = driver_shared
                            .listener
                            .lock()
                            .unwrap_or_else(|p| p.into_inner());
                        if let Some(tx) = listener.as_ref() {
                            let _ = tx.unbounded_send(Notification {
                                channel: n.channel().to_string(),
                                payload: n.payload().to_string(),
                                process_id: n.process_id(),
                            });
                        }
                    }
                    Ok(_) => {}
                    Err(e) => {
                        let code = e.as_db_error().map(|d| d.code().code());
                        if matches!(code, Some("57P01" | "57P02" | "57P03")) {
                            driver_shared
                                .terminated_by_server
                                .store(true, std::sync::atomic::Ordering::SeqCst);
                        }
                        *driver_shared
                            .ended_with
                            .lock()
                            .unwrap_or_else(|p| p.into_inner()) = Some(Error::from_pg(e));
                        break;
                    }
                }
            }
            driver_shared.unusable.store(true, Ordering::SeqCst);
            drop(messages);
            // After the connection is gone (the client reads as closed), so a
            // watcher added after this finds it ended.
            let watchers = std::mem::take(
                &mut *driver_shared
                    .end_watchers
                    .lock()
                    .unwrap_or_else(|p| p.into_inner()),
            );
            for w in watchers {
                let _ = w.send(());
            }
            drop(done_tx);
        }));
        Connection {
            client,
            shared,
            target,
            closed: Some(done_rx),
            statements: Mutex::new(StatementCache::default()),
            statement_capacity: 100,
            cache_stats: Arc::default(),
            pooler: AtomicU8::new(pooler),
            pooler_check_claimed: Default::default(),
            key_pid,
            busy: false,
            sent: false,
            in_transaction: false,
            transaction_failed: false,
            backend_pid: None,
            wants_writable: false,
            created_at: std::time::Duration::ZERO,
            idle_since: std::time::Duration::ZERO,
        }
    }

    pub(crate) fn client(&self) -> &Client {
        &self.client
    }

    pub(crate) fn target(&self) -> &Target {
        &self.target
    }

    /// True once the socket or the driver has ended.
    pub(crate) fn is_closed(&self) -> bool {
        self.shared.unusable.load(Ordering::SeqCst) || self.client.is_closed()
    }

    /// Resolves when the connection's driver ends (at once if it has), with
    /// the error it ended with, if any.
    pub(crate) fn ended(&self) -> impl std::future::Future<Output = Option<Error>> + 'static {
        let (tx, rx) = oneshot::channel();
        let shared = self.shared.clone();
        {
            let mut watchers = shared
                .end_watchers
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            // Watchers whose waiter went away need no telling.
            watchers.retain(|w| !w.is_canceled());
            watchers.push(tx);
        }
        let ended_already = self.shared.unusable.load(Ordering::SeqCst) && self.client.is_closed();
        async move {
            if !ended_already {
                let _ = rx.await;
            }
            shared
                .ended_with
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone()
        }
    }

    /// The error the connection ended with, if it ended with one.
    pub(crate) fn ended_with(&self) -> Option<Error> {
        self.shared
            .ended_with
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Marks the connection as one not to use again (the pool discards it).
    pub(crate) fn mark_unusable(&self) {
        self.shared.unusable.store(true, Ordering::SeqCst);
    }

    /// Resolves when the background driver has finished (after Terminate was sent).
    pub(crate) fn take_closed_signal(&mut self) -> impl std::future::Future<Output = ()> + 'static {
        let rx = self.closed.take();
        async move {
            if let Some(rx) = rx {
                let _ = rx.await;
            }
        }
    }

    /// The last server notices, oldest first.
    pub(crate) fn notices(&self) -> Vec<String> {
        self.shared
            .notices
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|n| format!("{}: {}", n.severity, n.message))
            .collect()
    }

    /// True when the server shut this backend down while no statement of ours was
    /// pending: anything sent afterwards cannot have run.
    pub(crate) fn terminated_by_server(&self) -> bool {
        self.shared
            .terminated_by_server
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Removes and returns the notices received so far.
    pub(crate) fn take_notices(&self) -> Vec<DbErrorFields> {
        self.shared
            .notices
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain(..)
            .collect()
    }

    /// Sends future NOTIFY messages of this connection to `tx`.
    pub(crate) fn set_listener(&self, tx: Option<mpsc::UnboundedSender<Notification>>) {
        *self
            .shared
            .listener
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = tx;
    }

    /// Sets the prepared-statement cache size (0 turns it off) and where to count.
    pub(crate) fn set_statement_cache(&mut self, capacity: usize, stats: Arc<CacheStats>) {
        self.statement_capacity = capacity;
        self.cache().clear();
        self.cache_stats = stats;
    }

    /// True while named statements may be cached: the cache is on and no
    /// pooler was found (or is suspected) in between.
    fn caching(&self) -> bool {
        self.statement_capacity > 0
            && matches!(
                self.pooler.load(Ordering::SeqCst),
                POOLER_NONE | POOLER_UNKNOWN
            )
    }

    /// Runs `statement` with the pooler check in the same flight while the
    /// answer is not known and no other statement carries the check. The
    /// statement goes first, so that what a dying server says (57P01 and the
    /// like) reaches it; a failed check is asked again by a later statement.
    async fn alongside_pooler_check(
        &self,
        statement: impl std::future::Future<Output = Result<(Results, u64)>>,
    ) -> Result<(Results, u64)> {
        let unresolved = matches!(
            self.pooler.load(Ordering::SeqCst),
            POOLER_UNKNOWN | POOLER_SUSPECTED
        );
        if !unresolved || self.pooler_check_claimed.swap(true, Ordering::SeqCst) {
            return statement.await;
        }
        let (result, _) = futures_util::future::join(statement, self.detect_pooler()).await;
        result
    }

    /// Whether a connection pooler sits between us and PostgreSQL: the
    /// backend's `pg_backend_pid()` differs from the process ID of the cancel
    /// key we got at startup (PgBouncer and its kind hand out keys of their
    /// own). One round trip, once per connection. A pooler in transaction
    /// mode runs each transaction on whichever server connection is free, so
    /// a named statement prepared on one may be missing — or another client's
    /// statement of the same name — on the next: behind a pooler the
    /// statement cache is off and LISTEN is refused.
    pub(crate) async fn detect_pooler(&self) -> Result<bool> {
        match self.pooler.load(Ordering::SeqCst) {
            POOLER_NONE => return Ok(false),
            POOLER_FOUND => return Ok(true),
            _ => {}
        }
        let rows = match self.client.simple_query("SELECT pg_backend_pid()").await {
            Ok(rows) => rows,
            Err(e) => {
                // Not known after all: a later statement asks again.
                self.pooler_check_claimed.store(false, Ordering::SeqCst);
                return Err(Error::from_pg(e));
            }
        };
        let pid = rows.iter().find_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => {
                r.get(0).and_then(|v| v.parse::<i32>().ok())
            }
            _ => None,
        });
        let found = match (pid, self.key_pid) {
            (Some(pid), Some(key)) => pid != key,
            _ => false,
        };
        self.pooler.store(
            if found { POOLER_FOUND } else { POOLER_NONE },
            Ordering::SeqCst,
        );
        if found {
            // What the first statement cached is of no use behind a pooler.
            self.cache().clear();
        }
        Ok(found)
    }

    /// Refuses `sql` if it holds a LISTEN and a pooler sits in between
    /// (found out now if not yet known). Direct connections pay nothing once
    /// the pooler check has run.
    async fn refuse_listen_behind_pooler(&self, sql: &str) -> Result<()> {
        if self.pooler.load(Ordering::SeqCst) == POOLER_NONE || !crate::sql_text::has_listen(sql) {
            return Ok(());
        }
        if self.detect_pooler().await? {
            return Err(listen_behind_pooler());
        }
        Ok(())
    }

    /// Adds the cache hits counted on this connection to the pool's counters.
    pub(crate) fn report_cache_hits(&self) {
        let hits = std::mem::take(&mut self.cache().unreported_hits);
        if hits > 0 {
            self.cache_stats.hits.fetch_add(hits, Ordering::Relaxed);
        }
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, StatementCache> {
        self.statements.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The cached statement for `sql`, if there is one.
    fn cache_hit(&self, sql: &str) -> Option<Prepared> {
        let mut cache = self.cache();
        cache.clock += 1;
        let now = cache.clock;
        let (key, stmt, columns, used) = cache.get_mut(sql)?;
        *used = now;
        let hit = (stmt.clone(), columns.clone(), key.clone());
        cache.unreported_hits += 1;
        Some(hit)
    }

    /// A prepared statement for `sql` from the LRU cache, after waiting for
    /// another caller's preparation if one is under way; otherwise registers
    /// this caller as the one to prepare it (and then [`Self::prepared`]).
    async fn cached_statement(&self, sql: &str) -> Result<Option<Prepared>> {
        loop {
            let waiting = {
                let mut cache = self.cache();
                cache.clock += 1;
                let now = cache.clock;
                if let Some((key, stmt, columns, used)) = cache.get_mut(sql) {
                    *used = now;
                    self.cache_stats.hits.fetch_add(1, Ordering::Relaxed);
                    return Ok(Some((stmt.clone(), columns.clone(), key.clone())));
                }
                match cache.pending.get_mut(sql) {
                    Some(waiters) => {
                        let (tx, rx) = oneshot::channel();
                        waiters.push(tx);
                        rx
                    }
                    None => {
                        cache.pending.insert(Arc::from(sql), Vec::new());
                        self.cache_stats.misses.fetch_add(1, Ordering::Relaxed);
                        return Ok(None);
                    }
                }
            };
            match waiting.await {
                Ok(Ok(prepared)) => {
                    self.cache_stats.hits.fetch_add(1, Ordering::Relaxed);
                    return Ok(Some(prepared));
                }
                Ok(Err(e)) => return Err(e),
                // The caller preparing it went away: try again (maybe prepare it ourselves).
                Err(_) => continue,
            }
        }
    }

    /// Caches the outcome of preparing `sql` (after [`Self::cached_statement`]
    /// returned `None`) and hands it to the callers waiting for it.
    fn prepared(
        &self,
        sql: &str,
        prepared: std::result::Result<Statement, tokio_postgres::Error>,
    ) -> Result<Prepared> {
        let mut cache = self.cache();
        let waiters = cache.pending.remove(sql).unwrap_or_default();
        let stmt = match prepared.map_err(Error::from_pg) {
            Ok(stmt) => stmt,
            Err(e) => {
                for w in waiters {
                    let _ = w.send(Err(e.clone()));
                }
                return Err(e);
            }
        };
        if cache.len() >= self.statement_capacity && !cache.contains_key(sql) {
            let oldest = cache
                .iter()
                .min_by_key(|(_, (_, _, _, used))| *used)
                .map(|(k, _)| k.clone());
            if let Some(oldest) = oldest {
                cache.remove(&oldest);
                self.cache_stats.evictions.fetch_add(1, Ordering::Relaxed);
            }
        }
        let columns: Arc<[Column]> = stmt.columns().iter().map(Column::from_pg).collect();
        let key: Arc<str> = Arc::from(sql);
        cache.clock += 1;
        let now = cache.clock;
        cache.insert(
            key.clone(),
            (key.clone(), stmt.clone(), columns.clone(), now),
        );
        for w in waiters {
            let _ = w.send(Ok((stmt.clone(), columns.clone(), key.clone())));
        }
        Ok((stmt, columns, key))
    }

    /// Forgets this caller's claim to prepare `sql` if it is dropped midway.
    fn preparing<'a>(&'a self, sql: &'a str) -> OnDrop<impl FnOnce() + 'a> {
        OnDrop::new(move || {
            self.cache().pending.remove(sql);
        })
    }

    /// A statement not yet cached, run without parameters: prepares it (for
    /// next time) and runs it as an unnamed statement in the same flight, so a
    /// fresh connection answers its first query in one round trip.
    async fn prepare_and_run(
        &self,
        sql: &str,
        sent: &mut bool,
        sink: Option<&mut (dyn RowSink + '_)>,
    ) -> Result<(Results, u64)> {
        let abandoned = self.preparing(sql);
        if self.is_closed() {
            // Nothing goes out on a dead connection: the statement may be retried.
            return Err(Error::new(ErrorKind::ConnectionLost, "connection closed"));
        }
        *sent = true;
        let no_params = std::iter::empty::<(&(dyn ToSql + Sync), Type)>();
        let (prepared, stream) = futures_util::future::join(
            self.client.prepare(sql),
            self.client.query_typed_raw(sql, no_params),
        )
        .await;
        abandoned.disarm();
        let (stmt, columns, key) = self.prepared(sql, prepared)?;
        check_param_count(stmt.params().len(), &[])?;
        let stream = stream.map_err(Error::from_pg)?;
        collect_rows(stream, Some(columns), key, sink).await
    }

    /// Runs a statement on a connection this caller holds alone, its rows
    /// buffered or handed to `sink`, tracking `busy` (rule 10), `sent` (rule 6)
    /// and the transaction its SQL opens or ends (rule 10).
    pub(crate) async fn exclusive(
        &mut self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
        mut sink: Option<&mut (dyn RowSink + '_)>,
    ) -> Result<(Results, u64)> {
        let control = self.transaction_starting(sql);
        self.busy = true;
        let mut sent = false;
        let result = self
            .run(sql, None, params, &mut sent, reborrow(&mut sink))
            .await;
        self.sent = sent;
        self.busy = false;
        self.transaction_finished(control, result.is_ok());
        if let Ok((results, _)) = &result {
            if std::mem::take(&mut self.transaction_failed)
                && control == Some(false)
                && crate::command_tag::command_tag(sql, 0, false) == "COMMIT"
            {
                results.set_status("ROLLBACK");
            }
        }
        result
    }

    /// A statement failed in the open transaction, and nothing since (a
    /// ROLLBACK, a ROLLBACK TO SAVEPOINT) has saved or ended it: a COMMIT
    /// now rolls back.
    pub(crate) fn transaction_failed(&self) -> bool {
        self.transaction_failed
    }

    /// The open transaction was rolled back under its statements (a query
    /// timeout cleans the connection): it counts as failed until the next
    /// statement that succeeds.
    pub(crate) fn mark_transaction_failed(&mut self) {
        self.transaction_failed = true;
    }

    /// SQL that opens or ends a transaction (BEGIN, COMMIT, a script holding
    /// them) marks the connection as in one while it runs, so that a caller
    /// dropping it midway leaves a connection the pool rolls back (rule 10).
    fn transaction_starting(&mut self, sql: &str) -> Option<bool> {
        let control = transaction_control(sql);
        if control.is_some() {
            self.in_transaction = true;
        }
        control
    }

    /// A COMMIT or ROLLBACK (the last transaction control of the SQL) that
    /// succeeded leaves no transaction open.
    fn transaction_finished(&mut self, control: Option<bool>, ok: bool) {
        if control == Some(false) && ok {
            self.in_transaction = false;
        }
        if !ok && self.in_transaction {
            self.transaction_failed = true;
        }
    }

    /// Runs one statement; other statements may be in flight on this connection
    /// at the same time (tokio-postgres pipelines them). `sent` reports whether it
    /// reached the point where it may have run (rule 6).
    pub(crate) fn run<'a>(
        &'a self,
        sql: &'a str,
        types: Option<&'a [Type]>,
        params: &'a [&'a (dyn ToSql + Sync)],
        sent: &'a mut bool,
        sink: Option<&'a mut dyn RowSink>,
    ) -> impl std::future::Future<Output = Result<(Results, u64)>> + 'a {
        use futures_util::FutureExt;
        self.run_once(sql, types, params, sent, sink)
            .inspect(move |result| {
                if let Err(e) = result {
                    if breaks_connection(e) {
                        self.shared.unusable.store(true, Ordering::SeqCst);
                    }
                    self.check_role(e);
                }
            })
    }

    async fn run_once(
        &self,
        sql: &str,
        types: Option<&[Type]>,
        params: &[&(dyn ToSql + Sync)],
        sent: &mut bool,
        mut sink: Option<&mut (dyn RowSink + '_)>,
    ) -> Result<(Results, u64)> {
        *sent = false;
        self.refuse_listen_behind_pooler(sql).await?;
        let mut retried = false;
        // The hot path: a cached statement, run as it is.
        if types.is_none() && self.caching() {
            if let Some((stmt, columns, query)) = self.cache_hit(sql) {
                check_param_count(stmt.params().len(), params)?;
                *sent = true;
                match self
                    .run_prepared(&stmt, columns, query, params, reborrow(&mut sink))
                    .await
                {
                    // The server forgot the statement (DEALLOCATE, a pooler) or its plan
                    // changed shape: it did not run, so prepare it again, once, outside
                    // transactions.
                    Err(e) if !self.in_transaction && is_stale_statement(&e) => {
                        self.cache().remove(sql);
                        *sent = false;
                        retried = true;
                    }
                    other => return other,
                }
            }
        }
        // Boxed: preparing is the rare case and its state machine is large.
        Box::pin(self.run_preparing(sql, types, params, sent, retried, sink)).await
    }

    /// [`Self::run_once`] for a statement that is not in the cache (or is
    /// prepared with explicit types, or the cache is off).
    async fn run_preparing(
        &self,
        sql: &str,
        types: Option<&[Type]>,
        params: &[&(dyn ToSql + Sync)],
        sent: &mut bool,
        retried: bool,
        sink: Option<&mut (dyn RowSink + '_)>,
    ) -> Result<(Results, u64)> {
        if types.is_none() && !self.caching() {
            // Cache off, or a pooler found or suspected: nothing by name.
            *sent = true;
            let unnamed = self.run_unnamed(sql, params, sink);
            return self.alongside_pooler_check(unnamed).await;
        }
        if let Some(types) = types {
            // A named statement would be prepared and run in two flights,
            // which a transaction-mode pooler may send to two servers.
            if self.statement_capacity == 0 || self.detect_pooler().await? {
                *sent = true;
                return self.run_unnamed_typed(sql, types, params, sink).await;
            }
        }
        let named = self.run_named(sql, types, params, sent, retried, sink);
        self.alongside_pooler_check(named).await
    }

    /// [`Self::run_preparing`] with a named statement: from the cache (or
    /// prepared into it), or prepared with explicit `types`.
    async fn run_named(
        &self,
        sql: &str,
        types: Option<&[Type]>,
        params: &[&(dyn ToSql + Sync)],
        sent: &mut bool,
        retried: bool,
        mut sink: Option<&mut (dyn RowSink + '_)>,
    ) -> Result<(Results, u64)> {
        let mut first = !retried;
        loop {
            let (stmt, columns, query, cached) = match types {
                None if self.statement_capacity > 0 => match self.cached_statement(sql).await? {
                    Some((stmt, columns, query)) => (stmt, columns, query, true),
                    None if params.is_empty() => {
                        return self.prepare_and_run(sql, sent, sink).await
                    }
                    None => {
                        let abandoned = self.preparing(sql);
                        let prepared = self.client.prepare(sql).await;
                        abandoned.disarm();
                        let (stmt, columns, query) = self.prepared(sql, prepared)?;
                        (stmt, columns, query, true)
                    }
                },
                _ => {
                    let types = types.unwrap_or(&[]);
                    let stmt = self
                        .client
                        .prepare_typed(sql, types)
                        .await
                        .map_err(Error::from_pg)?;
                    let columns: Arc<[Column]> =
                        stmt.columns().iter().map(Column::from_pg).collect();
                    (stmt, columns, Arc::from(sql), false)
                }
            };
            check_param_count(stmt.params().len(), params)?;
            *sent = true;
            match self
                .run_prepared(&stmt, columns, query, params, reborrow(&mut sink))
                .await
            {
                Err(e) if first && cached && !self.in_transaction && is_stale_statement(&e) => {
                    self.cache().remove(sql);
                    *sent = false;
                    first = false;
                }
                other => return other,
            }
        }
    }

    async fn run_prepared(
        &self,
        stmt: &Statement,
        columns: Arc<[Column]>,
        sql: Arc<str>,
        params: &[&(dyn ToSql + Sync)],
        sink: Option<&mut (dyn RowSink + '_)>,
    ) -> Result<(Results, u64)> {
        let stream = self
            .client
            .query_raw(stmt, params.iter().copied())
            .await
            .map_err(Error::from_pg)?;
        collect_rows(stream, Some(columns), sql, sink).await
    }

    /// Statement cache off (PgBouncer transaction mode): an unnamed statement,
    /// parsed, bound and executed in one round trip.
    async fn run_unnamed(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
        sink: Option<&mut (dyn RowSink + '_)>,
    ) -> Result<(Results, u64)> {
        self.run_unnamed_typed(sql, &[], params, sink).await
    }

    /// [`Self::run_unnamed`] with the parameter types given (`types` may be
    /// shorter than `params`: the others are typed as [`declared_type`] says).
    async fn run_unnamed_typed(
        &self,
        sql: &str,
        types: &[Type],
        params: &[&(dyn ToSql + Sync)],
        sink: Option<&mut (dyn RowSink + '_)>,
    ) -> Result<(Results, u64)> {
        let typed: Vec<(&(dyn ToSql + Sync), Type)> = params
            .iter()
            .enumerate()
            .map(|(i, p)| {
                (
                    *p,
                    types.get(i).cloned().unwrap_or_else(|| declared_type(*p)),
                )
            })
            .collect();
        let stream = self
            .client
            .query_typed_raw(sql, typed)
            .await
            .map_err(Error::from_pg)?;
        // The columns come with the first row (none without rows).
        collect_rows(stream, None, Arc::from(sql), sink).await
    }

    /// Runs SQL text with the simple protocol (several statements allowed, no parameters).
    pub(crate) async fn batch(&mut self, sql: &str) -> Result<()> {
        self.refuse_listen_behind_pooler(sql).await?;
        let control = self.transaction_starting(sql);
        self.busy = true;
        self.sent = !sql.is_empty();
        let result = self.client.batch_execute(sql).await.map_err(Error::from_pg);
        self.busy = false;
        if let Err(e) = &result {
            self.check_role(e);
        }
        if result.is_ok() {
            self.transaction_failed = false;
        }
        self.transaction_finished(control, result.is_ok());
        result
    }

    /// A connection that wants a writable server and hears "read-only
    /// transaction" (25006) is on the wrong server now: never reuse it.
    fn check_role(&self, e: &Error) {
        if self.wants_writable && e.code() == Some("25006") {
            self.shared.wrong_role.store(true, Ordering::SeqCst);
            self.shared.unusable.store(true, Ordering::SeqCst);
        }
    }

    /// True once [`Self::check_role`] found the server read-only although the
    /// connection was opened for a writable one.
    pub(crate) fn found_wrong_role(&self) -> bool {
        self.shared.wrong_role.load(Ordering::SeqCst)
    }

    /// One round trip to prove the connection is alive.
    pub(crate) async fn ping(&mut self) -> Result<()> {
        self.batch("").await
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.report_cache_hits();
    }
}

/// Where a Session collects the notices of the connections it used.
pub(crate) type NoticeSink = Mutex<VecDeque<String>>;

pub(crate) fn collect_notices(sink: Option<&NoticeSink>, conn: &Connection) {
    if let Some(sink) = sink {
        let fresh = conn.take_notices();
        if !fresh.is_empty() {
            let mut ring = sink.lock().unwrap_or_else(|p| p.into_inner());
            for n in fresh {
                if ring.len() == 50 {
                    ring.pop_front();
                }
                ring.push_back(format!("{}: {}", n.severity, n.message));
            }
        }
    }
}

/// Buffers the rows of `stream` into [`Results`] (or hands them to `sink`,
/// leaving the results without rows), with the command's row count.
/// `columns` are the statement's, or `None` to take them from the first row.
async fn collect_rows(
    stream: tokio_postgres::RowStream,
    mut columns: Option<Arc<[Column]>>,
    sql: Arc<str>,
    sink: Option<&mut (dyn RowSink + '_)>,
) -> Result<(Results, u64)> {
    futures_util::pin_mut!(stream);
    let mut rows = Vec::new();
    let sink = match sink {
        Some(sink) => {
            // A retried statement starts over.
            sink.reset();
            sink
        }
        None => &mut rows as &mut dyn RowSink,
    };
    let mut n = 0u64;
    while let Some(row) = stream.try_next().await.map_err(Error::from_pg)? {
        let columns =
            columns.get_or_insert_with(|| row.columns().iter().map(Column::from_pg).collect());
        sink.row(Row::new(row, columns.clone()));
        n += 1;
    }
    // The count tokio-postgres reads from the command tag; a tag without one
    // (SHOW, EXPLAIN, CALL) reads as 0: count the rows those returned instead.
    let affected = stream.rows_affected().filter(|&a| a != 0).unwrap_or(n);
    let columns = columns.unwrap_or_else(|| Arc::from(Vec::new()));
    Ok((Results::new(sql, columns, rows, affected), affected))
}

/// A client-side failure that leaves the protocol state unknown: the socket
/// broke, or the server sent something tokio-postgres could not follow.
/// (Bad parameters or an undecodable value leave the connection fine.)
fn breaks_connection(e: &Error) -> bool {
    e.db_error().is_none()
        && (e.kind() == ErrorKind::ConnectionLost
            || e.message().starts_with("unexpected message")
            || e.message().starts_with("error parsing response"))
}

/// LISTEN behind a connection pooler (see [`Connection::detect_pooler`]).
fn listen_behind_pooler() -> Error {
    Error::new(
        ErrorKind::NotSupported,
        "LISTEN needs a server session of its own, but a connection pooler sits between this \
         client and PostgreSQL (the server's process ID is not the one of the cancel key): in \
         PgBouncer's transaction mode the notifications would never arrive. Connect the \
         listener straight to PostgreSQL",
    )
}

fn is_stale_statement(e: &Error) -> bool {
    match e.code() {
        Some("26000") => true,
        Some("0A000") => e.message().contains("cached plan"),
        _ => false,
    }
}

fn check_param_count(expected: usize, params: &[&(dyn ToSql + Sync)]) -> Result<()> {
    if expected != params.len() {
        return Err(Error::interface(format!(
            "the statement takes {expected} parameter{} but {} {} given",
            if expected == 1 { "" } else { "s" },
            params.len(),
            if params.len() == 1 { "was" } else { "were" }
        )));
    }
    Ok(())
}
