//! [`WasmTransport`]: the WebSocket tunnel or a JavaScript socket factory.

use std::cell::RefCell;
use std::io;
use std::rc::Rc;

use edgepg_core::{async_trait, BoxSocket, Target, TlsRequest, Transport};
use wasm_bindgen::JsCast;

use crate::runtime::WasmRuntime;
use crate::websocket::Endpoint;
use crate::{socket, sys, websocket};

/// How connections reach PostgreSQL from WebAssembly.
///
/// * [`WasmTransport::websocket`]: through a WebSocket proxy (SPEC §8),
///   using the global `WebSocket` or a constructor passed in (e.g. Node's
///   `ws`). TLS to PostgreSQL is not available through the tunnel;
///   `sslmode=require` is satisfied by a `wss://` proxy (or one on this
///   machine), as Neon's driver does; `verify-ca` / `verify-full` are refused.
/// * [`WasmTransport::socket`]: any JavaScript factory
///   `(host, port) → { readable, writable, startTls?, opened?, close? }`
///   (or a promise of one), with TLS through `startTls`.
///
/// `Default` is the transport set with [`set_default_transport`], or one
/// that fails every connect with a message saying so.
#[derive(Clone)]
pub struct WasmTransport {
    kind: Rc<Kind>,
}

enum Kind {
    WebSocket {
        endpoint: Result<Endpoint, String>,
        ctor: Option<js_sys::Function>,
    },
    Socket {
        factory: js_sys::Function,
    },
    Unset,
}

impl std::fmt::Debug for WasmTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match &*self.kind {
            Kind::WebSocket { .. } => "WasmTransport::WebSocket",
            Kind::Socket { .. } => "WasmTransport::Socket",
            Kind::Unset => "WasmTransport::Unset",
        })
    }
}

thread_local! {
    static DEFAULT: RefCell<Option<WasmTransport>> = const { RefCell::new(None) };
}

/// Sets the transport that `WasmTransport::default()` (and so `Session::new`,
/// `Pool::builder`) uses.
pub fn set_default_transport(transport: WasmTransport) {
    DEFAULT.with(|d| *d.borrow_mut() = Some(transport));
}

impl Default for WasmTransport {
    fn default() -> Self {
        DEFAULT
            .with(|d| d.borrow().clone())
            .unwrap_or_else(|| WasmTransport {
                kind: Rc::new(Kind::Unset),
            })
    }
}

impl WasmTransport {
    /// Through the WebSocket proxy at `proxy` (`ws://host:port/v1`, `wss://…`;
    /// the path defaults to `/v1`) with the global `WebSocket`. An invalid URL
    /// is reported when a connection is attempted.
    pub fn websocket(proxy: &str) -> WasmTransport {
        WasmTransport {
            kind: Rc::new(Kind::WebSocket {
                endpoint: Endpoint::parse(proxy),
                ctor: None,
            }),
        }
    }

    /// Like [`websocket`](Self::websocket), with an explicit constructor
    /// (e.g. the `ws` package's `WebSocket` in Node).
    pub fn websocket_with(proxy: &str, constructor: js_sys::Function) -> WasmTransport {
        WasmTransport {
            kind: Rc::new(Kind::WebSocket {
                endpoint: Endpoint::parse(proxy),
                ctor: Some(constructor),
            }),
        }
    }

    /// Over sockets from `factory(host, port)`, which returns (a promise of)
    /// `{ readable, writable, startTls?, opened?, close? }`.
    pub fn socket(factory: js_sys::Function) -> WasmTransport {
        WasmTransport {
            kind: Rc::new(Kind::Socket { factory }),
        }
    }

    /// True for a WebSocket tunnel.
    pub fn is_tunnel(&self) -> bool {
        matches!(&*self.kind, Kind::WebSocket { .. })
    }
}

fn global_websocket() -> io::Result<js_sys::Function> {
    sys::get(&sys::global(), "WebSocket")
        .dyn_into::<js_sys::Function>()
        .map_err(|_| {
            io::Error::new(
                io::ErrorKind::Unsupported,
                "there is no global WebSocket here: pass a constructor (e.g. the `ws` package)",
            )
        })
}

#[async_trait(?Send)]
impl Transport for WasmTransport {
    type Runtime = WasmRuntime;

    fn runtime(&self) -> WasmRuntime {
        WasmRuntime
    }

    async fn connect(&self, target: &Target) -> io::Result<BoxSocket> {
        let (host, port) = match target {
            Target::Tcp { host, port } => (host.as_str(), *port),
            Target::Unix(path) => {
                return Err(io::Error::new(
                    io::ErrorKind::Unsupported,
                    format!(
                        "a Unix socket ({}) cannot be reached from WebAssembly",
                        path.display()
                    ),
                ))
            }
        };
        match &*self.kind {
            Kind::WebSocket { endpoint, ctor } => {
                let endpoint = endpoint
                    .as_ref()
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.clone()))?;
                let ctor = match ctor {
                    Some(c) => c.clone(),
                    None => global_websocket()?,
                };
                let socket = websocket::connect(&ctor, &endpoint.url_for(host, port)).await?;
                Ok(Box::new(socket))
            }
            Kind::Socket { factory } => socket::connect(factory, host, port).await,
            Kind::Unset => Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "no transport is configured: pass one (webSocket({ proxy }), nodeSocket(), \
                 cloudflareSocket() or a socket factory)",
            )),
        }
    }

    fn supports_tls(&self) -> bool {
        matches!(&*self.kind, Kind::Socket { .. })
    }

    fn private_channel(&self) -> bool {
        match &*self.kind {
            Kind::WebSocket {
                endpoint: Ok(endpoint),
                ..
            } => endpoint.is_private(),
            _ => false,
        }
    }

    async fn upgrade_tls(&self, socket: BoxSocket, request: &TlsRequest) -> io::Result<BoxSocket> {
        socket::upgrade(socket, request).await
    }
}
