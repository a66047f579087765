//! The listener: accepting, refusing, upgrading, draining.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::time::{timeout, timeout_at, Instant};
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::WebSocketStream;
use tracing::{debug, info, warn};

use crate::address::{self, AllowList, Destination};
use crate::http::{self, Head, HeadError};
use crate::metrics::{Metrics, Reject};
use crate::shared::{
    connect, refused, resolve_checked, BoxIo, Refused, Shared, REFUSAL_WRITE_TIMEOUT,
};
use crate::tunnel;
use crate::{Error, Options};

/// A bound proxy, ready to [`run`](Proxy::run).
///
/// ```
/// use clap::Parser;
/// use edgepg_proxy::{Options, Proxy};
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), edgepg_proxy::Error> {
/// let opts = Options::parse_from(["edgepg-proxy", "--listen", "127.0.0.1:0", "--allow", "db:5432"]);
/// let proxy = Proxy::bind(opts).await?;
/// println!("ws://{}/v1?address=db:5432", proxy.local_addr());
/// proxy.run(async {}).await; // shuts down at once
/// # Ok(()) }
/// ```
pub struct Proxy {
    listener: TcpListener,
    metrics_listener: Option<TcpListener>,
    shared: Arc<Shared>,
}

fn tls_acceptor(opts: &Options) -> Result<Option<tokio_rustls::TlsAcceptor>, Error> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let (Some(cert), Some(key)) = (&opts.tls_cert, &opts.tls_key) else {
        return Ok(None);
    };
    let certs = CertificateDer::pem_file_iter(cert)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| Error::new(format!("--tls-cert {}: {e}", cert.display())))?;
    if certs.is_empty() {
        return Err(Error::new(format!(
            "--tls-cert {}: no certificate found",
            cert.display()
        )));
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| Error::new(format!("--tls-key {}: {e}", key.display())))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::new(format!("TLS: {e}")))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| Error::new(format!("--tls-cert/--tls-key: {e}")))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Some(tokio_rustls::TlsAcceptor::from(Arc::new(config))))
}

fn allow_list(opts: &Options) -> Result<AllowList, Error> {
    let mut allow = AllowList::new();
    for rule in &opts.allow {
        allow
            .allow(rule)
            .map_err(|e| Error::new(format!("--allow {rule:?}: {e}")))?;
    }
    for re in &opts.allow_regex {
        allow.allow_regex(re).map_err(|e| Error::new(e.0))?;
    }
    if opts.allow_any {
        allow.allow_any();
    }
    if allow.is_empty() {
        return Err(Error::new(
            "no destination is allowed: give --allow HOST:PORT, --allow-regex RE, or --allow-any \
             (or EDGEPG_PROXY_ALLOW / EDGEPG_PROXY_ALLOW_REGEX / EDGEPG_PROXY_ALLOW_ANY)",
        ));
    }
    Ok(allow)
}

impl Proxy {
    /// Validates the options and binds the listeners.
    ///
    /// Fails when no destination is allowed (default-deny), when a rule,
    /// regular expression or TLS file is invalid, or when binding fails.
    ///
    /// ```
    /// use clap::Parser;
    /// use edgepg_proxy::{Options, Proxy};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let argv = |rule| ["edgepg-proxy", "--listen", "127.0.0.1:0", "--allow", rule];
    /// assert!(Proxy::bind(Options::parse_from(argv("10.0.0.0/8:5432"))).await.is_ok());
    /// assert!(Proxy::bind(Options::parse_from(argv("10.0.0.0/33:5432"))).await.is_err());
    /// # }
    /// ```
    pub async fn bind(opts: Options) -> Result<Proxy, Error> {
        let allow = allow_list(&opts)?;
        if opts.max_connections == 0 {
            return Err(Error::new("--max-connections must be at least 1"));
        }
        if opts.max_frame_size < 1024 {
            return Err(Error::new("--max-frame-size must be at least 1024 bytes"));
        }
        let tls = tls_acceptor(&opts)?;
        let listener = TcpListener::bind(opts.listen)
            .await
            .map_err(|e| Error::new(format!("cannot listen on {}: {e}", opts.listen)))?;
        let metrics_listener =
            match opts.metrics {
                Some(addr) => Some(TcpListener::bind(addr).await.map_err(|e| {
                    Error::new(format!("cannot listen on {addr} (--metrics): {e}"))
                })?),
                None => None,
            };
        Ok(Proxy {
            listener,
            metrics_listener,
            shared: Arc::new(Shared::new(opts, allow, tls)),
        })
    }

    /// The address clients connect to.
    ///
    /// ```
    /// use clap::Parser;
    /// use edgepg_proxy::{Options, Proxy};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), edgepg_proxy::Error> {
    /// let opts = Options::parse_from(["edgepg-proxy", "--listen", "127.0.0.1:0", "--allow", "db:5432"]);
    /// let addr = Proxy::bind(opts).await?.local_addr();
    /// assert!(addr.ip().is_loopback() && addr.port() != 0); // the port the OS chose
    /// # Ok(()) }
    /// ```
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or(self.shared.opts.listen)
    }

    /// The metrics address, if `--metrics` was given.
    ///
    /// ```
    /// use clap::Parser;
    /// use edgepg_proxy::{Options, Proxy};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), edgepg_proxy::Error> {
    /// let opts = Options::parse_from([
    ///     "edgepg-proxy", "--listen", "127.0.0.1:0", "--allow", "db:5432", "--metrics", "127.0.0.1:0",
    /// ]);
    /// let proxy = Proxy::bind(opts).await?;
    /// assert!(proxy.metrics_addr().is_some_and(|m| m != proxy.local_addr()));
    /// # Ok(()) }
    /// ```
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_listener
            .as_ref()
            .and_then(|l| l.local_addr().ok())
    }

    /// Whether clients must speak TLS (`wss://`).
    ///
    /// ```
    /// use clap::Parser;
    /// use edgepg_proxy::{Options, Proxy};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), edgepg_proxy::Error> {
    /// let opts = Options::parse_from(["edgepg-proxy", "--listen", "127.0.0.1:0", "--allow", "db:5432"]);
    /// assert!(!Proxy::bind(opts).await?.is_tls()); // no --tls-cert/--tls-key: ws://
    /// # Ok(()) }
    /// ```
    pub fn is_tls(&self) -> bool {
        self.shared.tls.is_some()
    }

    /// The live metrics.
    ///
    /// ```
    /// use clap::Parser;
    /// use edgepg_proxy::{Options, Proxy};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), edgepg_proxy::Error> {
    /// let opts = Options::parse_from(["edgepg-proxy", "--listen", "127.0.0.1:0", "--allow", "db:5432"]);
    /// let metrics = Proxy::bind(opts).await?.metrics();
    /// assert_eq!(metrics.snapshot().connections_total, 0);
    /// # Ok(()) }
    /// ```
    pub fn metrics(&self) -> Arc<Metrics> {
        self.shared.metrics.clone()
    }

    /// Serves until `shutdown` completes, then drains: stops accepting,
    /// answers `/healthz` with 503, lets open tunnels finish for up to
    /// `--drain-timeout`, closes the rest (close code 1001) and returns.
    ///
    /// ```
    /// use clap::Parser;
    /// use edgepg_proxy::{Options, Proxy};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), edgepg_proxy::Error> {
    /// let opts = Options::parse_from(["edgepg-proxy", "--listen", "127.0.0.1:0", "--allow", "db:5432"]);
    /// let proxy = Proxy::bind(opts).await?;
    /// let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    /// let server = tokio::spawn(proxy.run(async move { let _ = stopped.await; }));
    /// stop.send(()).unwrap(); // e.g. on SIGTERM
    /// server.await.unwrap();
    /// # Ok(()) }
    /// ```
    pub async fn run<F: Future<Output = ()>>(self, shutdown: F) {
        let Proxy {
            listener,
            metrics_listener,
            shared,
        } = self;
        let metrics_task = metrics_listener.map(|l| tokio::spawn(serve_metrics(l, shared.clone())));
        let reaper = {
            let shared = shared.clone();
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    shared.pools.reap();
                }
            })
        };
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                accepted = listener.accept() => match accepted {
                    Ok((tcp, peer)) => {
                        let shared = shared.clone();
                        tokio::spawn(async move { serve_conn(shared, tcp, peer).await });
                    }
                    Err(e) => {
                        // EMFILE and friends: back off instead of spinning.
                        warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                },
            }
        }
        drop(listener);
        shared.start_draining();
        let active = shared.metrics.snapshot().sockets_open;
        info!(
            open = active,
            drain_timeout = ?shared.opts.drain_timeout,
            "shutting down: draining"
        );
        let deadline = Instant::now() + shared.opts.drain_timeout;
        while shared.metrics.snapshot().sockets_open > 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let left = shared.metrics.snapshot().sockets_open;
        if left > 0 {
            info!(open = left, "drain timeout: closing the remaining tunnels");
            shared.force_close.send_replace(true);
            let deadline = Instant::now() + Duration::from_secs(3);
            while shared.metrics.snapshot().sockets_open > 0 && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        reaper.abort();
        shared.pools.close_all().await;
        if let Some(task) = metrics_task {
            task.abort();
        }
        info!("stopped");
    }
}

/// Decrements the open-socket gauge when a connection ends, however it ends.
struct SocketGuard(Arc<Metrics>);

impl Drop for SocketGuard {
    fn drop(&mut self) {
        self.0.socket_closed();
    }
}

/// Refuses a request: counts it, logs it, answers with `status`.
async fn refuse(
    io: &mut BoxIo,
    shared: &Shared,
    conn: u64,
    peer: SocketAddr,
    reason: Reject,
    status: u16,
    message: &str,
) {
    shared.metrics.reject(reason);
    info!(conn, %peer, reason = reason.label(), status, detail = message, "refused");
    let mut headers = vec![("X-Edgepg-Reject", reason.label())];
    if status == 426 {
        headers.push(("Sec-WebSocket-Version", "13"));
        headers.push(("Upgrade", "websocket"));
    }
    let body = format!("{message}\n");
    let bytes = http::response(status, &headers, &body);
    let _ = timeout(REFUSAL_WRITE_TIMEOUT, http::send(io, &bytes)).await;
}

async fn serve_conn(shared: Arc<Shared>, tcp: TcpStream, peer: SocketAddr) {
    let open = shared.metrics.socket_opened();
    let _guard = SocketGuard(shared.metrics.clone());
    let conn = shared.next_id.fetch_add(1, Ordering::Relaxed);
    let _ = tcp.set_nodelay(true);
    let deadline = Instant::now() + shared.opts.handshake_timeout;

    if open > shared.opts.max_connections as u64 {
        shared.metrics.reject(Reject::TooManyConnections);
        warn!(conn, %peer, max = shared.opts.max_connections, "refused: too many connections");
        if shared.tls.is_none() {
            let mut io: BoxIo = Box::new(tcp);
            let bytes = http::response(
                503,
                &[("X-Edgepg-Reject", Reject::TooManyConnections.label())],
                "too many connections\n",
            );
            let _ = timeout(REFUSAL_WRITE_TIMEOUT, http::send(&mut io, &bytes)).await;
        }
        return;
    }

    let mut io: BoxIo = match &shared.tls {
        None => Box::new(tcp),
        Some(acceptor) => match timeout_at(deadline, acceptor.accept(tcp)).await {
            Ok(Ok(tls)) => Box::new(tls),
            Ok(Err(e)) => {
                shared.metrics.reject(Reject::Tls);
                info!(conn, %peer, reason = "tls", error = %e, "refused");
                return;
            }
            Err(_) => {
                shared.metrics.reject(Reject::HandshakeTimeout);
                info!(conn, %peer, reason = "handshake_timeout", "refused: TLS handshake timed out");
                return;
            }
        },
    };

    let (head, rest) = match timeout_at(deadline, http::read_head(&mut io)).await {
        Ok(Ok(x)) => x,
        Ok(Err(HeadError::Closed)) => {
            debug!(conn, %peer, "closed before sending a request");
            return;
        }
        Ok(Err(HeadError::Malformed)) => {
            return refuse(
                &mut io,
                &shared,
                conn,
                peer,
                Reject::BadRequest,
                400,
                "malformed HTTP request",
            )
            .await;
        }
        Ok(Err(HeadError::TooLarge)) => {
            return refuse(
                &mut io,
                &shared,
                conn,
                peer,
                Reject::HeadTooLarge,
                431,
                "request head too large",
            )
            .await;
        }
        Err(_) => {
            let msg = format!(
                "the request did not arrive within the handshake timeout ({:?})",
                shared.opts.handshake_timeout
            );
            return refuse(
                &mut io,
                &shared,
                conn,
                peer,
                Reject::HandshakeTimeout,
                408,
                &msg,
            )
            .await;
        }
    };

    let (mut io, mut head, mut rest) = (io, head, rest);
    loop {
        match head.path.as_str() {
            "/v1" | "/v2" => return upgrade(shared, io, conn, peer, head, rest).await,
            "/sql" if !shared.opts.no_sql && !is_upgrade(&head) => {
                // A keep-alive connection may go on with another kind of request.
                match crate::sql::serve(shared.clone(), io, conn, peer, head, rest).await {
                    Some((next_io, next_head, next_rest)) => {
                        io = next_io;
                        head = next_head;
                        rest = next_rest;
                    }
                    None => return,
                }
            }
            "/healthz" | "/" if !is_upgrade(&head) => {
                let (status, body) = health(&shared);
                let bytes = http::response(status, &[], body);
                let _ = timeout(REFUSAL_WRITE_TIMEOUT, http::send(&mut io, &bytes)).await;
                return;
            }
            _ => {
                return refuse(
                    &mut io,
                    &shared,
                    conn,
                    peer,
                    Reject::BadRequest,
                    404,
                    "not found: tunnels are at /v1?address=HOST:PORT (or /v2), SQL over HTTP at POST /sql",
                )
                .await;
            }
        }
    }
}

pub(crate) fn is_upgrade(head: &Head) -> bool {
    head.has_token("upgrade", "websocket")
}

fn health(shared: &Shared) -> (u16, &'static str) {
    if shared.is_draining() {
        (503, "draining\n")
    } else {
        (200, "ok\n")
    }
}

/// The checks on a tunnel request that need no I/O: method, upgrade headers,
/// WebSocket version and key, Origin, the `address` parameter and the
/// allow-list at the name level. Returns the destination and the
/// `Sec-WebSocket-Key`. (Resolution and the per-address check come next.)
pub(crate) fn check_request(
    head: &Head,
    allow_origin: &[String],
    allow: &AllowList,
) -> Result<(Destination, String), Refused> {
    if head.method != "GET" {
        return Err(refused(
            Reject::BadRequest,
            405,
            "tunnels are opened with GET",
        ));
    }
    if !is_upgrade(head) || !head.has_token("connection", "upgrade") {
        return Err(refused(
            Reject::BadRequest,
            426,
            "a WebSocket upgrade is required",
        ));
    }
    if head.header("sec-websocket-version") != Some("13") {
        return Err(refused(
            Reject::BadRequest,
            426,
            "unsupported WebSocket version (13 is required)",
        ));
    }
    let key = match head.header("sec-websocket-key") {
        Some(k) if k.len() == 24 && head.header_count("sec-websocket-key") == 1 => k.to_string(),
        _ => {
            return Err(refused(
                Reject::BadRequest,
                400,
                "missing or invalid Sec-WebSocket-Key",
            ))
        }
    };
    if !allow_origin.is_empty() && head.header_count("origin") > 0 {
        let origin = head.header("origin").unwrap_or("");
        let allowed = head.header_count("origin") == 1
            && allow_origin
                .iter()
                .any(|o| o.trim_end_matches('/').eq_ignore_ascii_case(origin));
        if !allowed {
            return Err(refused(
                Reject::Origin,
                403,
                format!("origin not allowed: {origin:?}"),
            ));
        }
    }
    let raw = match head
        .query
        .as_deref()
        .map(|q| http::query_params(q, "address"))
    {
        Some(Ok(v)) if v.len() == 1 => v.into_iter().next().unwrap_or_default(),
        Some(Ok(v)) if v.len() > 1 => {
            return Err(refused(
                Reject::BadAddress,
                400,
                "more than one address parameter",
            ))
        }
        Some(Err(())) => {
            return Err(refused(
                Reject::BadAddress,
                400,
                "invalid percent-encoding in the query",
            ))
        }
        _ => {
            return Err(refused(
                Reject::BadAddress,
                400,
                "missing address parameter: use /v1?address=HOST:PORT",
            ))
        }
    };
    let dest = address::parse_address(&raw)
        .map_err(|e| refused(Reject::BadAddress, 400, format!("invalid address: {e}")))?;
    if !allow.may_allow(&dest) {
        return Err(refused(
            Reject::NotAllowed,
            403,
            format!("destination not allowed: {dest}"),
        ));
    }
    Ok((dest, key))
}

/// Checks a tunnel request, connects to the destination, upgrades, pumps.
async fn upgrade(
    shared: Arc<Shared>,
    mut io: BoxIo,
    conn: u64,
    peer: SocketAddr,
    head: Head,
    rest: Vec<u8>,
) {
    let (dest, key) = match check_request(&head, &shared.opts.allow_origin, &shared.allow) {
        Ok(checked) => checked,
        Err(r) => {
            return refuse(&mut io, &shared, conn, peer, r.reason, r.status, &r.message).await
        }
    };
    let connect_deadline = Instant::now() + shared.opts.connect_timeout;
    let addrs = match resolve_checked(&shared.allow, &dest, connect_deadline).await {
        Ok(addrs) => addrs,
        Err(r) => {
            return refuse(&mut io, &shared, conn, peer, r.reason, r.status, &r.message).await
        }
    };
    if shared.is_draining() {
        return refuse(
            &mut io,
            &shared,
            conn,
            peer,
            Reject::Draining,
            503,
            "the proxy is shutting down",
        )
        .await;
    }
    let upstream = match connect(&addrs, connect_deadline).await {
        Ok(s) => s,
        Err((status, e)) => {
            let msg = format!("cannot connect to {dest}: {e}");
            return refuse(&mut io, &shared, conn, peer, Reject::Upstream, status, &msg).await;
        }
    };
    let _ = upstream.set_nodelay(true);
    let reply = http::switching_protocols(&key);
    match timeout(REFUSAL_WRITE_TIMEOUT, http::send_head(&mut io, &reply)).await {
        Ok(Ok(())) => {}
        _ => {
            debug!(conn, %peer, "client went away during the upgrade");
            return;
        }
    }
    let config = WebSocketConfig::default()
        .max_frame_size(Some(shared.opts.max_frame_size))
        .max_message_size(Some(shared.opts.max_frame_size));
    let ws = WebSocketStream::from_partially_read(io, rest, Role::Server, Some(config)).await;
    tunnel::run(shared, ws, upstream, conn, peer, dest).await;
}

/// Serves `/metrics` and `/healthz` to one client at a time per connection.
async fn serve_metrics(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let Ok((mut tcp, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let shared = shared.clone();
        tokio::spawn(async move {
            let head = timeout(Duration::from_secs(10), http::read_head(&mut tcp)).await;
            let bytes = match head {
                Ok(Ok((head, _))) => match head.path.as_str() {
                    "/metrics" => {
                        let mut text = shared.metrics.render();
                        let (pools, conns) = shared.pools.counts();
                        text.push_str(&format!(
                            "# HELP edgepg_proxy_sql_pools Server connection pools behind /sql.\n\
                             # TYPE edgepg_proxy_sql_pools gauge\nedgepg_proxy_sql_pools {pools}\n\
                             # HELP edgepg_proxy_sql_server_connections Pooled server connections behind /sql.\n\
                             # TYPE edgepg_proxy_sql_server_connections gauge\n\
                             edgepg_proxy_sql_server_connections {conns}\n"
                        ));
                        http::response_typed(200, "text/plain; version=0.0.4; charset=utf-8", &text)
                    }
                    "/healthz" => {
                        let (status, body) = health(&shared);
                        http::response(status, &[], body)
                    }
                    _ => http::response(404, &[], "not found: /metrics, /healthz\n"),
                },
                Ok(Err(HeadError::Closed)) => return,
                _ => http::response(400, &[], "bad request\n"),
            };
            let _ = timeout(REFUSAL_WRITE_TIMEOUT, http::send(&mut tcp, &bytes)).await;
        });
    }
}
