//! A throwaway PostgreSQL server for tests.

use std::fs;
use std::io::Write;
use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use crate::certs::{self, Certs};
use crate::util::{
    clear_pg_env, describe_output, is_root, parse_url, pct_encode, random_hex, tail,
};

/// Name of the role created with a SCRAM-SHA-256 password.
const SCRAM_USER: &str = "edgepg_scram";
/// Members of this group must authenticate with SCRAM over TCP: tests create
/// roles `IN ROLE edgepg_scram_group` to try passwords of their own.
pub const SCRAM_GROUP: &str = "edgepg_scram_group";
/// Name of the role that must send its password in cleartext (`password` in pg_hba).
const PASSWORD_USER: &str = "edgepg_password";
/// How long to wait for the server to accept connections.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// Attempts at finding a free port before giving up.
const PORT_ATTEMPTS: usize = 5;

/// Options for a private server started with [`PgServer::start_with`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerOptions {
    /// Enable TLS (`ssl=on`) with a certificate signed by [`PgServer::ca_cert`].
    /// Default `true`.
    pub ssl: bool,
    /// `max_connections`. Default 300.
    pub max_connections: u32,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            ssl: true,
            max_connections: 300,
        }
    }
}

/// A PostgreSQL server for tests: either one the harness started itself
/// ("managed") or the external one named by the `PGSQL_TEST` environment
/// variable.
///
/// A managed server runs in a fresh directory `edgepg-pg-<pid>-<n>` under
/// `/dev/shm` (when it has room: initdb is much faster in memory), else
/// `/tmp`, or under `$EDGEPG_TEST_TMPDIR` if set; it holds `data/`, `sock/`,
/// `certs/` and `server.log`. The server listens on `127.0.0.1` on a free
/// port and on a Unix socket, trusts every user except `edgepg_scram`, which must authenticate with
/// SCRAM-SHA-256 over TCP. It logs connections and disconnections. It is
/// stopped and its directory removed when the value is dropped, and in any
/// case shortly after the test process exits (a detached watchdog sees to
/// that, also for the never-dropped [`PgServer::shared`] instance).
///
/// For an external server ([`is_managed`](Self::is_managed) is false) the
/// control methods ([`restart`](Self::restart), [`stop`](Self::stop),
/// [`start_again`](Self::start_again)) panic, the path accessors return
/// `None`, [`log`](Self::log) is empty and [`count_in_log`](Self::count_in_log)
/// is 0; tests that need them should check `is_managed()` and skip.
#[derive(Debug)]
pub struct PgServer {
    host: String,
    port: u16,
    url: String,
    scram: (String, String),
    /// The cleartext-password role of a managed server.
    password_role: Option<(String, String)>,
    managed: Option<Managed>,
}

/// State of a server the harness started.
#[derive(Debug)]
struct Managed {
    root: PathBuf,
    data: PathBuf,
    socket: PathBuf,
    log: PathBuf,
    bindir: PathBuf,
    certs: Option<Certs>,
    /// Serialises pg_ctl invocations (restart/stop/start/drop).
    ctl: Mutex<()>,
}

impl Managed {
    /// A fresh directory for a server of `bindir`'s binaries, watched (see
    /// [`spawn_pg_watchdog`]) from the start.
    fn fresh(bindir: PathBuf) -> Managed {
        let root = fresh_root();
        let managed = Managed {
            data: root.join("data"),
            socket: root.join("sock"),
            log: root.join("server.log"),
            root,
            bindir,
            certs: None,
            ctl: Mutex::new(()),
        };
        spawn_pg_watchdog(&managed.root, &managed.data, &managed.bindir);
        managed
    }
}

/// The directory holding the PostgreSQL server binaries (`initdb`, `pg_ctl`,
/// `postgres`, `psql`), if any is installed.
///
/// Looks in `/usr/lib/postgresql/<version>/bin` (newest version first), then
/// `pg_config --bindir`, then `PATH`.
pub fn pg_bindir() -> Option<PathBuf> {
    let has_initdb = |dir: &Path| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file();
    let preferred = PathBuf::from("/usr/lib/postgresql/15/bin");
    if has_initdb(&preferred) {
        return Some(preferred);
    }
    if let Ok(entries) = fs::read_dir("/usr/lib/postgresql") {
        let mut versions: Vec<(u32, PathBuf)> = entries
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let v = e.file_name().to_string_lossy().parse::<u32>().ok()?;
                let bin = e.path().join("bin");
                has_initdb(&bin).then_some((v, bin))
            })
            .collect();
        versions.sort();
        if let Some((_, bin)) = versions.pop() {
            return Some(bin);
        }
    }
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
        if out.status.success() {
            let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
            if has_initdb(&dir) {
                return Some(dir);
            }
        }
    }
    std::env::var_os("PATH")
        .and_then(|path| std::env::split_paths(&path).find(|dir| has_initdb(dir)))
}

/// Asks the kernel for a currently free TCP port on 127.0.0.1.
pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| {
            panic!("edgepg-tests: cannot bind 127.0.0.1:0 to find a free port: {e}")
        })
}

/// Where server directories go: `$EDGEPG_TEST_TMPDIR` if set, else
/// `/dev/shm` when it is a tmpfs-like directory with at least 4 GiB free
/// (initdb and copies are several times faster in memory), else `/tmp`.
fn base_dir() -> &'static Path {
    static BASE: OnceLock<PathBuf> = OnceLock::new();
    BASE.get_or_init(|| {
        if let Some(dir) = std::env::var_os("EDGEPG_TEST_TMPDIR").filter(|d| !d.is_empty()) {
            return PathBuf::from(dir);
        }
        let shm = Path::new("/dev/shm");
        if shm.is_dir() && free_bytes(shm).is_some_and(|free| free >= 4 << 30) {
            return shm.to_path_buf();
        }
        PathBuf::from("/tmp")
    })
}

/// Free bytes on the file system holding `dir`.
fn free_bytes(dir: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    // SAFETY: `path` is a valid NUL-terminated string and `st` a properly
    // sized, writable statvfs structure that the call fills in.
    unsafe {
        let mut st: libc::statvfs = std::mem::zeroed();
        if libc::statvfs(path.as_ptr(), &mut st) != 0 {
            return None;
        }
        #[allow(clippy::unnecessary_cast)]
        Some(st.f_bavail as u64 * st.f_frsize as u64)
    }
}

/// A fresh directory `<base>/edgepg-pg-<pid>-<n>` (see [`base_dir`]; falls
/// back to `/tmp` if the base is not writable).
pub(crate) fn fresh_root() -> PathBuf {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let mut base = base_dir();
    loop {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = base.join(format!("edgepg-pg-{}-{n}", std::process::id()));
        if dir.exists() {
            // Left over by an earlier process that had the same pid.
            let _ = fs::remove_dir_all(&dir);
            if dir.exists() {
                continue;
            }
        }
        match fs::create_dir(&dir) {
            Ok(()) => {
                let _ = fs::set_permissions(&dir, fs::Permissions::from_mode(0o755));
                return dir;
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(_) if base != Path::new("/tmp") => base = Path::new("/tmp"),
            Err(e) => panic!("edgepg-tests: cannot create {}: {e}", dir.display()),
        }
    }
}

/// Single-quotes a string for `sh`.
pub(crate) fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

impl Managed {
    fn pg_cmd(&self, prog: &str) -> Command {
        pg_command(&self.bindir, prog, &self.root)
    }

    fn log_tail(&self) -> String {
        tail(&self.log, 40)
    }

    /// Runs `pg_ctl <args>`; `Err` carries its output and the log tail.
    fn pg_ctl(&self, args: &[&str]) -> Result<(), String> {
        let out = self
            .pg_cmd("pg_ctl")
            .arg("-D")
            .arg(&self.data)
            .args(args)
            .output()
            .map_err(|e| format!("cannot run pg_ctl: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "pg_ctl {} failed: {}\n--- server log tail ({}) ---\n{}",
                args.join(" "),
                describe_output(&out),
                self.log.display(),
                self.log_tail()
            ))
        }
    }

    /// `pg_ctl start`, logging to the server log, waiting until ready.
    fn ctl_start(&self) -> Result<(), String> {
        let log = self.log.to_string_lossy().into_owned();
        self.pg_ctl(&["-l", &log, "-w", "-t", "30", "-s", "start"])
    }

    fn ctl_stop(&self, mode: &str) -> Result<(), String> {
        self.pg_ctl(&["-w", "-t", "30", "-s", "stop", "-m", mode])
    }

    fn ctl_restart(&self) -> Result<(), String> {
        let log = self.log.to_string_lossy().into_owned();
        self.pg_ctl(&["-l", &log, "-w", "-t", "30", "-s", "restart", "-m", "fast"])
    }
}

/// A watchdog (see [`spawn_watchdog`]) that stops any server running in
/// `data` with `pg_ctl stop -m immediate`.
fn spawn_pg_watchdog(root: &Path, data: &Path, bindir: &Path) {
    let data = sh_quote(&data.to_string_lossy());
    let pg_ctl = sh_quote(&bindir.join("pg_ctl").to_string_lossy());
    let runas = if is_root() {
        "runuser -u postgres -- "
    } else {
        ""
    };
    spawn_watchdog(
        root,
        &format!("{runas}{pg_ctl} -D {data} stop -m immediate -w -t 20"),
    );
}

/// Spawns a detached watchdog that, once this process has exited, runs the
/// shell command `stop` and removes `root` (it also ends by itself when
/// `root` disappears first).
pub(crate) fn spawn_watchdog(root: &Path, stop: &str) {
    let pid = std::process::id();
    let root = sh_quote(&root.to_string_lossy());
    let script = format!(
        "cd /; while kill -0 {pid} 2>/dev/null && [ -d {root} ]; do sleep 0.5; done; \
         if [ -d {root} ]; then {stop}; rm -rf {root}; fi"
    );
    let spawned = Command::new("setsid")
        .arg("-f")
        .arg("sh")
        .arg("-c")
        .arg(&script)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if let Err(e) = spawned {
        eprintln!("edgepg-tests: warning: cannot spawn watchdog (setsid): {e}");
    }
}

/// Runs `bindir/prog` as the `postgres` OS user when we are root, directly
/// otherwise; no `PG*` environment, stdin closed, in directory `cwd`.
fn pg_command(bindir: &Path, prog: &str, cwd: &Path) -> Command {
    let path = bindir.join(prog);
    let mut cmd = if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(path);
        c
    } else {
        Command::new(path)
    };
    cmd.current_dir(cwd).stdin(Stdio::null());
    clear_pg_env(&mut cmd);
    cmd
}

/// `chown -R postgres: dir` when running as root.
pub(crate) fn chown_to_postgres(dir: &Path) {
    if !is_root() {
        return;
    }
    match Command::new("chown")
        .args(["-R", "postgres:"])
        .arg(dir)
        .output()
    {
        Ok(o) if o.status.success() => {}
        Ok(o) => panic!(
            "edgepg-tests: chown -R postgres: {} failed ({}); does the OS user `postgres` exist?",
            dir.display(),
            describe_output(&o)
        ),
        Err(e) => panic!("edgepg-tests: cannot run chown: {e}"),
    }
}

/// A freshly initdb'd data directory, made once per process and copied for
/// every server (initdb takes about a second, a copy a tenth of that).
fn template(bindir: &Path) -> &'static Path {
    static TEMPLATE: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let made = TEMPLATE.get_or_init(|| {
        let root = fresh_root();
        let data = root.join("data");
        spawn_pg_watchdog(&root, &data, bindir);
        chown_to_postgres(&root);
        let mut last = String::new();
        for locale in ["C.UTF-8", "C"] {
            let out = pg_command(bindir, "initdb", &root)
                .arg("-D")
                .arg(&data)
                .args(["-A", "trust", "-U", "postgres", "-E", "UTF8", "-N"])
                .arg(format!("--locale={locale}"))
                .output()
                .map_err(|e| format!("cannot run initdb: {e}"))?;
            if out.status.success() {
                return Ok(data);
            }
            last = describe_output(&out);
            let _ = fs::remove_dir_all(&data);
        }
        let _ = fs::remove_dir_all(&root);
        Err(format!("initdb failed: {last}"))
    });
    match made {
        Ok(p) => p,
        Err(e) => panic!("edgepg-tests: {e}"),
    }
}

impl PgServer {
    /// The process-wide shared server, started on first use.
    ///
    /// If the environment variable `PGSQL_TEST` is set to a PostgreSQL URL,
    /// that server is used instead and nothing is started
    /// ([`is_managed`](Self::is_managed) is false). Otherwise the server is
    /// started with [`ServerOptions::default`].
    ///
    /// # Panics
    ///
    /// If the server cannot be started, or `PGSQL_TEST` is not a valid URL.
    pub fn shared() -> &'static PgServer {
        static SHARED: OnceLock<PgServer> = OnceLock::new();
        SHARED.get_or_init(|| match std::env::var("PGSQL_TEST") {
            Ok(url) if !url.trim().is_empty() => PgServer::external(url.trim()),
            _ => PgServer::start(),
        })
    }

    /// Wraps an external server given by URL.
    fn external(url: &str) -> PgServer {
        let parts = parse_url(url)
            .unwrap_or_else(|e| panic!("edgepg-tests: PGSQL_TEST is not usable: {e}"));
        let scram = match std::env::var("PGSQL_TEST_SCRAM") {
            Ok(s) => match s.split_once(':') {
                Some((u, p)) => (u.to_string(), p.to_string()),
                None => (s, String::new()),
            },
            Err(_) => (
                parts.user.clone(),
                parts.password.clone().unwrap_or_default(),
            ),
        };
        PgServer {
            host: parts.host.clone(),
            port: parts.port,
            url: url.to_string(),
            scram,
            password_role: None,
            managed: None,
        }
    }

    /// Starts a private server with default options (TLS on, 300
    /// connections). It is stopped and its directory removed on drop.
    ///
    /// # Panics
    ///
    /// If the server cannot be started (the message includes the log tail).
    pub fn start() -> PgServer {
        PgServer::start_with(ServerOptions::default())
    }

    /// Starts a private server with the given options. It is stopped and its
    /// directory removed on drop.
    ///
    /// # Panics
    ///
    /// If the server cannot be started (the message includes the log tail).
    pub fn start_with(opts: ServerOptions) -> PgServer {
        let started = Instant::now();
        let bindir = pg_bindir().unwrap_or_else(|| {
            panic!(
                "edgepg-tests: PostgreSQL server binaries (initdb, pg_ctl) not found in \
                 /usr/lib/postgresql/*/bin, `pg_config --bindir` or PATH; install the \
                 `postgresql` package (`cargo xtask test` does) or set PGSQL_TEST"
            )
        });
        // From here on `server` is in scope, so a panic stops the server and
        // removes the directory on unwinding; the watchdog covers aborts.
        let managed = Managed::fresh(bindir);
        let mut server = PgServer {
            host: "127.0.0.1".to_string(),
            port: 0,
            url: String::new(),
            scram: (SCRAM_USER.to_string(), random_hex(12)),
            password_role: Some((PASSWORD_USER.to_string(), random_hex(12))),
            managed: Some(managed),
        };
        server.setup(&opts);
        eprintln!(
            "edgepg-tests: PostgreSQL started on 127.0.0.1:{} in {} ms ({})",
            server.port,
            started.elapsed().as_millis(),
            server.m().root.display()
        );
        server
    }

    fn m(&self) -> &Managed {
        self.managed
            .as_ref()
            .expect("edgepg-tests: internal error: managed state missing")
    }

    /// The managed state, or a panic naming the method for external servers.
    fn managed_or_panic(&self, what: &str) -> &Managed {
        self.managed.as_ref().unwrap_or_else(|| {
            panic!(
                "edgepg-tests: PgServer::{what} is not available for the external server \
                 from PGSQL_TEST; check is_managed() first"
            )
        })
    }

    /// initdb, configuration, certificates, start, SCRAM role.
    fn setup(&mut self, opts: &ServerOptions) {
        let m = self.m();
        fs::create_dir(&m.socket)
            .unwrap_or_else(|e| panic!("edgepg-tests: create {}: {e}", m.socket.display()));
        let _ = fs::set_permissions(&m.socket, fs::Permissions::from_mode(0o755));
        let certs = if opts.ssl {
            Some(
                certs::generate(&m.root.join("certs"))
                    .unwrap_or_else(|e| panic!("edgepg-tests: cannot make TLS certificates: {e}")),
            )
        } else {
            None
        };
        if let Some(c) = &certs {
            let _ = fs::set_permissions(&c.server_key, fs::Permissions::from_mode(0o600));
        }
        chown_to_postgres(&m.root);
        self.initdb();
        let m = self.m();
        let hba = format!(
            "# edgepg test harness\n\
             local all all trust\n\
             host all {SCRAM_USER} 127.0.0.1/32 scram-sha-256\n\
             host all {SCRAM_USER} ::1/128 scram-sha-256\n\
             host all +{SCRAM_GROUP} 127.0.0.1/32 scram-sha-256\n\
             host all +{SCRAM_GROUP} ::1/128 scram-sha-256\n\
             host all {PASSWORD_USER} 127.0.0.1/32 password\n\
             host all {PASSWORD_USER} ::1/128 password\n\
             host all all 127.0.0.1/32 trust\n\
             host all all ::1/128 trust\n\
             local replication all trust\n\
             host replication all 127.0.0.1/32 trust\n"
        );
        fs::write(m.data.join("pg_hba.conf"), hba)
            .unwrap_or_else(|e| panic!("edgepg-tests: write pg_hba.conf: {e}"));
        let mut conf = format!(
            "\n# edgepg test harness\n\
             listen_addresses = '127.0.0.1'\n\
             unix_socket_directories = '{}'\n\
             max_connections = {}\n\
             fsync = off\n\
             synchronous_commit = off\n\
             full_page_writes = off\n\
             log_connections = on\n\
             log_disconnections = on\n\
             log_line_prefix = '%m [%p] %u@%d '\n\
             lc_messages = 'C'\n\
             password_encryption = 'scram-sha-256'\n\
             wal_level = replica\n\
             max_wal_senders = 10\n\
             wal_keep_size = '64MB'\n",
            m.socket.display(),
            opts.max_connections,
        );
        if let Some(c) = &certs {
            conf.push_str(&format!(
                "ssl = on\nssl_cert_file = '{}'\nssl_key_file = '{}'\n",
                c.server_cert.display(),
                c.server_key.display()
            ));
        } else {
            conf.push_str("ssl = off\n");
        }
        append(&m.data.join("postgresql.conf"), &conf);
        if let Some(m) = self.managed.as_mut() {
            m.certs = certs;
        }

        // Start on a free port, retrying with another one if it was taken
        // between probing and binding.
        let mut attempt = 0;
        loop {
            attempt += 1;
            let port = free_port();
            let m = self.m();
            append(&m.data.join("postgresql.conf"), &format!("port = {port}\n"));
            let log_len = fs::metadata(&m.log).map(|md| md.len()).unwrap_or(0);
            match m.ctl_start() {
                Ok(()) => {
                    self.set_port(port);
                    break;
                }
                Err(e) => {
                    let log = fs::read(&m.log).unwrap_or_default();
                    let new = String::from_utf8_lossy(log.get(log_len as usize..).unwrap_or(&[]))
                        .into_owned();
                    let port_taken =
                        new.contains("already in use") || new.contains("could not bind");
                    if port_taken && attempt < PORT_ATTEMPTS {
                        continue;
                    }
                    panic!("edgepg-tests: cannot start PostgreSQL: {e}");
                }
            }
        }
        self.wait_ready();
        self.create_scram_role();
    }

    fn initdb(&self) {
        let m = self.m();
        let template = template(&m.bindir);
        let out = Command::new("cp")
            .arg("-a")
            .arg(template)
            .arg(&m.data)
            .output()
            .unwrap_or_else(|e| panic!("edgepg-tests: cannot run cp: {e}"));
        if !out.status.success() {
            panic!(
                "edgepg-tests: copying the initdb template {} failed: {}",
                template.display(),
                describe_output(&out)
            );
        }
    }

    fn set_port(&mut self, port: u16) {
        self.port = port;
        self.url = format!("postgresql://postgres@127.0.0.1:{port}/postgres?sslmode=disable");
    }

    /// Waits until `SELECT 1` succeeds over the Unix socket.
    fn wait_ready(&self) {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            match self.psql("SELECT 1") {
                Ok(_) => return,
                Err(e) if Instant::now() >= deadline => panic!(
                    "edgepg-tests: PostgreSQL on port {} not ready after {:?}: {e}\n--- server log tail ---\n{}",
                    self.port,
                    READY_TIMEOUT,
                    self.m().log_tail()
                ),
                Err(_) => thread::sleep(Duration::from_millis(50)),
            }
        }
    }

    fn create_scram_role(&self) {
        let (user, password) = self.scram_user();
        let (pw_user, pw_password) = self.password_user().unwrap_or_default();
        let sql = format!(
            "CREATE ROLE {user} LOGIN PASSWORD '{password}';\n\
             GRANT ALL ON SCHEMA public TO {user};\n\
             CREATE ROLE {pw_user} LOGIN PASSWORD '{pw_password}';\n\
             CREATE ROLE {SCRAM_GROUP} NOLOGIN;\n\
             SELECT rolpassword LIKE 'SCRAM-SHA-256$%' FROM pg_authid WHERE rolname = '{user}';"
        );
        match self.psql(&sql) {
            Ok(out) if out == "t" => {}
            Ok(out) => panic!("edgepg-tests: role {user} did not get a SCRAM verifier: {out:?}"),
            Err(e) => panic!("edgepg-tests: cannot create role {user}: {e}"),
        }
        let conninfo = format!(
            "host=127.0.0.1 port={} user={user} password={password} dbname=postgres sslmode=disable",
            self.port
        );
        match self.psql_conn(&conninfo, "SELECT current_user") {
            Ok(out) if out == user => {}
            other => panic!(
                "edgepg-tests: SCRAM login as {user} over TCP failed: {other:?}\n--- server log tail ---\n{}",
                self.m().log_tail()
            ),
        }
    }

    /// True when the harness started this server (and can restart it, read
    /// its log, …); false for the external server from `PGSQL_TEST`.
    pub fn is_managed(&self) -> bool {
        self.managed.is_some()
    }

    /// The TCP host: `"127.0.0.1"` for a managed server.
    pub fn host(&self) -> String {
        self.host.clone()
    }

    /// The TCP port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The TCP address (host resolved), e.g. as a [`Relay`](crate::Relay) target.
    ///
    /// # Panics
    ///
    /// If the host of an external server does not resolve.
    pub fn socket_addr(&self) -> SocketAddr {
        (self.host.as_str(), self.port)
            .to_socket_addrs()
            .ok()
            .and_then(|mut a| a.next())
            .unwrap_or_else(|| panic!("edgepg-tests: cannot resolve {}:{}", self.host, self.port))
    }

    /// The Unix socket directory (world-accessible), for managed servers.
    pub fn socket_dir(&self) -> Option<&Path> {
        self.managed.as_ref().map(|m| m.socket.as_path())
    }

    /// The superuser URL. For a managed server:
    /// `postgresql://postgres@127.0.0.1:PORT/postgres?sslmode=disable` (trust
    /// auth); for an external one, `PGSQL_TEST` verbatim.
    pub fn url(&self) -> String {
        self.url.clone()
    }

    /// A URL to this server's host and port for `user` (with `password` if
    /// given) and database `db`. `extra_query` is appended verbatim as the
    /// query string (a leading `?` is optional; empty means none), e.g.
    /// `"sslmode=require&application_name=x"`. Nothing is added to it: unlike
    /// [`url`](Self::url) there is no implicit `sslmode=disable`.
    pub fn url_for(
        &self,
        user: &str,
        password: Option<&str>,
        db: &str,
        extra_query: &str,
    ) -> String {
        let mut url = format!("postgresql://{}", pct_encode(user));
        if let Some(pw) = password {
            url.push(':');
            url.push_str(&pct_encode(pw));
        }
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        url.push_str(&format!("@{host}:{}/{}", self.port, pct_encode(db)));
        let q = extra_query.trim_start_matches(['?', '&']);
        if !q.is_empty() {
            url.push('?');
            url.push_str(q);
        }
        url
    }

    /// `(user, password)` of a login role whose password is stored as
    /// SCRAM-SHA-256 and which must authenticate with SCRAM over TCP
    /// (`edgepg_scram` with a random password, for a managed server).
    ///
    /// For an external server: `PGSQL_TEST_SCRAM` (`user:password`) if set,
    /// else the user and password of `PGSQL_TEST`.
    pub fn scram_user(&self) -> (&str, &str) {
        (&self.scram.0, &self.scram.1)
    }

    /// `(user, password)` of a login role that must send its password in
    /// cleartext over TCP (`password` in pg_hba.conf), as behind Neon-style
    /// proxies; `edgepg_password` on a managed server, `None` on an external one.
    pub fn password_user(&self) -> Option<(&str, &str)> {
        self.password_role
            .as_ref()
            .map(|(u, p)| (u.as_str(), p.as_str()))
    }

    /// PEM file of the CA that signed the server certificate (managed TLS
    /// servers only). The certificate names only `DNS:localhost`.
    pub fn ca_cert(&self) -> Option<&Path> {
        self.certs().map(|c| c.ca_cert.as_path())
    }

    /// PEM file of a second CA, unrelated to the server certificate (managed
    /// TLS servers only).
    pub fn wrong_ca_cert(&self) -> Option<&Path> {
        self.certs().map(|c| c.wrong_ca_cert.as_path())
    }

    fn certs(&self) -> Option<&Certs> {
        self.managed.as_ref().and_then(|m| m.certs.as_ref())
    }

    /// The server log file (managed servers only). Connections and
    /// disconnections are logged, lines prefixed `'%m [%p] %u@%d '`.
    pub fn log_path(&self) -> Option<&Path> {
        self.managed.as_ref().map(|m| m.log.as_path())
    }

    /// The whole server log so far (empty for an external server).
    pub fn log(&self) -> String {
        self.log_path()
            .and_then(|p| fs::read(p).ok())
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    /// How many times `needle` occurs in the server log (0 for an external
    /// server), e.g. `count_in_log("connection authorized: user=edgepg_scram")`.
    pub fn count_in_log(&self, needle: &str) -> usize {
        if needle.is_empty() {
            return 0;
        }
        self.log().matches(needle).count()
    }

    /// Runs SQL as the superuser with `psql -X -At -q -v ON_ERROR_STOP=1`
    /// (over the Unix socket for a managed server, `PGSQL_TEST` otherwise).
    /// Several statements may be given; each runs on its own (not in one
    /// transaction). Returns stdout with trailing newlines removed; `Err`
    /// carries psql's stderr.
    pub fn psql(&self, sql: &str) -> Result<String, String> {
        let conninfo = match &self.managed {
            Some(m) => format!(
                "host='{}' port={} user=postgres dbname=postgres",
                m.socket.display(),
                self.port
            ),
            None => self.url.clone(),
        };
        self.psql_conn(&conninfo, sql)
    }

    /// Like [`psql`](Self::psql) but connecting with any libpq connection
    /// string or URL, e.g. through a [`Relay`](crate::Relay), as the SCRAM
    /// user, or with `sslmode=verify-full sslrootcert=…`.
    pub fn psql_conn(&self, conninfo: &str, sql: &str) -> Result<String, String> {
        let psql = match &self.managed {
            Some(m) => m.bindir.join("psql"),
            None => pg_bindir()
                .map(|d| d.join("psql"))
                .filter(|p| p.is_file())
                .unwrap_or_else(|| PathBuf::from("psql")),
        };
        let mut cmd = Command::new(&psql);
        clear_pg_env(&mut cmd);
        cmd.args([
            "-X",
            "-A",
            "-t",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-d",
            conninfo,
            "-f",
            "-",
        ])
        .env("PGCONNECT_TIMEOUT", "10")
        .env("PGPASSFILE", "/dev/null")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        if let Some(m) = &self.managed {
            cmd.current_dir(&m.root);
        }
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", psql.display()))?;
        let mut stdin = child.stdin.take().expect("piped stdin");
        let sql = sql.to_string();
        // Written from a thread so large input and output cannot deadlock.
        let writer = thread::spawn(move || {
            let _ = stdin.write_all(sql.as_bytes());
        });
        let out = child
            .wait_with_output()
            .map_err(|e| format!("waiting for psql: {e}"))?;
        let _ = writer.join();
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout)
                .trim_end_matches('\n')
                .to_string())
        } else {
            let stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
            Err(if stderr.is_empty() {
                format!("psql failed: {}", out.status)
            } else {
                stderr
            })
        }
    }

    /// Restarts the server (`pg_ctl restart -m fast`: sessions are
    /// terminated) and waits until it accepts connections again. Same port.
    ///
    /// # Panics
    ///
    /// For an external server, or if the server does not come back.
    pub fn restart(&self) {
        let m = self.managed_or_panic("restart");
        let _guard = m.ctl.lock().unwrap_or_else(|e| e.into_inner());
        if let Err(e) = m.ctl_restart() {
            panic!("edgepg-tests: restart failed: {e}");
        }
        self.wait_ready();
    }

    /// Stops the server (`pg_ctl stop -m fast`) and waits until it is down.
    ///
    /// # Panics
    ///
    /// For an external server, or if pg_ctl fails.
    pub fn stop(&self) {
        let m = self.managed_or_panic("stop");
        let _guard = m.ctl.lock().unwrap_or_else(|e| e.into_inner());
        if let Err(e) = m.ctl_stop("fast") {
            panic!("edgepg-tests: stop failed: {e}");
        }
    }

    /// Starts the server again after [`stop`](Self::stop) (same port) and
    /// waits until it accepts connections.
    ///
    /// # Panics
    ///
    /// For an external server, or if the server does not come up.
    pub fn start_again(&self) {
        let m = self.managed_or_panic("start_again");
        let _guard = m.ctl.lock().unwrap_or_else(|e| e.into_inner());
        if let Err(e) = m.ctl_start() {
            panic!("edgepg-tests: start failed: {e}");
        }
        self.wait_ready();
    }
}

/// Name the standby reports to its primary (`application_name` of its WAL
/// receiver), as listed in `synchronous_standby_names`.
pub const STANDBY_NAME: &str = "edgepg_standby";

impl PgServer {
    /// Starts a streaming standby of this (managed) server: `pg_basebackup -R
    /// -X stream` from the same binaries into a fresh directory owned by
    /// `postgres`, its own port and socket, a hot standby that reports itself as
    /// [`STANDBY_NAME`]. With `synchronous`, the primary is then given
    /// `synchronous_standby_names` naming it, and this waits until
    /// `pg_stat_replication` shows it `sync`: a COMMIT is acknowledged only once
    /// the standby has flushed it. Without, replication is asynchronous: a
    /// COMMIT is acknowledged once flushed on the primary. Either way the
    /// primary is switched to `synchronous_commit = on` (the harness' default is off).
    ///
    /// The standby is a [`PgServer`] like any other: [`psql`](Self::psql),
    /// [`url`](Self::url), [`promote`](Self::promote), [`kill`](Self::kill);
    /// it is stopped and removed on drop.
    ///
    /// ```no_run
    /// use edgepg_tests::{PgServer, ServerOptions};
    /// let primary = PgServer::start_with(ServerOptions { ssl: false, ..ServerOptions::default() });
    /// let standby = primary.start_standby(true);
    /// primary.psql("CREATE TABLE t (n int); INSERT INTO t VALUES (1)").unwrap();
    /// // Synchronous: the row is on the standby once the INSERT returned.
    /// assert_eq!(standby.psql("SELECT count(*) FROM t").unwrap(), "1");
    /// primary.kill();
    /// standby.promote();
    /// standby.psql("INSERT INTO t VALUES (2)").unwrap();
    /// ```
    ///
    /// # Panics
    ///
    /// For an external server, or when the standby cannot be made or started.
    pub fn start_standby(&self, synchronous: bool) -> PgServer {
        let started = Instant::now();
        let pm = self.managed_or_panic("start_standby");
        let managed = Managed::fresh(pm.bindir.clone());
        let mut standby = PgServer {
            host: "127.0.0.1".to_string(),
            port: 0,
            url: String::new(),
            scram: self.scram.clone(),
            password_role: self.password_role.clone(),
            managed: Some(managed),
        };
        let m = standby.m();
        fs::create_dir(&m.socket)
            .unwrap_or_else(|e| panic!("edgepg-tests: create {}: {e}", m.socket.display()));
        let _ = fs::set_permissions(&m.socket, fs::Permissions::from_mode(0o755));
        chown_to_postgres(&m.root);
        let out = m
            .pg_cmd("pg_basebackup")
            .arg("-D")
            .arg(&m.data)
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args(["-U", "postgres", "-R", "-X", "stream", "-c", "fast"])
            .output()
            .unwrap_or_else(|e| panic!("edgepg-tests: cannot run pg_basebackup: {e}"));
        if !out.status.success() {
            panic!(
                "edgepg-tests: pg_basebackup from port {} failed: {}\n--- primary log tail ---\n{}",
                self.port,
                describe_output(&out),
                pm.log_tail()
            );
        }
        let conf = format!(
            "\n# edgepg test harness: standby of port {primary}\n\
             unix_socket_directories = '{sock}'\n\
             ssl = off\n\
             hot_standby = on\n\
             wal_receiver_status_interval = 1s\n\
             primary_conninfo = 'host=127.0.0.1 port={primary} user=postgres application_name={STANDBY_NAME}'\n",
            primary = self.port,
            sock = m.socket.display(),
        );
        append(&m.data.join("postgresql.auto.conf"), &conf);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let port = free_port();
            let m = standby.m();
            append(
                &m.data.join("postgresql.auto.conf"),
                &format!("port = {port}\n"),
            );
            match m.ctl_start() {
                Ok(()) => {
                    standby.set_port(port);
                    break;
                }
                Err(e) if attempt < PORT_ATTEMPTS && e.contains("could not bind") => continue,
                Err(e) => panic!("edgepg-tests: cannot start the standby: {e}"),
            }
        }
        standby.wait_ready();
        // A COMMIT is acknowledged once its WAL is flushed locally (and, when
        // synchronous, on the standby): the harness' `synchronous_commit = off`
        // would let the primary acknowledge commits it has not even written.
        let names = if synchronous { STANDBY_NAME } else { "" };
        self.psql(&format!(
            "ALTER SYSTEM SET synchronous_standby_names = '{names}';\n\
             ALTER SYSTEM SET synchronous_commit = on;\n\
             SELECT pg_reload_conf();"
        ))
        .unwrap_or_else(|e| panic!("edgepg-tests: cannot set synchronous_commit: {e}"));
        let want = if synchronous { "sync" } else { "async" };
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            let state = self
                .psql(&format!(
                    "SELECT state || ' ' || sync_state FROM pg_stat_replication \
                     WHERE application_name = '{STANDBY_NAME}'"
                ))
                .unwrap_or_default();
            if state == format!("streaming {want}") {
                break;
            }
            if Instant::now() >= deadline {
                panic!(
                    "edgepg-tests: the standby on port {} is not streaming {want} after {READY_TIMEOUT:?} \
                     (pg_stat_replication says {state:?})\n--- standby log tail ---\n{}",
                    standby.port,
                    standby.m().log_tail()
                );
            }
            thread::sleep(Duration::from_millis(50));
        }
        eprintln!(
            "edgepg-tests: {want} standby of port {} started on 127.0.0.1:{} in {} ms ({})",
            self.port,
            standby.port,
            started.elapsed().as_millis(),
            standby.m().root.display()
        );
        standby
    }

    /// Promotes a standby to primary (`pg_ctl promote -w`): returns once it
    /// accepts writes.
    ///
    /// # Panics
    ///
    /// For an external server, or if the promotion fails.
    pub fn promote(&self) {
        let m = self.managed_or_panic("promote");
        let _guard = m.ctl.lock().unwrap_or_else(|e| e.into_inner());
        if let Err(e) = m.pg_ctl(&["-w", "-t", "30", "-s", "promote"]) {
            panic!("edgepg-tests: promote failed: {e}");
        }
    }

    /// Kills the server hard (`pg_ctl stop -m immediate`: no checkpoint, every
    /// backend quits at once, as in a crash) and waits until it is gone.
    ///
    /// # Panics
    ///
    /// For an external server, or if pg_ctl fails.
    pub fn kill(&self) {
        let m = self.managed_or_panic("kill");
        let _guard = m.ctl.lock().unwrap_or_else(|e| e.into_inner());
        if let Err(e) = m.ctl_stop("immediate") {
            panic!("edgepg-tests: kill failed: {e}");
        }
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        if let Some(m) = &self.managed {
            let _guard = m.ctl.lock().unwrap_or_else(|e| e.into_inner());
            if m.data.join("postmaster.pid").exists() {
                let _ = m.ctl_stop("immediate");
            }
            let _ = fs::remove_dir_all(&m.root);
        }
    }
}

/// Appends text to a file that must exist.
fn append(path: &Path, text: &str) {
    fs::OpenOptions::new()
        .append(true)
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .unwrap_or_else(|e| panic!("edgepg-tests: append to {}: {e}", path.display()));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Relay;

    fn shared_managed() -> Option<&'static PgServer> {
        let pg = PgServer::shared();
        if pg.is_managed() {
            Some(pg)
        } else {
            eprintln!("PGSQL_TEST is set: skipping a test that needs a managed server");
            None
        }
    }

    #[test]
    fn shared_server_runs_sql() {
        let pg = PgServer::shared();
        assert_eq!(pg.psql("SELECT 1").unwrap(), "1");
        assert_eq!(
            pg.psql("SELECT 1; SELECT 'a' UNION ALL SELECT 'b'")
                .unwrap(),
            "1\na\nb"
        );
        let err = pg.psql("SELECT * FROM no_such_table").unwrap_err();
        assert!(err.contains("no_such_table"), "{err}");
        assert!(std::ptr::eq(pg, PgServer::shared()));
        if pg.is_managed() {
            assert_eq!(pg.host(), "127.0.0.1");
            assert_eq!(
                pg.url(),
                format!(
                    "postgresql://postgres@127.0.0.1:{}/postgres?sslmode=disable",
                    pg.port()
                )
            );
            let sock = pg.socket_dir().unwrap();
            assert!(sock.join(format!(".s.PGSQL.{}", pg.port())).exists());
            assert_eq!(pg.psql("SHOW max_connections").unwrap(), "300");
            assert_eq!(pg.psql("SHOW ssl").unwrap(), "on");
            assert_eq!(
                pg.psql("SHOW password_encryption").unwrap(),
                "scram-sha-256"
            );
        }
    }

    #[test]
    fn superuser_url_over_tcp() {
        let pg = PgServer::shared();
        assert_eq!(
            pg.psql_conn(&pg.url(), "SELECT current_user").unwrap(),
            "postgres"
        );
        if pg.is_managed() {
            assert!(pg.count_in_log("connection authorized: user=postgres") > 0);
            assert!(pg.log().contains("disconnection: session time"));
        }
    }

    #[test]
    fn scram_role_requires_password() {
        let Some(pg) = shared_managed() else { return };
        let (user, password) = pg.scram_user();
        assert_eq!(user, "edgepg_scram");
        let before = pg.count_in_log(&format!(
            "password authentication failed for user \"{user}\""
        ));
        let ok = pg.url_for(user, Some(password), "postgres", "sslmode=disable");
        assert_eq!(pg.psql_conn(&ok, "SELECT current_user").unwrap(), user);
        let bad = pg.url_for(user, Some("wrong"), "postgres", "sslmode=disable");
        let err = pg.psql_conn(&bad, "SELECT 1").unwrap_err();
        assert!(err.contains("password authentication failed"), "{err}");
        let none = pg.url_for(user, None, "postgres", "sslmode=disable");
        assert!(pg.psql_conn(&none, "SELECT 1").is_err());
        // The failure is logged (the log is written asynchronously).
        let deadline = Instant::now() + Duration::from_secs(5);
        while pg.count_in_log(&format!(
            "password authentication failed for user \"{user}\""
        )) <= before
        {
            assert!(Instant::now() < deadline, "auth failure not logged");
            thread::sleep(Duration::from_millis(20));
        }
        let authid = pg
            .psql(&format!(
                "SELECT left(rolpassword, 14) FROM pg_authid WHERE rolname = '{user}'"
            ))
            .unwrap();
        assert_eq!(authid, "SCRAM-SHA-256$");
    }

    #[test]
    fn tls_certificates() {
        let Some(pg) = shared_managed() else { return };
        let ca = pg.ca_cert().unwrap().display().to_string();
        let wrong = pg.wrong_ca_cert().unwrap().display().to_string();
        let port = pg.port();
        let q = "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()";
        let conn = |host: &str, mode: &str, root: &str| {
            format!("host={host} port={port} user=postgres dbname=postgres sslmode={mode} sslrootcert={root}")
        };
        assert_eq!(
            pg.psql_conn(&conn("localhost", "verify-full", &ca), q)
                .unwrap(),
            "t"
        );
        assert_eq!(
            pg.psql_conn(&conn("127.0.0.1", "verify-ca", &ca), q)
                .unwrap(),
            "t"
        );
        let err = pg
            .psql_conn(&conn("127.0.0.1", "verify-full", &ca), q)
            .unwrap_err();
        assert!(err.contains("does not match host name"), "{err}");
        let err = pg
            .psql_conn(&conn("localhost", "verify-ca", &wrong), q)
            .unwrap_err();
        assert!(err.contains("certificate verify failed"), "{err}");
        assert_eq!(
            pg.psql_conn(
                &format!(
                    "host=127.0.0.1 port={port} user=postgres dbname=postgres sslmode=disable"
                ),
                q
            )
            .unwrap(),
            "f"
        );
    }

    #[test]
    fn url_for_formats() {
        let pg = PgServer::shared();
        let hp = format!("{}:{}", pg.host(), pg.port());
        assert_eq!(
            pg.url_for("a", None, "db", ""),
            format!("postgresql://a@{hp}/db")
        );
        assert_eq!(
            pg.url_for("a b", Some("p@ss:/"), "d", "?sslmode=require"),
            format!("postgresql://a%20b:p%40ss%3A%2F@{hp}/d?sslmode=require")
        );
    }

    #[test]
    fn psql_through_relay() {
        let pg = PgServer::shared();
        let relay = Relay::start(pg.socket_addr());
        let url = format!(
            "postgresql://postgres@127.0.0.1:{}/postgres?sslmode=disable",
            relay.port()
        );
        assert_eq!(pg.psql_conn(&url, "SELECT 40 + 2").unwrap(), "42");
        assert_eq!(relay.connections_total(), 1);
        relay.set_refuse(true);
        assert!(pg.psql_conn(&url, "SELECT 1").is_err());
        relay.set_refuse(false);
        if pg.is_managed() {
            // TLS through the relay too.
            let ca = pg.ca_cert().unwrap().display().to_string();
            let conn = format!(
                "host=localhost port={} user=postgres dbname=postgres sslmode=verify-full sslrootcert={ca}",
                relay.port()
            );
            assert_eq!(pg.psql_conn(&conn, "SELECT 'tls'").unwrap(), "tls");
        }
    }

    #[test]
    fn stalled_relay_delays_psql() {
        let pg = PgServer::shared();
        let relay = Relay::start(pg.socket_addr());
        relay.set_stalled(true);
        let url = format!(
            "postgresql://postgres@127.0.0.1:{}/postgres?sslmode=disable",
            relay.port()
        );
        let (tx, rx) = std::sync::mpsc::channel();
        let client = thread::spawn(move || {
            let _ = tx.send(PgServer::shared().psql_conn(&url, "SELECT 'through'"));
        });
        assert!(
            rx.recv_timeout(Duration::from_millis(300)).is_err(),
            "not stalled"
        );
        assert_eq!(relay.active(), 1);
        relay.set_stalled(false);
        let out = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("psql hangs");
        assert_eq!(out.unwrap(), "through");
        client.join().unwrap();
    }

    #[test]
    fn types_are_thread_safe() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<PgServer>();
        assert_send_sync::<Relay>();
    }

    #[test]
    fn private_server_restart_stop_start() {
        if std::env::var_os("PGSQL_TEST").is_some() && pg_bindir().is_none() {
            return;
        }
        let pg = PgServer::start_with(ServerOptions {
            ssl: false,
            max_connections: 20,
        });
        assert!(pg.is_managed());
        assert!(pg.ca_cert().is_none() && pg.wrong_ca_cert().is_none());
        assert_eq!(pg.psql("SHOW ssl").unwrap(), "off");
        assert_eq!(pg.psql("SHOW max_connections").unwrap(), "20");
        pg.psql("CREATE TABLE t (x int); INSERT INTO t VALUES (1)")
            .unwrap();
        let pid1 = pg.psql("SELECT pg_backend_pid()").unwrap();
        assert!(!pid1.is_empty());

        pg.restart();
        assert_eq!(pg.psql("SELECT x FROM t").unwrap(), "1");
        assert_eq!(
            pg.count_in_log("database system is ready to accept connections"),
            2
        );

        pg.stop();
        assert!(pg.psql("SELECT 1").is_err());
        assert!(TcpStream::connect(pg.socket_addr()).is_err());
        pg.start_again();
        assert_eq!(pg.psql("SELECT x FROM t").unwrap(), "1");
        let port = pg.port();

        let root = pg.log_path().unwrap().parent().unwrap().to_path_buf();
        assert!(root.starts_with(base_dir()));
        drop(pg);
        assert!(!root.exists(), "directory not removed");
        assert!(TcpStream::connect(("127.0.0.1", port)).is_err());
    }

    use std::net::TcpStream;
}
