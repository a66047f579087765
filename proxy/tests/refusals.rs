//! What the proxy refuses, how it says so, and that it counts it (SPEC §8):
//! default-deny startup, destinations outside the allow-list, names that
//! resolve to forbidden addresses, `address` tricks, text and oversize
//! frames, slowloris handshakes, Origin, connection limits, idle tunnels and
//! the drain on SIGTERM. The destination is a TCP echo server: none of this
//! needs PostgreSQL.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::{http_get, run_proxy, upgrade, ProxyProcess};
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Bytes, Message};
use tokio_tungstenite::WebSocketStream;

/// A TCP echo server on a free loopback port; a chunk `close` makes it hang up.
async fn echo_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 65536];
                loop {
                    match s.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) if &buf[..n] == b"close" => return,
                        Ok(n) => {
                            if s.write_all(&buf[..n]).await.is_err() {
                                return;
                            }
                        }
                    }
                }
            });
        }
    });
    addr
}

type Ws = WebSocketStream<TcpStream>;

/// Opens a tunnel to `dest` through `proxy`.
async fn open(proxy: &ProxyProcess, dest: &str) -> Ws {
    let tcp = TcpStream::connect(proxy.addr).await.unwrap();
    let url = format!("{}?address={dest}", proxy.ws_url());
    let (ws, response) = tokio_tungstenite::client_async(url.as_str(), tcp)
        .await
        .unwrap_or_else(|e| panic!("tunnel to {dest}: {e}"));
    assert_eq!(response.status().as_u16(), 101);
    ws
}

/// Reads until a close frame: (code, reason).
async fn close_of(ws: &mut Ws) -> (CloseCode, String) {
    let deadline = Duration::from_secs(10);
    loop {
        match tokio::time::timeout(deadline, ws.next())
            .await
            .expect("a close frame in time")
        {
            Some(Ok(Message::Close(Some(f)))) => return (f.code, f.reason.to_string()),
            Some(Ok(Message::Close(None))) => return (CloseCode::Status, String::new()),
            Some(Ok(_)) => {}
            Some(Err(e)) => panic!("error instead of a close frame: {e}"),
            None => panic!("closed without a close frame"),
        }
    }
}

/// Waits for a counter to reach `n` (the proxy counts after answering).
fn wait_rejects(proxy: &ProxyProcess, reason: &str, n: u64) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while proxy.rejects(reason) < n {
        assert!(
            Instant::now() < deadline,
            "rejects{{reason={reason}}} = {} < {n}",
            proxy.rejects(reason)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(proxy.rejects(reason), n, "reason {reason}");
}

#[test]
fn refuses_to_start_without_an_allowed_destination() {
    let (status, text) = run_proxy(&["--listen", "127.0.0.1:0"], &[]);
    assert_eq!(status.code(), Some(2), "{text}");
    assert!(text.contains("no destination is allowed"), "{text}");
    let (status, text) = run_proxy(&["--listen", "127.0.0.1:0", "--allow", "user@db:5432"], &[]);
    assert_eq!(status.code(), Some(2), "{text}");
    assert!(text.contains("--allow"), "{text}");
    let (status, text) = run_proxy(&["--listen", "127.0.0.1:0", "--allow-regex", "("], &[]);
    assert_eq!(status.code(), Some(2), "{text}");
    let (status, text) = run_proxy(
        &[
            "--listen",
            "127.0.0.1:0",
            "--allow",
            "db:5432",
            "--tls-cert",
            "/nonexistent.pem",
            "--tls-key",
            "/nonexistent.key",
        ],
        &[],
    );
    assert_eq!(status.code(), Some(2), "{text}");
    assert!(text.contains("--tls-cert"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn options_from_the_environment() {
    let echo = echo_server().await;
    let allow = format!("db.invalid:1,{echo}");
    let proxy = ProxyProcess::start_env(
        &[],
        &[
            ("EDGEPG_PROXY_ALLOW", &allow),
            ("EDGEPG_PROXY_MAX_FRAME_SIZE", "2048"),
        ],
    );
    let mut ws = open(&proxy, &echo.to_string()).await;
    ws.send(Message::Binary(Bytes::from(vec![7u8; 4096])))
        .await
        .unwrap();
    let (code, reason) = close_of(&mut ws).await;
    assert_eq!(code, CloseCode::Size);
    assert!(reason.contains("2048"), "{reason}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_frames_are_relayed_and_closing_either_side_closes_the_other() {
    let echo = echo_server().await;
    let proxy = ProxyProcess::start(&["--allow", &echo.to_string()]);
    let mut ws = open(&proxy, &echo.to_string()).await;
    ws.send(Message::Binary(Bytes::from_static(b"hello")))
        .await
        .unwrap();
    let mut got = Vec::new();
    while got.len() < 5 {
        match ws.next().await.unwrap().unwrap() {
            Message::Binary(b) => got.extend_from_slice(&b),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(got, b"hello");
    // The server hangs up: the client gets a normal close.
    ws.send(Message::Binary(Bytes::from_static(b"close")))
        .await
        .unwrap();
    let (code, reason) = close_of(&mut ws).await;
    assert_eq!(code, CloseCode::Normal);
    assert!(reason.contains("server closed"), "{reason}");
    drop(ws);
    // The client hangs up: the tunnel (and its TCP side) goes away.
    let mut ws = open(&proxy, &echo.to_string()).await;
    // Counted by the tunnel's task, which may start just after the upgrade answer.
    proxy.wait_metric("edgepg_proxy_connections_active", 1, Duration::from_secs(5));
    ws.close(None).await.unwrap();
    drop(ws);
    proxy.wait_idle(Duration::from_secs(5));
    assert_eq!(proxy.metric("edgepg_proxy_connections_total"), 2);
    assert_eq!(
        proxy.metric("edgepg_proxy_bytes_total{direction=\"client_to_server\"}"),
        10
    );
    assert_eq!(
        proxy.metric("edgepg_proxy_bytes_total{direction=\"server_to_client\"}"),
        5
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn destinations_outside_the_allow_list_are_refused() {
    let echo = echo_server().await;
    let proxy = ProxyProcess::start(&["--allow", &echo.to_string()]);
    let other = format!("127.0.0.1:{}", echo.port() + 1);
    let (status, text) = upgrade(proxy.addr, &format!("/v1?address={other}"), &[]);
    assert_eq!(status, 403, "{text}");
    assert!(text.contains("destination not allowed"), "{text}");
    assert!(text.contains("X-Edgepg-Reject: not_allowed"), "{text}");
    let (status, _) = upgrade(proxy.addr, "/v2?address=10.1.2.3:5432", &[]);
    assert_eq!(status, 403);
    let (status, _) = upgrade(proxy.addr, "/v1?address=db.example.com:5432", &[]);
    assert_eq!(status, 403);
    wait_rejects(&proxy, "not_allowed", 3);
    // /v2 is accepted like /v1.
    let (status, _) = upgrade(proxy.addr, &format!("/v2?address={echo}"), &[]);
    assert_eq!(status, 101);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn special_addresses_need_an_ip_rule_and_loopback_follows_the_wildcards() {
    let echo = echo_server().await;
    let port = echo.port();
    // A regex over names allows what it matches, loopback included:
    // `localhost` resolves to 127.0.0.1, and is allowed.
    let proxy = ProxyProcess::start(&[
        "--allow",
        &format!("127.0.0.2:{port}"),
        "--allow-regex",
        r"[a-z][a-z0-9.-]*:[0-9]+",
    ]);
    let (status, text) = upgrade(proxy.addr, &format!("/v1?address=localhost:{port}"), &[]);
    assert_eq!(status, 101, "{text}");
    // The regex does not match the address itself, and no IP rule names it.
    let (status, text) = upgrade(proxy.addr, &format!("/v1?address=127.0.0.1:{port}"), &[]);
    assert_eq!(status, 403, "{text}");
    assert!(text.contains("destination not allowed"), "{text}");

    // --allow-any reaches loopback, by address and by name, but keeps cloud
    // metadata, link-local and other special addresses out.
    let any = ProxyProcess::start(&["--allow-any"]);
    for dest in ["169.254.169.254:80", "[fe80::1]:80", "0.0.0.0:5432"] {
        let (status, text) = upgrade(any.addr, &format!("/v1?address={dest}"), &[]);
        assert_eq!(status, 403, "{dest}: {text}");
        assert!(text.contains("forbidden address"), "{text}");
    }
    wait_rejects(&any, "forbidden_address", 3);
    for dest in [format!("localhost:{port}"), format!("127.0.0.1:{port}")] {
        let (status, text) = upgrade(any.addr, &format!("/v1?address={dest}"), &[]);
        assert_eq!(status, 101, "{dest}: {text}");
    }

    // A regex naming a metadata address does not open it: only an IP rule does.
    let regex = ProxyProcess::start(&["--allow-regex", r"169\.254\.169\.254:80"]);
    let (status, text) = upgrade(regex.addr, "/v1?address=169.254.169.254:80", &[]);
    assert_eq!(status, 403, "{text}");
    assert!(
        text.contains("forbidden address (169.254.169.254)"),
        "{text}"
    );
    wait_rejects(&regex, "forbidden_address", 1);

    // Allowing the address by IP lets the name through.
    let by_ip = ProxyProcess::start(&["--allow", &echo.to_string()]);
    let (status, text) = upgrade(by_ip.addr, &format!("/v1?address=localhost:{port}"), &[]);
    assert_eq!(status, 101, "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn address_tricks_are_refused() {
    let echo = echo_server().await;
    let port = echo.port();
    let proxy = ProxyProcess::start(&["--allow-any", "--allow", &echo.to_string()]);
    let tricks = [
        format!("evil@127.0.0.1:{port}"),
        format!("evil%40127.0.0.1:{port}"),
        format!("user:pw@127.0.0.1:{port}"),
        format!("127.0.0.1:{port}:5432"),
        format!("127.0.0.1:{port}%3A5432"),
        format!("127.0.0.1:0{port}"),
        format!("127.0.0.1:{port}%20"),
        format!("127.0.0.1:{port}%00"),
        format!("127.0.0.1:{port}/x"),
        format!("::1:{port}"),
        format!("%5B::ffff:127.0.0.1%5D:{port}"),
        format!("%5B::ffff:7f00:1%5D:{port}"),
        format!("%5Bfe80::1%25lo%5D:{port}"),
        format!("%5B::127.0.0.1%5D:{port}"),
        format!("0x7f.0.0.1:{port}"),
        format!("2130706433:{port}"),
        format!("127.1:{port}"),
        format!("0177.0.0.1:{port}"),
        format!("localhost.:{port}"),
        "127.0.0.1".to_string(),
        "%".to_string(),
        String::new(),
    ];
    for t in &tricks {
        let (status, text) = upgrade(proxy.addr, &format!("/v1?address={t}"), &[]);
        assert_eq!(status, 400, "{t:?} → {text}");
        assert!(text.contains("X-Edgepg-Reject: bad_address"), "{text}");
    }
    let (status, _) = upgrade(proxy.addr, "/v1", &[]);
    assert_eq!(status, 400);
    let (status, text) = upgrade(
        proxy.addr,
        &format!("/v1?address={echo}&address=10.0.0.1:5432"),
        &[],
    );
    assert_eq!(status, 400, "{text}");
    wait_rejects(&proxy, "bad_address", tricks.len() as u64 + 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_and_oversize_frames_close_the_tunnel() {
    let echo = echo_server().await;
    let proxy = ProxyProcess::start(&["--allow", &echo.to_string(), "--max-frame-size", "4096"]);
    let mut ws = open(&proxy, &echo.to_string()).await;
    ws.send(Message::Text("SELECT 1".into())).await.unwrap();
    let (code, reason) = close_of(&mut ws).await;
    assert_eq!(code, CloseCode::Unsupported);
    assert!(reason.contains("text frames"), "{reason}");

    let mut ws = open(&proxy, &echo.to_string()).await;
    ws.send(Message::Binary(Bytes::from(vec![1u8; 4000])))
        .await
        .unwrap();
    match ws.next().await.unwrap().unwrap() {
        Message::Binary(b) => assert!(!b.is_empty()),
        other => panic!("{other:?}"),
    }
    ws.send(Message::Binary(Bytes::from(vec![1u8; 100_000])))
        .await
        .unwrap();
    let (code, reason) = close_of(&mut ws).await;
    assert_eq!(code, CloseCode::Size);
    assert!(reason.contains("4096"), "{reason}");
    wait_rejects(&proxy, "text_frame", 1);
    wait_rejects(&proxy, "frame_too_large", 1);
    proxy.wait_idle(Duration::from_secs(5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slowloris_handshake_times_out() {
    let echo = echo_server().await;
    let proxy = ProxyProcess::start(&["--allow", &echo.to_string(), "--handshake-timeout", "1s"]);
    let started = Instant::now();
    let mut s = TcpStream::connect(proxy.addr).await.unwrap();
    let lines = [
        format!("GET /v1?address={echo} HTTP/1.1\r\n"),
        "Host: x\r\n".into(),
        "Upgrade: websocket\r\n".into(),
        "Connection: Upgrade\r\n".into(),
        "X-Slow-1: a\r\n".into(),
        "X-Slow-2: a\r\n".into(),
        "X-Slow-3: a\r\n".into(),
        "X-Slow-4: a\r\n".into(),
    ];
    let mut answer = Vec::new();
    for line in &lines {
        if s.write_all(line.as_bytes()).await.is_err() {
            break;
        }
        let mut buf = [0u8; 1024];
        match tokio::time::timeout(Duration::from_millis(300), s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => answer.extend_from_slice(&buf[..n]),
            Err(_) => {}
        }
    }
    let _ = tokio::time::timeout(Duration::from_secs(3), s.read_to_end(&mut answer)).await;
    let took = started.elapsed();
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_millis(2500),
        "{took:?}"
    );
    // A connection that sends nothing at all is dropped too.
    let mut quiet = TcpStream::connect(proxy.addr).await.unwrap();
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(3), quiet.read_to_end(&mut buf))
        .await
        .expect("closed by the proxy")
        .ok();
    wait_rejects(&proxy, "handshake_timeout", 2);
    proxy.wait_idle(Duration::from_secs(3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn origins_are_checked() {
    let echo = echo_server().await;
    let proxy = ProxyProcess::start(&[
        "--allow",
        &echo.to_string(),
        "--allow-origin",
        "https://app.example",
    ]);
    let path = format!("/v1?address={echo}");
    let (status, text) = upgrade(proxy.addr, &path, &["Origin: https://evil.example"]);
    assert_eq!(status, 403, "{text}");
    assert!(text.contains("origin not allowed"), "{text}");
    let (status, _) = upgrade(proxy.addr, &path, &["Origin: https://app.example"]);
    assert_eq!(status, 101);
    let (status, _) = upgrade(proxy.addr, &path, &[]);
    assert_eq!(status, 101, "non-browser clients send no Origin");
    wait_rejects(&proxy, "origin", 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_limit() {
    let echo = echo_server().await;
    let proxy = ProxyProcess::start(&["--allow", &echo.to_string(), "--max-connections", "2"]);
    let a = open(&proxy, &echo.to_string()).await;
    let b = open(&proxy, &echo.to_string()).await;
    let (status, text) = upgrade(proxy.addr, &format!("/v1?address={echo}"), &[]);
    assert_eq!(status, 503, "{text}");
    assert!(text.contains("too many connections"), "{text}");
    wait_rejects(&proxy, "too_many_connections", 1);
    drop((a, b));
    proxy.wait_idle(Duration::from_secs(5));
    let _c = open(&proxy, &echo.to_string()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_tunnels_are_closed() {
    let echo = echo_server().await;
    let proxy = ProxyProcess::start(&["--allow", &echo.to_string(), "--idle-timeout", "500ms"]);
    let mut ws = open(&proxy, &echo.to_string()).await;
    let started = Instant::now();
    let (code, reason) = close_of(&mut ws).await;
    assert_eq!(code, CloseCode::Away);
    assert_eq!(reason, "idle timeout");
    assert!(started.elapsed() >= Duration::from_millis(450));
    proxy.wait_idle(Duration::from_secs(3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_health_and_bad_requests() {
    let echo = echo_server().await;
    let proxy = ProxyProcess::start(&["--allow", &echo.to_string()]);
    assert_eq!(http_get(proxy.addr, "/healthz", &[]), (200, "ok\n".into()));
    assert_eq!(http_get(proxy.metrics, "/healthz", &[]).0, 200);
    assert_eq!(http_get(proxy.metrics, "/nope", &[]).0, 404);
    let (status, _) = http_get(proxy.addr, &format!("/v1?address={echo}"), &[]);
    assert_eq!(status, 426, "a tunnel needs an upgrade");
    let (status, _) = upgrade(proxy.addr, &format!("/v3?address={echo}"), &[]);
    assert_eq!(status, 404);
    let (status, _) = common::raw_request(
        proxy.addr,
        &format!("POST /v1?address={echo} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"),
    );
    assert_eq!(status, 405);
    let (status, text) = common::raw_request(
        proxy.addr,
        &format!("GET /v1?address={echo} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 8\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"),
    );
    assert_eq!(status, 426);
    assert!(text.contains("Sec-WebSocket-Version: 13"), "{text}");
    let (status, _) = common::raw_request(proxy.addr, "\x16\x03\x01\x00\x05hello\r\n\r\n");
    assert_eq!(status, 400);
    let huge = format!("GET /v1 HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(10_000));
    let (status, _) = common::raw_request(proxy.addr, &huge);
    assert_eq!(status, 431);
    wait_rejects(&proxy, "bad_request", 5);
    wait_rejects(&proxy, "head_too_large", 1);
    let metrics = proxy.metrics_text();
    for name in [
        "# TYPE edgepg_proxy_connections_total counter",
        "# TYPE edgepg_proxy_connections_active gauge",
        "edgepg_proxy_bytes_total{direction=\"client_to_server\"}",
        "edgepg_proxy_bytes_total{direction=\"server_to_client\"}",
        "edgepg_proxy_rejects_total{reason=\"not_allowed\"}",
    ] {
        assert!(metrics.contains(name), "{name} missing from:\n{metrics}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_then_closes_tunnels() {
    let echo = echo_server().await;
    let mut proxy = ProxyProcess::start(&["--allow", &echo.to_string(), "--drain-timeout", "1s"]);
    let mut ws = open(&proxy, &echo.to_string()).await;
    let started = Instant::now();
    proxy.terminate();
    // While draining: not healthy, no new tunnels, the open one still works.
    let deadline = Instant::now() + Duration::from_secs(2);
    while http_get(proxy.metrics, "/healthz", &[]).0 != 503 {
        assert!(Instant::now() < deadline, "healthz never reported draining");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        TcpStream::connect(proxy.addr).await.is_err(),
        "no longer accepting"
    );
    ws.send(Message::Binary(Bytes::from_static(b"still here")))
        .await
        .unwrap();
    match ws.next().await.unwrap().unwrap() {
        Message::Binary(b) => assert_eq!(&b[..], b"still here"),
        other => panic!("{other:?}"),
    }
    let (code, reason) = close_of(&mut ws).await;
    assert_eq!(code, CloseCode::Away);
    assert!(reason.contains("shutting down"), "{reason}");
    assert!(started.elapsed() >= Duration::from_millis(900));
    let status = proxy.wait(Duration::from_secs(5));
    assert!(status.success(), "{status:?}");
}

/// xorshift64*: deterministic pseudo-random bytes for the garbage test.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// Up to `max` random bytes.
    fn bytes(&mut self, max: usize) -> Vec<u8> {
        let n = self.below(max + 1);
        (0..n).map(|_| self.next() as u8).collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_never_takes_the_proxy_down() {
    let echo = echo_server().await;
    let proxy = ProxyProcess::start(&[
        "--allow",
        &echo.to_string(),
        "--handshake-timeout",
        "1s",
        "--max-frame-size",
        "65536",
    ]);
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let heads = [
        "GET /v1?address=",
        "GET /v1?address=%",
        "GET /v1?address=%5B",
        "GET /v1?address=127.0.0.1:%FF%FE HTTP/1.1\r\n",
        "GET /healthz HTTP/1.1\r\nHost: \u{0}\r\n\r\n",
        "GET /v1 HTTP/1.1\r\nUpgrade: websocket\r\nConnection: upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: \u{ff}\r\n\r\n",
        "\r\n\r\n",
        "GET ",
    ];
    // Garbage before the upgrade.
    let mut tasks = Vec::new();
    for i in 0..120 {
        let mut data: Vec<u8> = match i % 3 {
            0 => heads[rng.below(heads.len())].as_bytes().to_vec(),
            1 => rng.bytes(3000),
            _ => {
                let mut v = heads[rng.below(heads.len())].as_bytes().to_vec();
                v.extend(rng.bytes(200));
                v.extend_from_slice(b"\r\n\r\n");
                v
            }
        };
        if i % 7 == 0 {
            data.truncate(data.len() / 2);
        }
        let addr = proxy.addr;
        tasks.push(tokio::spawn(async move {
            let mut s = TcpStream::connect(addr).await.unwrap();
            let _ = s.write_all(&data).await;
            let mut sink = Vec::new();
            let _ = tokio::time::timeout(Duration::from_secs(3), s.read_to_end(&mut sink)).await;
        }));
    }
    // Garbage after the upgrade: random bytes where frames should be.
    for _ in 0..40 {
        let mut junk = rng.bytes(5000);
        junk.push(0x82);
        let head = format!(
            "GET /v1?address={echo} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
        );
        let addr = proxy.addr;
        tasks.push(tokio::spawn(async move {
            let mut s = TcpStream::connect(addr).await.unwrap();
            let mut data = head.into_bytes();
            data.extend(junk);
            let _ = s.write_all(&data).await;
            let mut sink = Vec::new();
            let _ = tokio::time::timeout(Duration::from_secs(3), s.read_to_end(&mut sink)).await;
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(http_get(proxy.addr, "/healthz", &[]), (200, "ok\n".into()));
    let mut ws = open(&proxy, &echo.to_string()).await;
    ws.send(Message::Binary(Bytes::from_static(b"alive")))
        .await
        .unwrap();
    match ws.next().await.unwrap().unwrap() {
        Message::Binary(b) => assert_eq!(&b[..], b"alive"),
        other => panic!("{other:?}"),
    }
    drop(ws);
    proxy.wait_idle(Duration::from_secs(5));
    assert!(!proxy.log().contains("panicked"), "{}", proxy.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ipv6_translation_and_other_open_relay_tricks_are_refused() {
    // Complements the metadata cases above and the address-parser tricks:
    // addresses that reach a forbidden IPv4 address, or loopback (of the
    // gateway, not of the proxy), through a NAT64 gateway or 6to4, other
    // metadata services, multicast, and other ports of an allowed host.
    let echo = echo_server().await;
    let port = echo.port();
    let any = ProxyProcess::start(&["--allow-any"]);
    let forbidden = [
        "[64:ff9b::a9fe:a9fe]:80".to_string(),
        "[64:ff9b:1::a9fe:a9fe]:80".to_string(),
        format!("[64:ff9b::7f00:1]:{port}"),
        "[2002:a9fe:a9fe::1]:80".to_string(),
        format!("[2002:7f00:1::1]:{port}"),
        "[fd00:ec2::254]:80".to_string(),
        "168.63.129.16:80".to_string(),
        "100.100.100.200:80".to_string(),
        "[::]:5432".to_string(),
        "[ff02::1]:5432".to_string(),
        "239.255.255.250:1900".to_string(),
    ];
    for dest in &forbidden {
        let (status, text) = upgrade(any.addr, &format!("/v1?address={dest}"), &[]);
        assert_eq!(status, 403, "{dest}: {text}");
        assert!(
            text.contains("X-Edgepg-Reject: forbidden_address"),
            "{dest}: {text}"
        );
    }
    wait_rejects(&any, "forbidden_address", forbidden.len() as u64);
    // Plain loopback is not special for --allow-any: these pass the check (and
    // then fail to connect, nothing listens there, or succeed).
    for dest in [format!("[::1]:{port}"), format!("127.0.0.2:{port}")] {
        let (status, text) = upgrade(any.addr, &format!("/v1?address={dest}"), &[]);
        assert!(matches!(status, 101 | 502), "{dest}: {text}");
    }
    assert_eq!(
        any.rejects("forbidden_address"),
        forbidden.len() as u64,
        "{}",
        any.metrics_text()
    );
    // The rules are per port: an allowed host is not an open relay to its other ports.
    let one = ProxyProcess::start(&["--allow", &echo.to_string(), "--allow", "localhost:5432"]);
    for dest in [
        format!("127.0.0.1:{}", port.wrapping_add(1).max(1)),
        "127.0.0.1:22".to_string(),
        "localhost:22".to_string(),
        "[::1]:5432".to_string(),
    ] {
        let (status, text) = upgrade(one.addr, &format!("/v1?address={dest}"), &[]);
        assert_eq!(status, 403, "{dest}: {text}");
    }
    // The allowed destination itself still works.
    let (status, _) = upgrade(one.addr, &format!("/v1?address={echo}"), &[]);
    assert_eq!(status, 101);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_values_after_one_allow_flag() {
    let (a, b, c, d) = (
        echo_server().await,
        echo_server().await,
        echo_server().await,
        echo_server().await,
    );
    // `--allow A B`, a repeated flag with a comma list, and `--allow-regex R S`
    // where R holds a comma (a regex is never split at commas).
    let c_re = format!(r"127\.0\.0\.1:{}", c.port());
    let proxy = ProxyProcess::start(&[
        "--allow",
        &a.to_string(),
        &b.to_string(),
        "--allow",
        &format!("db.invalid:1,{d}"),
        "--allow-regex",
        r"x{1,3}\.invalid:1",
        &c_re,
    ]);
    for dest in [a, b, c, d] {
        let (status, text) = upgrade(proxy.addr, &format!("/v1?address={dest}"), &[]);
        assert_eq!(status, 101, "{dest}: {text}");
    }
    let (status, text) = upgrade(proxy.addr, "/v1?address=db.example.com:5432", &[]);
    assert_eq!(status, 403, "{text}");
    // A flag still needs at least one value.
    let (status, text) = run_proxy(&["--listen", "127.0.0.1:0", "--allow"], &[]);
    assert_eq!(status.code(), Some(2), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allow_any_from_the_environment_takes_the_usual_switch_values() {
    let echo = echo_server().await;
    for yes in ["1", "yes", "true", "on", "YES", "True"] {
        let proxy = ProxyProcess::start_env(&[], &[("EDGEPG_PROXY_ALLOW_ANY", yes)]);
        let (status, text) = upgrade(proxy.addr, &format!("/v1?address={echo}"), &[]);
        assert_eq!(status, 101, "EDGEPG_PROXY_ALLOW_ANY={yes}: {text}");
    }
    for no in ["0", "no", "false", "off", "OFF"] {
        let (status, text) = run_proxy(
            &["--listen", "127.0.0.1:0"],
            &[("EDGEPG_PROXY_ALLOW_ANY", no)],
        );
        assert_eq!(
            status.code(),
            Some(2),
            "EDGEPG_PROXY_ALLOW_ANY={no}: {text}"
        );
        assert!(text.contains("no destination is allowed"), "{no}: {text}");
    }
    let (status, text) = run_proxy(
        &["--listen", "127.0.0.1:0"],
        &[("EDGEPG_PROXY_ALLOW_ANY", "maybe")],
    );
    assert_eq!(status.code(), Some(2), "{text}");
    assert!(text.contains("maybe"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_carry_no_colour_codes_when_stderr_is_not_a_terminal() {
    let echo = echo_server().await;
    // The harness sends stderr to a file.
    let proxy = ProxyProcess::start(&["--allow", &echo.to_string()]);
    let (status, _) = upgrade(proxy.addr, "/v1?address=db.example.com:5432", &[]);
    assert_eq!(status, 403);
    let mut ws = open(&proxy, &echo.to_string()).await;
    ws.close(None).await.unwrap();
    drop(ws);
    proxy.wait_idle(Duration::from_secs(5));
    let log = proxy.log();
    assert!(log.contains("db.example.com:5432"), "{log}");
    assert!(
        !log.contains('\x1b'),
        "ANSI escapes in a log file:\n{log:?}"
    );
}
