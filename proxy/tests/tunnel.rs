//! Sessions and pools through a real edgepg-proxy process to a real
//! PostgreSQL (SPEC §8, §11): queries, transactions, errors, pool
//! stretching, TLS inside and outside the tunnel, a proxy restart, 500
//! concurrent tunnels, and Neon's serverless driver against our proxy.

mod common;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::ProxyProcess;
use edgepg_tests::{PgServer, ServerOptions};
use edgepg_tokio::{ErrorKind, Pool, Session, TokioTransport, Value};

/// A proxy that allows exactly the shared server.
fn proxy_for(pg: &PgServer) -> ProxyProcess {
    let allow = format!("127.0.0.1:{}", pg.port());
    ProxyProcess::start(&["--allow", &allow])
}

fn tunnel_pool(proxy: &ProxyProcess, url: &str) -> edgepg_tokio::Builder {
    Pool::builder_with(url, TokioTransport::websocket(proxy.ws_url()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queries_transactions_and_errors_through_the_tunnel() {
    let pg = PgServer::shared();
    let proxy = proxy_for(pg);
    let pool = tunnel_pool(&proxy, &pg.url()).max_size(4).build().unwrap();
    let session = Session::from_pool(pool.clone());

    let r = session.query("SELECT 1 AS value", &[]).await.unwrap();
    assert_eq!(r.as_dict().unwrap()["value"], Value::Int(1));
    assert_eq!(r.status(), "SELECT 1");

    let r = session
        .query(
            "SELECT g AS n, 'row ' || g AS label FROM generate_series(1, 5) g ORDER BY g",
            &[],
        )
        .await
        .unwrap();
    let ns: Vec<i32> = r.iter().map(|row| row.get("n")).collect();
    assert_eq!(ns, vec![1, 2, 3, 4, 5]);
    let r = session.callproc("mod", &[&6i32, &4i32]).await.unwrap();
    assert_eq!(r[0].get::<i32, _>(0), 2);

    // Writes are coalesced: a parameterised query (Bind, Execute, Sync — after
    // Parse, Describe, Sync the first time) costs one frame, not one per message.
    let frames = "edgepg_proxy_frames_total{direction=\"client_to_server\"}";
    let before = proxy.metric(frames);
    for i in 0..20 {
        let r = session
            .query("SELECT $1::int4 * 2 AS v", &[&i])
            .await
            .unwrap();
        assert_eq!(r[0].get::<i32, _>("v"), i * 2);
    }
    let sent = proxy.metric(frames) - before;
    assert!(
        sent <= 25,
        "20 queries took {sent} frames (one each when coalesced)"
    );

    // Parameters of several types, one round trip each way.
    let r = session
        .query(
            "SELECT $1::int4 + 1 AS a, $2::text || '!' AS b, $3::bytea AS c, $4::bool AS d",
            &[&41i32, &"hi", &vec![0u8, 1, 255], &true],
        )
        .await
        .unwrap();
    assert_eq!(r[0].get::<i32, _>("a"), 42);
    assert_eq!(r[0].get::<String, _>("b"), "hi!");
    assert_eq!(r[0].get::<Vec<u8>, _>("c"), vec![0u8, 1, 255]);
    assert!(r[0].get::<bool, _>("d"));

    // Errors keep their SQLSTATE through the tunnel, and the connection stays usable.
    let err = session.query("SELECT 1/0", &[]).await.unwrap_err();
    assert_eq!(err.code(), Some("22012"));
    let err = session
        .query("SELECT * FROM no_such_table", &[])
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Programming);
    assert_eq!(err.code(), Some("42P01"));
    session.query("SELECT 1", &[]).await.unwrap();

    // Transactions: rolled back on failure, committed otherwise.
    pool.execute(
        "CREATE TABLE IF NOT EXISTS t_tunnel_tx (id int PRIMARY KEY)",
        &[],
    )
    .await
    .unwrap();
    pool.execute("TRUNCATE t_tunnel_tx", &[]).await.unwrap();
    let n = pool
        .execute("INSERT INTO t_tunnel_tx SELECT generate_series(1, 3)", &[])
        .await
        .unwrap();
    assert_eq!(n, 3);
    let err = pool
        .transaction([
            ("INSERT INTO t_tunnel_tx VALUES ($1)", vec![Value::from(10)]),
            ("INSERT INTO t_tunnel_tx VALUES ($1)", vec![Value::from(1)]),
        ])
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Integrity);
    let count: i64 = pool
        .query("SELECT count(*) FROM t_tunnel_tx", &[])
        .await
        .unwrap()[0]
        .get(0);
    assert_eq!(count, 3, "the failed transaction left nothing behind");
    let mut tx = pool.begin().await.unwrap();
    tx.execute("INSERT INTO t_tunnel_tx VALUES (20)", &[])
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let count: i64 = pool
        .query("SELECT count(*) FROM t_tunnel_tx", &[])
        .await
        .unwrap()[0]
        .get(0);
    assert_eq!(count, 4);
    pool.execute("DROP TABLE t_tunnel_tx", &[]).await.unwrap();

    // Large values both ways: frames are split and reassembled.
    let big = "x".repeat(300_000);
    let r = session
        .query(
            "SELECT length($1::text) AS n, repeat('y', 1000000) AS s",
            &[&big],
        )
        .await
        .unwrap();
    assert_eq!(r[0].get::<i32, _>("n"), 300_000);
    assert_eq!(r[0].get::<String, _>("s").len(), 1_000_000);

    // The backend really is reached through the proxy: the client address is the proxy's.
    let addr: String = session
        .query("SELECT host(inet_client_addr()) AS a", &[])
        .await
        .unwrap()[0]
        .get("a");
    assert_eq!(addr, "127.0.0.1");
    assert!(proxy.metric("edgepg_proxy_connections_total") >= 1);
    assert!(proxy.metric("edgepg_proxy_bytes_total{direction=\"server_to_client\"}") > 1_000_000);
    assert!(proxy.metric("edgepg_proxy_bytes_total{direction=\"client_to_server\"}") > 300_000);
    pool.close().await;
    proxy.wait_idle(Duration::from_secs(5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pool_stretches_through_the_tunnel() {
    let pg = PgServer::shared();
    let proxy = proxy_for(pg);
    let pool = tunnel_pool(&proxy, &pg.url())
        .min_size(1)
        .max_size(5)
        .build()
        .unwrap();
    pool.connect().await.unwrap();
    assert_eq!(pool.status().size, 1);
    assert_eq!(proxy.metric("edgepg_proxy_connections_active"), 1);
    let started = Instant::now();
    let jobs: Vec<_> = (0..4)
        .map(|_| {
            let pool = pool.clone();
            tokio::spawn(async move { pool.execute("SELECT pg_sleep(0.3)", &[]).await })
        })
        .collect();
    for j in jobs {
        j.await.unwrap().unwrap();
    }
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "4 parallel sleeps took {:?}",
        started.elapsed()
    );
    assert_eq!(
        pool.status().size,
        4,
        "4 concurrent queries stretch the pool to 4"
    );
    assert_eq!(proxy.metric("edgepg_proxy_connections_active"), 4);
    // max_size is never exceeded.
    let many: Vec<_> = (0..12)
        .map(|_| {
            let pool = pool.clone();
            tokio::spawn(async move {
                let _c = pool.getconn().await.unwrap();
                assert!(pool.status().size <= 5);
                tokio::time::sleep(Duration::from_millis(20)).await;
            })
        })
        .collect();
    for j in many {
        j.await.unwrap();
    }
    assert!(proxy.metric("edgepg_proxy_connections_active") <= 5);
    pool.close().await;
    proxy.wait_idle(Duration::from_secs(5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_and_scram_inside_the_tunnel() {
    let pg = PgServer::shared();
    if !pg.is_managed() {
        return;
    }
    // The server certificate names only `localhost`; the proxy allows the
    // address localhost resolves to, by IP.
    let allow = format!("127.0.0.1:{}", pg.port());
    let proxy = ProxyProcess::start(&["--allow", &allow]);
    let (user, password) = pg.scram_user();
    let ca = pg.ca_cert().unwrap().display().to_string();
    let url = format!(
        "postgresql://{user}:{password}@localhost:{}/postgres?sslmode=verify-full&sslrootcert={ca}",
        pg.port()
    );
    let pool = tunnel_pool(&proxy, &url).max_size(1).build().unwrap();
    let r = pool
        .query("SELECT ssl, current_user AS u FROM pg_stat_ssl JOIN pg_stat_activity USING (pid) WHERE pid = pg_backend_pid()", &[])
        .await
        .unwrap();
    assert!(
        r[0].get::<bool, _>("ssl"),
        "TLS to PostgreSQL through the tunnel"
    );
    assert_eq!(r[0].get::<String, _>("u"), user);
    // A wrong CA is refused, through the tunnel as directly.
    let wrong = pg.wrong_ca_cert().unwrap().display().to_string();
    let bad_url = url.replace(&ca, &wrong);
    let bad = tunnel_pool(&proxy, &bad_url).max_size(1).build().unwrap();
    let err = bad.query("SELECT 1", &[]).await.unwrap_err();
    assert!(err.to_string().contains("TLS"), "{err}");
    pool.close().await;
    bad.close().await;
    // The TLS payload is opaque to the proxy, and its log holds no payload.
    pool_with_secret_leaves_no_payload_in_the_log(pg, &proxy).await;
}

/// Runs a query with a recognisable string in plaintext (sslmode=disable)
/// and checks the proxy log never shows it.
async fn pool_with_secret_leaves_no_payload_in_the_log(pg: &PgServer, proxy: &ProxyProcess) {
    let pool = tunnel_pool(proxy, &pg.url()).max_size(1).build().unwrap();
    let secret = "sekrit-payload-7f3a9c";
    let r = pool
        .query(&format!("SELECT '{secret}' AS s"), &[])
        .await
        .unwrap();
    assert_eq!(r[0].get::<String, _>("s"), secret);
    pool.close().await;
    proxy.wait_idle(Duration::from_secs(5));
    let log = proxy.log();
    assert!(log.contains("tunnel open"), "{log}");
    assert!(log.contains("tunnel closed"), "{log}");
    assert!(!log.contains(secret), "the proxy logged a payload:\n{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wss_to_the_proxy() {
    let pg = PgServer::shared();
    let dir = std::env::temp_dir().join(format!("edgepg-proxy-wss-{}", std::process::id()));
    let allow = format!("127.0.0.1:{}", pg.port());
    let (proxy, ca) = ProxyProcess::start_tls(&dir, &["--allow", &allow]);
    let ws = format!("wss://localhost:{}/v1", proxy.addr.port());
    let transport = TokioTransport::websocket(&ws).tunnel_root_cert(&ca);
    let pool = Pool::builder_with(pg.url(), transport)
        .max_size(2)
        .build()
        .unwrap();
    let r = pool.query("SELECT 40 + 2 AS n", &[]).await.unwrap();
    assert_eq!(r[0].get::<i32, _>("n"), 42);
    pool.close().await;
    // Without the CA, the proxy's certificate is not trusted.
    let untrusted = Pool::builder_with(pg.url(), TokioTransport::websocket(&ws))
        .max_size(1)
        .build()
        .unwrap();
    let err = untrusted.query("SELECT 1", &[]).await.unwrap_err();
    assert!(
        err.to_string().to_lowercase().contains("certificate"),
        "{err}"
    );
    // A plaintext client on a TLS listener is refused and counted.
    let (status, _) = common::upgrade(proxy.addr, &format!("/v1?address={allow}"), &[]);
    assert_eq!(status, 0, "no HTTP answer in plaintext from a TLS listener");
    let deadline = Instant::now() + Duration::from_secs(5);
    while proxy.rejects("tls") < 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(proxy.rejects("tls") >= 2);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pool_recovers_after_a_proxy_restart() {
    let pg = PgServer::shared();
    let allow = format!("127.0.0.1:{}", pg.port());
    let mut proxy = ProxyProcess::start(&["--allow", &allow, "--drain-timeout", "200ms"]);
    let listen = proxy.addr.to_string();
    let pool = tunnel_pool(&proxy, &pg.url())
        .min_size(2)
        .max_size(4)
        .reconnect_interval(Duration::from_millis(200))
        .acquire_timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    pool.connect().await.unwrap();
    let origin = Instant::now();
    // Load that runs through the restart.
    let load: Vec<_> = (0..4)
        .map(|_| {
            let pool = pool.clone();
            tokio::spawn(async move {
                let (mut ok, mut failed) = (0, 0);
                let mut last_ok = Duration::ZERO;
                while origin.elapsed() < Duration::from_secs(3) {
                    match pool.query("SELECT 1", &[]).await {
                        Ok(_) => {
                            ok += 1;
                            last_ok = origin.elapsed();
                        }
                        Err(e) => {
                            assert!(
                                matches!(
                                    e.kind(),
                                    ErrorKind::ConnectionLost
                                        | ErrorKind::DatabaseNotAvailable
                                        | ErrorKind::Operational
                                ),
                                "{e:?}"
                            );
                            failed += 1;
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                    }
                }
                (ok, failed, last_ok)
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    proxy.terminate();
    let status = proxy.wait(Duration::from_secs(5));
    assert!(status.success(), "graceful stop: {status:?}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let proxy = ProxyProcess::start(&["--listen", &listen, "--allow", &allow]);
    let restarted = origin.elapsed();
    let mut total_ok = 0;
    for j in load {
        let (ok, _failed, last_ok) = j.await.unwrap();
        total_ok += ok;
        assert!(
            last_ok > restarted,
            "every worker succeeded after the restart"
        );
    }
    assert!(total_ok > 0);
    // The pool is whole again, through the new proxy.
    let r = pool.query("SELECT 2 AS n", &[]).await.unwrap();
    assert_eq!(r[0].get::<i32, _>("n"), 2);
    assert!(proxy.metric("edgepg_proxy_connections_total") >= 1);
    pool.close().await;
    proxy.wait_idle(Duration::from_secs(5));
}

fn backends_from(pg: &PgServer, app: &str) -> usize {
    pg.psql(&format!(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = '{app}'"
    ))
    .unwrap()
    .parse()
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_concurrent_tunnels() {
    let pg = Arc::new(PgServer::start_with(ServerOptions {
        max_connections: 600,
        ..Default::default()
    }));
    let allow = format!("127.0.0.1:{}", pg.port());
    let proxy = ProxyProcess::start_env(
        &["--allow", &allow, "--max-connections", "1000"],
        &[("EDGEPG_PROXY_LOG", "warn")],
    );
    let app = "edgepg_tunnel_500";
    let url = format!("{}&application_name={app}", pg.url());
    let n = 500;
    let pool = tunnel_pool(&proxy, &url)
        .max_size(n)
        .acquire_timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let started = Instant::now();
    // Every task holds its own connection while querying, so 500 tunnels are
    // open at once.
    let barrier = Arc::new(tokio::sync::Barrier::new(n));
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let (pool, barrier) = (pool.clone(), barrier.clone());
            tokio::spawn(async move {
                let mut conn = pool.getconn().await.expect("connection");
                barrier.wait().await;
                for k in 0..3 {
                    let v = (i * 10 + k) as i32;
                    let r = conn.query("SELECT $1::int4 AS v", &[&v]).await.unwrap();
                    assert_eq!(r[0].get::<i32, _>("v"), v);
                }
            })
        })
        .collect();
    let all = futures_join(tasks);
    tokio::time::timeout(Duration::from_secs(90), all)
        .await
        .expect("500 tunnels finish in time");
    let took = started.elapsed();
    assert_eq!(pool.status().size, n);
    assert_eq!(proxy.metric("edgepg_proxy_connections_active"), n as u64);
    assert_eq!(backends_from(&pg, app), n);
    pool.close().await;
    proxy.wait_idle(Duration::from_secs(20));
    assert_eq!(proxy.metric("edgepg_proxy_connections_total"), n as u64);
    let deadline = Instant::now() + Duration::from_secs(20);
    while backends_from(&pg, app) > 0 {
        assert!(Instant::now() < deadline, "backends left open");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!("500 tunnels: connected and queried in {took:?}");
}

async fn futures_join(tasks: Vec<tokio::task::JoinHandle<()>>) {
    for t in tasks {
        t.await.expect("no task panicked");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn neon_serverless_driver_through_the_proxy() {
    let pg = PgServer::shared();
    let allow = format!("127.0.0.1:{}", pg.port());
    let proxy = ProxyProcess::start(&["--allow", &allow]);
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/js");
    let test = root.join("neon_interop.test.mjs");
    assert!(
        root.join("node_modules/@neondatabase/serverless").is_dir(),
        "tests/js/node_modules is missing: run `npm ci` in tests/js (cargo xtask test does)"
    );
    let (user, password) = pg.scram_user();
    let (user, password) = (user.to_string(), password.to_string());
    let proxy_addr = proxy.addr.to_string();
    let port = pg.port().to_string();
    let out = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg("--test")
            .arg(&test)
            .current_dir(&root)
            .env("EDGEPG_PROXY", format!("{proxy_addr}/v1"))
            .env("PGHOST", "127.0.0.1")
            .env("PGPORT", port)
            .env("PGUSER", user)
            .env("PGPASSWORD", password)
            .env("PGDATABASE", "postgres")
            .output()
    })
    .await
    .unwrap()
    .unwrap_or_else(|e| {
        panic!("cannot run node (Node ≥ 20 is required for the interop test; cargo xtask test installs the JS dependencies): {e}")
    });
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "node --test failed:\n{text}");
    assert!(text.contains("# fail 0"), "{text}");
    assert!(!text.contains("# pass 0"), "no JS test ran:\n{text}");
    assert!(proxy.metric("edgepg_proxy_connections_total") >= 1);
    proxy.wait_idle(Duration::from_secs(5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_reach_the_client_as_clear_errors() {
    let pg = PgServer::shared();
    let proxy = proxy_for(pg);
    // A destination the proxy does not allow.
    let other = format!(
        "postgresql://postgres@127.0.0.1:{}/postgres?sslmode=disable",
        pg.port() + 1
    );
    let pool = tunnel_pool(&proxy, &other).max_size(1).build().unwrap();
    let err = pool.query("SELECT 1", &[]).await.unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("403") && text.contains("destination not allowed"),
        "{text}"
    );
    assert_eq!(proxy.rejects("not_allowed"), 1);
    // Unix sockets cannot be tunnelled.
    let unix = Pool::builder_with(
        "postgresql://postgres@%2Ftmp/postgres",
        TokioTransport::websocket(proxy.ws_url()),
    )
    .max_size(1)
    .build()
    .unwrap();
    let err = unix.query("SELECT 1", &[]).await.unwrap_err();
    assert!(err.to_string().contains("WebSocket tunnel"), "{err}");
    // An invalid proxy URL is reported when connecting.
    let bad = Pool::builder_with(pg.url(), TokioTransport::websocket("http://x/v1"))
        .max_size(1)
        .build()
        .unwrap();
    let err = bad.query("SELECT 1", &[]).await.unwrap_err();
    assert!(err.to_string().contains("ws://"), "{err}");
    // No proxy listening.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let gone = Pool::builder_with(
        pg.url(),
        TokioTransport::websocket(format!("ws://127.0.0.1:{port}/v1")),
    )
    .max_size(1)
    .build()
    .unwrap();
    let err = gone.query("SELECT 1", &[]).await.unwrap_err();
    assert_eq!(
        err.io_kind(),
        Some(std::io::ErrorKind::ConnectionRefused),
        "{err:?}"
    );
}

/// W7's round trips, counted at the proxy: with `pipeline_connect=password`
/// the password travels with the startup message and the first statement is
/// prepared and run in one flight, so the first row comes back after two
/// round trips; waiting for the server's password request costs a third.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_row_in_two_round_trips_with_a_pipelined_password() {
    let pg = PgServer::shared();
    let Some((user, password)) = pg.password_user() else {
        return;
    };
    let proxy = proxy_for(pg);
    let round_trips = |query: &str| {
        let url = pg.url_for(user, Some(password), "postgres", query);
        let proxy = &proxy;
        async move {
            let before = proxy.metric("edgepg_proxy_round_trips_total");
            let pool = tunnel_pool(proxy, &url).max_size(1).build().unwrap();
            let r = pool.query("SELECT current_user AS u", &[]).await.unwrap();
            assert_eq!(r[0].get::<String, _>("u"), user);
            let after = proxy.metric("edgepg_proxy_round_trips_total");
            // The statement is cached: the next run is one round trip more.
            let again = pool.query("SELECT current_user AS u", &[]).await.unwrap();
            assert_eq!(again.len(), 1);
            let cached = proxy.metric("edgepg_proxy_round_trips_total") - after;
            pool.close().await;
            (after - before, cached)
        }
    };
    assert_eq!(
        round_trips("sslmode=disable&pipeline_connect=password").await,
        (2, 1)
    );
    assert_eq!(round_trips("sslmode=disable").await, (3, 1));
    proxy.wait_idle(Duration::from_secs(5));
}

/// `--allow-any` means any destination, loopback included, and an
/// `--allow-regex` that matches the requested `HOST:PORT` allows it: each of
/// these proxies reaches the test database on 127.0.0.1 (by address and as
/// `localhost`) and runs a query. The environment spelling
/// `EDGEPG_PROXY_ALLOW_ANY=yes` starts a proxy that does the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allow_any_and_allow_regex_reach_a_database_on_loopback() {
    let pg = PgServer::shared();
    let (host, port) = (pg.host(), pg.port());
    let exact = format!("{}:{port}", host.replace('.', r"\."));
    let mut urls = vec![pg.url()];
    if host == "127.0.0.1" {
        urls.push(pg.url().replacen("@127.0.0.1:", "@localhost:", 1));
    }
    type Case<'a> = (&'a str, &'a [&'a str], &'a [(&'a str, &'a str)]);
    let cases: [Case; 4] = [
        ("--allow-any", &["--allow-any"], &[]),
        ("--allow-regex HOST:PORT", &["--allow-regex", &exact], &[]),
        ("--allow-regex .*", &["--allow-regex", ".*"], &[]),
        (
            "EDGEPG_PROXY_ALLOW_ANY=yes",
            &[],
            &[("EDGEPG_PROXY_ALLOW_ANY", "yes")],
        ),
    ];
    for (how, args, env) in cases {
        let proxy = ProxyProcess::start_env(args, env);
        for url in &urls {
            let localhost = url.contains("@localhost:");
            let pool = tunnel_pool(&proxy, url).max_size(1).build().unwrap();
            let result = pool.query("SELECT 40 + $1::int4 AS n", &[&2i32]).await;
            if localhost && how == "--allow-regex HOST:PORT" {
                // The regex names the address, not `localhost`.
                let err = result.unwrap_err();
                assert!(err.to_string().contains("destination not allowed"), "{err}");
                continue;
            }
            let r = result.unwrap_or_else(|e| panic!("{how}, {url}: {e}"));
            assert_eq!(r[0].get::<i32, _>("n"), 42, "{how}, {url}");
        }
        proxy.wait_idle(Duration::from_secs(5));
        assert!(proxy.metric("edgepg_proxy_connections_total") >= 1, "{how}");
    }
}
