//! A PgBouncer (Debian's package) in front of a harness PostgreSQL.

use std::fs;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::server::{chown_to_postgres, free_port, fresh_root, sh_quote, spawn_watchdog, PgServer};
use crate::util::{describe_output, is_root, tail};

/// The `pgbouncer` executable (`/usr/sbin/pgbouncer` from Debian's package,
/// else the first on `PATH`), if installed.
///
/// ```no_run
/// assert!(edgepg_tests::pgbouncer_bin().is_some(), "apt-get install -y pgbouncer");
/// ```
pub fn pgbouncer_bin() -> Option<PathBuf> {
    let debian = PathBuf::from("/usr/sbin/pgbouncer");
    if debian.is_file() {
        return Some(debian);
    }
    std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join("pgbouncer"))
            .find(|p| p.is_file())
    })
}

/// A running PgBouncer in front of a (managed) [`PgServer`], listening on
/// `127.0.0.1` on a free port, `auth_type = trust`, every database name
/// forwarded to the server. Stopped and its directory removed on drop (and
/// by a watchdog shortly after the test process exits).
///
/// ```no_run
/// use edgepg_tests::{PgBouncer, PgServer};
/// let pg = PgServer::shared();
/// let bouncer = PgBouncer::start(pg, "transaction", "");
/// let url = bouncer.url(); // postgresql://postgres@127.0.0.1:PORT/postgres?sslmode=disable
/// assert!(bouncer.version() >= (1, 0));
/// # let _ = url;
/// ```
#[derive(Debug)]
pub struct PgBouncer {
    port: u16,
    root: PathBuf,
    child: Child,
    version: (u32, u32),
}

impl PgBouncer {
    /// Starts PgBouncer with `pool_mode` (`session`, `transaction` or
    /// `statement`) and `extra` lines appended to its `[pgbouncer]` section
    /// (e.g. `"max_prepared_statements = 100\n"`). The pool to the server
    /// holds at most 2 server connections (`default_pool_size = 2`), so that
    /// clients really share them.
    ///
    /// # Panics
    ///
    /// If pgbouncer is not installed or does not start.
    pub fn start(pg: &PgServer, pool_mode: &str, extra: &str) -> PgBouncer {
        let bin = pgbouncer_bin().unwrap_or_else(|| {
            panic!(
                "edgepg-tests: pgbouncer not found; install Debian's package \
                 (`apt-get install -y pgbouncer`; `cargo xtask test` does)"
            )
        });
        let version = version_of(&bin);
        let root = fresh_root();
        let port = free_port();
        let log = root.join("pgbouncer.log");
        let pidfile = root.join("pgbouncer.pid");
        fs::write(root.join("userlist.txt"), "\"postgres\" \"\"\n")
            .unwrap_or_else(|e| panic!("edgepg-tests: write userlist.txt: {e}"));
        let conf = format!(
            "[databases]\n\
             * = host=127.0.0.1 port={pg_port}\n\
             [pgbouncer]\n\
             listen_addr = 127.0.0.1\n\
             listen_port = {port}\n\
             unix_socket_dir =\n\
             auth_type = trust\n\
             auth_file = {userlist}\n\
             admin_users = postgres\n\
             pool_mode = {pool_mode}\n\
             default_pool_size = 2\n\
             max_client_conn = 200\n\
             ignore_startup_parameters = extra_float_digits,options\n\
             logfile = {log}\n\
             pidfile = {pidfile}\n\
             {extra}",
            pg_port = pg.port(),
            userlist = root.join("userlist.txt").display(),
            log = log.display(),
            pidfile = pidfile.display(),
        );
        let ini = root.join("pgbouncer.ini");
        fs::write(&ini, conf).unwrap_or_else(|e| panic!("edgepg-tests: write pgbouncer.ini: {e}"));
        chown_to_postgres(&root);
        // Once this process has exited: stop PgBouncer, remove the directory.
        let pid = sh_quote(&pidfile.to_string_lossy());
        spawn_watchdog(
            &root,
            &format!("if [ -f {pid} ]; then kill $(cat {pid}) 2>/dev/null; fi"),
        );
        // PgBouncer refuses to run as root.
        let mut cmd = if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&bin);
            c
        } else {
            Command::new(&bin)
        };
        let child = cmd
            .arg(&ini)
            .current_dir(&root)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("edgepg-tests: cannot run {}: {e}", bin.display()));
        let mut bouncer = PgBouncer {
            port,
            root,
            child,
            version,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            if let Ok(Some(status)) = bouncer.child.try_wait() {
                panic!(
                    "edgepg-tests: pgbouncer exited ({status}) before listening:\n{}",
                    tail(&log, 30)
                );
            }
            if Instant::now() >= deadline {
                panic!(
                    "edgepg-tests: pgbouncer not listening on {port} after 10 s:\n{}",
                    tail(&log, 30)
                );
            }
            thread::sleep(Duration::from_millis(20));
        }
        eprintln!(
            "edgepg-tests: PgBouncer {}.{} ({pool_mode} mode) on 127.0.0.1:{port} in front of port {}",
            version.0,
            version.1,
            pg.port()
        );
        bouncer
    }

    /// The port PgBouncer listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `postgresql://postgres@127.0.0.1:PORT/postgres?sslmode=disable`.
    pub fn url(&self) -> String {
        format!(
            "postgresql://postgres@127.0.0.1:{}/postgres?sslmode=disable",
            self.port
        )
    }

    /// PgBouncer's `(major, minor)` version, from `pgbouncer --version`.
    pub fn version(&self) -> (u32, u32) {
        self.version
    }

    /// PgBouncer's log so far.
    pub fn log(&self) -> String {
        fs::read_to_string(self.root.join("pgbouncer.log")).unwrap_or_default()
    }
}

impl Drop for PgBouncer {
    fn drop(&mut self) {
        // runuser passes SIGTERM on to pgbouncer, which then exits at once.
        stop_pid_in(&self.root.join("pgbouncer.pid"));
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = fs::remove_dir_all(&self.root);
    }
}

/// Sends SIGTERM to the pid written in `pidfile`, if any.
fn stop_pid_in(pidfile: &Path) {
    if let Some(pid) = fs::read_to_string(pidfile)
        .ok()
        .and_then(|s| s.trim().parse::<i32>().ok())
    {
        // SAFETY: kill(2) with a pid read from PgBouncer's own pidfile.
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
    }
}

fn version_of(bin: &Path) -> (u32, u32) {
    let out = Command::new(bin)
        .arg("--version")
        .output()
        .unwrap_or_else(|e| panic!("edgepg-tests: cannot run {} --version: {e}", bin.display()));
    let text = String::from_utf8_lossy(&out.stdout);
    // "PgBouncer 1.18.0"
    let parsed = text
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| {
            let mut parts = v.split('.').map(|p| p.parse::<u32>().ok());
            Some((parts.next()??, parts.next()??))
        });
    parsed.unwrap_or_else(|| {
        panic!(
            "edgepg-tests: cannot read the version of {}: {}",
            bin.display(),
            describe_output(&out)
        )
    })
}
