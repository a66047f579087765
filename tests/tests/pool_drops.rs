//! Dropped futures (SPEC §4 rule 11), the bound on a whole checkout and
//! `acquire_timeout(ZERO)` (rule 4), and `close()` ending LISTEN connections
//! (rule 12), against a real PostgreSQL behind a real TCP relay.

use std::time::{Duration, Instant};

use edgepg_tests::{PgServer, Relay};
use edgepg_tokio::{ErrorKind, Pool, PoolStatus};
use futures_util::StreamExt;

/// Closes `pool` and checks that the LISTEN stream `events` ends (or says
/// `PoolClosed`) soon after.
async fn close_ends_the_stream<S>(pool: &Pool, events: &mut S)
where
    S: futures_util::Stream<Item = edgepg_tokio::Result<edgepg_tokio::Notification>> + Unpin,
{
    tokio::time::timeout(Duration::from_secs(10), pool.close())
        .await
        .expect("close() finishes");
    let end = tokio::time::timeout(Duration::from_secs(5), events.next())
        .await
        .expect("the stream ends after close()");
    assert!(
        end.as_ref()
            .is_none_or(|r| r.as_ref().is_err_and(|e| e.kind() == ErrorKind::PoolClosed)),
        "{end:?}"
    );
}

/// A URL to the shared server through `relay` (`extra` is appended to the query string).
fn relay_url(relay: &Relay, extra: &str) -> String {
    format!(
        "postgresql://postgres@127.0.0.1:{}/postgres?sslmode=disable{extra}",
        relay.port()
    )
}

fn app_url(app: &str) -> String {
    let base = PgServer::shared().url();
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}application_name={app}")
}

/// Polls the pool's status until `cond` holds; panics after `limit`.
async fn wait_status(pool: &Pool, what: &str, limit: Duration, cond: impl Fn(&PoolStatus) -> bool) {
    let started = Instant::now();
    loop {
        let s = pool.status();
        if cond(&s) {
            return;
        }
        assert!(
            started.elapsed() < limit,
            "waited {limit:?} for {what}; status: {s:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The server's backends whose `application_name` is `app`.
async fn backends(admin: &Pool, app: &str) -> i64 {
    admin
        .query(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1",
            &[&app],
        )
        .await
        .unwrap()[0]
        .get(0)
}

/// Polls until `app` has `n` backends; panics after `limit`.
async fn wait_backends(admin: &Pool, app: &str, n: i64, limit: Duration) {
    let started = Instant::now();
    loop {
        let now = backends(admin, app).await;
        if now == n {
            return;
        }
        assert!(
            started.elapsed() < limit,
            "waited {limit:?} for {n} backends of {app}; there are {now}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn backend_pid(pool: &Pool) -> i32 {
    let mut conn = pool.getconn().await.unwrap();
    conn.backend_pid().await.unwrap()
}

/// A `connect()` dropped while its connects hang gives their slots back
/// once they fail, so rule 7 (fail fast) and the top-up still work.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_connect_gives_its_slots_back() {
    let relay = Relay::start(PgServer::shared().socket_addr());
    relay.set_blackhole(true);
    let pool = Pool::builder(relay_url(&relay, "&connect_timeout=1"))
        .min_size(2)
        .max_size(4)
        // Long enough that the maintainer does not retry while we look.
        .reconnect_interval(Duration::from_secs(2))
        .acquire_timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let dropped = tokio::time::timeout(Duration::from_millis(200), pool.connect()).await;
    assert!(
        dropped.is_err(),
        "connect() cannot finish against a black hole"
    );
    let s = pool.status();
    assert_eq!((s.size, s.pending), (2, 2), "{s:?}");

    // The attempts go on without the caller and fail after connect_timeout.
    wait_status(
        &pool,
        "the abandoned connects to fail",
        Duration::from_secs(5),
        |s| s.connect_failures >= 2,
    )
    .await;
    let s = pool.status();
    assert_eq!((s.size, s.pending, s.in_use), (0, 0, 0), "{s:?}");

    // Rule 7: the pool knows the server is unreachable and says so at once.
    let started = Instant::now();
    let err = pool
        .getconn()
        .await
        .err()
        .expect("the server is unreachable");
    assert_eq!(err.kind(), ErrorKind::DatabaseNotAvailable, "{err:?}");
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "{:?}",
        started.elapsed()
    );

    // Once the server answers, the maintainer tops the pool up by itself.
    relay.set_blackhole(false);
    wait_status(
        &pool,
        "the pool to top up to min_size",
        Duration::from_secs(10),
        |s| s.size == 2 && s.idle == 2 && s.pending == 0,
    )
    .await;
    let r = pool.query("SELECT 1", &[]).await.unwrap();
    assert_eq!(r.len(), 1);
    pool.close().await;
}

/// A pool of one connection through `relay`, pinged on checkout, and its backend.
async fn one_pinging_connection(relay: &Relay, acquire: Duration) -> (Pool, i32) {
    let pool = Pool::builder(relay_url(relay, ""))
        .min_size(1)
        .max_size(1)
        .ping_on_checkout(true)
        .acquire_timeout(acquire)
        .build()
        .unwrap();
    pool.connect().await.unwrap();
    let pid = backend_pid(&pool).await;
    (pool, pid)
}

/// A checkout dropped while its liveness ping is in flight (ping_on_checkout,
/// and the retry path of statements) gives its connection back, cleaned.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkout_dropped_during_ping_returns_the_connection() {
    let relay = Relay::start(PgServer::shared().socket_addr());
    let (pool, pid) = one_pinging_connection(&relay, Duration::from_secs(5)).await;

    for round in ["getconn", "query"] {
        relay.set_stalled(true);
        let dropped = match round {
            "getconn" => tokio::time::timeout(Duration::from_millis(150), pool.getconn())
                .await
                .map(|_| ()),
            _ => tokio::time::timeout(Duration::from_millis(150), pool.query("SELECT 1", &[]))
                .await
                .map(|_| ()),
        };
        assert!(
            dropped.is_err(),
            "{round}: the ping cannot answer while stalled"
        );
        relay.set_stalled(false);
        wait_status(
            &pool,
            &format!("{round}: the connection to come back"),
            Duration::from_secs(10),
            |s| s.in_use == 0 && s.idle == 1 && s.size == 1,
        )
        .await;
        // The abandoned ping was dealt with (rule 10) and the connection kept.
        assert_eq!(backend_pid(&pool).await, pid, "{round}");
        let s = pool.status();
        assert_eq!(
            (s.closed_dirty, s.closed_broken, s.waiting),
            (0, 0, 0),
            "{s:?}"
        );
    }
    pool.close().await;
}

/// The liveness ping counts against `acquire_timeout` (rule 4 bounds the
/// whole checkout), and the connection it was sent on is not lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ping_counts_against_the_acquire_timeout() {
    let relay = Relay::start(PgServer::shared().socket_addr());
    // No connect_timeout: the ping alone may take 2 s.
    let (pool, pid) = one_pinging_connection(&relay, Duration::from_millis(400)).await;
    relay.set_stalled(true);
    let started = Instant::now();
    let err = pool.getconn().await.err().expect("the ping cannot answer");
    let took = started.elapsed();
    assert_eq!(err.kind(), ErrorKind::PoolTimeout, "{err:?}");
    assert!(
        took < Duration::from_millis(1000),
        "the checkout took {took:?}"
    );
    relay.set_stalled(false);
    wait_status(
        &pool,
        "the connection to come back",
        Duration::from_secs(10),
        |s| s.in_use == 0 && s.idle == 1,
    )
    .await;
    assert_eq!(backend_pid(&pool).await, pid);
    pool.close().await;
}

/// `acquire_timeout(ZERO)` means "never wait for another caller to
/// release a connection", not "never wait for a connect": with capacity free
/// (connects under way that nobody else waits for, or room below `max_size`)
/// the checkout is served; `PoolFull` comes only when every connection, open
/// or opening, is taken.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zero_acquire_timeout_uses_free_capacity() {
    let relay = Relay::start(PgServer::shared().socket_addr());
    let pool = Pool::builder(relay_url(&relay, ""))
        .min_size(2)
        .max_size(3)
        .acquire_timeout(Duration::ZERO)
        .build()
        .unwrap();
    relay.set_stalled(true);
    let connecting = {
        let pool = pool.clone();
        tokio::spawn(async move { pool.connect().await })
    };
    wait_status(
        &pool,
        "two connects under way",
        Duration::from_secs(5),
        |s| s.pending == 2,
    )
    .await;
    let checkout = {
        let pool = pool.clone();
        tokio::spawn(async move { pool.getconn().await.map(drop) })
    };
    let started = Instant::now();
    while !checkout.is_finished() && pool.status().waiting == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            pool.status()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(
        !checkout.is_finished(),
        "a checkout with capacity free must not fail: {:?}",
        checkout.await
    );
    let s = pool.status();
    // It is served by a connect already under way: no third connection.
    assert_eq!((s.size, s.pending, s.waiting), (2, 2, 1), "{s:?}");
    relay.set_stalled(false);
    checkout
        .await
        .unwrap()
        .expect("served by a connect under way");
    connecting.await.unwrap().unwrap();

    // Below max_size with nothing idle: a new connection is opened.
    let a = pool.getconn().await.unwrap();
    let b = pool.getconn().await.unwrap();
    let c = pool
        .getconn()
        .await
        .expect("the third connection is opened");
    assert_eq!(pool.status().size, 3);
    // At max_size with nothing idle: PoolFull, at once.
    let started = Instant::now();
    let err = pool.getconn().await.err().expect("the pool is full");
    assert_eq!(err.kind(), ErrorKind::PoolFull, "{err:?}");
    assert!(started.elapsed() < Duration::from_millis(50));
    drop((a, b, c));
    pool.getconn().await.unwrap();
    let s = pool.status();
    assert!(s.size <= 3 && s.in_use == 0, "{s:?}");
    pool.close().await;
}

/// `close()` ends LISTEN connections (Terminate), ends their streams, and
/// `listen()` afterwards fails with `PoolClosed`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_ends_listen_connections() {
    let app = "edgepg_drops_close_listen";
    let admin = Pool::new(PgServer::shared().url()).unwrap();
    let pool = Pool::builder(app_url(app))
        .min_size(0)
        .max_size(2)
        .build()
        .unwrap();
    let mut events = pool.listen("drops_close").await.unwrap();
    pool.execute("NOTIFY drops_close, 'hi'", &[]).await.unwrap();
    let n = tokio::time::timeout(Duration::from_secs(5), events.next())
        .await
        .expect("the notification arrives")
        .expect("the stream is open")
        .unwrap();
    assert_eq!(n.payload, "hi");
    assert!(backends(&admin, app).await >= 1);

    close_ends_the_stream(&pool, &mut events).await;
    wait_backends(&admin, app, 0, Duration::from_secs(5)).await;
    let err = pool
        .listen("drops_close")
        .await
        .err()
        .expect("the pool is closed");
    assert_eq!(err.kind(), ErrorKind::PoolClosed, "{err:?}");
    admin.close().await;
}

/// A listener waiting to reconnect stops when the pool closes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_stops_listen_reconnects() {
    let app = "edgepg_drops_listen_reconnect";
    let admin = Pool::new(PgServer::shared().url()).unwrap();
    let reconnect = Duration::from_millis(300);
    let pool = Pool::builder(app_url(app))
        .min_size(0)
        .reconnect_interval(reconnect)
        .build()
        .unwrap();
    let mut events = pool.listen("drops_reconnect").await.unwrap();
    wait_backends(&admin, app, 1, Duration::from_secs(5)).await;
    admin
        .execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
            &[&app],
        )
        .await
        .unwrap();
    wait_backends(&admin, app, 0, Duration::from_secs(5)).await;
    // The listener now waits `reconnect` before it connects again.
    close_ends_the_stream(&pool, &mut events).await;
    // Nothing reconnects: watch for a few reconnect intervals.
    let started = Instant::now();
    while started.elapsed() < 4 * reconnect {
        assert_eq!(
            backends(&admin, app).await,
            0,
            "the listener reconnected after close()"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    admin.close().await;
}

/// Rule 11: a connection returned with a statement in flight where no runtime
/// is left to clean it on is discarded, and the pool counts it so.
#[test]
fn dirty_connection_dropped_outside_a_runtime_is_counted_out() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let pool = Pool::builder(PgServer::shared().url())
        .min_size(0)
        .max_size(2)
        .build()
        .unwrap();
    let conn = rt.block_on(async {
        let mut conn = pool.getconn().await.unwrap();
        let sleeping = conn.query("SELECT pg_sleep(5)", &[]);
        let _ = tokio::time::timeout(Duration::from_millis(50), sleeping).await;
        conn
    });
    assert_eq!(pool.status().in_use, 1);
    // On this plain thread there is no runtime to run the clean-up on.
    drop(conn);
    let s = pool.status();
    assert_eq!((s.in_use, s.size, s.closed_dirty), (0, 0, 1), "{s:?}");
    drop(rt);
}

/// With `acquire_timeout(ZERO)` a statement does not pipeline behind another
/// on a busy connection (that would be waiting): the pool is full.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zero_acquire_timeout_does_not_pipeline() {
    let pool = Pool::builder(PgServer::shared().url())
        .max_size(1)
        .acquire_timeout(Duration::ZERO)
        .build()
        .unwrap();
    let busy = {
        let pool = pool.clone();
        tokio::spawn(async move { pool.query("SELECT pg_sleep(0.5)", &[]).await })
    };
    wait_status(&pool, "the statement to run", Duration::from_secs(5), |s| {
        s.in_use == 1
    })
    .await;
    let started = Instant::now();
    let err = pool.query("SELECT 1", &[]).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PoolFull, "{err}");
    assert!(started.elapsed() < Duration::from_millis(200));
    busy.await.unwrap().unwrap();
    // With a timeout, the same statement shares the busy connection.
    let shared = Pool::builder(PgServer::shared().url())
        .max_size(1)
        .build()
        .unwrap();
    let (a, b) = tokio::join!(
        shared.query("SELECT pg_sleep(0.2), 1 AS n", &[]),
        shared.query("SELECT 2 AS n", &[])
    );
    assert_eq!(
        (
            a.unwrap()[0].get::<i32, _>("n"),
            b.unwrap()[0].get::<i32, _>("n")
        ),
        (1, 2)
    );
    pool.close().await;
    shared.close().await;
}
