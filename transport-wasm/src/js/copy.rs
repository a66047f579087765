//! `WasmCopyIn` / `WasmCopyOut`: COPY FROM STDIN and TO STDOUT, chunk by
//! chunk, for the package's Web streams (`copyFrom`, `copyTo`).

use std::rc::Rc;

use bytes::Bytes;
use edgepg_core::{BoxStream, CopyIn, Result};
use futures_util::lock::Mutex;
use futures_util::StreamExt;
use js_sys::{Promise, Uint8Array};
use wasm_bindgen::prelude::*;

use super::promise;
use super::Held;
use super::{error_to_js, interface};
use crate::WasmTransport;

fn ended() -> JsValue {
    interface("the COPY has already ended")
}

/// A `COPY … FROM STDIN` in progress. Dropped unfinished, it is aborted and
/// nothing is stored.
#[wasm_bindgen]
pub struct WasmCopyIn {
    copy: Held<CopyIn<WasmTransport>>,
}

impl WasmCopyIn {
    pub(crate) fn new(copy: CopyIn<WasmTransport>) -> WasmCopyIn {
        WasmCopyIn {
            copy: Rc::new(Mutex::new(Some(copy))),
        }
    }
}

#[wasm_bindgen]
impl WasmCopyIn {
    /// Sends one chunk; resolves when the connection has taken it (back-pressure).
    pub fn send(&self, chunk: &Uint8Array) -> Result<Promise, JsValue> {
        let data = Bytes::from(chunk.to_vec());
        let copy = self.copy.clone();
        Ok(promise(async move {
            let mut guard = copy.lock().await;
            let c = guard.as_mut().ok_or_else(ended)?;
            if let Err(e) = c.send(data).await {
                guard.take();
                return Err(error_to_js(&e));
            }
            Ok(JsValue::UNDEFINED)
        }))
    }

    /// Ends the COPY: resolves to the number of rows stored, or rejects with
    /// the server's error (naming the failing line in `where`).
    pub fn finish(&self) -> Result<Promise, JsValue> {
        let copy = self.copy.clone();
        Ok(promise(async move {
            let c = copy.lock().await.take().ok_or_else(ended)?;
            let n = c.finish().await.map_err(|e| error_to_js(&e))?;
            Ok(JsValue::from_f64(n as f64))
        }))
    }

    /// Aborts the COPY: nothing of it is stored (idempotent).
    pub fn abort(&self) -> Result<Promise, JsValue> {
        let copy = self.copy.clone();
        Ok(promise(async move {
            drop(copy.lock().await.take());
            Ok(JsValue::UNDEFINED)
        }))
    }
}

/// A `COPY … TO STDOUT` in progress; `close()` early returns the connection clean.
#[wasm_bindgen]
pub struct WasmCopyOut {
    out: Held<BoxStream<'static, Result<Bytes>>>,
}

impl WasmCopyOut {
    pub(crate) fn new(out: BoxStream<'static, Result<Bytes>>) -> WasmCopyOut {
        WasmCopyOut {
            out: Rc::new(Mutex::new(Some(out))),
        }
    }
}

#[wasm_bindgen]
impl WasmCopyOut {
    /// Resolves to the next chunk the server sent, or `undefined` at the end.
    pub fn next(&self) -> Result<Promise, JsValue> {
        let out = self.out.clone();
        Ok(promise(async move {
            let mut guard = out.lock().await;
            let Some(stream) = guard.as_mut() else {
                return Ok(JsValue::UNDEFINED);
            };
            match stream.next().await {
                Some(Ok(chunk)) => Ok(Uint8Array::from(&chunk[..]).into()),
                Some(Err(e)) => {
                    guard.take();
                    Err(error_to_js(&e))
                }
                None => {
                    guard.take();
                    Ok(JsValue::UNDEFINED)
                }
            }
        }))
    }

    /// Stops reading (idempotent).
    pub fn close(&self) -> Result<Promise, JsValue> {
        let out = self.out.clone();
        Ok(promise(async move {
            drop(out.lock().await.take());
            Ok(JsValue::UNDEFINED)
        }))
    }
}
