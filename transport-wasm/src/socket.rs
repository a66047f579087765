//! A socket over Web streams, from a JavaScript factory
//! `(host, port) → { readable, writable, startTls?, opened?, close? }`
//! (SPEC §9): `cloudflare:sockets`, `Deno.connect`, the `node:net` adapter of
//! the npm package.
//!
//! TLS goes through the runtime's own upgrade: `startTls(options)` returns a
//! new socket object (possibly as a promise) that replaces the old one.
//!
//! Writes made during one tick are coalesced: the first flush of a tick
//! queues a microtask that hands everything written until then to the
//! stream as one chunk, so pipelined statements cost one `write` (one
//! syscall in Node) instead of one each.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::task::{Context, Poll};

use edgepg_core::{BoxSocket, Socket, TlsRequest};
use js_sys::{Promise, Uint8Array};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use crate::sys::{self, Reader, Writer};

/// Writes are buffered up to this size before they are handed to the stream
/// without waiting for the end of the tick.
const WRITE_CHUNK: usize = 256 * 1024;

/// The JavaScript objects behind one socket.
struct Handles {
    socket: JsValue,
    reader: Reader,
    writer: Writer,
    out: Rc<Outgoing>,
}

/// Bytes written and not yet handed to the stream, shared with the
/// end-of-tick task.
struct Outgoing {
    buf: RefCell<Vec<u8>>,
    /// The end-of-tick task is queued.
    scheduled: Cell<bool>,
    /// `writer.ready`, when the stream's queue was full after a write.
    ready: RefCell<Option<Promise>>,
    /// A write that failed after it was queued, reported on the next write or flush.
    error: RefCell<Option<String>>,
    /// `(e) => error = e`, shared by every write of this socket.
    on_write_error: RefCell<JsValue>,
}

impl Outgoing {
    /// Hands the buffered bytes to `writer` without waiting for them to reach
    /// the network; notes `writer.ready` when the stream's queue is full.
    fn write_out(&self, writer: &Writer) {
        self.scheduled.set(false);
        let data = std::mem::take(&mut *self.buf.borrow_mut());
        if data.is_empty() {
            return;
        }
        // A copy: a view into wasm memory could be detached when it grows.
        let chunk = Uint8Array::from(&data[..]);
        match writer.write(&chunk) {
            Ok(promise) => {
                let on_error = self.on_write_error.borrow().clone();
                let _ = sys::call_method(&promise, "then", &[sys::noop(), on_error]);
            }
            Err(e) => {
                self.error
                    .borrow_mut()
                    .get_or_insert_with(|| sys::describe(&e));
                return;
            }
        }
        let full = sys::get(writer, "desiredSize")
            .as_f64()
            .is_some_and(|d| d <= 0.0);
        if full {
            *self.ready.borrow_mut() = promise_of(sys::get(writer, "ready"));
        }
    }
}

/// Writes out what `handles` buffered (the end-of-tick task).
fn write_out(handles: &RefCell<Option<Handles>>) {
    let pair = handles
        .borrow()
        .as_ref()
        .map(|h| (h.writer.clone(), h.out.clone()));
    if let Some((writer, out)) = pair {
        out.write_out(&writer);
    }
}

thread_local! {
    /// Live stream sockets by their (boxed) address, so that `upgrade_tls`,
    /// which receives the socket type-erased, can find the JavaScript socket.
    static LIVE: RefCell<HashMap<usize, Rc<RefCell<Option<Handles>>>>> = RefCell::default();
}

/// A byte stream over a `ReadableStream` / `WritableStream` pair.
pub(crate) struct StreamSocket {
    handles: Rc<RefCell<Option<Handles>>>,
    read_fut: Option<JsFuture>,
    chunk: Vec<u8>,
    offset: usize,
    eof: bool,
    out: Rc<Outgoing>,
    /// `writer.ready`, awaited while the stream's queue is full.
    ready_fut: Option<JsFuture>,
    /// The end-of-tick task, `() => write_out(handles)` (owned by
    /// JavaScript: it may run after the socket is gone, and then does nothing).
    flush_task: JsValue,
}

fn promise_of(value: JsValue) -> Option<Promise> {
    if sys::is_thenable(&value) {
        Some(Promise::resolve(&value))
    } else {
        None
    }
}

/// Awaits `value` if it is a promise.
async fn settle(value: JsValue) -> Result<JsValue, JsValue> {
    match promise_of(value.clone()) {
        Some(p) => JsFuture::from(p).await,
        None => Ok(value),
    }
}

/// Opens a socket with `factory(host, port)` and waits until it is open.
pub(crate) async fn connect(
    factory: &js_sys::Function,
    host: &str,
    port: u16,
) -> io::Result<BoxSocket> {
    let context = format!("could not open a socket to {host}:{port}");
    let socket = factory
        .call2(
            &JsValue::NULL,
            &JsValue::from_str(host),
            &JsValue::from(port),
        )
        .map_err(|e| sys::io_error(io::ErrorKind::ConnectionRefused, &context, &e))?;
    let socket = settle(socket)
        .await
        .map_err(|e| sys::io_error(io::ErrorKind::ConnectionRefused, &context, &e))?;
    wrap(socket, &context).await
}

/// Waits for `opened` (if any) and takes the stream locks.
async fn wrap(socket: JsValue, context: &str) -> io::Result<BoxSocket> {
    if !socket.is_object() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{context}: the socket factory did not return an object"),
        ));
    }
    let opened = sys::get(&socket, "opened");
    if !opened.is_undefined() {
        settle(opened)
            .await
            .map_err(|e| sys::io_error(io::ErrorKind::ConnectionRefused, context, &e))?;
    }
    let lock = |stream: &str, method: &str| {
        let s = sys::get(&socket, stream);
        sys::call_method(&s, method, &[]).map_err(|e| {
            sys::io_error(
                io::ErrorKind::InvalidInput,
                &format!("{context}: the socket has no usable `{stream}` stream"),
                &e,
            )
        })
    };
    let reader: Reader = lock("readable", "getReader")?.unchecked_into();
    let writer: Writer = match lock("writable", "getWriter") {
        Ok(w) => w.unchecked_into(),
        Err(e) => {
            let _ = reader.release_lock();
            return Err(e);
        }
    };
    let out = Rc::new(Outgoing {
        buf: RefCell::default(),
        scheduled: Cell::new(false),
        ready: RefCell::default(),
        error: RefCell::default(),
        on_write_error: RefCell::new(JsValue::UNDEFINED),
    });
    let slot = Rc::downgrade(&out);
    // Owned by JavaScript (freed when collected): it may run after the socket is gone.
    let on_write_error = Closure::<dyn FnMut(JsValue)>::new(move |e: JsValue| {
        if let Some(out) = slot.upgrade() {
            if let Ok(mut error) = out.error.try_borrow_mut() {
                error.get_or_insert_with(|| sys::describe(&e));
            }
        }
    })
    .into_js_value();
    *out.on_write_error.borrow_mut() = on_write_error;
    let handles = Rc::new(RefCell::new(Some(Handles {
        socket,
        reader,
        writer,
        out: out.clone(),
    })));
    let weak: Weak<RefCell<Option<Handles>>> = Rc::downgrade(&handles);
    let flush_task = Closure::<dyn FnMut()>::new(move || {
        if let Some(handles) = weak.upgrade() {
            write_out(&handles);
        }
    })
    .into_js_value();
    let boxed = Box::new(StreamSocket {
        handles: handles.clone(),
        read_fut: None,
        chunk: Vec::new(),
        offset: 0,
        eof: false,
        out,
        ready_fut: None,
        flush_task,
    });
    let key = address(&*boxed);
    LIVE.with(|live| live.borrow_mut().insert(key, handles));
    Ok(boxed)
}

fn address(socket: &dyn Socket) -> usize {
    socket as *const dyn Socket as *const () as usize
}

/// Upgrades a socket opened by [`connect`] with its `startTls`.
pub(crate) async fn upgrade(socket: BoxSocket, request: &TlsRequest) -> io::Result<BoxSocket> {
    let key = address(&*socket);
    let handles = LIVE
        .with(|live| live.borrow().get(&key).cloned())
        .and_then(|h| h.borrow_mut().take())
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::Unsupported,
                "this socket was not opened by a JavaScript socket factory",
            )
        })?;
    drop(socket); // its handles were taken: dropping it closes nothing
    let Handles {
        socket,
        reader,
        writer,
        out,
    } = handles;
    out.write_out(&writer);
    let start_tls = sys::get(&socket, "startTls");
    if !start_tls.is_function() {
        if let Ok(p) = sys::call_method(&socket, "close", &[]) {
            sys::ignore_rejection(&p);
        }
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "this socket factory cannot upgrade to TLS (its sockets have no startTls)",
        ));
    }
    let _ = reader.release_lock();
    let _ = writer.release_lock_writer();
    let options = js_sys::Object::new();
    let host = JsValue::from_str(&request.host);
    sys::set(&options, "hostname", &host);
    sys::set(&options, "servername", &host);
    sys::set(&options, "expectedServerHostname", &host);
    sys::set(
        &options,
        "sslmode",
        &JsValue::from_str(request.mode.as_str()),
    );
    if let Some(root) = &request.root_cert {
        sys::set(&options, "sslrootcert", &JsValue::from_str(root));
    }
    let context = format!("TLS upgrade to {}", request.host);
    let upgraded = sys::call_method(&socket, "startTls", &[options.into()])
        .map_err(|e| sys::io_error(io::ErrorKind::ConnectionAborted, &context, &e))?;
    let upgraded = settle(upgraded)
        .await
        .map_err(|e| sys::io_error(io::ErrorKind::ConnectionAborted, &context, &e))?;
    wrap(upgraded, &context).await
}

fn js_io(kind: io::ErrorKind, what: &str, e: &JsValue) -> io::Error {
    sys::io_error(kind, what, e)
}

impl StreamSocket {
    fn reader(&self) -> io::Result<Reader> {
        match &*self.handles.borrow() {
            Some(h) => Ok(h.reader.clone()),
            None => Err(io::Error::new(
                io::ErrorKind::NotConnected,
                "the socket was handed over",
            )),
        }
    }

    fn writer(&self) -> io::Result<Writer> {
        match &*self.handles.borrow() {
            Some(h) => Ok(h.writer.clone()),
            None => Err(io::Error::new(
                io::ErrorKind::NotConnected,
                "the socket was handed over",
            )),
        }
    }

    /// A write that failed after it was queued, as an error.
    fn failed(&self) -> Option<io::Error> {
        self.out.error.borrow().as_ref().map(|msg| {
            io::Error::new(
                io::ErrorKind::BrokenPipe,
                format!("socket write failed: {msg}"),
            )
        })
    }

    /// Waits while the stream's queue is full (`writer.ready`).
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.ready_fut.is_none() {
            if let Some(ready) = self.out.ready.borrow_mut().take() {
                self.ready_fut = Some(JsFuture::from(ready));
            }
        }
        if let Some(fut) = self.ready_fut.as_mut() {
            let r = std::task::ready!(Pin::new(fut).poll(cx));
            self.ready_fut = None;
            if let Err(e) = r {
                return Poll::Ready(Err(js_io(
                    io::ErrorKind::BrokenPipe,
                    "socket write failed",
                    &e,
                )));
            }
        }
        Poll::Ready(Ok(()))
    }

    /// Queues the end-of-tick task (once per tick); writes at once if it
    /// cannot be queued.
    fn schedule(&self) -> io::Result<()> {
        if self.out.scheduled.replace(true) {
            return Ok(());
        }
        if sys::queue_microtask(&self.flush_task).is_err() {
            self.out.write_out(&self.writer()?);
        }
        Ok(())
    }
}

impl AsyncRead for StreamSocket {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        loop {
            if this.offset < this.chunk.len() {
                let n = (this.chunk.len() - this.offset).min(buf.remaining());
                buf.put_slice(&this.chunk[this.offset..this.offset + n]);
                this.offset += n;
                return Poll::Ready(Ok(()));
            }
            if this.eof {
                return Poll::Ready(Ok(()));
            }
            if this.read_fut.is_none() {
                let promise = this
                    .reader()?
                    .read()
                    .map_err(|e| js_io(io::ErrorKind::ConnectionReset, "socket read failed", &e))?;
                this.read_fut = Some(JsFuture::from(promise));
            }
            let Some(fut) = this.read_fut.as_mut() else {
                continue;
            };
            let result = match Pin::new(fut).poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(r) => r,
            };
            this.read_fut = None;
            let result = result
                .map_err(|e| js_io(io::ErrorKind::ConnectionReset, "socket read failed", &e))?;
            if sys::get(&result, "done").is_truthy() {
                this.eof = true;
                continue;
            }
            let value = sys::get(&result, "value");
            this.chunk = if let Some(view) = value.dyn_ref::<Uint8Array>() {
                view.to_vec()
            } else if let Some(buf) = value.dyn_ref::<js_sys::ArrayBuffer>() {
                Uint8Array::new(buf).to_vec()
            } else {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "the socket's readable stream produced something other than bytes",
                )));
            };
            this.offset = 0;
        }
    }
}

impl AsyncWrite for StreamSocket {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if let Some(e) = this.failed() {
            return Poll::Ready(Err(e));
        }
        std::task::ready!(this.poll_ready(cx))?;
        let pending = this.out.buf.borrow().len();
        if pending >= WRITE_CHUNK {
            this.out.write_out(&this.writer()?);
            std::task::ready!(this.poll_ready(cx))?;
        }
        let pending = this.out.buf.borrow().len();
        let n = buf.len().min(WRITE_CHUNK.saturating_sub(pending));
        this.out.buf.borrow_mut().extend_from_slice(&buf[..n]);
        Poll::Ready(Ok(n))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if let Some(e) = this.failed() {
            return Poll::Ready(Err(e));
        }
        if !this.out.buf.borrow().is_empty() {
            this.schedule()?;
        }
        this.poll_ready(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Ok(writer) = self.writer() {
            self.out.write_out(&writer);
            if let Ok(p) = writer.close_writer() {
                sys::ignore_rejection(&p);
            }
        }
        Poll::Ready(Ok(()))
    }
}

impl Drop for StreamSocket {
    fn drop(&mut self) {
        let key = address(&*self);
        LIVE.with(|live| {
            if let Ok(mut live) = live.try_borrow_mut() {
                live.remove(&key);
            }
        });
        let Some(Handles {
            socket,
            reader,
            writer,
            out,
        }) = self.handles.borrow_mut().take()
        else {
            return;
        };
        // Whatever is still buffered (a Terminate message) goes out first.
        out.write_out(&writer);
        if let Ok(p) = writer.close_writer() {
            sys::ignore_rejection(&p);
        }
        if let Ok(p) = reader.cancel() {
            sys::ignore_rejection(&p);
        }
        if let Ok(p) = sys::call_method(&socket, "close", &[]) {
            sys::ignore_rejection(&p);
        }
    }
}
