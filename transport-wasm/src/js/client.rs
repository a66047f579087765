//! `WasmClient`: a connection checked out by JavaScript (`pool.connect()`
//! and the package's `Client`).

use std::rc::Rc;

use futures_util::lock::Mutex;
use futures_util::StreamExt;
use js_sys::{Array, Promise};
use wasm_bindgen::prelude::*;

use super::decode::Types;
use super::packet::{Mode, Packet};
use super::promise;
use super::Held;
use super::{
    aborted, cancel_on_abort, error_to_js, interface, packets, prepare, refs, set_db_fields,
    string_arg,
};
use crate::sys;
use crate::PooledConnection;

fn released() -> JsValue {
    interface("the client was released")
}

/// A checked-out connection (`pool.connect()` in the package); `release()`
/// returns it, and so does garbage collection.
#[wasm_bindgen]
pub struct WasmClient {
    conn: Held<PooledConnection>,
    /// Dropped on release: ends the `on_closed` watch.
    watching: std::cell::RefCell<Option<futures_channel::oneshot::Sender<()>>>,
    pid: i32,
    types: Types,
    max_param_bytes: usize,
}

impl WasmClient {
    pub(crate) fn new(conn: PooledConnection, pid: i32, types: Types, max: usize) -> WasmClient {
        WasmClient {
            conn: Rc::new(Mutex::new(Some(conn))),
            watching: Default::default(),
            pid,
            types,
            max_param_bytes: max,
        }
    }
}

#[wasm_bindgen]
impl WasmClient {
    /// Runs a statement on this connection: resolves to a packet (`flags`,
    /// `text_oids` as for the pool). When `abort` settles first, the server
    /// is asked to cancel the statement and the call rejects once it has
    /// ended; the connection stays usable.
    pub fn query(
        &self,
        sql: JsValue,
        params: JsValue,
        flags: Option<u32>,
        text_oids: Option<Vec<u32>>,
        abort: JsValue,
    ) -> Result<Promise, JsValue> {
        let (sql, values) = prepare(&sql, &params, self.max_param_bytes)?;
        let conn = self.conn.clone();
        let types = self.types;
        let mode = Mode::new(flags, text_oids);
        Ok(promise(async move {
            let mut guard = conn.lock().await;
            let conn = guard.as_mut().ok_or_else(released)?;
            let cancel = conn.cancel_handle();
            let mut rows = Packet::new(types, mode);
            let refs = refs(&values);
            let results = cancel_on_abort(conn.query_into(&sql, &refs, &mut rows), &abort, &cancel)
                .await
                .map_err(|e| e.map_or_else(aborted, |e| error_to_js(&e)))?;
            rows.finish(&results)
        }))
    }

    /// Runs a script of statements without parameters: resolves to an array
    /// of packets, one per statement.
    #[wasm_bindgen(js_name = queryScript)]
    pub fn query_script(
        &self,
        sql: JsValue,
        flags: Option<u32>,
        text_oids: Option<Vec<u32>>,
        abort: JsValue,
    ) -> Result<Promise, JsValue> {
        let sql = string_arg(&sql, "the query text", self.max_param_bytes)?;
        let conn = self.conn.clone();
        let types = self.types;
        let mode = Mode::new(flags, text_oids);
        Ok(promise(async move {
            let mut guard = conn.lock().await;
            let conn = guard.as_mut().ok_or_else(released)?;
            let cancel = conn.cancel_handle();
            let all = cancel_on_abort(conn.query_script(&sql), &abort, &cancel)
                .await
                .map_err(|e| e.map_or_else(aborted, |e| error_to_js(&e)))?;
            packets(&all, types, &mode)
        }))
    }

    /// The server process ID of this connection.
    #[wasm_bindgen(getter, js_name = processID)]
    pub fn process_id(&self) -> i32 {
        self.pid
    }

    /// True while a transaction opened with `BEGIN` is open on this connection.
    #[wasm_bindgen(getter, js_name = inTransaction)]
    pub fn in_transaction(&self) -> bool {
        self.conn
            .try_lock()
            .is_some_and(|g| g.as_ref().is_some_and(|c| c.in_transaction()))
    }

    /// Whether the connection has broken (the server or network ended it).
    #[wasm_bindgen(getter)]
    pub fn broken(&self) -> bool {
        self.conn
            .try_lock()
            .is_some_and(|g| g.as_ref().is_some_and(|c| c.is_closed()))
    }

    /// The notices received since the last call, oldest first, as
    /// `{ message, severity, code, detail, hint, where, … }`; empty while a
    /// statement runs.
    #[wasm_bindgen(js_name = takeNotices)]
    pub fn take_notices(&self) -> Result<Array, JsValue> {
        let notices = match self.conn.try_lock() {
            Some(mut g) => g.as_mut().map(|c| c.take_notices()).unwrap_or_default(),
            None => Vec::new(),
        };
        Ok(notices
            .iter()
            .map(|n| {
                let o: JsValue = js_sys::Object::new().into();
                sys::set(&o, "message", &JsValue::from_str(&n.message));
                set_db_fields(&o, n);
                o
            })
            .collect())
    }

    /// Calls `callback(channel, payload, processId)` for each NOTIFY this
    /// connection receives (after a `LISTEN` on it) until it is released.
    #[wasm_bindgen(js_name = onNotification)]
    pub fn on_notification(&self, callback: js_sys::Function) -> Result<Promise, JsValue> {
        let conn = self.conn.clone();
        Ok(promise(async move {
            let mut guard = conn.lock().await;
            let conn = guard.as_mut().ok_or_else(released)?;
            let mut events = conn.notifications();
            drop(guard);
            super::spawn(async move {
                while let Some(n) = events.next().await {
                    let args = Array::of3(
                        &JsValue::from_str(&n.channel),
                        &JsValue::from_str(&n.payload),
                        &JsValue::from_f64(f64::from(n.process_id)),
                    );
                    // The package's callback reports its own errors.
                    let _ = callback.apply(&JsValue::UNDEFINED, &args);
                }
            });
            Ok(JsValue::UNDEFINED)
        }))
    }

    /// Calls `callback(error)` once if the connection ends while this client
    /// holds it (the server or the network closed it); `error` is why, or
    /// undefined. Nothing is called after `release()`.
    #[wasm_bindgen(js_name = onClosed)]
    pub fn on_closed(&self, callback: js_sys::Function) -> Result<(), JsValue> {
        let Some(guard) = self.conn.try_lock() else {
            return Err(interface("onClosed: a statement is running"));
        };
        let Some(conn) = guard.as_ref() else {
            return Err(released());
        };
        let ended = conn.closed();
        let (tx, rx) = futures_channel::oneshot::channel::<()>();
        self.watching.borrow_mut().replace(tx);
        drop(guard);
        super::spawn(async move {
            match futures_util::future::select(std::pin::pin!(ended), rx).await {
                futures_util::future::Either::Left((error, _)) => {
                    let error = error.as_ref().map_or(JsValue::UNDEFINED, error_to_js);
                    let _ = callback.call1(&JsValue::UNDEFINED, &error);
                }
                futures_util::future::Either::Right(_) => {}
            }
        });
        Ok(())
    }

    /// Returns the connection to the pool (idempotent). A statement still
    /// running is cancelled first (rule 10).
    pub fn release(&self) {
        self.give_back(false);
    }

    /// Closes the connection instead of returning it (node-postgres'
    /// `release(err)`); the pool opens another when needed.
    pub fn discard(&self) {
        self.give_back(true);
    }

    fn give_back(&self, discard: bool) {
        // Stop watching for the connection's end (see `on_closed`).
        self.watching.borrow_mut().take();
        let end = move |conn: Option<PooledConnection>| {
            if let Some(conn) = conn {
                if discard {
                    conn.discard();
                }
            }
        };
        if let Some(mut guard) = self.conn.try_lock() {
            end(guard.take());
        } else {
            // A query is running: release once it ends.
            let conn = self.conn.clone();
            super::spawn(async move {
                end(conn.lock().await.take());
            });
        }
    }

    /// True once released.
    #[wasm_bindgen(getter)]
    pub fn released(&self) -> bool {
        self.conn.try_lock().is_some_and(|g| g.is_none())
    }
}
