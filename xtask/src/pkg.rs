//! `cargo xtask pkg`: builds the npm package `edgepg` in `pkg/`.
//!
//! 1. `cargo build -p edgepg-wasm --target wasm32-unknown-unknown --profile wasm-release
//!    --features quiet` (tokio-postgres' `log` statements compiled out), with
//!    the standard library compiled along for size (see [`SIZE_RUSTFLAGS`])
//! 2. `wasm-bindgen --target web` (the CLI pinned to the crate's exact
//!    `wasm-bindgen` version, installed by `ensure::wasm_bindgen_cli`)
//! 3. `wasm-opt -Oz --low-memory-unused` from binaryen (npm, `pkg/package-lock.json`)
//! 4. esbuild (npm, pinned likewise): the glue, and `pkg/src/` into
//!    `pkg/dist/`, without comments and whitespace
//!
//! into `pkg/wasm/` and `pkg/dist/` (not committed). Idempotent: when the
//! wasm input has not changed since the last build, steps 2–4 are skipped for
//! the wasm (`pkg/dist/` is always rebuilt: it takes a moment).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::ensure;
use crate::run::{cargo, command_line, status_ok, workspace_root};

/// The exact `wasm-bindgen` version pinned in `transport-wasm/Cargo.toml` (`"=X.Y.Z"`).
pub fn pinned_wasm_bindgen(manifest: &str) -> Option<String> {
    manifest.lines().find_map(|line| {
        let rest = line.trim().strip_prefix("wasm-bindgen")?.trim_start();
        let rest = rest.strip_prefix('=')?.trim_start();
        let version = rest.strip_prefix("\"=")?.split('"').next()?;
        Some(version.to_string())
    })
}

/// Cargo's target directory (`$CARGO_TARGET_DIR` or `target/`).
pub fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|p| if p.is_absolute() { p } else { root.join(p) })
        .unwrap_or_else(|| root.join("target"))
}

/// `--low-memory-unused` lets wasm-opt fold constant offsets into loads and
/// stores (about 1.2 KB of gzip): Rust links the stack first, growing down
/// from 1 MiB to 0, so the low 1 KiB is touched only by a stack within 1 KiB
/// of overflowing. Part of the build stamp.
const WASM_OPT_FLAGS: [&str; 4] = [
    "-Oz",
    "--low-memory-unused",
    "--strip-debug",
    "--strip-producers",
];

/// What the wasm is compiled with besides the `wasm-release` profile, std
/// included (`-Zbuild-std`): panics without file and line (`-Zlocation-detail=none`),
/// and `{:?}` printing nothing (`-Zfmt-debug=none`), so that no `Debug`
/// code is linked (messages use `Display` only; see `core/src/error.rs`).
/// Together ≈20 KB of the gzipped wasm (issue 19). Stable Rust keeps these
/// behind `RUSTC_BOOTSTRAP`; when the toolchain refuses them, the package is
/// built as before (same behaviour, about 19 KB larger), the build says so,
/// and the size budget of `cargo xtask test` (`size.rs`) fails on it.
const SIZE_RUSTFLAGS: &str = "-Zlocation-detail=none -Zfmt-debug=none";

/// The module cargo builds, before wasm-bindgen.
pub fn cargo_wasm(root: &Path) -> PathBuf {
    target_dir(root).join("wasm32-unknown-unknown/wasm-release/edgepg_wasm.wasm")
}

fn run(what: &str, cmd: &mut Command) -> Result<(), String> {
    println!("xtask pkg: {}", command_line(cmd));
    if status_ok(cmd) {
        Ok(())
    } else {
        Err(format!("{what} failed: {}", command_line(cmd)))
    }
}

/// Size of `path` after `gzip -9` (`-n`: no file name in the header), if
/// gzip is available.
pub fn gzip_size(path: &Path) -> Option<u64> {
    let out = Command::new("gzip")
        .args(["-9", "-n", "-c"])
        .arg(path)
        .output()
        .ok()?;
    out.status.success().then_some(out.stdout.len() as u64)
}

/// `cargo build` of the wasm: with std compiled for size when the toolchain
/// allows, else plainly.
fn build_wasm() -> Result<(), String> {
    let plain = || {
        let mut build = cargo();
        build.args([
            "build",
            "-p",
            "edgepg-wasm",
            "--target",
            "wasm32-unknown-unknown",
            "--profile",
            "wasm-release",
            "--features",
            "quiet",
        ]);
        build
    };
    let why = match ensure::rust_src() {
        Ok(()) => {
            let mut sized = plain();
            sized
                .arg("-Zbuild-std=std,panic_abort")
                .env("RUSTC_BOOTSTRAP", "1")
                .env(
                    "CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS",
                    SIZE_RUSTFLAGS,
                );
            println!("xtask pkg: RUSTFLAGS for wasm32: {SIZE_RUSTFLAGS}");
            match run("building the wasm with std for size", &mut sized) {
                Ok(()) => return Ok(()),
                Err(e) => e,
            }
        }
        Err(e) => e,
    };
    println!("xtask pkg: {why}; building with the prebuilt std instead (a larger wasm)");
    run("building the wasm", &mut plain())
}

/// Builds `pkg/wasm/`.
pub fn build() -> Result<(), String> {
    let root = workspace_root();
    let manifest = fs::read_to_string(root.join("transport-wasm/Cargo.toml"))
        .map_err(|e| format!("reading transport-wasm/Cargo.toml: {e}"))?;
    let version = pinned_wasm_bindgen(&manifest).ok_or(
        "transport-wasm/Cargo.toml must pin wasm-bindgen exactly (wasm-bindgen = \"=X.Y.Z\")",
    )?;
    ensure::rust_target("wasm32-unknown-unknown")?;
    ensure::wasm_bindgen_cli(&version)?;
    ensure::npm_deps("pkg")?;

    build_wasm()?;

    let input = cargo_wasm(&root);
    let out = root.join("pkg/wasm");
    let stamp = out.join(".input-stamp");
    let input_meta = fs::metadata(&input).map_err(|e| format!("{}: {e}", input.display()))?;
    let fingerprint = format!(
        "{} {:?} {version} {} (glue minified)",
        input_meta.len(),
        input_meta.modified().ok(),
        WASM_OPT_FLAGS.join(" ")
    );
    let complete = ["edgepg.js", "edgepg_bg.wasm"]
        .iter()
        .all(|f| out.join(f).is_file());
    if complete && fs::read_to_string(&stamp).ok().as_deref() == Some(fingerprint.as_str()) {
        println!("xtask pkg: pkg/wasm is up to date");
        report_sizes(&out);
        return build_dist(&root);
    }

    let staging = root.join("pkg/.wasm-staging");
    let _ = fs::remove_dir_all(&staging);
    run(
        "wasm-bindgen",
        Command::new("wasm-bindgen")
            .args([
                "--target",
                "web",
                "--out-name",
                "edgepg",
                "--no-typescript",
                "--remove-name-section",
                "--remove-producers-section",
                "--out-dir",
            ])
            .arg(&staging)
            .arg(&input),
    )?;
    let wasm = staging.join("edgepg_bg.wasm");
    run(
        "wasm-opt",
        Command::new("node")
            .arg(root.join("pkg/node_modules/binaryen/bin/wasm-opt"))
            .arg(&wasm)
            .args(WASM_OPT_FLAGS)
            .arg("-o")
            .arg(&wasm),
    )?;
    let glue = staging.join("edgepg.js");
    minify(
        &root,
        &serde_json::json!({ "entryPoints": [glue], "outfile": glue, "allowOverwrite": true }),
    )?;
    fs::write(staging.join(".input-stamp"), &fingerprint)
        .map_err(|e| format!("writing the stamp: {e}"))?;
    let _ = fs::remove_dir_all(&out);
    fs::rename(&staging, &out).map_err(|e| format!("moving {} into place: {e}", out.display()))?;
    report_sizes(&out);
    build_dist(&root)
}

/// `pkg/dist/`, what the package's exports load: `pkg/src/` file for file,
/// without comments and whitespace (the glue in `pkg/wasm/` likewise), so
/// the same modules and import graph — each module's state exists once.
/// Identifiers are kept: `new.target.name` names the error classes, and
/// renaming gained nothing under gzip (issue 19). Cheap, so always rebuilt.
fn build_dist(root: &Path) -> Result<(), String> {
    let src = root.join("pkg/src");
    let mut files: Vec<PathBuf> = fs::read_dir(&src)
        .map_err(|e| format!("{}: {e}", src.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "js"))
        .collect();
    files.sort();
    let staging = root.join("pkg/.dist-staging");
    let _ = fs::remove_dir_all(&staging);
    minify(
        root,
        &serde_json::json!({ "entryPoints": files, "outdir": staging }),
    )?;
    let dist = root.join("pkg/dist");
    let _ = fs::remove_dir_all(&dist);
    fs::rename(&staging, &dist)
        .map_err(|e| format!("moving {} into place: {e}", dist.display()))?;
    println!(
        "xtask pkg: pkg/dist: {} modules of pkg/src minified",
        files.len()
    );
    Ok(())
}

/// esbuild (pinned in `pkg/package.json`, through its JavaScript API, which
/// finds the platform's binary without an install script) on ES modules,
/// one output per input, whitespace and syntax minified, nothing bundled.
fn minify(root: &Path, options: &serde_json::Value) -> Result<(), String> {
    const SCRIPT: &str = "require('esbuild').buildSync({ ...JSON.parse(process.argv[1]), \
        format: 'esm', minifyWhitespace: true, minifySyntax: true, logLevel: 'warning' })";
    let mut cmd = Command::new("node");
    cmd.args(["-e", SCRIPT])
        .arg(options.to_string())
        .current_dir(root.join("pkg"));
    // The options name every file: too long to echo, unlike `run`.
    if status_ok(&mut cmd) {
        Ok(())
    } else {
        Err(format!("esbuild failed with {options}"))
    }
}

fn report_sizes(out: &Path) {
    for f in ["edgepg_bg.wasm", "edgepg.js"] {
        let p = out.join(f);
        let raw = fs::metadata(&p).map(|m| m.len()).unwrap_or(0);
        let gz = gzip_size(&p).unwrap_or(0);
        println!("xtask pkg: {f}: {raw} bytes, {gz} gzip -9");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pinned_versions() {
        let m = "[deps]\nwasm-bindgen = \"=0.2.130\"\njs-sys = \"0.3\"\n";
        assert_eq!(pinned_wasm_bindgen(m).as_deref(), Some("0.2.130"));
        assert_eq!(pinned_wasm_bindgen("wasm-bindgen = \"0.2\"\n"), None);
        assert_eq!(
            pinned_wasm_bindgen("wasm-bindgen-futures = \"=0.4\"\n"),
            None
        );
    }
}
