//! Pool events: a callback told when connections open and close
//! ([`crate::Builder::on_event`]), the hooks behind node-postgres' `connect`,
//! `remove` and `error` events in the JavaScript package.

use std::fmt;
use std::sync::Arc;

use crate::error::Error;
use crate::platform::{MaybeSend, MaybeSync, SharedFn};

/// Something that happened to one of a pool's connections.
///
/// ```
/// use edgepg_core::pool::PoolEvent;
/// let e = PoolEvent::Closed { error: None, idle: true, process_id: Some(4242) };
/// assert!(matches!(e, PoolEvent::Closed { idle: true, .. }));
/// ```
#[derive(Debug, Clone)]
pub enum PoolEvent {
    /// A new connection was opened and set up (its `setsession` ran).
    Opened,
    /// A connection left the pool and was closed: idle too long, too old,
    /// discarded, broken, or closed by [`crate::Pool::close`].
    Closed {
        /// Why it broke, when it died (the server ended it, the network
        /// failed) rather than being closed by the pool.
        error: Option<Error>,
        /// Whether it was idle in the pool (not checked out) when it closed.
        idle: bool,
        /// The server process ID, when the connection had learned it
        /// ([`crate::PooledConnection::backend_pid`]).
        process_id: Option<i32>,
    },
}

/// The callback, shared by the pool's tasks.
#[derive(Clone)]
pub(crate) struct EventHook(SharedFn<PoolEvent>);

impl EventHook {
    pub(crate) fn new(f: impl Fn(&PoolEvent) + MaybeSend + MaybeSync + 'static) -> EventHook {
        EventHook(Arc::new(f))
    }

    /// Calls the callback (never with the pool's lock held: it may call the pool).
    pub(crate) fn fire(&self, event: &PoolEvent) {
        (self.0)(event)
    }
}

impl fmt::Debug for EventHook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EventHook")
    }
}
