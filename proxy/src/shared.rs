//! What every client connection shares: the byte-stream type, the options,
//! the allow-list, TLS, metrics, the drain state, and the pools of server
//! connections behind `/sql`. Both the tunnel ([`crate::tunnel`]) and SQL
//! over HTTP ([`crate::sql`]) use these; the listener ([`crate::server`])
//! makes them.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::{timeout_at, Instant};

use crate::address::{AllowList, Destination, Host, Refusal};
use crate::metrics::{Metrics, Reject};
use crate::sql_pool::Pools;
use crate::Options;

/// A client byte stream, plain or TLS.
pub(crate) trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}
pub(crate) type BoxIo = Box<dyn Io>;

/// How long a refusal may take to write.
pub(crate) const REFUSAL_WRITE_TIMEOUT: Duration = Duration::from_secs(2);

/// State shared by every connection.
pub(crate) struct Shared {
    pub(crate) opts: Options,
    pub(crate) allow: Arc<AllowList>,
    pub(crate) tls: Option<tokio_rustls::TlsAcceptor>,
    pub(crate) metrics: Arc<Metrics>,
    draining: AtomicBool,
    /// Turns true when the proxy starts draining (idle keep-alive connections close).
    drain_signal: watch::Sender<bool>,
    pub(crate) force_close: watch::Sender<bool>,
    pub(crate) next_id: AtomicU64,
    /// Server connections for `POST /sql`, pooled per destination and login.
    pub(crate) pools: Pools,
}

impl Shared {
    pub(crate) fn new(
        opts: Options,
        allow: AllowList,
        tls: Option<tokio_rustls::TlsAcceptor>,
    ) -> Shared {
        let metrics = Arc::new(Metrics::default());
        let allow = Arc::new(allow);
        let pools = Pools::new(&opts, allow.clone(), metrics.clone());
        Shared {
            opts,
            allow,
            tls,
            metrics,
            draining: AtomicBool::new(false),
            drain_signal: watch::channel(false).0,
            force_close: watch::channel(false).0,
            next_id: AtomicU64::new(1),
            pools,
        }
    }

    /// Whether the proxy is shutting down.
    pub(crate) fn is_draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }

    /// Starts draining.
    pub(crate) fn start_draining(&self) {
        self.draining.store(true, Ordering::SeqCst);
        self.drain_signal.send_replace(true);
    }

    /// Completes once the proxy starts draining.
    pub(crate) async fn drained(&self) {
        let mut rx = self.drain_signal.subscribe();
        let _ = rx.wait_for(|d| *d).await;
    }
}

/// A destination refused, or unreachable, before any byte reached it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refused {
    pub(crate) reason: Reject,
    pub(crate) status: u16,
    pub(crate) message: String,
}

pub(crate) fn refused(reason: Reject, status: u16, message: impl Into<String>) -> Refused {
    Refused {
        reason,
        status,
        message: message.into(),
    }
}

/// Resolves `dest` (once) and checks every address against the allow-list;
/// returns the checked socket addresses, the only ones to connect to.
pub(crate) async fn resolve_checked(
    allow: &AllowList,
    dest: &Destination,
    deadline: Instant,
) -> Result<Vec<SocketAddr>, Refused> {
    let ips: Vec<IpAddr> = match &dest.host {
        Host::Ip(ip) => vec![*ip],
        Host::Name(name) => {
            match timeout_at(
                deadline,
                tokio::net::lookup_host((name.as_str(), dest.port)),
            )
            .await
            {
                Ok(Ok(addrs)) => {
                    let mut ips: Vec<IpAddr> = addrs.map(|a| a.ip()).collect();
                    ips.dedup();
                    ips
                }
                Ok(Err(_)) | Err(_) => {
                    return Err(refused(
                        Reject::Resolve,
                        502,
                        format!("cannot resolve {name}"),
                    ))
                }
            }
        }
    };
    if let Err(refusal) = allow.check(dest, &ips) {
        let reason = match refusal {
            Refusal::NotAllowed => Reject::NotAllowed,
            Refusal::ForbiddenAddress(_) => Reject::ForbiddenAddress,
        };
        return Err(refused(reason, 403, format!("{refusal}: {dest}")));
    }
    Ok(crate::address::socket_addrs(&ips, dest.port))
}

/// Connects to the first address that answers before the deadline.
pub(crate) async fn connect(
    addrs: &[SocketAddr],
    deadline: Instant,
) -> Result<TcpStream, (u16, String)> {
    let mut last = String::from("no address");
    for addr in addrs {
        match timeout_at(deadline, TcpStream::connect(addr)).await {
            Ok(Ok(s)) => return Ok(s),
            Ok(Err(e)) => last = format!("{addr}: {e}"),
            Err(_) => return Err((504, format!("{addr}: connect timed out"))),
        }
    }
    Err((502, last))
}
