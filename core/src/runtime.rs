//! The [`Runtime`] trait: what the core needs from an executor.

use std::future::Future;
use std::time::Duration;

use futures_util::future::{select, Either};

use crate::platform::{BoxFuture, MaybeSend, MaybeSync};

/// Spawns connection drivers, sleeps, and tells the time.
///
/// Native code uses tokio; wasm32 uses the JavaScript event loop. The clock is
/// monotonic time since an arbitrary origin, because `std::time::Instant`
/// does not exist on `wasm32-unknown-unknown`.
///
/// ```
/// use std::time::Duration;
/// use edgepg_core::{BoxFuture, Runtime};
///
/// #[derive(Clone)]
/// struct Inline;
/// impl Runtime for Inline {
///     fn spawn(&self, task: BoxFuture<'static, ()>) { drop(task) }
///     fn sleep(&self, _: Duration) -> BoxFuture<'static, ()> { Box::pin(async {}) }
///     fn now(&self) -> Duration { Duration::ZERO }
/// }
/// assert_eq!(Inline.now(), Duration::ZERO);
/// ```
pub trait Runtime: Clone + MaybeSend + MaybeSync + 'static {
    /// Runs `task` in the background until it completes.
    fn spawn(&self, task: BoxFuture<'static, ()>);
    /// Completes after `duration`.
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()>;
    /// Monotonic time since an arbitrary, fixed origin.
    fn now(&self) -> Duration;

    /// Identifies the executor instance the caller runs on. Connection drivers
    /// live on the executor that opened them, so `Session::new` shares a pool
    /// only within one scope (e.g. one tokio runtime). Default: one scope.
    ///
    /// ```
    /// # use std::time::Duration;
    /// use edgepg_core::{BoxFuture, Runtime};
    /// #[derive(Clone)]
    /// struct Inline;
    /// impl Runtime for Inline {
    ///     fn spawn(&self, task: BoxFuture<'static, ()>) { drop(task) }
    ///     fn sleep(&self, _: Duration) -> BoxFuture<'static, ()> { Box::pin(async {}) }
    ///     fn now(&self) -> Duration { Duration::ZERO }
    /// }
    /// assert_eq!(Inline.scope(), 0);
    /// ```
    fn scope(&self) -> u64 {
        0
    }
}

/// Runs `fut` for at most `limit`; `None` means it timed out (and was dropped).
pub(crate) async fn timeout<R: Runtime, F: Future>(
    rt: &R,
    limit: Duration,
    fut: F,
) -> Option<F::Output> {
    let fut = std::pin::pin!(fut);
    match select(fut, rt.sleep(limit)).await {
        Either::Left((out, _)) => Some(out),
        Either::Right(_) => None,
    }
}
