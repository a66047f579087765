//! Opening one connection: hosts in order, timeouts, TLS negotiation,
//! `target_session_attrs` — everything `connect_raw` leaves to us.

use std::io;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_postgres::NoTls;

use crate::config::{Config, PipelineConnect, TargetSessionAttrs};
use crate::connection::Connection;
use crate::error::{Error, ErrorKind, Result};
use crate::pipelined_password::PipelinedPassword;
use crate::runtime::{timeout, Runtime};
use crate::transport::{BoxSocket, SslMode, Target, TlsRequest, Transport};

/// `SSLRequest`: length 8, code 80877103.
const SSL_REQUEST: [u8; 8] = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];

/// Connects to the first host of `config` that accepts us.
pub(crate) async fn connect<T: Transport>(config: &Config, transport: &T) -> Result<Connection> {
    let rt = transport.runtime();
    let mut last = None;
    for target in config.targets() {
        let attempt = connect_target(config, transport, &target);
        let result = match config.get_connect_timeout() {
            Some(limit) => timeout(&rt, limit, attempt).await.unwrap_or_else(|| {
                let err = io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("timed out after {limit:?}"),
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
    Err(last.unwrap_or_else(|| Error::interface("no host to connect to")))
}

async fn connect_target<T: Transport>(
    config: &Config,
    transport: &T,
    target: &Target,
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
        let conn = Connection::start(client, connection, transport.runtime(), target.clone());
        check_session_attrs(config, &conn, target).await?;
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

async fn check_session_attrs(config: &Config, conn: &Connection, target: &Target) -> Result<()> {
    let want_read_only = match config.get_target_session_attrs() {
        TargetSessionAttrs::Any => return Ok(()),
        TargetSessionAttrs::ReadWrite => false,
        TargetSessionAttrs::ReadOnly => true,
    };
    let rows = conn
        .client()
        .simple_query("SHOW transaction_read_only")
        .await
        .map_err(Error::from_pg_connect)?;
    let read_only = rows.iter().find_map(|m| match m {
        tokio_postgres::SimpleQueryMessage::Row(r) => r.get(0).map(|v| v == "on"),
        _ => None,
    });
    if read_only == Some(want_read_only) {
        Ok(())
    } else {
        Err(Error::new(
            ErrorKind::Operational,
            format!(
                "server at {target} is {}, but target_session_attrs={}",
                if want_read_only {
                    "read-write"
                } else {
                    "read-only"
                },
                if want_read_only {
                    "read-only"
                } else {
                    "read-write"
                }
            ),
        ))
    }
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
