//! Just enough HTTP/1.1 for a WebSocket upgrade, `/healthz` and `/metrics`.

use std::fmt::Write as _;
use std::io;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Largest request head accepted.
pub(crate) const MAX_HEAD: usize = 8 * 1024;
const MAX_HEADERS: usize = 48;

/// A parsed request head.
#[derive(Debug, Default)]
pub(crate) struct Head {
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) query: Option<String>,
    /// The minor HTTP version: 1 for HTTP/1.1, 0 for HTTP/1.0.
    pub(crate) version: u8,
    headers: Vec<(String, Vec<u8>)>,
}

impl Head {
    /// The first header named `name` (case-insensitive), as text.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| std::str::from_utf8(v).ok())
            .map(str::trim)
    }

    /// How many headers are named `name`.
    pub(crate) fn header_count(&self, name: &str) -> usize {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .count()
    }

    /// Whether the comma-separated header `name` holds `token` (case-insensitive).
    pub(crate) fn has_token(&self, name: &str, token: &str) -> bool {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .filter_map(|(_, v)| std::str::from_utf8(v).ok())
            .flat_map(|v| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    }
}

/// Why no head could be read.
#[derive(Debug)]
pub(crate) enum HeadError {
    /// The peer closed (or reset) before sending a complete head.
    Closed,
    /// Not HTTP.
    Malformed,
    /// Longer than [`MAX_HEAD`].
    TooLarge,
}

/// Reads a request head; returns it and any bytes read past it.
pub(crate) async fn read_head<S: AsyncRead + Unpin>(
    stream: &mut S,
) -> Result<(Head, Vec<u8>), HeadError> {
    read_head_after(stream, Vec::with_capacity(1024)).await
}

/// Like [`read_head`], starting with bytes already received (the rest of a
/// keep-alive connection's previous request).
pub(crate) async fn read_head_after<S: AsyncRead + Unpin>(
    stream: &mut S,
    mut buf: Vec<u8>,
) -> Result<(Head, Vec<u8>), HeadError> {
    if !buf.is_empty() {
        if let Some((head, len)) = parse_head(&buf)? {
            let rest = buf.get(len..).unwrap_or_default().to_vec();
            return Ok((head, rest));
        }
    }
    let mut chunk = [0u8; 2048];
    loop {
        let n = stream
            .read(&mut chunk)
            .await
            .map_err(|_| HeadError::Closed)?;
        if n == 0 {
            return Err(HeadError::Closed);
        }
        buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
        if let Some((head, len)) = parse_head(&buf)? {
            let rest = buf.get(len..).unwrap_or_default().to_vec();
            return Ok((head, rest));
        }
    }
}

/// Parses a request head from the bytes received so far: `Ok(None)` while
/// it is incomplete, else the head and its length in bytes.
pub(crate) fn parse_head(buf: &[u8]) -> Result<Option<(Head, usize)>, HeadError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(buf) {
        Ok(httparse::Status::Complete(len)) => {
            let target = req.path.unwrap_or("");
            let (path, query) = match target.split_once('?') {
                Some((p, q)) => (p.to_string(), Some(q.to_string())),
                None => (target.to_string(), None),
            };
            let head = Head {
                method: req.method.unwrap_or("").to_string(),
                path,
                query,
                version: req.version.unwrap_or(1),
                headers: req
                    .headers
                    .iter()
                    .map(|h| (h.name.to_string(), h.value.to_vec()))
                    .collect(),
            };
            Ok(Some((head, len)))
        }
        Ok(httparse::Status::Partial) if buf.len() >= MAX_HEAD => Err(HeadError::TooLarge),
        Ok(httparse::Status::Partial) => Ok(None),
        Err(httparse::Error::TooManyHeaders) => Err(HeadError::TooLarge),
        Err(_) => Err(HeadError::Malformed),
    }
}

/// Percent-decodes a query component (`+` is a space); `None` for invalid
/// escapes or non-UTF-8 results.
pub(crate) fn pct_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'%' => {
                let hex = |j: usize| bytes.get(j).and_then(|&c| (c as char).to_digit(16));
                let (h, l) = (hex(i + 1)?, hex(i + 2)?);
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// The values of parameter `name` in a query string.
pub(crate) fn query_params(query: &str, name: &str) -> Result<Vec<String>, ()> {
    let mut out = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        if pct_decode(k).ok_or(())? == name {
            out.push(pct_decode(v).ok_or(())?);
        }
    }
    Ok(out)
}

/// An HTTP status line's reason phrase.
fn reason_phrase(status: u16) -> &'static str {
    match status {
        101 => "Switching Protocols",
        200 => "OK",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        204 => "No Content",
        408 => "Request Timeout",
        411 => "Length Required",
        413 => "Content Too Large",
        415 => "Unsupported Media Type",
        426 => "Upgrade Required",
        431 => "Request Header Fields Too Large",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Error",
    }
}

/// Renders a complete, `Connection: close` response with a text body.
pub(crate) fn response(status: u16, extra_headers: &[(&str, &str)], body: &str) -> Vec<u8> {
    render(status, extra_headers, "text/plain; charset=utf-8", body)
}

/// Like [`response`] with a given content type.
pub(crate) fn response_typed(status: u16, content_type: &str, body: &str) -> Vec<u8> {
    render(status, &[], content_type, body)
}

fn render(status: u16, extra_headers: &[(&str, &str)], content_type: &str, body: &str) -> Vec<u8> {
    let mut s = format!("HTTP/1.1 {status} {}\r\n", reason_phrase(status));
    for (k, v) in extra_headers {
        let _ = write!(s, "{k}: {v}\r\n");
    }
    let _ = write!(
        s,
        "Content-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\nCache-Control: no-store\r\n\r\n{body}",
        body.len()
    );
    s.into_bytes()
}

/// Renders a response that may keep the connection open.
pub(crate) fn render_body(
    status: u16,
    extra_headers: &[(&str, String)],
    content_type: &str,
    body: &[u8],
    keep_alive: bool,
) -> Vec<u8> {
    let mut s = format!("HTTP/1.1 {status} {}\r\n", reason_phrase(status));
    for (k, v) in extra_headers {
        let _ = write!(s, "{k}: {v}\r\n");
    }
    let connection = if keep_alive { "keep-alive" } else { "close" };
    let _ = write!(
        s,
        "Content-Type: {content_type}\r\nContent-Length: {}\r\nConnection: {connection}\r\nCache-Control: no-store\r\n\r\n",
        body.len()
    );
    let mut out = s.into_bytes();
    out.extend_from_slice(body);
    out
}

/// Writes a response and shuts the write side down (errors ignored: the
/// peer may already be gone).
pub(crate) async fn send<S: AsyncWrite + Unpin>(stream: &mut S, bytes: &[u8]) -> io::Result<()> {
    stream.write_all(bytes).await?;
    stream.flush().await?;
    let _ = stream.shutdown().await;
    Ok(())
}

/// Writes bytes and flushes, keeping the stream open.
pub(crate) async fn send_head<S: AsyncWrite + Unpin>(
    stream: &mut S,
    bytes: &[u8],
) -> io::Result<()> {
    stream.write_all(bytes).await?;
    stream.flush().await
}

/// The `101 Switching Protocols` answer to a WebSocket key.
pub(crate) fn switching_protocols(key: &str) -> Vec<u8> {
    let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes());
    format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reads_a_head_and_keeps_the_rest() {
        let raw = b"GET /v1?address=db%3A5432 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n\r\nEXTRA";
        let mut r: &[u8] = raw;
        let (head, rest) = read_head(&mut r).await.unwrap();
        assert_eq!(head.method, "GET");
        assert_eq!(head.path, "/v1");
        assert_eq!(head.query.as_deref(), Some("address=db%3A5432"));
        assert!(head.has_token("connection", "upgrade"));
        assert_eq!(head.header("UPGRADE"), Some("websocket"));
        assert_eq!(rest, b"EXTRA");
        assert_eq!(
            query_params(head.query.as_deref().unwrap(), "address").unwrap(),
            vec!["db:5432".to_string()]
        );
    }

    #[tokio::test]
    async fn bad_heads() {
        let mut r: &[u8] = b"GET / HTTP/1.1\r\n";
        assert!(matches!(read_head(&mut r).await, Err(HeadError::Closed)));
        let mut r: &[u8] = b"\x16\x03\x01garbage\r\n\r\n";
        assert!(matches!(read_head(&mut r).await, Err(HeadError::Malformed)));
        let big = format!("GET / HTTP/1.1\r\nX: {}\r\n", "a".repeat(MAX_HEAD));
        let mut r: &[u8] = big.as_bytes();
        assert!(matches!(read_head(&mut r).await, Err(HeadError::TooLarge)));
    }

    #[test]
    fn decoding() {
        assert_eq!(pct_decode("a%5B%3a%5d+b").as_deref(), Some("a[:] b"));
        assert_eq!(pct_decode("%"), None);
        assert_eq!(pct_decode("%4"), None);
        assert_eq!(pct_decode("%zz"), None);
        assert_eq!(pct_decode("%ff"), None);
        assert_eq!(
            query_params("a=1&address=x&address=y", "address")
                .unwrap()
                .len(),
            2
        );
        assert!(query_params("address=%", "address").is_err());
    }
}
