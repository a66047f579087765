//! Checking connections out and taking them back: idle connections most
//! recently used first and waiters oldest first (rule 2), stretching to
//! `max_size` (rule 3), the acquire timeout (rule 4), liveness (rule 5),
//! cleaning what comes back (rule 10), and the books kept right when a
//! caller gives up midway (rule 11).

use std::sync::Arc;
use std::time::Duration;

use futures_channel::oneshot;

use super::{pool_closed, Inner, PoolEvent, PooledConnection, State, Waiter, PING_TIMEOUT};
use crate::connection::Connection;
use crate::error::{duration_text, Error, ErrorKind, Result};
use crate::on_drop::OnDrop;
use crate::runtime::{timeout, Runtime};
use crate::transport::Transport;

impl<T: Transport> Inner<T> {
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
        let msg = format!(
            "no connection became available within {}",
            duration_text(limit)
        );
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
    pub(super) fn take_idle(&self, st: &mut State) -> Option<Connection> {
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

    /// Gives an idle connection to the oldest live waiter, or parks it (rule 2).
    pub(super) fn hand_over(&self, st: &mut State, mut conn: Connection) {
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
    pub(super) fn replenish(self: &Arc<Self>, st: &mut State) {
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

    pub(super) fn put_back(self: &Arc<Self>, conn: Option<Connection>) {
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
                // Its server turned read-only (demoted, or default_transaction_read_only):
                // the idle connections to it are as wrong; the next connects re-evaluate
                // target_session_attrs over all hosts.
                let stale: Vec<Connection> = match &other {
                    Some(c) if c.found_wrong_role() => {
                        let target = c.target().clone();
                        let (stale, keep) = std::mem::take(&mut st.idle)
                            .into_iter()
                            .partition(|idle| *idle.target() == target);
                        st.idle = keep;
                        st.open -= stale.len();
                        st.counters.closed_broken += stale.len() as u64;
                        stale
                    }
                    _ => Vec::new(),
                };
                self.replenish(&mut st);
                drop(st);
                drop(stale);
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

    fn remove_waiter(&self, id: u64) {
        let mut st = self.lock();
        st.waiters.retain(|w| w.id != id);
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
