//! The `edgepg-proxy` command: see `edgepg-proxy --help`.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use edgepg_proxy::{Options, Proxy};
use tracing_subscriber::EnvFilter;

/// Raises the soft open-file limit to the hard limit: every tunnel holds two sockets.
fn raise_nofile_limit() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct we pass.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            let _ = libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

/// Completes on SIGTERM or SIGINT.
async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {},
                _ = tokio::signal::ctrl_c() => {},
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// Whether log lines may carry ANSI colours: only when stderr is a terminal
/// and `NO_COLOR` is unset or empty (https://no-color.org).
fn colour_logs() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

fn main() -> ExitCode {
    let opts = Options::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_env("EDGEPG_PROXY_LOG")
                .or_else(|_| EnvFilter::try_from_default_env())
                .unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(colour_logs())
        .with_target(false)
        .init();
    raise_nofile_limit();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("edgepg-proxy: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        let proxy = match Proxy::bind(opts).await {
            Ok(p) => p,
            Err(e) => {
                eprintln!("edgepg-proxy: {e}");
                return ExitCode::from(2);
            }
        };
        let scheme = if proxy.is_tls() { "wss" } else { "ws" };
        // Machine-readable lines on stdout (tests and scripts read the ports from them).
        println!(
            "edgepg-proxy: listening on {scheme}://{}",
            proxy.local_addr()
        );
        if let Some(addr) = proxy.metrics_addr() {
            println!("edgepg-proxy: metrics on http://{addr}/metrics");
        }
        tracing::info!(listen = %proxy.local_addr(), metrics = ?proxy.metrics_addr(), "started");
        proxy.run(shutdown_signal()).await;
        ExitCode::SUCCESS
    })
}
