//! A server-side cursor streams 10 million rows in bounded memory (issue 4).
//! Alone in its binary so that the peak RSS it reads is its own.

use futures_util::TryStreamExt;

use edgepg_tests::PgServer;
use edgepg_tokio::Pool;

fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_million_rows_in_bounded_memory() {
    let rows: i64 = 10_000_000;
    let pool = Pool::builder(PgServer::shared().url())
        .max_size(1)
        .build()
        .unwrap();
    pool.query("SELECT 1", &[]).await.unwrap();
    let before = peak_rss_kib();
    let mut stream = pool
        .cursor(
            "SELECT g, g * 2 AS twice FROM generate_series(1, $1::int8) g",
            &[&rows],
            20_000,
        )
        .await
        .unwrap();
    let (mut count, mut sum) = (0i64, 0i64);
    while let Some(row) = stream.try_next().await.unwrap() {
        count += 1;
        sum = sum.wrapping_add(row.get::<i64, _>(1));
    }
    drop(stream);
    let after = peak_rss_kib();
    assert_eq!(count, rows);
    assert_eq!(sum, rows * (rows + 1));
    eprintln!("cursor: {rows} rows, peak RSS {before} KiB before, {after} KiB after");
    assert!(
        after - before < 64 * 1024,
        "peak RSS grew by {} KiB",
        after - before
    );
    // The connection came back clean and usable.
    let s = pool.status();
    assert_eq!((s.in_use, s.size), (0, 1));
    assert_eq!(pool.query("SELECT 1", &[]).await.unwrap().len(), 1);
}
