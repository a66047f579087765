//! The background upkeep of a pool: shrink idle connections (rule 8), retire
//! old ones (rule 8), drop dead ones (rule 5) and top up to `min_size` once the
//! server is reachable again (rule 7).

use std::sync::{Arc, Weak};
use std::time::Duration;

use crate::error::{Error, ErrorKind};
use crate::on_drop::OnDrop;
use crate::pool::{Inner, PoolEvent};
use crate::runtime::Runtime;
use crate::transport::Transport;

impl<T: Transport> Inner<T> {
    /// Starts the upkeep task on first use (never in `build()`, which does no I/O).
    pub(crate) fn ensure_maintainer(self: &Arc<Self>) {
        {
            let mut st = self.lock();
            if st.maintainer_started || st.closed {
                return;
            }
            st.maintainer_started = true;
        }
        let weak = Arc::downgrade(self);
        let rt = self.rt.clone();
        let tick = self
            .options
            .reconnect_interval
            .min(self.options.idle_timeout.map_or(Duration::MAX, |d| d / 4))
            .clamp(Duration::from_millis(50), Duration::from_secs(1));
        self.rt.spawn(Box::pin(async move {
            // If the runtime drops this task, let the next checkout start another.
            let restart = weak.clone();
            let _restart = OnDrop::new(move || {
                if let Some(inner) = restart.upgrade() {
                    inner.lock().maintainer_started = false;
                }
            });
            loop {
                rt.sleep(tick).await;
                if !upkeep(&weak) {
                    break;
                }
            }
        }));
    }
}

/// One round of upkeep; false when the pool is gone or closed.
fn upkeep<T: Transport>(weak: &Weak<Inner<T>>) -> bool {
    let Some(inner) = weak.upgrade() else {
        return false;
    };
    let now = inner.rt.now();
    let mut retired = Vec::new();
    let mut st = inner.lock();
    if st.closed {
        return false;
    }
    let min = inner.options.min_size;
    let mut i = 0;
    while i < st.idle.len() {
        let conn = &st.idle[i];
        let idle_for = now.saturating_sub(conn.idle_since);
        let cause = if conn.is_closed() {
            Some(&mut st.counters.closed_broken)
        } else if inner.expired(conn) {
            Some(&mut st.counters.closed_lifetime)
        } else if st.open > min && inner.options.idle_timeout.is_some_and(|t| idle_for >= t) {
            Some(&mut st.counters.closed_idle)
        } else {
            None
        };
        match cause {
            Some(counter) => {
                *counter += 1;
                // Oldest-idle connections sit at the front; remove keeps MRU order.
                retired.push(st.idle.remove(i));
                st.open -= 1;
            }
            None => i += 1,
        }
    }
    let reachable = st
        .down
        .as_ref()
        .is_none_or(|(_, at)| now.saturating_sub(*at) >= inner.options.reconnect_interval);
    if reachable && st.connecting == 0 {
        while st.open < min {
            inner.spawn_open(&mut st);
        }
    }
    drop(st);
    for conn in retired {
        // A connection that broke while idle is reported with why (node-postgres'
        // pool `error` event); the others were closed by the pool's own rules.
        let error = conn.is_closed().then(|| {
            conn.ended_with().unwrap_or_else(|| {
                Error::new(
                    ErrorKind::ConnectionLost,
                    "an idle connection was closed by the server or the network",
                )
            })
        });
        let process_id = conn.backend_pid;
        drop(conn);
        inner.fire(PoolEvent::Closed {
            error,
            idle: true,
            process_id,
        });
    }
    true
}
