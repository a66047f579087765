//! The [`Transport`] trait: how bytes reach a server — where to ([`Target`]),
//! how private the channel must be ([`SslMode`], [`TlsRequest`]).

use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::platform::{MaybeSend, MaybeSync};
use crate::runtime::Runtime;

/// A bidirectional byte stream to a server.
///
/// ```
/// use edgepg_core::Socket;
/// fn is_socket<S: Socket>(_: &S) {}
/// let (client, _server) = tokio::io::duplex(1024);
/// is_socket(&client);
/// ```
pub trait Socket: AsyncRead + AsyncWrite + Unpin + MaybeSend {}
impl<T: AsyncRead + AsyncWrite + Unpin + MaybeSend> Socket for T {}

/// A boxed [`Socket`], as transports return them.
///
/// ```
/// use edgepg_core::BoxSocket;
/// let (client, _server) = tokio::io::duplex(1024);
/// let socket: BoxSocket = Box::new(client);
/// # drop(socket);
/// ```
pub type BoxSocket = Box<dyn Socket>;

/// Where to open a socket.
///
/// ```
/// use edgepg_core::{Config, Target};
/// let config = Config::parse("postgresql://app@[::1]:6543/shop")?;
/// let target = Target::Tcp { host: "::1".into(), port: 6543 };
/// assert_eq!(config.targets(), [target.clone()]);
/// assert_eq!(target.to_string(), "[::1]:6543");
/// # Ok::<(), edgepg_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A TCP host name or address and port.
    Tcp {
        /// Host name or IP address.
        host: String,
        /// TCP port.
        port: u16,
    },
    /// A Unix-domain socket file (`<dir>/.s.PGSQL.<port>`).
    Unix(PathBuf),
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Tcp { host, port } if host.contains(':') => write!(f, "[{host}]:{port}"),
            Target::Tcp { host, port } => write!(f, "{host}:{port}"),
            Target::Unix(path) => write!(f, "{}", path.display()),
        }
    }
}

/// libpq's `sslmode`.
///
/// ```
/// use edgepg_core::{Config, SslMode};
/// let config = Config::parse("postgresql://db/shop?sslmode=verify-full")?;
/// assert_eq!(config.get_ssl_mode(), SslMode::VerifyFull);
/// # Ok::<(), edgepg_core::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SslMode {
    /// Never use TLS.
    Disable,
    /// Plaintext only, unless the server insists (treated as `disable`; the server never insists).
    Allow,
    /// TLS when the server offers it, plaintext otherwise. The default, as in libpq.
    #[default]
    Prefer,
    /// TLS or fail; the certificate is not checked (unless `sslrootcert` is given, as in libpq).
    Require,
    /// TLS, and the certificate must chain to a trusted root.
    VerifyCa,
    /// TLS, the certificate must chain to a trusted root and name the host.
    VerifyFull,
}

impl SslMode {
    /// The libpq spelling.
    ///
    /// ```
    /// use edgepg_core::SslMode;
    /// assert_eq!(SslMode::VerifyCa.as_str(), "verify-ca");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Allow => "allow",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }

    /// True when a plaintext connection is not acceptable.
    ///
    /// ```
    /// use edgepg_core::SslMode;
    /// assert!(SslMode::Require.requires_tls());
    /// assert!(!SslMode::Prefer.requires_tls());
    /// ```
    pub fn requires_tls(self) -> bool {
        matches!(
            self,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull
        )
    }
}

/// What the server certificate must prove, and against which roots.
///
/// ```
/// use edgepg_core::{SslMode, TlsRequest};
/// let request = TlsRequest {
///     host: "db.example.com".into(),
///     mode: SslMode::VerifyFull,
///     root_cert: Some("system".into()),
/// };
/// assert!(request.mode.requires_tls());
/// assert_eq!(request.root_cert.as_deref(), Some("system"));
/// ```
#[derive(Debug, Clone)]
pub struct TlsRequest {
    /// The host name to verify (for `verify-full`) and to send as SNI.
    pub host: String,
    /// The libpq `sslmode`; only `require`, `verify-ca` and `verify-full` reach the transport.
    pub mode: SslMode,
    /// `sslrootcert`: a PEM file path, `"system"`, or `None` for the bundled web roots.
    pub root_cert: Option<Arc<str>>,
}

/// Opens byte streams for the core and, where it can, upgrades them to TLS.
///
/// The core speaks the protocol, negotiates TLS (`SSLRequest`), tries hosts
/// in order and enforces timeouts; a transport only moves bytes.
///
/// ```
/// use std::io;
/// use edgepg_core::{async_trait, BoxSocket, Runtime, Target, Transport};
/// # use edgepg_core::BoxFuture; use std::time::Duration;
/// # #[derive(Clone)] struct Rt;
/// # impl Runtime for Rt {
/// #     fn spawn(&self, _: BoxFuture<'static, ()>) {}
/// #     fn sleep(&self, _: Duration) -> BoxFuture<'static, ()> { Box::pin(async {}) }
/// #     fn now(&self) -> Duration { Duration::ZERO }
/// # }
///
/// /// A transport that can reach nothing.
/// #[derive(Clone, Default)]
/// struct Offline;
///
/// #[async_trait]
/// impl Transport for Offline {
///     type Runtime = Rt;
///     fn runtime(&self) -> Rt { Rt }
///     async fn connect(&self, target: &Target) -> io::Result<BoxSocket> {
///         Err(io::Error::new(io::ErrorKind::Unsupported, format!("offline: {target}")))
///     }
/// }
/// ```
#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
pub trait Transport: Clone + MaybeSend + MaybeSync + 'static {
    /// The runtime this transport's sockets run on.
    type Runtime: Runtime;

    /// The runtime that drives connections opened by this transport.
    fn runtime(&self) -> Self::Runtime;

    /// Opens a plain byte stream to `target`.
    async fn connect(&self, target: &Target) -> io::Result<BoxSocket>;

    /// Whether [`Transport::upgrade_tls`] is implemented.
    ///
    /// ```
    /// # use edgepg_core::{async_trait, BoxFuture, BoxSocket, Runtime, Target, Transport};
    /// # use std::time::Duration;
    /// # #[derive(Clone)] struct Rt;
    /// # impl Runtime for Rt {
    /// #     fn spawn(&self, _: BoxFuture<'static, ()>) {}
    /// #     fn sleep(&self, _: Duration) -> BoxFuture<'static, ()> { Box::pin(async {}) }
    /// #     fn now(&self) -> Duration { Duration::ZERO }
    /// # }
    /// # #[derive(Clone)] struct Offline;
    /// # #[async_trait] impl Transport for Offline {
    /// #     type Runtime = Rt; fn runtime(&self) -> Rt { Rt }
    /// #     async fn connect(&self, _: &Target) -> std::io::Result<BoxSocket> { Err(std::io::ErrorKind::Unsupported.into()) }
    /// # }
    /// // A transport that only implements `connect` has no TLS.
    /// assert!(!Offline.supports_tls());
    /// ```
    fn supports_tls(&self) -> bool {
        false
    }

    /// True when the transport's own channel keeps the bytes off the network
    /// in clear (a `wss://` tunnel, or a proxy on this machine), which
    /// satisfies `sslmode=require` when the transport has no TLS to
    /// PostgreSQL. `verify-ca` and `verify-full` still need [`Self::upgrade_tls`].
    ///
    /// ```
    /// # use edgepg_core::{async_trait, BoxFuture, BoxSocket, Runtime, Target, Transport};
    /// # use std::time::Duration;
    /// # #[derive(Clone)] struct Rt;
    /// # impl Runtime for Rt {
    /// #     fn spawn(&self, _: BoxFuture<'static, ()>) {}
    /// #     fn sleep(&self, _: Duration) -> BoxFuture<'static, ()> { Box::pin(async {}) }
    /// #     fn now(&self) -> Duration { Duration::ZERO }
    /// # }
    /// # #[derive(Clone)] struct Offline;
    /// # #[async_trait] impl Transport for Offline {
    /// #     type Runtime = Rt; fn runtime(&self) -> Rt { Rt }
    /// #     async fn connect(&self, _: &Target) -> std::io::Result<BoxSocket> { Err(std::io::ErrorKind::Unsupported.into()) }
    /// # }
    /// assert!(!Offline.private_channel());
    /// ```
    fn private_channel(&self) -> bool {
        false
    }

    /// Performs a TLS handshake on `socket`, after the server accepted `SSLRequest`.
    ///
    /// ```
    /// # use edgepg_core::{async_trait, BoxFuture, BoxSocket, Runtime, Target, Transport};
    /// # use std::time::Duration;
    /// # #[derive(Clone)] struct Rt;
    /// # impl Runtime for Rt {
    /// #     fn spawn(&self, _: BoxFuture<'static, ()>) {}
    /// #     fn sleep(&self, _: Duration) -> BoxFuture<'static, ()> { Box::pin(async {}) }
    /// #     fn now(&self) -> Duration { Duration::ZERO }
    /// # }
    /// # #[derive(Clone)] struct Offline;
    /// # #[async_trait] impl Transport for Offline {
    /// #     type Runtime = Rt; fn runtime(&self) -> Rt { Rt }
    /// #     async fn connect(&self, _: &Target) -> std::io::Result<BoxSocket> { Err(std::io::ErrorKind::Unsupported.into()) }
    /// # }
    /// use edgepg_core::{SslMode, TlsRequest};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let request = TlsRequest { host: "db".into(), mode: SslMode::Require, root_cert: None };
    /// let socket: BoxSocket = Box::new(tokio::io::duplex(64).0);
    /// // The default implementation refuses.
    /// let err = Offline.upgrade_tls(socket, &request).await.err().unwrap();
    /// assert_eq!(err.kind(), std::io::ErrorKind::Unsupported);
    /// # }
    /// ```
    async fn upgrade_tls(&self, socket: BoxSocket, request: &TlsRequest) -> io::Result<BoxSocket> {
        let _ = (socket, request);
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "this transport cannot negotiate TLS",
        ))
    }
}
