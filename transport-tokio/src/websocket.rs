//! The WebSocket-tunnel client (SPEC §8): PostgreSQL over
//! `ws[s]://PROXY/v1?address=HOST:PORT`, as served by `edgepg-proxy` or
//! Neon's wsproxy.
//!
//! Each binary frame carries a chunk of the PostgreSQL byte stream. Writes
//! are coalesced: everything written between two flushes — tokio-postgres
//! flushes once per turn of its connection task, after it has written every
//! message queued in that turn — goes out as one frame (split at
//! [`MAX_FRAME`] bytes), so a pipelined Parse/Bind/Execute/Sync costs one
//! frame, not four.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use edgepg_core::{SslMode, TlsRequest};
use futures_util::{Sink, Stream};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::error::{Error as WsError, ProtocolError};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Bytes, Message};
use tokio_tungstenite::WebSocketStream;

use crate::tls;

/// Largest frame the client sends; longer writes are split.
pub const MAX_FRAME: usize = 64 * 1024;

/// A parsed tunnel endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Endpoint {
    /// `wss://`.
    pub(crate) secure: bool,
    /// Host to connect to (IPv6 without brackets).
    pub(crate) host: String,
    /// Port to connect to.
    pub(crate) port: u16,
    /// The URL without any `address` parameter; one is appended per connection.
    pub(crate) url: String,
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

impl Endpoint {
    /// Parses `ws://host[:port][/path][?query]` or `wss://…` (path defaults to `/v1`).
    pub(crate) fn parse(url: &str) -> io::Result<Endpoint> {
        let bad = |why: &str| invalid(format!("invalid WebSocket proxy URL {url:?}: {why}"));
        let (secure, rest) = if let Some(r) = url.strip_prefix("ws://") {
            (false, r)
        } else if let Some(r) = url.strip_prefix("wss://") {
            (true, r)
        } else {
            return Err(bad("expected ws:// or wss://"));
        };
        let split = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(split);
        if authority.is_empty() || authority.contains('@') {
            return Err(bad("expected ws[s]://HOST[:PORT]/PATH"));
        }
        if tail.contains('#') {
            return Err(bad("fragments are not allowed"));
        }
        let default_port = if secure { 443 } else { 80 };
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let end = v6
                .find(']')
                .ok_or_else(|| bad("unterminated IPv6 address"))?;
            let host = &v6[..end];
            let port = match &v6[end + 1..] {
                "" => default_port,
                p => p
                    .strip_prefix(':')
                    .and_then(|p| p.parse().ok())
                    .ok_or_else(|| bad("invalid port"))?,
            };
            (host.to_string(), port)
        } else {
            match authority.split_once(':') {
                Some((h, p)) => (h.to_string(), p.parse().map_err(|_| bad("invalid port"))?),
                None => (authority.to_string(), default_port),
            }
        };
        if host.is_empty() {
            return Err(bad("empty host"));
        }
        let tail = if tail.is_empty() || tail.starts_with('?') {
            format!("/v1{tail}")
        } else {
            tail.to_string()
        };
        let scheme = if secure { "wss" } else { "ws" };
        Ok(Endpoint {
            secure,
            host,
            port,
            url: format!("{scheme}://{authority}{tail}"),
        })
    }

    /// The URL for a tunnel to `host:port`.
    pub(crate) fn url_for(&self, host: &str, port: u16) -> String {
        let sep = if self.url.contains('?') { '&' } else { '?' };
        // `[` and `]` are not allowed unescaped in a query; the proxy decodes them.
        let host = if host.contains(':') {
            format!("%5B{host}%5D")
        } else {
            host.to_string()
        };
        format!("{}{sep}address={host}:{port}", self.url)
    }
}

/// Tunnel settings held by a [`TokioTransport`](crate::TokioTransport).
#[derive(Debug, Clone)]
pub(crate) struct Tunnel {
    pub(crate) endpoint: Result<Endpoint, String>,
    /// Roots for `wss://`: a PEM path, `"system"`, or `None` for the web roots.
    pub(crate) root_cert: Option<Arc<str>>,
}

impl Tunnel {
    pub(crate) fn new(url: &str) -> Tunnel {
        Tunnel {
            endpoint: Endpoint::parse(url).map_err(|e| e.to_string()),
            root_cert: None,
        }
    }
}

/// Maps a refused handshake to an `io::Error` that says why.
fn handshake_error(err: WsError, url: &str) -> io::Error {
    match err {
        WsError::Http(response) => {
            let status = response.status();
            let body = response
                .body()
                .as_deref()
                .map(|b| String::from_utf8_lossy(b).trim().to_string())
                .unwrap_or_default();
            let kind = match status.as_u16() {
                400 | 404 | 405 | 426 | 431 => io::ErrorKind::InvalidInput,
                403 => io::ErrorKind::PermissionDenied,
                408 | 504 => io::ErrorKind::TimedOut,
                _ => io::ErrorKind::ConnectionRefused,
            };
            let detail = if body.is_empty() {
                String::new()
            } else {
                format!(": {body}")
            };
            io::Error::new(
                kind,
                format!("the WebSocket proxy refused the tunnel ({status}){detail}"),
            )
        }
        WsError::Io(e) => e,
        other => io::Error::other(format!("WebSocket handshake with {url} failed: {other}")),
    }
}

/// Opens a tunnel to `host:port` through `tunnel`.
pub(crate) async fn connect(
    tunnel: &Tunnel,
    host: &str,
    port: u16,
    configure: impl Fn(&TcpStream) -> io::Result<()>,
) -> io::Result<TunnelSocket> {
    let endpoint = tunnel.endpoint.as_ref().map_err(|e| invalid(e.clone()))?;
    let url = endpoint.url_for(host, port);
    let tcp = TcpStream::connect((endpoint.host.as_str(), endpoint.port)).await?;
    configure(&tcp)?;
    let stream: Box<dyn Io> = if endpoint.secure {
        let request = TlsRequest {
            host: endpoint.host.clone(),
            mode: SslMode::VerifyFull,
            root_cert: tunnel.root_cert.clone(),
        };
        let config = tls::client_config(&request)?;
        let name = tls::server_name(&endpoint.host)?;
        Box::new(
            tokio_rustls::TlsConnector::from(config)
                .connect(name, tcp)
                .await?,
        )
    } else {
        Box::new(tcp)
    };
    let config = WebSocketConfig::default().max_frame_size(Some(64 << 20));
    let (ws, _) = tokio_tungstenite::client_async_with_config(url.as_str(), stream, Some(config))
        .await
        .map_err(|e| handshake_error(e, &endpoint.url))?;
    Ok(TunnelSocket::new(ws))
}

/// The byte stream under a tunnel (TCP or TLS).
pub(crate) trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// A PostgreSQL byte stream carried in WebSocket binary frames.
pub struct TunnelSocket {
    ws: WebSocketStream<Box<dyn Io>>,
    /// The unread rest of the last frame received.
    read_buf: Bytes,
    /// Bytes written since the last frame was sent.
    write_buf: Vec<u8>,
    eof: bool,
}

impl std::fmt::Debug for TunnelSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TunnelSocket")
            .field("buffered_read", &self.read_buf.len())
            .field("buffered_write", &self.write_buf.len())
            .finish()
    }
}

fn ws_to_io(e: WsError) -> io::Error {
    match e {
        WsError::Io(e) => e,
        WsError::ConnectionClosed | WsError::AlreadyClosed => {
            io::Error::new(io::ErrorKind::BrokenPipe, "the WebSocket tunnel is closed")
        }
        WsError::Protocol(ProtocolError::ResetWithoutClosingHandshake) => io::Error::new(
            io::ErrorKind::ConnectionReset,
            "the WebSocket tunnel was reset",
        ),
        other => io::Error::other(format!("WebSocket tunnel: {other}")),
    }
}

impl TunnelSocket {
    fn new(ws: WebSocketStream<Box<dyn Io>>) -> Self {
        TunnelSocket {
            ws,
            read_buf: Bytes::new(),
            write_buf: Vec::new(),
            eof: false,
        }
    }

    /// Hands the buffered bytes to the WebSocket as one binary frame.
    fn poll_send_buffer(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.write_buf.is_empty() {
            return Poll::Ready(Ok(()));
        }
        let mut ws = Pin::new(&mut self.ws);
        ready!(ws.as_mut().poll_ready(cx)).map_err(ws_to_io)?;
        let frame = Bytes::from(std::mem::take(&mut self.write_buf));
        ws.start_send(Message::Binary(frame)).map_err(ws_to_io)?;
        Poll::Ready(Ok(()))
    }
}

impl AsyncRead for TunnelSocket {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        loop {
            if !this.read_buf.is_empty() {
                let n = this.read_buf.len().min(buf.remaining());
                buf.put_slice(&this.read_buf.split_to(n));
                return Poll::Ready(Ok(()));
            }
            if this.eof {
                return Poll::Ready(Ok(()));
            }
            match ready!(Pin::new(&mut this.ws).poll_next(cx)) {
                Some(Ok(Message::Binary(data))) => this.read_buf = data,
                Some(Ok(Message::Text(_))) => {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "the WebSocket proxy sent a text frame",
                    )))
                }
                Some(Ok(Message::Close(frame))) => {
                    this.eof = true;
                    match frame {
                        Some(f) if !matches!(f.code, CloseCode::Normal | CloseCode::Away) => {
                            return Poll::Ready(Err(io::Error::new(
                                io::ErrorKind::ConnectionAborted,
                                format!(
                                    "the WebSocket tunnel was closed ({}): {}",
                                    u16::from(f.code),
                                    f.reason
                                ),
                            )));
                        }
                        _ => return Poll::Ready(Ok(())),
                    }
                }
                Some(Ok(_)) => {} // ping, pong: answered by tungstenite
                Some(Err(WsError::ConnectionClosed | WsError::AlreadyClosed)) | None => {
                    this.eof = true;
                }
                Some(Err(e)) => return Poll::Ready(Err(ws_to_io(e))),
            }
        }
    }
}

impl AsyncWrite for TunnelSocket {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if this.write_buf.len() >= MAX_FRAME {
            ready!(this.poll_send_buffer(cx))?;
        }
        let n = buf.len().min(MAX_FRAME - this.write_buf.len());
        this.write_buf.extend_from_slice(&buf[..n]);
        Poll::Ready(Ok(n))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        ready!(this.poll_send_buffer(cx))?;
        Pin::new(&mut this.ws).poll_flush(cx).map_err(ws_to_io)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.as_mut().poll_flush(cx))?;
        match ready!(Pin::new(&mut self.ws).poll_close(cx)) {
            Ok(()) | Err(WsError::ConnectionClosed | WsError::AlreadyClosed) => Poll::Ready(Ok(())),
            Err(e) => Poll::Ready(Err(ws_to_io(e))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints() {
        let e = Endpoint::parse("ws://127.0.0.1:8080/v1").unwrap();
        assert_eq!(
            (e.secure, e.host.as_str(), e.port),
            (false, "127.0.0.1", 8080)
        );
        assert_eq!(
            e.url_for("db", 5432),
            "ws://127.0.0.1:8080/v1?address=db:5432"
        );
        assert_eq!(
            e.url_for("::1", 5432),
            "ws://127.0.0.1:8080/v1?address=%5B::1%5D:5432"
        );
        let e = Endpoint::parse("wss://proxy.example").unwrap();
        assert_eq!((e.secure, e.port), (true, 443));
        assert_eq!(e.url, "wss://proxy.example/v1");
        let e = Endpoint::parse("ws://[::1]:9/v2?token=x").unwrap();
        assert_eq!((e.host.as_str(), e.port), ("::1", 9));
        assert_eq!(e.url_for("h", 1), "ws://[::1]:9/v2?token=x&address=h:1");
        for bad in [
            "http://x/v1",
            "ws://",
            "ws://u@x/v1",
            "ws://x:y/v1",
            "ws://[::1/v1",
            "ws://x/v1#f",
        ] {
            assert!(Endpoint::parse(bad).is_err(), "{bad}");
        }
    }
}
