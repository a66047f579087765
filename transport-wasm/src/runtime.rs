//! [`WasmRuntime`]: the core's runtime on the JavaScript event loop.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use edgepg_core::{BoxFuture, Runtime};
use wasm_bindgen::prelude::*;

use crate::sys;

/// Spawns with `spawn_local`, sleeps with the host's `setTimeout`, and reads
/// a monotonic clock from `performance.now()` (falling back to `Date.now()`).
///
/// In Node, timers of 100 ms and more are `unref()`ed, so that an idle pool's
/// upkeep never keeps a process alive by itself (sockets still do).
#[derive(Debug, Clone, Copy, Default)]
pub struct WasmRuntime;

impl Runtime for WasmRuntime {
    fn spawn(&self, task: BoxFuture<'static, ()>) {
        wasm_bindgen_futures::spawn_local(task);
    }

    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        Box::pin(Sleep::new(duration))
    }

    fn now(&self) -> Duration {
        now()
    }
}

/// Monotonic milliseconds since an arbitrary origin, never going backwards.
fn now() -> Duration {
    thread_local!(static LAST: Cell<f64> = const { Cell::new(0.0) });
    let raw = sys::performance_now().unwrap_or_else(|_| js_sys::Date::now());
    let ms = LAST.with(|last| {
        let ms = if raw.is_finite() {
            raw.max(last.get())
        } else {
            last.get()
        };
        last.set(ms);
        ms
    });
    // `as` saturates and maps NaN to 0: no panic is possible here.
    Duration::from_micros((ms * 1000.0) as u64)
}

struct SleepState {
    fired: Cell<bool>,
    waker: Cell<Option<Waker>>,
}

/// A `setTimeout` as a future; dropping it clears the timer.
struct Sleep {
    state: Rc<SleepState>,
    handle: Option<JsValue>,
    _callback: Option<Closure<dyn FnMut()>>,
}

impl Sleep {
    fn new(duration: Duration) -> Sleep {
        let state = Rc::new(SleepState {
            fired: Cell::new(false),
            waker: Cell::new(None),
        });
        let fired = state.clone();
        let callback = Closure::<dyn FnMut()>::new(move || {
            fired.fired.set(true);
            if let Some(w) = fired.waker.take() {
                w.wake();
            }
        });
        // Hosts clamp huge delays (over 2^31-1 ms) to 1 ms: cap instead.
        let ms = (duration.as_secs_f64() * 1000.0).min(2_147_483_647.0);
        match sys::set_timeout(callback.as_ref(), ms) {
            Ok(handle) => {
                if ms >= 100.0 && handle.is_object() {
                    let _ = sys::call_method(&handle, "unref", &[]);
                }
                Sleep {
                    state,
                    handle: Some(handle),
                    _callback: Some(callback),
                }
            }
            Err(_) => {
                // No timers (should not happen): complete at once rather than hang.
                state.fired.set(true);
                Sleep {
                    state,
                    handle: None,
                    _callback: None,
                }
            }
        }
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.state.fired.get() {
            return Poll::Ready(());
        }
        self.state.waker.set(Some(cx.waker().clone()));
        Poll::Pending
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        if let Some(handle) = self.handle.take() {
            if !self.state.fired.get() {
                let _ = sys::clear_timeout(&handle);
            }
        }
    }
}
