//! Hostile clients through a live tunnel to a real PostgreSQL: garbage where
//! the PostgreSQL stream should be, a valid session cut into one-byte
//! frames, empty frames, pings between every byte, tunnels dropped mid-
//! message. Each ends with a closed tunnel or a working session, and the
//! proxy keeps serving a normal pool. (Garbage before and during the
//! upgrade, oversize and text frames: `refusals.rs`.)

mod common;

use std::time::Duration;

use common::ProxyProcess;
use edgepg_tests::PgServer;
use edgepg_tokio::{Pool, TokioTransport};
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::{Bytes, Message};
use tokio_tungstenite::WebSocketStream;

type Ws = WebSocketStream<TcpStream>;

async fn open(proxy: &ProxyProcess, pg: &PgServer) -> Ws {
    let tcp = TcpStream::connect(proxy.addr).await.unwrap();
    let url = format!("{}?address=127.0.0.1:{}", proxy.ws_url(), pg.port());
    tokio_tungstenite::client_async(url.as_str(), tcp)
        .await
        .unwrap()
        .0
}

/// Reads binary frames until `done` says the bytes so far are enough, or the
/// tunnel closes; returns the bytes.
async fn read_until(ws: &mut Ws, done: impl Fn(&[u8]) -> bool) -> Vec<u8> {
    let mut got = Vec::new();
    while !done(&got) {
        match tokio::time::timeout(Duration::from_secs(10), ws.next()).await {
            Ok(Some(Ok(Message::Binary(b)))) => got.extend_from_slice(&b),
            Ok(Some(Ok(Message::Close(_)) | Err(_)) | None) => break,
            Ok(Some(Ok(_))) => {}
            Err(_) => panic!("no answer within 10 s; got {got:?}"),
        }
    }
    got
}

fn startup(user: &str) -> Vec<u8> {
    let mut body = 196608i32.to_be_bytes().to_vec();
    for part in ["user", user, "database", "postgres"] {
        body.extend_from_slice(part.as_bytes());
        body.push(0);
    }
    body.push(0);
    let mut m = ((body.len() + 4) as i32).to_be_bytes().to_vec();
    m.extend(body);
    m
}

fn query(sql: &str) -> Vec<u8> {
    let mut m = vec![b'Q'];
    m.extend_from_slice(&((sql.len() + 5) as i32).to_be_bytes());
    m.extend_from_slice(sql.as_bytes());
    m.push(0);
    m
}

/// Whether the stream so far ends with ReadyForQuery.
fn ready(b: &[u8]) -> bool {
    b.len() >= 6 && b[b.len() - 6..b.len() - 1] == [b'Z', 0, 0, 0, 5]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_and_odd_framing_through_a_live_tunnel() {
    let pg = PgServer::shared();
    if !pg.is_managed() {
        return; // needs trust authentication for `postgres`
    }
    let proxy = ProxyProcess::start(&["--allow", &format!("127.0.0.1:{}", pg.port())]);

    // Garbage instead of a startup message: the server hangs up, so does the tunnel.
    for garbage in [
        b"GET / HTTP/1.1\r\n\r\n".to_vec(),
        vec![0xff; 4096],
        vec![0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2e],
        vec![0x7f, 0xff, 0xff, 0xff, 0, 3, 0, 0],
    ] {
        let mut ws = open(&proxy, pg).await;
        ws.send(Message::Binary(Bytes::from(garbage)))
            .await
            .unwrap();
        let _ = read_until(&mut ws, |_| false).await;
    }

    // A whole session cut into one-byte frames, with empty frames and pings between.
    let mut ws = open(&proxy, pg).await;
    for b in startup("postgres") {
        ws.send(Message::Binary(Bytes::from(vec![b])))
            .await
            .unwrap();
        ws.send(Message::Binary(Bytes::new())).await.unwrap();
        ws.send(Message::Ping(Bytes::from_static(b"p")))
            .await
            .unwrap();
    }
    let hello = read_until(&mut ws, ready).await;
    assert!(ready(&hello), "no ReadyForQuery after the startup");
    for b in query("SELECT 'one byte at a time'") {
        ws.send(Message::Binary(Bytes::from(vec![b])))
            .await
            .unwrap();
    }
    let answer = read_until(&mut ws, ready).await;
    let text = String::from_utf8_lossy(&answer);
    assert!(text.contains("one byte at a time"), "{text}");
    // Then garbage in the middle of the session: an error, then the server closes.
    ws.send(Message::Binary(Bytes::from_static(b"\x00garbage")))
        .await
        .unwrap();
    let _ = read_until(&mut ws, |_| false).await;

    // Tunnels dropped mid-message, without a closing handshake.
    for _ in 0..20 {
        let mut ws = open(&proxy, pg).await;
        let m = startup("postgres");
        ws.send(Message::Binary(Bytes::copy_from_slice(&m[..m.len() / 2])))
            .await
            .unwrap();
        drop(ws);
    }

    // The proxy and the server still serve an ordinary pool, and every tunnel closed.
    let pool = Pool::builder_with(pg.url(), TokioTransport::websocket(proxy.ws_url()))
        .max_size(2)
        .build()
        .unwrap();
    let r = pool.query("SELECT 2 AS n", &[]).await.unwrap();
    assert_eq!(r[0].get::<i32, _>("n"), 2);
    pool.close().await;
    proxy.wait_idle(Duration::from_secs(10));
    assert!(!proxy.log().contains("panicked"));
}
