//! The wasm-bindgen classes behind the npm package `edgepg` (SPEC §9).
//!
//! The package's JavaScript layer (`pkg/`) wraps them into `Pool`,
//! `Session`, `Results` and the error classes; these classes validate every
//! argument themselves, so no JavaScript input reaches a panic.

mod client;
mod copy;
mod decode;
mod listen;
mod packet;
mod params;
mod pool;
mod transaction;

use std::time::Duration;

use edgepg_core::{Config, Error, ErrorKind};
use futures_util::future::{select, Either};
use js_sys::{Array, Object, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use self::decode::Types;
use self::packet::{Mode, Packet};
use crate::{sys, WasmTransport};

/// Shared state of a connection held by JavaScript (a client, a transaction
/// or a COPY): defined here, beside the other helpers of the JS objects, so
/// that `pool.rs` and the objects it creates do not import each other.
pub(crate) type Held<T> = std::rc::Rc<futures_util::lock::Mutex<Option<T>>>;

/// Default cap on the parameters of one statement (`maxParameterBytes`).
pub(crate) const DEFAULT_MAX_PARAM_BYTES: usize = 128 << 20;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = console, js_name = error)]
    fn console_error(message: &str);
}

/// Reports a panic on the console before the instance traps (a panic is a
/// bug: none is reachable from JavaScript input).
#[wasm_bindgen(start)]
pub fn start() {
    std::panic::set_hook(Box::new(|info| {
        console_error(&format!("edgepg: internal error (wasm panic): {info}"));
    }));
}

/// An edgepg error as a JavaScript `Error` with `kind`, `code`, `detail`,
/// `hint`, `position`, … (the package turns it into its error class).
pub(crate) fn error_to_js(e: &Error) -> JsValue {
    // A server error's message is the server's, as node-postgres gives it
    // (the SQLSTATE and detail have their own fields); wrapped ones keep
    // their context ("connection to … failed: …").
    let message = match e.db_error() {
        Some(db) if e.message().starts_with(db.message.as_str()) => db.message.as_str(),
        _ => e.message(),
    };
    let err = js_sys::Error::new(message);
    let set = |k: &str, v: JsValue| sys::set(&err, k, &v);
    set("kind", JsValue::from_str(e.kind().name()));
    if let Some(db) = e.db_error() {
        set_db_fields(&err, db);
        set("serverMessage", JsValue::from_str(&db.message));
    }
    if let Some((ok, failed)) = e.connect_counts() {
        set("connected", JsValue::from_f64(ok as f64));
        set("failed", JsValue::from_f64(failed as f64));
    }
    if let Some(cause) = e.cause() {
        set("cause", error_to_js(cause));
    }
    err.into()
}

/// The server's fields as node-postgres names them (`code`, `detail`, `where`, `file`, …).
pub(crate) fn set_db_fields(target: &JsValue, db: &edgepg_core::DbErrorFields) {
    let set = |k: &str, v: JsValue| sys::set(target, k, &v);
    let opt = |v: &Option<String>| v.as_deref().map_or(JsValue::UNDEFINED, JsValue::from_str);
    let num = |v: Option<u32>| v.map_or(JsValue::UNDEFINED, |p| JsValue::from_f64(f64::from(p)));
    set("code", JsValue::from_str(&db.code));
    set("severity", JsValue::from_str(&db.severity));
    set("detail", opt(&db.detail));
    set("hint", opt(&db.hint));
    set("position", num(db.position));
    set("schema", opt(&db.schema));
    set("table", opt(&db.table));
    set("column", opt(&db.column));
    set("constraint", opt(&db.constraint));
    set("dataType", opt(&db.datatype));
    set("where", opt(&db.where_));
    set("file", opt(&db.file));
    set("line", num(db.line));
    set("routine", opt(&db.routine));
}

pub(crate) fn interface(msg: impl Into<String>) -> JsValue {
    error_to_js(&Error::interface(msg))
}

/// A required string argument.
pub(crate) fn string_arg(v: &JsValue, what: &str, limit: usize) -> Result<String, JsValue> {
    if !v.is_string() {
        return Err(interface(format!(
            "{what} must be a string, not {}",
            params::describe_type(v)
        )));
    }
    let mut left = limit;
    params::string(v, &mut left, limit).map_err(|e| interface(format!("{what}: {e}")))
}

/// `n` as JavaScript's `String(n)` prints it: Rust's float printing would
/// bring about 11 KB of code into the module (issue 19).
fn number_string(n: f64) -> String {
    js_sys::Number::from(n)
        .to_string_with_radix(10)
        .map(String::from)
        .unwrap_or_default()
}

/// A non-negative integer option (milliseconds, counts), or `None` when absent.
pub(crate) fn count_opt(options: &JsValue, key: &str) -> Result<Option<u64>, JsValue> {
    let v = sys::get(options, key);
    if v.is_undefined() || v.is_null() {
        return Ok(None);
    }
    match v.as_f64() {
        Some(n) if n.is_finite() && n >= 0.0 && n.fract() == 0.0 && n <= 9.0e15 => {
            Ok(Some(n as u64))
        }
        _ => Err(interface(format!(
            "option {key} must be a non-negative integer, not {}",
            v.as_f64()
                .map_or_else(|| params::describe_type(&v), number_string)
        ))),
    }
}

pub(crate) fn transport_from(v: &JsValue) -> Result<WasmTransport, JsValue> {
    if v.is_undefined() || v.is_null() {
        return Ok(WasmTransport::default());
    }
    if let Some(f) = v.dyn_ref::<js_sys::Function>() {
        return Ok(WasmTransport::socket(f.clone()));
    }
    let connect = sys::get(v, "connect");
    if let Some(f) = connect.dyn_ref::<js_sys::Function>() {
        return Ok(WasmTransport::socket(f.clone()));
    }
    let proxy = sys::get(v, "proxy");
    if let Some(url) = proxy.as_string() {
        let ctor = sys::get(v, "WebSocket");
        if ctor.is_undefined() || ctor.is_null() {
            return Ok(WasmTransport::websocket(&url));
        }
        return match ctor.dyn_into::<js_sys::Function>() {
            Ok(c) => Ok(WasmTransport::websocket_with(&url, c)),
            Err(_) => Err(interface("transport.WebSocket must be a constructor")),
        };
    }
    Err(interface(
        "transport must be webSocket({ proxy }), nodeSocket(), cloudflareSocket() or a socket \
         factory (host, port) => { readable, writable }",
    ))
}

pub(crate) fn config_from(options: &JsValue) -> Result<Config, JsValue> {
    let conn = sys::get(options, "connectionString");
    let env = sys::get(options, "env");
    let mut config = if !conn.is_undefined() && !conn.is_null() {
        let s = string_arg(&conn, "connectionString", 1 << 20)?;
        Config::parse(&s).map_err(|e| error_to_js(&e))?
    } else if env.is_object() {
        // Upper-cased by JavaScript: core does only ASCII on wasm32 (see `Config::from_vars`).
        let name = sys::get(options, "envName")
            .dyn_into::<js_sys::JsString>()
            .ok()
            .and_then(|n| n.to_upper_case().as_string());
        Config::from_vars(name.as_deref(), |key| {
            let v = sys::get(&env, key);
            v.as_string().or_else(|| v.as_f64().map(number_string))
        })
        .map_err(|e| error_to_js(&e))?
    } else {
        Config::new()
    };
    for (key, libpq) in [
        ("host", "host"),
        ("user", "user"),
        ("password", "password"),
        ("database", "dbname"),
        ("applicationName", "application_name"),
        ("sslmode", "sslmode"),
    ] {
        let v = sys::get(options, key);
        if !v.is_undefined() && !v.is_null() {
            let s = string_arg(&v, key, 1 << 16)?;
            config.set(libpq, &s).map_err(|e| error_to_js(&e))?;
        }
    }
    // Neon's `pipelineConnect`: "password" sends the password with the startup message.
    let pipeline = sys::get(options, "pipelineConnect");
    if pipeline.as_bool() == Some(false) {
        config
            .set("pipeline_connect", "off")
            .map_err(|e| error_to_js(&e))?;
    } else if !pipeline.is_undefined() && !pipeline.is_null() {
        let s = string_arg(&pipeline, "pipelineConnect", 64)?;
        config
            .set("pipeline_connect", &s)
            .map_err(|e| error_to_js(&e))?;
    }
    if let Some(port) = count_opt(options, "port")? {
        config
            .set("port", &port.to_string())
            .map_err(|e| error_to_js(&e))?;
    }
    if let Some(ms) = count_opt(options, "connectionTimeoutMillis")? {
        config.connect_timeout(Duration::from_millis(ms.max(1)));
    }
    Ok(config)
}

/// Validates a statement and its parameters before anything is sent.
pub(crate) fn prepare(
    sql: &JsValue,
    params: &JsValue,
    budget: usize,
) -> Result<(String, Vec<params::Param>), JsValue> {
    let sql = string_arg(sql, "the query text", budget)?;
    let values = params::convert_all(params, budget).map_err(interface)?;
    Ok((sql, values))
}

pub(crate) fn refs(values: &[params::Param]) -> Vec<&(dyn edgepg_core::ToSql + Sync)> {
    values
        .iter()
        .map(|v| v as &(dyn edgepg_core::ToSql + Sync))
        .collect()
}

/// Settles with the outcome of `work`, or `None` as soon as `abort` (a
/// promise from the package, settled when the caller's `AbortSignal` fires;
/// `undefined` for none) settles first, dropping `work`.
pub(crate) async fn unless_aborted<F: std::future::Future>(
    work: F,
    abort: &JsValue,
) -> Option<F::Output> {
    let Some(abort) = abort.dyn_ref::<Promise>() else {
        return Some(work.await);
    };
    let aborted = JsFuture::from(abort.clone());
    match select(std::pin::pin!(work), aborted).await {
        Either::Left((out, _)) => Some(out),
        Either::Right(_) => None,
    }
}

/// Runs `work` on a connection; if `abort` settles first, sends the server a
/// cancel request and still waits for `work` to end (it fails with 57014),
/// so the connection stays in step and usable. `Err(None)`: aborted.
pub(crate) async fn cancel_on_abort<F, R>(
    work: F,
    abort: &JsValue,
    cancel: &edgepg_core::CancelHandle<WasmTransport>,
) -> Result<R, Option<Error>>
where
    F: std::future::Future<Output = Result<R, Error>>,
{
    let Some(abort) = abort.dyn_ref::<Promise>() else {
        return work.await.map_err(Some);
    };
    let aborted = JsFuture::from(abort.clone());
    let mut work = std::pin::pin!(work);
    match select(work.as_mut(), aborted).await {
        Either::Left((out, _)) => out.map_err(Some),
        Either::Right(_) => {
            let _ = cancel.cancel().await;
            let _ = work.await;
            Err(None)
        }
    }
}

/// A promise settled by `work`. Every export goes through this one boxed
/// instantiation of `future_to_promise`: one per future type was about
/// 2.5 KB of wasm each (issue 19).
pub(crate) fn promise(
    work: impl std::future::Future<Output = Result<JsValue, JsValue>> + 'static,
) -> Promise {
    let work: edgepg_core::BoxFuture<'static, Result<JsValue, JsValue>> = Box::pin(work);
    wasm_bindgen_futures::future_to_promise(work)
}

/// Runs `task` on the event loop through [`crate::WasmRuntime`]: one boxed
/// instantiation of `spawn_local`, where each future type would otherwise get
/// its own copy of the task machinery (1–2 KB of wasm each).
pub(crate) fn spawn(task: impl std::future::Future<Output = ()> + 'static) {
    edgepg_core::Runtime::spawn(&crate::WasmRuntime, Box::pin(task));
}

/// What an aborted call rejects with (the package makes it an `AbortError`).
pub(crate) fn aborted() -> JsValue {
    let err = js_sys::Error::new("the operation was aborted");
    sys::set(&err, "kind", &JsValue::from_str("Aborted"));
    err.into()
}

/// A packet for each of `all`.
pub(crate) fn packets(
    all: &[edgepg_core::Results],
    types: Types,
    mode: &Mode,
) -> Result<JsValue, JsValue> {
    let out = Array::new_with_length(all.len() as u32);
    for (i, r) in all.iter().enumerate() {
        out.set(i as u32, Packet::of(r, types, mode.clone())?);
    }
    Ok(out.into())
}

/// `{ liveResults, memoryBytes }`: `liveResults` is always 0 (results live
/// in JavaScript only; kept for compatibility), and the size of the wasm memory.
#[wasm_bindgen]
pub fn diagnostics() -> Result<JsValue, JsValue> {
    let o = Object::new();
    sys::set(&o, "liveResults", &JsValue::from_f64(0.0));
    let memory = wasm_bindgen::memory();
    let bytes = sys::get(&sys::get(&memory, "buffer"), "byteLength");
    sys::set(&o, "memoryBytes", &bytes);
    Ok(o.into())
}

/// The kind names of errors, for the package's class table.
#[wasm_bindgen(js_name = errorKinds)]
pub fn error_kinds() -> Result<Array, JsValue> {
    Ok([
        ErrorKind::Interface,
        ErrorKind::Data,
        ErrorKind::Integrity,
        ErrorKind::Programming,
        ErrorKind::NotSupported,
        ErrorKind::QueryCanceled,
        ErrorKind::TransactionRollback,
        ErrorKind::Operational,
        ErrorKind::Internal,
        ErrorKind::Database,
        ErrorKind::ConnectionLost,
        ErrorKind::PoolFull,
        ErrorKind::PoolTimeout,
        ErrorKind::PoolClosed,
        ErrorKind::DatabaseNotAvailable,
        ErrorKind::PartiallyConnected,
    ]
    .iter()
    .map(|k| JsValue::from_str(k.name()))
    .collect())
}

/// Reads a connection configuration from an env object the way
/// `Session.fromEnv` does, and returns it as a URL-less description
/// (for tests and diagnostics): `{ targets, user, database }`.
#[wasm_bindgen(js_name = describeEnv)]
pub fn describe_env(name: JsValue, env: JsValue) -> Result<JsValue, JsValue> {
    let options = Object::new();
    sys::set(&options, "env", &env);
    if !name.is_undefined() && !name.is_null() {
        let n = string_arg(&name, "the environment name", 1 << 10)?;
        sys::set(&options, "envName", &JsValue::from_str(&n));
    }
    let config = config_from(&options.into())?;
    let o = Object::new();
    let targets: Array = config
        .targets()
        .iter()
        .map(|t| JsValue::from_str(&t.to_string()))
        .collect();
    sys::set(&o, "targets", &targets);
    let opt = |v: Option<&str>| v.map_or(JsValue::UNDEFINED, JsValue::from_str);
    sys::set(&o, "user", &opt(config.get_user()));
    sys::set(&o, "database", &opt(config.get_dbname()));
    Ok(o.into())
}
