//! `WasmListener`: LISTEN on a dedicated connection, delivered to a callback.

use std::cell::RefCell;

use edgepg_core::{BoxStream, Notification, Result};
use futures_channel::oneshot;
use futures_util::future::{select, Either};
use futures_util::StreamExt;
use js_sys::{Array, Promise};
use wasm_bindgen::prelude::*;

use super::error_to_js;
use super::promise;

/// A running LISTEN (`pool.listen(channel, onNotify)` in the package);
/// `unlisten()` ends it and closes its connection.
#[wasm_bindgen]
pub struct WasmListener {
    stop: RefCell<Option<oneshot::Sender<()>>>,
    done: RefCell<Option<oneshot::Receiver<()>>>,
}

impl WasmListener {
    /// Delivers each notification of `stream` to `on_notify(channel, payload,
    /// processId)` and each error (a lost connection, before it reconnects)
    /// to `on_error`, until `unlisten()` or the pool's end.
    pub(crate) fn start(
        mut stream: BoxStream<'static, Result<Notification>>,
        on_notify: js_sys::Function,
        on_error: JsValue,
    ) -> WasmListener {
        let (stop_tx, mut stop_rx) = oneshot::channel::<()>();
        let (done_tx, done_rx) = oneshot::channel::<()>();
        super::spawn(async move {
            loop {
                match select(stream.next(), &mut stop_rx).await {
                    Either::Left((Some(Ok(n)), _)) => {
                        let args = Array::of3(
                            &JsValue::from_str(&n.channel),
                            &JsValue::from_str(&n.payload),
                            &JsValue::from_f64(f64::from(n.process_id)),
                        );
                        // The package's callback catches what the user's throws.
                        let _ = on_notify.apply(&JsValue::UNDEFINED, &args);
                    }
                    Either::Left((Some(Err(e)), _)) => {
                        if let Some(f) = on_error.dyn_ref::<js_sys::Function>() {
                            let _ = f.call1(&JsValue::UNDEFINED, &error_to_js(&e));
                        }
                    }
                    Either::Left((None, _)) | Either::Right(_) => break,
                }
            }
            // Dropping the stream closes the LISTEN connection.
            drop(stream);
            let _ = done_tx.send(());
        });
        WasmListener {
            stop: RefCell::new(Some(stop_tx)),
            done: RefCell::new(Some(done_rx)),
        }
    }
}

#[wasm_bindgen]
impl WasmListener {
    /// Stops listening; resolves once the connection is closed (idempotent).
    pub fn unlisten(&self) -> Result<Promise, JsValue> {
        if let Some(stop) = self.stop.borrow_mut().take() {
            let _ = stop.send(());
        }
        let done = self.done.borrow_mut().take();
        Ok(promise(async move {
            if let Some(done) = done {
                let _ = done.await;
            }
            Ok(JsValue::UNDEFINED)
        }))
    }
}
