//! Installing what a fresh machine lacks, one small function per tool.
//!
//! Every function is idempotent and quick when the tool is present: it only
//! checks, and prints a line only when it installs something.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};

use crate::run::{cargo, command_line, status_ok, workspace_root};

/// Result of an `ensure` step; the error is a message for the user.
pub type Result = std::result::Result<(), String>;

/// Whether `rustup component list --installed` output lists `component`
/// (lines look like `clippy-x86_64-unknown-linux-gnu`, or `rustfmt`).
pub fn lists_component(installed: &str, component: &str) -> bool {
    installed.lines().map(str::trim).any(|line| {
        line == component
            || line
                .strip_prefix(component)
                .is_some_and(|rest| rest.starts_with('-'))
    })
}

/// Whether `rustup target list --installed` output lists `target`.
pub fn lists_target(installed: &str, target: &str) -> bool {
    installed.lines().map(str::trim).any(|line| line == target)
}

/// Output of a command, if it ran and succeeded.
fn stdout_of(cmd: &mut Command) -> Option<String> {
    let out = cmd.stderr(Stdio::null()).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Runs an install command with inherited stdio, after printing it.
fn install(what: &str, cmd: &mut Command) -> Result {
    println!("xtask: installing {what}: {}", command_line(cmd));
    if status_ok(cmd) {
        Ok(())
    } else {
        Err(format!("installing {what} failed: {}", command_line(cmd)))
    }
}

/// rustfmt and clippy (`rustup component add` only for missing ones).
pub fn rust_components() -> Result {
    let Some(installed) =
        stdout_of(Command::new("rustup").args(["component", "list", "--installed"]))
    else {
        // No rustup (e.g. a distribution toolchain): the tools must be there.
        for (tool, sub) in [("rustfmt", "fmt"), ("clippy", "clippy")] {
            if stdout_of(cargo().args([sub, "--version"])).is_none() {
                return Err(format!(
                    "`cargo {sub}` is not available and rustup is not installed to add {tool}"
                ));
            }
        }
        return Ok(());
    };
    let missing: Vec<&str> = ["rustfmt", "clippy"]
        .into_iter()
        .filter(|c| !lists_component(&installed, c))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    install(
        &missing.join(", "),
        Command::new("rustup")
            .args(["component", "add"])
            .args(&missing),
    )
}

/// A rustup target such as `wasm32-unknown-unknown`.
pub fn rust_target(target: &str) -> Result {
    let installed = stdout_of(Command::new("rustup").args(["target", "list", "--installed"]))
        .ok_or_else(|| format!("rustup is needed to check for and add the {target} target"))?;
    if lists_target(&installed, target) {
        return Ok(());
    }
    install(
        &format!("Rust target {target}"),
        Command::new("rustup").args(["target", "add", target]),
    )
}

/// The standard library's source (`rustup component add rust-src`), which
/// `cargo xtask pkg` compiles for the wasm with size options.
pub fn rust_src() -> Result {
    let sysroot = stdout_of(Command::new("rustc").args(["--print", "sysroot"]))
        .ok_or("rustc --print sysroot failed")?;
    let library = std::path::Path::new(sysroot.trim()).join("lib/rustlib/src/rust/library");
    if library.join("Cargo.lock").is_file() {
        return Ok(());
    }
    install(
        "the Rust standard library's source",
        Command::new("rustup").args(["component", "add", "rust-src"]),
    )
}

/// Debian's `package` unless `present()` already holds, and `present()` after it.
fn apt_package(package: &str, what: &str, present: impl Fn() -> bool) -> Result {
    if present() {
        return Ok(());
    }
    apt_install(&[package])?;
    if !present() {
        return Err(format!(
            "the {package} package is installed but {what} is still not found"
        ));
    }
    Ok(())
}

/// PostgreSQL server binaries (initdb, pg_ctl, postgres, psql).
pub fn postgres() -> Result {
    apt_package("postgresql", "initdb", || {
        edgepg_tests::pg_bindir().is_some()
    })
}

/// The `openssl` command-line tool (test certificates).
pub fn openssl() -> Result {
    if stdout_of(Command::new("openssl").arg("version")).is_some() {
        return Ok(());
    }
    apt_install(&["openssl"])
}

/// The major version in `node --version` output (`v20.11.1` → 20).
pub fn node_major(version: &str) -> Option<u32> {
    version
        .trim()
        .strip_prefix('v')?
        .split('.')
        .next()?
        .parse()
        .ok()
}

/// Whether `npm ci` must run in a JS test directory: no `node_modules`, or a
/// lockfile newer than the install (npm writes `node_modules/.package-lock.json`).
pub fn npm_install_needed(dir: &Path) -> bool {
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let installed = modified(&dir.join("node_modules/.package-lock.json"));
    let lock = modified(&dir.join("package-lock.json"));
    match (installed, lock) {
        (Some(installed), Some(lock)) => lock > installed,
        _ => true,
    }
}

/// Node.js (≥ 18; the JS tests target 20) and the npm packages of `tests/js`
/// (`npm ci` when `node_modules` is missing or older than the lockfile).
pub fn js_test_deps() -> Result {
    let version = match stdout_of(Command::new("node").arg("--version")) {
        Some(v) => v,
        None => {
            apt_install(&["nodejs", "npm"])?;
            stdout_of(Command::new("node").arg("--version"))
                .ok_or("nodejs is installed but `node --version` still fails")?
        }
    };
    match node_major(&version) {
        Some(major) if major >= 18 => {}
        _ => {
            return Err(format!(
                "Node.js {} is too old for the JS tests: install Node 20 or newer",
                version.trim()
            ))
        }
    }
    let dir = workspace_root().join("tests/js");
    if !npm_install_needed(&dir) {
        return Ok(());
    }
    if stdout_of(Command::new("npm").arg("--version")).is_none() {
        apt_install(&["npm"])?;
    }
    install(
        "the npm packages of tests/js",
        Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&dir),
    )?;
    if npm_install_needed(&dir) {
        return Err("`npm ci` in tests/js left no node_modules/.package-lock.json".into());
    }
    Ok(())
}

/// `npm ci` in `dir` (relative to the workspace root) when its `node_modules`
/// is missing or older than its lockfile; installs Node.js first if needed.
pub fn npm_deps(dir: &str) -> Result {
    if stdout_of(Command::new("node").arg("--version")).is_none() {
        apt_install(&["nodejs", "npm"])?;
    }
    let path = workspace_root().join(dir);
    if !npm_install_needed(&path) {
        return Ok(());
    }
    if stdout_of(Command::new("npm").arg("--version")).is_none() {
        apt_install(&["npm"])?;
    }
    let what = format!("the npm packages of {dir}");
    let ci = install(
        &what,
        Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&path),
    );
    if ci.is_err() {
        // `npm ci` refuses a lockfile without the other platforms' optional
        // binaries (workerd, deno) when the registry lacks some of them;
        // `npm install --no-save` installs from the same lockfile, leaving it as is.
        println!("xtask: `npm ci` failed in {dir}; retrying with `npm install --no-save`");
        install(
            &what,
            Command::new("npm")
                .args(["install", "--no-audit", "--no-fund", "--no-save"])
                .current_dir(&path),
        )?;
    }
    if npm_install_needed(&path) {
        return Err(format!(
            "installing the npm packages of {dir} left no node_modules/.package-lock.json"
        ));
    }
    Ok(())
}

/// Whether `wasm-bindgen --version` output names exactly `version`.
pub fn is_wasm_bindgen_version(output: &str, version: &str) -> bool {
    output.split_whitespace().nth(1) == Some(version)
}

/// The wasm-bindgen CLI at exactly `version` (the crate's pinned version):
/// `cargo install wasm-bindgen-cli --version X --locked` when missing or
/// different (without `--locked` if the locked dependency set cannot be
/// resolved from the registry).
pub fn wasm_bindgen_cli(version: &str) -> Result {
    if stdout_of(Command::new("wasm-bindgen").arg("--version"))
        .is_some_and(|out| is_wasm_bindgen_version(&out, version))
    {
        return Ok(());
    }
    let what = format!("wasm-bindgen-cli {version}");
    let locked = install(
        &what,
        cargo().args([
            "install",
            "wasm-bindgen-cli",
            "--version",
            version,
            "--locked",
            "--force",
        ]),
    );
    if locked.is_err() {
        println!("xtask: the locked install failed; retrying with fresh dependency versions");
        install(
            &what,
            cargo().args([
                "install",
                "wasm-bindgen-cli",
                "--version",
                version,
                "--force",
            ]),
        )?;
    }
    match stdout_of(Command::new("wasm-bindgen").arg("--version")) {
        Some(out) if is_wasm_bindgen_version(&out, version) => Ok(()),
        other => Err(format!(
            "installed {what}, but `wasm-bindgen --version` says {:?} (is ~/.cargo/bin on PATH?)",
            other.unwrap_or_default().trim()
        )),
    }
}

/// Debian's PgBouncer (tests/pgbouncer.rs), found by `edgepg_tests::pgbouncer_bin`.
pub fn pgbouncer() -> Result {
    apt_package("pgbouncer", "pgbouncer", || {
        edgepg_tests::pgbouncer_bin().is_some()
    })
}

/// Debian's Chromium (for the browser test), at /usr/bin/chromium.
pub fn chromium() -> Result {
    if std::path::Path::new("/usr/bin/chromium").exists() {
        return Ok(());
    }
    apt_install(&["chromium"])
}

/// `apt-get install -y` (after one `apt-get update` per run), with sudo when
/// not root.
pub fn apt_install(packages: &[&str]) -> Result {
    static UPDATED: AtomicBool = AtomicBool::new(false);
    if stdout_of(Command::new("apt-get").arg("--version")).is_none() {
        return Err(format!(
            "{} missing and apt-get is not available: install it by hand",
            packages.join(", ")
        ));
    }
    let apt = |args: &[&str]| {
        let mut cmd = if is_root() {
            Command::new("apt-get")
        } else {
            let mut c = Command::new("sudo");
            c.args(["-n", "apt-get"]);
            c
        };
        cmd.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        cmd
    };
    if !UPDATED.swap(true, Ordering::SeqCst) {
        install("package lists", &mut apt(&["update"]))?;
    }
    let mut args = vec!["install", "-y", "--no-install-recommends"];
    args.extend_from_slice(packages);
    install(&packages.join(", "), &mut apt(&args))
}

fn is_root() -> bool {
    stdout_of(Command::new("id").arg("-u")).is_some_and(|s| s.trim() == "0")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn component_lists() {
        let out = "cargo-x86_64-unknown-linux-gnu\nclippy-x86_64-unknown-linux-gnu\nrustfmt\n";
        assert!(lists_component(out, "clippy"));
        assert!(lists_component(out, "rustfmt"));
        assert!(!lists_component(out, "rust-src"));
        assert!(!lists_component("clippyish-x\n", "clippy"));
    }

    #[test]
    fn wasm_bindgen_versions() {
        assert!(is_wasm_bindgen_version("wasm-bindgen 0.2.130\n", "0.2.130"));
        assert!(!is_wasm_bindgen_version("wasm-bindgen 0.2.13\n", "0.2.130"));
        assert!(!is_wasm_bindgen_version("", "0.2.130"));
    }

    #[test]
    fn node_versions() {
        assert_eq!(node_major("v20.20.2\n"), Some(20));
        assert_eq!(node_major("v18.0.0"), Some(18));
        assert_eq!(node_major("20.1"), None);
        assert_eq!(node_major(""), None);
    }

    #[test]
    fn npm_install_detection() {
        let dir = std::env::temp_dir().join(format!("xtask-npm-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("node_modules")).unwrap();
        std::fs::write(dir.join("package-lock.json"), "{}").unwrap();
        assert!(npm_install_needed(&dir), "no install marker");
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(dir.join("node_modules/.package-lock.json"), "{}").unwrap();
        assert!(!npm_install_needed(&dir));
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(dir.join("package-lock.json"), "{ }").unwrap();
        assert!(npm_install_needed(&dir), "lockfile newer than the install");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn target_lists() {
        let out = "wasm32-unknown-unknown\nx86_64-unknown-linux-gnu\n";
        assert!(lists_target(out, "wasm32-unknown-unknown"));
        assert!(!lists_target(out, "wasm32-wasip1"));
    }
}
