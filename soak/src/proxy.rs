//! The real `edgepg-proxy` binary as a child process that the fault script
//! restarts (gracefully with SIGTERM, or with SIGKILL) on the same port.

use std::fs::OpenOptions;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Finds the proxy binary: `--proxy-bin`, `$EDGEPG_PROXY_BIN`, or next to this executable.
pub fn locate(explicit: Option<&Path>) -> Result<PathBuf, String> {
    if let Some(p) = explicit {
        return Ok(p.to_path_buf());
    }
    if let Some(p) = std::env::var_os("EDGEPG_PROXY_BIN") {
        return Ok(PathBuf::from(p));
    }
    let me = std::env::current_exe().map_err(|e| format!("locating the soak binary: {e}"))?;
    let candidate = me.with_file_name("edgepg-proxy");
    if candidate.is_file() {
        Ok(candidate)
    } else {
        Err(format!(
            "edgepg-proxy not found at {}: build it (`cargo build -p edgepg-proxy`) or pass --proxy-bin",
            candidate.display()
        ))
    }
}

pub struct ProxyProcess {
    bin: PathBuf,
    pub listen: SocketAddr,
    allow: String,
    log: PathBuf,
    child: Option<Child>,
    /// Largest RSS seen of any instance, KiB.
    pub max_rss_kib: u64,
    pub starts: u32,
}

impl ProxyProcess {
    pub fn start(
        bin: PathBuf,
        listen: SocketAddr,
        allow: String,
        log: PathBuf,
    ) -> Result<Self, String> {
        let mut p = ProxyProcess {
            bin,
            listen,
            allow,
            log,
            child: None,
            max_rss_kib: 0,
            starts: 0,
        };
        p.spawn()?;
        Ok(p)
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{}/v1", self.listen)
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// RSS of the running instance, KiB (also tracked as the maximum seen).
    pub fn rss_kib(&mut self) -> Option<u64> {
        let rss = crate::util::rss_kib(self.pid())?;
        self.max_rss_kib = self.max_rss_kib.max(rss);
        Some(rss)
    }

    fn spawn(&mut self) -> Result<(), String> {
        let mut last = String::new();
        // The port is ours, but a just-killed instance may still hold it for a moment.
        for _ in 0..50 {
            let log = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.log)
                .map_err(|e| format!("proxy log {}: {e}", self.log.display()))?;
            let mut child = Command::new(&self.bin)
                .args(["--listen", &self.listen.to_string()])
                .args(["--allow", &self.allow])
                .args(["--drain-timeout", "1s"])
                .args(["--handshake-timeout", "5s"])
                .args(["--connect-timeout", "5s"])
                .env("EDGEPG_PROXY_LOG", "info")
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::from(log))
                .spawn()
                .map_err(|e| format!("spawning {}: {e}", self.bin.display()))?;
            let stdout = child.stdout.take().ok_or("proxy stdout")?;
            let (tx, rx) = mpsc::channel();
            std::thread::spawn(move || {
                let mut lines = BufReader::new(stdout).lines();
                let mut announced = false;
                for line in lines.by_ref() {
                    let Ok(line) = line else { break };
                    if !announced && line.starts_with("edgepg-proxy: listening on ") {
                        announced = true;
                        let _ = tx.send(());
                    }
                }
            });
            match rx.recv_timeout(Duration::from_secs(10)) {
                Ok(()) => {
                    self.child = Some(child);
                    self.starts += 1;
                    self.rss_kib();
                    return Ok(());
                }
                Err(_) => {
                    let _ = child.kill();
                    let status = child.wait();
                    last = format!("exited or hung before listening ({status:?})");
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        }
        Err(format!(
            "edgepg-proxy did not start on {}: {last}",
            self.listen
        ))
    }

    /// Stops the proxy (SIGTERM and a bounded wait, or SIGKILL) and starts it again.
    pub fn restart(&mut self, graceful: bool) -> Result<(), String> {
        self.rss_kib();
        self.stop(graceful);
        self.spawn()
    }

    fn stop(&mut self, graceful: bool) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        if graceful {
            // SAFETY: kill(2) on a child we spawned and have not reaped yet.
            unsafe {
                libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
            }
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Drop for ProxyProcess {
    fn drop(&mut self) {
        self.stop(false);
    }
}
