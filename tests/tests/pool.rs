//! The pool rules of SPEC §4 against a real PostgreSQL (issue 3).

use std::time::{Duration, Instant};

use edgepg_tests::{PgServer, Relay};
use edgepg_tokio::{ErrorKind, Pool, Statement, Value};

fn url() -> String {
    PgServer::shared().url()
}

/// A connected pool whose backends carry `application_name = app`.
async fn app_pool(app: &str, min: usize, max: usize) -> Pool {
    let pool = Pool::builder(app_url(&url(), app))
        .min_size(min)
        .max_size(max)
        .build()
        .unwrap();
    pool.connect().await.unwrap();
    pool
}

fn app_url(base: &str, app: &str) -> String {
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}application_name={app}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_queries_use_parallel_connections() {
    let n = 4;
    let pool = Pool::builder(url())
        .min_size(n)
        .max_size(n)
        .build()
        .unwrap();
    pool.connect().await.unwrap();
    let started = Instant::now();
    let jobs: Vec<_> = (0..n)
        .map(|_| {
            let pool = pool.clone();
            tokio::spawn(async move { pool.execute("SELECT pg_sleep(0.5)", &[]).await })
        })
        .collect();
    for j in jobs {
        j.await.unwrap().unwrap();
    }
    let took = started.elapsed();
    assert!(
        took < Duration::from_millis(650),
        "{n} parallel sleeps took {took:?}"
    );
    // Twice as many jobs as connections queue and all finish.
    let started = Instant::now();
    let jobs: Vec<_> = (0..2 * n)
        .map(|_| {
            let pool = pool.clone();
            tokio::spawn(async move { pool.execute("SELECT pg_sleep(0.5)", &[]).await })
        })
        .collect();
    for j in jobs {
        j.await.unwrap().unwrap();
    }
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(1000) && took < Duration::from_millis(1300),
        "{took:?}"
    );
    let s = pool.status();
    assert_eq!(s.size, n);
    // The extra jobs were pipelined onto busy connections or waited for one.
    assert!(s.waits > 0 || s.in_use == 0);
    pool.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stretching() {
    let pool = Pool::builder(url())
        .min_size(1)
        .max_size(5)
        .build()
        .unwrap();
    pool.connect().await.unwrap();
    assert_eq!(pool.status().size, 1);
    let jobs: Vec<_> = (0..4)
        .map(|_| {
            let pool = pool.clone();
            tokio::spawn(async move { pool.execute("SELECT pg_sleep(0.3)", &[]).await })
        })
        .collect();
    for j in jobs {
        j.await.unwrap().unwrap();
    }
    assert_eq!(
        pool.status().size,
        4,
        "4 concurrent queries stretch the pool to 4"
    );

    let seq = Pool::builder(url())
        .min_size(1)
        .max_size(5)
        .build()
        .unwrap();
    seq.connect().await.unwrap();
    for _ in 0..20 {
        seq.query("SELECT 1", &[]).await.unwrap();
        assert!(seq.status().size <= 2);
    }

    let p3 = Pool::builder(url())
        .min_size(1)
        .max_size(5)
        .build()
        .unwrap();
    p3.connect().await.unwrap();
    let (a, b, c) = tokio::join!(p3.getconn(), p3.getconn(), p3.getconn());
    let held = (a.unwrap(), b.unwrap(), c.unwrap());
    let s = p3.status();
    assert_eq!((s.size, s.in_use), (3, 3));
    drop(held);
    assert_eq!(p3.status().idle, 3);
    // max_size is never exceeded.
    let many: Vec<_> = (0..12)
        .map(|_| {
            let pool = p3.clone();
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
    assert_eq!(p3.status().size, 5);
    for p in [pool, seq, p3] {
        p.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shrinking_after_idle_timeout() {
    let pool = Pool::builder(url())
        .min_size(2)
        .max_size(5)
        .idle_timeout(Duration::from_secs(1))
        .build()
        .unwrap();
    pool.connect().await.unwrap();
    let jobs: Vec<_> = (0..5)
        .map(|_| {
            let pool = pool.clone();
            tokio::spawn(async move { pool.execute("SELECT pg_sleep(0.2)", &[]).await })
        })
        .collect();
    for j in jobs {
        j.await.unwrap().unwrap();
    }
    assert_eq!(pool.status().size, 5);
    tokio::time::sleep(Duration::from_millis(1700)).await;
    let s = pool.status();
    assert_eq!(s.size, 2, "{s:?}");
    assert_eq!(s.closed_idle, 3);

    // Steady reuse of 3 connections keeps 3.
    let started = Instant::now();
    while started.elapsed() < Duration::from_millis(2500) {
        let (a, b, c) = tokio::join!(pool.getconn(), pool.getconn(), pool.getconn());
        let held = (a.unwrap(), b.unwrap(), c.unwrap());
        tokio::time::sleep(Duration::from_millis(100)).await;
        drop(held);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(pool.status().size, 3);
    pool.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminated_backends_are_replaced_without_errors() {
    let app = "edgepg_terminate";
    let pool = app_pool(app, 3, 3).await;
    for _ in 0..3 {
        let admin = Pool::new(url()).unwrap();
        let killed: i64 = admin
            .query(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1",
                &[&app],
            )
            .await
            .unwrap()[0]
            .get(0);
        assert!(killed >= 1);
        for _ in 0..5 {
            let r = pool
                .query("SELECT 1 AS one", &[])
                .await
                .expect("no error after pg_terminate_backend");
            assert_eq!(r[0].get::<i32, _>(0), 1);
        }
        admin.close().await;
    }
    pool.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transaction_after_killed_backends_writes_exactly_once() {
    let app = "edgepg_kill_tx";
    let pool = app_pool(app, 2, 2).await;
    pool.execute("CREATE TABLE IF NOT EXISTS p_once (id int)", &[])
        .await
        .unwrap();
    pool.execute("TRUNCATE p_once", &[]).await.unwrap();
    PgServer::shared()
        .psql(&format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '{app}'"
        ))
        .unwrap();
    let out = pool
        .transaction([(
            "INSERT INTO p_once VALUES ($1) RETURNING id",
            vec![Value::from(7)],
        )])
        .await
        .expect("retried on a fresh connection");
    assert_eq!(out[0].len(), 1);
    let n: i64 = pool
        .query("SELECT count(*) FROM p_once", &[])
        .await
        .unwrap()[0]
        .get(0);
    assert_eq!(n, 1);
    pool.execute("DROP TABLE p_once", &[]).await.unwrap();
    pool.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_down_fails_fast_throttles_and_recovers() {
    let pg = PgServer::shared();
    let relay = Relay::start(pg.socket_addr());
    let url = format!(
        "postgresql://postgres@127.0.0.1:{}/postgres?sslmode=disable",
        relay.port()
    );
    let pool = Pool::builder(url)
        .min_size(1)
        .max_size(1)
        .reconnect_interval(Duration::from_millis(400))
        .acquire_timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    pool.connect().await.unwrap();
    // One query holds the only connection; a caller that needs a connection of its
    // own waits behind it (a plain query would be pipelined onto the busy connection).
    let holder = {
        let pool = pool.clone();
        tokio::spawn(async move { pool.execute("SELECT pg_sleep(2)", &[]).await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let waiter = {
        let pool = pool.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            let waited = pool.getconn().await.map(|_| ());
            (waited, started.elapsed())
        })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(pool.status().waiting, 1);
    // The server "goes away": live connections cut, new ones refused.
    relay.set_refuse(true);
    relay.cut_all();
    let held = holder.await.unwrap().unwrap_err();
    assert_eq!(held.kind(), ErrorKind::ConnectionLost, "{held:?}");
    let (res, took) = waiter.await.unwrap();
    let err = res.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::DatabaseNotAvailable, "{err:?}");
    assert!(
        took < Duration::from_secs(1),
        "the queued waiter failed after {took:?}"
    );

    let before = relay.connections_total();
    let started = Instant::now();
    let mut failures = 0;
    while started.elapsed() < Duration::from_millis(2000) {
        let t = Instant::now();
        let err = pool.query("SELECT 1", &[]).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::DatabaseNotAvailable);
        assert!(err.cause().is_some(), "carries the connect error");
        assert!(t.elapsed() < Duration::from_secs(1));
        failures += 1;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let attempts = relay.connections_total() - before;
    assert!(failures > 50);
    assert!(
        (3..=7).contains(&attempts),
        "{attempts} connect attempts in 2 s with a 400 ms interval"
    );

    relay.set_refuse(false);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let r = pool
        .query("SELECT 1 AS back", &[])
        .await
        .expect("recovers by itself");
    assert_eq!(r[0].get::<i32, _>(0), 1);
    pool.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_reports_partial_failures_only_when_asked() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let bad = format!("postgresql://u@127.0.0.1:{port}/db?sslmode=disable");
    let pool = Pool::builder(bad.as_str())
        .min_size(3)
        .max_size(3)
        .build()
        .unwrap();
    let err = pool.connect().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PartiallyConnected);
    assert_eq!(err.connect_counts(), Some((0, 3)));
    assert!(err.cause().is_some());
    let quiet = Pool::builder(bad.as_str())
        .min_size(3)
        .raise_connect_errors(false)
        .build()
        .unwrap();
    quiet.connect().await.unwrap();
    assert_eq!(quiet.status().size, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acquire_timeouts() {
    let pool = Pool::builder(url())
        .min_size(1)
        .max_size(1)
        .acquire_timeout(Duration::ZERO)
        .build()
        .unwrap();
    let held = pool.getconn().await.unwrap();
    let started = Instant::now();
    let err = pool.getconn().await.err().unwrap();
    assert_eq!(err.kind(), ErrorKind::PoolFull);
    assert!(started.elapsed() < Duration::from_millis(50));
    drop(held);
    pool.getconn().await.unwrap();

    // A timeout caused by connects that fail carries the connect error.
    let pg = PgServer::shared();
    let relay = Relay::start(pg.socket_addr());
    relay.set_blackhole(true);
    let url = format!(
        "postgresql://postgres@127.0.0.1:{}/postgres?sslmode=disable&connect_timeout=1",
        relay.port()
    );
    let pool = Pool::builder(url)
        .acquire_timeout(Duration::from_millis(1500))
        .reconnect_interval(Duration::from_millis(100))
        .build()
        .unwrap();
    let started = Instant::now();
    let err = pool.getconn().await.err().unwrap();
    assert!(started.elapsed() < Duration::from_secs(3));
    assert!(
        matches!(
            err.kind(),
            ErrorKind::PoolTimeout | ErrorKind::DatabaseNotAvailable
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("timed out"), "{err}");
    assert!(err.cause().is_some(), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_query_is_cancelled_and_connection_reused() {
    let pool = Pool::builder(url())
        .min_size(1)
        .max_size(1)
        .build()
        .unwrap();
    pool.connect().await.unwrap();
    let pid_before: i32 = pool.query("SELECT pg_backend_pid()", &[]).await.unwrap()[0].get(0);
    let timed_out = tokio::time::timeout(
        Duration::from_millis(100),
        pool.execute("SELECT pg_sleep(10)", &[]),
    )
    .await;
    assert!(timed_out.is_err());
    let started = Instant::now();
    let pid_after: i32 = pool.query("SELECT pg_backend_pid()", &[]).await.unwrap()[0].get(0);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(
        pid_before, pid_after,
        "the connection was cleaned by a cancel, not replaced"
    );
    let s = pool.status();
    assert_eq!((s.in_use, s.waiting, s.closed_dirty), (0, 0, 0));
    pool.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_drops_leave_the_pool_consistent() {
    let app = "edgepg_random_drops";
    let pool = app_pool(app, 2, 4).await;
    pool.execute("CREATE TABLE IF NOT EXISTS p_drops (id int)", &[])
        .await
        .unwrap();
    let mut seed: u64 = 0x2545F4914F6CDD1D;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let total = 10_000;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..total {
        let r = next();
        let pool = pool.clone();
        // Deadlines from 0 to ~2 ms land on every await point: checkout, send, rows, commit.
        let deadline = Duration::from_micros(r % 2000);
        tasks.spawn(async move {
            let work = async {
                match r % 4 {
                    0 => pool.query("SELECT $1::int", &[&i]).await.map(|_| ()),
                    1 => pool.getconn().await.map(|_| ()),
                    2 => {
                        let mut tx = pool.begin().await?;
                        tx.execute("INSERT INTO p_drops VALUES ($1)", &[&i]).await?;
                        tx.rollback().await
                    }
                    _ => pool
                        .transaction([
                            Statement::from((
                                "INSERT INTO p_drops VALUES ($1)",
                                vec![Value::from(i)],
                            )),
                            Statement::from("DELETE FROM p_drops"),
                        ])
                        .await
                        .map(|_| ()),
                }
            };
            let _ = tokio::time::timeout(deadline, work).await;
        });
        while tasks.len() >= 32 {
            tasks.join_next().await.unwrap().unwrap();
        }
    }
    while let Some(t) = tasks.join_next().await {
        t.unwrap();
    }
    // Cleanup of abandoned statements runs in the background; give it a moment.
    let started = Instant::now();
    loop {
        let s = pool.status();
        if (s.in_use == 0 && s.pending == 0) || started.elapsed() > Duration::from_secs(10) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let s = pool.status();
    assert_eq!((s.in_use, s.waiting, s.pending), (0, 0, 0), "{s:?}");
    assert!(s.size <= 4 && s.idle == s.size, "{s:?}");
    let admin = Pool::new(url()).unwrap();
    let busy: i64 = admin
        .query(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND (state <> 'idle' OR backend_xid IS NOT NULL)",
            &[&app],
        )
        .await
        .unwrap()[0]
        .get(0);
    assert_eq!(
        busy, 0,
        "every pooled backend is idle and outside a transaction"
    );
    let rows: i64 = admin
        .query("SELECT count(*) FROM p_drops", &[])
        .await
        .unwrap()[0]
        .get(0);
    assert_eq!(rows, 0, "no half-applied transaction");
    admin.execute("DROP TABLE p_drops", &[]).await.unwrap();
    pool.close().await;
    admin.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setsession_runs_on_every_new_connection() {
    let pool = Pool::builder(url())
        .min_size(2)
        .max_size(3)
        .max_lifetime(Duration::from_millis(300))
        .setsession(["SET TIME ZONE 'America/Chicago'"])
        .build()
        .unwrap();
    pool.connect().await.unwrap();
    let mut pids = std::collections::HashSet::new();
    for _ in 0..10 {
        let r = pool
            .query(
                "SELECT current_setting('TimeZone') AS tz, pg_backend_pid() AS pid",
                &[],
            )
            .await
            .unwrap();
        assert_eq!(r[0].get::<String, _>("tz"), "America/Chicago");
        pids.insert(r[0].get::<i32, _>("pid"));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        pids.len() >= 2,
        "max_lifetime recycled connections: {pids:?}"
    );
    assert!(pool.status().closed_lifetime >= 1);
    pool.close().await;

    let bad = Pool::builder(url())
        .setsession(["SET no_such_setting = 1"])
        .build()
        .unwrap();
    let err = bad.query("SELECT 1", &[]).await.unwrap_err();
    assert!(err.to_string().contains("setsession"), "{err}");
    assert_eq!(bad.status().size, 0, "the connection was discarded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_open_connection_does_not_hang() {
    let pg = PgServer::shared();
    let relay = Relay::start(pg.socket_addr());
    let url = format!(
        "postgresql://postgres@127.0.0.1:{}/postgres?sslmode=disable&connect_timeout=1",
        relay.port()
    );
    let pool = Pool::builder(url)
        .min_size(1)
        .max_size(2)
        .ping_on_checkout(true)
        .acquire_timeout(Duration::from_secs(3))
        .build()
        .unwrap();
    pool.connect().await.unwrap();
    relay.set_blackhole(true);
    // The dead peer swallows everything, new connects included: the query must
    // fail within the acquire timeout rather than hang.
    let result = tokio::time::timeout(Duration::from_secs(6), pool.query("SELECT 1", &[])).await;
    let err = result.expect("the query did not hang").unwrap_err();
    assert!(err.is_operational(), "{err:?}");
    relay.set_blackhole(false);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let r = pool
        .query("SELECT 1", &[])
        .await
        .expect("a fresh connection works");
    assert_eq!(r.len(), 1);
    assert!(pool.status().closed_broken >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_fails_waiters_and_terminates_cleanly() {
    let pg = PgServer::start();
    let pool = Pool::builder(pg.url())
        .min_size(2)
        .max_size(2)
        .build()
        .unwrap();
    pool.connect().await.unwrap();
    let a = pool.getconn().await.unwrap();
    let b = pool.getconn().await.unwrap();
    let waiter = {
        let pool = pool.clone();
        tokio::spawn(async move { pool.getconn().await.err().map(|e| e.kind()) })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    let closing = {
        let pool = pool.clone();
        tokio::spawn(async move { pool.close().await })
    };
    assert_eq!(waiter.await.unwrap(), Some(ErrorKind::PoolClosed));
    assert_eq!(
        pool.getconn().await.err().unwrap().kind(),
        ErrorKind::PoolClosed
    );
    drop((a, b));
    closing.await.unwrap();
    assert_eq!(pool.status().size, 0);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let log = pg.log();
    assert!(!log.contains("unexpected EOF"), "{log}");
    assert!(pg.count_in_log("disconnection:") >= 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn independent_statements_pipeline_on_a_full_pool() {
    let pool = Pool::builder(url())
        .min_size(1)
        .max_size(1)
        .build()
        .unwrap();
    pool.connect().await.unwrap();
    let jobs = (0..200i32).map(|i| {
        let pool = pool.clone();
        async move {
            if i % 10 == 0 {
                pool.query("SELECT 1/0", &[]).await.map(|_| -1)
            } else {
                pool.query("SELECT $1::int AS n, pg_backend_pid() AS pid", &[&i])
                    .await
                    .map(|r| r[0].get::<i32, _>(0))
            }
        }
    });
    let results = futures_util::future::join_all(jobs).await;
    for (i, r) in results.into_iter().enumerate() {
        match r {
            Ok(n) => assert_eq!(n, i as i32),
            Err(e) => {
                assert_eq!(i % 10, 0, "only the failing statements fail: {e}");
                assert_eq!(e.kind(), ErrorKind::Data);
            }
        }
    }
    let s = pool.status();
    assert_eq!((s.size, s.in_use, s.idle), (1, 0, 1), "{s:?}");

    // A pipelined statement abandoned mid-flight is cleaned before the connection is reused.
    let sleeper = tokio::time::timeout(
        Duration::from_millis(100),
        pool.execute("SELECT pg_sleep(10)", &[]),
    );
    let quick = pool.query("SELECT 2 AS two", &[]);
    let (slept, two) = tokio::join!(sleeper, quick);
    assert!(slept.is_err());
    let _ = two;
    let started = Instant::now();
    let r = pool.query("SELECT 3 AS three", &[]).await.unwrap();
    assert_eq!(r[0].get::<i32, _>(0), 3);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );

    // Depth 1 turns pipelining off: extra callers wait.
    let serial = Pool::builder(url())
        .min_size(1)
        .max_size(1)
        .pipeline_depth(1)
        .build()
        .unwrap();
    serial.connect().await.unwrap();
    let started = Instant::now();
    let (a, b) = tokio::join!(
        serial.execute("SELECT pg_sleep(0.3)", &[]),
        serial.execute("SELECT pg_sleep(0.3)", &[])
    );
    a.unwrap();
    b.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(600));
    assert!(serial.status().waits >= 1);
}

/// `Pool::query_into`: rows go to the sink in order as they arrive (after a
/// reset per attempt), and the results carry the tag and count without rows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_into_streams_rows_to_a_sink() {
    use edgepg_tokio::{Row, RowSink};

    #[derive(Default)]
    struct Collect {
        resets: usize,
        seen: Vec<i32>,
    }
    impl RowSink for Collect {
        fn reset(&mut self) {
            self.resets += 1;
            self.seen.clear();
        }
        fn row(&mut self, row: Row) {
            self.seen.push(row.get(0));
        }
    }

    let pool = app_pool("query_into", 1, 1).await;
    let mut sink = Collect::default();
    let r = pool
        .query_into(
            "SELECT g::int4 FROM generate_series(1, 500) g",
            &[],
            &mut sink,
        )
        .await
        .unwrap();
    assert_eq!(sink.seen, (1..=500).collect::<Vec<i32>>());
    assert_eq!((r.len(), r.count(), r.status()), (0, 500, "SELECT 500"));
    assert_eq!(r.columns().len(), 1);
    // Cached now: parameters and the statement cache's path.
    let mut rows: Vec<Row> = Vec::new();
    let r = pool
        .query_into("SELECT $1::int4 + 1", &[&41i32], &mut rows)
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].get::<i32, _>(0), 42);
    assert_eq!(r.count(), 1);

    // The only backend is killed while idle: the statement runs on a new one.
    let admin = Pool::builder(url()).max_size(1).build().unwrap();
    admin
        .execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'query_into'",
            &[],
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut sink = Collect::default();
    pool.query_into(
        "SELECT g::int4 FROM generate_series(1, 3) g",
        &[],
        &mut sink,
    )
    .await
    .unwrap();
    assert_eq!(sink.seen, vec![1, 2, 3]);
    assert!(sink.resets >= 1);
    // An error is an error: no rows.
    let mut sink = Collect::default();
    let e = pool
        .query_into("SELECT 1/0", &[], &mut sink)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Data);
    assert!(sink.seen.is_empty());

    // On a checked-out connection and in a transaction, the same.
    let mut conn = pool.getconn().await.unwrap();
    let mut rows: Vec<Row> = Vec::new();
    let r = conn
        .query_into(
            "SELECT g::int4 FROM generate_series(1, 4) g",
            &[],
            &mut rows,
        )
        .await
        .unwrap();
    assert_eq!((rows.len(), r.len(), r.count()), (4, 0, 4));
    assert_eq!(rows[3].get::<i32, _>(0), 4);
    drop(conn);
    let mut tx = pool.begin().await.unwrap();
    let mut sink = Collect::default();
    let r = tx
        .query_into(
            "SELECT $1::int4 * g FROM generate_series(1, 3) g",
            &[&7i32],
            &mut sink,
        )
        .await
        .unwrap();
    assert_eq!(
        (sink.seen, r.count(), r.status()),
        (vec![7, 14, 21], 3, "SELECT 3")
    );
    let mut sink = Collect::default();
    let e = tx
        .query_into(
            "SELECT 10 / (2 - g) FROM generate_series(1, 3) g",
            &[],
            &mut sink,
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Data);
    assert_eq!(
        tx.commit().await.unwrap_err().kind(),
        ErrorKind::TransactionRollback
    );
    pool.close().await;
    admin.close().await;
}

/// A COMMIT in a transaction a statement broke reports the server's tag,
/// `ROLLBACK`, and the connection is out of the transaction.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commit_of_a_failed_transaction_says_rollback() {
    let pool = app_pool("commit_failed", 0, 1).await;
    let mut conn = pool.getconn().await.unwrap();
    conn.query("BEGIN", &[]).await.unwrap();
    assert!(conn.query("SELECT 1/0", &[]).await.is_err());
    let r = conn.query("COMMIT", &[]).await.unwrap();
    assert_eq!(r.status(), "ROLLBACK");
    assert!(!conn.in_transaction());
    conn.query("BEGIN", &[]).await.unwrap();
    let r = conn.query("COMMIT", &[]).await.unwrap();
    assert_eq!(r.status(), "COMMIT");
}

/// Notices keep every field the server sent (node-postgres' notice message).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notices_carry_their_fields() {
    let pool = app_pool("notice_fields", 0, 1).await;
    let mut conn = pool.getconn().await.unwrap();
    conn.batch_execute(
        "DO $$ BEGIN RAISE NOTICE 'with extras' USING DETAIL = 'the detail', HINT = 'the hint'; END $$",
    )
    .await
    .unwrap();
    let notices = conn.take_notices();
    assert_eq!(notices.len(), 1);
    let n = &notices[0];
    assert_eq!((n.severity.as_str(), n.code.as_str()), ("NOTICE", "00000"));
    assert_eq!(n.message, "with extras");
    assert_eq!(n.detail.as_deref(), Some("the detail"));
    assert_eq!(n.hint.as_deref(), Some("the hint"));
    assert!(n.routine.is_some() && n.file.is_some() && n.line.is_some());
}
