//! A real `edgepg-proxy` process for the integration tests, and small raw
//! HTTP/WebSocket helpers.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The built proxy binary.
pub const BIN: &str = env!("CARGO_BIN_EXE_edgepg-proxy");

/// A running proxy process; killed on drop.
pub struct ProxyProcess {
    child: Option<Child>,
    /// WebSocket listener.
    pub addr: SocketAddr,
    /// Metrics listener.
    pub metrics: SocketAddr,
    log: PathBuf,
}

fn log_path() -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    std::env::temp_dir().join(format!(
        "edgepg-proxy-test-{}-{}.log",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ))
}

impl ProxyProcess {
    /// Starts the proxy on a free port with `args` (plus `--listen` and
    /// `--metrics` on free loopback ports unless `args` holds `--listen`).
    pub fn start(args: &[&str]) -> ProxyProcess {
        Self::start_env(args, &[])
    }

    /// Like [`start`](Self::start), with extra environment variables.
    pub fn start_env(args: &[&str], env: &[(&str, &str)]) -> ProxyProcess {
        let log = log_path();
        let mut cmd = Command::new(BIN);
        if !args.contains(&"--listen") {
            cmd.args(["--listen", "127.0.0.1:0"]);
        }
        cmd.args(["--metrics", "127.0.0.1:0"]).args(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        if std::env::var_os("EDGEPG_PROXY_LOG").is_none() {
            cmd.env("EDGEPG_PROXY_LOG", "info");
        }
        let stderr = std::fs::File::create(&log).expect("proxy log file");
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr));
        let mut child = cmd.spawn().expect("spawn edgepg-proxy");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let (mut addr, mut metrics) = (None, None);
        while addr.is_none() || metrics.is_none() {
            let Some(Ok(line)) = lines.next() else {
                let status = child.wait().ok();
                panic!(
                    "edgepg-proxy exited before listening ({status:?}):\n{}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            };
            if let Some(rest) = line.strip_prefix("edgepg-proxy: listening on ") {
                let hostport = rest.split("://").nth(1).expect("scheme");
                addr = Some(hostport.parse().expect("listen address"));
            } else if let Some(rest) = line.strip_prefix("edgepg-proxy: metrics on http://") {
                metrics = Some(
                    rest.trim_end_matches("/metrics")
                        .parse()
                        .expect("metrics address"),
                );
            }
        }
        // Keep draining stdout so the proxy never blocks on it.
        std::thread::spawn(move || for _ in lines {});
        ProxyProcess {
            child: Some(child),
            addr: addr.unwrap(),
            metrics: metrics.unwrap(),
            log,
        }
    }

    /// A proxy serving TLS with a fresh certificate for `localhost` (the
    /// harness's, made in `dir`), with `args`; returns it and the CA that
    /// signed the certificate.
    pub fn start_tls(dir: &Path, args: &[&str]) -> (ProxyProcess, PathBuf) {
        let certs = edgepg_tests::generate_certs(dir).expect("test certificates (openssl)");
        let cert = certs.server_cert.display().to_string();
        let key = certs.server_key.display().to_string();
        let mut all = vec!["--tls-cert", &cert, "--tls-key", &key];
        all.extend_from_slice(args);
        (Self::start(&all), certs.ca_cert)
    }

    /// `ws://ADDR/v1`.
    pub fn ws_url(&self) -> String {
        format!("ws://{}/v1", self.addr)
    }

    /// The proxy's log (stderr) so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The Prometheus exposition from `/metrics`.
    pub fn metrics_text(&self) -> String {
        let (status, body) = http_get(self.metrics, "/metrics", &[]);
        assert_eq!(status, 200, "{body}");
        body
    }

    /// One sample (`name` with its labels, e.g. `x_total{reason="origin"}`).
    pub fn metric(&self, sample: &str) -> u64 {
        let text = self.metrics_text();
        text.lines()
            .find_map(|l| l.strip_prefix(sample).and_then(|v| v.strip_prefix(' ')))
            .unwrap_or_else(|| panic!("no sample {sample} in:\n{text}"))
            .trim()
            .parse()
            .expect("numeric sample")
    }

    /// `edgepg_proxy_rejects_total{reason="…"}`.
    pub fn rejects(&self, reason: &str) -> u64 {
        self.metric(&format!(
            "edgepg_proxy_rejects_total{{reason=\"{reason}\"}}"
        ))
    }

    /// Waits until `sample` reads `value`.
    pub fn wait_metric(&self, sample: &str, value: u64, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            let now = self.metric(sample);
            if now == value {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{sample} is {now}, not {value}, after {within:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until `edgepg_proxy_connections_active` and the open sockets are 0.
    pub fn wait_idle(&self, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            let active = self.metric("edgepg_proxy_connections_active");
            let sockets = self.metric("edgepg_proxy_sockets_open");
            if active == 0 && sockets == 0 {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "still {active} tunnels and {sockets} sockets open after {within:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Sends SIGTERM.
    pub fn terminate(&self) {
        if let Some(child) = &self.child {
            // SAFETY: kill(2) with a pid we spawned and have not reaped.
            unsafe {
                libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
            }
        }
    }

    /// Waits for the process to exit (up to `within`).
    pub fn wait(&mut self, within: Duration) -> ExitStatus {
        let child = self.child.as_mut().expect("running");
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = child.try_wait().expect("try_wait") {
                self.child = None;
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the proxy did not exit within {within:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills the process (SIGKILL) and reaps it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for ProxyProcess {
    fn drop(&mut self) {
        self.kill();
        if !std::thread::panicking() {
            let _ = std::fs::remove_file(&self.log);
        } else {
            eprintln!("--- proxy log ({}) ---\n{}", self.log.display(), self.log());
        }
    }
}

/// Runs the proxy binary to completion (for startup-refusal tests).
pub fn run_proxy(args: &[&str], env: &[(&str, &str)]) -> (ExitStatus, String) {
    let mut cmd = Command::new(BIN);
    cmd.args(args).stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run edgepg-proxy");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status, text)
}

/// Sends a raw request head and reads the response: (status, whole text).
pub fn raw_request(addr: SocketAddr, head: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(head.as_bytes()).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, text)
}

/// A plain GET: (status, body).
pub fn http_get(addr: SocketAddr, path: &str, headers: &[&str]) -> (u16, String) {
    let mut head = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n");
    for h in headers {
        head.push_str(h);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    let (status, text) = raw_request(addr, &head);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// A WebSocket upgrade request for `path_and_query`: (status, whole response).
pub fn upgrade(addr: SocketAddr, path_and_query: &str, extra: &[&str]) -> (u16, String) {
    let mut headers = vec![
        "Upgrade: websocket",
        "Connection: Upgrade",
        "Sec-WebSocket-Version: 13",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
    ];
    headers.extend_from_slice(extra);
    let mut head = format!("GET {path_and_query} HTTP/1.1\r\nHost: {addr}\r\n");
    for h in headers {
        head.push_str(h);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    // A refused upgrade is answered and closed; an accepted one stays open,
    // so read only the head.
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(head.as_bytes()).unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
        let text = String::from_utf8_lossy(&out);
        if text.starts_with("HTTP/1.1 101") && text.contains("\r\n\r\n") {
            break;
        }
    }
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, text)
}
