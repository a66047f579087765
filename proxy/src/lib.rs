//! edgepg-proxy: a WebSocket → TCP tunnel for PostgreSQL (SPEC §8).
//!
//! Edge runtimes and browsers cannot open TCP connections; they open a
//! WebSocket to this proxy instead, `ws[s]://PROXY/v1?address=HOST:PORT`
//! (`/v2` is accepted too), and every binary frame carries a chunk of the
//! PostgreSQL byte stream, in either direction. Closing either side closes
//! the other. The wire format is Neon's wsproxy's, so Neon's serverless
//! driver works against this proxy and edgepg's tunnel transport works
//! against Neon's.
//!
//! The proxy is meant to be exposed to the internet, so it is default-deny:
//! it refuses to start without an allowed destination (`--allow HOST:PORT`,
//! `--allow-regex RE`, or an explicit `--allow-any`), checks **every**
//! address a destination name resolves to (see [`address`]), and bounds
//! everything a client controls: connections, handshake time, idle time,
//! frame size, request-head size. Refusals are answered with an HTTP status
//! (before the upgrade) or a WebSocket close code and reason (after it), are
//! logged with connection metadata only — never payloads — and are counted
//! in the Prometheus metrics (`--metrics ADDR`, [`metrics`]).
//!
//! ```no_run
//! use clap::Parser;
//! use edgepg_proxy::{Options, Proxy};
//!
//! # async fn f() -> Result<(), edgepg_proxy::Error> {
//! let opts = Options::parse_from(["edgepg-proxy", "--listen", "127.0.0.1:0", "--allow", "127.0.0.1:5432"]);
//! let proxy = Proxy::bind(opts).await?;
//! println!("listening on {}", proxy.local_addr());
//! proxy.run(async { let _ = tokio::signal::ctrl_c().await; }).await;
//! # Ok(()) }
//! ```
#![deny(missing_docs)]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing,
        clippy::unreachable,
        clippy::todo
    )
)]

pub mod address;
#[doc(hidden)]
pub mod fuzzing;
mod http;
pub mod metrics;
mod server;
mod shared;
mod sql;
mod sql_pool;
mod tunnel;

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

pub use server::Proxy;

/// A configuration or startup error.
///
/// ```
/// use clap::Parser;
/// use edgepg_proxy::{Options, Proxy};
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let opts = Options::parse_from(["edgepg-proxy", "--listen", "127.0.0.1:0"]);
/// let err = Proxy::bind(opts).await.err().unwrap(); // default-deny: no --allow
/// assert!(err.to_string().starts_with("no destination is allowed"));
/// # }
/// ```
#[derive(Debug)]
pub struct Error(String);

impl Error {
    pub(crate) fn new(msg: impl Into<String>) -> Self {
        Error(msg.into())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

/// Parses a duration: `500ms`, `10s`, `5m`, `1h`, or a number of seconds.
///
/// ```
/// use std::time::Duration;
/// use edgepg_proxy::parse_duration;
/// assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
/// assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
/// assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
/// assert!(parse_duration("soon").is_err());
/// ```
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| c.is_ascii_alphabetic()) {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let scale = match unit {
        "ms" => 0.001,
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        _ => {
            return Err(format!(
                "invalid duration {s:?}: use e.g. 500ms, 10s, 5m, 1h"
            ))
        }
    };
    let value: f64 = num
        .trim()
        .parse()
        .ok()
        .filter(|v: &f64| v.is_finite() && *v >= 0.0)
        .ok_or_else(|| format!("invalid duration {s:?}: use e.g. 500ms, 10s, 5m, 1h"))?;
    Duration::try_from_secs_f64(value * scale).map_err(|e| format!("invalid duration {s:?}: {e}"))
}

/// Parses an on/off switch given in the environment (`EDGEPG_PROXY_ALLOW_ANY`):
/// `1`/`0`, `yes`/`no`, `true`/`false`, `on`/`off`, in any case; empty is off.
fn parse_switch(s: &str) -> Result<bool, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "1" | "yes" | "true" | "on" => Ok(true),
        "" | "0" | "no" | "false" | "off" => Ok(false),
        _ => Err(format!(
            "{s:?} is not an on/off value: use 1/0, yes/no, true/false or on/off"
        )),
    }
}

/// Command-line options; each can also be given in the environment
/// (`EDGEPG_PROXY_*`; `--allow` and `--allow-origin` take comma-separated
/// values there, `EDGEPG_PROXY_ALLOW_ANY` takes 1/0, yes/no, true/false or
/// on/off). `--allow` takes several values after one flag, a repeated flag,
/// or comma-separated values; `--allow-regex` the first two only (a regex
/// may hold commas).
///
/// ```
/// use std::time::Duration;
/// use clap::Parser;
/// let argv = ["edgepg-proxy", "--allow", "db.internal:5432,10.0.0.0/8:*", "--idle-timeout", "5m"];
/// let opts = edgepg_proxy::Options::try_parse_from(argv).unwrap();
/// assert_eq!(opts.allow, ["db.internal:5432", "10.0.0.0/8:*"]);
/// assert_eq!(opts.idle_timeout, Duration::from_secs(300));
/// assert_eq!(opts.max_connections, 1024);
///
/// let argv = ["edgepg-proxy", "--allow", "a:1", "b:2", "--allow-regex", r"db\d{1,3}:5432", "c:3"];
/// let opts = edgepg_proxy::Options::try_parse_from(argv).unwrap();
/// assert_eq!(opts.allow, ["a:1", "b:2"]);
/// assert_eq!(opts.allow_regex, [r"db\d{1,3}:5432", "c:3"]);
/// ```
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "edgepg-proxy",
    version,
    about = "WebSocket → TCP tunnel for PostgreSQL (Neon wsproxy compatible)",
    long_about = "WebSocket → TCP tunnel for PostgreSQL (Neon wsproxy compatible).\n\n\
Clients connect to ws[s]://LISTEN/v1?address=HOST:PORT (or /v2) and exchange binary \
frames that carry the PostgreSQL byte stream. Default-deny: at least one of --allow, \
--allow-regex or --allow-any is required.\n\n\
A destination admitted by a host-name rule, a matching --allow-regex or --allow-any may be \
any address, loopback and private networks included, except special ones: link-local and \
cloud metadata (169.254.0.0/16, fe80::/10, fd00:ec2::254, 100.100.100.200, 168.63.129.16), \
unspecified, multicast, broadcast, 0.0.0.0/8, 240.0.0.0/4, and NAT64/6to4 forms of these \
and of loopback. Those are reachable only through an --allow rule naming them by IP or \
network (e.g. --allow 169.254.169.254:80). Every address a name resolves to is checked, \
and the proxy connects only to the checked addresses."
)]
pub struct Options {
    /// Address to accept WebSocket clients on.
    #[arg(long, env = "EDGEPG_PROXY_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Allowed destination HOST:PORT (several after one flag, repeatable, or
    /// comma-separated). HOST: a name, an IPv4 address or network
    /// (10.0.0.0/8), or a bracketed IPv6 address or network; PORT: a number or *.
    #[arg(
        long = "allow",
        value_name = "HOST:PORT",
        env = "EDGEPG_PROXY_ALLOW",
        value_delimiter = ',',
        num_args = 1..,
        action = clap::ArgAction::Append
    )]
    pub allow: Vec<String>,

    /// Allowed destinations as a regular expression over the whole
    /// `host:port` as requested (several after one flag, or repeatable; never
    /// split at commas; anchored at both ends). A match allows loopback too;
    /// link-local/cloud-metadata addresses still need an --allow IP rule.
    #[arg(
        long = "allow-regex",
        value_name = "RE",
        env = "EDGEPG_PROXY_ALLOW_REGEX",
        num_args = 1..,
        action = clap::ArgAction::Append
    )]
    pub allow_regex: Vec<String>,

    /// Allow any destination, loopback and private networks included;
    /// link-local/cloud-metadata and other special addresses still need an
    /// --allow IP rule. In the environment: 1/0, yes/no, true/false, on/off.
    #[arg(long, env = "EDGEPG_PROXY_ALLOW_ANY", value_parser = parse_switch)]
    pub allow_any: bool,

    /// Allowed browser Origin (repeatable). When given, requests with another
    /// Origin header are refused; requests without one (non-browser clients) pass.
    #[arg(
        long = "allow-origin",
        value_name = "ORIGIN",
        env = "EDGEPG_PROXY_ALLOW_ORIGIN",
        value_delimiter = ','
    )]
    pub allow_origin: Vec<String>,

    /// Most client connections open at once (tunnels and handshakes).
    #[arg(long, env = "EDGEPG_PROXY_MAX_CONNECTIONS", default_value_t = 1024)]
    pub max_connections: usize,

    /// Time allowed for the TLS handshake and the HTTP upgrade request.
    #[arg(long, env = "EDGEPG_PROXY_HANDSHAKE_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub handshake_timeout: Duration,

    /// Time allowed to resolve and connect to the destination.
    #[arg(long, env = "EDGEPG_PROXY_CONNECT_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub connect_timeout: Duration,

    /// A tunnel with no frame in either direction for this long is closed (0: never).
    #[arg(long, env = "EDGEPG_PROXY_IDLE_TIMEOUT", default_value = "1h", value_parser = parse_duration)]
    pub idle_timeout: Duration,

    /// Largest WebSocket frame (and message) accepted from a client, in bytes.
    #[arg(long, env = "EDGEPG_PROXY_MAX_FRAME_SIZE", default_value_t = 8 << 20)]
    pub max_frame_size: usize,

    /// PEM certificate chain: serve wss:// (requires --tls-key).
    #[arg(long, env = "EDGEPG_PROXY_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// PEM private key for --tls-cert.
    #[arg(long, env = "EDGEPG_PROXY_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// Serve Prometheus metrics (/metrics) and /healthz on this address.
    #[arg(long, value_name = "ADDR", env = "EDGEPG_PROXY_METRICS")]
    pub metrics: Option<SocketAddr>,

    /// On SIGTERM, how long open tunnels may finish before they are closed.
    #[arg(long, env = "EDGEPG_PROXY_DRAIN_TIMEOUT", default_value = "30s", value_parser = parse_duration)]
    pub drain_timeout: Duration,

    /// Turn off SQL over HTTP (`POST /sql`, Neon's HTTP protocol).
    #[arg(long, env = "EDGEPG_PROXY_NO_SQL", value_parser = parse_switch)]
    pub no_sql: bool,

    /// Most server connections per `/sql` pool (one pool per destination and login).
    #[arg(long, env = "EDGEPG_PROXY_SQL_POOL_SIZE", default_value_t = 10)]
    pub sql_pool_size: usize,

    /// Most `/sql` pools at once; the least recently used idle one makes room.
    #[arg(long, env = "EDGEPG_PROXY_SQL_MAX_POOLS", default_value_t = 100)]
    pub sql_max_pools: usize,

    /// A pooled `/sql` server connection idle this long is closed (0: never).
    #[arg(long, env = "EDGEPG_PROXY_SQL_POOL_IDLE_TIMEOUT", default_value = "5m", value_parser = parse_duration)]
    pub sql_pool_idle_timeout: Duration,

    /// How long a `/sql` request may wait for a server connection of its pool.
    #[arg(long, env = "EDGEPG_PROXY_SQL_ACQUIRE_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub sql_acquire_timeout: Duration,

    /// Longest a `/sql` statement may run before it is cancelled (0: no limit).
    #[arg(long, env = "EDGEPG_PROXY_SQL_STATEMENT_TIMEOUT", default_value = "5m", value_parser = parse_duration)]
    pub sql_statement_timeout: Duration,

    /// Largest `/sql` request body, in bytes (larger: 413).
    #[arg(long, env = "EDGEPG_PROXY_SQL_MAX_REQUEST_SIZE", default_value_t = 10 << 20)]
    pub sql_max_request_size: usize,

    /// Largest `/sql` response body, in bytes (larger: an error, code 54000).
    #[arg(long, env = "EDGEPG_PROXY_SQL_MAX_RESPONSE_SIZE", default_value_t = 10 << 20)]
    pub sql_max_response_size: usize,

    /// An HTTP keep-alive connection with no request for this long is closed.
    #[arg(long, env = "EDGEPG_PROXY_KEEPALIVE_TIMEOUT", default_value = "60s", value_parser = parse_duration)]
    pub keepalive_timeout: Duration,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn defaults_and_flags() {
        let o = Options::try_parse_from(["p", "--allow", "a:1,b:2", "--allow", "c:*"]).unwrap();
        assert_eq!(o.allow, ["a:1", "b:2", "c:*"]);
        assert_eq!(o.max_connections, 1024);
        assert_eq!(o.handshake_timeout, Duration::from_secs(10));
        assert_eq!(o.max_frame_size, 8 << 20);
        assert!(Options::try_parse_from(["p", "--tls-cert", "x"]).is_err());
        assert!(Options::try_parse_from(["p", "--idle-timeout", "x"]).is_err());
    }

    #[test]
    fn several_values_after_one_flag() {
        let o = Options::try_parse_from([
            "p",
            "--allow",
            "a:1",
            "b:2",
            "--allow",
            "c:3,d:4",
            "--allow-regex",
            r"x{1,3}:1",
            "y:2",
            "--allow-any",
            "--allow-regex",
            "z:3",
            "--allow",
            "e:5",
        ])
        .unwrap();
        assert_eq!(o.allow, ["a:1", "b:2", "c:3", "d:4", "e:5"]);
        assert_eq!(o.allow_regex, [r"x{1,3}:1", "y:2", "z:3"]);
        assert!(o.allow_any);
        assert!(Options::try_parse_from(["p", "--allow"]).is_err());
        assert!(Options::try_parse_from(["p", "--allow-regex", "--allow-any"]).is_err());
    }

    #[test]
    fn switch_values() {
        for yes in ["1", "yes", "YES", "true", "True", "on", " on "] {
            assert_eq!(parse_switch(yes), Ok(true), "{yes:?}");
        }
        for no in ["0", "no", "No", "false", "FALSE", "off", ""] {
            assert_eq!(parse_switch(no), Ok(false), "{no:?}");
        }
        for bad in ["2", "maybe", "y es", "enabled"] {
            let e = parse_switch(bad).unwrap_err();
            assert!(e.contains(bad) && e.contains("yes/no"), "{e}");
        }
        // The flag itself takes no value.
        assert!(
            Options::try_parse_from(["p", "--allow-any"])
                .unwrap()
                .allow_any
        );
        assert!(!Options::try_parse_from(["p"]).unwrap().allow_any);
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("3h"), Ok(Duration::from_secs(3 * 3600)));
        assert!(parse_duration("-1s").is_err());
        assert!(parse_duration("1d").is_err());
        assert!(parse_duration("1e400").is_err());
    }
}
