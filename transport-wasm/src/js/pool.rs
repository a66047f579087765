//! `WasmPool`: the pool behind the package's `Pool` (SPEC §4, §9).

use std::time::Duration;

use edgepg_core::pool::PoolEvent;
use js_sys::{Array, Object, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use super::client::WasmClient;
use super::copy::{WasmCopyIn, WasmCopyOut};
use super::decode::Types;
use super::listen::WasmListener;
use super::packet::{Mode, Packet};
use super::params::{self, Param};
use super::promise;
use super::transaction::WasmTransaction;
use super::{
    aborted, config_from, count_opt, error_to_js, interface, packets, prepare, refs, string_arg,
    transport_from, unless_aborted, DEFAULT_MAX_PARAM_BYTES,
};
use crate::{sys, Pool};

/// A pool (SPEC §4) for JavaScript. Created by the package's `Pool`.
#[wasm_bindgen]
pub struct WasmPool {
    pool: Pool,
    types: Types,
    max_param_bytes: usize,
}

/// Tells the package's `onEvent(kind, error, idle)` (node-postgres' pool
/// events) on a later microtask, never inside the pool's own call.
fn event_hook(f: js_sys::Function) -> impl Fn(&PoolEvent) + 'static {
    move |event| {
        let (kind, error, idle, pid) = match event {
            PoolEvent::Opened => ("open", JsValue::UNDEFINED, false, None),
            PoolEvent::Closed {
                error,
                idle,
                process_id,
            } => (
                "close",
                error.as_ref().map_or(JsValue::UNDEFINED, error_to_js),
                *idle,
                *process_id,
            ),
        };
        let f = f.clone();
        super::spawn(async move {
            let pid = pid.map_or(JsValue::UNDEFINED, |p| JsValue::from_f64(f64::from(p)));
            let args = js_sys::Array::of4(
                &JsValue::from_str(kind),
                &error,
                &JsValue::from_bool(idle),
                &pid,
            );
            let _ = f.apply(&JsValue::UNDEFINED, &args);
        });
    }
}

#[wasm_bindgen]
impl WasmPool {
    /// `new WasmPool({ connectionString | env+envName, transport, max, min,
    /// idleTimeoutMillis, acquireTimeoutMillis, maxLifetimeMillis,
    /// connectionTimeoutMillis, queryTimeoutMillis, statementCacheSize,
    /// setsession, types, maxParameterBytes, onEvent })`. No I/O.
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
        let on_event = sys::get(&options, "onEvent");
        if let Some(f) = on_event.dyn_ref::<js_sys::Function>() {
            builder = builder.on_event(event_hook(f.clone()));
        } else if !on_event.is_undefined() && !on_event.is_null() {
            return Err(interface("onEvent must be a function"));
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
    /// `flags`: 1 rows as arrays (`rowMode: 'array'`), 2 every column as
    /// text; `text_oids`: types whose columns come as text (type parsers);
    /// `abort`: a promise that settles when the caller aborts.
    pub fn query(
        &self,
        sql: JsValue,
        params: JsValue,
        flags: Option<u32>,
        text_oids: Option<Vec<u32>>,
        abort: JsValue,
    ) -> Result<Promise, JsValue> {
        let (sql, values) = prepare(&sql, &params, self.max_param_bytes)?;
        Ok(self.run(sql, values, Mode::new(flags, text_oids), abort))
    }

    /// [`WasmPool::query`] with the parameters classified by the package
    /// (`pack` in `pkg/src/api.js`: one call instead of several per
    /// parameter); `params` is the original array (byte arrays are read
    /// from it, and it is converted as usual when `text` may not be valid
    /// Unicode).
    #[wasm_bindgen(js_name = queryPacked)]
    #[allow(clippy::too_many_arguments)]
    pub fn query_packed(
        &self,
        sql: JsValue,
        params: JsValue,
        text: JsValue,
        layout: &[f64],
        flags: Option<u32>,
        text_oids: Option<Vec<u32>>,
        abort: JsValue,
    ) -> Result<Promise, JsValue> {
        let sql = string_arg(&sql, "the query text", self.max_param_bytes)?;
        let values = match params::convert_packed(&text, layout, &params, self.max_param_bytes)
            .map_err(interface)?
        {
            Some(values) => values,
            None => params::convert_all(&params, self.max_param_bytes).map_err(interface)?,
        };
        Ok(self.run(sql, values, Mode::new(flags, text_oids), abort))
    }

    fn run(&self, sql: String, values: Vec<Param>, mode: Mode, abort: JsValue) -> Promise {
        let pool = self.pool.clone();
        let types = self.types;
        promise(async move {
            let refs = refs(&values);
            let mut rows = Packet::new(types, mode);
            // Aborted, the statement's future is dropped: the pool cancels it
            // on the server before the connection is used again (rule 10).
            let results = unless_aborted(pool.query_into(&sql, &refs, &mut rows), &abort)
                .await
                .ok_or_else(aborted)?
                .map_err(|e| error_to_js(&e))?;
            rows.finish(&results)
        })
    }

    /// Runs a script of statements without parameters on one connection:
    /// resolves to an array of packets, one per statement.
    #[wasm_bindgen(js_name = queryScript)]
    pub fn query_script(
        &self,
        sql: JsValue,
        flags: Option<u32>,
        text_oids: Option<Vec<u32>>,
        abort: JsValue,
    ) -> Result<Promise, JsValue> {
        let sql = string_arg(&sql, "the query text", self.max_param_bytes)?;
        let mode = Mode::new(flags, text_oids);
        let pool = self.pool.clone();
        let types = self.types;
        Ok(promise(async move {
            let all = unless_aborted(pool.query_script(&sql), &abort)
                .await
                .ok_or_else(aborted)?
                .map_err(|e| error_to_js(&e))?;
            packets(&all, types, &mode)
        }))
    }

    /// Calls a function: `SELECT * FROM name($1, …)`; resolves to
    /// `[packet, sql]`.
    pub fn callproc(&self, name: JsValue, params: JsValue) -> Result<Promise, JsValue> {
        let (name, values) = prepare(&name, &params, self.max_param_bytes)?;
        let pool = self.pool.clone();
        let types = self.types;
        Ok(promise(async move {
            let refs = refs(&values);
            let results = pool
                .callproc(&name, &refs)
                .await
                .map_err(|e| error_to_js(&e))?;
            let out = Array::new_with_length(2);
            out.set(0, Packet::of(&results, types, Mode::default())?);
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
        Ok(promise(async move {
            let tx = pool.begin().await.map_err(|e| error_to_js(&e))?;
            Ok(WasmTransaction::new(tx, types, max).into())
        }))
    }

    /// Checks out a connection: resolves to a `WasmClient` (its backend
    /// process ID read, once per connection).
    pub fn checkout(&self, abort: JsValue) -> Result<Promise, JsValue> {
        let pool = self.pool.clone();
        let types = self.types;
        let max = self.max_param_bytes;
        Ok(promise(async move {
            let checkout = async {
                let mut conn = pool.getconn().await?;
                let pid = conn.backend_pid().await?;
                // Notices of earlier users are not this client's.
                conn.take_notices();
                Ok::<_, edgepg_core::Error>((conn, pid))
            };
            let (conn, pid) = unless_aborted(checkout, &abort)
                .await
                .ok_or_else(aborted)?
                .map_err(|e| error_to_js(&e))?;
            Ok(WasmClient::new(conn, pid, types, max).into())
        }))
    }

    /// LISTENs on `channel` on a dedicated connection (re-LISTENing after a
    /// reconnect) and calls `on_notify(channel, payload, processId)` for each
    /// NOTIFY, `on_error(error)` when the connection is lost (it reconnects);
    /// resolves to a `WasmListener` once the first LISTEN has run.
    pub fn listen(
        &self,
        channel: JsValue,
        on_notify: js_sys::Function,
        on_error: JsValue,
    ) -> Result<Promise, JsValue> {
        let channel = string_arg(&channel, "the channel", 1 << 16)?;
        let pool = self.pool.clone();
        Ok(promise(async move {
            let stream = pool.listen(&channel).await.map_err(|e| error_to_js(&e))?;
            Ok(WasmListener::start(stream, on_notify, on_error).into())
        }))
    }

    /// Starts `COPY … FROM STDIN`: resolves to a `WasmCopyIn`.
    #[wasm_bindgen(js_name = copyIn)]
    pub fn copy_in(&self, sql: JsValue) -> Result<Promise, JsValue> {
        let sql = string_arg(&sql, "the COPY statement", 1 << 20)?;
        let pool = self.pool.clone();
        Ok(promise(async move {
            let copy = pool.copy_in(&sql).await.map_err(|e| error_to_js(&e))?;
            Ok(WasmCopyIn::new(copy).into())
        }))
    }

    /// Starts `COPY … TO STDOUT`: resolves to a `WasmCopyOut`.
    #[wasm_bindgen(js_name = copyOut)]
    pub fn copy_out(&self, sql: JsValue) -> Result<Promise, JsValue> {
        let sql = string_arg(&sql, "the COPY statement", 1 << 20)?;
        let pool = self.pool.clone();
        Ok(promise(async move {
            let out = pool.copy_out(&sql).await.map_err(|e| error_to_js(&e))?;
            Ok(WasmCopyOut::new(out).into())
        }))
    }

    /// Opens `min` connections now.
    pub fn connect(&self) -> Result<Promise, JsValue> {
        let pool = self.pool.clone();
        Ok(promise(async move {
            pool.connect().await.map_err(|e| error_to_js(&e))?;
            Ok(JsValue::UNDEFINED)
        }))
    }

    /// Closes the pool (rule 12); later calls fail with PoolClosed.
    pub fn end(&self) -> Result<Promise, JsValue> {
        let pool = self.pool.clone();
        Ok(promise(async move {
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
