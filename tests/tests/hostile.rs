//! A catalog of hostile input at the Rust API boundary: malformed
//! configuration, wrong credentials, unreachable and black-holed servers, bad
//! SQL, wrong parameter types and counts, NUL bytes, huge values, and fake
//! servers that answer with garbage, truncated, oversized or hostile
//! messages. Each gets a clear error of the right kind — never a panic, a
//! hang or a silently truncated value — and the process keeps serving.
//!
//! The other boundaries have their own catalogs: the proxy in
//! `proxy/tests/refusals.rs` (refusals, address tricks, garbage heads and
//! frames) and `proxy/tests/hostile.rs` (garbage through a live tunnel); the
//! JavaScript API in `tests/wasm/node/hostile.test.mjs`; `sslmode=require`
//! against a server without TLS in `tests/tests/connect.rs`
//! (`require_against_a_server_without_tls_is_an_error_never_plaintext`).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use edgepg_tests::{PgServer, Relay};
use edgepg_tokio::{Error, ErrorKind, Pool, Session, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Asserts a clear error: the kind, a needle in the message, one line.
#[track_caller]
fn clear(err: &Error, kind: ErrorKind, needle: &str) {
    let text = err.to_string();
    assert_eq!(err.kind(), kind, "{needle}: {err:?}");
    assert!(
        text.to_lowercase().contains(&needle.to_lowercase()),
        "expected {needle:?} in: {text}"
    );
    assert!(!text.contains('\n'), "one sentence, not a dump: {text:?}");
}

/// The shared server still answers through a fresh pool.
async fn still_serving(pool: &Pool) {
    let r = pool.query("SELECT 41 + 1 AS n", &[]).await.unwrap();
    assert_eq!(r[0].get::<i32, _>("n"), 42);
    let s = pool.status();
    assert_eq!((s.in_use, s.waiting), (0, 0), "{s:?}");
}

#[tokio::test]
async fn malformed_configuration_is_an_interface_error() {
    let long = format!("postgresql://h/{}?sslmode=x", "d".repeat(1 << 20));
    let cases: Vec<(&str, &str)> = vec![
        ("", ""),
        ("postgresql://h:99999/db", "port"),
        ("postgresql://h:-1/db", "port"),
        ("postgresql://[::1/db", "IPv6"),
        ("postgresql://::1:5432/db", "IPv6"),
        ("mysql://h/db", "scheme"),
        ("postgresql://h/db?sslmode=sometimes", "sslmode"),
        ("postgresql://h/db?connect_timeout=1e9", "connect_timeout"),
        ("postgresql://h/db?nope=1", "connection option"),
        ("postgresql://h/db?novalue", "query parameter"),
        ("postgresql://%ff@h/db", "user name"),
        ("postgresql://h/%ff%fe", "database name"),
        ("host=h port=", "port"),
        ("host=h dbname='open", "unterminated"),
        ("host", "="),
        ("host=a,b,c port=1,2", "port"),
        ("host=h\0 port=\0", "port"),
        ("=value", "keyword"),
        (long.as_str(), "sslmode"),
    ];
    for (input, needle) in cases {
        let shown: String = input.chars().take(60).collect();
        let result = Pool::builder(input).build();
        if input.is_empty() {
            // An empty string is libpq's "all defaults": valid, and lazy.
            assert!(result.is_ok(), "{shown:?}");
            continue;
        }
        let err = result
            .err()
            .unwrap_or_else(|| panic!("{shown:?} was accepted"));
        clear(&err, ErrorKind::Interface, needle);
        let err = Session::new(input).err().expect("Session::new agrees");
        assert_eq!(err.kind(), ErrorKind::Interface);
    }
    // Nothing above did I/O; the process serves as before.
    still_serving(&Pool::new(PgServer::shared().url()).unwrap()).await;
}

#[tokio::test]
async fn wrong_credentials_and_unreachable_servers_fail_fast_and_clearly() {
    let pg = PgServer::shared();
    let (user, password) = pg.scram_user();
    let bounded = |started: Instant, limit: u64| {
        let took = started.elapsed();
        assert!(took < Duration::from_secs(limit), "took {took:?}");
    };

    // Wrong password and unknown role: refused by the server, password never echoed.
    let started = Instant::now();
    let url = pg.url_for(user, Some("wrong-pass-3f9a"), "postgres", "sslmode=disable");
    let err = Pool::new(url)
        .unwrap()
        .query("SELECT 1", &[])
        .await
        .unwrap_err();
    clear(
        &err,
        ErrorKind::Operational,
        "password authentication failed",
    );
    assert_eq!(err.code(), Some("28P01"));
    assert!(!format!("{err} {err:?}").contains("wrong-pass-3f9a"));
    assert!(!format!("{err} {err:?}").contains(password));
    let url = pg.url_for("edgepg_no_such_role", None, "postgres", "sslmode=disable");
    let err = Pool::new(url)
        .unwrap()
        .query("SELECT 1", &[])
        .await
        .unwrap_err();
    clear(&err, ErrorKind::Operational, "edgepg_no_such_role");
    assert_eq!(err.code(), Some("28000"));
    // connect() reports the same cause as PartiallyConnected.
    let url = pg.url_for(user, Some("wrong-pass-3f9a"), "postgres", "sslmode=disable");
    let pool = Pool::builder(url).min_size(2).build().unwrap();
    let err = pool.connect().await.unwrap_err();
    clear(
        &err,
        ErrorKind::PartiallyConnected,
        "password authentication failed",
    );
    assert_eq!(err.connect_counts(), Some((0, 2)));
    bounded(started, 5);

    // Nobody listening: DatabaseNotAvailable with the real cause, at once.
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let started = Instant::now();
    let pool = Pool::new(format!("postgresql://u@{dead}/db?sslmode=disable")).unwrap();
    let err = pool.query("SELECT 1", &[]).await.unwrap_err();
    clear(&err, ErrorKind::DatabaseNotAvailable, "refused");
    bounded(started, 3);

    // A name that does not resolve.
    let started = Instant::now();
    let pool =
        Pool::new("postgresql://u@edgepg-no-such-host.invalid/db?connect_timeout=3").unwrap();
    let err = pool.query("SELECT 1", &[]).await.unwrap_err();
    assert!(err.is_operational(), "{err:?}");
    clear(&err, err.kind(), "edgepg-no-such-host.invalid");
    bounded(started, 6);

    // A black hole (the relay accepts, then drops every byte): connect_timeout bounds it.
    let relay = Relay::start(pg.socket_addr());
    relay.set_blackhole(true);
    let started = Instant::now();
    let pool = Pool::new(format!(
        "postgresql://postgres@127.0.0.1:{}/postgres?sslmode=disable&connect_timeout=1",
        relay.port()
    ))
    .unwrap();
    let err = pool.query("SELECT 1", &[]).await.unwrap_err();
    clear(&err, ErrorKind::DatabaseNotAvailable, "timed out");
    bounded(started, 4);
    // Once the path is clear the same pool recovers by itself.
    relay.set_blackhole(false);
    tokio::time::sleep(Duration::from_millis(600)).await;
    still_serving(&pool).await;
}

#[tokio::test]
async fn bad_sql_and_bad_parameters_leave_the_pool_serving() {
    let pool = Pool::builder(PgServer::shared().url())
        .max_size(2)
        .build()
        .unwrap();
    let err = pool.query("SELEC 1", &[]).await.unwrap_err();
    clear(&err, ErrorKind::Programming, "syntax error");
    assert!(err.position().is_some());
    let err = pool
        .query("SELECT * FROM edgepg_hostile_missing", &[])
        .await
        .unwrap_err();
    clear(&err, ErrorKind::Programming, "edgepg_hostile_missing");

    // Parameter counts.
    let err = pool
        .query("SELECT $1::int, $2::int", &[&1i32])
        .await
        .unwrap_err();
    clear(
        &err,
        ErrorKind::Interface,
        "takes 2 parameters but 1 was given",
    );
    let err = pool.query("SELECT 1", &[&1i32]).await.unwrap_err();
    clear(&err, ErrorKind::Interface, "takes 0 parameters");

    // Parameter types: a typed value of the wrong type is refused before sending;
    // a dynamic value the server cannot read is the server's Data error.
    let err = pool.query("SELECT $1::int", &[&"seven"]).await.unwrap_err();
    clear(&err, ErrorKind::Interface, "");
    let err = pool
        .query("SELECT $1::int", &[&Value::from("seven")])
        .await
        .unwrap_err();
    clear(&err, ErrorKind::Data, "invalid input syntax");
    let err = pool
        .query("SELECT $1::int2", &[&Value::Int(1 << 40)])
        .await
        .unwrap_err();
    clear(&err, ErrorKind::Interface, "out of range");
    let err = pool
        .query("SELECT $1::int[]", &[&Value::Array(vec![Value::from("x")])])
        .await
        .unwrap_err();
    clear(&err, ErrorKind::Data, "invalid input syntax");

    // NUL bytes: PostgreSQL text cannot hold them.
    let err = pool
        .query("SELECT 1\0; DROP TABLE x", &[])
        .await
        .unwrap_err();
    clear(&err, ErrorKind::Interface, "");
    let err = pool.query("SELECT $1::text", &[&"a\0b"]).await.unwrap_err();
    clear(&err, ErrorKind::Data, "0x00");
    let err = pool
        .query("SELECT $1::text", &[&Value::from("a\0b")])
        .await
        .unwrap_err();
    clear(&err, ErrorKind::Data, "0x00");
    let err = pool.mogrify("SELECT $1", &[&"a\0b"]).unwrap_err();
    clear(&err, ErrorKind::Interface, "NUL");
    let err = pool
        .listen("chan\0nel")
        .await
        .err()
        .expect("NUL channel refused");
    clear(&err, ErrorKind::Interface, "identifier");
    let err = pool.callproc("f\0", &[]).await.unwrap_err();
    clear(&err, ErrorKind::Interface, "NUL");
    // A NUL in the user name cannot go into the startup message: misuse, not
    // an unreachable database.
    let pg = PgServer::shared();
    let nul_user = Pool::new(format!(
        "postgresql://a%00b@{}:{}/postgres?sslmode=disable",
        pg.host(),
        pg.port()
    ))
    .unwrap();
    let err = nul_user.query("SELECT 1", &[]).await.unwrap_err();
    clear(&err, ErrorKind::Interface, "embedded null");

    // A NOTIFY payload past the server's limit.
    let payload = "x".repeat(9000);
    let err = pool
        .execute("SELECT pg_notify('c', $1)", &[&payload])
        .await
        .unwrap_err();
    clear(&err, ErrorKind::Data, "payload string too long");

    still_serving(&pool).await;
    let s = pool.status();
    assert_eq!(
        s.closed_broken + s.closed_dirty,
        0,
        "no connection was lost: {s:?}"
    );

    // More placeholders than the protocol allows (65535), and as many values:
    // the server's ParameterDescription count (an int16) wraps, the message no
    // longer parses, and that connection is given up — with an error, not a hang.
    let many = (1..=70_000)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(",");
    let sql = format!("SELECT 1 WHERE 1 IN ({many})");
    let err = pool.query(&sql, &[]).await.unwrap_err();
    assert!(!err.to_string().is_empty(), "{err:?}");
    let values: Vec<Value> = (0..70_000).map(Value::from).collect();
    let refs: Vec<&(dyn edgepg_tokio::ToSql + Sync)> = values
        .iter()
        .map(|v| v as &(dyn edgepg_tokio::ToSql + Sync))
        .collect();
    let err = pool.query(&sql, &refs).await.unwrap_err();
    assert!(!err.to_string().is_empty(), "{err:?}");
    eprintln!("70 000 parameters: {err}");
    still_serving(&pool).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_values_round_trip_untruncated() {
    let pool = Pool::builder(PgServer::shared().url())
        .max_size(2)
        .build()
        .unwrap();
    let big = "é".repeat(16 << 20); // 32 MiB of UTF-8
    let r = pool
        .query(
            "SELECT octet_length($1::text)::int8 AS n, $1::text AS t",
            &[&big.as_str()],
        )
        .await
        .unwrap();
    assert_eq!(r[0].get::<i64, _>("n"), big.len() as i64);
    assert!(
        r[0].get::<String, _>("t") == big,
        "the value came back changed"
    );
    let bytes = vec![0xa5u8; 24 << 20];
    let r = pool
        .query("SELECT $1::bytea AS b", &[&Value::Bytes(bytes.clone())])
        .await
        .unwrap();
    assert!(r[0].value("b") == Some(&Value::Bytes(bytes)));
    // A 16 MiB statement text.
    let sql = format!("SELECT length('{}') AS n", "q".repeat(16 << 20));
    let r = pool.query(&sql, &[]).await.unwrap();
    assert_eq!(r[0].get::<i32, _>("n"), 16 << 20);
    still_serving(&pool).await;
}

// ------------------------------------------------------------ fake servers

/// What a fake server does once the client has connected.
#[derive(Clone, Copy, Debug)]
enum Fake {
    /// Sends these bytes at once, then closes.
    Garbage(&'static [u8]),
    /// Completes the startup, then answers every query with the bytes for its SQL text.
    Speaks,
    /// Accepts and never answers.
    Silent,
}

fn msg(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut m = vec![tag];
    m.extend_from_slice(&(body.len() as i32 + 4).to_be_bytes());
    m.extend_from_slice(body);
    m
}

fn ready() -> Vec<u8> {
    msg(b'Z', b"I")
}

/// RowDescription of one binary column `x` of type `oid`.
fn row_description(oid: u32) -> Vec<u8> {
    let mut b = 1i16.to_be_bytes().to_vec();
    b.extend_from_slice(b"x\0");
    b.extend_from_slice(&0i32.to_be_bytes()); // table
    b.extend_from_slice(&0i16.to_be_bytes()); // column
    b.extend_from_slice(&oid.to_be_bytes());
    b.extend_from_slice(&(-1i16).to_be_bytes()); // size
    b.extend_from_slice(&(-1i32).to_be_bytes()); // modifier
    b.extend_from_slice(&1i16.to_be_bytes()); // binary
    msg(b'T', &b)
}

fn data_row(value: &[u8]) -> Vec<u8> {
    let mut b = 1i16.to_be_bytes().to_vec();
    b.extend_from_slice(&(value.len() as i32).to_be_bytes());
    b.extend_from_slice(value);
    msg(b'D', &b)
}

/// A binary array value with the given dimensions and no elements.
fn array(dims: &[(i32, i32)]) -> Vec<u8> {
    let mut b = (dims.len() as i32).to_be_bytes().to_vec();
    b.extend_from_slice(&0i32.to_be_bytes());
    b.extend_from_slice(&23u32.to_be_bytes());
    for (len, lower) in dims {
        b.extend_from_slice(&len.to_be_bytes());
        b.extend_from_slice(&lower.to_be_bytes());
    }
    b
}

/// The column type and the value (or raw bytes) a fake query answers with.
fn answer(sql: &str) -> (u32, Result<Vec<u8>, Vec<u8>>) {
    match sql {
        // An int4[] claiming 2^31-1 × 0 elements: no allocation per claimed row.
        "SELECT huge_dims" => (1007, Ok(array(&[(i32::MAX, 1), (0, 1)]))),
        // 100 000 dimensions of length 1: no recursion per dimension.
        "SELECT deep_dims" => (1007, Ok(array(&vec![(1, 1); 100_000]))),
        // timetz with an offset of i32::MIN seconds.
        "SELECT timetz_min" => {
            let mut v = 0i64.to_be_bytes().to_vec();
            v.extend_from_slice(&i32::MIN.to_be_bytes());
            (1266, Ok(v))
        }
        // interval of i64::MIN microseconds.
        "SELECT interval_min" => {
            let mut v = i64::MIN.to_be_bytes().to_vec();
            v.extend_from_slice(&[0; 8]);
            (1186, Ok(v))
        }
        // numeric claiming 30 000 digits it does not carry.
        "SELECT numeric_short" => (1700, Ok(vec![0x75, 0x30, 0, 0, 0, 0, 0, 0])),
        // A DataRow whose header claims 2 GiB, then silence.
        "SELECT oversized" => (23, Err(vec![b'D', 0x7f, 0xff, 0xff, 0xff, 0, 1])),
        // A DataRow cut short, then the connection closes.
        "SELECT truncated" => (23, Err(vec![b'D', 0, 0, 0, 100, 0, 1, 0, 0])),
        // An unknown message type.
        "SELECT unknown_message" => (23, Err(msg(b'!', b"??"))),
        _ => (23, Ok(7i32.to_be_bytes().to_vec())),
    }
}

async fn read_message(s: &mut TcpStream) -> Option<(u8, Vec<u8>)> {
    let tag = s.read_u8().await.ok()?;
    let len = s.read_i32().await.ok()?;
    let mut body = vec![0; (len as usize).saturating_sub(4).min(64 << 20)];
    s.read_exact(&mut body).await.ok()?;
    Some((tag, body))
}

async fn speak(mut s: TcpStream) -> Option<()> {
    // Startup (after an optional SSLRequest, refused).
    loop {
        let len = s.read_i32().await.ok()?;
        let mut body = vec![0; (len as usize).saturating_sub(4).min(1 << 16)];
        s.read_exact(&mut body).await.ok()?;
        if body.starts_with(&80877103i32.to_be_bytes()) {
            s.write_all(b"N").await.ok()?;
            continue;
        }
        break;
    }
    let mut out = msg(b'R', &0i32.to_be_bytes());
    out.extend(msg(b'S', b"client_encoding\0UTF8\0"));
    out.extend(msg(b'K', &[0, 0, 0, 1, 0, 0, 0, 2]));
    out.extend(ready());
    s.write_all(&out).await.ok()?;
    let mut sql = String::new();
    let mut bound = false;
    // Parse seen since the last Sync: a one-flight Parse/Bind/Describe/Execute
    // (the client's first run of a statement) is answered with ParseComplete,
    // BindComplete and the descriptions before the rows.
    let mut parsed = false;
    loop {
        let (tag, body) = read_message(&mut s).await?;
        match tag {
            b'P' => {
                parsed = true;
                let name_end = body.iter().position(|&b| b == 0)?;
                let rest = &body[name_end + 1..];
                let end = rest.iter().position(|&b| b == 0)?;
                sql = String::from_utf8_lossy(&rest[..end]).into_owned();
            }
            b'B' => bound = true,
            b'Q' => {
                // Simple query (pings, BEGIN/ROLLBACK): empty answers.
                let mut out = msg(b'I', b"");
                out.extend(ready());
                s.write_all(&out).await.ok()?;
            }
            b'S' => {
                let (oid, value) = answer(&sql);
                let mut out = Vec::new();
                if bound {
                    if parsed {
                        out.extend(msg(b'1', b""));
                    }
                    out.extend(msg(b'2', b""));
                    if parsed {
                        out.extend(msg(b't', &0i16.to_be_bytes()));
                        out.extend(row_description(oid));
                    }
                    match value {
                        Ok(v) => out.extend(data_row(&v)),
                        Err(raw) => {
                            out.extend(raw);
                            s.write_all(&out).await.ok()?;
                            // Hold the connection open for "oversized", close otherwise.
                            if sql == "SELECT oversized" {
                                tokio::time::sleep(Duration::from_secs(30)).await;
                            }
                            return None;
                        }
                    }
                    out.extend(msg(b'C', b"SELECT 1\0"));
                } else {
                    out.extend(msg(b'1', b""));
                    out.extend(msg(b't', &0i16.to_be_bytes()));
                    out.extend(row_description(oid));
                }
                out.extend(ready());
                bound = false;
                parsed = false;
                s.write_all(&out).await.ok()?;
            }
            b'X' => return None,
            _ => {}
        }
    }
}

async fn fake_server(behaviour: Fake) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                match behaviour {
                    Fake::Garbage(bytes) => {
                        let mut buf = [0u8; 512];
                        let _ = tokio::time::timeout(Duration::from_millis(200), s.read(&mut buf))
                            .await;
                        let _ = s.write_all(bytes).await;
                    }
                    Fake::Speaks => {
                        let _ = speak(s).await;
                    }
                    Fake::Silent => {
                        let mut buf = [0u8; 512];
                        while let Ok(n) = s.read(&mut buf).await {
                            if n == 0 {
                                break;
                            }
                        }
                    }
                }
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fake_servers_answering_garbage_get_a_clear_error() {
    let cases: [(Fake, &str, &str); 6] = [
        (
            Fake::Garbage(b"HTTP/1.1 400 Bad Request\r\n\r\n"),
            "disable",
            "",
        ),
        (
            Fake::Garbage(b"HTTP/1.1 400 Bad Request\r\n\r\n"),
            "require",
            "invalid answer to the TLS request",
        ),
        (
            Fake::Garbage(b"S\x16\x03\x03\x00\x02\x02\x28"),
            "require",
            "TLS",
        ),
        (Fake::Garbage(b"R\x00\x00\x00"), "disable", ""),
        (
            Fake::Garbage(b"R\x7f\xff\xff\xff\x00\x00\x00\x00"),
            "disable",
            "",
        ),
        (Fake::Silent, "disable", "timed out"),
    ];
    for (fake, sslmode, needle) in cases {
        let addr = fake_server(fake).await;
        let pool = Pool::new(format!(
            "postgresql://u@{addr}/db?sslmode={sslmode}&connect_timeout=2"
        ))
        .unwrap();
        let started = Instant::now();
        let err = tokio::time::timeout(Duration::from_secs(10), pool.query("SELECT 1", &[]))
            .await
            .unwrap_or_else(|_| panic!("{fake:?}: no answer"))
            .unwrap_err();
        assert!(err.is_operational(), "{fake:?}: {err:?}");
        clear(&err, err.kind(), needle);
        assert!(started.elapsed() < Duration::from_secs(5), "{fake:?}");
        assert_eq!(pool.status().in_use, 0);
    }
    still_serving(&Pool::new(PgServer::shared().url()).unwrap()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_messages_after_startup_are_errors_not_crashes() {
    let addr = fake_server(Fake::Speaks).await;
    let pool = Pool::builder(format!(
        "postgresql://u@{addr}/db?sslmode=disable&connect_timeout=2"
    ))
    .max_size(2)
    .query_timeout(Duration::from_secs(3))
    .build()
    .unwrap();
    // The fake server is real enough for an ordinary query.
    let r = pool.query("SELECT seven", &[]).await.unwrap();
    assert_eq!(r[0].get::<i32, _>("x"), 7);

    // Hostile values decode to an error value, never a panic or an OOM.
    for sql in [
        "SELECT huge_dims",
        "SELECT deep_dims",
        "SELECT timetz_min",
        "SELECT interval_min",
        "SELECT numeric_short",
    ] {
        let r = pool.query(sql, &[]).await.unwrap();
        let v = r[0].value("x").unwrap().clone();
        let _ = (v.to_string(), v.to_json(), serde_json::to_string(&r[0]));
        if let Value::Other { text, .. } = &v {
            assert!(text.len() < 1 << 20, "{sql}: {} bytes of text", text.len());
        }
    }
    // Broken framing: an error (the connection is gone), never a hang.
    for (sql, kind) in [
        ("SELECT truncated", ErrorKind::ConnectionLost),
        ("SELECT unknown_message", ErrorKind::ConnectionLost),
        ("SELECT oversized", ErrorKind::QueryCanceled),
    ] {
        let started = Instant::now();
        let err = tokio::time::timeout(Duration::from_secs(10), pool.query(sql, &[]))
            .await
            .unwrap_or_else(|_| panic!("{sql}: no answer"))
            .unwrap_err();
        assert_eq!(err.kind(), kind, "{sql}: {err:?}");
        assert!(started.elapsed() < Duration::from_secs(6), "{sql}");
    }
    // And the pool goes on.
    let r = pool.query("SELECT seven", &[]).await.unwrap();
    assert_eq!(r[0].get::<i32, _>("x"), 7);
}

/// Connections, transactions and cursors that outlive their runtime are
/// dropped without a panic (there is nothing left to run the cleanup on).
#[test]
fn dropping_pool_objects_outside_a_runtime_does_not_panic() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let pool = Pool::builder(PgServer::shared().url())
        .max_size(3)
        .build()
        .unwrap();
    let (conn, tx, status) = rt.block_on(async {
        let mut conn = pool.getconn().await.unwrap();
        // A statement whose future was dropped leaves the connection busy.
        let sleeping = conn.query("SELECT pg_sleep(5)", &[]);
        let _ = tokio::time::timeout(Duration::from_millis(50), sleeping).await;
        let mut tx = pool.begin().await.unwrap();
        tx.execute("CREATE TEMP TABLE h_outlived (n int)", &[])
            .await
            .unwrap();
        (conn, tx, pool.status())
    });
    assert_eq!(status.in_use, 2);
    // Dropped on this plain thread, inside no runtime.
    drop(tx);
    drop(conn);
    drop(rt);
    drop(pool);
}
