//! `cargo xtask bench` (Rust side): the SPEC §10 workloads against a real
//! PostgreSQL, edgepg next to tokio-postgres, deadpool-postgres and bb8-postgres,
//! in one run. Prints one JSON line per measurement (median of several rounds).
//!
//! Not a test: it asserts nothing about speed.

use std::future::Future;
use std::time::{Duration, Instant, SystemTime};

use futures_util::future::join_all;
use tokio_postgres::NoTls;

const ROUNDS: usize = 7;

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

/// `BENCH_CLIENT=edgepg` (or another client's exact name) runs only that client,
/// e.g. under `valgrind --tool=callgrind` to count instructions.
fn selected(client: &str) -> bool {
    std::env::var("BENCH_CLIENT").map_or(true, |c| client == c)
}

async fn measure<F, Fut>(mut f: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    f().await; // warm-up
    let mut times = Vec::with_capacity(ROUNDS);
    for _ in 0..ROUNDS {
        let t = Instant::now();
        f().await;
        times.push(t.elapsed());
    }
    median(times)
}

/// W5's typed decode, the same for edgepg's rows and tokio-postgres's.
macro_rules! decode_w5_typed {
    ($rows:expr) => {{
        let mut cells = 0usize;
        for row in $rows {
            let _: i32 = row.get(0);
            let _: String = row.get(1);
            let _: f64 = row.get(2);
            let _: SystemTime = row.get(3);
            let _: bool = row.get(4);
            let _: String = row.get(5);
            let _: RawBytes = row.get(6);
            let _: Vec<i32> = row.get(7);
            cells += 8;
        }
        assert_eq!(cells, 80_000);
    }};
}

fn report(workload: &str, client: &str, ops: u64, took: Duration) {
    println!(
        "{{\"workload\":\"{workload}\",\"client\":\"{client}\",\"ops\":{ops},\"median_ms\":{:.3},\"ops_per_s\":{:.0}}}",
        took.as_secs_f64() * 1e3,
        ops as f64 / took.as_secs_f64()
    );
}

/// Like [`report`], with the round trips per run counted at the proxy.
fn report_round_trips(workload: &str, client: &str, took: Duration, round_trips: f64) {
    println!(
        "{{\"workload\":\"{workload}\",\"client\":\"{client}\",\"ops\":1,\"median_ms\":{:.3},\"ops_per_s\":{:.0},\"round_trips\":{round_trips:.1}}}",
        took.as_secs_f64() * 1e3,
        1.0 / took.as_secs_f64()
    );
}

/// tokio-postgres has no numeric type without extra crates: take its bytes (cheaper
/// than edgepg's exact decimal text, so this favours the peer).
struct RawBytes(#[allow(dead_code)] Vec<u8>);

impl<'a> postgres_types::FromSql<'a> for RawBytes {
    fn from_sql(
        _: &postgres_types::Type,
        raw: &'a [u8],
    ) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(RawBytes(raw.to_vec()))
    }
    fn accepts(_: &postgres_types::Type) -> bool {
        true
    }
}

struct Raw {
    clients: Vec<tokio_postgres::Client>,
}

impl Raw {
    async fn connect(url: &str, n: usize) -> Raw {
        let mut clients = Vec::new();
        for _ in 0..n {
            let (client, conn) = tokio_postgres::connect(url, NoTls)
                .await
                .expect("raw connect");
            tokio::spawn(conn);
            clients.push(client);
        }
        Raw { clients }
    }
}

async fn prepare_all(raw: &Raw, sql: &str) -> Vec<tokio_postgres::Statement> {
    let mut out = Vec::new();
    for c in &raw.clients {
        out.push(c.prepare(sql).await.unwrap());
    }
    out
}

fn w3_params() -> (
    i32,
    String,
    SystemTime,
    Option<i32>,
    bool,
    Vec<u8>,
    serde_json::Value,
) {
    (
        42,
        "hello world".to_string(),
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
        None,
        true,
        vec![1, 2, 3, 4, 5, 6, 7, 8],
        serde_json::json!({"a": 1, "b": [true, null, "x"]}),
    )
}

const W3: &str =
    "SELECT $1::int4, $2::text, $3::timestamptz, $4::int4, $5::bool, $6::bytea, $7::jsonb";
const W4: &str = "SELECT * FROM pg_catalog.pg_type WHERE typname = $1";
const W5: &str = "SELECT g AS id, 'name ' || g AS name, g * 1.5::float8 AS score, \
    timestamptz '2024-01-01' + g * interval '1 second' AS at, g % 2 = 0 AS even, \
    md5(g::text) AS digest, (g::numeric / 7)::numeric(12, 4) AS ratio, ARRAY[g, g + 1] AS pair \
    FROM generate_series(1, 10000) g";

/// W6's shape: `tasks` tasks, each running `op` `per_task` times on a clone of `pool`.
async fn w6_round<P, F, Fut>(pool: P, tasks: usize, per_task: usize, op: F)
where
    P: Clone + Send + 'static,
    F: Fn(P) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let handles: Vec<_> = (0..tasks)
        .map(|_| {
            let (pool, op) = (pool.clone(), op.clone());
            tokio::spawn(async move {
                for _ in 0..per_task {
                    op(pool.clone()).await;
                }
            })
        })
        .collect();
    for h in handles {
        h.await.unwrap();
    }
}

/// The URL of the harness's cleartext-password role (or `PGSQL_BENCH_PASSWORD_URL`),
/// `sslmode=disable`; the superuser URL when neither exists.
fn server_password_url(url: &str) -> String {
    if let Ok(u) = std::env::var("PGSQL_BENCH_PASSWORD_URL") {
        return u;
    }
    let config = edgepg_tokio::Config::parse(url).unwrap();
    let (edgepg_tokio::Target::Tcp { host, port }, Some((user, password))) = (
        &config.targets()[0],
        PASSWORD_ROLE.get().and_then(|r| r.as_ref()),
    ) else {
        return url.to_string();
    };
    format!("postgresql://{user}:{password}@{host}:{port}/postgres?sslmode=disable")
}

/// The managed server's cleartext-password role, when the benchmark started one.
static PASSWORD_ROLE: std::sync::OnceLock<Option<(String, String)>> = std::sync::OnceLock::new();

fn server_port(url: &str) -> String {
    let config = edgepg_tokio::Config::parse(url).unwrap();
    match &config.targets()[0] {
        edgepg_tokio::Target::Tcp { host, port } => format!("{host}:{port}"),
        other => panic!("the benchmark needs a TCP server, not {other}"),
    }
}

/// W1 and W7 through an in-process edgepg-proxy (its own multi-threaded runtime,
/// as the binary runs it), next to the same client over direct TCP.
async fn tunnel(url: &str, password_url: &str, allow: &str, n: usize) {
    use clap::Parser;
    let opts = edgepg_proxy::Options::parse_from([
        "edgepg-proxy",
        "--listen",
        "127.0.0.1:0",
        "--allow",
        allow,
    ]);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let proxy = edgepg_proxy::Proxy::bind(opts).await.unwrap();
            tx.send((proxy.local_addr(), proxy.metrics())).unwrap();
            proxy.run(std::future::pending()).await;
        });
    });
    let (addr, metrics) = rx.recv().unwrap();
    let ws = format!("ws://{addr}/v1");
    let transport = edgepg_tokio::TokioTransport::websocket(&ws);
    if selected("edgepg (tunnel)") {
        let pool = edgepg_tokio::Pool::builder_with(url, transport.clone())
            .min_size(4)
            .max_size(4)
            .build()
            .unwrap();
        pool.connect().await.unwrap();
        let t = measure(|| async {
            join_all((0..n).map(|_| pool.query("select 1 as x", &[]))).await;
        })
        .await;
        report("W1", "edgepg (tunnel)", n as u64, t);
        pool.close().await;
        let before = metrics.snapshot().round_trips;
        let t = measure(|| async {
            let pool = edgepg_tokio::Pool::builder_with(password_url, transport.clone())
                .min_size(0)
                .max_size(1)
                .build()
                .unwrap();
            pool.query("SELECT 1", &[]).await.unwrap();
            pool.close().await;
        })
        .await;
        let runs = (ROUNDS + 1) as f64;
        let round_trips = (metrics.snapshot().round_trips - before) as f64 / runs;
        report_round_trips("W7", "edgepg (tunnel)", t, round_trips);
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let server;
    let url = match std::env::var("PGSQL_BENCH") {
        Ok(url) => url,
        Err(_) => {
            server = edgepg_tests::PgServer::start();
            let _ = PASSWORD_ROLE.set(
                server
                    .password_user()
                    .map(|(u, p)| (u.to_string(), p.to_string())),
            );
            server.url()
        }
    };
    let only: Option<String> = std::env::args().nth(1);
    let wants = |w: &str| only.as_deref().is_none_or(|o| o.split(',').any(|x| x == w));

    // W7 logs in with a password the server wants in cleartext (`password` in
    // pg_hba, as behind Neon-style proxies); edgepg sends it with the startup.
    let password_url = server_password_url(&url);
    let pipelined_url = format!("{password_url}&pipeline_connect=password");

    let edgepg = edgepg_tokio::Pool::builder(url.as_str())
        .min_size(4)
        .max_size(4)
        .build()
        .unwrap();
    edgepg.connect().await.unwrap();
    let raw = Raw::connect(&url, 4).await;
    let n = 10_000;

    for (w, sql) in [("W1", "select 1 as x"), ("W2", "select $1::int4 as x")] {
        if !wants(w) {
            continue;
        }
        let with_arg = w == "W2";
        if selected("edgepg") {
            let t = measure(|| async {
                let futs = (0..n).map(|i| {
                    let pool = &edgepg;
                    async move {
                        let x = i as i32;
                        let params: Vec<&(dyn edgepg_tokio::ToSql + Sync)> =
                            if with_arg { vec![&x] } else { vec![] };
                        pool.query(sql, &params).await.unwrap();
                    }
                });
                join_all(futs).await;
            })
            .await;
            report(w, "edgepg", n as u64, t);
        }
        if selected("tokio-postgres (4 pipelined clients)") {
            let t = measure(|| async {
                let futs = (0..n).map(|i| {
                    let client = &raw.clients[i % raw.clients.len()];
                    async move {
                        let x = i as i32;
                        let params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> =
                            if with_arg { vec![&x] } else { vec![] };
                        client.query(sql, &params).await.unwrap();
                    }
                });
                join_all(futs).await;
            })
            .await;
            report(w, "tokio-postgres (4 pipelined clients)", n as u64, t);
        }
        let stmts = prepare_all(&raw, sql).await;
        if selected("tokio-postgres (4 pipelined clients, prepared once)") {
            let t = measure(|| async {
                let futs = (0..n).map(|i| {
                    let k = i % raw.clients.len();
                    let (client, stmt) = (&raw.clients[k], &stmts[k]);
                    async move {
                        let x = i as i32;
                        let params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> =
                            if with_arg { vec![&x] } else { vec![] };
                        client.query(stmt, &params).await.unwrap();
                    }
                });
                join_all(futs).await;
            })
            .await;
            report(
                w,
                "tokio-postgres (4 pipelined clients, prepared once)",
                n as u64,
                t,
            );
        }
    }

    if wants("W3") {
        let p = w3_params();
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 7] =
            [&p.0, &p.1, &p.2, &p.3, &p.4, &p.5, &p.6];
        if selected("edgepg") {
            let t = measure(|| async {
                join_all((0..n).map(|_| edgepg.query(W3, &params))).await;
            })
            .await;
            report("W3", "edgepg", n as u64, t);
        }
        if selected("tokio-postgres (4 pipelined clients)") {
            let t = measure(|| async {
                join_all((0..n).map(|i| raw.clients[i % 4].query(W3, &params))).await;
            })
            .await;
            report("W3", "tokio-postgres (4 pipelined clients)", n as u64, t);
        }
        let stmts = prepare_all(&raw, W3).await;
        if selected("tokio-postgres (4 pipelined clients, prepared once)") {
            let t = measure(|| async {
                join_all((0..n).map(|i| raw.clients[i % 4].query(&stmts[i % 4], &params))).await;
            })
            .await;
            report(
                "W3",
                "tokio-postgres (4 pipelined clients, prepared once)",
                n as u64,
                t,
            );
        }
    }

    if wants("W4") {
        if selected("edgepg") {
            let t = measure(|| async {
                join_all((0..n).map(|_| edgepg.query(W4, &[&"int4"]))).await;
            })
            .await;
            report("W4", "edgepg", n as u64, t);
        }
        if selected("tokio-postgres (4 pipelined clients)") {
            let t = measure(|| async {
                join_all((0..n).map(|i| raw.clients[i % 4].query(W4, &[&"int4"]))).await;
            })
            .await;
            report("W4", "tokio-postgres (4 pipelined clients)", n as u64, t);
        }
        let stmts = prepare_all(&raw, W4).await;
        if selected("tokio-postgres (4 pipelined clients, prepared once)") {
            let t = measure(|| async {
                join_all((0..n).map(|i| raw.clients[i % 4].query(&stmts[i % 4], &[&"int4"]))).await;
            })
            .await;
            report(
                "W4",
                "tokio-postgres (4 pipelined clients, prepared once)",
                n as u64,
                t,
            );
        }
    }

    if wants("W5") {
        if selected("edgepg (Values)") {
            let t = measure(|| async {
                let r = edgepg.query(W5, &[]).await.unwrap();
                let mut cells = 0usize;
                for row in &r {
                    cells += row.values().len();
                }
                assert_eq!(cells, 80_000);
            })
            .await;
            report("W5", "edgepg (Values)", 10_000, t);
        }
        if selected("edgepg (typed get)") {
            let t = measure(|| async {
                decode_w5_typed!(&edgepg.query(W5, &[]).await.unwrap());
            })
            .await;
            report("W5", "edgepg (typed get)", 10_000, t);
        }
        if selected("tokio-postgres (typed get)") {
            let t = measure(|| async {
                decode_w5_typed!(&raw.clients[0].query(W5, &[]).await.unwrap());
            })
            .await;
            report("W5", "tokio-postgres (typed get)", 10_000, t);
        }
    }

    if wants("W6") {
        let per_task = 200;
        let tasks = 64;
        let total = (per_task * tasks) as u64;
        if selected("edgepg") {
            let pool = edgepg_tokio::Pool::builder(url.as_str())
                .min_size(16)
                .max_size(16)
                .build()
                .unwrap();
            pool.connect().await.unwrap();
            let t = measure(|| {
                w6_round(pool.clone(), tasks, per_task, |p| async move {
                    p.query("SELECT 1", &[]).await.unwrap();
                })
            })
            .await;
            report("W6", "edgepg", total, t);
            pool.close().await;
        }
        if selected("deadpool-postgres") {
            let mut cfg = deadpool_postgres::Config::new();
            cfg.url = Some(url.clone());
            cfg.pool = Some(deadpool_postgres::PoolConfig::new(16));
            let pool = cfg
                .create_pool(Some(deadpool_postgres::Runtime::Tokio1), NoTls)
                .unwrap();
            let t = measure(|| {
                w6_round(pool.clone(), tasks, per_task, |p| async move {
                    let c = p.get().await.unwrap();
                    let stmt = c.prepare_cached("SELECT 1").await.unwrap();
                    c.query(&stmt, &[]).await.unwrap();
                })
            })
            .await;
            report("W6", "deadpool-postgres", total, t);
            pool.close();
        }
        if selected("bb8-postgres") {
            let manager =
                bb8_postgres::PostgresConnectionManager::new_from_stringlike(url.as_str(), NoTls)
                    .unwrap();
            let pool = bb8::Pool::builder()
                .max_size(16)
                .min_idle(Some(16))
                .build(manager)
                .await
                .unwrap();
            let t = measure(|| {
                w6_round(pool.clone(), tasks, per_task, |p| async move {
                    let c = p.get().await.unwrap();
                    c.query("SELECT 1", &[]).await.unwrap();
                })
            })
            .await;
            report("W6", "bb8-postgres", total, t);
        }
    }

    if wants("W1") || wants("W7") {
        tunnel(&url, &pipelined_url, &server_port(&url), n).await;
    }

    if wants("W7") {
        if selected("edgepg (direct TCP)") {
            let t = measure(|| async {
                let pool = edgepg_tokio::Pool::builder(pipelined_url.as_str())
                    .min_size(0)
                    .max_size(1)
                    .build()
                    .unwrap();
                pool.query("SELECT 1", &[]).await.unwrap();
            })
            .await;
            report("W7", "edgepg (direct TCP)", 1, t);
        }
        if selected("tokio-postgres (direct TCP)") {
            let t = measure(|| async {
                let (client, conn) = tokio_postgres::connect(&password_url, NoTls).await.unwrap();
                tokio::spawn(conn);
                client.query("SELECT 1", &[]).await.unwrap();
            })
            .await;
            report("W7", "tokio-postgres (direct TCP)", 1, t);
        }
    }
    edgepg.close().await;
}
