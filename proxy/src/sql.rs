//! SQL over HTTP: `POST /sql` in Neon's protocol, so that Neon's `neon()`
//! and edgepg's `http()` run one-shot queries through the proxy without a
//! WebSocket or a PostgreSQL startup per request.
//!
//! The request names its database in the `Neon-Connection-String` header
//! (checked against the same allow-list as a tunnel's `address`) and carries
//! `{"query", "params"}` or `{"queries": [...]}` (a batch, run in one
//! transaction) as JSON; the answer is `{command, rowCount, rows, fields,
//! rowAsArray}` (or `{results: [...]}`) with values in PostgreSQL's text form,
//! or HTTP 400 with the server's error fields. The connection is kept alive
//! between requests, and the server connections are pooled
//! ([`crate::sql_pool`]).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use edgepg_core::{
    Config, Error, ErrorKind, IsolationLevel, Results, Target, ToSql, TransactionOptions, Value,
};
use serde_json::{json, Map, Value as Json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::{timeout, timeout_at, Instant};
use tracing::info;

use crate::address;
use crate::http::{self, Head};
use crate::metrics::{Reject, SqlOutcome};
use crate::shared::{refused, resolve_checked, BoxIo, Refused, Shared, REFUSAL_WRITE_TIMEOUT};
use crate::sql_pool::Key;

/// Bound on one server connect and login (TCP connects are bounded by `--connect-timeout` too).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The most parameters one statement may have (the protocol's limit).
const MAX_PARAMS: usize = 65_535;

/// Request headers a browser may send (CORS preflight).
const ALLOW_HEADERS: &str = "Neon-Connection-String, Neon-Raw-Text-Output, Neon-Array-Mode, \
Neon-Batch-Isolation-Level, Neon-Batch-Read-Only, Neon-Batch-Deferrable, Neon-Pool-Opt-In, \
Authorization, Content-Type";

/// One response to write.
struct Reply {
    status: u16,
    body: Vec<u8>,
    /// Close the connection after it (the request body was not read, or it was bad framing).
    close: bool,
}

impl Reply {
    fn json(status: u16, body: &Json) -> Reply {
        Reply {
            status,
            body: serde_json::to_vec(body).unwrap_or_default(),
            close: false,
        }
    }

    fn refused(r: &Refused) -> Reply {
        Reply::json(
            r.status,
            &json!({ "message": r.message, "reason": r.reason.label() }),
        )
    }
}

/// Serves `POST /sql` requests on one client connection until it closes,
/// stays idle past `--keepalive-timeout`, asks to close, or the proxy drains.
/// Returns the connection with its next request when that one is not for
/// `/sql` (a keep-alive connection may go on with a WebSocket upgrade).
pub(crate) async fn serve(
    shared: Arc<Shared>,
    mut io: BoxIo,
    conn: u64,
    peer: SocketAddr,
    mut head: Head,
    mut buf: Vec<u8>,
) -> Option<(BoxIo, Head, Vec<u8>)> {
    loop {
        let wants_keep_alive = head.version >= 1 && !head.has_token("connection", "close");
        let started = Instant::now();
        let (reply, rest, summary) = handle(&shared, &mut io, &head, buf).await;
        let keep_alive = wants_keep_alive && !reply.close && !shared.is_draining();
        let mut headers: Vec<(&str, String)> = Vec::new();
        if let Some(origin) = head.header("origin") {
            headers.push(("Access-Control-Allow-Origin", origin.to_string()));
            headers.push(("Vary", "Origin".to_string()));
        }
        let (content_type, body): (&str, &[u8]) = if reply.status == 204 {
            headers.push(("Access-Control-Allow-Methods", "POST, OPTIONS".into()));
            headers.push(("Access-Control-Allow-Headers", ALLOW_HEADERS.into()));
            headers.push(("Access-Control-Max-Age", "86400".into()));
            ("text/plain", b"")
        } else {
            ("application/json", &reply.body)
        };
        let bytes = http::render_body(reply.status, &headers, content_type, body, keep_alive);
        let outcome = match (reply.status, &summary) {
            (200 | 204, _) => SqlOutcome::Ok,
            (_, Some(s)) if s.db_error => SqlOutcome::DbError,
            _ => SqlOutcome::Refused,
        };
        if reply.status != 204 {
            shared.metrics.sql_request(outcome);
        }
        info!(
            conn,
            %peer,
            status = reply.status,
            dest = summary.as_ref().map_or("", |s| s.dest.as_str()),
            user = summary.as_ref().map_or("", |s| s.user.as_str()),
            db = summary.as_ref().map_or("", |s| s.db.as_str()),
            statements = summary.as_ref().map_or(0, |s| s.statements),
            ms = started.elapsed().as_secs_f64() * 1000.0,
            "sql request"
        );
        let written = timeout(REFUSAL_WRITE_TIMEOUT * 5, http::send_head(&mut io, &bytes)).await;
        if !matches!(written, Ok(Ok(()))) {
            return None;
        }
        if !keep_alive {
            let _ = io.shutdown().await;
            if reply.close {
                // Read (and drop) what the client still sends for a moment, so
                // that it sees the answer rather than a reset.
                let mut sink = [0u8; 16 * 1024];
                let _ = timeout(Duration::from_secs(2), async {
                    while let Ok(n) = io.read(&mut sink).await {
                        if n == 0 {
                            break;
                        }
                    }
                })
                .await;
            }
            return None;
        }
        let next = tokio::select! {
            r = timeout(shared.opts.keepalive_timeout, http::read_head_after(&mut io, rest)) => r,
            () = shared.drained() => return None,
        };
        match next {
            Ok(Ok((h, r))) if h.path == "/sql" => {
                head = h;
                buf = r;
            }
            Ok(Ok((h, r))) => return Some((io, h, r)),
            _ => return None,
        }
    }
}

/// What the log line and the metrics say about a request (no payloads).
struct Summary {
    dest: String,
    user: String,
    db: String,
    statements: usize,
    db_error: bool,
}

/// Handles one request; returns the reply, the bytes read past its body and
/// a summary once the destination is known.
async fn handle(
    shared: &Shared,
    io: &mut BoxIo,
    head: &Head,
    buf: Vec<u8>,
) -> (Reply, Vec<u8>, Option<Summary>) {
    if let Err(r) = check_origin(head, &shared.opts.allow_origin) {
        shared.metrics.reject(r.reason);
        return (Reply::refused(&r), skip_body(head, buf), None);
    }
    if head.method == "OPTIONS" {
        return (
            Reply {
                status: 204,
                body: Vec::new(),
                close: false,
            },
            skip_body(head, buf),
            None,
        );
    }
    if head.method != "POST" {
        let r = refused(Reject::BadRequest, 405, "/sql takes POST requests");
        shared.metrics.reject(r.reason);
        return (Reply::refused(&r), skip_body(head, buf), None);
    }
    if shared.is_draining() {
        let r = refused(Reject::Draining, 503, "the proxy is shutting down");
        shared.metrics.reject(r.reason);
        let mut reply = Reply::refused(&r);
        reply.close = true;
        return (reply, Vec::new(), None);
    }
    let deadline = Instant::now() + shared.opts.handshake_timeout.max(Duration::from_secs(30));
    let (body, rest) =
        match read_body(io, head, buf, shared.opts.sql_max_request_size, deadline).await {
            Ok(x) => x,
            Err(r) => {
                shared.metrics.reject(r.reason);
                let mut reply = Reply::refused(&r);
                reply.close = true;
                return (reply, Vec::new(), None);
            }
        };
    let request = match Request::parse(head, &body) {
        Ok(req) => req,
        Err(r) => {
            shared.metrics.reject(r.reason);
            return (Reply::refused(&r), rest, None);
        }
    };
    let mut summary = Summary {
        dest: request.dest.to_string(),
        user: request.key.user.clone(),
        db: request.key.dbname.clone(),
        statements: request.statements.len(),
        db_error: false,
    };
    if !shared.allow.may_allow(&request.dest) {
        let r = refused(
            Reject::NotAllowed,
            403,
            format!("destination not allowed: {}", request.dest),
        );
        shared.metrics.reject(r.reason);
        return (Reply::refused(&r), rest, Some(summary));
    }
    if !shared.pools.contains(&request.key) {
        // A new pool: check every address now, to answer 403 rather than a
        // connect error (each new server connection checks again).
        let deadline = Instant::now() + shared.opts.connect_timeout;
        if let Err(r) = resolve_checked(&shared.allow, &request.dest, deadline).await {
            shared.metrics.reject(r.reason);
            return (Reply::refused(&r), rest, Some(summary));
        }
    }
    let pool = match shared.pools.get(&request.key, request.config.clone()) {
        Ok(p) => p,
        Err(r) => return (Reply::refused(&r), rest, Some(summary)),
    };
    let result = execute(&pool, &request).await;
    let reply = match result {
        Ok(results) => {
            let body = if request.batch {
                json!({ "results": results })
            } else {
                results.into_iter().next().unwrap_or(Json::Null)
            };
            let bytes = serde_json::to_vec(&body).unwrap_or_default();
            if bytes.len() > shared.opts.sql_max_response_size {
                summary.db_error = true;
                Reply::json(
                    400,
                    &json!({
                        "message": format!(
                            "the response is larger than {} bytes (--sql-max-response-size)",
                            shared.opts.sql_max_response_size
                        ),
                        "code": "54000",
                        "severity": "ERROR",
                    }),
                )
            } else {
                Reply {
                    status: 200,
                    body: bytes,
                    close: false,
                }
            }
        }
        Err(e) => {
            if pool.status().size == 0 {
                shared.pools.forget_if_empty(&request.key);
            }
            let (status, body) = error_body(&e);
            summary.db_error = body.get("code").is_some_and(|c| c.is_string());
            Reply::json(status, &body)
        }
    };
    (reply, rest, Some(summary))
}

/// The Origin rule of the tunnel: with `--allow-origin`, a request carrying
/// another Origin is refused (requests without one pass).
fn check_origin(head: &Head, allow_origin: &[String]) -> Result<(), Refused> {
    if allow_origin.is_empty() || head.header_count("origin") == 0 {
        return Ok(());
    }
    let origin = head.header("origin").unwrap_or("");
    let allowed = head.header_count("origin") == 1
        && allow_origin
            .iter()
            .any(|o| o.trim_end_matches('/').eq_ignore_ascii_case(origin));
    if allowed {
        Ok(())
    } else {
        Err(refused(
            Reject::Origin,
            403,
            format!("origin not allowed: {origin:?}"),
        ))
    }
}

/// For a request answered without its body: the bytes past a body that is
/// already in `buf` (nothing when the body has not all arrived).
fn skip_body(head: &Head, buf: Vec<u8>) -> Vec<u8> {
    match head
        .header("content-length")
        .and_then(|v| v.parse::<usize>().ok())
    {
        Some(n) if buf.len() >= n => buf.get(n..).unwrap_or_default().to_vec(),
        Some(_) => Vec::new(),
        None => buf,
    }
}

/// Reads the body (`Content-Length` or chunked), at most `max` bytes.
async fn read_body(
    io: &mut BoxIo,
    head: &Head,
    mut buf: Vec<u8>,
    max: usize,
    deadline: Instant,
) -> Result<(Vec<u8>, Vec<u8>), Refused> {
    let too_large = || {
        refused(
            Reject::BodyTooLarge,
            413,
            format!("the request body is larger than {max} bytes"),
        )
    };
    let chunked = head.header_count("transfer-encoding") > 0;
    if chunked && !head.has_token("transfer-encoding", "chunked") {
        return Err(refused(
            Reject::BadBody,
            400,
            "unsupported Transfer-Encoding",
        ));
    }
    if chunked && head.header_count("content-length") > 0 {
        return Err(refused(
            Reject::BadBody,
            400,
            "both Content-Length and Transfer-Encoding",
        ));
    }
    let expect_continue = head
        .header("expect")
        .is_some_and(|e| e.eq_ignore_ascii_case("100-continue"));
    let mut chunk = vec![0u8; 16 * 1024];
    let mut fill = async |io: &mut BoxIo, buf: &mut Vec<u8>| -> Result<(), Refused> {
        fill_from(io, buf, &mut chunk, deadline).await
    };
    if !chunked {
        let len = match head.header("content-length") {
            None => 0,
            Some(v) if head.header_count("content-length") == 1 => v
                .parse::<usize>()
                .map_err(|_| refused(Reject::BadBody, 400, "invalid Content-Length"))?,
            Some(_) => {
                return Err(refused(
                    Reject::BadBody,
                    400,
                    "more than one Content-Length",
                ))
            }
        };
        if len > max {
            return Err(too_large());
        }
        if expect_continue && buf.len() < len {
            let _ = http::send_head(io, b"HTTP/1.1 100 Continue\r\n\r\n").await;
        }
        while buf.len() < len {
            fill(io, &mut buf).await?;
        }
        let rest = buf.split_off(len);
        return Ok((buf, rest));
    }
    if expect_continue {
        let _ = http::send_head(io, b"HTTP/1.1 100 Continue\r\n\r\n").await;
    }
    // Chunked: size line, data, CRLF; ... 0, trailers, CRLF.
    let mut body = Vec::new();
    let mut pos = 0usize;
    loop {
        let line_end = loop {
            if let Some(i) = buf
                .get(pos..)
                .and_then(|b| b.windows(2).position(|w| w == b"\r\n"))
            {
                break pos + i;
            }
            if buf.len() - pos > 1024 {
                return Err(refused(Reject::BadBody, 400, "invalid chunk size line"));
            }
            fill(io, &mut buf).await?;
        };
        let line = std::str::from_utf8(buf.get(pos..line_end).unwrap_or_default())
            .map_err(|_| refused(Reject::BadBody, 400, "invalid chunk size line"))?;
        let size_text = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| refused(Reject::BadBody, 400, "invalid chunk size"))?;
        pos = line_end + 2;
        if size == 0 {
            // Trailers end with an empty line.
            loop {
                if let Some(i) = buf
                    .get(pos..)
                    .and_then(|b| b.windows(2).position(|w| w == b"\r\n"))
                {
                    let empty = i == 0;
                    pos += i + 2;
                    if empty {
                        let rest = buf.get(pos..).unwrap_or_default().to_vec();
                        return Ok((body, rest));
                    }
                    continue;
                }
                if buf.len() - pos > 8 * 1024 {
                    return Err(refused(Reject::BadBody, 400, "trailers too large"));
                }
                fill(io, &mut buf).await?;
            }
        }
        if body.len().saturating_add(size) > max {
            return Err(too_large());
        }
        while buf.len() < pos + size + 2 {
            fill(io, &mut buf).await?;
        }
        body.extend_from_slice(buf.get(pos..pos + size).unwrap_or_default());
        if buf.get(pos + size..pos + size + 2) != Some(b"\r\n") {
            return Err(refused(Reject::BadBody, 400, "invalid chunk framing"));
        }
        pos += size + 2;
        // Keep the buffer small.
        buf.drain(..pos);
        pos = 0;
    }
}

/// Reads more of the body into `buf`.
async fn fill_from(
    io: &mut BoxIo,
    buf: &mut Vec<u8>,
    chunk: &mut [u8],
    deadline: Instant,
) -> Result<(), Refused> {
    match timeout_at(deadline, io.read(chunk)).await {
        Ok(Ok(0)) | Ok(Err(_)) => Err(refused(
            Reject::BadBody,
            400,
            "the connection closed before the whole body arrived",
        )),
        Ok(Ok(n)) => {
            buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
            Ok(())
        }
        Err(_) => Err(refused(
            Reject::HandshakeTimeout,
            408,
            "the request body did not arrive in time",
        )),
    }
}

/// One statement of a request.
struct Statement {
    sql: String,
    params: Vec<Value>,
}

/// A parsed, checked request.
struct Request {
    dest: address::Destination,
    key: Key,
    config: Config,
    statements: Vec<Statement>,
    batch: bool,
    array_mode: bool,
    raw_text: bool,
    tx: TransactionOptions,
}

fn bad(message: impl Into<String>) -> Refused {
    refused(Reject::BadBody, 400, message)
}

/// A `true`/`false` header (absent: false).
fn flag(head: &Head, name: &str) -> Result<Option<bool>, Refused> {
    match head.header(name) {
        None => Ok(None),
        Some(v) if v.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(v) if v.eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(_) => Err(bad(format!("{name} must be true or false"))),
    }
}

impl Request {
    fn parse(head: &Head, body: &[u8]) -> Result<Request, Refused> {
        let Some(url) = head.header("neon-connection-string") else {
            return Err(refused(
                Reject::BadRequest,
                400,
                "missing Neon-Connection-String header",
            ));
        };
        let bad_url = |m: String| refused(Reject::BadAddress, 400, m);
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(bad_url(
                "Neon-Connection-String must be a postgresql:// URL".into(),
            ));
        }
        let mut config = Config::parse(url)
            .map_err(|e| bad_url(format!("invalid Neon-Connection-String: {}", e.message())))?;
        let targets = config.targets();
        let [Target::Tcp { .. }] = targets.as_slice() else {
            return Err(bad_url(
                "Neon-Connection-String must name exactly one TCP host".into(),
            ));
        };
        let target = targets.first().map(ToString::to_string).unwrap_or_default();
        let dest = address::parse_address(&target)
            .map_err(|e| bad_url(format!("invalid host in Neon-Connection-String: {e}")))?;
        if config
            .get_ssl_root_cert()
            .is_some_and(|c| c.as_ref() != "system")
        {
            return Err(bad_url(
                "sslrootcert other than \"system\" is not accepted through the proxy".into(),
            ));
        }
        let Some(user) = config.get_user().map(str::to_string) else {
            return Err(bad_url("Neon-Connection-String has no user".into()));
        };
        let dbname = config.get_dbname().unwrap_or(&user).to_string();
        let key = Key {
            dest: dest.to_string(),
            user,
            dbname,
            password: config.get_password().map(str::to_string),
            ssl_mode: config.get_ssl_mode().as_str(),
            application_name: config.get_application_name().map(str::to_string),
            url: url.to_string(),
        };
        config.connect_timeout(CONNECT_TIMEOUT);

        let json: Json = serde_json::from_slice(body)
            .map_err(|e| bad(format!("the body is not valid JSON: {e}")))?;
        let Json::Object(mut obj) = json else {
            return Err(bad("the body must be a JSON object"));
        };
        let (statements, batch) = match obj.remove("queries") {
            Some(Json::Array(items)) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    let Json::Object(q) = item else {
                        return Err(bad("each of \"queries\" must be an object"));
                    };
                    out.push(statement(q)?);
                }
                (out, true)
            }
            Some(_) => return Err(bad("\"queries\" must be an array")),
            None => (vec![statement(obj)?], false),
        };
        let mut tx = TransactionOptions::new();
        if let Some(level) = head.header("neon-batch-isolation-level") {
            let norm: String = level
                .chars()
                .filter(|c| c.is_ascii_alphabetic())
                .collect::<String>()
                .to_ascii_lowercase();
            tx = tx.isolation(match norm.as_str() {
                "readuncommitted" => IsolationLevel::ReadUncommitted,
                "readcommitted" => IsolationLevel::ReadCommitted,
                "repeatableread" => IsolationLevel::RepeatableRead,
                "serializable" => IsolationLevel::Serializable,
                _ => {
                    return Err(bad(format!(
                        "invalid Neon-Batch-Isolation-Level {level:?}: use ReadUncommitted, \
                         ReadCommitted, RepeatableRead or Serializable"
                    )))
                }
            });
        }
        if let Some(on) = flag(head, "neon-batch-read-only")? {
            tx = tx.read_only(on);
        }
        if let Some(on) = flag(head, "neon-batch-deferrable")? {
            tx = tx.deferrable(on);
        }
        Ok(Request {
            dest,
            key,
            config,
            statements,
            batch,
            array_mode: flag(head, "neon-array-mode")?.unwrap_or(false),
            raw_text: flag(head, "neon-raw-text-output")?.unwrap_or(false),
            tx,
        })
    }
}

/// `{"query": "...", "params": [...]}`.
fn statement(mut q: Map<String, Json>) -> Result<Statement, Refused> {
    let sql = match q.remove("query") {
        Some(Json::String(s)) => s,
        Some(_) => return Err(bad("\"query\" must be a string")),
        None => return Err(bad("the body needs \"query\" (or \"queries\")")),
    };
    let params = match q.remove("params") {
        None | Some(Json::Null) => Vec::new(),
        Some(Json::Array(items)) => {
            if items.len() > MAX_PARAMS {
                return Err(bad(format!(
                    "{} parameters: a statement takes at most {MAX_PARAMS}",
                    items.len()
                )));
            }
            items.into_iter().map(param).collect()
        }
        Some(_) => return Err(bad("\"params\" must be an array")),
    };
    Ok(Statement { sql, params })
}

/// A JSON parameter as a value the server types by inference, in text form.
fn param(v: Json) -> Value {
    match v {
        Json::Null => Value::Null,
        Json::String(s) => Value::Text(s),
        Json::Bool(b) => Value::Text(if b { "true" } else { "false" }.into()),
        Json::Number(n) => Value::Text(n.to_string()),
        Json::Array(items) => Value::Array(items.into_iter().map(param).collect()),
        obj @ Json::Object(_) => Value::Text(obj.to_string()),
    }
}

/// Runs the statements: one alone, several in one transaction.
async fn execute(
    pool: &edgepg_core::Pool<crate::sql_pool::CheckedTransport>,
    req: &Request,
) -> Result<Vec<Json>, Error> {
    fn refs(s: &Statement) -> Vec<&(dyn ToSql + Sync)> {
        s.params.iter().map(|v| v as &(dyn ToSql + Sync)).collect()
    }
    if !req.batch {
        let mut out = Vec::new();
        for s in &req.statements {
            let results = pool.query(&s.sql, &refs(s)).await?;
            out.push(render(&results, req.array_mode, req.raw_text)?);
        }
        return Ok(out);
    }
    let mut tx = pool.begin_with(req.tx).await?;
    let mut out = Vec::with_capacity(req.statements.len());
    for s in &req.statements {
        let results = tx.query(&s.sql, &refs(s)).await?;
        out.push(render(&results, req.array_mode, req.raw_text)?);
    }
    tx.commit().await?;
    Ok(out)
}

/// `pg_type.typlen` of the built-in types (`dataTypeSize`); -1 for others.
fn typlen(oid: u32) -> i32 {
    match oid {
        16 | 18 => 1,
        21 => 2,
        23 | 24 | 26 | 28 | 29 | 700 | 1082 | 2202..=2206 | 2278 | 3734 | 3769 | 4089 | 4096 => 4,
        27 | 829 => 6,
        20 | 701 | 774 | 790 | 1083 | 1114 | 1184 | 3220 => 8,
        1266 => 12,
        600 | 1186 | 2950 => 16,
        628 | 718 => 24,
        601 | 603 => 32,
        19 => 64,
        705 | 2275 => -2,
        _ => -1,
    }
}

/// `SELECT 3` → (`SELECT`, 3); `INSERT 0 1` → (`INSERT`, 1); `CREATE TABLE` → (`CREATE`, null).
fn command_and_count(tag: &str) -> (String, Json) {
    let mut words = tag.split_whitespace();
    let command = words.next().unwrap_or("").to_string();
    let count = words
        .rev()
        .find_map(|w| w.parse::<u64>().ok())
        .map_or(Json::Null, Json::from);
    (command, count)
}

/// A value in the typed (not raw-text) mode: booleans, small integers and
/// floats, json; everything else (int8 and numeric included) as text.
fn typed(oid: u32, text: String) -> Json {
    match oid {
        16 => Json::Bool(text == "t"),
        21 | 23 | 26 => text.parse::<i64>().map_or(Json::String(text), Json::from),
        700 | 701 => match text.parse::<f64>() {
            Ok(f) if f.is_finite() => Json::from(f),
            _ => Json::String(text),
        },
        114 | 3802 => serde_json::from_str(&text).unwrap_or(Json::String(text)),
        _ => Json::String(text),
    }
}

/// One statement's results in Neon's shape.
fn render(results: &Results, array_mode: bool, raw_text: bool) -> Result<Json, Error> {
    let columns = results.columns();
    let fields: Vec<Json> = columns
        .iter()
        .map(|c| {
            json!({
                "name": c.name(),
                "tableID": c.table_oid().unwrap_or(0),
                "columnID": c.column_id().unwrap_or(0),
                "dataTypeID": c.type_oid(),
                "dataTypeSize": typlen(c.type_oid()),
                "dataTypeModifier": c.type_modifier(),
                "format": "text",
            })
        })
        .collect();
    let mut rows = Vec::with_capacity(results.len());
    for row in results.iter() {
        let mut values = Vec::with_capacity(columns.len());
        for (i, c) in columns.iter().enumerate() {
            let v = match row.text(i)? {
                None => Json::Null,
                Some(t) if raw_text => Json::String(t),
                Some(t) => typed(c.type_oid(), t),
            };
            values.push(v);
        }
        if array_mode {
            rows.push(Json::Array(values));
        } else {
            let obj: Map<String, Json> = columns
                .iter()
                .map(|c| c.name().to_string())
                .zip(values)
                .collect();
            rows.push(Json::Object(obj));
        }
    }
    let (command, count) = command_and_count(results.status());
    Ok(json!({
        "command": command,
        "rowCount": count,
        "rows": rows,
        "fields": fields,
        "rowAsArray": array_mode,
    }))
}

/// The HTTP status and JSON body of a failed request: 400 with the server's
/// fields for a database error (Neon's shape), else a status for the kind.
fn error_body(e: &Error) -> (u16, Json) {
    let mut body = Map::new();
    body.insert("message".into(), Json::from(e.message()));
    if let Some(db) = e.db_error() {
        body.insert("message".into(), Json::from(db.message.as_str()));
        body.insert("code".into(), Json::from(db.code.as_str()));
        body.insert("severity".into(), Json::from(db.severity.as_str()));
        let opt = |v: &Option<String>| v.as_deref().map_or(Json::Null, Json::from);
        body.insert("detail".into(), opt(&db.detail));
        body.insert("hint".into(), opt(&db.hint));
        body.insert(
            "position".into(),
            db.position
                .map_or(Json::Null, |p| Json::from(p.to_string())),
        );
        body.insert("where".into(), opt(&db.where_));
        body.insert("schema".into(), opt(&db.schema));
        body.insert("table".into(), opt(&db.table));
        body.insert("column".into(), opt(&db.column));
        body.insert("dataType".into(), opt(&db.datatype));
        body.insert("constraint".into(), opt(&db.constraint));
        body.insert("file".into(), opt(&db.file));
        body.insert(
            "line".into(),
            db.line.map_or(Json::Null, |l| Json::from(l.to_string())),
        );
        body.insert("routine".into(), opt(&db.routine));
        return (400, Json::Object(body));
    }
    let status = match e.kind() {
        ErrorKind::PoolTimeout | ErrorKind::PoolFull | ErrorKind::PoolClosed => 503,
        ErrorKind::DatabaseNotAvailable | ErrorKind::ConnectionLost | ErrorKind::Operational => 502,
        ErrorKind::QueryCanceled => {
            body.insert("code".into(), Json::from("57014"));
            400
        }
        _ => 400,
    };
    body.insert("kind".into(), Json::from(format!("{:?}", e.kind())));
    (status, Json::Object(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags() {
        assert_eq!(
            command_and_count("SELECT 3"),
            ("SELECT".into(), Json::from(3))
        );
        assert_eq!(
            command_and_count("INSERT 0 1"),
            ("INSERT".into(), Json::from(1))
        );
        assert_eq!(
            command_and_count("CREATE TABLE"),
            ("CREATE".into(), Json::Null)
        );
    }

    #[test]
    fn params() {
        assert_eq!(param(json!(null)), Value::Null);
        assert_eq!(param(json!(1.5)), Value::Text("1.5".into()));
        assert_eq!(param(json!({"a": 1})), Value::Text("{\"a\":1}".into()));
    }
}
