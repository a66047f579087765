//! The WebSocket-tunnel socket (SPEC §8) over the host's `WebSocket`.
//!
//! Frames are binary (`binaryType = "arraybuffer"`). Writes made during one
//! tick are coalesced: the first write of a tick schedules a microtask that
//! sends everything written until then as one frame (split at
//! [`MAX_FRAME`]), so a pipelined Parse/Bind/Execute/Sync costs one frame.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use js_sys::{ArrayBuffer, Uint8Array};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::sys::{self, WebSocketLike};

/// Largest frame sent; longer writes are split.
pub const MAX_FRAME: usize = 64 * 1024;

/// Writes buffered beyond this wait for the next send (backpressure).
const MAX_PENDING: usize = 1 << 20;

/// A parsed tunnel endpoint: `ws[s]://host[:port]/path?query` (path defaults to `/v1`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Endpoint {
    url: String,
    /// `wss://`, or a proxy on this machine: the bytes to it are not
    /// readable on the network, which satisfies `sslmode=require` the way
    /// Neon's driver treats it over WebSockets.
    private: bool,
}

impl Endpoint {
    pub(crate) fn parse(url: &str) -> Result<Endpoint, String> {
        let bad = |why: &str| {
            format!(
                "invalid WebSocket proxy URL \"{}\": {why}",
                url.escape_debug()
            )
        };
        let url = url.trim();
        let (scheme, rest) = if let Some(r) = url.strip_prefix("ws://") {
            ("ws", r)
        } else if let Some(r) = url.strip_prefix("wss://") {
            ("wss", r)
        } else {
            return Err(bad("expected ws:// or wss://"));
        };
        let split = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(split);
        if authority.is_empty()
            || authority.contains('@')
            || authority.contains(char::is_whitespace)
        {
            return Err(bad("expected ws[s]://HOST[:PORT]/PATH"));
        }
        if tail.contains('#') {
            return Err(bad("fragments are not allowed"));
        }
        let port = match authority.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(':') && !p.ends_with(']') => Some(p),
            _ => None,
        };
        if let Some(p) = port {
            if p.parse::<u16>().is_err() {
                return Err(bad("invalid port"));
            }
        }
        let host = port.map_or(authority, |p| &authority[..authority.len() - p.len() - 1]);
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let private = scheme == "wss"
            || host.eq_ignore_ascii_case("localhost")
            || host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.to_canonical().is_loopback());
        let tail = if tail.is_empty() || tail.starts_with('?') {
            format!("/v1{tail}")
        } else {
            tail.to_string()
        };
        Ok(Endpoint {
            url: format!("{scheme}://{authority}{tail}"),
            private,
        })
    }

    /// See [`Endpoint::private`].
    pub(crate) fn is_private(&self) -> bool {
        self.private
    }

    /// The URL of a tunnel to `host:port`.
    pub(crate) fn url_for(&self, host: &str, port: u16) -> String {
        let sep = if self.url.contains('?') { '&' } else { '?' };
        let host = if host.contains(':') {
            format!("%5B{host}%5D")
        } else {
            host.to_string()
        };
        format!("{}{sep}address={host}:{port}", self.url)
    }
}

#[derive(Default)]
struct Shared {
    /// Frames received and not yet read.
    incoming: RefCell<VecDeque<Vec<u8>>>,
    /// Read offset into the front frame.
    offset: Cell<usize>,
    /// Bytes written and not yet sent.
    outgoing: RefCell<Vec<u8>>,
    /// A send is scheduled for the end of this tick.
    scheduled: Cell<bool>,
    open: Cell<bool>,
    /// Set when the tunnel ended: `Ok` for a clean close, `Err` with the reason.
    ended: RefCell<Option<Result<(), (io::ErrorKind, String)>>>,
    read_waker: Cell<Option<Waker>>,
    write_waker: Cell<Option<Waker>>,
    open_waker: Cell<Option<Waker>>,
}

impl Shared {
    fn wake_all(&self) {
        for w in [&self.read_waker, &self.write_waker, &self.open_waker] {
            if let Some(w) = w.take() {
                w.wake();
            }
        }
    }

    fn end(&self, outcome: Result<(), (io::ErrorKind, String)>) {
        let mut ended = self.ended.borrow_mut();
        if ended.is_none() {
            *ended = Some(outcome);
        }
        drop(ended);
        self.wake_all();
    }

    fn ended_error(&self) -> Option<io::Error> {
        match &*self.ended.borrow() {
            Some(Err((kind, msg))) => Some(io::Error::new(*kind, msg.clone())),
            Some(Ok(())) => Some(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the WebSocket tunnel is closed",
            )),
            None => None,
        }
    }

    /// Sends everything buffered, in frames of at most [`MAX_FRAME`] bytes.
    fn send_now(&self, ws: &WebSocketLike) {
        self.scheduled.set(false);
        let data = std::mem::take(&mut *self.outgoing.borrow_mut());
        if self.ended.borrow().is_none() {
            for chunk in data.chunks(MAX_FRAME) {
                // A copy: a view into wasm memory could be detached when it grows.
                let frame = Uint8Array::from(chunk);
                if let Err(e) = ws.send(&frame) {
                    self.end(Err((
                        io::ErrorKind::BrokenPipe,
                        format!("cannot send on the WebSocket tunnel: {}", sys::describe(&e)),
                    )));
                    break;
                }
            }
        }
        if let Some(w) = self.write_waker.take() {
            w.wake();
        }
    }
}

/// A PostgreSQL byte stream carried in WebSocket binary frames.
pub(crate) struct WsSocket {
    ws: WebSocketLike,
    shared: Rc<Shared>,
    _handlers: [Closure<dyn FnMut(JsValue)>; 4],
}

const HANDLERS: [&str; 4] = ["onopen", "onmessage", "onclose", "onerror"];

/// Opens a tunnel: `new Ctor(url)`, waits for `open`.
pub(crate) async fn connect(ctor: &js_sys::Function, url: &str) -> io::Result<WsSocket> {
    let args = js_sys::Array::of1(&JsValue::from_str(url));
    let ws: WebSocketLike = js_sys::Reflect::construct(ctor, &args)
        .map_err(|e| {
            sys::io_error(
                io::ErrorKind::InvalidInput,
                &format!("cannot open a WebSocket to {url}"),
                &e,
            )
        })?
        .unchecked_into();
    sys::set(&ws, "binaryType", &JsValue::from_str("arraybuffer"));
    let shared = Rc::new(Shared::default());

    let s = shared.clone();
    let onopen = Closure::<dyn FnMut(JsValue)>::new(move |_: JsValue| {
        s.open.set(true);
        s.wake_all();
    });
    let s = shared.clone();
    let onmessage = Closure::<dyn FnMut(JsValue)>::new(move |event: JsValue| {
        let data = sys::get(&event, "data");
        let bytes = if let Some(buf) = data.dyn_ref::<ArrayBuffer>() {
            Uint8Array::new(buf).to_vec()
        } else if let Some(view) = data.dyn_ref::<Uint8Array>() {
            view.to_vec()
        } else {
            s.end(Err((
                io::ErrorKind::InvalidData,
                "the WebSocket proxy sent a frame that is not binary".to_string(),
            )));
            return;
        };
        if !bytes.is_empty() {
            s.incoming.borrow_mut().push_back(bytes);
        }
        if let Some(w) = s.read_waker.take() {
            w.wake();
        }
    });
    let s = shared.clone();
    let url_owned = url.to_string();
    let onclose = Closure::<dyn FnMut(JsValue)>::new(move |event: JsValue| {
        let code = sys::get(&event, "code").as_f64().unwrap_or(1005.0) as u16;
        let reason = sys::get(&event, "reason").as_string().unwrap_or_default();
        if !s.open.get() {
            s.end(Err((
                io::ErrorKind::ConnectionRefused,
                format!(
                    "the WebSocket tunnel {url_owned} closed before it opened (code {code}{}{reason})",
                    if reason.is_empty() { "" } else { ": " }
                ),
            )));
        } else if matches!(code, 1000 | 1001 | 1005) {
            s.end(Ok(()));
        } else {
            s.end(Err((
                io::ErrorKind::ConnectionAborted,
                format!(
                    "the WebSocket tunnel was closed (code {code}){}{reason}",
                    if reason.is_empty() { "" } else { ": " }
                ),
            )));
        }
    });
    let s = shared.clone();
    let url_owned = url.to_string();
    let onerror = Closure::<dyn FnMut(JsValue)>::new(move |event: JsValue| {
        // Browsers say nothing; `ws` puts the cause in `message` / `error`.
        let detail = sys::get(&event, "message")
            .as_string()
            .or_else(|| {
                let e = sys::get(&event, "error");
                (!e.is_undefined()).then(|| sys::describe(&e))
            })
            .filter(|m| !m.is_empty());
        let kind = if s.open.get() {
            io::ErrorKind::ConnectionReset
        } else {
            io::ErrorKind::ConnectionRefused
        };
        let msg = match detail {
            Some(d) => format!("WebSocket tunnel {url_owned} failed: {d}"),
            None => format!("WebSocket tunnel {url_owned} failed"),
        };
        s.end(Err((kind, msg)));
    });
    let handlers = [onopen, onmessage, onclose, onerror];
    for (name, h) in HANDLERS.iter().zip(&handlers) {
        sys::set(&ws, name, h.as_ref());
    }
    let socket = WsSocket {
        ws,
        shared,
        _handlers: handlers,
    };
    std::future::poll_fn(|cx| {
        let shared = &socket.shared;
        if let Some(e) = shared.ended_error() {
            return Poll::Ready(Err(e));
        }
        if shared.open.get() {
            return Poll::Ready(Ok(()));
        }
        shared.open_waker.set(Some(cx.waker().clone()));
        Poll::Pending
    })
    .await?;
    Ok(socket)
}

impl AsyncRead for WsSocket {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let shared = &self.shared;
        let mut incoming = shared.incoming.borrow_mut();
        if let Some(front) = incoming.front() {
            let offset = shared.offset.get().min(front.len());
            let n = (front.len() - offset).min(buf.remaining());
            buf.put_slice(&front[offset..offset + n]);
            if offset + n >= front.len() {
                incoming.pop_front();
                shared.offset.set(0);
            } else {
                shared.offset.set(offset + n);
            }
            return Poll::Ready(Ok(()));
        }
        drop(incoming);
        match &*shared.ended.borrow() {
            Some(Ok(())) => return Poll::Ready(Ok(())),
            Some(Err((kind, msg))) => return Poll::Ready(Err(io::Error::new(*kind, msg.clone()))),
            None => {}
        }
        shared.read_waker.set(Some(cx.waker().clone()));
        Poll::Pending
    }
}

impl WsSocket {
    fn schedule_send(&self) {
        if self.shared.scheduled.replace(true) {
            return;
        }
        let shared = self.shared.clone();
        let ws = self.ws.clone();
        let task = Closure::once_into_js(move || shared.send_now(&ws));
        if sys::queue_microtask(&task).is_err() {
            self.shared.send_now(&self.ws);
        }
    }
}

impl AsyncWrite for WsSocket {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if let Some(e) = self.shared.ended_error() {
            return Poll::Ready(Err(e));
        }
        let pending = self.shared.outgoing.borrow().len();
        if pending >= MAX_PENDING {
            self.shared.write_waker.set(Some(cx.waker().clone()));
            self.schedule_send();
            return Poll::Pending;
        }
        let n = buf.len().min(MAX_PENDING - pending);
        self.shared
            .outgoing
            .borrow_mut()
            .extend_from_slice(&buf[..n]);
        self.schedule_send();
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if !self.shared.scheduled.get() {
            return match self.shared.ended.borrow().as_ref() {
                Some(Err((kind, msg))) => Poll::Ready(Err(io::Error::new(*kind, msg.clone()))),
                _ => Poll::Ready(Ok(())),
            };
        }
        self.shared.write_waker.set(Some(cx.waker().clone()));
        Poll::Pending
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.as_mut().poll_flush(cx) {
            Poll::Ready(_) => {
                let _ = self.ws.close_with(1000);
                Poll::Ready(Ok(()))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl Drop for WsSocket {
    fn drop(&mut self) {
        // Whatever is still buffered (a Terminate message) goes out first.
        if !self.shared.outgoing.borrow().is_empty() {
            self.shared.send_now(&self.ws);
        }
        for name in HANDLERS {
            // `ws` (Node) throws on an 'error' event nobody listens to.
            let value = if name == "onerror" {
                sys::noop()
            } else {
                JsValue::NULL
            };
            sys::set(&self.ws, name, &value);
        }
        // CONNECTING (0) or OPEN (1): close it.
        if self.ws.ready_state().as_f64().is_some_and(|s| s < 2.0) {
            let _ = self.ws.close_with(1000);
        }
    }
}
