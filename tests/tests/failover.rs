//! Beyond one server (issue 18): a real streaming standby, failover under
//! write load, `target_session_attrs` against a primary and a hot standby,
//! read replicas with `prefer-standby`.
//!
//! Every failover run has its own primary and standby (the run destroys
//! them): the primary is killed with `pg_ctl stop -m immediate` while N tasks
//! write unique keys through a pool with `host=primary,standby
//! target_session_attrs=read-write`, and the standby is promoted with
//! `pg_ctl promote`. Each lines `FAILOVER …` on stderr are the figures of
//! RELIABILITY.md ("Failover"); reproduce with
//! `cargo test -p edgepg-tests --test failover -- --nocapture`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use edgepg_tests::{PgServer, ServerOptions};
use edgepg_tokio::{ErrorKind, Pool};

/// Writers per run.
const WRITERS: i64 = 8;
/// Runs per replication mode (median and max are over these).
const RUNS: usize = 3;
/// The pool's reconnect interval in the failover runs.
const RECONNECT: Duration = Duration::from_millis(200);

fn plain_primary() -> PgServer {
    PgServer::start_with(ServerOptions {
        ssl: false,
        ..ServerOptions::default()
    })
}

/// `host=a,b` as a URL for the two servers, with extra query parameters.
fn two_host_url(first: &PgServer, second: &PgServer, query: &str) -> String {
    format!(
        "postgresql://postgres@127.0.0.1:{},127.0.0.1:{}/postgres?sslmode=disable&connect_timeout=2&{query}",
        first.port(),
        second.port()
    )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// The INSERT returned: acknowledged.
    Committed,
    /// The server answered with an error: the transaction rolled back.
    RolledBack,
    /// Never sent: no server could be reached (`DatabaseNotAvailable`) or
    /// the checkout timed out.
    NotSent,
    /// The connection died after the statement was sent: the commit's reply
    /// was lost, it may or may not have committed.
    Unknown,
}

struct Write {
    key: i64,
    started: Duration,
    ended: Duration,
    outcome: Outcome,
}

#[derive(Debug)]
struct Figures {
    acked: usize,
    lost: usize,
    duplicated: usize,
    rolled_back: usize,
    not_sent: usize,
    unknown: usize,
    unknown_committed: usize,
    /// From issuing the kill to the first acknowledged write sent after it.
    to_first_write: Duration,
    /// From the end of `pg_ctl promote` to that write.
    after_promote: Duration,
}

/// One failover under write load on a fresh primary/standby pair.
async fn failover_run(synchronous: bool, run: usize) -> Figures {
    let primary = Arc::new(plain_primary());
    let standby = Arc::new(primary.start_standby(synchronous));
    primary
        .psql("CREATE TABLE fo_keys (k int8 NOT NULL, w int NOT NULL)")
        .unwrap();
    // Asynchronous: wait until the table has reached the standby.
    let deadline = Instant::now() + Duration::from_secs(10);
    while standby
        .psql("SELECT to_regclass('fo_keys') IS NOT NULL")
        .unwrap()
        != "t"
    {
        assert!(
            Instant::now() < deadline,
            "the table never reached the standby"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let url = two_host_url(&primary, &standby, "target_session_attrs=read-write");
    let pool = Pool::builder(url.as_str())
        .min_size(4)
        .max_size(8)
        .reconnect_interval(RECONNECT)
        .acquire_timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    pool.connect().await.unwrap();

    let origin = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let writes: Arc<Mutex<Vec<Write>>> = Arc::default();
    let mut tasks = Vec::new();
    for w in 0..WRITERS {
        let (pool, stop, writes) = (pool.clone(), stop.clone(), writes.clone());
        tasks.push(tokio::spawn(async move {
            let mut i = 0i64;
            while !stop.load(Ordering::SeqCst) {
                let key = w * 10_000_000 + i;
                i += 1;
                let started = origin.elapsed();
                let result = tokio::time::timeout(
                    Duration::from_secs(20),
                    pool.execute("INSERT INTO fo_keys VALUES ($1, $2)", &[&key, &(w as i32)]),
                )
                .await
                .expect("no insert hangs");
                let outcome = match &result {
                    Ok(1) => Outcome::Committed,
                    Ok(n) => panic!("an insert affected {n} rows"),
                    Err(e) => match e.kind() {
                        ErrorKind::DatabaseNotAvailable | ErrorKind::PoolTimeout => {
                            Outcome::NotSent
                        }
                        ErrorKind::ConnectionLost => Outcome::Unknown,
                        _ if e.db_error().is_some() => Outcome::RolledBack,
                        _ => panic!("an outcome that fits no class: {e:?}"),
                    },
                };
                let ended = origin.elapsed();
                writes.lock().unwrap().push(Write {
                    key,
                    started,
                    ended,
                    outcome,
                });
                if outcome != Outcome::Committed {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        }));
    }

    tokio::time::sleep(Duration::from_millis(800)).await;
    let killed_at = origin.elapsed();
    let (p, s) = (primary.clone(), standby.clone());
    let (killed, promoted) = tokio::task::spawn_blocking(move || {
        p.kill();
        let killed = origin.elapsed();
        s.promote();
        (killed, origin.elapsed())
    })
    .await
    .unwrap();

    // Wait for the first acknowledged write sent after the kill, then a little more load.
    let deadline = Instant::now() + Duration::from_secs(15);
    let first = loop {
        let first = writes
            .lock()
            .unwrap()
            .iter()
            .filter(|w| w.outcome == Outcome::Committed && w.started >= killed)
            .map(|w| w.ended)
            .min();
        if let Some(first) = first {
            break first;
        }
        assert!(
            Instant::now() < deadline,
            "no write succeeded within 15 s of the promotion"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    tokio::time::sleep(Duration::from_millis(400)).await;
    stop.store(true, Ordering::SeqCst);
    for t in tasks {
        t.await.expect("no writer panicked or hung");
    }
    pool.close().await;

    let stored: HashMap<i64, i64> = standby
        .psql("SELECT k, count(*) FROM fo_keys GROUP BY k")
        .unwrap()
        .lines()
        .map(|l| {
            let (k, n) = l.split_once('|').unwrap();
            (k.parse().unwrap(), n.parse().unwrap())
        })
        .collect();
    let writes = std::mem::take(&mut *writes.lock().unwrap());
    let of = |o: Outcome| writes.iter().filter(move |w| w.outcome == o);
    let lost = of(Outcome::Committed)
        .filter(|w| !stored.contains_key(&w.key))
        .count();
    let duplicated = stored.values().filter(|n| **n > 1).count();
    let phantom_rolled_back = of(Outcome::RolledBack)
        .chain(of(Outcome::NotSent))
        .filter(|w| stored.contains_key(&w.key))
        .count();
    assert_eq!(
        phantom_rolled_back, 0,
        "a write that failed with a server error or was never sent is not stored"
    );
    let unknown_committed = of(Outcome::Unknown)
        .filter(|w| stored.contains_key(&w.key))
        .count();
    // Unknown only where the reply was lost, i.e. around the kill.
    for w in of(Outcome::Unknown) {
        assert!(
            w.started <= killed && w.ended >= killed_at,
            "an unknown outcome away from the kill: sent at {:?}, ended at {:?} (kill {:?}..{:?})",
            w.started,
            w.ended,
            killed_at,
            killed
        );
    }
    let figures = Figures {
        acked: of(Outcome::Committed).count(),
        lost,
        duplicated,
        rolled_back: of(Outcome::RolledBack).count(),
        not_sent: of(Outcome::NotSent).count(),
        unknown: of(Outcome::Unknown).count(),
        unknown_committed,
        to_first_write: first - killed_at,
        after_promote: first.saturating_sub(promoted),
    };
    eprintln!(
        "FAILOVER {} run={run} acked={} lost={} duplicated={} rolled_back={} not_sent={} unknown={} \
         (committed {}) kill_to_first_write_ms={} promote_ms={} promote_to_first_write_ms={}",
        if synchronous { "sync" } else { "async" },
        figures.acked,
        figures.lost,
        figures.duplicated,
        figures.rolled_back,
        figures.not_sent,
        figures.unknown,
        figures.unknown_committed,
        figures.to_first_write.as_millis(),
        (promoted - killed).as_millis(),
        figures.after_promote.as_millis(),
    );
    assert_eq!(figures.duplicated, 0, "no write ran twice");
    assert!(figures.acked > 0);
    // New checkouts reach the promoted standby within one reconnect interval
    // (plus a connect and the insert on a loaded 2-core machine).
    assert!(
        figures.after_promote <= RECONNECT + Duration::from_secs(1),
        "first write {:?} after the promotion",
        figures.after_promote
    );
    figures
}

fn summary(mode: &str, runs: &[Figures]) {
    let mut times: Vec<Duration> = runs.iter().map(|f| f.to_first_write).collect();
    times.sort();
    let lost: usize = runs.iter().map(|f| f.lost).sum();
    let acked: usize = runs.iter().map(|f| f.acked).sum();
    let unknown: usize = runs.iter().map(|f| f.unknown).sum();
    let duplicated: usize = runs.iter().map(|f| f.duplicated).sum();
    eprintln!(
        "FAILOVER {mode} summary over {} runs: acked={acked} lost={lost} duplicated={duplicated} \
         unknown={unknown} kill_to_first_write median={}ms max={}ms",
        runs.len(),
        times[times.len() / 2].as_millis(),
        times[times.len() - 1].as_millis()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn synchronous_failover_loses_no_acknowledged_write() {
    let mut runs = Vec::new();
    for run in 1..=RUNS {
        let figures = failover_run(true, run).await;
        assert_eq!(
            figures.lost, 0,
            "with a synchronous standby no acknowledged write is lost"
        );
        runs.push(figures);
    }
    summary("sync", &runs);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn asynchronous_failover_reports_lost_writes() {
    let mut runs = Vec::new();
    for run in 1..=RUNS {
        let figures = failover_run(false, run).await;
        assert!(figures.lost <= figures.acked);
        runs.push(figures);
    }
    summary("async", &runs);
}

async fn in_recovery(pool: &Pool) -> bool {
    pool.query("SELECT pg_is_in_recovery() AS r", &[])
        .await
        .unwrap()[0]
        .get::<bool, _>("r")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn target_session_attrs_pick_the_right_server() {
    let primary = plain_primary();
    let standby = primary.start_standby(false);
    let pool_for = |first: &PgServer, second: &PgServer, attrs: &str| {
        Pool::builder(
            two_host_url(first, second, &format!("target_session_attrs={attrs}")).as_str(),
        )
        .min_size(0)
        .build()
        .unwrap()
    };
    // Whatever the order of the hosts, each value lands where libpq's would.
    for (a, b) in [(&primary, &standby), (&standby, &primary)] {
        for (attrs, on_standby) in [
            ("read-write", false),
            ("primary", false),
            ("read-only", true),
            ("standby", true),
            ("prefer-standby", true),
        ] {
            let pool = pool_for(a, b, attrs);
            assert_eq!(in_recovery(&pool).await, on_standby, "{attrs}");
            pool.close().await;
        }
    }
    // `any` takes the first host.
    let pool = pool_for(&standby, &primary, "any");
    assert!(in_recovery(&pool).await);
    pool.close().await;

    // `primary` differs from `read-write` on a read-only primary: it only asks
    // whether the server is in recovery.
    primary
        .psql("ALTER SYSTEM SET default_transaction_read_only = on; SELECT pg_reload_conf()")
        .unwrap();
    let pool = pool_for(&primary, &standby, "primary");
    assert!(!in_recovery(&pool).await);
    pool.close().await;
    let pool = pool_for(&primary, &standby, "read-write");
    let err = pool.query("SELECT 1", &[]).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::DatabaseNotAvailable, "{err}");
    assert!(
        err.message().contains("target_session_attrs=read-write"),
        "the error names the setting: {err}"
    );
    pool.close().await;
    // Two standbys-or-primaries, no writable one: `standby` alone, on a
    // primary-only list, fails naming what the server is.
    let only_primary = Pool::builder(
        format!(
            "postgresql://postgres@127.0.0.1:{}/postgres?sslmode=disable&target_session_attrs=standby",
            primary.port()
        )
        .as_str(),
    )
    .min_size(0)
    .build()
    .unwrap();
    let err = only_primary.query("SELECT 1", &[]).await.unwrap_err();
    assert!(
        err.message().contains("is a read-only primary") && err.message().contains("standby"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_balance_hosts_random_spreads_connections() {
    let primary = plain_primary();
    let standby = primary.start_standby(false);
    let mut on_standby = 0;
    let tries = 24;
    for _ in 0..tries {
        let pool =
            Pool::builder(two_host_url(&primary, &standby, "load_balance_hosts=random").as_str())
                .min_size(0)
                .build()
                .unwrap();
        if in_recovery(&pool).await {
            on_standby += 1;
        }
        pool.close().await;
    }
    // Disabled (the default), the first host always wins.
    let pool =
        Pool::builder(two_host_url(&primary, &standby, "load_balance_hosts=disable").as_str())
            .min_size(0)
            .build()
            .unwrap();
    assert!(!in_recovery(&pool).await);
    eprintln!("load_balance_hosts=random: {on_standby} of {tries} connections on the standby");
    // The chance of all 24 on one host is 2 × 2⁻²⁴.
    assert!(
        on_standby > 0 && on_standby < tries,
        "{on_standby} of {tries}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prefer_standby_reads_from_the_standby_and_falls_back_to_the_primary() {
    let primary = plain_primary();
    let standby = primary.start_standby(false);
    // The primary first in the list: prefer-standby still reads from the standby.
    let url = two_host_url(&primary, &standby, "target_session_attrs=prefer-standby");
    let pool = Pool::builder(url.as_str())
        .min_size(2)
        .max_size(4)
        .reconnect_interval(Duration::from_millis(200))
        .build()
        .unwrap();
    pool.connect().await.unwrap();
    for _ in 0..10 {
        assert!(in_recovery(&pool).await, "reads go to the standby");
    }
    standby.kill();
    // The standby's connections die; reads move to the primary without the
    // application doing anything (a read in flight at the kill may fail once).
    let killed = Instant::now();
    let mut failures = 0;
    let fell_back = loop {
        match pool.query("SELECT pg_is_in_recovery() AS r", &[]).await {
            Ok(rows) if !rows[0].get::<bool, _>("r") => break killed.elapsed(),
            Ok(_) => {}
            Err(e) => {
                failures += 1;
                assert!(
                    matches!(
                        e.kind(),
                        ErrorKind::ConnectionLost | ErrorKind::DatabaseNotAvailable
                    ),
                    "{e:?}"
                );
            }
        }
        assert!(killed.elapsed() < Duration::from_secs(5), "no fallback");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    eprintln!("prefer-standby: on the primary {fell_back:?} after the standby died ({failures} failed reads)");
    assert!(failures <= 1, "{failures} reads failed during the fallback");
    for _ in 0..10 {
        assert!(!in_recovery(&pool).await, "reads fall back to the primary");
    }
    pool.close().await;
    // Once the standby is back, new connections read from it again.
    standby.start_again();
    let pool = Pool::builder(url.as_str()).min_size(0).build().unwrap();
    assert!(in_recovery(&pool).await);
    pool.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_write_connection_on_a_server_turned_read_only_is_discarded() {
    let pg = plain_primary();
    pg.psql("CREATE TABLE ro_keys (k int)").unwrap();
    let url = format!(
        "postgresql://postgres@127.0.0.1:{}/postgres?sslmode=disable",
        pg.port()
    );
    let rw = Pool::builder(format!("{url}&target_session_attrs=read-write").as_str())
        .min_size(3)
        .reconnect_interval(Duration::from_millis(200))
        .build()
        .unwrap();
    let any = Pool::builder(url.as_str()).min_size(3).build().unwrap();
    rw.connect().await.unwrap();
    any.connect().await.unwrap();
    rw.execute("INSERT INTO ro_keys VALUES (1)", &[])
        .await
        .unwrap();
    assert_eq!(rw.status().size, 3);

    pg.psql("ALTER SYSTEM SET default_transaction_read_only = on; SELECT pg_reload_conf()")
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let err = rw
        .execute("INSERT INTO ro_keys VALUES (2)", &[])
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("25006"), "{err}");
    let status = rw.status();
    assert_eq!(
        (status.size, status.idle),
        (0, 0),
        "the connection and its idle siblings on the read-only server are discarded: {status:?}"
    );
    // New checkouts re-evaluate the target and find no writable server.
    let err = rw.query("SELECT 1", &[]).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::DatabaseNotAvailable, "{err}");
    assert!(err.message().contains("read-only primary"), "{err}");
    // `any` keeps its connections: a read-only server is fine for it.
    let err = any
        .execute("INSERT INTO ro_keys VALUES (3)", &[])
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("25006"));
    assert_eq!(any.status().size, 3);

    pg.psql("ALTER SYSTEM RESET default_transaction_read_only; SELECT pg_reload_conf()")
        .unwrap();
    let back = Instant::now();
    loop {
        match rw.execute("INSERT INTO ro_keys VALUES (4)", &[]).await {
            Ok(_) => break,
            Err(e) => assert_eq!(e.kind(), ErrorKind::DatabaseNotAvailable, "{e}"),
        }
        assert!(back.elapsed() < Duration::from_secs(3), "no recovery");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    rw.close().await;
    any.close().await;
}
