//! `WasmTransaction`: a transaction held by JavaScript (`pool.transaction()`).

use std::rc::Rc;

use futures_util::lock::Mutex;
use js_sys::Promise;
use wasm_bindgen::prelude::*;

use super::decode::Types;
use super::packet::{Mode, Packet};
use super::promise;
use super::Held;
use super::{aborted, cancel_on_abort, error_to_js, interface, packets, prepare, refs, string_arg};
use crate::Transaction;

/// An open transaction. `commit()` / `rollback()` end it; dropped unfinished
/// (garbage-collected), it rolls back.
#[wasm_bindgen]
pub struct WasmTransaction {
    tx: Held<Transaction>,
    types: Types,
    max_param_bytes: usize,
}

fn finished() -> JsValue {
    interface("the transaction is already committed or rolled back")
}

impl WasmTransaction {
    pub(crate) fn new(tx: Transaction, types: Types, max: usize) -> WasmTransaction {
        WasmTransaction {
            tx: Rc::new(Mutex::new(Some(tx))),
            types,
            max_param_bytes: max,
        }
    }
}

#[wasm_bindgen]
impl WasmTransaction {
    /// Runs a statement in the transaction: resolves to a packet (`flags`,
    /// `text_oids`, `abort` as for a client).
    pub fn query(
        &self,
        sql: JsValue,
        params: JsValue,
        flags: Option<u32>,
        text_oids: Option<Vec<u32>>,
        abort: JsValue,
    ) -> Result<Promise, JsValue> {
        let (sql, values) = prepare(&sql, &params, self.max_param_bytes)?;
        let tx = self.tx.clone();
        let types = self.types;
        let mode = Mode::new(flags, text_oids);
        Ok(promise(async move {
            let mut guard = tx.lock().await;
            let tx = guard.as_mut().ok_or_else(finished)?;
            let cancel = tx.connection().cancel_handle();
            let mut rows = Packet::new(types, mode);
            let refs = refs(&values);
            let results = cancel_on_abort(tx.query_into(&sql, &refs, &mut rows), &abort, &cancel)
                .await
                .map_err(|e| e.map_or_else(aborted, |e| error_to_js(&e)))?;
            rows.finish(&results)
        }))
    }

    /// Runs a script of statements without parameters in the transaction:
    /// resolves to an array of packets.
    #[wasm_bindgen(js_name = queryScript)]
    pub fn query_script(
        &self,
        sql: JsValue,
        flags: Option<u32>,
        text_oids: Option<Vec<u32>>,
        abort: JsValue,
    ) -> Result<Promise, JsValue> {
        let sql = string_arg(&sql, "the query text", self.max_param_bytes)?;
        let tx = self.tx.clone();
        let types = self.types;
        let mode = Mode::new(flags, text_oids);
        Ok(promise(async move {
            let mut guard = tx.lock().await;
            let tx = guard.as_mut().ok_or_else(finished)?;
            let cancel = tx.connection().cancel_handle();
            let all = cancel_on_abort(tx.query_script(&sql), &abort, &cancel)
                .await
                .map_err(|e| e.map_or_else(aborted, |e| error_to_js(&e)))?;
            packets(&all, types, &mode)
        }))
    }

    /// Creates a savepoint.
    pub fn savepoint(&self, name: JsValue) -> Result<Promise, JsValue> {
        self.named(name, 0)
    }

    /// Rolls back to a savepoint.
    #[wasm_bindgen(js_name = rollbackTo)]
    pub fn rollback_to(&self, name: JsValue) -> Result<Promise, JsValue> {
        self.named(name, 1)
    }

    fn named(&self, name: JsValue, op: u8) -> Result<Promise, JsValue> {
        let name = string_arg(&name, "the savepoint name", 1 << 16)?;
        let tx = self.tx.clone();
        Ok(promise(async move {
            let mut guard = tx.lock().await;
            let tx = guard.as_mut().ok_or_else(finished)?;
            let r = if op == 0 {
                tx.savepoint(&name).await
            } else {
                tx.rollback_to(&name).await
            };
            r.map_err(|e| error_to_js(&e))?;
            Ok(JsValue::UNDEFINED)
        }))
    }

    /// Commits.
    pub fn commit(&self) -> Result<Promise, JsValue> {
        let tx = self.tx.clone();
        Ok(promise(async move {
            let taken = tx.lock().await.take().ok_or_else(finished)?;
            taken.commit().await.map_err(|e| error_to_js(&e))?;
            Ok(JsValue::UNDEFINED)
        }))
    }

    /// Rolls back (a no-op when already finished).
    pub fn rollback(&self) -> Result<Promise, JsValue> {
        let tx = self.tx.clone();
        Ok(promise(async move {
            if let Some(taken) = tx.lock().await.take() {
                taken.rollback().await.map_err(|e| error_to_js(&e))?;
            }
            Ok(JsValue::UNDEFINED)
        }))
    }
}
