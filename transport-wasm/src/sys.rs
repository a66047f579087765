//! Bindings to the few host functions used here, typed loosely so that any
//! runtime's objects fit (browser, Node's `ws`, workerd, Deno, Bun).
//!
//! Every call that can throw is declared `catch`, so a misbehaving host object
//! becomes an error value, never a trap.

use js_sys::{Object, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(catch, js_name = setTimeout)]
    pub fn set_timeout(cb: &JsValue, ms: f64) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(catch, js_name = clearTimeout)]
    pub fn clear_timeout(handle: &JsValue) -> Result<(), JsValue>;
    #[wasm_bindgen(catch, js_name = queueMicrotask)]
    pub fn queue_microtask(cb: &JsValue) -> Result<(), JsValue>;
    #[wasm_bindgen(catch, js_namespace = performance, js_name = now)]
    pub fn performance_now() -> Result<f64, JsValue>;

    /// A WebSocket (browser, `ws`, workerd, Deno, Bun).
    #[derive(Clone)]
    pub type WebSocketLike;
    #[wasm_bindgen(catch, method, js_name = send)]
    pub fn send(this: &WebSocketLike, data: &js_sys::Uint8Array) -> Result<(), JsValue>;
    #[wasm_bindgen(catch, method, js_name = close)]
    pub fn close_with(this: &WebSocketLike, code: u16) -> Result<(), JsValue>;
    #[wasm_bindgen(method, getter, js_name = readyState)]
    pub fn ready_state(this: &WebSocketLike) -> JsValue;

    /// A `ReadableStreamDefaultReader`.
    #[derive(Clone)]
    pub type Reader;
    #[wasm_bindgen(catch, method)]
    pub fn read(this: &Reader) -> Result<js_sys::Promise, JsValue>;
    #[wasm_bindgen(catch, method, js_name = releaseLock)]
    pub fn release_lock(this: &Reader) -> Result<(), JsValue>;
    #[wasm_bindgen(catch, method)]
    pub fn cancel(this: &Reader) -> Result<js_sys::Promise, JsValue>;

    /// A `WritableStreamDefaultWriter`.
    #[derive(Clone)]
    pub type Writer;
    #[wasm_bindgen(catch, method)]
    pub fn write(this: &Writer, chunk: &js_sys::Uint8Array) -> Result<js_sys::Promise, JsValue>;
    #[wasm_bindgen(catch, method, js_name = releaseLock)]
    pub fn release_lock_writer(this: &Writer) -> Result<(), JsValue>;
    #[wasm_bindgen(catch, method, js_name = close)]
    pub fn close_writer(this: &Writer) -> Result<js_sys::Promise, JsValue>;
}

/// `obj[key]`, or `undefined` when `obj` is not an object or the getter throws.
pub fn get(obj: &JsValue, key: &str) -> JsValue {
    if !obj.is_object() && !obj.is_function() {
        return JsValue::UNDEFINED;
    }
    Reflect::get(obj, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

/// `obj[key] = value`, ignoring failures (frozen objects, throwing setters).
pub fn set(obj: &JsValue, key: &str, value: &JsValue) {
    if obj.is_object() || obj.is_function() {
        let _ = Reflect::set(obj, &JsValue::from_str(key), value);
    }
}

/// Calls `obj[method](...args)` if it is a function.
pub fn call_method(obj: &JsValue, method: &str, args: &[JsValue]) -> Result<JsValue, JsValue> {
    let f = get(obj, method);
    let f: js_sys::Function = f
        .dyn_into()
        .map_err(|_| JsValue::from_str(&format!("{method} is not a function")))?;
    let array: js_sys::Array = args.iter().collect();
    f.apply(obj, &array)
}

/// True when `value` has a callable `then` (a promise or thenable).
pub fn is_thenable(value: &JsValue) -> bool {
    get(value, "then").is_function()
}

/// A readable message for a thrown JavaScript value.
pub fn describe(err: &JsValue) -> String {
    if let Some(s) = err.as_string() {
        return s;
    }
    let message = get(err, "message");
    if let Some(m) = message.as_string() {
        let name = get(err, "name").as_string();
        return match name {
            Some(n) if !n.is_empty() && n != "Error" => format!("{n}: {m}"),
            _ => m,
        };
    }
    if let Ok(obj) = err.clone().dyn_into::<Object>() {
        if let Some(s) = obj.to_string().as_string() {
            return s;
        }
    }
    "unknown JavaScript error".to_string()
}

/// Converts a thrown JavaScript value into an `io::Error` with `context`.
pub fn io_error(kind: std::io::ErrorKind, context: &str, err: &JsValue) -> std::io::Error {
    std::io::Error::new(kind, format!("{context}: {}", describe(err)))
}

/// The global object.
pub fn global() -> JsValue {
    js_sys::global().into()
}

/// A function that does nothing, for handlers left behind on closed sockets.
pub fn noop() -> JsValue {
    thread_local! {
        static NOOP: JsValue = Closure::<dyn FnMut(JsValue)>::new(|_: JsValue| {}).into_js_value();
    }
    NOOP.with(Clone::clone)
}

/// Attaches a no-op rejection handler to a promise nobody awaits, so that its
/// failure is not reported as an unhandled rejection (fatal in Node).
pub fn ignore_rejection(promise: &JsValue) {
    if is_thenable(promise) {
        let _ = call_method(promise, "catch", &[noop()]);
    }
}
