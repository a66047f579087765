//! Fuzz targets for edgepg. Each target is a plain function over bytes that
//! panics when an invariant breaks, so the same code runs three ways:
//!
//! * under libFuzzer: `cargo fuzz run --features libfuzzer TARGET`
//!   (`fuzz_targets/*.rs`; `cargo xtask fuzz` / `cargo xtask test` do this);
//! * as ordinary tests replaying the committed seeds and every regression
//!   input (`tests/replay.rs`, part of `cargo test --workspace`);
//! * as a short pseudo-random smoke run in the same tests.
//!
//! Targets:
//!
//! * [`config`] — `Config::parse` on URLs and key=value DSNs, raw and
//!   structured; the password never shows in `Display`, `Debug` or an error.
//! * [`proxy_handshake`] — the proxy's request-head parser, request checks,
//!   address parser and allow-list with a fuzzer-chosen DNS answer; a
//!   forbidden address (cloud metadata, link-local, loopback through a
//!   wildcard, …) is never let through.
//! * [`proxy_frames`] — the proxy's tunnel relay on arbitrary client frames:
//!   it forwards exactly the binary payloads, in order, and stops where a
//!   reference decoder stops.
//! * [`mogrify`] — `mogrify` with arbitrary SQL and values: every literal is
//!   one well-formed string constant that reads back as the value's text.
//! * [`values`] — `Value` decoding of arbitrary bytes for ~60 types (a
//!   hostile server), and the encode → decode round trip. (The JavaScript
//!   conversion layer of `edgepg-wasm` is wasm32-only and has no
//!   native-testable function; this target covers the `Value` layer under it.)

mod config;
mod mogrify;
mod proxy;
mod values;

pub use config::config;
pub use mogrify::mogrify;
pub use proxy::{proxy_frames, proxy_handshake};
pub use values::{type_index, values};

/// A fuzz target: panics when an invariant breaks.
pub type Target = fn(&[u8]);

/// Every target, by name (the names of `fuzz_targets/*.rs`).
pub const TARGETS: [(&str, Target); 5] = [
    ("config", config),
    ("proxy_handshake", proxy_handshake),
    ("proxy_frames", proxy_frames),
    ("mogrify", mogrify),
    ("values", values),
];
