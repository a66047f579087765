//! SQL over HTTP (`POST /sql`, Neon's protocol) against a real PostgreSQL and
//! the real proxy binary: Neon's `neon()` and edgepg's `http()` from Node
//! (`tests/js/sql_http.test.mjs`), and hostile input over raw sockets.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::ProxyProcess;
use edgepg_tests::PgServer;

fn proxy_for(pg: &PgServer) -> ProxyProcess {
    let allow = format!("127.0.0.1:{}", pg.port());
    ProxyProcess::start(&["--allow", &allow, "--sql-pool-size", "4"])
}

fn scram_url(pg: &PgServer, password: &str) -> String {
    let (user, _) = pg.scram_user();
    format!(
        "postgresql://{user}:{password}@127.0.0.1:{}/postgres?sslmode=disable",
        pg.port()
    )
}

fn good_url(pg: &PgServer) -> String {
    let (_, password) = pg.scram_user();
    scram_url(pg, password)
}

/// One request on a fresh connection: (status, body).
fn post(addr: SocketAddr, headers: &[(&str, &str)], body: &[u8]) -> (u16, String) {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    post_on(&mut s, headers, body, true)
}

/// One request on `s` (keep-alive unless `close`); reads exactly one response.
fn post_on(s: &mut TcpStream, headers: &[(&str, &str)], body: &[u8], close: bool) -> (u16, String) {
    let mut head = format!(
        "POST /sql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    if close {
        head.push_str("Connection: close\r\n");
    }
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let mut req = head.into_bytes();
    req.extend_from_slice(body);
    s.write_all(&req).expect("write");
    read_response(s)
}

fn read_response(s: &mut TcpStream) -> (u16, String) {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        match s.read(&mut byte) {
            Ok(1) => buf.push(byte[0]),
            _ => panic!("no response head: {:?}", String::from_utf8_lossy(&buf)),
        }
    }
    let head = String::from_utf8_lossy(&buf).to_string();
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status");
    let len: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse().unwrap())
        })
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).expect("body");
    (status, String::from_utf8_lossy(&body).to_string())
}

fn json(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

fn query(addr: SocketAddr, url: &str, sql: &str) -> (u16, serde_json::Value) {
    let body = serde_json::json!({ "query": sql, "params": [] }).to_string();
    let (status, text) = post(addr, &[("Neon-Connection-String", url)], body.as_bytes());
    (status, json(&text))
}

/// `node --test tests/js/FILE` with `env` and the npm package built
/// (`cargo xtask pkg`, idempotent; `EDGEPG_PKG` is its Node entry); fails
/// unless every test passed. Returns the output.
fn node_test(file: &str, env: &[(&str, String)]) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/js");
    assert!(
        root.join("node_modules/@neondatabase/serverless").is_dir(),
        "tests/js/node_modules is missing: run `npm ci` in tests/js (cargo xtask test does)"
    );
    let status = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args(["run", "-q", "-p", "xtask", "--", "pkg"])
        .current_dir(root.join("../.."))
        .status()
        .expect("cargo xtask pkg");
    assert!(status.success(), "cargo xtask pkg failed");
    let mut cmd = Command::new("node");
    cmd.arg("--test")
        .arg("--test-concurrency=1")
        .arg(root.join(file))
        .current_dir(&root)
        .env(
            "EDGEPG_PKG",
            root.join("../../pkg/src/node.js").canonicalize().unwrap(),
        );
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run node (Node ≥ 20)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    println!("{text}");
    assert!(out.status.success(), "node --test failed:\n{text}");
    assert!(
        text.contains("# fail 0") && !text.contains("# pass 0"),
        "{text}"
    );
    text
}

#[test]
fn neon_and_edgepg_http_clients_from_node() {
    let pg = PgServer::shared();
    let proxy = proxy_for(pg);
    let forbidden = format!(
        "postgresql://u:p@127.0.0.1:{}/postgres?sslmode=disable",
        pg.port() + 1
    );
    let text = node_test(
        "sql_http.test.mjs",
        &[
            ("EDGEPG_SQL_ENDPOINT", format!("http://{}/sql", proxy.addr)),
            ("EDGEPG_SQL_URL", good_url(pg)),
            ("EDGEPG_SQL_FORBIDDEN", forbidden),
        ],
    );
    assert!(
        text.contains("ok 10 - edgepg http()"),
        "edgepg's http() did not run:\n{text}"
    );
    // Warm requests reuse pooled server connections.
    let connects = proxy.metric("edgepg_proxy_sql_server_connects_total");
    let requests = proxy.metric("edgepg_proxy_sql_requests_total{outcome=\"ok\"}");
    assert!(
        connects <= 4 && requests >= 8,
        "{connects} connects for {requests} requests"
    );
}

/// The keep-alive HTTP/1.1 client under `http()` in Node
/// (`tests/js/node_http.test.mjs`): socket reuse, concurrency, sockets the
/// proxy closes, TLS, and the odd answers of tiny real servers.
#[test]
fn edgepg_node_http_client() {
    let pg = PgServer::shared();
    let allow = format!("127.0.0.1:{}", pg.port());
    let proxy = proxy_for(pg);
    let short = ProxyProcess::start(&["--allow", &allow, "--keepalive-timeout", "300ms"]);
    let dir = std::env::temp_dir().join(format!("edgepg-proxy-sql-tls-{}", std::process::id()));
    let (tls, ca) = ProxyProcess::start_tls(&dir, &["--allow", &allow]);
    node_test(
        "node_http.test.mjs",
        &[
            ("EDGEPG_SQL_URL", good_url(pg)),
            ("EDGEPG_SQL_ENDPOINT", format!("http://{}/sql", proxy.addr)),
            (
                "EDGEPG_SQL_METRICS",
                format!("http://{}/metrics", proxy.metrics),
            ),
            (
                "EDGEPG_SQL_SHORT_ENDPOINT",
                format!("http://{}/sql", short.addr),
            ),
            (
                "EDGEPG_SQL_TLS_ENDPOINT",
                format!("https://localhost:{}/sql", tls.addr.port()),
            ),
            ("NODE_EXTRA_CA_CERTS", ca.display().to_string()),
        ],
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn keep_alive_serves_many_requests_on_one_connection_and_pools() {
    let pg = PgServer::shared();
    let proxy = proxy_for(pg);
    let url = good_url(pg);
    let mut s = TcpStream::connect(proxy.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    for i in 0..20 {
        let body = serde_json::json!({"query": "SELECT $1::int AS i", "params": [i]}).to_string();
        let (status, text) = post_on(
            &mut s,
            &[
                ("Neon-Connection-String", &url),
                ("Neon-Array-Mode", "true"),
            ],
            body.as_bytes(),
            false,
        );
        assert_eq!(status, 200, "{text}");
        assert_eq!(json(&text)["rows"][0][0], serde_json::json!(i));
    }
    assert_eq!(proxy.metric("edgepg_proxy_sql_server_connects_total"), 1);
    // A failed transaction does not leak into the next request.
    let (status, _) = query(
        proxy.addr,
        &url,
        "BEGIN; CREATE TEMP TABLE leak (x int); SELECT 1/0",
    );
    assert_eq!(status, 400);
    let (status, v) = query(proxy.addr, &url, "SELECT to_regclass('pg_temp.leak') IS NULL AS clean, pg_current_xact_id_if_assigned() IS NULL AS fresh");
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["rows"][0]["fresh"], serde_json::json!(true), "{v}");
    assert_eq!(v["rows"][0]["clean"], serde_json::json!(true), "{v}");
    // (The connection left inside a failed transaction may have been replaced.)
    assert!(proxy.metric("edgepg_proxy_sql_server_connects_total") <= 2);
}

#[test]
fn hostile_input_gets_clear_4xx_and_the_proxy_keeps_serving() {
    let pg = PgServer::shared();
    let proxy = proxy_for(pg);
    let url = good_url(pg);
    let addr = proxy.addr;
    let ok = || {
        let (status, v) = query(addr, &url, "SELECT 1 AS one");
        assert_eq!(status, 200, "{v}");
    };
    ok();

    // A 100 MB body: 413 from its Content-Length, before the body is read.
    {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let head = format!(
            "POST /sql HTTP/1.1\r\nHost: x\r\nNeon-Connection-String: {url}\r\nContent-Length: {}\r\n\r\n",
            100 << 20
        );
        s.write_all(head.as_bytes()).unwrap();
        let mut writer = s.try_clone().unwrap();
        let pump = std::thread::spawn(move || {
            let chunk = vec![b'x'; 1 << 20];
            for _ in 0..100 {
                if writer.write_all(&chunk).is_err() {
                    break;
                }
            }
        });
        let (status, body) = read_response(&mut s);
        assert_eq!(status, 413, "{body}");
        assert!(body.contains("larger than"), "{body}");
        drop(s);
        pump.join().unwrap();
    }
    // The same with chunked encoding: refused once the limit is passed.
    {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let head = format!(
            "POST /sql HTTP/1.1\r\nHost: x\r\nNeon-Connection-String: {url}\r\nTransfer-Encoding: chunked\r\n\r\n"
        );
        s.write_all(head.as_bytes()).unwrap();
        let mut writer = s.try_clone().unwrap();
        let pump = std::thread::spawn(move || {
            let chunk = vec![b'x'; 1 << 20];
            for _ in 0..100 {
                let size = format!("{:x}\r\n", chunk.len());
                if writer.write_all(size.as_bytes()).is_err()
                    || writer.write_all(&chunk).is_err()
                    || writer.write_all(b"\r\n").is_err()
                {
                    break;
                }
            }
        });
        let (status, _) = read_response(&mut s);
        assert_eq!(status, 413);
        drop(s);
        pump.join().unwrap();
    }
    ok();

    // Not JSON, wrong shapes, a missing header.
    for body in [
        &b"not json"[..],
        b"[1,2]",
        b"{\"query\": 5}",
        b"{}",
        b"{\"queries\": {}}",
        b"",
    ] {
        let (status, text) = post(addr, &[("Neon-Connection-String", &url)], body);
        assert_eq!(status, 400, "{text}");
        assert!(json(&text)["message"].is_string());
    }
    let (status, text) = post(addr, &[], br#"{"query":"SELECT 1"}"#);
    assert_eq!(status, 400);
    assert!(text.contains("Neon-Connection-String"), "{text}");
    for bad in [
        "nonsense",
        "postgresql://u@h1,h2/db",
        "postgresql://u@127.0.0.1:5432/db?sslrootcert=/etc/passwd",
        "mysql://u@h/db",
    ] {
        let (status, text) = post(
            addr,
            &[("Neon-Connection-String", bad)],
            br#"{"query":"SELECT 1"}"#,
        );
        assert_eq!(status, 400, "{bad}: {text}");
    }

    // 10 000 parameters work; 70 000 are refused.
    let n = 10_000;
    let placeholders: Vec<String> = (1..=n).map(|i| format!("${i}::int")).collect();
    let sql = format!(
        "SELECT array_length(ARRAY[{}], 1) AS n",
        placeholders.join(",")
    );
    let params: Vec<i32> = (0..n).collect();
    let body = serde_json::json!({"query": sql, "params": params}).to_string();
    let (status, text) = post(addr, &[("Neon-Connection-String", &url)], body.as_bytes());
    assert_eq!(status, 200, "{text}");
    assert_eq!(json(&text)["rows"][0]["n"], serde_json::json!(10000));
    let body = serde_json::json!({"query": "SELECT 1", "params": vec![1; 70_000]}).to_string();
    let (status, text) = post(addr, &[("Neon-Connection-String", &url)], body.as_bytes());
    assert_eq!(status, 400, "{text}");

    // A forbidden host (and a forbidden address by name) is refused with 403.
    let forbidden = format!("postgresql://u:p@127.0.0.1:{}/postgres", pg.port() + 1);
    let (status, v) = query(addr, &forbidden, "SELECT 1");
    assert_eq!(status, 403, "{v}");
    let (status, v) = query(addr, "postgresql://u:p@169.254.169.254:5432/x", "SELECT 1");
    assert_eq!(status, 403, "{v}");

    // Pooled connections live, then a wrong password twice: 400 with 28P01 both
    // times, never served from the pool of the right one.
    ok();
    let wrong = scram_url(pg, "wrong-password");
    for _ in 0..2 {
        let (status, v) = query(addr, &wrong, "SELECT 1");
        assert_eq!(status, 400, "{v}");
        assert_eq!(v["code"], serde_json::json!("28P01"), "{v}");
    }
    ok();
    assert!(proxy.rejects("body_too_large") >= 2);
    assert!(proxy.rejects("bad_body") >= 6);
    // The failed logins left no pool behind.
    assert_eq!(proxy.metric("edgepg_proxy_sql_pools"), 1);
}

#[test]
fn cors_preflight_and_origin_rules() {
    let pg = PgServer::shared();
    let allow = format!("127.0.0.1:{}", pg.port());
    let proxy = ProxyProcess::start(&["--allow", &allow, "--allow-origin", "https://app.example"]);
    let mut s = TcpStream::connect(proxy.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"OPTIONS /sql HTTP/1.1\r\nHost: x\r\nOrigin: https://app.example\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut text = String::new();
    let _ = s.read_to_string(&mut text);
    assert!(text.starts_with("HTTP/1.1 204"), "{text}");
    assert!(
        text.contains("Access-Control-Allow-Origin: https://app.example"),
        "{text}"
    );
    assert!(text.contains("Neon-Connection-String"), "{text}");
    let url = good_url(pg);
    let (status, _) = post(
        proxy.addr,
        &[
            ("Neon-Connection-String", &url),
            ("Origin", "https://evil.example"),
        ],
        br#"{"query":"SELECT 1"}"#,
    );
    assert_eq!(status, 403);
    let (status, _) = post(
        proxy.addr,
        &[
            ("Neon-Connection-String", &url),
            ("Origin", "https://app.example"),
        ],
        br#"{"query":"SELECT 1"}"#,
    );
    assert_eq!(status, 200);
}

/// edgepg-tokio's `http` feature against the real proxy: the same checks as
/// the JavaScript clients'.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_http_client() {
    use edgepg_tokio::http::{Batch, HttpClient};
    use edgepg_tokio::ErrorKind;

    let pg = PgServer::shared();
    let proxy = proxy_for(pg);
    let endpoint = format!("http://{}/sql", proxy.addr);
    let sql = HttpClient::new(&good_url(pg), &endpoint).unwrap();

    let r = sql
        .query(
            "SELECT $1::int + 1 AS n, 9007199254740993::int8 AS big, NULL::text AS nothing",
            &[Some("41")],
        )
        .await
        .unwrap();
    assert_eq!(
        (r.command(), r.row_count(), r.len()),
        ("SELECT", Some(1), 1)
    );
    assert_eq!(r.get::<i32>(0, "n").unwrap(), Some(42));
    assert_eq!(r.get::<i64>(0, "big").unwrap(), Some(9007199254740993));
    assert_eq!(r.get::<String>(0, "nothing").unwrap(), None);
    assert_eq!(r.fields()[1].data_type_id, 20);
    assert_eq!(r.get::<i32>(0, "big").unwrap_err().kind(), ErrorKind::Data);

    sql.query("DROP TABLE IF EXISTS rust_http_t", &[])
        .await
        .unwrap();
    sql.query("CREATE TABLE rust_http_t (id int PRIMARY KEY)", &[])
        .await
        .unwrap();
    let all = sql
        .transaction(
            &[
                (
                    "INSERT INTO rust_http_t VALUES ($1), ($2)",
                    &[Some("1"), Some("2")],
                ),
                ("SELECT count(*) AS n FROM rust_http_t", &[]),
            ],
            &Batch::serializable(),
        )
        .await
        .unwrap();
    assert_eq!(all[0].row_count(), Some(2));
    assert_eq!(all[1].get::<i64>(0, "n").unwrap(), Some(2));

    // A failing batch leaves nothing behind and says 23505.
    let dup = sql
        .transaction(
            &[
                ("INSERT INTO rust_http_t VALUES (3)", &[]),
                ("INSERT INTO rust_http_t VALUES (1)", &[]),
            ],
            &Batch::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(
        (dup.kind(), dup.code()),
        (ErrorKind::Integrity, Some("23505"))
    );
    let n = sql
        .query("SELECT count(*) AS n FROM rust_http_t", &[])
        .await
        .unwrap();
    assert_eq!(n.get::<i64>(0, "n").unwrap(), Some(2));

    let syntax = sql.query("SELEKT 1", &[]).await.unwrap_err();
    assert_eq!(
        (syntax.kind(), syntax.code(), syntax.position()),
        (ErrorKind::Programming, Some("42601"), Some(1))
    );

    // Refused destination, and a wrong password (twice, pooled connections live).
    let forbidden = HttpClient::new("postgresql://u:p@10.9.9.9:5432/x", &endpoint).unwrap();
    let refused = forbidden.query("SELECT 1", &[]).await.unwrap_err();
    assert!(refused.message().contains("403"), "{refused}");
    let wrong = HttpClient::new(&scram_url(pg, "wrong"), &endpoint).unwrap();
    for _ in 0..2 {
        let e = wrong.query("SELECT 1", &[]).await.unwrap_err();
        assert_eq!(e.code(), Some("28P01"), "{e}");
    }
    assert_eq!(
        sql.query("SELECT 1 AS one", &[])
            .await
            .unwrap()
            .get::<i32>(0, "one")
            .unwrap(),
        Some(1)
    );
    sql.query("DROP TABLE rust_http_t", &[]).await.unwrap();

    let down = HttpClient::new(&good_url(pg), "http://127.0.0.1:9/sql").unwrap();
    let e = down.query("SELECT 1", &[]).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::DatabaseNotAvailable);
}
