//! Relaying between an upgraded WebSocket and the destination's TCP stream.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{timeout, Instant};
use tokio_tungstenite::tungstenite::error::{CapacityError, Error as WsError};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Bytes, Message};
use tokio_tungstenite::WebSocketStream;
use tracing::info;

use crate::address::Destination;
use crate::metrics::Reject;
use crate::shared::{BoxIo, Shared};

/// Bytes read from the destination per frame at most.
const READ_CHUNK: usize = 64 * 1024;

/// Why a tunnel ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    ClientClosed,
    ClientError,
    ServerClosed,
    ServerError,
    TextFrame,
    FrameTooLarge,
    Idle,
    Shutdown,
}

impl End {
    fn label(self) -> &'static str {
        match self {
            End::ClientClosed => "client_closed",
            End::ClientError => "client_error",
            End::ServerClosed => "server_closed",
            End::ServerError => "server_error",
            End::TextFrame => "text_frame",
            End::FrameTooLarge => "frame_too_large",
            End::Idle => "idle_timeout",
            End::Shutdown => "shutdown",
        }
    }

    /// The close frame the proxy sends, if any.
    fn close_frame(self, max_frame: usize) -> Option<CloseFrame> {
        let (code, reason) = match self {
            End::ClientClosed | End::ClientError => return None,
            End::ServerClosed => (CloseCode::Normal, "the server closed the connection".into()),
            End::ServerError => (CloseCode::Error, "connection to the server failed".into()),
            End::TextFrame => (
                CloseCode::Unsupported,
                "text frames are not supported: send binary frames".into(),
            ),
            End::FrameTooLarge => (
                CloseCode::Size,
                format!("frame larger than {max_frame} bytes"),
            ),
            End::Idle => (CloseCode::Away, "idle timeout".into()),
            End::Shutdown => (CloseCode::Away, "the proxy is shutting down".into()),
        };
        Some(CloseFrame {
            code,
            reason: reason.into(),
        })
    }
}

/// Milliseconds since `origin`, for the idle clock.
fn millis_since(origin: Instant) -> u64 {
    u64::try_from(origin.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// The destination side of a tunnel: a TCP stream (in-memory streams in the fuzzing entry points).
pub(crate) trait Upstream {
    type Read: AsyncRead + Unpin + Send;
    type Write: AsyncWrite + Unpin + Send;
    fn split(self) -> (Self::Read, Self::Write);
}

impl Upstream for TcpStream {
    type Read = tokio::net::tcp::OwnedReadHalf;
    type Write = tokio::net::tcp::OwnedWriteHalf;
    fn split(self) -> (Self::Read, Self::Write) {
        self.into_split()
    }
}

impl Upstream for tokio::io::DuplexStream {
    type Read = tokio::io::ReadHalf<tokio::io::DuplexStream>;
    type Write = tokio::io::WriteHalf<tokio::io::DuplexStream>;
    fn split(self) -> (Self::Read, Self::Write) {
        tokio::io::split(self)
    }
}

/// Relays until either side closes, a limit is hit, or the proxy stops;
/// returns why it ended (the `reason` of the log line).
pub(crate) async fn run<U: Upstream>(
    shared: Arc<Shared>,
    ws: WebSocketStream<BoxIo>,
    upstream: U,
    conn: u64,
    peer: SocketAddr,
    dest: Destination,
) -> &'static str {
    let metrics = shared.metrics.clone();
    metrics.tunnel_opened();
    info!(conn, %peer, %dest, "tunnel open");
    let started = Instant::now();
    let last_activity = AtomicU64::new(0);
    let touch = || last_activity.store(millis_since(started), Ordering::Relaxed);
    let up_bytes = AtomicU64::new(0);
    let down_bytes = AtomicU64::new(0);
    // Client data not yet answered by the server, and answered flights so far.
    let awaiting_answer = AtomicBool::new(false);
    let round_trips = AtomicU64::new(0);

    let (mut sink, mut stream) = ws.split();
    let (mut up_read, mut up_write) = upstream.split();
    let mut force_close = shared.force_close.subscribe();
    let idle = shared.opts.idle_timeout;

    let end = {
        let client_to_server = async {
            loop {
                match stream.next().await {
                    Some(Ok(Message::Binary(data))) => {
                        touch();
                        awaiting_answer.store(true, Ordering::Relaxed);
                        if up_write.write_all(&data).await.is_err() {
                            return End::ServerError;
                        }
                        metrics.client_to_server(data.len());
                        up_bytes.fetch_add(data.len() as u64, Ordering::Relaxed);
                    }
                    Some(Ok(Message::Text(_))) => return End::TextFrame,
                    Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => touch(),
                    Some(Ok(Message::Close(_))) | None => return End::ClientClosed,
                    Some(Err(WsError::Capacity(CapacityError::MessageTooLong { .. }))) => {
                        return End::FrameTooLarge
                    }
                    Some(Err(_)) => return End::ClientError,
                }
            }
        };
        let server_to_client = async {
            let mut buf = vec![0u8; READ_CHUNK];
            loop {
                let n = match up_read.read(&mut buf).await {
                    Ok(0) => return End::ServerClosed,
                    Ok(n) => n,
                    Err(_) => return End::ServerError,
                };
                touch();
                // Counted before forwarding, so a client that has its answer
                // also sees the round trip in the metrics.
                if awaiting_answer.swap(false, Ordering::Relaxed) {
                    metrics.round_trip();
                    round_trips.fetch_add(1, Ordering::Relaxed);
                }
                let chunk = Bytes::copy_from_slice(buf.get(..n).unwrap_or_default());
                if sink.send(Message::Binary(chunk)).await.is_err() {
                    return End::ClientError;
                }
                metrics.server_to_client(n);
                down_bytes.fetch_add(n as u64, Ordering::Relaxed);
            }
        };
        let idle_timer = async {
            if idle.is_zero() {
                return std::future::pending::<End>().await;
            }
            let idle_ms = u64::try_from(idle.as_millis()).unwrap_or(u64::MAX);
            loop {
                let last = last_activity.load(Ordering::Relaxed);
                let now = millis_since(started);
                let quiet = now.saturating_sub(last);
                if quiet >= idle_ms {
                    return End::Idle;
                }
                tokio::time::sleep(Duration::from_millis(idle_ms - quiet)).await;
            }
        };
        let shutdown = async {
            let _ = force_close.wait_for(|closing| *closing).await;
            End::Shutdown
        };
        tokio::select! {
            e = client_to_server => e,
            e = server_to_client => e,
            e = idle_timer => e,
            e = shutdown => e,
        }
    };

    match end {
        End::TextFrame => metrics.reject(Reject::TextFrame),
        End::FrameTooLarge => metrics.reject(Reject::FrameTooLarge),
        _ => {}
    }
    let _ = up_write.shutdown().await;
    drop((up_read, up_write));
    // The tunnel is over; what follows is the WebSocket closing handshake
    // (still counted in `sockets_open`).
    metrics.tunnel_closed();
    // Say why (or answer the client's close), then let the socket go.
    let max_frame = shared.opts.max_frame_size;
    let closing = async move {
        match end.close_frame(max_frame) {
            Some(frame) => {
                let _ = sink.send(Message::Close(Some(frame))).await;
                // Read (and discard) what the client still sends until it
                // closes, so that the close frame is not lost to a reset.
                if let Ok(mut ws) = sink.reunite(stream) {
                    let io = ws.get_mut();
                    let mut buf = [0u8; 4096];
                    while let Ok(n) = io.read(&mut buf).await {
                        if n == 0 {
                            break;
                        }
                    }
                }
            }
            None => {
                let _ = sink.flush().await;
                let _ = sink.close().await;
            }
        }
    };
    let _ = timeout(Duration::from_secs(2), closing).await;
    info!(
        conn,
        %peer,
        %dest,
        reason = end.label(),
        secs = started.elapsed().as_secs_f64(),
        bytes_up = up_bytes.load(Ordering::Relaxed),
        bytes_down = down_bytes.load(Ordering::Relaxed),
        round_trips = round_trips.load(Ordering::Relaxed),
        "tunnel closed"
    );
    end.label()
}
