//! Tunnel overhead vs direct TCP on SPEC §10 W1 and W7 (a benchmark, not a test).
//!
//! ```sh
//! cargo run --release -p edgepg-proxy --example overhead
//! ```
//!
//! Starts a throwaway PostgreSQL (or uses `$PGSQL_TEST`) and an in-process
//! edgepg-proxy on its own runtime (as the binary runs it: multi-threaded),
//! then measures, side by side, through `TokioTransport::new()` and `TokioTransport::websocket(…)`:
//!
//! * W1: 10 000 concurrent `select 1 as x` through a pool of 4 (median of 3 runs);
//! * W7: connect-to-first-row latency of a fresh pool (median of 20);
//!
//! in 5 interleaved rounds; times are medians over the rounds, ratios the
//! median of the per-round ratios.

use std::time::{Duration, Instant};

use clap::Parser;
use edgepg_proxy::{Options, Proxy};
use edgepg_tests::PgServer;
use edgepg_tokio::{Pool, TokioTransport};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

async fn w1(url: &str, transport: TokioTransport) -> Duration {
    let pool = Pool::builder_with(url, transport)
        .min_size(4)
        .max_size(4)
        .acquire_timeout(Duration::from_secs(120))
        .build()
        .unwrap();
    pool.connect().await.unwrap();
    // Warm up the statement caches.
    for _ in 0..16 {
        pool.query("select 1 as x", &[]).await.unwrap();
    }
    let mut runs = Vec::new();
    for _ in 0..3 {
        let started = Instant::now();
        let tasks: Vec<_> = (0..10_000)
            .map(|_| {
                let pool = pool.clone();
                tokio::spawn(async move { pool.query("select 1 as x", &[]).await.unwrap() })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        runs.push(started.elapsed());
    }
    pool.close().await;
    median(runs)
}

async fn w7(url: &str, transport: TokioTransport) -> Duration {
    let mut runs = Vec::new();
    for _ in 0..20 {
        let pool = Pool::builder_with(url, transport.clone())
            .min_size(0)
            .max_size(1)
            .build()
            .unwrap();
        let started = Instant::now();
        pool.query("select 1 as x", &[]).await.unwrap();
        runs.push(started.elapsed());
        pool.close().await;
    }
    median(runs)
}

fn main() {
    let pg = PgServer::shared();
    let allow = format!("127.0.0.1:{}", pg.port());
    let opts = Options::parse_from(["edgepg-proxy", "--listen", "127.0.0.1:0", "--allow", &allow]);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let proxy = Proxy::bind(opts).await.unwrap();
            tx.send(proxy.local_addr()).unwrap();
            proxy.run(std::future::pending()).await;
        });
    });
    let proxy = rx.recv().unwrap();
    let ws = format!("ws://{proxy}/v1");
    let url = pg.url();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let direct = TokioTransport::new();
        let tunnel = TokioTransport::websocket(&ws);
        // Interleaved rounds, so that load from elsewhere on the machine
        // affects both alike; each figure is the median over the rounds.
        let rounds = 5;
        let (mut w1d, mut w1t, mut w1r) = (Vec::new(), Vec::new(), Vec::new());
        let (mut w7d, mut w7t, mut w7r) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..rounds {
            let (d, t) = (
                w1(&url, direct.clone()).await,
                w1(&url, tunnel.clone()).await,
            );
            w1d.push(d);
            w1t.push(t);
            w1r.push(t.as_secs_f64() / d.as_secs_f64());
            let (d, t) = (
                w7(&url, direct.clone()).await,
                w7(&url, tunnel.clone()).await,
            );
            w7d.push(d);
            w7t.push(t);
            w7r.push(t.as_secs_f64() / d.as_secs_f64());
        }
        let ratio = |mut v: Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        println!("| workload | direct TCP | through edgepg-proxy | tunnel / direct |");
        println!("|---|---|---|---|");
        println!(
            "| W1 10 000 × `select 1 as x`, pool of 4 | {:.1} ms | {:.1} ms | {:.2} |",
            median(w1d).as_secs_f64() * 1e3,
            median(w1t).as_secs_f64() * 1e3,
            ratio(w1r)
        );
        println!(
            "| W7 connect to first row | {:.2} ms | {:.2} ms | {:.2} |",
            median(w7d).as_secs_f64() * 1e3,
            median(w7t).as_secs_f64() * 1e3,
            ratio(w7r)
        );
    });
}
