//! `cargo xtask <command>`: the project's automation (see `usage()`).
//!
//! * `test` — installs what a fresh machine lacks, then runs formatting,
//!   clippy, the wasm check and the whole test suite (what CI runs).
//! * `demo` — runs the `edgepg-tokio` demo example against `$PGSQL` /
//!   `$DATABASE_URL` or a throwaway PostgreSQL server.
//! * `pkg` — builds the npm package `edgepg` (`pkg/wasm/`).
//! * `size` — the compressed size of each package entry and what the wasm
//!   is made of (`size.rs`, BENCHMARKS.md).
//! * `soak`, `fuzz` — the reliability runs (`reliability.rs`, RELIABILITY.md).

mod bench;
mod ensure;
mod markdown;
mod pkg;
mod reliability;
mod run;
mod size;

use std::process::ExitCode;
use std::time::Instant;

use run::{cargo, secs, step};

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  test    install missing tools (rustfmt, clippy, wasm32 target, PostgreSQL,
          openssl, Node.js, the npm packages of tests/js and tests/wasm,
          Chromium), then run: cargo fmt --check, cargo clippy -D warnings,
          cargo clippy -p edgepg-core -p edgepg-wasm for wasm32, xtask pkg,
          xtask size --check, cargo test --workspace, xtask soak --short
  demo    run `cargo run -p edgepg-tokio --example demo` with PGSQL set to
          $PGSQL, $DATABASE_URL or a throwaway PostgreSQL server
  pkg     build the npm package in pkg/: edgepg-wasm for wasm32 (profile
          wasm-release, feature quiet, std compiled for size when the toolchain
          allows), wasm-bindgen (pinned CLI, installed when missing),
          wasm-opt -Oz (binaryen from npm) into pkg/wasm/
  size    [--check] build the package, then print gzip -9 and brotli sizes of the
          browser, workerd and node entries (wasm + the JS files each loads) and
          the wasm's largest crates and functions; writes BENCHMARKS.md;
          --check (part of `test`) only fails when the browser entry is over budget
  bench   the SPEC §10 workloads next to the peers, in one run; writes BENCHMARKS.md
  soak    [--short] the reliability run (RELIABILITY.md): edgepg-soak — 64 tasks of
          mixed load natively and through edgepg-proxy for 5 minutes while a
          fault script restarts PostgreSQL and the proxy, terminates backends
          and stalls/cuts connections, then checks the ledger — followed by
          every fuzz target for the rest of a 10-minute budget; --short (part
          of `test`) is 35 s of faults (each kind once), 3 s per fuzz target
  fuzz    [--seconds N] [TARGET…] run the cargo-fuzz targets of fuzz/ (default
          60 s each); a crash is kept in fuzz/regressions/TARGET/
  help    print this message
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("test") if args.len() == 1 => report(test()),
        Some("demo") if args.len() == 1 => demo(),
        Some("bench") if args.len() == 1 => report(bench::bench()),
        Some("bench") if args.len() == 3 && args[1] == "js" => report(bench::bench_js(&args[2])),
        Some("pkg") if args.len() == 1 => report(pkg::build()),
        Some("size") => report(size::size(&args[1..])),
        Some("soak") => report(reliability::soak(&args[1..])),
        Some("fuzz") => report(reliability::fuzz_command(&args[1..])),
        Some("help" | "-h" | "--help") => {
            print!("{USAGE}");
            ExitCode::SUCCESS
        }
        Some(cmd @ ("test" | "demo" | "pkg" | "bench")) => {
            eprintln!(
                "xtask {cmd}: unexpected arguments: {}\n",
                args[1..].join(" ")
            );
            eprint!("{USAGE}");
            ExitCode::from(2)
        }
        Some(other) => {
            eprintln!("xtask: unknown command `{other}`\n");
            eprint!("{USAGE}");
            ExitCode::from(2)
        }
        None => {
            eprint!("{USAGE}");
            ExitCode::from(2)
        }
    }
}

/// Prints an error and maps it to exit code 1.
fn report(result: Result<(), String>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("\nxtask: FAILED: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Everything a test run needs that a fresh machine may lack.
fn ensure_tools() -> Result<(), String> {
    ensure::rust_components()?;
    ensure::rust_target("wasm32-unknown-unknown")?;
    ensure::postgres()?;
    ensure::openssl()?;
    ensure::pgbouncer()?;
    ensure::js_test_deps()?;
    ensure::npm_deps("tests/wasm")?;
    ensure::chromium()?;
    reliability::ensure_cargo_fuzz()?;
    Ok(())
}

/// `cargo xtask test`.
fn test() -> Result<(), String> {
    let started = Instant::now();
    println!("==> ensuring tools");
    ensure_tools().map_err(|e| format!("ensuring tools: {e}"))?;
    println!("<== tools ok in {}", secs(started.elapsed()));

    let mut steps = Vec::new();
    let mut fmt = cargo();
    fmt.args(["fmt", "--all", "--", "--check"]);
    steps.push(fmt);
    let mut clippy = cargo();
    clippy.args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]);
    steps.push(clippy);
    let mut wasm = cargo();
    wasm.args([
        "clippy",
        "-p",
        "edgepg-core",
        "-p",
        "edgepg-wasm",
        "--target",
        "wasm32-unknown-unknown",
        "--",
        "-D",
        "warnings",
    ]);
    steps.push(wasm);
    // edgepg-wasm for Rust users, without the JavaScript API.
    let mut wasm_rust = cargo();
    wasm_rust.args([
        "clippy",
        "-p",
        "edgepg-wasm",
        "--target",
        "wasm32-unknown-unknown",
        "--no-default-features",
        "--",
        "-D",
        "warnings",
    ]);
    steps.push(wasm_rust);
    // The npm package, for the JavaScript tests (idempotent).
    let mut pkg = std::process::Command::new(
        std::env::current_exe().map_err(|e| format!("locating xtask itself: {e}"))?,
    );
    pkg.arg("pkg").current_dir(run::workspace_root());
    steps.push(pkg);
    // The browser entry against its size budget (issue 19; measures only).
    let mut size = std::process::Command::new(
        std::env::current_exe().map_err(|e| format!("locating xtask itself: {e}"))?,
    );
    size.args(["size", "--check"])
        .current_dir(run::workspace_root());
    steps.push(size);
    let mut tests = cargo();
    tests.args(["test", "--workspace"]);
    steps.push(tests);
    // The short reliability run: a 35 s soak under faults, 3 s per fuzz target.
    let mut soak = std::process::Command::new(
        std::env::current_exe().map_err(|e| format!("locating xtask itself: {e}"))?,
    );
    soak.args(["soak", "--short"])
        .current_dir(run::workspace_root());
    steps.push(soak);

    let total = steps.len();
    let mut timings = Vec::new();
    let result = steps.into_iter().enumerate().try_for_each(|(i, cmd)| {
        let line = run::command_line(&cmd);
        let took = step(i + 1, total, cmd)?;
        timings.push((line, took));
        Ok::<(), String>(())
    });
    println!();
    for (line, took) in &timings {
        println!("xtask: {:>8}  {line}", secs(*took));
    }
    match &result {
        Ok(()) => println!(
            "xtask test: all {total} steps passed, total {}",
            secs(started.elapsed())
        ),
        Err(_) => println!("xtask test: total {}", secs(started.elapsed())),
    }
    result
}

/// `cargo xtask demo`.
fn demo() -> ExitCode {
    let configured = ["PGSQL", "DATABASE_URL"]
        .iter()
        .find_map(|var| std::env::var(var).ok().filter(|v| !v.trim().is_empty()));
    let mut server = None;
    let url = match configured {
        Some(url) => url,
        None => {
            if let Err(e) = ensure::postgres().and_then(|()| ensure::openssl()) {
                eprintln!("xtask demo: {e}");
                return ExitCode::FAILURE;
            }
            println!("xtask demo: starting a throwaway PostgreSQL server");
            match std::panic::catch_unwind(edgepg_tests::PgServer::start) {
                Ok(pg) => {
                    let url = pg.url();
                    server = Some(pg);
                    url
                }
                Err(_) => {
                    eprintln!("xtask demo: could not start PostgreSQL (see the message above)");
                    return ExitCode::FAILURE;
                }
            }
        }
    };
    println!("xtask demo: PGSQL={url}");
    let mut cmd = cargo();
    cmd.args(["run", "-q", "-p", "edgepg-tokio", "--example", "demo"])
        .env("PGSQL", &url);
    let status = cmd.status();
    // Stop the throwaway server before exiting.
    drop(server);
    match status {
        Ok(s) if s.success() => ExitCode::SUCCESS,
        Ok(s) => {
            eprintln!("xtask demo: the demo failed ({s})");
            ExitCode::from(
                s.code()
                    .and_then(|c| u8::try_from(c).ok())
                    .filter(|&c| c != 0)
                    .unwrap_or(1),
            )
        }
        Err(e) => {
            eprintln!("xtask demo: cannot run cargo: {e}");
            ExitCode::FAILURE
        }
    }
}
