//! edgepg on WebAssembly: the PostgreSQL client for browsers, Node, Deno, Bun
//! and Cloudflare Workers (SPEC §2, §7, §9).
//!
//! * [`WasmRuntime`]: connection drivers run with `spawn_local` on the
//!   JavaScript event loop, timers come from the host's `setTimeout`, the
//!   clock from `performance.now()` (or `Date.now()`).
//! * [`WasmTransport`]: how bytes reach the server —
//!   [`WasmTransport::websocket`] tunnels through a WebSocket proxy
//!   (`edgepg-proxy`, Neon's wsproxy) with binary frames and writes coalesced
//!   into one frame per tick; [`WasmTransport::socket`] uses any JavaScript
//!   factory `(host, port) → { readable, writable, startTls? }` of Web streams
//!   (`cloudflare:sockets`, `Deno.connect`, `node:net` adapters), with TLS
//!   through the runtime's own `startTls`.
//! * With the default `js-api` feature, the wasm-bindgen classes behind the
//!   npm package `edgepg` (see `pkg/`) and a `#[wasm_bindgen(start)]` panic
//!   hook. A Rust application that only wants the client (and may have its
//!   own start function) depends on it with `default-features = false`.
//!
//! From Rust (e.g. a Rust Worker), the whole core API is re-exported with the
//! transport filled in (doctests run on the host, where this crate is empty,
//! so this one is shown, not run; tests/wasm runs the same calls in real runtimes):
//!
//! ```text
//! use edgepg_wasm::{Pool, WasmTransport};
//! let transport = WasmTransport::websocket("wss://proxy.example/v1");
//! let pool = Pool::builder_with("postgresql://app@db:5432/shop", transport).build()?;
//! let rows = pool.query("SELECT 1 AS one", &[]).await?;
//! ```
//!
//! Everything here exists on `wasm32` only; on native targets the crate is
//! empty (use `edgepg-tokio` there). This file is the one place where that
//! difference is spelled out.
#![deny(missing_docs)]

#[cfg(target_arch = "wasm32")]
mod runtime;
#[cfg(target_arch = "wasm32")]
mod socket;
#[cfg(target_arch = "wasm32")]
mod sys;
#[cfg(target_arch = "wasm32")]
mod transport;
#[cfg(target_arch = "wasm32")]
mod websocket;

#[cfg(all(target_arch = "wasm32", feature = "js-api"))]
mod js;

#[cfg(target_arch = "wasm32")]
pub use edgepg_core::*;
#[cfg(target_arch = "wasm32")]
pub use runtime::WasmRuntime;
#[cfg(target_arch = "wasm32")]
pub use transport::{set_default_transport, WasmTransport};

/// A pool of connections over a [`WasmTransport`].
#[cfg(target_arch = "wasm32")]
pub type Pool = edgepg_core::Pool<WasmTransport>;
/// A session over a shared [`Pool`].
#[cfg(target_arch = "wasm32")]
pub type Session = edgepg_core::Session<WasmTransport>;
/// Configures a [`Pool`].
#[cfg(target_arch = "wasm32")]
pub type Builder = edgepg_core::Builder<WasmTransport>;
/// A connection checked out of a [`Pool`].
#[cfg(target_arch = "wasm32")]
pub type PooledConnection = edgepg_core::PooledConnection<WasmTransport>;
/// A transaction on a pooled connection.
#[cfg(target_arch = "wasm32")]
pub type Transaction = edgepg_core::Transaction<WasmTransport>;
