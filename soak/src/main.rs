//! `edgepg-soak`: mixed load from many tasks, natively (TCP + TLS through a
//! fault relay) and through the real `edgepg-proxy` binary
//! (`TokioTransport::websocket`, the proxy's upstream through a second
//! relay), while a fault script restarts PostgreSQL, terminates backends,
//! restarts the proxy and has the relays stall and cut connections.
//!
//! At the end it proves, from the database itself, that every acknowledged
//! write is stored exactly once, that nothing which failed before it could
//! run is stored, that no transaction is stored in part; that no operation
//! hung; that the pools are quiet and whole; that no log or error message
//! carries the password and the proxy log carries no payload. It prints the
//! figures (operations, faults, errors by kind, RSS at start and end) and
//! writes them to `summary.json`. Exit status 0 only if every check passed.
//!
//! ```text
//! edgepg-soak [--duration 300s] [--tasks 64] [--fault-every 5s] [--settle 8s]
//!             [--warmup 3s] [--seed N] [--out DIR] [--proxy-bin PATH]
//!             [--faults name,name,…]
//! ```

mod faults;
mod proxy;
mod util;
mod verify;
mod workload;

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use edgepg_tests::{PgServer, Relay};
use edgepg_tokio::{Pool, TokioTransport};
use serde_json::json;

use faults::Fault;
use util::{mib, parse_duration, rss_kib};
use workload::{Ctx, ListenReport, Route, TaskReport, OP_LIMIT};

struct Args {
    duration: Duration,
    tasks: u32,
    fault_every: Duration,
    settle: Duration,
    warmup: Duration,
    seed: u64,
    out: PathBuf,
    proxy_bin: Option<PathBuf>,
    script: Vec<Fault>,
}

const USAGE: &str = "usage: edgepg-soak [--duration 300s] [--tasks 64] [--fault-every 5s] \
[--settle 8s] [--warmup 3s] [--seed N] [--out DIR] [--proxy-bin PATH] [--faults a,b,…]";

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        duration: Duration::from_secs(300),
        tasks: 64,
        fault_every: Duration::from_secs(5),
        settle: Duration::from_secs(8),
        warmup: Duration::from_secs(3),
        seed: 0x5eed,
        out: std::env::temp_dir().join(format!("edgepg-soak-{}", std::process::id())),
        proxy_bin: None,
        script: faults::SCRIPT.to_vec(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "-h" || flag == "--help" {
            return Err(USAGE.to_string());
        }
        let value = it
            .next()
            .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        match flag.as_str() {
            "--duration" => a.duration = parse_duration(&value)?,
            "--fault-every" => a.fault_every = parse_duration(&value)?,
            "--settle" => a.settle = parse_duration(&value)?,
            "--warmup" => a.warmup = parse_duration(&value)?,
            "--tasks" => {
                a.tasks = value
                    .parse()
                    .ok()
                    .filter(|n| *n >= 2)
                    .ok_or_else(|| format!("invalid --tasks {value:?}"))?
            }
            "--seed" => {
                a.seed = value
                    .parse()
                    .map_err(|_| format!("invalid --seed {value:?}"))?
            }
            "--out" => a.out = PathBuf::from(value),
            "--proxy-bin" => a.proxy_bin = Some(PathBuf::from(value)),
            "--faults" => {
                a.script = value
                    .split(',')
                    .map(|s| {
                        Fault::parse(s.trim()).ok_or_else(|| {
                            let names: Vec<_> = faults::ALL.iter().map(|f| f.name()).collect();
                            format!("unknown fault {s:?}; known: {}", names.join(", "))
                        })
                    })
                    .collect::<Result<_, _>>()?;
                if a.script.is_empty() {
                    return Err("--faults: empty script".into());
                }
            }
            other => return Err(format!("unknown option {other}\n{USAGE}")),
        }
    }
    Ok(a)
}

fn free_port() -> Result<u16, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("finding a free port: {e}"))
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("edgepg-soak: tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(soak(args)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            say!("edgepg-soak: FAILED to run: {e}");
            ExitCode::FAILURE
        }
    }
}

const SCHEMA: &str = "\
CREATE TABLE soak_writes (k bigint NOT NULL, task int NOT NULL, route text NOT NULL, payload text NOT NULL);
CREATE INDEX soak_writes_k ON soak_writes (k);
CREATE TABLE soak_tx (txid bigint NOT NULL, part int NOT NULL, route text NOT NULL);
CREATE INDEX soak_tx_txid ON soak_tx (txid);
GRANT ALL ON soak_writes, soak_tx TO edgepg_scram;";

fn pool_for(url: &str, transport: Option<TokioTransport>) -> Result<Pool, String> {
    let builder = match transport {
        Some(t) => Pool::builder_with(url, t),
        None => Pool::builder(url),
    };
    builder
        .min_size(4)
        .max_size(16)
        .acquire_timeout(Duration::from_secs(10))
        .query_timeout(Duration::from_secs(10))
        .reconnect_interval(Duration::from_millis(250))
        .idle_timeout(Duration::from_secs(10))
        .max_lifetime(Duration::from_secs(30))
        .raise_connect_errors(true)
        .build()
        .map_err(|e| format!("building a pool: {e}"))
}

async fn soak(args: Args) -> Result<bool, String> {
    std::fs::create_dir_all(&args.out)
        .map_err(|e| format!("creating {}: {e}", args.out.display()))?;
    util::tee_to(&args.out.join("soak.log")).map_err(|e| format!("soak.log: {e}"))?;
    let proxy_bin = proxy::locate(args.proxy_bin.as_deref())?;
    say!(
        "edgepg-soak: {} tasks, {:?} of faults every {:?} (script: {}), settle {:?}, seed {}, output in {}",
        args.tasks,
        args.duration,
        args.fault_every,
        args.script.iter().map(|f| f.name()).collect::<Vec<_>>().join(","),
        args.settle,
        args.seed,
        args.out.display()
    );

    // PostgreSQL (private: the script restarts it), TLS on, with a SCRAM role.
    let pg = Arc::new(
        std::panic::catch_unwind(PgServer::start)
            .map_err(|_| "could not start PostgreSQL (see above)".to_string())?,
    );
    pg.psql(SCHEMA).map_err(|e| format!("schema: {e}"))?;
    let (user, password) = {
        let (u, p) = pg.scram_user();
        (u.to_string(), p.to_string())
    };
    let relay_native = Arc::new(Relay::start(pg.socket_addr()));
    let relay_tunnel = Arc::new(Relay::start(pg.socket_addr()));
    let listen = format!("127.0.0.1:{}", free_port()?)
        .parse()
        .map_err(|e| format!("{e}"))?;
    let proxy = proxy::ProxyProcess::start(
        proxy_bin,
        listen,
        relay_tunnel.addr().to_string(),
        args.out.join("proxy.log"),
    )?;
    let ws_url = proxy.ws_url();
    let proxy = Arc::new(Mutex::new(proxy));

    let native_url = format!(
        "postgresql://{user}:{password}@127.0.0.1:{}/postgres?sslmode=require&connect_timeout=5&application_name=soak_native",
        relay_native.port()
    );
    let tunnel_url = format!(
        "postgresql://{user}:{password}@127.0.0.1:{}/postgres?sslmode=disable&connect_timeout=5&application_name=soak_tunnel",
        relay_tunnel.port()
    );
    let native = pool_for(&native_url, None)?;
    let tunnel = pool_for(&tunnel_url, Some(TokioTransport::websocket(&ws_url)))?;
    native
        .connect()
        .await
        .map_err(|e| format!("native pool: {e}"))?;
    tunnel
        .connect()
        .await
        .map_err(|e| format!("tunnel pool: {e}"))?;
    say!(
        "PostgreSQL on {}, native relay :{}, proxy {} → relay :{}",
        pg.socket_addr(),
        relay_native.port(),
        ws_url,
        relay_tunnel.port()
    );

    let ctx = Arc::new(Ctx::new(
        password.clone(),
        format!("soak-secret-{}", util::random_hex(8)),
    ));
    let pools = [native.clone(), tunnel.clone()];
    let listeners: Vec<_> = [Route::Native, Route::Tunnel]
        .into_iter()
        .map(|route| {
            tokio::spawn(workload::listener(
                ctx.clone(),
                pools[route.index()].clone(),
                route,
            ))
        })
        .collect();
    let workers: Vec<_> = (0..args.tasks)
        .map(|id| {
            let route = if id % 2 == 0 {
                Route::Native
            } else {
                Route::Tunnel
            };
            tokio::spawn(workload::worker(
                ctx.clone(),
                pools[route.index()].clone(),
                id,
                route,
                args.seed,
            ))
        })
        .collect();

    tokio::time::sleep(args.warmup).await;
    let rss_start = rss_kib(None).unwrap_or(0);
    let proxy_rss_start = proxy.lock().unwrap_or_else(|p| p.into_inner()).rss_kib();
    let load_start = Instant::now();
    say!(
        "warm-up done at {:.1}s: {} operations, client RSS {}",
        ctx.origin.elapsed().as_secs_f64(),
        ctx.ops.load(Ordering::Relaxed),
        mib(rss_start)
    );

    let env = Arc::new(faults::Env {
        pg: pg.clone(),
        relay_native: relay_native.clone(),
        relay_tunnel: relay_tunnel.clone(),
        proxy: proxy.clone(),
        user: user.clone(),
    });
    let faults_until = load_start + args.duration;
    let fault_task = tokio::spawn(faults::run(
        env,
        args.script.clone(),
        args.fault_every,
        faults_until,
        ctx.origin,
        args.seed,
    ));

    // Progress, RSS samples.
    let mut rss_samples = vec![(ctx.origin.elapsed().as_secs(), rss_start)];
    let end_of_load = faults_until + args.settle;
    let mut last_ops = ctx.ops.load(Ordering::Relaxed);
    while Instant::now() < end_of_load {
        let tick = Duration::from_secs(10).min(end_of_load - Instant::now());
        tokio::time::sleep(tick).await;
        let rss = rss_kib(None).unwrap_or(0);
        rss_samples.push((ctx.origin.elapsed().as_secs(), rss));
        let ops = ctx.ops.load(Ordering::Relaxed);
        say!(
            "t={:>6.1}s  ops {:>8} (+{:>6})  errors {:>6}  violations {}  RSS {}  native {:?}/{}  tunnel {:?}/{}",
            ctx.origin.elapsed().as_secs_f64(),
            ops,
            ops - last_ops,
            ctx.errors.load(Ordering::Relaxed),
            ctx.violation_count.load(Ordering::Relaxed),
            mib(rss),
            native.status().in_use,
            native.status().size,
            tunnel.status().in_use,
            tunnel.status().size,
        );
        last_ops = ops;
    }
    let fault_records = match tokio::time::timeout(OP_LIMIT, fault_task).await {
        Ok(Ok(r)) => r,
        _ => {
            ctx.violation("the fault script did not finish".into());
            Vec::new()
        }
    };
    let last_fault_end = fault_records
        .last()
        .map(|r| (r.at + r.took).as_millis() as u64)
        .unwrap_or(0);
    let rss_end = rss_kib(None).unwrap_or(0);
    let proxy_rss_end = proxy.lock().unwrap_or_else(|p| p.into_inner()).rss_kib();
    let load_secs = load_start.elapsed().as_secs_f64();

    // Stop the load; every task must come back.
    let phase = Instant::now();
    ctx.stop.store(true, Ordering::SeqCst);
    let mut reports: Vec<TaskReport> = Vec::new();
    for w in workers {
        match tokio::time::timeout(OP_LIMIT + Duration::from_secs(5), w).await {
            Ok(Ok(r)) => reports.push(r),
            Ok(Err(e)) => ctx.violation(format!("a worker panicked: {e}")),
            Err(_) => ctx.violation("a worker did not stop".into()),
        }
    }
    say!("load stopped in {} ms", phase.elapsed().as_millis());
    // Both routes served after the last fault.
    for route in [Route::Native, Route::Tunnel] {
        let last_ok = ctx.last_ok_ms[route.index()].load(Ordering::Relaxed);
        if last_ok <= last_fault_end {
            ctx.violation(format!(
                "no {} operation succeeded after the last fault ended",
                route.name()
            ));
        }
    }

    // LISTEN survived the faults: a NOTIFY sent now reaches both listeners.
    let finals_ok = final_notifications(&ctx, &pools).await;
    say!("LISTEN check done in {} ms", phase.elapsed().as_millis());
    ctx.stop_listeners.store(true, Ordering::SeqCst);
    let mut listen_reports: Vec<ListenReport> = Vec::new();
    for l in listeners {
        match tokio::time::timeout(Duration::from_secs(10), l).await {
            Ok(Ok(r)) => listen_reports.push(r),
            _ => ctx.violation("a listener did not stop".into()),
        }
    }

    // The pools are quiet and whole: nothing in use, nobody waiting, within limits.
    let mut pool_status = BTreeMap::new();
    for (route, pool) in [(Route::Native, &native), (Route::Tunnel, &tunnel)] {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let s = pool.status();
            if s.in_use == 0 && s.waiting == 0 && s.size <= s.max_size {
                break;
            }
            if Instant::now() >= deadline {
                ctx.violation(format!(
                    "{} pool not quiet after the load: {s:?}",
                    route.name()
                ));
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let s = pool.status();
        pool_status.insert(
            route.name(),
            json!({
                "size": s.size, "idle": s.idle, "created": s.created,
                "connect_failures": s.connect_failures, "closed_broken": s.closed_broken,
                "closed_dirty": s.closed_dirty, "closed_lifetime": s.closed_lifetime,
                "closed_idle": s.closed_idle, "retries": s.retries, "timeouts": s.timeouts,
            }),
        );
    }
    native.close().await;
    tunnel.close().await;
    say!("pools closed at {} ms", phase.elapsed().as_millis());

    // The ledger against the database.
    let writes = verify::writes(&pg, &reports)?;
    let txs = verify::transactions(&pg, &reports)?;
    say!("ledger verified at {} ms", phase.elapsed().as_millis());

    // Secrets: the password in no log, the payload marker not in the proxy log.
    let server_log = pg.log();
    let _ = std::fs::write(args.out.join("server.log"), &server_log);
    let proxy_log_path = proxy
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .log_path()
        .to_path_buf();
    let proxy_log = std::fs::read_to_string(&proxy_log_path).unwrap_or_default();
    let soak_log = std::fs::read_to_string(args.out.join("soak.log")).unwrap_or_default();
    let mut secrets = BTreeMap::new();
    for (name, text) in [
        ("proxy log", &proxy_log),
        ("server log", &server_log),
        ("soak output", &soak_log),
    ] {
        let found = text.matches(password.as_str()).count();
        secrets.insert(format!("password in {name}"), found);
        if found > 0 {
            ctx.violation(format!("the password appears {found} times in the {name}"));
        }
    }
    let payloads = proxy_log.matches(ctx.secret.as_str()).count();
    secrets.insert("payload marker in proxy log".into(), payloads);
    if payloads > 0 {
        ctx.violation(format!("the proxy logged payloads {payloads} times"));
    }
    if !proxy_log.contains("tunnel open") {
        ctx.violation("the proxy log has no tunnel lines: the grep proves nothing".into());
    }
    let proxy_panics = proxy_log.matches("panicked").count();
    if proxy_panics > 0 {
        ctx.violation(format!("the proxy panicked {proxy_panics} times"));
    }

    // Figures.
    let mut by_op: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    let mut by_kind: BTreeMap<String, u64> = BTreeMap::new();
    let mut by_route: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    let mut samples: BTreeMap<String, String> = BTreeMap::new();
    let (mut ops_total, mut ops_ok, mut hangs) = (0u64, 0u64, 0u64);
    for r in &reports {
        hangs += r.hangs;
        for ((op, what), n) in &r.counts {
            ops_total += n;
            *by_op
                .entry(op.name().to_string())
                .or_default()
                .entry(what.clone())
                .or_default() += n;
            *by_route
                .entry(r.route.name().to_string())
                .or_default()
                .entry(if what == "ok" {
                    "ok".into()
                } else {
                    "errors".into()
                })
                .or_default() += n;
            if what == "ok" {
                ops_ok += n;
            } else {
                *by_kind.entry(what.clone()).or_default() += n;
            }
        }
        for (k, v) in &r.samples {
            samples.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    let mut faults_by_kind: BTreeMap<&str, u64> = BTreeMap::new();
    for f in &fault_records {
        *faults_by_kind.entry(f.fault.name()).or_default() += 1;
    }
    // Memory: flat means the end is within 25 % (or 24 MiB) of the start.
    let rss_limit = (rss_start + rss_start / 4).max(rss_start + 24 * 1024);
    let rss_flat = rss_end <= rss_limit;
    if !rss_flat {
        ctx.violation(format!(
            "client RSS grew from {} to {} (limit {})",
            mib(rss_start),
            mib(rss_end),
            mib(rss_limit)
        ));
    }
    for (name, t) in [("writes", &writes), ("transactions", &txs)] {
        if t.failed() {
            ctx.violation(format!("{name}: {t:?}"));
        }
        if t.pending > 0 && hangs == 0 {
            ctx.violation(format!("{name}: {} left pending without a hang", t.pending));
        }
    }
    if !finals_ok {
        ctx.violation("a listener did not receive a NOTIFY sent after the faults".into());
    }
    let violations = ctx.violation_count.load(Ordering::SeqCst);
    let passed = violations == 0;
    let listen_received: u64 = listen_reports.iter().map(|l| l.received).sum();
    let listen_malformed: u64 = listen_reports.iter().map(|l| l.malformed).sum();
    let proxy_starts = proxy.lock().unwrap_or_else(|p| p.into_inner()).starts;
    let proxy_max_rss = proxy.lock().unwrap_or_else(|p| p.into_inner()).max_rss_kib;

    say!("");
    say!("================ edgepg soak summary ================");
    say!(
        "load: {:.0} s with faults + {:.0} s settle, {} tasks ({} native, {} tunnel)",
        args.duration.as_secs_f64(),
        args.settle.as_secs_f64(),
        args.tasks,
        args.tasks.div_ceil(2),
        args.tasks / 2
    );
    say!(
        "operations: {ops_total} ({ops_ok} ok, {} failed), {:.0}/s",
        ops_total - ops_ok,
        ops_total as f64 / load_secs.max(1.0)
    );
    for (op, m) in &by_op {
        let parts: Vec<String> = m.iter().map(|(k, v)| format!("{k} {v}")).collect();
        say!("  {op:<28} {}", parts.join(", "));
    }
    for (route, m) in &by_route {
        say!(
            "  route {route:<22} ok {}, errors {}",
            m.get("ok").unwrap_or(&0),
            m.get("errors").unwrap_or(&0)
        );
    }
    say!(
        "faults injected: {} ({})",
        fault_records.len(),
        faults_by_kind
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    say!("errors by kind:");
    for (k, v) in &by_kind {
        say!(
            "  {k:<22} {v:>7}   e.g. {}",
            samples.get(k).map(String::as_str).unwrap_or("")
        );
    }
    for (name, t) in [("writes", &writes), ("transactions", &txs)] {
        say!(
            "{name}: {} attempted, {} acknowledged, {} failed before running/rolled back, {} ambiguous ({} of them stored)",
            t.attempted, t.acked, t.absent, t.ambiguous, t.ambiguous_stored
        );
        say!(
            "  LOST {}  DUPLICATES {}  PHANTOMS {}  HALF-APPLIED {}  UNKNOWN {}  pending {}",
            t.lost,
            t.duplicates,
            t.phantoms,
            t.half_applied,
            t.unknown,
            t.pending
        );
    }
    say!(
        "LISTEN: {listen_received} notifications received ({}; {listen_malformed} malformed); after the faults: {}",
        listen_reports
            .iter()
            .map(|l| format!("{} listener {}", l.route.name(), l.received))
            .collect::<Vec<_>>()
            .join(", "),
        if finals_ok { "delivered on both routes" } else { "MISSING" }
    );
    say!("hangs (operations over {OP_LIMIT:?}): {hangs}");
    let half = rss_samples
        .iter()
        .find(|(t, _)| *t as f64 >= rss_samples.last().map_or(0.0, |l| l.0 as f64) / 2.0)
        .map_or(rss_start, |(_, r)| *r);
    say!(
        "client RSS over the second half of the run: {} → {}",
        mib(half),
        mib(rss_end)
    );
    say!(
        "client RSS: start {} → end {} (limit {}); samples: {}",
        mib(rss_start),
        mib(rss_end),
        mib(rss_limit),
        rss_samples
            .iter()
            .map(|(t, r)| format!("{t}s:{}", mib(*r)))
            .collect::<Vec<_>>()
            .join(" ")
    );
    say!(
        "proxy: {proxy_starts} instances; RSS of the current instance start {} → end {}; max seen {}",
        proxy_rss_start.map(mib).unwrap_or_default(),
        proxy_rss_end.map(mib).unwrap_or_default(),
        mib(proxy_max_rss)
    );
    say!(
        "secrets: {}",
        secrets
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    say!("violations: {violations}");
    for v in ctx
        .violations
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
    {
        say!("  - {v}");
    }
    say!("verdict: {}", if passed { "PASS" } else { "FAIL" });

    let tally = |t: &verify::Tally| {
        json!({
            "attempted": t.attempted, "acknowledged": t.acked, "absent": t.absent,
            "ambiguous": t.ambiguous, "ambiguous_stored": t.ambiguous_stored, "pending": t.pending,
            "lost": t.lost, "duplicates": t.duplicates, "phantoms": t.phantoms,
            "half_applied": t.half_applied, "unknown": t.unknown,
        })
    };
    let summary = json!({
        "verdict": if passed { "pass" } else { "fail" },
        "seed": args.seed,
        "tasks": args.tasks,
        "duration_s": args.duration.as_secs_f64(),
        "settle_s": args.settle.as_secs_f64(),
        "fault_every_s": args.fault_every.as_secs_f64(),
        "operations": { "total": ops_total, "ok": ops_ok, "failed": ops_total - ops_ok,
                        "per_second": ops_total as f64 / load_secs.max(1.0),
                        "by_operation": by_op, "by_route": by_route },
        "errors_by_kind": by_kind,
        "error_samples": samples,
        "faults": { "total": fault_records.len(), "by_kind": faults_by_kind,
                    "log": fault_records.iter().map(|f| json!({
                        "at_s": f.at.as_secs_f64(), "fault": f.fault.name(),
                        "took_ms": f.took.as_millis() as u64, "detail": f.detail })).collect::<Vec<_>>() },
        "writes": tally(&writes),
        "transactions": tally(&txs),
        "listen": { "received": listen_received, "malformed": listen_malformed, "after_faults": finals_ok },
        "hangs": hangs,
        "rss_kib": { "start": rss_start, "end": rss_end, "limit": rss_limit, "half_way": half,
                     "samples": rss_samples.iter().map(|(t, r)| json!([t, r])).collect::<Vec<_>>() },
        "proxy": { "instances": proxy_starts, "rss_kib_start": proxy_rss_start, "rss_kib_end": proxy_rss_end,
                   "rss_kib_max": proxy_max_rss },
        "pools": pool_status,
        "secrets": secrets,
        "violations": *ctx.violations.lock().unwrap_or_else(|p| p.into_inner()),
    });
    let _ = std::fs::write(
        args.out.join("summary.json"),
        serde_json::to_string_pretty(&summary).unwrap_or_default(),
    );
    say!("summary: {}", args.out.join("summary.json").display());
    Ok(passed)
}

/// Sends `final:` notifications on both routes until both listeners saw one
/// from each route (each listener re-LISTENed after its connection died).
async fn final_notifications(ctx: &Arc<Ctx>, pools: &[Pool; 2]) -> bool {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut i = 0;
    while Instant::now() < deadline {
        for (route, pool) in [(Route::Native, &pools[0]), (Route::Tunnel, &pools[1])] {
            let payload = format!("final:{}:{i}", route.name());
            let _ = tokio::time::timeout(
                Duration::from_secs(5),
                pool.execute("SELECT pg_notify('soak_events', $1)", &[&payload]),
            )
            .await;
        }
        i += 1;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let finals = ctx.finals.lock().unwrap_or_else(|p| p.into_inner());
        let complete = [Route::Native, Route::Tunnel].iter().all(|listener| {
            finals.get(listener).is_some_and(|seen| {
                seen.iter().any(|p| p.starts_with("final:native:"))
                    && seen.iter().any(|p| p.starts_with("final:tunnel:"))
            })
        });
        if complete {
            return true;
        }
    }
    false
}
