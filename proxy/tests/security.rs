//! Credentials and TLS policy over a whole run: the passwords used — right
//! and wrong, directly and through the tunnel, with and without TLS — never
//! appear in the proxy log, the server log or anything the client says
//! (errors, configuration, status); `sslmode=require` through the tunnel to a
//! server without TLS is an error, never plaintext. (The same for direct TCP:
//! `tests/tests/connect.rs`,
//! `require_against_a_server_without_tls_is_an_error_never_plaintext`; the
//! open-relay attempts: `refusals.rs`; a whole soak run is grepped the same
//! way by `edgepg-soak`.)

mod common;

use std::time::Duration;

use common::ProxyProcess;
use edgepg_tests::{PgServer, ServerOptions};
use edgepg_tokio::{Config, ErrorKind, Pool, Session, TokioTransport};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passwords_never_reach_a_log_or_a_message() {
    // A private server: its log holds this test only.
    let pg = PgServer::start();
    let (user, password) = pg.scram_user();
    let wrong = "wrong-Pa55-9d1c";
    let proxy = ProxyProcess::start(&["--allow", &format!("127.0.0.1:{}", pg.port())]);
    // Everything a client could print or log.
    let mut said: Vec<String> = Vec::new();
    let mut logins = 0;
    for tunnel in [false, true] {
        for pw in [password, wrong] {
            for sslmode in ["disable", "require"] {
                let url = pg.url_for(
                    user,
                    Some(pw),
                    "postgres",
                    &format!("sslmode={sslmode}&application_name=sec_{sslmode}"),
                );
                let config = Config::parse(&url).unwrap();
                said.push(format!("{config} {config:?}"));
                let builder = if tunnel {
                    Pool::builder_with(url.as_str(), TokioTransport::websocket(proxy.ws_url()))
                } else {
                    Pool::builder(url.as_str())
                };
                let pool = builder.min_size(2).max_size(2).build().unwrap();
                if let Err(e) = pool.connect().await {
                    said.push(format!("{e} {e:?}"));
                }
                match pool.query("SELECT current_user AS u", &[]).await {
                    Ok(r) => {
                        assert_eq!(pw, password, "a wrong password logged in");
                        logins += 1;
                        said.push(r[0].to_json().to_string());
                        // A failing statement on an authenticated connection.
                        let e = pool.query("SELECT 1/0", &[]).await.unwrap_err();
                        said.push(format!("{e} {e:?}"));
                    }
                    Err(e) => {
                        assert_eq!(pw, wrong, "{e}");
                        assert_eq!(e.code(), Some("28P01"), "{e:?}");
                        said.push(format!("{e} {e:?}"));
                    }
                }
                said.push(format!("{:?}", pool.status()));
                pool.close().await;
            }
        }
    }
    assert_eq!(logins, 4);
    // libpq's variables, as `Session::from_env` reads them.
    let from_env = Config::from_vars(Some("sec"), |k| match k {
        "PGHOST" => Some("127.0.0.1".into()),
        "PGPORT" => Some(pg.port().to_string()),
        "PGUSER" => Some(user.to_string()),
        "PGPASSWORD" => Some(wrong.to_string()),
        _ => None,
    })
    .unwrap();
    said.push(format!("{from_env} {from_env:?}"));
    let session = Session::from_pool(Pool::new(from_env).unwrap());
    let e = session.query("SELECT 1", &[]).await.unwrap_err();
    said.push(format!("{e} {e:?}"));

    proxy.wait_idle(Duration::from_secs(10));
    let proxy_log = proxy.log();
    let server_log = pg.log();
    // The logs are about these connections (so not finding a password means something).
    assert!(proxy_log.contains("tunnel open"), "{proxy_log}");
    assert!(
        server_log.contains("password authentication failed"),
        "{server_log}"
    );
    assert!(server_log.contains("connection authorized"), "{server_log}");
    let said = said.join("\n");
    for secret in [password, wrong] {
        assert!(!proxy_log.contains(secret), "the proxy logged a password");
        assert!(!server_log.contains(secret), "the server logged a password");
        assert!(
            !said.contains(secret),
            "the client showed a password:\n{said}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn require_through_the_tunnel_to_a_server_without_tls_is_an_error() {
    let pg = PgServer::start_with(ServerOptions {
        ssl: false,
        max_connections: 20,
    });
    let proxy = ProxyProcess::start(&["--allow", &format!("127.0.0.1:{}", pg.port())]);
    let url = pg.url_for(
        "postgres",
        None,
        "postgres",
        "sslmode=require&application_name=must_not_log_in",
    );
    let pool = Pool::builder_with(url.as_str(), TokioTransport::websocket(proxy.ws_url()))
        .max_size(1)
        .build()
        .unwrap();
    let err = pool.query("SELECT 1", &[]).await.unwrap_err();
    assert!(
        matches!(
            err.kind(),
            ErrorKind::Operational | ErrorKind::DatabaseNotAvailable
        ),
        "{err:?}"
    );
    assert!(
        format!("{err} {:?}", err.cause()).contains("does not support TLS"),
        "{err:?}"
    );
    // The server never saw a login: nothing went in plaintext.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(pg.count_in_log("application_name=must_not_log_in"), 0);
    // prefer falls back to plaintext, as libpq does.
    let url = pg.url_for("postgres", None, "postgres", "sslmode=prefer");
    let pool = Pool::builder_with(url.as_str(), TokioTransport::websocket(proxy.ws_url()))
        .max_size(1)
        .build()
        .unwrap();
    pool.query("SELECT 1", &[]).await.unwrap();
}
