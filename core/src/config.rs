//! [`Config`]: connection URLs, key=value DSNs and the environment; the
//! URL and DSN syntax is in `config/text.rs`.

mod text;

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::transport::{SslMode, Target};
use text::{is_scheme, parse_dsn, parse_port, parse_url, shown};

impl SslMode {
    fn parse(s: &str) -> Result<SslMode> {
        Ok(match s {
            "disable" => SslMode::Disable,
            "allow" => SslMode::Allow,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            other => {
                return Err(Error::interface(format!(
                    "invalid sslmode {}: expected disable, allow, prefer, require, verify-ca or verify-full", shown(other)
                )))
            }
        })
    }
}

/// libpq's `target_session_attrs` (all the values of libpq 14 and later):
/// which kind of server a connection must land on. Hosts are tried in order
/// (shuffled first with `load_balance_hosts=random`); a server of the wrong
/// kind is skipped like an unreachable one, and when none fits the connect
/// fails with an [`Operational`](crate::ErrorKind::Operational) error naming
/// the last server and what it was (the pool reports it as
/// [`DatabaseNotAvailable`](crate::ErrorKind::DatabaseNotAvailable) and tries
/// again every `reconnect_interval`).
///
/// The kind is checked once per connection, right after login, with
/// `SELECT pg_is_in_recovery(), current_setting('transaction_read_only')`.
/// Every new connection of a [`Pool`](crate::Pool) is checked afresh, so after
/// a failover (a standby promoted) the pool finds the new primary on its next
/// connect. A pooled connection opened with `read-write` or `primary` that
/// gets `read_only_sql_transaction` (SQLSTATE 25006) back from a statement —
/// its server was demoted or turned read-only under it — is discarded with
/// every idle connection to the same server, never reused.
///
/// ```
/// use edgepg_core::{Config, TargetSessionAttrs};
/// let config = Config::parse("postgresql://db1,db2/shop?target_session_attrs=read-write")?;
/// assert_eq!(config.get_target_session_attrs(), TargetSessionAttrs::ReadWrite);
/// let replica = Config::parse("host=primary,standby target_session_attrs=prefer-standby")?;
/// assert_eq!(replica.get_target_session_attrs(), TargetSessionAttrs::PreferStandby);
/// assert!(Config::parse("target_session_attrs=master").is_err());
/// # Ok::<(), edgepg_core::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TargetSessionAttrs {
    /// `any` (the default): the first server that accepts the login, unchecked.
    #[default]
    Any,
    /// `read-write`: the server must accept writes (`transaction_read_only`
    /// off, so neither a standby nor a server with `default_transaction_read_only` on).
    ReadWrite,
    /// `read-only`: the server must not accept writes (a standby, or
    /// `default_transaction_read_only` on).
    ReadOnly,
    /// `primary`: the server must not be in recovery (`pg_is_in_recovery()`
    /// false), whatever its `default_transaction_read_only`.
    Primary,
    /// `standby`: the server must be in recovery (a hot standby).
    Standby,
    /// `prefer-standby`: a standby if any host is one; else, in a second pass
    /// over the hosts, any server. For read replicas: reads go to the standby
    /// and fall back to the primary while no standby can be reached. A pool
    /// keeps the connections it opened on the primary until they close
    /// (`max_lifetime` bounds how long).
    PreferStandby,
}

impl TargetSessionAttrs {
    fn parse(s: &str) -> Result<TargetSessionAttrs> {
        Ok(match s {
            "any" => TargetSessionAttrs::Any,
            "read-write" => TargetSessionAttrs::ReadWrite,
            "read-only" => TargetSessionAttrs::ReadOnly,
            "primary" => TargetSessionAttrs::Primary,
            "standby" => TargetSessionAttrs::Standby,
            "prefer-standby" => TargetSessionAttrs::PreferStandby,
            other => {
                return Err(Error::interface(format!(
                    "invalid target_session_attrs {}: expected any, read-write, read-only, primary, standby or prefer-standby",
                    shown(other)
                )))
            }
        })
    }

    /// The libpq spelling, e.g. `"prefer-standby"`.
    ///
    /// ```
    /// use edgepg_core::TargetSessionAttrs;
    /// assert_eq!(TargetSessionAttrs::ReadWrite.as_str(), "read-write");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            TargetSessionAttrs::Any => "any",
            TargetSessionAttrs::ReadWrite => "read-write",
            TargetSessionAttrs::ReadOnly => "read-only",
            TargetSessionAttrs::Primary => "primary",
            TargetSessionAttrs::Standby => "standby",
            TargetSessionAttrs::PreferStandby => "prefer-standby",
        }
    }

    /// True when a server in recovery (`in_recovery`) whose transactions are
    /// read-only or not (`read_only`) is acceptable; `prefer-standby` accepts
    /// only a standby here (its second pass uses `any`).
    pub(crate) fn accepts(self, in_recovery: bool, read_only: bool) -> bool {
        match self {
            TargetSessionAttrs::Any => true,
            TargetSessionAttrs::ReadWrite => !read_only,
            TargetSessionAttrs::ReadOnly => read_only,
            TargetSessionAttrs::Primary => !in_recovery,
            TargetSessionAttrs::Standby | TargetSessionAttrs::PreferStandby => in_recovery,
        }
    }

    /// True for the values that promise a server accepting writes.
    pub(crate) fn wants_writable(self) -> bool {
        matches!(
            self,
            TargetSessionAttrs::ReadWrite | TargetSessionAttrs::Primary
        )
    }
}

/// libpq 16's `load_balance_hosts`: the order in which the hosts of a
/// multi-host configuration are tried.
///
/// With `random`, every connect shuffles the host list first, so a pool's
/// connections spread over all the servers that fit `target_session_attrs`
/// (e.g. several standbys with `prefer-standby`).
///
/// ```
/// use edgepg_core::{Config, LoadBalanceHosts};
/// let config = Config::parse("postgresql://r1,r2,r3/shop?load_balance_hosts=random")?;
/// assert_eq!(config.get_load_balance_hosts(), LoadBalanceHosts::Random);
/// assert_eq!(Config::new().get_load_balance_hosts(), LoadBalanceHosts::Disable);
/// # Ok::<(), edgepg_core::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum LoadBalanceHosts {
    /// `disable` (the default): the hosts in the order given.
    #[default]
    Disable,
    /// `random`: a fresh random order for every connect.
    Random,
}

impl LoadBalanceHosts {
    fn parse(s: &str) -> Result<LoadBalanceHosts> {
        match s {
            "disable" => Ok(LoadBalanceHosts::Disable),
            "random" => Ok(LoadBalanceHosts::Random),
            other => Err(Error::interface(format!(
                "invalid load_balance_hosts {}: expected disable or random",
                shown(other)
            ))),
        }
    }
}

/// `pipeline_connect`: whether the startup waits for the server to ask for
/// the password (`off`, the default) or sends it right away (`password`).
///
/// `password` saves a round trip on every new connection, like Neon's
/// `pipelineConnect: "password"`, but only works with servers that ask for a
/// cleartext password — `password` in `pg_hba.conf`, or a proxy that always
/// does. Use it over TLS (or `wss://`): the password travels as it is. Against
/// a server that wants SCRAM, MD5 or no password the connection fails with an
/// error that says so.
///
/// ```
/// use edgepg_core::{Config, PipelineConnect};
/// let config = Config::parse("postgresql://app:pw@proxy/shop?pipeline_connect=password")?;
/// assert_eq!(config.get_pipeline_connect(), PipelineConnect::Password);
/// # Ok::<(), edgepg_core::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum PipelineConnect {
    /// Wait for the server's authentication request.
    #[default]
    Off,
    /// Send a cleartext password with the startup message.
    Password,
}

impl PipelineConnect {
    fn parse(s: &str) -> Result<PipelineConnect> {
        match s {
            "off" | "false" | "0" => Ok(PipelineConnect::Off),
            "password" => Ok(PipelineConnect::Password),
            other => Err(Error::interface(format!(
                "invalid pipeline_connect {}: expected password or off",
                shown(other)
            ))),
        }
    }
}

/// One host to try: a TCP name/address or a Unix socket directory.
///
/// ```
/// use edgepg_core::Host;
/// let tcp = Host::Tcp("db.internal".into());
/// let unix = Host::Unix("/run/postgresql".into());
/// assert_ne!(tcp, unix);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Host {
    /// Host name or IP address.
    Tcp(String),
    /// Directory holding the server's Unix socket.
    Unix(PathBuf),
}

/// How to reach and log in to PostgreSQL.
///
/// # Several hosts, failover and replicas
///
/// A list of hosts (`postgresql://db1:5432,db2:5432/shop` or
/// `host=db1,db2 port=5432,5432`) is tried in order, or in a random order
/// with `load_balance_hosts=random` ([`LoadBalanceHosts`]). Which server is
/// good enough is `target_session_attrs` ([`TargetSessionAttrs`]), with the
/// values of libpq 14+:
///
/// | value | accepts | what a [`Pool`](crate::Pool) does with it |
/// |---|---|---|
/// | `any` (default) | the first server that lets us log in | nothing more |
/// | `read-write` | `transaction_read_only` off | every new connection re-checks; a connection that gets SQLSTATE 25006 (its server went read-only or was demoted) is discarded with the idle ones to that server |
/// | `read-only` | `transaction_read_only` on | every new connection re-checks |
/// | `primary` | not in recovery | like `read-write` |
/// | `standby` | in recovery | every new connection re-checks |
/// | `prefer-standby` | a standby, else (second pass) any server | reads go to a standby while one is up, to the primary while none is |
///
/// After a failover (primary gone, standby promoted) a pool with
/// `host=primary,standby target_session_attrs=read-write` fails checkouts
/// promptly with `DatabaseNotAvailable` while no host fits, retries every
/// `reconnect_interval`, and reaches the promoted standby on the first connect
/// after the promotion (RELIABILITY.md has the measured times and lost writes).
///
/// ```
/// use edgepg_core::{Config, LoadBalanceHosts, TargetSessionAttrs};
/// let config = Config::parse(
///     "postgresql://app@10.0.0.1:5432,10.0.0.2:5432/shop?target_session_attrs=read-write&load_balance_hosts=random",
/// )?;
/// assert_eq!(config.targets().len(), 2);
/// assert_eq!(config.get_target_session_attrs(), TargetSessionAttrs::ReadWrite);
/// assert_eq!(config.get_load_balance_hosts(), LoadBalanceHosts::Random);
/// # Ok::<(), edgepg_core::Error>(())
/// ```
///
/// # Parsing
///
/// ```
/// use std::time::Duration;
/// use edgepg_core::{Config, SslMode};
///
/// let url = Config::parse("postgresql://app:s%40cret@db1:5433,db2/shop?sslmode=require&connect_timeout=3")?;
/// assert_eq!(url.get_user(), Some("app"));
/// assert_eq!(url.get_password(), Some("s@cret"));
/// assert_eq!(url.get_dbname(), Some("shop"));
/// assert_eq!(url.get_ssl_mode(), SslMode::Require);
/// assert_eq!(url.get_connect_timeout(), Some(Duration::from_secs(3)));
/// assert_eq!(url.targets().len(), 2);
///
/// let dsn = Config::parse("host=/var/run/postgresql port=5432 dbname='my db' user=me")?;
/// assert_eq!(dsn.get_dbname(), Some("my db"));
/// # Ok::<(), edgepg_core::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Config {
    hosts: Vec<Host>,
    ports: Vec<u16>,
    user: Option<String>,
    password: Option<String>,
    dbname: Option<String>,
    application_name: Option<String>,
    options: Option<String>,
    connect_timeout: Option<Duration>,
    ssl_mode: SslMode,
    ssl_root_cert: Option<Arc<str>>,
    target_session_attrs: TargetSessionAttrs,
    load_balance_hosts: LoadBalanceHosts,
    keepalives: bool,
    keepalives_idle: Option<Duration>,
    pipeline_connect: PipelineConnect,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            hosts: Vec::new(),
            ports: Vec::new(),
            user: None,
            password: None,
            dbname: None,
            application_name: None,
            options: None,
            connect_timeout: None,
            ssl_mode: SslMode::Prefer,
            ssl_root_cert: None,
            target_session_attrs: TargetSessionAttrs::Any,
            load_balance_hosts: LoadBalanceHosts::Disable,
            keepalives: true,
            keepalives_idle: None,
            pipeline_connect: PipelineConnect::Off,
        }
    }
}

impl Config {
    /// An empty configuration: `localhost:5432`, libpq defaults.
    ///
    /// ```
    /// use edgepg_core::Config;
    /// let config = Config::new();
    /// assert_eq!(config.targets()[0].to_string(), "localhost:5432");
    /// assert_eq!(config.get_user(), None);
    /// ```
    pub fn new() -> Config {
        Config::default()
    }

    /// Parses a `postgres[ql]://` URL or a `key=value` DSN.
    ///
    /// ```
    /// use edgepg_core::{Config, ErrorKind};
    /// let config = Config::parse("host=db port=6432 user=app")?;
    /// assert_eq!(config.targets()[0].to_string(), "db:6432");
    /// assert_eq!(Config::parse("mysql://db/shop").unwrap_err().kind(), ErrorKind::Interface);
    /// # Ok::<(), edgepg_core::Error>(())
    /// ```
    pub fn parse(s: &str) -> Result<Config> {
        let trimmed = s.trim();
        if trimmed.starts_with("postgresql://") || trimmed.starts_with("postgres://") {
            parse_url(trimmed)
        } else if let Some((scheme, _)) = trimmed
            .split_once("://")
            .filter(|(scheme, _)| is_scheme(scheme))
        {
            Err(Error::interface(format!(
                "invalid URL scheme {}: expected postgresql:// or postgres://",
                shown(scheme)
            )))
        } else {
            parse_dsn(trimmed)
        }
    }

    /// Reads the configuration from the environment, as `sprockets.clients.postgresql` does.
    ///
    /// `Some("foo")` reads `PGSQL_FOO` (the name upper-cased, `-` turned into `_`);
    /// `None` reads `PGSQL`. When that variable is unset, libpq's `PGHOST`, `PGPORT`,
    /// `PGUSER`, `PGPASSWORD`, `PGDATABASE`, `PGSSLMODE`, `PGAPPNAME` and
    /// `PGCONNECT_TIMEOUT` are used.
    ///
    /// ```
    /// use edgepg_core::Config;
    /// std::env::set_var("PGSQL_DOCTEST", "postgresql://reader@replica/app");
    /// let config = Config::from_env(Some("doctest"))?;
    /// assert_eq!(config.get_user(), Some("reader"));
    /// # Ok::<(), edgepg_core::Error>(())
    /// ```
    pub fn from_env(name: Option<&str>) -> Result<Config> {
        Config::from_vars(name, |key| std::env::var(key).ok())
    }

    /// Like [`Config::from_env`], with variables looked up by `get` (e.g. a Workers `env` object).
    ///
    /// ```
    /// use edgepg_core::Config;
    /// let config = Config::from_vars(None, |k| (k == "PGHOST").then(|| "db.internal".to_string()))?;
    /// assert_eq!(config.targets()[0].to_string(), "db.internal:5432");
    /// # Ok::<(), edgepg_core::Error>(())
    /// ```
    ///
    /// On wasm32 only ASCII letters are upper-cased here: Rust's Unicode case
    /// tables are about 7 KB of the gzipped module, and the npm package
    /// upper-cases the name with `String.prototype.toUpperCase` before it
    /// gets here (issue 19).
    pub fn from_vars(name: Option<&str>, get: impl Fn(&str) -> Option<String>) -> Result<Config> {
        #[cfg(not(target_arch = "wasm32"))]
        let upper = str::to_uppercase;
        #[cfg(target_arch = "wasm32")]
        let upper = str::to_ascii_uppercase;
        let var = match name {
            Some(n) => format!("PGSQL_{}", upper(n).replace('-', "_")),
            None => "PGSQL".to_string(),
        };
        if let Some(url) = get(&var).filter(|v| !v.trim().is_empty()) {
            return Config::parse(&url)
                .map_err(|e| Error::interface(format!("{var}: {}", e.message())));
        }
        let mut config = Config::new();
        let pairs = [
            ("PGHOST", "host"),
            ("PGPORT", "port"),
            ("PGUSER", "user"),
            ("PGPASSWORD", "password"),
            ("PGDATABASE", "dbname"),
            ("PGSSLMODE", "sslmode"),
            ("PGSSLROOTCERT", "sslrootcert"),
            ("PGAPPNAME", "application_name"),
            ("PGCONNECT_TIMEOUT", "connect_timeout"),
            ("PGTARGETSESSIONATTRS", "target_session_attrs"),
            ("PGLOADBALANCEHOSTS", "load_balance_hosts"),
        ];
        for (env, key) in pairs {
            if let Some(value) = get(env) {
                config
                    .set(key, &value)
                    .map_err(|e| Error::interface(format!("{env}: {}", e.message())))?;
            }
        }
        Ok(config)
    }

    /// Sets one libpq keyword (`host`, `port`, `user`, `password`, `dbname`, `sslmode`, …).
    ///
    /// ```
    /// use edgepg_core::{Config, SslMode};
    /// let mut config = Config::new();
    /// config.set("sslmode", "require")?.set("dbname", "shop")?;
    /// assert_eq!(config.get_ssl_mode(), SslMode::Require);
    /// assert!(config.set("sslmode", "sometimes").is_err());
    /// # Ok::<(), edgepg_core::Error>(())
    /// ```
    pub fn set(&mut self, key: &str, value: &str) -> Result<&mut Config> {
        match key {
            "host" | "hostaddr" => {
                self.hosts = value
                    .split(',')
                    .map(|h| {
                        let h = h.trim();
                        if h.starts_with('/') {
                            Ok(Host::Unix(PathBuf::from(h)))
                        } else if h.is_empty() {
                            Err(Error::interface("invalid host: empty host name"))
                        } else {
                            Ok(Host::Tcp(
                                h.trim_start_matches('[').trim_end_matches(']').to_string(),
                            ))
                        }
                    })
                    .collect::<Result<_>>()?;
            }
            "port" => {
                self.ports = value.split(',').map(parse_port).collect::<Result<_>>()?;
            }
            "user" => self.user = Some(value.to_string()),
            "password" => self.password = Some(value.to_string()),
            "dbname" => self.dbname = Some(value.to_string()),
            "application_name" => self.application_name = Some(value.to_string()),
            "options" => self.options = Some(value.to_string()),
            "connect_timeout" => {
                let secs: i64 = value.trim().parse().map_err(|_| {
                    Error::interface(format!(
                        "invalid connect_timeout {}: expected whole seconds",
                        shown(value)
                    ))
                })?;
                // libpq: zero or negative means wait forever.
                self.connect_timeout = (secs > 0).then(|| Duration::from_secs(secs as u64));
            }
            "sslmode" => self.ssl_mode = SslMode::parse(value)?,
            "sslrootcert" => self.ssl_root_cert = Some(Arc::from(value)),
            "target_session_attrs" => self.target_session_attrs = TargetSessionAttrs::parse(value)?,
            "load_balance_hosts" => self.load_balance_hosts = LoadBalanceHosts::parse(value)?,
            "keepalives" => {
                self.keepalives = match value {
                    "1" => true,
                    "0" => false,
                    _ => {
                        return Err(Error::interface(format!(
                            "invalid keepalives {}: expected 0 or 1",
                            shown(value)
                        )))
                    }
                }
            }
            "pipeline_connect" => self.pipeline_connect = PipelineConnect::parse(value)?,
            "keepalives_idle" => {
                let secs: u64 = value.trim().parse().map_err(|_| {
                    Error::interface(format!(
                        "invalid keepalives_idle {}: expected whole seconds",
                        shown(value)
                    ))
                })?;
                self.keepalives_idle = Some(Duration::from_secs(secs));
            }
            other => {
                return Err(Error::interface(format!(
                    "invalid connection option {}",
                    shown(other)
                )));
            }
        }
        Ok(self)
    }

    /// Adds a TCP host (or, if it starts with `/`, a Unix socket directory).
    ///
    /// ```
    /// use edgepg_core::Config;
    /// let mut config = Config::new();
    /// config.host("db.internal").host("/run/postgresql");
    /// assert_eq!(config.targets()[0].to_string(), "db.internal:5432");
    /// assert_eq!(config.targets()[1].to_string(), "/run/postgresql/.s.PGSQL.5432");
    /// ```
    pub fn host(&mut self, host: &str) -> &mut Config {
        if host.starts_with('/') {
            self.hosts.push(Host::Unix(PathBuf::from(host)));
        } else {
            self.hosts.push(Host::Tcp(host.to_string()));
        }
        self
    }

    /// Adds a port (one for all hosts, or one per host).
    ///
    /// ```
    /// use edgepg_core::Config;
    /// let mut config = Config::new();
    /// config.host("db1").host("db2").port(5433).port(5434);
    /// assert_eq!(config.targets()[1].to_string(), "db2:5434");
    /// ```
    pub fn port(&mut self, port: u16) -> &mut Config {
        self.ports.push(port);
        self
    }

    /// Sets the user.
    ///
    /// ```
    /// use edgepg_core::Config;
    /// assert_eq!(Config::new().user("app").get_user(), Some("app"));
    /// ```
    pub fn user(&mut self, user: &str) -> &mut Config {
        self.user = Some(user.to_string());
        self
    }

    /// Sets the password.
    ///
    /// ```
    /// use edgepg_core::Config;
    /// let mut config = Config::new();
    /// config.password("hunter2");
    /// assert_eq!(config.get_password(), Some("hunter2"));
    /// assert!(!config.to_string().contains("hunter2"));
    /// ```
    pub fn password(&mut self, password: &str) -> &mut Config {
        self.password = Some(password.to_string());
        self
    }

    /// Sets the database name.
    ///
    /// ```
    /// use edgepg_core::Config;
    /// assert_eq!(Config::new().dbname("shop").get_dbname(), Some("shop"));
    /// ```
    pub fn dbname(&mut self, dbname: &str) -> &mut Config {
        self.dbname = Some(dbname.to_string());
        self
    }

    /// Sets `application_name`.
    ///
    /// ```
    /// use edgepg_core::Config;
    /// let mut config = Config::new();
    /// assert_eq!(config.application_name("worker").get_application_name(), Some("worker"));
    /// ```
    pub fn application_name(&mut self, name: &str) -> &mut Config {
        self.application_name = Some(name.to_string());
        self
    }

    /// Sets the time allowed for each host's connect and startup.
    ///
    /// ```
    /// use std::time::Duration;
    /// use edgepg_core::Config;
    /// let mut config = Config::new();
    /// config.connect_timeout(Duration::from_secs(5));
    /// assert_eq!(config.get_connect_timeout(), Some(Duration::from_secs(5)));
    /// ```
    pub fn connect_timeout(&mut self, timeout: Duration) -> &mut Config {
        self.connect_timeout = Some(timeout);
        self
    }

    /// Sets `sslmode`.
    ///
    /// ```
    /// use edgepg_core::{Config, SslMode};
    /// let mut config = Config::new();
    /// assert_eq!(config.ssl_mode(SslMode::Disable).get_ssl_mode(), SslMode::Disable);
    /// ```
    pub fn ssl_mode(&mut self, mode: SslMode) -> &mut Config {
        self.ssl_mode = mode;
        self
    }

    /// Sets `sslrootcert`: a PEM file, or `"system"` for the platform's roots.
    ///
    /// ```
    /// use edgepg_core::Config;
    /// let mut config = Config::new();
    /// config.ssl_root_cert("system");
    /// assert_eq!(config.get_ssl_root_cert().map(|c| &**c), Some("system"));
    /// ```
    pub fn ssl_root_cert(&mut self, path: &str) -> &mut Config {
        self.ssl_root_cert = Some(Arc::from(path));
        self
    }

    /// Sets `load_balance_hosts`.
    ///
    /// ```
    /// use edgepg_core::{Config, LoadBalanceHosts};
    /// let mut config = Config::new();
    /// config.host("r1").host("r2").load_balance_hosts(LoadBalanceHosts::Random);
    /// assert_eq!(config.get_load_balance_hosts(), LoadBalanceHosts::Random);
    /// ```
    pub fn load_balance_hosts(&mut self, mode: LoadBalanceHosts) -> &mut Config {
        self.load_balance_hosts = mode;
        self
    }

    /// Sets `target_session_attrs`.
    ///
    /// ```
    /// use edgepg_core::{Config, TargetSessionAttrs};
    /// let mut config = Config::new();
    /// config.target_session_attrs(TargetSessionAttrs::ReadOnly);
    /// assert_eq!(config.get_target_session_attrs(), TargetSessionAttrs::ReadOnly);
    /// ```
    pub fn target_session_attrs(&mut self, attrs: TargetSessionAttrs) -> &mut Config {
        self.target_session_attrs = attrs;
        self
    }

    /// Sets `pipeline_connect`: with [`PipelineConnect::Password`] the password
    /// is sent with the startup message, one round trip sooner.
    ///
    /// ```
    /// use edgepg_core::{Config, PipelineConnect};
    /// let mut config = Config::new();
    /// config.pipeline_connect(PipelineConnect::Password);
    /// assert_eq!(config.get_pipeline_connect(), PipelineConnect::Password);
    /// ```
    pub fn pipeline_connect(&mut self, mode: PipelineConnect) -> &mut Config {
        self.pipeline_connect = mode;
        self
    }

    /// The user name, if set.
    ///
    /// ```
    /// use edgepg_core::Config;
    /// assert_eq!(Config::parse("postgresql://app@db/shop")?.get_user(), Some("app"));
    /// assert_eq!(Config::parse("postgresql://db/shop")?.get_user(), None);
    /// # Ok::<(), edgepg_core::Error>(())
    /// ```
    pub fn get_user(&self) -> Option<&str> {
        self.user.as_deref()
    }

    /// The password, if set.
    ///
    /// ```
    /// use edgepg_core::Config;
    /// let config = Config::parse(r"user=app password='it\'s secret'")?;
    /// assert_eq!(config.get_password(), Some("it's secret"));
    /// # Ok::<(), edgepg_core::Error>(())
    /// ```
    pub fn get_password(&self) -> Option<&str> {
        self.password.as_deref()
    }

    /// The database name, if set.
    ///
    /// ```
    /// use edgepg_core::Config;
    /// assert_eq!(Config::parse("postgresql://db/my%20shop")?.get_dbname(), Some("my shop"));
    /// # Ok::<(), edgepg_core::Error>(())
    /// ```
    pub fn get_dbname(&self) -> Option<&str> {
        self.dbname.as_deref()
    }

    /// `application_name`, if set.
    ///
    /// ```
    /// use edgepg_core::Config;
    /// let config = Config::parse("postgresql://db/shop?application_name=worker")?;
    /// assert_eq!(config.get_application_name(), Some("worker"));
    /// # Ok::<(), edgepg_core::Error>(())
    /// ```
    pub fn get_application_name(&self) -> Option<&str> {
        self.application_name.as_deref()
    }

    /// The per-host connect timeout.
    ///
    /// ```
    /// use std::time::Duration;
    /// use edgepg_core::Config;
    /// assert_eq!(Config::parse("connect_timeout=10")?.get_connect_timeout(), Some(Duration::from_secs(10)));
    /// assert_eq!(Config::parse("connect_timeout=0")?.get_connect_timeout(), None);
    /// # Ok::<(), edgepg_core::Error>(())
    /// ```
    pub fn get_connect_timeout(&self) -> Option<Duration> {
        self.connect_timeout
    }

    /// `sslmode`.
    ///
    /// ```
    /// use edgepg_core::{Config, SslMode};
    /// assert_eq!(Config::new().get_ssl_mode(), SslMode::Prefer);
    /// assert_eq!(Config::parse("sslmode=disable")?.get_ssl_mode(), SslMode::Disable);
    /// # Ok::<(), edgepg_core::Error>(())
    /// ```
    pub fn get_ssl_mode(&self) -> SslMode {
        self.ssl_mode
    }

    /// `sslrootcert`.
    ///
    /// ```
    /// use edgepg_core::Config;
    /// let config = Config::parse("postgresql://db/shop?sslmode=verify-full&sslrootcert=/etc/ca.pem")?;
    /// assert_eq!(config.get_ssl_root_cert().map(|c| &**c), Some("/etc/ca.pem"));
    /// # Ok::<(), edgepg_core::Error>(())
    /// ```
    pub fn get_ssl_root_cert(&self) -> Option<&Arc<str>> {
        self.ssl_root_cert.as_ref()
    }

    /// `load_balance_hosts`.
    ///
    /// ```
    /// use edgepg_core::{Config, LoadBalanceHosts};
    /// let config = Config::parse("host=a,b load_balance_hosts=random")?;
    /// assert_eq!(config.get_load_balance_hosts(), LoadBalanceHosts::Random);
    /// # Ok::<(), edgepg_core::Error>(())
    /// ```
    pub fn get_load_balance_hosts(&self) -> LoadBalanceHosts {
        self.load_balance_hosts
    }

    /// `target_session_attrs`.
    ///
    /// ```
    /// use edgepg_core::{Config, TargetSessionAttrs};
    /// assert_eq!(Config::new().get_target_session_attrs(), TargetSessionAttrs::Any);
    /// let config = Config::parse("target_session_attrs=read-only")?;
    /// assert_eq!(config.get_target_session_attrs(), TargetSessionAttrs::ReadOnly);
    /// # Ok::<(), edgepg_core::Error>(())
    /// ```
    pub fn get_target_session_attrs(&self) -> TargetSessionAttrs {
        self.target_session_attrs
    }

    /// `pipeline_connect`.
    ///
    /// ```
    /// use edgepg_core::{Config, PipelineConnect};
    /// assert_eq!(Config::new().get_pipeline_connect(), PipelineConnect::Off);
    /// ```
    pub fn get_pipeline_connect(&self) -> PipelineConnect {
        self.pipeline_connect
    }

    /// Whether TCP keepalives are on (libpq `keepalives`, default on).
    ///
    /// ```
    /// use edgepg_core::Config;
    /// assert!(Config::new().get_keepalives());
    /// assert!(!Config::parse("keepalives=0")?.get_keepalives());
    /// # Ok::<(), edgepg_core::Error>(())
    /// ```
    pub fn get_keepalives(&self) -> bool {
        self.keepalives
    }

    /// Idle time before the first keepalive probe.
    ///
    /// ```
    /// use std::time::Duration;
    /// use edgepg_core::Config;
    /// assert_eq!(Config::parse("keepalives_idle=30")?.get_keepalives_idle(), Some(Duration::from_secs(30)));
    /// # Ok::<(), edgepg_core::Error>(())
    /// ```
    pub fn get_keepalives_idle(&self) -> Option<Duration> {
        self.keepalives_idle
    }

    /// The hosts to try, in order, with their ports. Defaults to `localhost:5432`.
    ///
    /// ```
    /// use edgepg_core::Config;
    /// let config = Config::parse("postgresql://[::1]:6000,db/shop")?;
    /// let targets: Vec<String> = config.targets().iter().map(|t| t.to_string()).collect();
    /// assert_eq!(targets, ["[::1]:6000", "db:5432"]);
    /// # Ok::<(), edgepg_core::Error>(())
    /// ```
    pub fn targets(&self) -> Vec<Target> {
        let hosts = if self.hosts.is_empty() {
            vec![Host::Tcp("localhost".to_string())]
        } else {
            self.hosts.clone()
        };
        hosts
            .iter()
            .enumerate()
            .map(|(i, host)| {
                let port = match self.ports.len() {
                    0 => 5432,
                    1 => self.ports[0],
                    _ => self.ports.get(i).copied().unwrap_or(5432),
                };
                match host {
                    Host::Tcp(h) => Target::Tcp {
                        host: h.clone(),
                        port,
                    },
                    Host::Unix(dir) => Target::Unix(dir.join(format!(".s.PGSQL.{port}"))),
                }
            })
            .collect()
    }

    fn validate(self) -> Result<Config> {
        if self.ports.len() > 1 && self.ports.len() != self.hosts.len().max(1) {
            return Err(Error::interface(format!(
                "invalid port list: {} ports given for {} hosts",
                self.ports.len(),
                self.hosts.len().max(1)
            )));
        }
        Ok(self)
    }

    /// The user to log in as: `user`, else `$USER`, else `postgres`.
    pub(crate) fn effective_user(&self) -> String {
        self.user
            .clone()
            .or_else(|| std::env::var("USER").ok().filter(|u| !u.is_empty()))
            .unwrap_or_else(|| "postgres".to_string())
    }

    /// The tokio-postgres configuration for the startup message (TLS is negotiated by us).
    pub(crate) fn to_startup(&self) -> tokio_postgres::Config {
        let mut pg = tokio_postgres::Config::new();
        let user = self.effective_user();
        pg.user(&user);
        pg.dbname(self.dbname.as_deref().unwrap_or(&user));
        if let Some(p) = &self.password {
            pg.password(p);
        }
        if let Some(a) = &self.application_name {
            pg.application_name(a);
        }
        if let Some(o) = &self.options {
            pg.options(o);
        }
        pg.ssl_mode(tokio_postgres::config::SslMode::Disable);
        pg
    }
}

impl std::str::FromStr for Config {
    type Err = Error;
    fn from_str(s: &str) -> Result<Config> {
        Config::parse(s)
    }
}

/// Anything a pool or session can be configured from: a URL or DSN string, or a [`Config`].
///
/// ```
/// use edgepg_core::{Config, IntoConfig};
/// fn dbname(config: impl IntoConfig) -> Option<String> {
///     config.into_config().ok()?.get_dbname().map(String::from)
/// }
/// assert_eq!(dbname("postgresql://db/shop").as_deref(), Some("shop"));
/// assert_eq!(dbname(&Config::parse("dbname=crm")?).as_deref(), Some("crm"));
/// # Ok::<(), edgepg_core::Error>(())
/// ```
pub trait IntoConfig {
    /// Parses or clones into a [`Config`].
    ///
    /// ```
    /// use edgepg_core::IntoConfig;
    /// let config = "postgresql://app@db/shop".into_config()?;
    /// assert_eq!(config.clone().into_config()?, config);
    /// assert!("port=0".into_config().is_err());
    /// # Ok::<(), edgepg_core::Error>(())
    /// ```
    fn into_config(self) -> Result<Config>;
}

impl IntoConfig for &str {
    fn into_config(self) -> Result<Config> {
        Config::parse(self)
    }
}

impl IntoConfig for String {
    fn into_config(self) -> Result<Config> {
        Config::parse(&self)
    }
}

impl IntoConfig for &String {
    fn into_config(self) -> Result<Config> {
        Config::parse(self)
    }
}

impl IntoConfig for Config {
    fn into_config(self) -> Result<Config> {
        Ok(self)
    }
}

impl IntoConfig for &Config {
    fn into_config(self) -> Result<Config> {
        Ok(self.clone())
    }
}

/// Never shows the password.
impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Config({self})")
    }
}

/// A `key=value` form with the password redacted.
impl fmt::Display for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let targets: Vec<String> = self.targets().iter().map(|t| t.to_string()).collect();
        write!(f, "hosts={}", targets.join(","))?;
        if let Some(u) = &self.user {
            write!(f, " user={u}")?;
        }
        if self.password.is_some() {
            write!(f, " password=***")?;
        }
        if let Some(d) = &self.dbname {
            write!(f, " dbname={d}")?;
        }
        write!(f, " sslmode={}", self.ssl_mode.as_str())?;
        if self.target_session_attrs != TargetSessionAttrs::Any {
            write!(
                f,
                " target_session_attrs={}",
                self.target_session_attrs.as_str()
            )?;
        }
        if self.load_balance_hosts == LoadBalanceHosts::Random {
            write!(f, " load_balance_hosts=random")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_forms() {
        let c = Config::parse("postgresql://u@[::1]:6000/db?application_name=x%20y").unwrap();
        assert_eq!(
            c.targets(),
            vec![Target::Tcp {
                host: "::1".into(),
                port: 6000
            }]
        );
        assert_eq!(c.get_application_name(), Some("x y"));
        let c = Config::parse("postgres://%2Ftmp%2Fpg/db").unwrap();
        assert_eq!(
            c.targets(),
            vec![Target::Unix(PathBuf::from("/tmp/pg/.s.PGSQL.5432"))]
        );
        let c = Config::parse("postgresql:///db?host=/run/pg&port=6543").unwrap();
        assert_eq!(
            c.targets(),
            vec![Target::Unix(PathBuf::from("/run/pg/.s.PGSQL.6543"))]
        );
        let c = Config::parse("postgresql://a:1,b:2/db").unwrap();
        assert_eq!(c.targets().len(), 2);
        assert_eq!(
            c.targets()[1],
            Target::Tcp {
                host: "b".into(),
                port: 2
            }
        );
        let c = Config::parse("postgresql://").unwrap();
        assert_eq!(c.targets()[0].to_string(), "localhost:5432");
    }

    #[test]
    fn malformed_input_names_the_bad_part() {
        let cases = [
            ("postgresql://h:99999/db", "port"),
            ("postgresql://h:abc/db", "port"),
            ("postgresql://h/db?sslmode=sometimes", "sslmode"),
            ("postgresql://h/db?bogus=1", "bogus"),
            ("postgresql://h/db?noequals", "noequals"),
            ("postgresql://[::1/db", "IPv6"),
            ("postgresql://::1:5432/db", "IPv6"),
            ("mysql://h/db", "scheme"),
            ("host=h port=", "port"),
            ("host=h dbname='open", "unterminated"),
            ("host", "="),
            ("postgresql://h/db?connect_timeout=soon", "connect_timeout"),
            (
                "postgresql://h/db?target_session_attrs=leader",
                "target_session_attrs",
            ),
            ("postgresql://%ff@h/db", "user name"),
            ("host=a,b,c port=1,2", "port"),
        ];
        for (input, needle) in cases {
            let err = Config::parse(input).expect_err(input);
            assert_eq!(err.kind(), crate::ErrorKind::Interface, "{input}");
            assert!(err.to_string().contains(needle), "{input}: {err}");
        }
    }

    #[test]
    fn errors_never_echo_the_password() {
        // A key=value string with `://` in a value is a DSN, not a URL with a
        // strange scheme whose "scheme" (everything before `://`) is echoed.
        let dsn = "user=u password=hunter2 host=a://b sslmode=nope";
        let err = Config::parse(dsn).unwrap_err();
        assert!(!format!("{err} {err:?}").contains("hunter2"), "{err}");
        assert!(err.to_string().contains("sslmode"), "{err}");
        for typo in [
            "postgresql//u:hunter2@h/db",
            "postgres:/u:hunter2@h/db",
            "host=h port=5432password=hunter2",
            "host=h password=hunter2sslmode=require port=x@hunter2",
        ] {
            let err = Config::parse(typo).unwrap_err();
            assert!(
                !format!("{err} {err:?}").contains("hunter2"),
                "{typo}: {err}"
            );
        }
        let c = Config::parse("password=hunter2 application_name=x://y").unwrap();
        assert_eq!(c.get_application_name(), Some("x://y"));
        assert!(Config::parse("ftp://h/db")
            .unwrap_err()
            .to_string()
            .contains("\"ftp\""));
    }

    #[test]
    fn display_redacts_password() {
        let c = Config::parse("postgresql://u:hunter2@h/db").unwrap();
        assert!(!format!("{c} {c:?}").contains("hunter2"));
    }

    #[test]
    fn env_fallback() {
        let vars = |k: &str| match k {
            "PGHOST" => Some("h1,h2".to_string()),
            "PGPORT" => Some("7000".to_string()),
            "PGUSER" => Some("me".to_string()),
            "PGDATABASE" => Some("d".to_string()),
            _ => None,
        };
        let c = Config::from_vars(Some("missing"), vars).unwrap();
        assert_eq!(
            c.targets()[1],
            Target::Tcp {
                host: "h2".into(),
                port: 7000
            }
        );
        assert_eq!(c.get_user(), Some("me"));
        let c = Config::from_vars(Some("my-app"), |k| {
            (k == "PGSQL_MY_APP").then(|| "postgresql://x@y/z".to_string())
        })
        .unwrap();
        assert_eq!(c.get_dbname(), Some("z"));
        // Natively the whole name is upper-cased by Unicode rules.
        let c = Config::from_vars(Some("straße"), |k| {
            (k == "PGSQL_STRASSE").then(|| "postgresql://x@y/u".to_string())
        })
        .unwrap();
        assert_eq!(c.get_dbname(), Some("u"));
    }
}
