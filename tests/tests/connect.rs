//! Connecting: authentication, failures, TLS (issue 2).

use std::time::{Duration, Instant};

use edgepg_tests::{PgServer, ServerOptions};
use edgepg_tokio::{mogrify, ErrorKind, Pool, Session};

#[tokio::test]
async fn scram_authentication() {
    let pg = PgServer::shared();
    let (user, password) = pg.scram_user();
    let url = pg.url_for(user, Some(password), "postgres", "sslmode=disable");
    let session = Session::new(url).unwrap();
    let r = session
        .query("SELECT current_user AS u", &[])
        .await
        .unwrap();
    assert_eq!(r[0].get::<String, _>("u"), user);
    if pg.is_managed() {
        let method = pg
            .psql(&format!(
                "SELECT rolpassword LIKE 'SCRAM-SHA-256$%' FROM pg_authid WHERE rolname = '{user}'"
            ))
            .unwrap();
        assert_eq!(method, "t");
    }
}

#[tokio::test]
async fn wrong_password_says_authentication_failed() {
    let pg = PgServer::shared();
    let (user, _) = pg.scram_user();
    let url = pg.url_for(
        user,
        Some("definitely-wrong"),
        "postgres",
        "sslmode=disable",
    );
    let err = Session::new(url)
        .unwrap()
        .query("SELECT 1", &[])
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Operational, "{err:?}");
    assert_eq!(err.code(), Some("28P01"));
    assert!(err.to_string().contains("authentication failed"), "{err}");
    assert!(
        !err.to_string().contains("definitely-wrong"),
        "the password is never echoed"
    );
}

#[tokio::test]
async fn missing_database_is_operational_fast_and_not_retried_in_a_storm() {
    let pg = PgServer::start();
    let db = "edgepg_no_such_db";
    let url = pg.url_for("postgres", None, db, "sslmode=disable");
    let pool = Pool::builder(url)
        .reconnect_interval(Duration::from_secs(5))
        .build()
        .unwrap();
    let started = Instant::now();
    for _ in 0..20 {
        let err = pool.query("SELECT 1", &[]).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Operational, "{err:?}");
        assert_eq!(err.code(), Some("3D000"));
        assert!(err.to_string().contains(db), "{err}");
    }
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let attempts = pg.count_in_log(&format!("database={db}"));
    assert!(
        (1..=2).contains(&attempts),
        "20 failing queries made {attempts} connection attempts"
    );
}

#[tokio::test]
async fn unreachable_host_fails_promptly() {
    // A port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let pool = Pool::builder(format!(
        "postgresql://u@127.0.0.1:{port}/db?sslmode=disable"
    ))
    .build()
    .unwrap();
    let started = Instant::now();
    let err = pool.query("SELECT 1", &[]).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::DatabaseNotAvailable, "{err:?}");
    assert!(err.is_operational());
    assert!(err.to_string().contains(&port.to_string()), "{err}");
    assert!(started.elapsed() < Duration::from_secs(1));
}

#[tokio::test]
async fn several_hosts_are_tried_in_order() {
    let pg = PgServer::shared();
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!(
        "postgresql://postgres@127.0.0.1:{dead},{}:{}/postgres?sslmode=disable&connect_timeout=2",
        pg.host(),
        pg.port()
    );
    let r = Session::new(url)
        .unwrap()
        .query("SELECT 1 AS one", &[])
        .await
        .unwrap();
    assert_eq!(r[0].get::<i32, _>(0), 1);
    let url = format!(
        "postgresql://postgres@{}:{}/postgres?sslmode=disable&target_session_attrs=read-only",
        pg.host(),
        pg.port()
    );
    let err = Session::new(url)
        .unwrap()
        .query("SELECT 1", &[])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("read-write"), "{err}");
}

#[tokio::test]
async fn tls_verify_full_checks_ca_and_host_name() {
    let pg = PgServer::shared();
    let (Some(ca), Some(wrong_ca)) = (pg.ca_cert(), pg.wrong_ca_cert()) else {
        return;
    };
    let url = |host: &str, mode: &str, root: &std::path::Path| {
        format!(
            "postgresql://postgres@{host}:{}/postgres?sslmode={mode}&sslrootcert={}",
            pg.port(),
            root.display()
        )
    };
    let ok = Session::new(url("localhost", "verify-full", ca)).unwrap();
    let r = ok
        .query(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
        .unwrap();
    assert!(r[0].get::<bool, _>(0), "the connection is encrypted");

    let err = Session::new(url("localhost", "verify-full", wrong_ca))
        .unwrap()
        .query("SELECT 1", &[])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("TLS"), "{err}");
    assert!(err.is_operational());

    let err = Session::new(url("127.0.0.1", "verify-full", ca))
        .unwrap()
        .query("SELECT 1", &[])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("TLS"), "{err}");

    // verify-ca does not check the name; require does not check the chain.
    let r = Session::new(url("127.0.0.1", "verify-ca", ca))
        .unwrap()
        .query("SELECT 1", &[])
        .await
        .unwrap();
    assert_eq!(r.len(), 1);
    let err = Session::new(url("127.0.0.1", "verify-ca", wrong_ca))
        .unwrap()
        .query("SELECT 1", &[])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("TLS"), "{err}");
    let require = format!(
        "postgresql://postgres@127.0.0.1:{}/postgres?sslmode=require",
        pg.port()
    );
    let r = Session::new(require)
        .unwrap()
        .query(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
        .unwrap();
    assert!(r[0].get::<bool, _>(0));
}

#[tokio::test]
async fn require_against_a_server_without_tls_is_an_error_never_plaintext() {
    let pg = PgServer::start_with(ServerOptions {
        ssl: false,
        ..ServerOptions::default()
    });
    let base = format!("postgresql://postgres@127.0.0.1:{}/postgres", pg.port());
    let err = Session::new(format!("{base}?sslmode=require"))
        .unwrap()
        .query("SELECT 1", &[])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("does not support TLS"), "{err}");
    assert!(err.is_operational());
    // `prefer` falls back to plaintext.
    let r = Session::new(format!("{base}?sslmode=prefer"))
        .unwrap()
        .query("SELECT 1", &[])
        .await
        .unwrap();
    assert_eq!(r.len(), 1);
}

/// `pipeline_connect=password`: right password, wrong password, and servers
/// that want something else than a cleartext password.
#[tokio::test]
async fn pipelined_password_startup() {
    let pg = PgServer::shared();
    let Some((user, password)) = pg.password_user() else {
        return;
    };
    let pipelined = "sslmode=disable&pipeline_connect=password";
    let url = pg.url_for(user, Some(password), "postgres", pipelined);
    let session = Session::new(url.as_str()).unwrap();
    let r = session
        .query("SELECT current_user AS u, $1::int + 1 AS n", &[&41i32])
        .await
        .unwrap();
    assert_eq!(r[0].get::<String, _>("u"), user);
    assert_eq!(r[0].get::<i32, _>("n"), 42);
    // Many connections at once, each with a pipelined startup.
    let pool = Pool::builder(url.as_str()).max_size(8).build().unwrap();
    let tasks: Vec<_> = (0..64)
        .map(|i: i32| {
            let pool = pool.clone();
            tokio::spawn(async move {
                let r = pool
                    .query("SELECT $1::int AS i, pg_sleep(0.01)", &[&i])
                    .await
                    .unwrap();
                assert_eq!(r[0].get::<i32, _>("i"), i);
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    pool.close().await;

    let wrong = pg.url_for(user, Some("not-the-password"), "postgres", pipelined);
    let err = Session::new(wrong.as_str())
        .unwrap()
        .query("SELECT 1", &[])
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("28P01"), "{err}");

    // A SCRAM role: the server asks for SCRAM, so the early password is refused, clearly.
    let (scram_user, scram_password) = pg.scram_user();
    let scram = pg.url_for(scram_user, Some(scram_password), "postgres", pipelined);
    let err = Session::new(scram.as_str())
        .unwrap()
        .query("SELECT 1", &[])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("asked for SASL (SCRAM)"), "{err}");
    // Trust: no password wanted.
    let trust = pg.url_for("postgres", Some("unused"), "postgres", pipelined);
    let err = Session::new(trust.as_str())
        .unwrap()
        .query("SELECT 1", &[])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no password"), "{err}");
    // Without a password there is nothing to pipeline: a plain startup.
    let none = pg.url_for("postgres", None, "postgres", pipelined);
    let r = Session::new(none.as_str())
        .unwrap()
        .query("SELECT 1 AS one", &[])
        .await
        .unwrap();
    assert_eq!(r[0].get::<i32, _>("one"), 1);
    // A typo in the option is an Interface error naming it.
    let typo = pg.url_for(user, Some(password), "postgres", "pipeline_connect=pasword");
    let Err(err) = Session::new(typo.as_str()) else {
        panic!("a misspelt pipeline_connect was accepted");
    };
    assert_eq!(err.kind(), ErrorKind::Interface);
    assert!(err.to_string().contains("pipeline_connect"), "{err}");
}

/// SCRAM with passwords that SASLprep (RFC 4013) changes: the server prepares
/// the stored password, the client the typed one, and login works exactly
/// when the two agree. Prohibited or unassigned code points make both sides
/// use the bytes as they are.
#[tokio::test]
async fn scram_with_passwords_saslprep_changes() {
    let pg = PgServer::shared();
    if !pg.is_managed() {
        return;
    }
    let admin = Session::new(pg.url().as_str()).unwrap();
    let cases: [(&str, &str, bool); 8] = [
        // NFKC: decomposed umlauts compose.
        ("p\u{e4}ssw\u{f6}rd", "pa\u{308}sswo\u{308}rd", true),
        // Compatibility characters and a non-ASCII space.
        ("IX ok", "\u{2168}\u{a0}ok", true),
        // Soft hyphen maps to nothing.
        ("s\u{ad}ecret", "secret", true),
        // Different passwords stay different.
        ("p\u{e4}ssw\u{f6}rd", "passw\u{f6}rd", false),
        // ASCII control characters: the password is used as it is.
        ("bell\u{7}pw", "bell\u{7}pw", true),
        // Unassigned in Unicode 3.2, and private use: as it is.
        ("x\u{221}y", "x\u{221}y", true),
        ("x\u{e000}y", "x\u{e000}y", true),
        // Right-to-left text followed by a Latin letter breaks the bidi rule: as it is.
        ("\u{627}a", "\u{627}a", true),
    ];
    for (i, (stored, typed, accepted)) in cases.into_iter().enumerate() {
        let role = format!("edgepg_sasl_{i}_{}", std::process::id());
        admin
            .query(&format!("DROP ROLE IF EXISTS {role}"), &[])
            .await
            .unwrap();
        admin
            .query(
                &format!(
                    "CREATE ROLE {role} LOGIN PASSWORD {} IN ROLE {}",
                    mogrify("$1", &[&stored]).unwrap(),
                    edgepg_tests::SCRAM_GROUP
                ),
                &[],
            )
            .await
            .unwrap();
        let url = pg.url_for(&role, Some(typed), "postgres", "sslmode=disable");
        let result = Session::new(url.as_str())
            .unwrap()
            .query("SELECT current_user AS u", &[])
            .await;
        match (result, accepted) {
            (Ok(r), true) => assert_eq!(r[0].get::<String, _>("u"), role),
            (Err(e), false) => assert_eq!(e.code(), Some("28P01"), "case {i}: {e}"),
            (other, _) => panic!("case {i} ({stored:?} / {typed:?}): {:?}", other.map(|_| ())),
        }
        admin
            .query(&format!("DROP ROLE {role}"), &[])
            .await
            .unwrap();
    }
}
