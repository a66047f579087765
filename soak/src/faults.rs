//! The fault script: real faults, one after another, while the load runs.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use edgepg_tests::{PgServer, Relay};

use crate::proxy::ProxyProcess;
use crate::util::Rng;

/// One kind of fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Fault {
    /// `pg_terminate_backend` on a few random backends of the soak user.
    TerminateBackends,
    /// The native relay closes every connection.
    CutNative,
    /// The relay behind the proxy closes every connection.
    CutTunnel,
    /// The native relay holds all bytes for a while.
    StallNative,
    /// The relay behind the proxy holds all bytes for a while.
    StallTunnel,
    /// SIGTERM to the proxy (drain 1 s), then a new proxy on the same port.
    ProxyTerm,
    /// SIGKILL to the proxy, then a new proxy on the same port.
    ProxyKill,
    /// `pg_ctl restart -m fast`.
    PgRestart,
    /// `pg_ctl stop -m fast`, a pause, `pg_ctl start`.
    PgStopStart,
}

/// Every kind of fault.
pub const ALL: [Fault; 9] = [
    Fault::TerminateBackends,
    Fault::CutNative,
    Fault::CutTunnel,
    Fault::StallNative,
    Fault::StallTunnel,
    Fault::ProxyTerm,
    Fault::ProxyKill,
    Fault::PgRestart,
    Fault::PgStopStart,
];

/// The script, repeated: every kind of fault in every cycle.
pub const SCRIPT: [Fault; 10] = [
    Fault::TerminateBackends,
    Fault::CutNative,
    Fault::ProxyTerm,
    Fault::StallNative,
    Fault::PgRestart,
    Fault::CutTunnel,
    Fault::ProxyKill,
    Fault::StallTunnel,
    Fault::TerminateBackends,
    Fault::PgStopStart,
];

impl Fault {
    pub fn name(self) -> &'static str {
        match self {
            Fault::TerminateBackends => "terminate_backends",
            Fault::CutNative => "relay_cut_native",
            Fault::CutTunnel => "relay_cut_behind_proxy",
            Fault::StallNative => "relay_stall_native",
            Fault::StallTunnel => "relay_stall_behind_proxy",
            Fault::ProxyTerm => "proxy_restart_sigterm",
            Fault::ProxyKill => "proxy_restart_sigkill",
            Fault::PgRestart => "postgres_restart",
            Fault::PgStopStart => "postgres_stop_start",
        }
    }

    pub fn parse(s: &str) -> Option<Fault> {
        ALL.iter().copied().find(|f| f.name() == s)
    }
}

pub struct Env {
    pub pg: Arc<PgServer>,
    pub relay_native: Arc<Relay>,
    pub relay_tunnel: Arc<Relay>,
    pub proxy: Arc<Mutex<ProxyProcess>>,
    pub user: String,
}

/// One injected fault.
#[derive(Debug, Clone)]
pub struct Record {
    pub fault: Fault,
    pub at: Duration,
    pub took: Duration,
    pub detail: String,
}

/// Injects `script` (cycled) every `every` until `until`.
pub async fn run(
    env: Arc<Env>,
    script: Vec<Fault>,
    every: Duration,
    until: Instant,
    origin: Instant,
    seed: u64,
) -> Vec<Record> {
    let mut rng = Rng::new(seed ^ 0xfa17);
    let mut records = Vec::new();
    let mut i = 0;
    loop {
        let next = Instant::now() + every;
        if next >= until {
            break;
        }
        tokio::time::sleep_until(next.into()).await;
        let fault = script[i % script.len()];
        i += 1;
        let at = origin.elapsed();
        let started = Instant::now();
        let detail = inject(&env, fault, &mut rng).await;
        let took = started.elapsed();
        crate::say!(
            "fault {:>3} at {:>6.1}s: {:<26} {:>5} ms  {detail}",
            records.len() + 1,
            at.as_secs_f64(),
            fault.name(),
            took.as_millis()
        );
        records.push(Record {
            fault,
            at,
            took,
            detail,
        });
    }
    records
}

async fn blocking<F: FnOnce() -> String + Send + 'static>(f: F) -> String {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| format!("fault task failed: {e}"))
}

async fn inject(env: &Arc<Env>, fault: Fault, rng: &mut Rng) -> String {
    match fault {
        Fault::TerminateBackends => {
            let n = rng.range(2, 8);
            let env = env.clone();
            blocking(move || {
                let sql = format!(
                    "SELECT count(pg_terminate_backend(pid)) FROM (SELECT pid FROM pg_stat_activity \
                     WHERE usename = '{}' AND pid <> pg_backend_pid() ORDER BY random() LIMIT {n}) s",
                    env.user
                );
                match env.pg.psql(&sql) {
                    Ok(count) => format!("{count} backends terminated"),
                    Err(e) => format!("psql failed: {e}"),
                }
            })
            .await
        }
        Fault::CutNative | Fault::CutTunnel => {
            let relay = if fault == Fault::CutNative {
                &env.relay_native
            } else {
                &env.relay_tunnel
            };
            let live = relay.active();
            relay.cut_all();
            format!("{live} connections cut")
        }
        Fault::StallNative | Fault::StallTunnel => {
            let relay = if fault == Fault::StallNative {
                &env.relay_native
            } else {
                &env.relay_tunnel
            };
            let ms = rng.range(1000, 3000);
            relay.set_stalled(true);
            tokio::time::sleep(Duration::from_millis(ms)).await;
            relay.set_stalled(false);
            format!("{} connections stalled for {ms} ms", relay.active())
        }
        Fault::ProxyTerm | Fault::ProxyKill => {
            let graceful = fault == Fault::ProxyTerm;
            let proxy = env.proxy.clone();
            blocking(move || {
                let mut p = proxy.lock().unwrap_or_else(|e| e.into_inner());
                let rss = p.rss_kib().unwrap_or(0);
                match p.restart(graceful) {
                    Ok(()) => format!(
                        "instance {} up (the old one had RSS {})",
                        p.starts,
                        crate::util::mib(rss)
                    ),
                    Err(e) => format!("RESTART FAILED: {e}"),
                }
            })
            .await
        }
        Fault::PgRestart => {
            let env = env.clone();
            blocking(move || {
                env.pg.restart();
                "restarted".to_string()
            })
            .await
        }
        Fault::PgStopStart => {
            let down = rng.range(1000, 2500);
            let env = env.clone();
            blocking(move || {
                env.pg.stop();
                std::thread::sleep(Duration::from_millis(down));
                env.pg.start_again();
                format!("down for {down} ms")
            })
            .await
        }
    }
}
