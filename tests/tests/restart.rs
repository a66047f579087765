//! A real server restart under write load (SPEC §4 rules 6 and 7).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use edgepg_tests::PgServer;
use edgepg_tokio::{ErrorKind, Pool};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_under_load_loses_and_duplicates_nothing() {
    let pg = Arc::new(PgServer::start());
    let reconnect = Duration::from_millis(500);
    let pool = Pool::builder(pg.url())
        .min_size(4)
        .max_size(8)
        .reconnect_interval(reconnect)
        .acquire_timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    pool.connect().await.unwrap();
    pool.execute("CREATE TABLE r_keys (k int NOT NULL)", &[])
        .await
        .unwrap();

    let acked = Arc::new(Mutex::new(Vec::new()));
    let never_sent = Arc::new(Mutex::new(Vec::new()));
    let errors: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
    let successes_at = Arc::new(Mutex::new(Vec::new()));
    let origin = Instant::now();
    let run_for = Duration::from_secs(5);
    let mut tasks = Vec::new();
    for t in 0..32 {
        let (pool, acked, never_sent, errors, successes_at) = (
            pool.clone(),
            acked.clone(),
            never_sent.clone(),
            errors.clone(),
            successes_at.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut i = 0;
            while origin.elapsed() < run_for {
                let key: i32 = t * 1_000_000 + i;
                i += 1;
                let outcome = tokio::time::timeout(
                    Duration::from_secs(15),
                    pool.execute("INSERT INTO r_keys VALUES ($1)", &[&key]),
                )
                .await
                .expect("no insert hangs");
                match outcome {
                    Ok(1) => {
                        acked.lock().unwrap().push(key);
                        successes_at.lock().unwrap().push(origin.elapsed());
                    }
                    Ok(n) => panic!("insert affected {n} rows"),
                    Err(e) => {
                        assert!(
                            matches!(
                                e.kind(),
                                ErrorKind::ConnectionLost | ErrorKind::DatabaseNotAvailable
                            ),
                            "unexpected failure kind: {e:?}"
                        );
                        if e.kind() == ErrorKind::DatabaseNotAvailable {
                            never_sent.lock().unwrap().push(key);
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                        *errors
                            .lock()
                            .unwrap()
                            .entry(format!("{:?}", e.kind()))
                            .or_default() += 1;
                    }
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let server = pg.clone();
    let restarted_at = tokio::task::spawn_blocking(move || {
        server.restart();
        origin.elapsed()
    })
    .await
    .unwrap();
    for t in tasks {
        t.await.expect("no task panicked or hung");
    }
    let first_success_after = successes_at
        .lock()
        .unwrap()
        .iter()
        .copied()
        .filter(|at| *at > restarted_at)
        .min()
        .expect("the pool served again after the restart");
    let recovery = first_success_after - restarted_at;
    assert!(
        recovery <= reconnect + Duration::from_secs(2),
        "recovered after {recovery:?}"
    );

    let rows = pool
        .query("SELECT k, count(*)::int8 AS n FROM r_keys GROUP BY k", &[])
        .await
        .unwrap();
    let stored: HashMap<i32, i64> = rows.iter().map(|r| (r.get("k"), r.get("n"))).collect();
    let duplicates = stored.values().filter(|n| **n > 1).count();
    assert_eq!(duplicates, 0, "no write ran twice");
    let acked = acked.lock().unwrap().clone();
    let lost = acked.iter().filter(|k| !stored.contains_key(k)).count();
    assert_eq!(lost, 0, "every acknowledged insert is stored");
    let phantom = never_sent
        .lock()
        .unwrap()
        .iter()
        .filter(|k| stored.contains_key(k))
        .count();
    assert_eq!(phantom, 0, "a DatabaseNotAvailable insert never ran");
    eprintln!(
        "restart test: {} acked, {} stored, errors {:?}, recovered {:?} after the restart",
        acked.len(),
        stored.len(),
        errors.lock().unwrap(),
        recovery
    );
    pool.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_session_pool_closes_idle_connections() {
    use edgepg_tokio::{Config, Session};
    let pg = PgServer::shared();
    let mut config = Config::parse(&pg.url()).unwrap();
    config.application_name("edgepg_idle_session");
    let session = Session::new(config.clone()).unwrap();
    session.query("SELECT 1", &[]).await.unwrap();
    let shared = session.pool().status();
    assert_eq!(
        (shared.size, shared.min_size),
        (1, 0),
        "shared pools keep nothing open when idle"
    );
    // The registry pool uses the default idle timeout (60 s); the rule itself, shortened:
    let pool = Pool::builder(config)
        .min_size(0)
        .idle_timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    pool.query("SELECT 1", &[]).await.unwrap();
    assert_eq!(pool.status().size, 1);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(pool.status().size, 0, "an idle pool closes its connections");
    assert_eq!(pool.status().closed_idle, 1);
}
