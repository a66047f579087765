//! Running commands and timed steps.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The workspace root (the parent of this crate's directory).
pub fn workspace_root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| manifest_dir.to_path_buf())
}

/// A `cargo` command (the one running us, via `$CARGO`) in the workspace root.
pub fn cargo() -> Command {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
    let mut cmd = Command::new(cargo);
    cmd.current_dir(workspace_root());
    cmd
}

/// The command as a shell-like line, for messages.
pub fn command_line(cmd: &Command) -> String {
    let mut parts = vec![display_program(cmd.get_program())];
    parts.extend(cmd.get_args().map(|a| a.to_string_lossy().into_owned()));
    parts.join(" ")
}

fn display_program(program: &std::ffi::OsStr) -> String {
    let p = Path::new(program);
    // `$CARGO` is an absolute path to the toolchain's cargo; show just `cargo`.
    match p.file_name() {
        Some(name) if p.is_absolute() && name == "cargo" => "cargo".to_string(),
        _ => program.to_string_lossy().into_owned(),
    }
}

/// Runs with inherited stdio; true when it ran and exited 0.
pub fn status_ok(cmd: &mut Command) -> bool {
    cmd.status().map(|s| s.success()).unwrap_or(false)
}

/// Formats a duration as seconds with one decimal.
pub fn secs(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

/// Runs one named step with inherited stdio, printing its start, its result
/// and its duration. `Err` carries a message naming the step.
pub fn step(index: usize, total: usize, mut cmd: Command) -> Result<Duration, String> {
    let line = command_line(&cmd);
    println!("\n==> [{index}/{total}] {line}");
    let started = Instant::now();
    let status = cmd.status();
    let took = started.elapsed();
    match status {
        Ok(s) if s.success() => {
            println!("<== [{index}/{total}] ok in {}: {line}", secs(took));
            Ok(took)
        }
        Ok(s) => Err(format!(
            "step {index}/{total} `{line}` failed ({s}) after {}",
            secs(took)
        )),
        Err(e) => Err(format!("step {index}/{total} `{line}` could not run: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_lines() {
        let mut c = Command::new("/opt/rust/bin/cargo");
        c.args(["fmt", "--all"]);
        assert_eq!(command_line(&c), "cargo fmt --all");
        assert_eq!(command_line(&Command::new("rustup")), "rustup");
        assert_eq!(secs(Duration::from_millis(1250)), "1.2 s");
    }

    #[test]
    fn root_has_workspace_manifest() {
        let manifest = std::fs::read_to_string(workspace_root().join("Cargo.toml")).unwrap();
        assert!(manifest.contains("[workspace]"));
    }

    #[test]
    fn failing_step_is_an_error() {
        assert!(step(1, 1, Command::new("true")).is_ok());
        let err = step(1, 1, Command::new("false")).unwrap_err();
        assert!(err.contains("`false` failed"), "{err}");
        let err = step(1, 1, Command::new("/nonexistent/xtask-test")).unwrap_err();
        assert!(err.contains("could not run"), "{err}");
    }
}
