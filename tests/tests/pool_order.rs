//! Who gets which connection (SPEC §4 rule 2) and when old connections go
//! (rule 8), against a real PostgreSQL.

use std::time::Duration;

use edgepg_tests::PgServer;
use edgepg_tokio::{Pool, PooledConnection};

async fn pid(conn: &mut PooledConnection) -> i32 {
    conn.backend_pid().await.unwrap()
}

/// Polls `cond` on the pool's status until it holds; panics after `limit`.
async fn wait_for(pool: &Pool, what: &str, cond: impl Fn(&edgepg_tokio::PoolStatus) -> bool) {
    let started = std::time::Instant::now();
    while !cond(&pool.status()) {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{what}: {:?}",
            pool.status()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Rule 2: idle connections go out most recently used first; waiters are
/// served first in, first out, and a returned connection goes straight to
/// the oldest waiter.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn most_recently_used_first_and_waiters_in_order() {
    let pool = Pool::builder(PgServer::shared().url())
        .min_size(3)
        .max_size(3)
        .build()
        .unwrap();
    pool.connect().await.unwrap();
    let (mut a, mut b, mut c) = (
        pool.getconn().await.unwrap(),
        pool.getconn().await.unwrap(),
        pool.getconn().await.unwrap(),
    );
    let (pa, pb, pc) = (pid(&mut a).await, pid(&mut b).await, pid(&mut c).await);
    // Returned in the order a, c, b: b is the most recently used.
    drop(a);
    drop(c);
    drop(b);
    let mut first = pool.getconn().await.unwrap();
    let mut second = pool.getconn().await.unwrap();
    assert_eq!((pid(&mut first).await, pid(&mut second).await), (pb, pc));
    let mut third = pool.getconn().await.unwrap();
    assert_eq!(pid(&mut third).await, pa);

    // Three waiters, queued in order; each returned connection serves the oldest.
    let mut waiters = Vec::new();
    for i in 0..3 {
        let waiting = pool.clone();
        waiters.push(tokio::spawn(async move {
            let mut conn = waiting.getconn().await.unwrap();
            let got = pid(&mut conn).await;
            // Kept, so that it does not serve the next waiter itself.
            (i, got, conn)
        }));
        wait_for(&pool, "the waiter to queue", |s| s.waiting == i + 1).await;
    }
    let mut served = Vec::new();
    let mut kept = Vec::new();
    for (held, waiter) in [first, second, third].into_iter().zip(waiters) {
        let mut held = held;
        let expected = pid(&mut held).await;
        drop(held);
        let (i, got, conn) = waiter.await.unwrap();
        served.push(i);
        kept.push(conn);
        assert_eq!(got, expected, "waiter {i} got the connection just returned");
    }
    assert_eq!(served, vec![0, 1, 2]);
    drop(kept);
    pool.close().await;
}

/// Rule 8: connections past `max_lifetime` are closed when idle, never while
/// in use, and replaced up to `min_size`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_lifetime_waits_for_the_connection_to_be_idle() {
    let pool = Pool::builder(PgServer::shared().url())
        .min_size(1)
        .max_size(1)
        .max_lifetime(Duration::from_millis(200))
        .build()
        .unwrap();
    pool.connect().await.unwrap();
    let mut held = pool.getconn().await.unwrap();
    let old = pid(&mut held).await;
    // Well past the lifetime, still in use: it keeps working on the same backend.
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(pid(&mut held).await, old);
    assert_eq!(pool.status().closed_lifetime, 0);
    drop(held);
    // Once idle it is recycled, and the pool is back at min_size.
    wait_for(&pool, "the old connection to be recycled", |s| {
        s.closed_lifetime >= 1 && s.size == 1 && s.idle == 1
    })
    .await;
    let mut fresh = pool.getconn().await.unwrap();
    assert_ne!(pid(&mut fresh).await, old);
    drop(fresh);
    pool.close().await;
}
