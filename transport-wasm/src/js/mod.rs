//! The wasm-bindgen classes behind the npm package `edgepg` (SPEC §9).
//!
//! The package's JavaScript layer (`pkg/`) wraps them into `Pool`,
//! `Session`, `Results` and the error classes; these classes validate every
//! argument themselves, so no JavaScript input reaches a panic.

mod decode;
mod packet;
mod params;

use std::rc::Rc;
use std::time::Duration;

use edgepg_core::{Config, Error, ErrorKind};
use futures_util::lock::Mutex;
use js_sys::{Array, Object, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::future_to_promise;

use self::decode::Types;
use self::packet::Packet;
use crate::{sys, Pool, PooledConnection, Transaction, WasmTransport};

/// Default cap on the parameters of one statement (`maxParameterBytes`).
const DEFAULT_MAX_PARAM_BYTES: usize = 128 << 20;

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
    set("kind", JsValue::from_str(&format!("{:?}", e.kind())));
    if let Some(db) = e.db_error() {
        set("code", JsValue::from_str(&db.code));
        set("severity", JsValue::from_str(&db.severity));
        let opt = |v: &Option<String>| v.as_deref().map_or(JsValue::UNDEFINED, JsValue::from_str);
        set("detail", opt(&db.detail));
        set("hint", opt(&db.hint));
        set(
            "position",
            db.position
                .map_or(JsValue::UNDEFINED, |p| JsValue::from_f64(f64::from(p))),
        );
        set("schema", opt(&db.schema));
        set("table", opt(&db.table));
        set("column", opt(&db.column));
        set("constraint", opt(&db.constraint));
        set("dataType", opt(&db.datatype));
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

fn interface(msg: impl Into<String>) -> JsValue {
    error_to_js(&Error::interface(msg))
}

/// A required string argument.
fn string_arg(v: &JsValue, what: &str, limit: usize) -> Result<String, JsValue> {
    if !v.is_string() {
        return Err(interface(format!(
            "{what} must be a string, not {}",
            params::describe_type(v)
        )));
    }
    let mut left = limit;
    params::string(v, &mut left, limit).map_err(|e| interface(format!("{what}: {e}")))
}

/// A non-negative integer option (milliseconds, counts), or `None` when absent.
fn count_opt(options: &JsValue, key: &str) -> Result<Option<u64>, JsValue> {
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
                .map_or_else(|| params::describe_type(&v), |n| n.to_string())
        ))),
    }
}

fn transport_from(v: &JsValue) -> Result<WasmTransport, JsValue> {
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

fn config_from(options: &JsValue) -> Result<Config, JsValue> {
    let conn = sys::get(options, "connectionString");
    let env = sys::get(options, "env");
    let mut config = if !conn.is_undefined() && !conn.is_null() {
        let s = string_arg(&conn, "connectionString", 1 << 20)?;
        Config::parse(&s).map_err(|e| error_to_js(&e))?
    } else if env.is_object() {
        let name = sys::get(options, "envName").as_string();
        Config::from_vars(name.as_deref(), |key| {
            let v = sys::get(&env, key);
            v.as_string().or_else(|| v.as_f64().map(|n| n.to_string()))
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

/// A pool (SPEC §4) for JavaScript. Created by the package's `Pool`.
#[wasm_bindgen]
pub struct WasmPool {
    pool: Pool,
    types: Types,
    max_param_bytes: usize,
}

#[wasm_bindgen]
impl WasmPool {
    /// `new WasmPool({ connectionString | env+envName, transport, max, min,
    /// idleTimeoutMillis, acquireTimeoutMillis, maxLifetimeMillis,
    /// connectionTimeoutMillis, queryTimeoutMillis, statementCacheSize,
    /// setsession, types, maxParameterBytes })`. No I/O.
    #[wasm_bindgen(constructor)]
    pub fn new(options: JsValue) -> Result<WasmPool, JsValue> {
        let options = if options.is_undefined() || options.is_null() {
            Object::new().into()
        } else if options.is_string() {
            let o = Object::new();
            sys::set(&o, "connectionString", &options);
            o.into()
        } else if options.is_object() {
            options
        } else {
            return Err(interface(format!(
                "Pool options must be an object or a connection string, not {}",
                params::describe_type(&options)
            )));
        };
        let config = config_from(&options)?;
        let transport = transport_from(&sys::get(&options, "transport"))?;
        let types = Types::parse(&sys::get(&options, "types")).map_err(interface)?;
        let mut builder = Pool::builder_with(config, transport);
        builder = builder.min_size(count_opt(&options, "min")?.unwrap_or(0) as usize);
        builder = builder.max_size(count_opt(&options, "max")?.unwrap_or(10) as usize);
        // node-postgres' default: idle connections close after 10 s, so an
        // idle pool does not keep a Node process alive for long.
        let idle = count_opt(&options, "idleTimeoutMillis")?.unwrap_or(10_000);
        builder = builder.idle_timeout(Duration::from_millis(idle));
        if let Some(ms) = count_opt(&options, "acquireTimeoutMillis")? {
            builder = builder.acquire_timeout(Duration::from_millis(ms));
        }
        if let Some(ms) = count_opt(&options, "maxLifetimeMillis")? {
            builder = builder.max_lifetime(Duration::from_millis(ms));
        }
        if let Some(ms) = count_opt(&options, "queryTimeoutMillis")? {
            builder = builder.query_timeout(Duration::from_millis(ms));
        }
        if let Some(ms) = count_opt(&options, "reconnectIntervalMillis")? {
            builder = builder.reconnect_interval(Duration::from_millis(ms));
        }
        if let Some(n) = count_opt(&options, "statementCacheSize")? {
            builder = builder.statement_cache_size(n as usize);
        }
        let setsession = sys::get(&options, "setsession");
        if !setsession.is_undefined() {
            if !Array::is_array(&setsession) {
                return Err(interface("setsession must be an array of strings"));
            }
            let statements: Array = setsession.unchecked_into();
            let mut list = Vec::new();
            for v in statements.iter() {
                list.push(string_arg(&v, "setsession statement", 1 << 20)?);
            }
            builder = builder.setsession(list);
        }
        let max_param_bytes = count_opt(&options, "maxParameterBytes")?
            .map_or(DEFAULT_MAX_PARAM_BYTES, |n| n.min(1 << 30) as usize);
        let pool = builder.build().map_err(|e| error_to_js(&e))?;
        Ok(WasmPool {
            pool,
            types,
            max_param_bytes,
        })
    }

    /// Runs a statement: resolves to its results as a packet (see
    /// `packet.rs`). Throws for invalid arguments.
    ///
    /// Every export returns `Result` (two or more wasm results): Node 20's V8
    /// aborts when it lazily deoptimizes a JS function that inlined a call to
    /// a wasm function returning exactly one `externref` (see
    /// `tests/wasm/node/exports.test.mjs`).
    ///
    /// `arrays`: rows as arrays in column order (`rowMode: 'array'`).
    pub fn query(
        &self,
        sql: JsValue,
        params: JsValue,
        arrays: Option<bool>,
    ) -> Result<Promise, JsValue> {
        let (sql, values) = prepare(&sql, &params, self.max_param_bytes)?;
        Ok(self.run(sql, values, arrays.unwrap_or(false)))
    }

    /// [`WasmPool::query`] with the parameters classified by the package
    /// (`pack` in `pkg/src/api.js`: one call instead of several per
    /// parameter); `params` is the original array (byte arrays are read
    /// from it, and it is converted as usual when `text` may not be valid
    /// Unicode).
    #[wasm_bindgen(js_name = queryPacked)]
    pub fn query_packed(
        &self,
        sql: JsValue,
        params: JsValue,
        text: JsValue,
        layout: &[f64],
        arrays: Option<bool>,
    ) -> Result<Promise, JsValue> {
        let sql = string_arg(&sql, "the query text", self.max_param_bytes)?;
        let values = match params::convert_packed(&text, layout, &params, self.max_param_bytes)
            .map_err(interface)?
        {
            Some(values) => values,
            None => params::convert_all(&params, self.max_param_bytes).map_err(interface)?,
        };
        Ok(self.run(sql, values, arrays.unwrap_or(false)))
    }

    fn run(&self, sql: String, values: Vec<params::Param>, arrays: bool) -> Promise {
        let pool = self.pool.clone();
        let types = self.types;
        future_to_promise(async move {
            let refs = refs(&values);
            let mut rows = Packet::new(types, arrays);
            let results = pool
                .query_into(&sql, &refs, &mut rows)
                .await
                .map_err(|e| error_to_js(&e))?;
            rows.finish(&results)
        })
    }

    /// Calls a function: `SELECT * FROM name($1, …)`; resolves to
    /// `[packet, sql]`.
    pub fn callproc(&self, name: JsValue, params: JsValue) -> Result<Promise, JsValue> {
        let (name, values) = prepare(&name, &params, self.max_param_bytes)?;
        let pool = self.pool.clone();
        let types = self.types;
        Ok(future_to_promise(async move {
            let refs = refs(&values);
            let results = pool
                .callproc(&name, &refs)
                .await
                .map_err(|e| error_to_js(&e))?;
            let out = Array::new_with_length(2);
            out.set(0, Packet::of(&results, types)?);
            out.set(1, JsValue::from_str(results.query()));
            Ok(out.into())
        }))
    }

    /// `sql` with parameters interpolated as literals (no I/O).
    pub fn mogrify(&self, sql: JsValue, params: JsValue) -> Result<String, JsValue> {
        let (sql, values) = prepare(&sql, &params, self.max_param_bytes)?;
        self.pool
            .mogrify(&sql, &refs(&values))
            .map_err(|e| error_to_js(&e))
    }

    /// Starts a transaction: resolves to a `WasmTransaction`.
    pub fn begin(&self) -> Result<Promise, JsValue> {
        let pool = self.pool.clone();
        let types = self.types;
        let max = self.max_param_bytes;
        Ok(future_to_promise(async move {
            let tx = pool.begin().await.map_err(|e| error_to_js(&e))?;
            Ok(WasmTransaction {
                tx: Rc::new(Mutex::new(Some(tx))),
                types,
                max_param_bytes: max,
            }
            .into())
        }))
    }

    /// Checks out a connection: resolves to a `WasmClient`.
    pub fn checkout(&self) -> Result<Promise, JsValue> {
        let pool = self.pool.clone();
        let types = self.types;
        let max = self.max_param_bytes;
        Ok(future_to_promise(async move {
            let conn = pool.getconn().await.map_err(|e| error_to_js(&e))?;
            Ok(WasmClient {
                conn: Rc::new(Mutex::new(Some(conn))),
                types,
                max_param_bytes: max,
            }
            .into())
        }))
    }

    /// Opens `min` connections now.
    pub fn connect(&self) -> Result<Promise, JsValue> {
        let pool = self.pool.clone();
        Ok(future_to_promise(async move {
            pool.connect().await.map_err(|e| error_to_js(&e))?;
            Ok(JsValue::UNDEFINED)
        }))
    }

    /// Closes the pool (rule 12); later calls fail with PoolClosed.
    pub fn end(&self) -> Result<Promise, JsValue> {
        let pool = self.pool.clone();
        Ok(future_to_promise(async move {
            pool.close().await;
            Ok(JsValue::UNDEFINED)
        }))
    }

    /// True after `end()`.
    #[wasm_bindgen(getter)]
    pub fn ended(&self) -> bool {
        self.pool.is_closed()
    }

    /// Sizes and counters: `{ size, idle, inUse, pending, waiting, min, max, … }`.
    pub fn status(&self) -> Result<JsValue, JsValue> {
        let s = self.pool.status();
        let o = Object::new();
        let n = |k: &str, v: f64| sys::set(&o, k, &JsValue::from_f64(v));
        n("size", s.size as f64);
        n("idle", s.idle as f64);
        n("inUse", s.in_use as f64);
        n("pending", s.pending as f64);
        n("waiting", s.waiting as f64);
        n("min", s.min_size as f64);
        n("max", s.max_size as f64);
        sys::set(&o, "closed", &JsValue::from_bool(s.closed));
        Ok(o.into())
    }
}

/// Validates a statement and its parameters before anything is sent.
fn prepare(
    sql: &JsValue,
    params: &JsValue,
    budget: usize,
) -> Result<(String, Vec<params::Param>), JsValue> {
    let sql = string_arg(sql, "the query text", budget)?;
    let values = params::convert_all(params, budget).map_err(interface)?;
    Ok((sql, values))
}

fn refs(values: &[params::Param]) -> Vec<&(dyn edgepg_core::ToSql + Sync)> {
    values
        .iter()
        .map(|v| v as &(dyn edgepg_core::ToSql + Sync))
        .collect()
}

/// An open transaction. `commit()` / `rollback()` end it; dropped unfinished
/// (garbage-collected), it rolls back.
#[wasm_bindgen]
pub struct WasmTransaction {
    tx: Rc<Mutex<Option<Transaction>>>,
    types: Types,
    max_param_bytes: usize,
}

fn finished() -> JsValue {
    interface("the transaction is already committed or rolled back")
}

#[wasm_bindgen]
impl WasmTransaction {
    /// Runs a statement in the transaction: resolves to a packet (rows as
    /// arrays with `arrays`).
    pub fn query(
        &self,
        sql: JsValue,
        params: JsValue,
        arrays: Option<bool>,
    ) -> Result<Promise, JsValue> {
        let (sql, values) = prepare(&sql, &params, self.max_param_bytes)?;
        let tx = self.tx.clone();
        let types = self.types;
        Ok(future_to_promise(async move {
            let mut guard = tx.lock().await;
            let tx = guard.as_mut().ok_or_else(finished)?;
            let mut rows = Packet::new(types, arrays.unwrap_or(false));
            let results = tx
                .query_into(&sql, &refs(&values), &mut rows)
                .await
                .map_err(|e| error_to_js(&e))?;
            rows.finish(&results)
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
        Ok(future_to_promise(async move {
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
        Ok(future_to_promise(async move {
            let taken = tx.lock().await.take().ok_or_else(finished)?;
            taken.commit().await.map_err(|e| error_to_js(&e))?;
            Ok(JsValue::UNDEFINED)
        }))
    }

    /// Rolls back (a no-op when already finished).
    pub fn rollback(&self) -> Result<Promise, JsValue> {
        let tx = self.tx.clone();
        Ok(future_to_promise(async move {
            if let Some(taken) = tx.lock().await.take() {
                taken.rollback().await.map_err(|e| error_to_js(&e))?;
            }
            Ok(JsValue::UNDEFINED)
        }))
    }
}

/// A checked-out connection (`pool.connect()` in the package); `release()`
/// returns it, and so does garbage collection.
#[wasm_bindgen]
pub struct WasmClient {
    conn: Rc<Mutex<Option<PooledConnection>>>,
    types: Types,
    max_param_bytes: usize,
}

#[wasm_bindgen]
impl WasmClient {
    /// Runs a statement on this connection: resolves to a packet (rows as
    /// arrays with `arrays`).
    pub fn query(
        &self,
        sql: JsValue,
        params: JsValue,
        arrays: Option<bool>,
    ) -> Result<Promise, JsValue> {
        let (sql, values) = prepare(&sql, &params, self.max_param_bytes)?;
        let conn = self.conn.clone();
        let types = self.types;
        Ok(future_to_promise(async move {
            let mut guard = conn.lock().await;
            let conn = guard
                .as_mut()
                .ok_or_else(|| interface("the client was released"))?;
            let mut rows = Packet::new(types, arrays.unwrap_or(false));
            let results = conn
                .query_into(&sql, &refs(&values), &mut rows)
                .await
                .map_err(|e| error_to_js(&e))?;
            rows.finish(&results)
        }))
    }

    /// Returns the connection to the pool (idempotent). A statement still
    /// running is cancelled first (rule 10).
    pub fn release(&self) {
        if let Some(mut guard) = self.conn.try_lock() {
            guard.take();
        } else {
            // A query is running: release once it ends.
            let conn = self.conn.clone();
            wasm_bindgen_futures::spawn_local(async move {
                conn.lock().await.take();
            });
        }
    }

    /// True once released.
    #[wasm_bindgen(getter)]
    pub fn released(&self) -> bool {
        self.conn.try_lock().is_some_and(|g| g.is_none())
    }
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
    .map(|k| JsValue::from_str(&format!("{k:?}")))
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
