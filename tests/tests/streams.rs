//! Cursors, LISTEN/NOTIFY, COPY, timeouts and transaction options (issue 4).

use std::time::{Duration, Instant};

use futures_util::{StreamExt, TryStreamExt};

use edgepg_tests::PgServer;
use edgepg_tokio::{ErrorKind, IsolationLevel, Pool, TransactionOptions};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_a_cursor_returns_the_connection_clean() {
    let app = "edgepg_cursor_drop";
    let pool = Pool::builder(format!(
        "{}&application_name={app}",
        PgServer::shared().url()
    ))
    .max_size(1)
    .build()
    .unwrap();
    let mut rows = pool
        .cursor("SELECT g FROM generate_series(1, 100000) g", &[], 100)
        .await
        .unwrap();
    for expected in 1..=150 {
        assert_eq!(
            rows.try_next().await.unwrap().unwrap().get::<i32, _>(0),
            expected
        );
    }
    drop(rows);
    let started = Instant::now();
    let r = pool
        .query(
            "SELECT count(*) FROM pg_cursors WHERE name LIKE 'edgepg_cursor%'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(r[0].get::<i64, _>(0), 0, "the cursor was closed");
    assert!(started.elapsed() < Duration::from_secs(1));
    let state: String = pool
        .query(
            "SELECT state FROM pg_stat_activity WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
        .unwrap()[0]
        .get(0);
    assert_eq!(state, "active");
    let err = pool.cursor("SELEC broken", &[], 10).await.err().unwrap();
    assert_eq!(err.kind(), ErrorKind::Programming);
    assert!(pool.cursor("SELECT 1", &[], 0).await.is_err());
    assert_eq!(pool.status().in_use, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notify_reaches_listen_also_after_a_restart() {
    let pg = PgServer::start();
    let pool = Pool::builder(pg.url())
        .reconnect_interval(Duration::from_millis(200))
        .build()
        .unwrap();
    let mut events = pool.listen("edgepg events").await.unwrap();
    pool.execute("SELECT pg_notify('edgepg events', 'first')", &[])
        .await
        .unwrap();
    let n = tokio::time::timeout(Duration::from_secs(5), events.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(
        (n.channel.as_str(), n.payload.as_str()),
        ("edgepg events", "first")
    );

    let server = std::sync::Arc::new(pg);
    let s = server.clone();
    tokio::task::spawn_blocking(move || s.restart())
        .await
        .unwrap();
    // Keep notifying until the listener is back (it re-LISTENs by itself).
    let deadline = Instant::now() + Duration::from_secs(10);
    let got = loop {
        assert!(
            Instant::now() < deadline,
            "no notification after the restart"
        );
        let _ = pool
            .execute("SELECT pg_notify('edgepg events', 'after restart')", &[])
            .await;
        if let Ok(Some(n)) = tokio::time::timeout(Duration::from_millis(300), events.next()).await {
            break n.unwrap();
        }
    };
    assert_eq!(got.payload, "after restart");
    drop(events);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_a_million_rows_in_and_out() {
    let pool = Pool::builder(PgServer::shared().url())
        .max_size(2)
        .build()
        .unwrap();
    pool.execute("DROP TABLE IF EXISTS s_copy", &[])
        .await
        .unwrap();
    pool.execute("CREATE TABLE s_copy (id int8, label text)", &[])
        .await
        .unwrap();
    let rows = 1_000_000u64;
    let mut copy = pool
        .copy_in("COPY s_copy (id, label) FROM STDIN")
        .await
        .unwrap();
    let mut sent_sum = 0u64;
    let mut chunk = String::new();
    for i in 1..=rows {
        let line = format!("{i}\trow {i} \\\\ tab\n");
        sent_sum = sent_sum.wrapping_add(checksum(line.as_bytes()));
        chunk.push_str(&line);
        if chunk.len() > 64 * 1024 {
            copy.send(std::mem::take(&mut chunk)).await.unwrap();
        }
    }
    copy.send(chunk).await.unwrap();
    assert_eq!(copy.finish().await.unwrap(), rows);

    let mut out = pool
        .copy_out("COPY s_copy (id, label) TO STDOUT")
        .await
        .unwrap();
    let (mut got_sum, mut lines, mut carry) = (0u64, 0u64, Vec::new());
    while let Some(data) = out.try_next().await.unwrap() {
        carry.extend_from_slice(&data);
        while let Some(end) = carry.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = carry.drain(..=end).collect();
            got_sum = got_sum.wrapping_add(checksum(&line));
            lines += 1;
        }
    }
    assert_eq!(lines, rows);
    assert_eq!(got_sum, sent_sum, "the data came back byte for byte");
    let label: String = pool
        .query("SELECT label FROM s_copy WHERE id = 7", &[])
        .await
        .unwrap()[0]
        .get(0);
    assert_eq!(label, "row 7 \\ tab");

    // An unfinished COPY stores nothing and leaves the connection usable.
    let mut aborted = pool
        .copy_in("COPY s_copy (id, label) FROM STDIN")
        .await
        .unwrap();
    aborted.send("0\tnever\n").await.unwrap();
    drop(aborted);
    let n: i64 = pool
        .query("SELECT count(*) FROM s_copy WHERE id = 0", &[])
        .await
        .unwrap()[0]
        .get(0);
    assert_eq!(n, 0);
    pool.execute("DROP TABLE s_copy", &[]).await.unwrap();
    assert_eq!(pool.status().in_use, 0);
}

fn checksum(line: &[u8]) -> u64 {
    line.iter().fold(1469598103934665603u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(1099511628211)
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_timeout_cancels_on_the_server() {
    let app = "edgepg_query_timeout";
    let url = format!("{}&application_name={app}", PgServer::shared().url());
    let pool = Pool::builder(url)
        .max_size(1)
        .query_timeout(Duration::from_millis(100))
        .build()
        .unwrap();
    let started = Instant::now();
    let err = pool.execute("SELECT pg_sleep(10)", &[]).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::QueryCanceled, "{err}");
    assert!(started.elapsed() < Duration::from_millis(500));
    let r = pool.query("SELECT 1", &[]).await.unwrap();
    assert_eq!(r.len(), 1);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "the next query did not wait for the sleep"
    );
    assert_eq!(
        sleeping_statements(app).await,
        0,
        "the server stopped sleeping"
    );
}

/// The query timeout also bounds statements inside a transaction and a
/// cursor's FETCHes: the statement is cancelled on the server, the
/// transaction rolled back, and the same connection serves the next caller.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_timeout_inside_transactions_and_cursors() {
    let app = "edgepg_tx_timeout";
    let url = format!("{}&application_name={app}", PgServer::shared().url());
    let pool = Pool::builder(url)
        .max_size(1)
        .query_timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    pool.execute("CREATE TABLE IF NOT EXISTS s_tx_timeout (id int)", &[])
        .await
        .unwrap();
    pool.execute("TRUNCATE s_tx_timeout", &[]).await.unwrap();
    let pid: i32 = pool.query("SELECT pg_backend_pid()", &[]).await.unwrap()[0].get(0);

    let mut tx = pool.begin().await.unwrap();
    tx.execute("INSERT INTO s_tx_timeout VALUES (1)", &[])
        .await
        .unwrap();
    let started = Instant::now();
    let err = tx.execute("SELECT pg_sleep(10)", &[]).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::QueryCanceled, "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    let err = tx.commit().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TransactionRollback, "{err}");

    // Nothing committed, the server is not sleeping, and the backend is the same.
    let r = pool
        .query(
            "SELECT count(*)::int AS n, pg_backend_pid() AS pid FROM s_tx_timeout",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(r[0].get::<i32, _>("n"), 0);
    assert_eq!(r[0].get::<i32, _>("pid"), pid, "the connection was kept");
    assert!(started.elapsed() < Duration::from_secs(3));

    // A cursor whose FETCH outlives the timeout.
    let started = Instant::now();
    let mut rows = pool
        .cursor("SELECT pg_sleep(10) FROM generate_series(1, 2)", &[], 1)
        .await
        .unwrap();
    let err = rows.next().await.unwrap().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::QueryCanceled, "{err}");
    drop(rows);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    let r = pool.query("SELECT 1 AS one", &[]).await.unwrap();
    assert_eq!(r[0].get::<i32, _>("one"), 1);

    assert_eq!(
        sleeping_statements(app).await,
        0,
        "the server stopped sleeping"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transactions_with_options_and_savepoints() {
    let pool = Pool::new(PgServer::shared().url()).unwrap();
    let opts = TransactionOptions::new()
        .isolation(IsolationLevel::Serializable)
        .read_only(true)
        .deferrable(true);
    let mut tx = pool.begin_with(opts).await.unwrap();
    let r = tx.query("SELECT current_setting('transaction_isolation') AS i, current_setting('transaction_read_only') AS ro", &[]).await.unwrap();
    assert_eq!(r[0].get::<String, _>("i"), "serializable");
    assert_eq!(r[0].get::<String, _>("ro"), "on");
    let err = tx
        .execute("CREATE TEMP TABLE nope (a int)", &[])
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("25006"));
    tx.rollback().await.unwrap();

    pool.execute("CREATE TABLE IF NOT EXISTS s_sp (id int)", &[])
        .await
        .unwrap();
    pool.execute("TRUNCATE s_sp", &[]).await.unwrap();
    let mut tx = pool.begin().await.unwrap();
    tx.execute("INSERT INTO s_sp VALUES (1)", &[])
        .await
        .unwrap();
    tx.savepoint("before two").await.unwrap();
    tx.execute("INSERT INTO s_sp VALUES (2)", &[])
        .await
        .unwrap();
    tx.query("SELECT 1/0", &[]).await.unwrap_err();
    tx.rollback_to("before two").await.unwrap();
    tx.execute("INSERT INTO s_sp VALUES (3)", &[])
        .await
        .unwrap();
    // A savepoint name is one identifier, dots and quotes included.
    tx.savepoint("v1.2 \"q\"").await.unwrap();
    tx.execute("INSERT INTO s_sp VALUES (4)", &[])
        .await
        .unwrap();
    tx.rollback_to("v1.2 \"q\"").await.unwrap();
    tx.release_savepoint("v1.2 \"q\"").await.unwrap();
    tx.commit().await.unwrap();
    let ids: Vec<i32> = pool
        .query("SELECT id FROM s_sp ORDER BY id", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(ids, vec![1, 3]);
    pool.execute("DROP TABLE s_sp", &[]).await.unwrap();
}

/// How many `pg_sleep` statements of `app` the server is still running.
async fn sleeping_statements(app: &str) -> i64 {
    let admin = Pool::new(PgServer::shared().url()).unwrap();
    admin
        .query("SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND query LIKE '%pg_sleep%' AND state = 'active'", &[&app])
        .await
        .unwrap()[0]
        .get(0)
}
