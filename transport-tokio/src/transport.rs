//! [`TokioTransport`]: TCP (nodelay, keepalive), Unix sockets and TLS.

use std::io;
use std::time::Duration;

use edgepg_core::{async_trait, BoxSocket, Target, TlsRequest, Transport};
use tokio::net::TcpStream;

use crate::runtime::TokioRuntime;
use crate::tls;

/// Opens TCP and Unix-socket connections on tokio and upgrades them with rustls.
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
}

impl Default for TokioTransport {
    fn default() -> Self {
        TokioTransport::new()
    }
}

impl TokioTransport {
    /// TCP with `TCP_NODELAY` and keepalive probes after 60 s of silence.
    pub fn new() -> Self {
        TokioTransport {
            keepalive_idle: Some(Duration::from_secs(60)),
        }
    }

    /// Sets the keepalive idle time (`None` turns keepalive off).
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
