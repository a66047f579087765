//! PgBouncer in transaction mode (issue 18): Debian's PgBouncer started by the
//! harness in front of a real PostgreSQL, with 2 server connections shared by
//! many clients, so that consecutive transactions of one client really run on
//! different server sessions.
//!
//! What a transaction-mode pooler breaks is session state between
//! transactions: named prepared statements and LISTEN. The client notices the
//! pooler (the backend's `pg_backend_pid()` is not the process ID of the cancel
//! key PgBouncer handed out) and then prepares nothing by name and refuses
//! LISTEN; these tests show that the default settings give right results, that
//! `statement_cache_size=0` does too, and that transactions, cursors and COPY
//! work, from Rust and from the JS package.

use std::collections::HashSet;
use std::process::Command;
use std::time::Duration;

use edgepg_tests::{PgBouncer, PgServer};
use edgepg_tokio::{ErrorKind, Pool};
use futures_util::TryStreamExt;

/// One PgBouncer per test binary: transaction mode, 2 server connections.
fn bouncer() -> &'static PgBouncer {
    static BOUNCER: std::sync::OnceLock<PgBouncer> = std::sync::OnceLock::new();
    BOUNCER.get_or_init(|| PgBouncer::start(PgServer::shared(), "transaction", ""))
}

/// A pool of at most `max` connections through the PgBouncer.
fn bouncer_pool(max: usize) -> Pool {
    Pool::builder(bouncer().url().as_str())
        .max_size(max)
        .build()
        .unwrap()
}

/// `pool` with a new, empty table `name (columns)`.
async fn fresh_table(pool: &Pool, name: &str, columns: &str) {
    for sql in [
        format!("DROP TABLE IF EXISTS {name}"),
        format!("CREATE TABLE {name} ({columns})"),
    ] {
        pool.execute(&sql, &[]).await.unwrap();
    }
}

/// Two pools that take turns on the 2 server connections: 16 tasks run
/// 40 statements each, four different SQL texts with parameters, and check
/// every answer. With named statements cached per client connection, this
/// fails at once ("prepared statement sN does not exist", or another client's
/// statement under the same name).
async fn concurrent_statements_are_right(url: &str, cache: usize) -> (u64, usize) {
    let pools: Vec<Pool> = (0..2)
        .map(|_| {
            Pool::builder(url)
                .max_size(4)
                .statement_cache_size(cache)
                .build()
                .unwrap()
        })
        .collect();
    let mut tasks = Vec::new();
    for t in 0..16i32 {
        let pool = pools[t as usize % 2].clone();
        tasks.push(tokio::spawn(async move {
            let mut pids = HashSet::new();
            for i in 0..40i32 {
                let n = t * 1000 + i;
                match i % 4 {
                    0 => {
                        let r = pool.query("SELECT $1::int + 1 AS n", &[&n]).await.unwrap();
                        assert_eq!(r[0].get::<i32, _>("n"), n + 1);
                    }
                    1 => {
                        let r = pool
                            .query("SELECT $1::int * 2 AS n, 'x' AS tag", &[&n])
                            .await
                            .unwrap();
                        assert_eq!(r[0].get::<i32, _>("n"), n * 2);
                        assert_eq!(r[0].get::<String, _>("tag"), "x");
                    }
                    2 => {
                        let r = pool
                            .query("SELECT $1::text || '!' AS s", &[&n.to_string()])
                            .await
                            .unwrap();
                        assert_eq!(r[0].get::<String, _>("s"), format!("{n}!"));
                    }
                    _ => {
                        let r = pool
                            .query("SELECT pg_backend_pid() AS pid", &[])
                            .await
                            .unwrap();
                        pids.insert(r[0].get::<i32, _>("pid"));
                    }
                }
            }
            pids
        }));
    }
    let mut pids = HashSet::new();
    for task in tasks {
        pids.extend(task.await.unwrap());
    }
    let hits = pools
        .iter()
        .map(|p| p.status().statement_cache_hits)
        .sum::<u64>();
    for pool in &pools {
        pool.close().await;
    }
    (hits, pids.len())
}

/// The default (a statement cache of 100 per connection) behind
/// transaction-mode PgBouncer: every answer right, no statement served from
/// a cache, and the statements ran on both server sessions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_statement_cache_gives_right_results_behind_pgbouncer() {
    let url = bouncer().url();
    let (hits, servers) = concurrent_statements_are_right(&url, 100).await;
    assert_eq!(hits, 0, "no cached statement may be reused behind a pooler");
    assert_eq!(servers, 2, "the clients shared both server connections");
    // The same workload straight to PostgreSQL does use the cache: the
    // pooler check is what turned it off.
    let direct = format!("{}&application_name=direct", PgServer::shared().url());
    let (hits, _) = concurrent_statements_are_right(&direct, 100).await;
    assert!(hits > 0, "direct connections cache statements");
}

/// A statement cache of 0 (`statement_cache_size`), the setting PgBouncer's documentation asks of
/// clients, gives the same right answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statement_cache_off_gives_right_results_behind_pgbouncer() {
    let (hits, servers) = concurrent_statements_are_right(&bouncer().url(), 0).await;
    assert_eq!((hits, servers), (0, 2));
}

/// Transactions (commit, rollback, savepoints, a failed statement) and a
/// cursor inside a transaction, while another client keeps the second
/// server connection busy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transactions_and_cursors_behind_pgbouncer() {
    let pool = bouncer_pool(3);
    fresh_table(&pool, "bouncer_tx", "id int PRIMARY KEY, v text").await;
    let noise = {
        let pool = pool.clone();
        tokio::spawn(async move {
            for i in 0..200i32 {
                let r = pool.query("SELECT $1::int AS i", &[&i]).await.unwrap();
                assert_eq!(r[0].get::<i32, _>("i"), i);
            }
        })
    };
    for round in 0..10i32 {
        let mut tx = pool.begin().await.unwrap();
        let pid =
            tx.query("SELECT pg_backend_pid() AS p", &[]).await.unwrap()[0].get::<i32, _>("p");
        tx.execute("INSERT INTO bouncer_tx VALUES ($1, 'kept')", &[&round])
            .await
            .unwrap();
        tx.savepoint("s").await.unwrap();
        let dup = tx
            .execute("INSERT INTO bouncer_tx VALUES ($1, 'dup')", &[&round])
            .await
            .unwrap_err();
        assert_eq!(dup.code(), Some("23505"));
        tx.rollback_to("s").await.unwrap();
        // The transaction kept its server session throughout.
        let again =
            tx.query("SELECT pg_backend_pid() AS p", &[]).await.unwrap()[0].get::<i32, _>("p");
        assert_eq!(pid, again);
        tx.commit().await.unwrap();

        let mut tx = pool.begin().await.unwrap();
        tx.execute(
            "INSERT INTO bouncer_tx VALUES ($1, 'gone')",
            &[&(round + 100)],
        )
        .await
        .unwrap();
        tx.rollback().await.unwrap();
    }
    let r = pool
        .query(
            "SELECT count(*)::int AS n, min(v) AS v FROM bouncer_tx",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(r[0].get::<i32, _>("n"), 10);
    assert_eq!(r[0].get::<String, _>("v"), "kept");

    // A cursor (declared in a transaction of its own) read in small chunks.
    let rows: Vec<i32> = pool
        .cursor("SELECT g FROM generate_series(1, $1) g", &[&1000i32], 64)
        .map_ok(|row| row.get::<i32, _>(0))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(rows, (1..=1000).collect::<Vec<_>>());
    noise.await.unwrap();
    pool.execute("DROP TABLE bouncer_tx", &[]).await.unwrap();
    pool.close().await;
}

/// COPY in and out while other clients use the same two server connections.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_behind_pgbouncer() {
    let pool = bouncer_pool(4);
    fresh_table(&pool, "bouncer_copy", "id int, name text").await;
    let mut tasks = Vec::new();
    for t in 0..4i32 {
        let pool = pool.clone();
        tasks.push(tokio::spawn(async move {
            for round in 0..5i32 {
                let base = (t * 5 + round) * 100;
                let mut copy = pool
                    .copy_in("COPY bouncer_copy (id, name) FROM STDIN")
                    .await
                    .unwrap();
                let data: String = (base..base + 100).map(|i| format!("{i}\tn{i}\n")).collect();
                copy.send(data).await.unwrap();
                assert_eq!(copy.finish().await.unwrap(), 100);
                let sql = format!(
                    "COPY (SELECT id FROM bouncer_copy WHERE id >= {base} AND id < {} ORDER BY id) TO STDOUT",
                    base + 100
                );
                let out: Vec<u8> = pool
                    .copy_out(&sql)
                    .await
                    .unwrap()
                    .map_ok(|b| b.to_vec())
                    .try_concat()
                    .await
                    .unwrap();
                let want: String = (base..base + 100).map(|i| format!("{i}\n")).collect();
                assert_eq!(String::from_utf8(out).unwrap(), want);
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let r = pool
        .query("SELECT count(DISTINCT id)::int AS n FROM bouncer_copy", &[])
        .await
        .unwrap();
    assert_eq!(r[0].get::<i32, _>("n"), 2000);
    pool.execute("DROP TABLE bouncer_copy", &[]).await.unwrap();
    pool.close().await;
}

/// LISTEN needs a server session of its own; behind a transaction-mode
/// pooler notifications never arrive (PgBouncer accepts the LISTEN and hands
/// the session to someone else). It is refused with an error that says so,
/// through `Pool::listen` and as a plain statement.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listen_is_refused_behind_pgbouncer() {
    let pool = bouncer_pool(2);
    let err = match pool.listen("bouncer_jobs").await {
        Ok(_) => panic!("LISTEN through PgBouncer was accepted"),
        Err(e) => e,
    };
    assert_eq!(err.kind(), ErrorKind::NotSupported, "{err}");
    let text = err.to_string();
    assert!(
        text.contains("LISTEN") && text.contains("pooler") && text.contains("transaction mode"),
        "{text}"
    );
    for sql in ["LISTEN bouncer_jobs", "  listen \"Jobs\""] {
        let err = pool.execute(sql, &[]).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotSupported, "{sql}: {err}");
    }
    // The pool is unharmed and NOTIFY (a plain statement) still works.
    pool.execute("NOTIFY bouncer_jobs, 'x'", &[]).await.unwrap();
    assert_eq!(pool.query("SELECT 1", &[]).await.unwrap().len(), 1);
    // Straight to PostgreSQL, LISTEN works as ever.
    let direct = Pool::new(PgServer::shared().url()).unwrap();
    let mut events = direct.listen("bouncer_jobs").await.unwrap();
    pool.execute("NOTIFY bouncer_jobs, 'through the bouncer'", &[])
        .await
        .unwrap();
    let n = tokio::time::timeout(Duration::from_secs(5), events.try_next())
        .await
        .expect("notification")
        .unwrap()
        .unwrap();
    assert_eq!(n.payload, "through the bouncer");
    direct.close().await;
    pool.close().await;
}

/// The JS package (Node, over node:net) through the same PgBouncer:
/// tests/wasm/pgbouncer/*.test.mjs.
#[test]
fn js_package_behind_pgbouncer() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let status = Command::new(env!("CARGO"))
        .args(["run", "-q", "-p", "xtask", "--", "pkg"])
        .current_dir(&root)
        .status()
        .expect("cargo xtask pkg");
    assert!(status.success(), "cargo xtask pkg failed");
    let dir = root.join("tests/wasm");
    assert!(
        dir.join("node_modules/.package-lock.json").exists(),
        "the npm packages of tests/wasm are missing: run `cargo xtask test` (or `npm ci` in tests/wasm)"
    );
    let out = Command::new("node")
        .arg("--test")
        .arg("pgbouncer/")
        .current_dir(&dir)
        .env("EDGEPG_TEST_URL", bouncer().url())
        .env("EDGEPG_TEST_DIRECT_URL", PgServer::shared().url())
        .output()
        .expect("node");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "node --test pgbouncer/ failed:\n{text}"
    );
    assert!(text.contains("# fail 0"), "{text}");
    assert!(!text.contains("# pass 0"), "no JS test ran:\n{text}");
}
