//! `cargo xtask soak` and `cargo xtask fuzz`: the reliability runs.
//!
//! * soak: the `edgepg-soak` binary (mixed load natively and through the
//!   real `edgepg-proxy` while a fault script restarts PostgreSQL and the
//!   proxy, terminates backends and has relays stall and cut connections),
//!   then every fuzz target — 5 minutes of load and ~1 minute of fuzzing per
//!   target, 10 minutes at most in all. `--short` (what `cargo xtask test`
//!   runs) is 35 s of faults (each kind once) and 3 s per fuzz target.
//! * fuzz: the cargo-fuzz targets of `fuzz/`, each for a bounded time, with
//!   libFuzzer's coverage instrumentation and no sanitizer (so stable Rust
//!   builds them without `RUSTC_BOOTSTRAP`). The corpus grows in
//!   `target/fuzz-corpus/TARGET` from `fuzz/seeds/TARGET` and
//!   `fuzz/regressions/TARGET`; a crash is copied into
//!   `fuzz/regressions/TARGET/` (commit it: `cargo test -p edgepg-fuzz`
//!   replays it from then on) and fails the run.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::run::{cargo, command_line, secs, status_ok, workspace_root};

/// The fuzz targets (`fuzz/fuzz_targets/*.rs`).
pub const TARGETS: [&str; 5] = [
    "config",
    "proxy_handshake",
    "proxy_frames",
    "mogrify",
    "values",
];

/// The cargo-fuzz version installed when missing.
const CARGO_FUZZ: &str = "0.13.2";

/// The fault script of the short soak: each kind once.
const SHORT_SCRIPT: &str = "terminate_backends,relay_cut_native,proxy_restart_sigterm,\
relay_stall_native,postgres_restart,relay_cut_behind_proxy,proxy_restart_sigkill,\
relay_stall_behind_proxy,postgres_stop_start";

/// The whole `cargo xtask soak` must finish within this.
const SOAK_BUDGET: Duration = Duration::from_secs(600);

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
}

fn run(what: &str, cmd: &mut Command) -> Result<(), String> {
    println!("xtask: {what}: {}", command_line(cmd));
    if status_ok(cmd) {
        Ok(())
    } else {
        Err(format!("{what} failed: {}", command_line(cmd)))
    }
}

/// `cargo fuzz`, installed (`cargo install cargo-fuzz --locked`) when missing.
pub fn ensure_cargo_fuzz() -> Result<(), String> {
    let present = cargo()
        .args(["fuzz", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if present {
        return Ok(());
    }
    run(
        &format!("installing cargo-fuzz {CARGO_FUZZ}"),
        cargo().args(["install", "cargo-fuzz", "--version", CARGO_FUZZ, "--locked"]),
    )
}

/// The host triple (cargo-fuzz builds for it, into `target/<triple>/`).
fn host_triple() -> Result<String, String> {
    let out = Command::new(std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into()))
        .arg("-vV")
        .output()
        .map_err(|e| format!("rustc -vV: {e}"))?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .map(str::to_string)
        .ok_or_else(|| "rustc -vV printed no host triple".to_string())
}

/// What one fuzz run did.
pub struct FuzzRun {
    pub target: &'static str,
    pub executions: u64,
    pub seconds: f64,
    pub corpus: usize,
}

/// Builds every target (debug, coverage-instrumented, no sanitizer).
fn build_fuzzers() -> Result<PathBuf, String> {
    ensure_cargo_fuzz()?;
    run(
        "building the fuzz targets",
        cargo()
            .args(["fuzz", "build", "--features", "libfuzzer", "--dev"])
            .args(["--sanitizer", "none", "--codegen-units", "16"])
            .env_remove("RUSTC_BOOTSTRAP"),
    )?;
    Ok(target_dir().join(host_triple()?).join("debug"))
}

fn count_files(dir: &Path) -> usize {
    std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
}

/// Runs each target for `seconds`; stops at the first crash (copied into
/// `fuzz/regressions/TARGET/`). A `persistent` run grows the corpus in
/// `target/fuzz-corpus/`; otherwise (the short run of `cargo xtask test`)
/// it starts from the seeds and regressions alone, so that its time does not
/// grow with the corpus.
pub fn fuzz(
    seconds: u64,
    targets: &[&'static str],
    persistent: bool,
) -> Result<Vec<FuzzRun>, String> {
    let bin_dir = build_fuzzers()?;
    fuzz_built(&bin_dir, seconds, targets, persistent)
}

/// [`fuzz`] with the targets already built in `bin_dir`.
fn fuzz_built(
    bin_dir: &Path,
    seconds: u64,
    targets: &[&'static str],
    persistent: bool,
) -> Result<Vec<FuzzRun>, String> {
    let root = workspace_root();
    let mut runs = Vec::new();
    for &target in targets {
        let corpus = if persistent {
            target_dir().join("fuzz-corpus").join(target)
        } else {
            let fresh = target_dir().join("fuzz-corpus-short").join(target);
            let _ = std::fs::remove_dir_all(&fresh);
            fresh
        };
        let artifacts = target_dir().join("fuzz-artifacts").join(target);
        let logs = target_dir().join("fuzz-logs");
        for d in [&corpus, &artifacts, &logs] {
            std::fs::create_dir_all(d).map_err(|e| format!("{}: {e}", d.display()))?;
        }
        let log = logs.join(format!("{target}.log"));
        let seeds = root.join("fuzz/seeds").join(target);
        let regressions = root.join("fuzz/regressions").join(target);
        let mut cmd = Command::new(bin_dir.join(target));
        cmd.arg(format!("-max_total_time={seconds}"))
            .args(["-rss_limit_mb=2048", "-timeout=20", "-print_final_stats=1"])
            .arg("-max_len=8192")
            .arg(format!("-artifact_prefix={}/", artifacts.display()))
            .arg(&corpus);
        for extra in [&seeds, &regressions] {
            if extra.is_dir() {
                cmd.arg(extra);
            }
        }
        let log_file =
            std::fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
        cmd.stdout(Stdio::null()).stderr(log_file);
        let started = Instant::now();
        let status = cmd
            .status()
            .map_err(|e| format!("running the {target} fuzzer: {e}"))?;
        let took = started.elapsed().as_secs_f64();
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let executions = text
            .lines()
            .find_map(|l| l.strip_prefix("stat::number_of_executed_units:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        let run = FuzzRun {
            target,
            executions,
            seconds: took,
            corpus: count_files(&corpus),
        };
        println!(
            "xtask fuzz: {target:<16} {executions:>9} executions in {took:>5.1} s, corpus {} (log {})",
            run.corpus,
            log.display()
        );
        if !status.success() {
            let found = std::fs::read_dir(&artifacts).ok().and_then(|d| {
                d.filter_map(|e| e.ok())
                    .map(|e| e.path())
                    .max_by_key(|p| p.metadata().and_then(|m| m.modified()).ok())
            });
            let tail: Vec<&str> = text.lines().rev().take(30).collect();
            eprintln!(
                "--- {target} fuzzer log tail ---\n{}",
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
            if let Some(artifact) = found {
                std::fs::create_dir_all(&regressions)
                    .map_err(|e| format!("{}: {e}", regressions.display()))?;
                let name = artifact
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "crash".into());
                let kept = regressions.join(&name);
                std::fs::copy(&artifact, &kept).map_err(|e| format!("{}: {e}", kept.display()))?;
                return Err(format!(
                    "the {target} fuzzer found a crash: {} (kept as {}; fix it, then commit the \
                     file: `cargo test -p edgepg-fuzz` replays it)",
                    artifact.display(),
                    kept.display()
                ));
            }
            return Err(format!(
                "the {target} fuzzer failed ({status}); see {}",
                log.display()
            ));
        }
        runs.push(run);
    }
    Ok(runs)
}

/// Parses `cargo xtask fuzz [--seconds N] [TARGET…]`.
pub fn fuzz_command(args: &[String]) -> Result<(), String> {
    let mut seconds = 60;
    let mut targets: Vec<&'static str> = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "--seconds" {
            seconds = it
                .next()
                .and_then(|v| v.parse().ok())
                .ok_or("--seconds needs a whole number")?;
        } else if let Some(t) = TARGETS.iter().find(|t| *t == a) {
            targets.push(t);
        } else {
            return Err(format!(
                "unknown fuzz target or option {a:?}; targets: {}",
                TARGETS.join(", ")
            ));
        }
    }
    if targets.is_empty() {
        targets = TARGETS.to_vec();
    }
    let runs = fuzz(seconds, &targets, true)?;
    let total: u64 = runs.iter().map(|r| r.executions).sum();
    let time: f64 = runs.iter().map(|r| r.seconds).sum();
    println!("xtask fuzz: {total} executions in {time:.0} s in all, no crash");
    Ok(())
}

/// `cargo xtask soak [--short]`.
pub fn soak(args: &[String]) -> Result<(), String> {
    let short = match args {
        [] => false,
        [a] if a == "--short" => true,
        other => return Err(format!("unexpected arguments: {}", other.join(" "))),
    };
    let started = Instant::now();
    run(
        "building the soak and the proxy",
        cargo().args(["build", "-p", "edgepg-soak", "-p", "edgepg-proxy"]),
    )?;
    // Built before the soak, so that the time left for fuzzing is known after it.
    let fuzzers = build_fuzzers()?;
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let out = target_dir()
        .join("soak")
        .join(format!("{}-{stamp}", if short { "short" } else { "full" }));
    let mut cmd = Command::new(target_dir().join("debug").join("edgepg-soak"));
    cmd.arg("--out").arg(&out);
    if short {
        // Every kind of fault once.
        cmd.args(["--duration", "35s", "--fault-every", "2.5s"])
            .args(["--settle", "5s", "--warmup", "2s"])
            .args(["--faults", SHORT_SCRIPT]);
    } else {
        cmd.args(["--duration", "300s", "--fault-every", "5s"])
            .args(["--settle", "10s", "--warmup", "3s"]);
    }
    let soak_result = run("soak", &mut cmd);
    println!(
        "xtask soak: the soak took {} (summary {})",
        secs(started.elapsed()),
        out.join("summary.json").display()
    );
    soak_result?;
    let seconds = if short {
        3
    } else {
        // What is left of the budget (with a margin for libFuzzer's start-up
        // and the corpus pass), shared by the targets.
        let left = SOAK_BUDGET.saturating_sub(started.elapsed() + Duration::from_secs(30));
        (left.as_secs() / TARGETS.len() as u64).clamp(5, 60)
    };
    let runs = fuzz_built(&fuzzers, seconds, &TARGETS, !short)?;
    let total: u64 = runs.iter().map(|r| r.executions).sum();
    println!(
        "xtask soak: soak passed; fuzzing {total} executions ({}), no crash; total {}",
        runs.iter()
            .map(|r| format!("{} {}", r.target, r.executions))
            .collect::<Vec<_>>()
            .join(", "),
        secs(started.elapsed())
    );
    Ok(())
}
