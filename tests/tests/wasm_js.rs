//! The npm package `edgepg` (WebAssembly) in real JavaScript runtimes against
//! a real PostgreSQL, directly (node:net, cloudflare:sockets) and through a
//! real `edgepg-proxy` (SPEC §9, §11):
//!
//! * Node (`node --test tests/wasm/node/`),
//! * headless Chromium (Debian's, driven by playwright-core) on the SQL
//!   console of `examples/browser`,
//! * workerd (npm `workerd`), once over `cloudflareSocket()` and once over
//!   `webSocket()`,
//! * Deno and Bun when they are installed (npm `deno`, `bun` in tests/wasm).
//!
//! The package is built with `cargo xtask pkg` when needed (idempotent), and
//! the npm packages of `tests/wasm` must be installed (`cargo xtask test`
//! does both).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use edgepg_tests::PgServer;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.current_dir(root());
    cmd
}

fn run_ok(mut cmd: Command, what: &str) {
    let status = cmd
        .status()
        .unwrap_or_else(|e| panic!("{what}: cannot run: {e}"));
    assert!(status.success(), "{what} failed ({status})");
}

/// Builds the package (`cargo xtask pkg`) and the proxy once per test binary.
fn prepare() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        let mut pkg = cargo();
        pkg.args(["run", "-q", "-p", "xtask", "--", "pkg"]);
        run_ok(pkg, "cargo xtask pkg");
        let mut proxy = cargo();
        proxy.args(["build", "-q", "-p", "edgepg-proxy"]);
        run_ok(proxy, "cargo build -p edgepg-proxy");
        assert!(
            root()
                .join("tests/wasm/node_modules/.package-lock.json")
                .exists(),
            "the npm packages of tests/wasm are missing: run `cargo xtask test` \
             (or `npm ci` in tests/wasm)"
        );
    });
}

fn proxy_bin() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|p| if p.is_absolute() { p } else { root().join(p) })
        .unwrap_or_else(|| root().join("target"));
    target.join("debug/edgepg-proxy")
}

/// A running `edgepg-proxy` that allows only the test server; killed on drop.
struct Proxy {
    child: Child,
    url: String,
    metrics: String,
}

impl Proxy {
    fn start(pg: &PgServer) -> Proxy {
        let allow = format!("{}:{}", pg.host(), pg.port());
        let mut child = Command::new(proxy_bin())
            .args(["--listen", "127.0.0.1:0", "--metrics", "127.0.0.1:0"])
            .args(["--allow", &allow])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn edgepg-proxy");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let (mut addr, mut metrics) = (None, None);
        while addr.is_none() || metrics.is_none() {
            match lines.next() {
                Some(Ok(line)) => {
                    if let Some(rest) = line.strip_prefix("edgepg-proxy: listening on ") {
                        addr = rest.split("://").nth(1).map(str::to_string);
                    } else if let Some(rest) = line.strip_prefix("edgepg-proxy: metrics on ") {
                        metrics = Some(rest.to_string());
                    }
                }
                _ => panic!("edgepg-proxy exited before listening"),
            }
        }
        let (addr, metrics) = (addr.unwrap_or_default(), metrics.unwrap_or_default());
        // Keep draining stdout so the proxy never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Proxy {
            child,
            url: format!("ws://{addr}/v1"),
            metrics,
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Environment for the JavaScript tests.
fn js_env(pg: &PgServer, proxy: &Proxy) -> Vec<(String, String)> {
    let (scram_user, scram_pw) = pg.scram_user();
    let mut env = vec![
        ("EDGEPG_TEST_URL".into(), pg.url()),
        ("EDGEPG_TEST_PROXY".into(), proxy.url.clone()),
        ("EDGEPG_TEST_PROXY_METRICS".into(), proxy.metrics.clone()),
        ("EDGEPG_TEST_HOST".into(), pg.host()),
        ("EDGEPG_TEST_PORT".into(), pg.port().to_string()),
        (
            "EDGEPG_TEST_SCRAM_URL".into(),
            pg.url_for(scram_user, Some(scram_pw), "postgres", "sslmode=disable"),
        ),
        (
            "EDGEPG_TEST_SCRAM_TLS_URL".into(),
            pg.url_for(
                scram_user,
                Some(scram_pw),
                "postgres",
                "sslmode=verify-full",
            ),
        ),
        (
            "EDGEPG_TEST_PASSWORD_URL".into(),
            pg.password_user()
                .map(|(u, p)| pg.url_for(u, Some(p), "postgres", "sslmode=disable"))
                .unwrap_or_default(),
        ),
        (
            "EDGEPG_TEST_WRONG_PW_URL".into(),
            pg.url_for(scram_user, Some("wrong"), "postgres", "sslmode=disable"),
        ),
        (
            "EDGEPG_ARTIFACTS".into(),
            root().join("target/artifacts").display().to_string(),
        ),
    ];
    if let Some(ca) = pg.ca_cert() {
        env.push(("EDGEPG_TEST_CA".into(), ca.display().to_string()));
    }
    env
}

/// Runs a JavaScript test command; panics with its output unless it passed.
fn run_js(name: &str, mut cmd: Command, limit: Duration) -> Output {
    let started = Instant::now();
    cmd.stdin(Stdio::null());
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{name}: cannot start: {e}"));
    let pid = child.id();
    // A watchdog: a hung runtime must fail the test, not CI.
    let finished = std::sync::Arc::new(Mutex::new(false));
    let flag = finished.clone();
    std::thread::spawn(move || {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(200));
            if *flag.lock().unwrap() {
                return;
            }
        }
        let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
    });
    let out = child.wait_with_output().expect("wait");
    *finished.lock().unwrap() = true;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!(
        "---- {name} ({:.1} s, {}) ----\n{stdout}\n{stderr}",
        started.elapsed().as_secs_f64(),
        out.status
    );
    assert!(
        out.status.success(),
        "{name} failed ({}); output above",
        out.status
    );
    out
}

fn wasm_dir() -> PathBuf {
    root().join("tests/wasm")
}

/// `tests/wasm/<dir>/*.test.mjs`, relative to `tests/wasm`, sorted.
fn test_files(dir: &str) -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(wasm_dir().join(dir))
        .expect("test directory")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".test.mjs"))
        .map(|n| format!("{dir}/{n}"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no tests in tests/wasm/{dir}");
    files
}

#[test]
fn node_package() {
    prepare();
    let pg = PgServer::shared();
    let proxy = Proxy::start(pg);
    let mut cmd = Command::new("node");
    cmd.current_dir(wasm_dir())
        .args([
            "--expose-gc",
            "--test",
            "--test-concurrency=1",
            "--test-timeout=120000",
        ])
        .args(test_files("node"))
        .envs(js_env(pg, &proxy));
    let out = run_js(
        "node --test tests/wasm/node/",
        cmd,
        Duration::from_secs(300),
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("# fail 0"), "node --test reported failures");
}

/// node-postgres' own tests (ported) and Kysely, Drizzle and pg-query-stream,
/// first against `pg` itself (so each test states pg's behaviour), then
/// unchanged on edgepg over node:net and over the tunnel.
#[test]
fn node_postgres_compat() {
    prepare();
    let pg = PgServer::shared();
    let proxy = Proxy::start(pg);
    for (driver, transport) in [("pg", ""), ("edgepg", "node:net"), ("edgepg", "tunnel")] {
        let mut cmd = Command::new("node");
        cmd.current_dir(wasm_dir())
            .args(["--test", "--test-concurrency=1", "--test-timeout=60000"])
            .args(test_files("compat"))
            .envs(js_env(pg, &proxy))
            .env("EDGEPG_COMPAT_DRIVER", driver)
            .env("EDGEPG_COMPAT_TRANSPORT", transport);
        let out = run_js(
            &format!("compat tests on {driver} {transport}"),
            cmd,
            Duration::from_secs(180),
        );
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("# fail 0") && !text.contains("# pass 0\n"),
            "compat tests on {driver} {transport} reported failures"
        );
    }
}

#[test]
fn typescript_declarations() {
    prepare();
    let mut cmd = Command::new("node");
    cmd.current_dir(wasm_dir())
        .args(["node_modules/typescript/bin/tsc", "-p", "types"]);
    run_js(
        "tsc -p tests/wasm/types (pkg/index.d.ts)",
        cmd,
        Duration::from_secs(120),
    );
}

#[test]
fn workerd_worker() {
    prepare();
    let pg = PgServer::shared();
    let proxy = Proxy::start(pg);
    let mut cmd = Command::new("node");
    cmd.current_dir(wasm_dir())
        .args(["--test", "--test-timeout=120000"])
        .args(test_files("workerd"))
        .envs(js_env(pg, &proxy));
    run_js(
        "workerd (tests/wasm/workerd)",
        cmd,
        Duration::from_secs(240),
    );
}

#[test]
fn chromium_console() {
    prepare();
    assert!(
        Path::new("/usr/bin/chromium").exists(),
        "/usr/bin/chromium is missing: `cargo xtask test` installs it (apt-get install chromium)"
    );
    let pg = PgServer::shared();
    let proxy = Proxy::start(pg);
    let mut cmd = Command::new("node");
    cmd.current_dir(wasm_dir())
        .args(["--test", "--test-timeout=120000"])
        .args(test_files("chromium"))
        .envs(js_env(pg, &proxy));
    run_js(
        "Chromium console (tests/wasm/chromium)",
        cmd,
        Duration::from_secs(240),
    );
}

/// Deno or Bun from npm (`tests/wasm/node_modules/.bin`), when installed.
fn npm_runtime(name: &str) -> Option<PathBuf> {
    let bin = wasm_dir().join("node_modules/.bin").join(name);
    let works = Command::new(&bin)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    works.then_some(bin)
}

fn runtime_smoke(name: &str, args: &[&str]) {
    prepare();
    let Some(bin) = npm_runtime(name) else {
        panic!("{name} is not installed in tests/wasm/node_modules: run `cargo xtask test`");
    };
    let pg = PgServer::shared();
    let proxy = Proxy::start(pg);
    let mut cmd = Command::new(bin);
    cmd.current_dir(wasm_dir())
        .args(args)
        .arg("runtimes/smoke.mjs")
        .envs(js_env(pg, &proxy));
    let out = run_js(
        &format!("{name} runtimes/smoke.mjs"),
        cmd,
        Duration::from_secs(180),
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(" passed, 0 failed"),
        "{name}: not every check passed"
    );
}

#[test]
fn deno_runtime() {
    runtime_smoke(
        "deno",
        &[
            "run",
            "--allow-net",
            "--allow-read",
            "--allow-env",
            "--quiet",
        ],
    );
}

#[test]
fn bun_runtime() {
    runtime_smoke("bun", &["run"]);
}
