//! Prometheus metrics (text exposition format 0.0.4), kept in atomics.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

/// Why a connection was refused or a tunnel closed by the proxy.
///
/// ```
/// use edgepg_proxy::metrics::{Metrics, Reject};
/// let metrics = Metrics::default();
/// assert_eq!(metrics.rejects(Reject::ForbiddenAddress), 0);
/// assert!(metrics.render().contains(r#"reason="forbidden_address""#));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reject {
    /// The destination is not in the allow-list.
    NotAllowed,
    /// The destination resolves to an address that is not allowed.
    ForbiddenAddress,
    /// The `address` parameter is missing or malformed.
    BadAddress,
    /// Not a valid WebSocket upgrade request (method, headers, path).
    BadRequest,
    /// The `Origin` header is not in the allow-list.
    Origin,
    /// `--max-connections` reached.
    TooManyConnections,
    /// The TLS handshake or request head did not arrive within the handshake timeout.
    HandshakeTimeout,
    /// The request head exceeded the size limit.
    HeadTooLarge,
    /// The TLS handshake failed.
    Tls,
    /// The destination name did not resolve.
    Resolve,
    /// The destination did not accept the connection (or timed out).
    Upstream,
    /// A frame or message exceeded `--max-frame-size`.
    FrameTooLarge,
    /// A text frame was received (the tunnel carries binary frames only).
    TextFrame,
    /// The proxy is shutting down.
    Draining,
    /// A `/sql` request body larger than `--sql-max-request-size`.
    BodyTooLarge,
    /// A `/sql` request whose body or headers are not a valid query.
    BadBody,
}

impl Reject {
    /// Every reason, in exposition order.
    ///
    /// ```
    /// use edgepg_proxy::metrics::Reject;
    /// assert_eq!(Reject::ALL.len(), 16);
    /// assert_eq!(Reject::ALL[0], Reject::NotAllowed);
    /// assert!(Reject::ALL.contains(&Reject::Draining));
    /// ```
    pub const ALL: [Reject; 16] = [
        Reject::NotAllowed,
        Reject::ForbiddenAddress,
        Reject::BadAddress,
        Reject::BadRequest,
        Reject::Origin,
        Reject::TooManyConnections,
        Reject::HandshakeTimeout,
        Reject::HeadTooLarge,
        Reject::Tls,
        Reject::Resolve,
        Reject::Upstream,
        Reject::FrameTooLarge,
        Reject::TextFrame,
        Reject::Draining,
        Reject::BodyTooLarge,
        Reject::BadBody,
    ];

    /// The `reason` label value.
    ///
    /// ```
    /// use edgepg_proxy::metrics::Reject;
    /// assert_eq!(Reject::TooManyConnections.label(), "too_many_connections");
    /// assert_eq!(Reject::FrameTooLarge.label(), "frame_too_large");
    /// ```
    pub fn label(self) -> &'static str {
        match self {
            Reject::NotAllowed => "not_allowed",
            Reject::ForbiddenAddress => "forbidden_address",
            Reject::BadAddress => "bad_address",
            Reject::BadRequest => "bad_request",
            Reject::Origin => "origin",
            Reject::TooManyConnections => "too_many_connections",
            Reject::HandshakeTimeout => "handshake_timeout",
            Reject::HeadTooLarge => "head_too_large",
            Reject::Tls => "tls",
            Reject::Resolve => "resolve",
            Reject::Upstream => "upstream",
            Reject::FrameTooLarge => "frame_too_large",
            Reject::TextFrame => "text_frame",
            Reject::Draining => "draining",
            Reject::BodyTooLarge => "body_too_large",
            Reject::BadBody => "bad_body",
        }
    }

    fn index(self) -> usize {
        Reject::ALL.iter().position(|&r| r == self).unwrap_or(0)
    }
}

/// How a `/sql` request ended, for the metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SqlOutcome {
    /// Answered with results.
    Ok,
    /// Answered with a database error.
    DbError,
    /// Refused before reaching a database.
    Refused,
}

/// Counters and gauges of one proxy.
///
/// ```
/// use edgepg_proxy::metrics::Metrics;
/// let metrics = Metrics::default(); // a running proxy's: `Proxy::metrics`
/// assert_eq!(metrics.snapshot().connections_active, 0);
/// assert!(metrics.render().starts_with("# HELP edgepg_proxy_connections_total"));
/// ```
#[derive(Debug, Default)]
pub struct Metrics {
    connections_total: AtomicU64,
    connections_active: AtomicU64,
    sockets_open: AtomicU64,
    bytes_client_to_server: AtomicU64,
    bytes_server_to_client: AtomicU64,
    frames_client_to_server: AtomicU64,
    frames_server_to_client: AtomicU64,
    round_trips: AtomicU64,
    rejects: [AtomicU64; 16],
    sql_ok: AtomicU64,
    sql_db_error: AtomicU64,
    sql_refused: AtomicU64,
    sql_server_connects: AtomicU64,
}

/// A point-in-time copy of the metrics.
///
/// ```
/// use edgepg_proxy::metrics::{Metrics, Snapshot};
/// let snapshot: Snapshot = Metrics::default().snapshot();
/// assert_eq!(snapshot, Snapshot::default());
/// assert_eq!(snapshot.bytes_client_to_server, 0);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Snapshot {
    /// Tunnels opened since start.
    pub connections_total: u64,
    /// Tunnels open now.
    pub connections_active: u64,
    /// Client sockets open now (tunnels and handshakes in progress).
    pub sockets_open: u64,
    /// Payload bytes from clients to servers.
    pub bytes_client_to_server: u64,
    /// Payload bytes from servers to clients.
    pub bytes_server_to_client: u64,
    /// `/sql` requests answered with results.
    pub sql_ok: u64,
    /// `/sql` requests answered with a database error (HTTP 400 with a SQLSTATE).
    pub sql_db_error: u64,
    /// `/sql` requests refused before reaching a database (4xx/5xx without a SQLSTATE).
    pub sql_refused: u64,
    /// Server connections opened for `/sql` requests.
    pub sql_server_connects: u64,
    /// Round trips: client flights the server answered (server data arriving
    /// after client data no server data had answered yet; a client that sends
    /// its startup and password together, then a query, makes two).
    pub round_trips: u64,
}

impl Metrics {
    pub(crate) fn tunnel_opened(&self) {
        self.connections_total.fetch_add(1, Ordering::Relaxed);
        self.connections_active.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn tunnel_closed(&self) {
        self.connections_active.fetch_sub(1, Ordering::Relaxed);
    }

    /// Counts a socket in; returns the number now open.
    pub(crate) fn socket_opened(&self) -> u64 {
        self.sockets_open.fetch_add(1, Ordering::Relaxed) + 1
    }

    pub(crate) fn socket_closed(&self) {
        self.sockets_open.fetch_sub(1, Ordering::Relaxed);
    }

    pub(crate) fn client_to_server(&self, n: usize) {
        self.bytes_client_to_server
            .fetch_add(n as u64, Ordering::Relaxed);
        self.frames_client_to_server.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn server_to_client(&self, n: usize) {
        self.bytes_server_to_client
            .fetch_add(n as u64, Ordering::Relaxed);
        self.frames_server_to_client.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a round trip: server data arrived after client data that no
    /// server data had answered yet. A client that sends its startup and
    /// password together, then a query, makes two.
    pub(crate) fn round_trip(&self) {
        self.round_trips.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a `/sql` request by outcome.
    pub(crate) fn sql_request(&self, outcome: SqlOutcome) {
        let counter = match outcome {
            SqlOutcome::Ok => &self.sql_ok,
            SqlOutcome::DbError => &self.sql_db_error,
            SqlOutcome::Refused => &self.sql_refused,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a server connection opened for `/sql`.
    pub(crate) fn sql_server_connect(&self) {
        self.sql_server_connects.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn reject(&self, reason: Reject) {
        if let Some(c) = self.rejects.get(reason.index()) {
            c.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// How many times `reason` was counted.
    ///
    /// ```
    /// use edgepg_proxy::metrics::{Metrics, Reject};
    /// let metrics = Metrics::default();
    /// let total: u64 = Reject::ALL.iter().map(|&r| metrics.rejects(r)).sum();
    /// assert_eq!(total, 0);
    /// ```
    pub fn rejects(&self, reason: Reject) -> u64 {
        self.rejects
            .get(reason.index())
            .map_or(0, |c| c.load(Ordering::Relaxed))
    }

    /// The current values.
    ///
    /// ```
    /// let snapshot = edgepg_proxy::metrics::Metrics::default().snapshot();
    /// assert_eq!((snapshot.connections_total, snapshot.sockets_open), (0, 0));
    /// assert_eq!(snapshot.round_trips, 0);
    /// ```
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            connections_total: self.connections_total.load(Ordering::Relaxed),
            connections_active: self.connections_active.load(Ordering::Relaxed),
            sockets_open: self.sockets_open.load(Ordering::Relaxed),
            bytes_client_to_server: self.bytes_client_to_server.load(Ordering::Relaxed),
            bytes_server_to_client: self.bytes_server_to_client.load(Ordering::Relaxed),
            round_trips: self.round_trips.load(Ordering::Relaxed),
            sql_ok: self.sql_ok.load(Ordering::Relaxed),
            sql_db_error: self.sql_db_error.load(Ordering::Relaxed),
            sql_refused: self.sql_refused.load(Ordering::Relaxed),
            sql_server_connects: self.sql_server_connects.load(Ordering::Relaxed),
        }
    }

    /// Renders the Prometheus text exposition.
    ///
    /// ```
    /// let m = edgepg_proxy::metrics::Metrics::default();
    /// let text = m.render();
    /// assert!(text.contains("edgepg_proxy_connections_active 0"));
    /// assert!(text.contains("edgepg_proxy_rejects_total{reason=\"not_allowed\"} 0"));
    /// ```
    pub fn render(&self) -> String {
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let mut out = String::with_capacity(2048);
        let mut metric = |name: &str, kind: &str, help: &str, samples: &[(&str, u64)]| {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} {kind}");
            for (labels, value) in samples {
                let _ = writeln!(out, "{name}{labels} {value}");
            }
        };
        metric(
            "edgepg_proxy_connections_total",
            "counter",
            "Tunnels opened (WebSocket upgraded and destination connected).",
            &[("", load(&self.connections_total))],
        );
        metric(
            "edgepg_proxy_connections_active",
            "gauge",
            "Tunnels open now.",
            &[("", load(&self.connections_active))],
        );
        metric(
            "edgepg_proxy_sockets_open",
            "gauge",
            "Client sockets open now, including handshakes in progress.",
            &[("", load(&self.sockets_open))],
        );
        metric(
            "edgepg_proxy_bytes_total",
            "counter",
            "Payload bytes relayed, by direction.",
            &[
                (
                    "{direction=\"client_to_server\"}",
                    load(&self.bytes_client_to_server),
                ),
                (
                    "{direction=\"server_to_client\"}",
                    load(&self.bytes_server_to_client),
                ),
            ],
        );
        metric(
            "edgepg_proxy_frames_total",
            "counter",
            "Binary frames relayed, by direction.",
            &[
                (
                    "{direction=\"client_to_server\"}",
                    load(&self.frames_client_to_server),
                ),
                (
                    "{direction=\"server_to_client\"}",
                    load(&self.frames_server_to_client),
                ),
            ],
        );
        metric(
            "edgepg_proxy_round_trips_total",
            "counter",
            "Client flights answered by the server (client data, then server data).",
            &[("", load(&self.round_trips))],
        );
        let labels: Vec<String> = Reject::ALL
            .iter()
            .map(|r| format!("{{reason=\"{}\"}}", r.label()))
            .collect();
        let samples: Vec<(&str, u64)> = Reject::ALL
            .iter()
            .zip(&labels)
            .map(|(r, l)| (l.as_str(), self.rejects(*r)))
            .collect();
        metric(
            "edgepg_proxy_sql_requests_total",
            "counter",
            "POST /sql requests, by outcome.",
            &[
                ("{outcome=\"ok\"}", load(&self.sql_ok)),
                ("{outcome=\"db_error\"}", load(&self.sql_db_error)),
                ("{outcome=\"refused\"}", load(&self.sql_refused)),
            ],
        );
        metric(
            "edgepg_proxy_sql_server_connects_total",
            "counter",
            "Server connections opened for POST /sql (warm requests reuse pooled ones).",
            &[("", load(&self.sql_server_connects))],
        );
        metric(
            "edgepg_proxy_rejects_total",
            "counter",
            "Connections refused or tunnels closed by the proxy, by reason.",
            &samples,
        );
        out
    }
}
