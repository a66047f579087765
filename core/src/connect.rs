//! Opening one connection: hosts in order, timeouts, TLS negotiation,
//! `target_session_attrs` — everything `connect_raw` leaves to us.

use std::io;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_postgres::NoTls;

use crate::config::{Config, LoadBalanceHosts, PipelineConnect, TargetSessionAttrs};
use crate::connection::Connection;
use crate::error::{duration_text, Error, ErrorKind, Result};
use crate::pipelined_password::PipelinedPassword;
use crate::runtime::{timeout, Runtime};
use crate::transport::{BoxSocket, SslMode, Target, TlsRequest, Transport};

/// `SSLRequest`: length 8, code 80877103.
const SSL_REQUEST: [u8; 8] = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];

/// Connects to the first host of `config` that accepts us and fits its
/// `target_session_attrs` (hosts shuffled first with `load_balance_hosts=random`;
/// `prefer-standby` makes a second pass accepting any server).
pub(crate) async fn connect<T: Transport>(config: &Config, transport: &T) -> Result<Connection> {
    let rt = transport.runtime();
    let mut targets = config.targets();
    if config.get_load_balance_hosts() == LoadBalanceHosts::Random {
        shuffle(&mut targets, rt.now());
    }
    let wanted = config.get_target_session_attrs();
    let passes: &[TargetSessionAttrs] = match wanted {
        TargetSessionAttrs::PreferStandby => {
            &[TargetSessionAttrs::Standby, TargetSessionAttrs::Any]
        }
        _ => std::slice::from_ref(&wanted),
    };
    let mut last = None;
    // libpq's prefer-standby: a second pass over every host, accepting any server.
    for attrs in passes {
        for target in &targets {
            let attempt = connect_target(config, transport, target, *attrs);
            let result = match config.get_connect_timeout() {
                Some(limit) => timeout(&rt, limit, attempt).await.unwrap_or_else(|| {
                    let err = io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!("timed out after {}", duration_text(limit)),
                    );
                    Err(Error::io(
                        ErrorKind::Operational,
                        &format!("could not connect to {target}"),
                        &err,
                    ))
                }),
                None => attempt.await,
            };
            match result {
                Ok(conn) => return Ok(conn),
                Err(e) => last = Some(e),
            }
        }
    }
    Err(last.unwrap_or_else(|| Error::interface("no host to connect to")))
}

/// Fisher–Yates with a splitmix64 stream seeded from the clock and a counter:
/// `load_balance_hosts=random` needs spread, not secrecy, and core does no I/O.
fn shuffle(targets: &mut [Target], now: std::time::Duration) {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut state = (now.as_nanos() as u64)
        ^ COUNTER
            .fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed)
            .rotate_left(17);
    let mut next = move || {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    for i in (1..targets.len()).rev() {
        let j = (next() % (i as u64 + 1)) as usize;
        targets.swap(i, j);
    }
}

async fn connect_target<T: Transport>(
    config: &Config,
    transport: &T,
    target: &Target,
    attrs: TargetSessionAttrs,
) -> Result<Connection> {
    let is_unix = matches!(target, Target::Unix(_));
    let mut mode = if is_unix {
        SslMode::Disable
    } else {
        config.get_ssl_mode()
    };
    loop {
        let socket = transport.connect(target).await.map_err(|e| {
            Error::io(
                ErrorKind::Operational,
                &format!("could not connect to {target}"),
                &e,
            )
        })?;
        let socket = match negotiate_tls(config, transport, target, socket, mode).await {
            Ok(s) => s,
            // libpq's `prefer`: a failed handshake is retried in plaintext on a new socket.
            Err(_) if mode == SslMode::Prefer => {
                mode = SslMode::Disable;
                continue;
            }
            Err(e) => return Err(e),
        };
        let socket = match (config.get_pipeline_connect(), config.get_password()) {
            (PipelineConnect::Password, Some(password)) => {
                Box::new(PipelinedPassword::new(socket, password)) as BoxSocket
            }
            _ => socket,
        };
        let (client, connection) = config
            .to_startup()
            .connect_raw(socket, NoTls)
            .await
            .map_err(|e| with_target(Error::from_pg_connect(e), target))?;
        let mut conn = Connection::start(client, connection, transport.runtime(), target.clone());
        check_session_attrs(attrs, &conn, target).await?;
        conn.wants_writable = config.get_target_session_attrs().wants_writable();
        return Ok(conn);
    }
}

fn with_target(err: Error, target: &Target) -> Error {
    if err.db_error().is_some() {
        err
    } else {
        Error::with_source(
            err.kind(),
            format!("connection to {target} failed: {}", err.message()),
            err,
        )
    }
}

async fn negotiate_tls<T: Transport>(
    config: &Config,
    transport: &T,
    target: &Target,
    mut socket: BoxSocket,
    mode: SslMode,
) -> Result<BoxSocket> {
    let Target::Tcp { host, .. } = target else {
        return Ok(socket);
    };
    if matches!(mode, SslMode::Disable | SslMode::Allow) {
        return Ok(socket);
    }
    if !transport.supports_tls() {
        let satisfied = mode == SslMode::Require && transport.private_channel();
        if mode.requires_tls() && !satisfied {
            return Err(Error::interface(format!(
                "sslmode={} but this transport cannot negotiate TLS with PostgreSQL{}",
                mode.as_str(),
                if mode == SslMode::Require {
                    " (a wss:// proxy URL satisfies require)"
                } else {
                    ""
                }
            )));
        }
        return Ok(socket);
    }
    let io_err = |e: io::Error| {
        Error::io(
            ErrorKind::Operational,
            &format!("TLS negotiation with {target} failed"),
            &e,
        )
    };
    socket.write_all(&SSL_REQUEST).await.map_err(io_err)?;
    socket.flush().await.map_err(io_err)?;
    let mut answer = [0u8; 1];
    socket.read_exact(&mut answer).await.map_err(io_err)?;
    match answer[0] {
        b'S' => {
            // libpq: `require` with a root certificate verifies the chain like `verify-ca`.
            let mode = match (mode, config.get_ssl_root_cert()) {
                (SslMode::Require | SslMode::Prefer, Some(_)) => SslMode::VerifyCa,
                (SslMode::Prefer, None) => SslMode::Require,
                (m, _) => m,
            };
            let request = TlsRequest {
                host: host.clone(),
                mode,
                root_cert: config.get_ssl_root_cert().cloned(),
            };
            transport.upgrade_tls(socket, &request).await.map_err(|e| {
                Error::io(
                    ErrorKind::Operational,
                    &format!("TLS handshake with {target} failed"),
                    &e,
                )
            })
        }
        b'N' if mode.requires_tls() => Err(Error::new(
            ErrorKind::Operational,
            format!(
                "server at {target} does not support TLS, but sslmode={} requires it",
                mode.as_str()
            ),
        )),
        b'N' => Ok(socket),
        other => Err(Error::new(
            ErrorKind::Operational,
            format!(
                "server at {target} sent an invalid answer to the TLS request (byte {other:#04x})"
            ),
        )),
    }
}

/// Checks that the server fits `attrs`, in one round trip.
async fn check_session_attrs(
    attrs: TargetSessionAttrs,
    conn: &Connection,
    target: &Target,
) -> Result<()> {
    if attrs == TargetSessionAttrs::Any {
        return Ok(());
    }
    let rows = conn
        .client()
        .simple_query("SELECT pg_is_in_recovery(), current_setting('transaction_read_only')")
        .await
        .map_err(Error::from_pg_connect)?;
    let state = rows.iter().find_map(|m| match m {
        tokio_postgres::SimpleQueryMessage::Row(r) => {
            Some((r.get(0) == Some("t"), r.get(1) == Some("on")))
        }
        _ => None,
    });
    let Some((in_recovery, read_only)) = state else {
        return Err(Error::new(
            ErrorKind::Operational,
            format!("server at {target} did not say whether it is in recovery or read-only"),
        ));
    };
    if attrs.accepts(in_recovery, read_only) {
        return Ok(());
    }
    let is = match (in_recovery, read_only) {
        (true, _) => "a standby (in recovery)",
        (false, true) => "a read-only primary",
        (false, false) => "a read-write primary",
    };
    let wanted = match attrs {
        TargetSessionAttrs::PreferStandby => "prefer-standby (first pass: standby)",
        other => other.as_str(),
    };
    Err(Error::new(
        ErrorKind::Operational,
        format!("server at {target} is {is}, but target_session_attrs={wanted}"),
    ))
}

/// Opens a fresh socket to `target` and sends a cancel request for `conn`'s running statement.
pub(crate) async fn cancel<T: Transport>(
    transport: &T,
    target: &Target,
    token: &tokio_postgres::CancelToken,
) -> Result<()> {
    let socket = transport.connect(target).await.map_err(|e| {
        Error::io(
            ErrorKind::Operational,
            &format!("could not connect to {target} to cancel"),
            &e,
        )
    })?;
    token
        .cancel_query_raw(socket, NoTls)
        .await
        .map_err(Error::from_pg)
}

/// Closes a connection politely when it is dropped by the pool: tokio-postgres sends
/// Terminate when the last `Client` handle goes away; this waits for the driver to finish
/// so the server sees a clean goodbye rather than an EOF.
pub(crate) async fn close_gracefully<R: Runtime>(rt: &R, mut conn: Connection) {
    let done = conn.take_closed_signal();
    drop(conn);
    let _ = timeout(rt, std::time::Duration::from_secs(2), done).await;
}
