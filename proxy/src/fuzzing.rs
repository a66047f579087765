//! Entry points for fuzzing and property tests: the proxy's handling of a
//! request head and of WebSocket frames, run on bytes without sockets. They
//! call the same code the server runs. Not a stable API.

use std::cell::RefCell;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use clap::Parser;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::WebSocketStream;

use crate::address::{AllowList, Destination, Host};
use crate::http::{self, HeadError};
use crate::server::{check_request, is_upgrade};
use crate::shared::{BoxIo, Shared};
use crate::Options;

/// What the proxy does with a request head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handshake {
    /// More bytes are needed.
    Incomplete,
    /// `431`: the head is too large.
    TooLarge,
    /// `400`: not HTTP.
    Malformed,
    /// `/healthz` (or `/`) without an upgrade.
    Health,
    /// Any other path: `404`.
    NotFound,
    /// Refused with this status and `reason` label.
    Refused {
        /// HTTP status.
        status: u16,
        /// The `reason` label of the refusal.
        reason: &'static str,
    },
    /// Accepted so far: the destination to resolve and check next.
    Upgrade(Destination),
}

/// Runs the request-head parser and the request checks on `request`.
pub fn handshake(request: &[u8], allow: &AllowList, allow_origin: &[String]) -> Handshake {
    match http::parse_head(request) {
        Ok(None) => Handshake::Incomplete,
        Err(HeadError::TooLarge) => Handshake::TooLarge,
        Err(HeadError::Malformed | HeadError::Closed) => Handshake::Malformed,
        Ok(Some((head, _))) => match head.path.as_str() {
            "/v1" | "/v2" => match check_request(&head, allow_origin, allow) {
                Ok((dest, _key)) => Handshake::Upgrade(dest),
                Err(r) => Handshake::Refused {
                    status: r.status,
                    reason: r.reason.label(),
                },
            },
            "/healthz" | "/" if !is_upgrade(&head) => Handshake::Health,
            _ => Handshake::NotFound,
        },
    }
}

/// What the tunnel did with the bytes a client sent after the upgrade.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frames {
    /// Bytes written to the destination, in order.
    pub forwarded: Vec<u8>,
    /// Bytes sent back to the client (pongs, close frames).
    pub reply: Vec<u8>,
    /// Why the tunnel ended (the `reason` of the log line).
    pub end: &'static str,
}

thread_local! {
    static RUNTIME: RefCell<Option<tokio::runtime::Runtime>> = const { RefCell::new(None) };
}

/// Runs the tunnel relay (`--max-frame-size max_frame_size`, no idle timeout)
/// over in-memory streams: `client` is what the client sent after the
/// upgrade, then it closed its side; the destination sends nothing.
/// Fails only if no tokio runtime can be built.
pub fn frames(client: &[u8], max_frame_size: usize) -> std::io::Result<Frames> {
    let client = client.to_vec();
    RUNTIME.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            *slot = Some(
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()?,
            );
        }
        match slot.as_ref() {
            Some(rt) => Ok(rt.block_on(run_frames(client, max_frame_size))),
            None => Err(std::io::Error::other("no runtime")),
        }
    })
}

thread_local! {
    /// Parsing options is costly next to one run: parse once, set the frame size.
    static OPTIONS: Options = Options::parse_from(["edgepg-proxy", "--allow-any", "--idle-timeout", "0"]);
}

async fn run_frames(client: Vec<u8>, max_frame_size: usize) -> Frames {
    let mut opts = OPTIONS.with(Options::clone);
    opts.max_frame_size = max_frame_size;
    let mut allow = AllowList::new();
    allow.allow_any();
    let shared = Arc::new(Shared::new(opts, allow, None));
    let (proxy_side, mut client_side) = tokio::io::duplex(1 << 16);
    let (upstream, mut server_side) = tokio::io::duplex(1 << 16);
    let config = WebSocketConfig::default()
        .max_frame_size(Some(max_frame_size))
        .max_message_size(Some(max_frame_size));
    let io: BoxIo = Box::new(proxy_side);
    let ws = WebSocketStream::from_raw_socket(io, Role::Server, Some(config)).await;
    let dest = Destination {
        host: Host::Name("fuzz.invalid".into()),
        port: 5432,
    };
    let peer = SocketAddr::from((Ipv4Addr::LOCALHOST, 1));
    let tunnel = crate::tunnel::run(shared, ws, upstream, 0, peer, dest);
    let (mut client_read, mut client_write) = tokio::io::split(&mut client_side);
    let send = async move {
        let _ = client_write.write_all(&client).await;
        let _ = client_write.shutdown().await;
    };
    let receive = async move {
        let mut reply = Vec::new();
        let _ = client_read.read_to_end(&mut reply).await;
        reply
    };
    let destination = async move {
        let mut forwarded = Vec::new();
        let _ = server_side.read_to_end(&mut forwarded).await;
        forwarded
    };
    let (end, (), reply, forwarded) = tokio::join!(tunnel, send, receive, destination);
    Frames {
        forwarded,
        reply,
        end,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A masked client frame.
    fn frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
        let mask = [7u8, 1, 2, 3];
        let mut out = vec![0x80 | opcode, 0x80 | payload.len() as u8];
        out.extend_from_slice(&mask);
        out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        out
    }

    #[test]
    fn handshake_checks_the_request() {
        let mut allow = AllowList::new();
        allow.allow("db:5432").unwrap();
        let ok = b"GET /v1?address=db:5432 HTTP/1.1\r\nHost: p\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
        assert!(matches!(handshake(ok, &allow, &[]), Handshake::Upgrade(d) if d.port == 5432));
        let other = String::from_utf8_lossy(ok).replace("db:5432", "db:22");
        assert_eq!(
            handshake(other.as_bytes(), &allow, &[]),
            Handshake::Refused {
                status: 403,
                reason: "not_allowed"
            }
        );
        assert_eq!(handshake(b"GET /v1 HT", &allow, &[]), Handshake::Incomplete);
        assert_eq!(
            handshake(b"\x16\x03\x01\r\n\r\n", &allow, &[]),
            Handshake::Malformed
        );
        assert_eq!(
            handshake(b"GET /healthz HTTP/1.1\r\n\r\n", &allow, &[]),
            Handshake::Health
        );
    }

    #[test]
    fn frames_are_relayed_in_order() {
        let mut input = frame(0x2, b"hello ");
        input.extend(frame(0x9, b"ping"));
        input.extend(frame(0x2, b"world"));
        // Without a closing handshake, the end of the stream is an error.
        let out = frames(&input, 1024).unwrap();
        assert_eq!(out.forwarded, b"hello world");
        assert_eq!(out.end, "client_error");
        input.extend(frame(0x8, &1000u16.to_be_bytes()));
        let out = frames(&input, 1024).unwrap();
        assert_eq!(out.forwarded, b"hello world");
        assert_eq!(out.end, "client_closed");
        let out = frames(&frame(0x1, b"SELECT 1"), 1024).unwrap();
        assert!(out.forwarded.is_empty());
        assert_eq!(out.end, "text_frame");
    }
}
