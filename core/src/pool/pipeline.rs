//! Pipelining: when every connection is busy and the pool is at `max_size`,
//! independent single statements (`Pool::query`, `execute`, `callproc`) share
//! a connection, several in flight at once, instead of queueing for one.
//!
//! Each statement is its own implicit transaction (tokio-postgres ends each
//! with Sync), so an error in one does not touch the others. A connection is
//! shared only while no caller waits for a connection of its own (rule 2),
//! and a pipeline with an abandoned statement takes no new members: it is
//! cleaned (rule 10) once its last member leaves.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use crate::connection::Connection;
use crate::error::Result;
use crate::pool::Inner;
use crate::transport::Transport;

/// A connection some statements are running on.
pub(crate) struct Pipeline {
    id: u64,
    conn: Arc<Connection>,
    members: Arc<Members>,
}

/// Who is on a pipeline. Joining happens under the pool lock; leaving does not,
/// except for the last one out, who takes the lock to give the connection back.
#[derive(Default)]
pub(crate) struct Members {
    count: AtomicUsize,
    /// A member was dropped while its statement was in flight.
    abandoned: AtomicBool,
}

/// One statement's share of a pipelined connection.
pub(crate) struct Lease<T: Transport> {
    inner: Arc<Inner<T>>,
    id: u64,
    members: Arc<Members>,
    conn: Option<Arc<Connection>>,
    finished: bool,
}

impl<T: Transport> Lease<T> {
    pub(crate) fn conn(&self) -> &Connection {
        self.conn.as_ref().expect("present until drop")
    }

    /// The statement completed (with or without an error): nothing is left in flight.
    pub(crate) fn finish(mut self) {
        self.finished = true;
    }
}

impl<T: Transport> Drop for Lease<T> {
    fn drop(&mut self) {
        drop(self.conn.take());
        if !self.finished {
            self.members.abandoned.store(true, Ordering::SeqCst);
        }
        if self.members.count.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.inner.leave(self.id);
        }
    }
}

impl<T: Transport> Inner<T> {
    /// A connection to run one independent statement on, shared when the pool is full.
    pub(crate) async fn lease(self: &Arc<Self>, ping: bool) -> Result<Lease<T>> {
        match self.try_lease(ping) {
            Some(lease) => Ok(lease),
            // Boxed: the checkout's state machine is large and rarely needed.
            None => Box::pin(self.lease_waiting(ping)).await,
        }
    }

    /// An idle connection, or a place in a pipeline, without waiting.
    fn try_lease(self: &Arc<Self>, ping: bool) -> Option<Lease<T>> {
        if ping {
            return None;
        }
        let mut st = self.lock();
        if let Some(conn) = self.take_idle(&mut st) {
            st.in_use += 1;
            return Some(self.pipeline(&mut st, conn));
        }
        // With `acquire_timeout(ZERO)` nothing waits, not even behind a
        // statement on a shared connection: the checkout fails with PoolFull.
        if st.open < self.options.max_size
            || !st.waiters.is_empty()
            || st.closed
            || self.options.acquire_timeout.is_zero()
        {
            return None;
        }
        let depth = self.options.pipeline_depth;
        let p = st
            .pipelines
            .iter()
            .filter(|p| {
                !p.members.abandoned.load(Ordering::SeqCst)
                    && p.members.count.load(Ordering::SeqCst) < depth
                    && !p.conn.is_closed()
            })
            .min_by_key(|p| p.members.count.load(Ordering::SeqCst))?;
        p.members.count.fetch_add(1, Ordering::SeqCst);
        Some(Lease {
            inner: self.clone(),
            id: p.id,
            members: p.members.clone(),
            conn: Some(p.conn.clone()),
            finished: false,
        })
    }

    /// Nothing to share: check out a connection of its own (stretching, waiting,
    /// timeouts and unavailability all apply), and open a pipeline on it.
    async fn lease_waiting(self: &Arc<Self>, ping: bool) -> Result<Lease<T>> {
        let conn = self.acquire_pinging(ping).await?.detach();
        let mut st = self.lock();
        Ok(self.pipeline(&mut st, conn))
    }

    fn pipeline(self: &Arc<Self>, st: &mut super::State, conn: Connection) -> Lease<T> {
        let id = st.next_pipeline;
        st.next_pipeline += 1;
        let conn = Arc::new(conn);
        let members = Arc::new(Members::default());
        members.count.store(1, Ordering::SeqCst);
        st.pipelines.push(Pipeline {
            id,
            conn: conn.clone(),
            members: members.clone(),
        });
        Lease {
            inner: self.clone(),
            id,
            members,
            conn: Some(conn),
            finished: false,
        }
    }

    /// The last member left: unless someone joined meanwhile (under the lock),
    /// return the connection (cleaned if needed).
    fn leave(self: &Arc<Self>, id: u64) {
        let mut st = self.lock();
        let Some(i) = st.pipelines.iter().position(|p| p.id == id) else {
            return;
        };
        if st.pipelines[i].members.count.load(Ordering::SeqCst) > 0 {
            return;
        }
        let p = st.pipelines.swap_remove(i);
        drop(st);
        let abandoned = p.members.abandoned.load(Ordering::SeqCst);
        match Arc::try_unwrap(p.conn) {
            Ok(mut conn) => {
                conn.busy = abandoned;
                self.release(conn);
            }
            // Unreachable: every lease drops its handle before leaving.
            Err(_) => self.put_back(None),
        }
    }
}
