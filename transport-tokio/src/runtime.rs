//! [`TokioRuntime`]: the core's runtime on tokio.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use edgepg_core::{BoxFuture, Runtime};

/// Spawns on the current tokio runtime (if there is one) and uses tokio's timers.
///
/// ```
/// use edgepg_core::Runtime;
/// let rt = edgepg_tokio::TokioRuntime;
/// let a = rt.now();
/// assert!(rt.now() >= a);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioRuntime;

impl Runtime for TokioRuntime {
    fn spawn(&self, task: BoxFuture<'static, ()>) {
        // Outside a runtime (a pooled connection dropped after `block_on`
        // returned) there is nothing to run the task on: dropping it drops the
        // connection, which the pool then counts as discarded.
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(task);
        }
    }

    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        Box::pin(tokio::time::sleep(duration))
    }

    fn scope(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.id().hash(&mut h);
        }
        h.finish()
    }

    fn now(&self) -> Duration {
        static ORIGIN: OnceLock<Instant> = OnceLock::new();
        ORIGIN.get_or_init(Instant::now).elapsed()
    }
}
