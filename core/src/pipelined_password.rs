//! `pipeline_connect=password`: the cleartext password travels in the same
//! flight as the startup message instead of after the server asks for it,
//! which saves a round trip (Neon's `pipelineConnect: "password"`).
//!
//! tokio-postgres drives the startup; this socket wrapper only edits the byte
//! stream. Outgoing, it appends a `PasswordMessage` to the startup message and
//! later swallows tokio-postgres's own `PasswordMessage`, sent when the
//! server's request arrives. Incoming, it checks that the server really asked
//! for a cleartext password: any other request means our early message is
//! wrong for this server, and the connection fails with a clear error.

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::transport::BoxSocket;

/// `AuthenticationCleartextPassword`.
const AUTH_CLEARTEXT: u32 = 3;

/// Where the outgoing stream is.
enum Outgoing {
    /// Copying the startup message; `header` collects its 4-byte length.
    Startup { header: [u8; 4], seen: usize },
    /// Dropping tokio-postgres's `PasswordMessage`: `header` collects its
    /// type byte and length, then `skip` bytes of body remain.
    Swallow {
        header: [u8; 5],
        seen: usize,
        skip: usize,
    },
    /// Everything passes through untouched.
    Through,
}

/// What the first server message has shown so far.
enum Incoming {
    /// Collecting the first 9 bytes (type, length, authentication code).
    Checking { header: [u8; 9], seen: usize },
    /// Checked.
    Through,
}

/// A socket that sends the cleartext password with the startup message.
pub(crate) struct PipelinedPassword {
    inner: BoxSocket,
    password_message: Vec<u8>,
    /// Bytes accepted from tokio-postgres, edited, not yet written to `inner`.
    pending: Vec<u8>,
    written: usize,
    outgoing: Outgoing,
    incoming: Incoming,
}

impl PipelinedPassword {
    pub(crate) fn new(inner: BoxSocket, password: &str) -> PipelinedPassword {
        let len = u32::try_from(4 + password.len() + 1).unwrap_or(u32::MAX);
        let mut password_message = Vec::with_capacity(1 + len as usize);
        password_message.push(b'p');
        password_message.extend_from_slice(&len.to_be_bytes());
        password_message.extend_from_slice(password.as_bytes());
        password_message.push(0);
        PipelinedPassword {
            inner,
            password_message,
            pending: Vec::new(),
            written: 0,
            outgoing: Outgoing::Startup {
                header: [0; 4],
                seen: 0,
            },
            incoming: Incoming::Checking {
                header: [0; 9],
                seen: 0,
            },
        }
    }

    /// Writes `pending` out; ready when it is empty.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.written < self.pending.len() {
            let rest = self.pending.get(self.written..).unwrap_or_default();
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, rest))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.written += n;
        }
        self.pending.clear();
        self.written = 0;
        Poll::Ready(Ok(()))
    }

    /// Moves `buf` into `pending`, editing it on the way.
    fn edit(&mut self, mut buf: &[u8]) {
        while !buf.is_empty() {
            match &mut self.outgoing {
                Outgoing::Through => {
                    self.pending.extend_from_slice(buf);
                    return;
                }
                Outgoing::Startup { header, seen } => {
                    let (len, take) = message_span(header, seen, 0, buf);
                    self.pending
                        .extend_from_slice(buf.get(..take).unwrap_or_default());
                    buf = buf.get(take..).unwrap_or_default();
                    if len.is_some_and(|len| *seen >= len) {
                        self.pending.extend_from_slice(&self.password_message);
                        self.outgoing = Outgoing::Swallow {
                            header: [0; 5],
                            seen: 0,
                            skip: 0,
                        };
                    }
                }
                Outgoing::Swallow { header, seen, skip } => {
                    if *seen < 5 {
                        let take = (5 - *seen).min(buf.len());
                        header[*seen..*seen + take].copy_from_slice(&buf[..take]);
                        *seen += take;
                        buf = &buf[take..];
                        if *seen < 5 {
                            return;
                        }
                        if header[0] != b'p' {
                            // Not the password message we expected: pass everything on.
                            self.pending.extend_from_slice(&header[..]);
                            self.outgoing = Outgoing::Through;
                            continue;
                        }
                        let len = u32::from_be_bytes([header[1], header[2], header[3], header[4]]);
                        *skip = (len as usize).saturating_sub(4);
                    }
                    let take = (*skip).min(buf.len());
                    *skip -= take;
                    buf = &buf[take..];
                    if *skip == 0 {
                        self.outgoing = Outgoing::Through;
                    }
                }
            }
        }
    }

    /// Inspects bytes just read; an error when the server wants another method.
    fn check(&mut self, bytes: &[u8]) -> io::Result<()> {
        let Incoming::Checking { header, seen } = &mut self.incoming else {
            return Ok(());
        };
        let take = (9 - *seen).min(bytes.len());
        header[*seen..*seen + take].copy_from_slice(&bytes[..take]);
        *seen += take;
        if *seen >= 1 && header[0] != b'R' {
            // An ErrorResponse (bad database, too many connections): tokio-postgres reports it.
            self.incoming = Incoming::Through;
            return Ok(());
        }
        if *seen < 9 {
            return Ok(());
        }
        let code = u32::from_be_bytes([header[5], header[6], header[7], header[8]]);
        self.incoming = Incoming::Through;
        if code == AUTH_CLEARTEXT {
            return Ok(());
        }
        let method = match code {
            0 => "no password",
            5 => "an MD5 password",
            10 => "SASL (SCRAM) authentication",
            _ => "another authentication method",
        };
        Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "pipeline_connect=password sent the password early, but the server asked for \
                 {method}, not a cleartext password; connect without pipeline_connect"
            ),
        ))
    }
}

/// For a message whose length field starts at `offset` (0 for the startup
/// message, 1 after a type byte): collects the length into `header`, counts
/// `seen`, and returns the message length once known and how much of `buf`
/// belongs to this message.
fn message_span(
    header: &mut [u8; 4],
    seen: &mut usize,
    offset: usize,
    buf: &[u8],
) -> (Option<usize>, usize) {
    let mut take = 0;
    while *seen < offset + 4 && take < buf.len() {
        if *seen >= offset {
            header[*seen - offset] = buf[take];
        }
        *seen += 1;
        take += 1;
    }
    if *seen < offset + 4 {
        return (None, take);
    }
    let len = offset + u32::from_be_bytes(*header) as usize;
    let more = len.saturating_sub(*seen).min(buf.len() - take);
    *seen += more;
    (Some(len), take + more)
}

impl AsyncWrite for PipelinedPassword {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.poll_drain(cx))?;
        if matches!(this.outgoing, Outgoing::Through) {
            return Pin::new(&mut this.inner).poll_write(cx, buf);
        }
        this.edit(buf);
        // Start writing now; what doesn't fit goes out on the next write or flush.
        if let Poll::Ready(Err(e)) = this.poll_drain(cx) {
            return Poll::Ready(Err(e));
        }
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_drain(cx))?;
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_drain(cx))?;
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}

impl AsyncRead for PipelinedPassword {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        ready!(Pin::new(&mut this.inner).poll_read(cx, buf))?;
        let fresh = buf.filled().get(before..).unwrap_or_default();
        this.check(fresh)?;
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn startup() -> Vec<u8> {
        let body = b"\0\x03\0\0user\0u\0\0";
        let mut m = ((body.len() + 4) as u32).to_be_bytes().to_vec();
        m.extend_from_slice(body);
        m
    }

    fn password(pw: &str) -> Vec<u8> {
        let mut m = vec![b'p'];
        m.extend_from_slice(&((pw.len() + 5) as u32).to_be_bytes());
        m.extend_from_slice(pw.as_bytes());
        m.push(0);
        m
    }

    fn socket() -> PipelinedPassword {
        let (a, _b) = tokio::io::duplex(64);
        PipelinedPassword::new(Box::new(a), "sécret")
    }

    #[test]
    fn edits_in_any_chunking() {
        let mut input = startup();
        input.extend(password("sécret"));
        input.extend_from_slice(b"Q\0\0\0\x0dselect 1\0");
        let mut expected = startup();
        expected.extend(password("sécret"));
        expected.extend_from_slice(b"Q\0\0\0\x0dselect 1\0");
        for chunk in 1..input.len() {
            let mut s = socket();
            for piece in input.chunks(chunk) {
                s.edit(piece);
            }
            assert_eq!(s.pending, expected, "chunk size {chunk}");
        }
    }

    #[test]
    fn refuses_other_methods_and_passes_errors() {
        let auth = |code: u32| {
            let mut m = vec![b'R', 0, 0, 0, 8];
            m.extend_from_slice(&code.to_be_bytes());
            m
        };
        for (code, ok) in [(3, true), (10, false), (5, false), (0, false)] {
            let mut s = socket();
            let bytes = auth(code);
            let result = bytes.chunks(2).try_for_each(|c| s.check(c));
            assert_eq!(result.is_ok(), ok, "code {code}");
        }
        let mut s = socket();
        assert!(s.check(b"E\0\0\0\x10S").is_ok());
        assert!(s.check(&[b'R', 0, 0, 0, 8, 0, 0, 0, 10]).is_ok());
    }
}
