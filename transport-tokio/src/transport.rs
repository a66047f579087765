//! [`TokioTransport`]: TCP (nodelay, keepalive), Unix sockets, TLS, and the
//! WebSocket tunnel.

use std::io;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use edgepg_core::{async_trait, BoxSocket, Target, TlsRequest, Transport};
use tokio::net::TcpStream;

use crate::runtime::TokioRuntime;
use crate::tls;
use crate::websocket::{self, Tunnel};

/// Opens TCP and Unix-socket connections on tokio — directly, or through a
/// WebSocket tunnel ([`TokioTransport::websocket`]) — and upgrades them to
/// TLS with rustls.
///
/// ```no_run
/// # async fn f() -> edgepg_tokio::Result<()> {
/// use edgepg_tokio::{Pool, TokioTransport};
/// let pool = Pool::builder_with("postgresql://localhost/postgres", TokioTransport::new()).build()?;
/// pool.query("SELECT 1", &[]).await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct TokioTransport {
    keepalive_idle: Option<Duration>,
    route: Route,
}

/// How sockets reach the server.
#[derive(Debug, Clone)]
enum Route {
    /// TCP or Unix socket straight to the server.
    Direct,
    /// Through a WebSocket proxy (`edgepg-proxy`, Neon's wsproxy).
    Tunnel(Arc<Tunnel>),
}

impl Default for TokioTransport {
    fn default() -> Self {
        TokioTransport::new()
    }
}

impl TokioTransport {
    /// TCP with `TCP_NODELAY` and keepalive probes after 60 s of silence.
    ///
    /// ```
    /// use edgepg_tokio::{Pool, TokioTransport};
    /// let transport = TokioTransport::new();
    /// assert!(!transport.is_tunnel());
    /// let pool = Pool::builder_with("postgresql://app@localhost/shop", transport).build()?;
    /// # drop(pool); Ok::<(), edgepg_tokio::Error>(())
    /// ```
    pub fn new() -> Self {
        TokioTransport {
            keepalive_idle: Some(Duration::from_secs(60)),
            route: Route::Direct,
        }
    }

    /// Through a WebSocket tunnel: every connection opens
    /// `ws[s]://PROXY/v1?address=HOST:PORT` (SPEC §8) on the proxy at `url`
    /// (`ws://host:port/v1`, `wss://…`; the path defaults to `/v1`) and
    /// carries the PostgreSQL protocol in binary frames. Writes made in one
    /// turn of the connection task are coalesced into one frame.
    ///
    /// TLS to PostgreSQL (`sslmode`) works through the tunnel as it does
    /// over TCP; `wss://` additionally encrypts the hop to the proxy
    /// (verified against the web roots, or [`tunnel_root_cert`](Self::tunnel_root_cert)).
    /// Unix-socket hosts cannot be reached through a tunnel. An invalid URL is
    /// reported when a connection is attempted.
    ///
    /// ```no_run
    /// # async fn f() -> edgepg_tokio::Result<()> {
    /// use edgepg_tokio::{Pool, TokioTransport};
    /// let transport = TokioTransport::websocket("ws://127.0.0.1:8080/v1");
    /// let pool = Pool::builder_with("postgresql://app@10.0.0.5/shop?sslmode=disable", transport).build()?;
    /// pool.query("SELECT 1", &[]).await?;
    /// # Ok(()) }
    /// ```
    pub fn websocket(url: impl AsRef<str>) -> Self {
        TokioTransport {
            keepalive_idle: Some(Duration::from_secs(60)),
            route: Route::Tunnel(Arc::new(Tunnel::new(url.as_ref()))),
        }
    }

    /// For a `wss://` tunnel: trust the CA certificates in this PEM file (or
    /// `"system"` for the operating system's roots) instead of the bundled
    /// web roots. No effect on direct transports.
    ///
    /// ```
    /// use edgepg_tokio::TokioTransport;
    /// // The PEM file is read when a connection is opened.
    /// let transport = TokioTransport::websocket("wss://proxy.internal/v1")
    ///     .tunnel_root_cert("/etc/edgepg/proxy-ca.pem");
    /// assert!(transport.is_tunnel());
    /// ```
    pub fn tunnel_root_cert(mut self, pem: impl AsRef<Path>) -> Self {
        if let Route::Tunnel(t) = &self.route {
            let mut t = Tunnel::clone(t);
            t.root_cert = Some(Arc::from(pem.as_ref().to_string_lossy().as_ref()));
            self.route = Route::Tunnel(Arc::new(t));
        }
        self
    }

    /// Whether this transport goes through a WebSocket tunnel.
    ///
    /// ```
    /// use edgepg_tokio::TokioTransport;
    /// assert!(TokioTransport::websocket("ws://127.0.0.1:8080/v1").is_tunnel());
    /// assert!(!TokioTransport::new().is_tunnel());
    /// ```
    pub fn is_tunnel(&self) -> bool {
        matches!(self.route, Route::Tunnel(_))
    }

    /// Sets the keepalive idle time (`None` turns keepalive off).
    ///
    /// ```
    /// use std::time::Duration;
    /// use edgepg_tokio::{Pool, TokioTransport};
    /// let transport = TokioTransport::new().keepalive(Some(Duration::from_secs(15)));
    /// let pool = Pool::builder_with("postgresql://app@db.internal/shop", transport).build()?;
    /// # drop(pool); Ok::<(), edgepg_tokio::Error>(())
    /// ```
    pub fn keepalive(mut self, idle: Option<Duration>) -> Self {
        self.keepalive_idle = idle;
        self
    }
}

fn configure(stream: &TcpStream, keepalive_idle: Option<Duration>) -> io::Result<()> {
    stream.set_nodelay(true)?;
    if let Some(idle) = keepalive_idle {
        let ka = socket2::TcpKeepalive::new()
            .with_time(idle)
            .with_interval(Duration::from_secs(10))
            .with_retries(3);
        socket2::SockRef::from(stream).set_tcp_keepalive(&ka)?;
    }
    Ok(())
}

#[async_trait]
impl Transport for TokioTransport {
    type Runtime = TokioRuntime;

    fn runtime(&self) -> TokioRuntime {
        TokioRuntime
    }

    async fn connect(&self, target: &Target) -> io::Result<BoxSocket> {
        if let Route::Tunnel(tunnel) = &self.route {
            return match target {
                Target::Tcp { host, port } => {
                    let keepalive = self.keepalive_idle;
                    let socket =
                        websocket::connect(tunnel, host, *port, |s| configure(s, keepalive))
                            .await?;
                    Ok(Box::new(socket))
                }
                Target::Unix(path) => Err(io::Error::new(
                    io::ErrorKind::Unsupported,
                    format!(
                        "a Unix socket ({}) cannot be reached through a WebSocket tunnel",
                        path.display()
                    ),
                )),
            };
        }
        match target {
            Target::Tcp { host, port } => {
                let stream = TcpStream::connect((host.as_str(), *port)).await?;
                configure(&stream, self.keepalive_idle)?;
                Ok(Box::new(stream))
            }
            #[cfg(unix)]
            Target::Unix(path) => Ok(Box::new(tokio::net::UnixStream::connect(path).await?)),
            #[cfg(not(unix))]
            Target::Unix(path) => Err(io::Error::new(
                io::ErrorKind::Unsupported,
                format!("Unix sockets are not available here: {}", path.display()),
            )),
        }
    }

    fn supports_tls(&self) -> bool {
        true
    }

    async fn upgrade_tls(&self, socket: BoxSocket, request: &TlsRequest) -> io::Result<BoxSocket> {
        let config = tls::client_config(request)?;
        let name = tls::server_name(&request.host)?;
        let stream = tokio_rustls::TlsConnector::from(config)
            .connect(name, socket)
            .await?;
        Ok(Box::new(stream))
    }
}
