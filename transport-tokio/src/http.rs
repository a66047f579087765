//! One-shot queries over HTTP (feature `http`): `POST /sql` in Neon's
//! protocol, as edgepg-proxy serves it. Each call is one HTTP request on a
//! kept-alive connection; the proxy runs it on a pooled server connection, so
//! a warm query costs no PostgreSQL startup. Values travel as PostgreSQL
//! text; a batch runs in one transaction.
//!
//! ```no_run
//! # async fn f() -> edgepg_tokio::Result<()> {
//! use edgepg_tokio::http::{Batch, HttpClient};
//! let sql = HttpClient::new("postgresql://app:secret@db:5432/shop", "http://proxy:8080/sql")?;
//! let r = sql.query("SELECT $1::int + 1 AS n", &[Some("41")]).await?;
//! assert_eq!(r.get::<i32>(0, "n")?, Some(42));
//! let all = sql
//!     .transaction(&[("INSERT INTO t VALUES ($1)", &[Some("1")]), ("SELECT count(*) FROM t", &[])], &Batch::serializable())
//!     .await?;
//! assert_eq!(all.len(), 2);
//! # Ok(()) }
//! ```

use std::str::FromStr;
use std::time::Duration;

use edgepg_core::{DbErrorFields, Error, ErrorKind, Result};
use serde_json::{json, Value as Json};

/// A client for one connection string through one `/sql` endpoint.
#[derive(Clone)]
pub struct HttpClient {
    http: reqwest::Client,
    endpoint: String,
    connection_string: String,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The connection string holds the password.
        f.debug_struct("HttpClient")
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

/// The isolation, read-only and deferrable settings of a batch
/// (`Neon-Batch-*` headers); [`Batch::default`] is the server's default.
#[derive(Debug, Clone, Default)]
pub struct Batch {
    /// `Serializable`, `RepeatableRead`, `ReadCommitted` or `ReadUncommitted`.
    pub isolation_level: Option<&'static str>,
    /// Run the batch READ ONLY.
    pub read_only: bool,
    /// Run it DEFERRABLE (with serializable read-only).
    pub deferrable: bool,
}

impl Batch {
    /// A serializable batch.
    ///
    /// ```
    /// assert_eq!(edgepg_tokio::http::Batch::serializable().isolation_level, Some("Serializable"));
    /// ```
    pub fn serializable() -> Batch {
        Batch {
            isolation_level: Some("Serializable"),
            ..Batch::default()
        }
    }
}

/// A column of an HTTP result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpField {
    /// Column name.
    pub name: String,
    /// The type's OID.
    pub data_type_id: u32,
    /// The OID of the table it comes from, or 0.
    pub table_id: u32,
    /// Its column number in that table, or 0.
    pub column_id: i32,
}

/// The result of one statement: command, count, fields, rows as text.
#[derive(Debug, Clone)]
pub struct HttpResults {
    command: String,
    row_count: Option<u64>,
    fields: Vec<HttpField>,
    rows: Vec<Vec<Option<String>>>,
}

impl HttpResults {
    /// The command: `SELECT`, `INSERT`, `UPDATE`, …
    ///
    /// ```no_run
    /// # async fn f(sql: edgepg_tokio::http::HttpClient) -> edgepg_tokio::Result<()> {
    /// assert_eq!(sql.query("SELECT 1", &[]).await?.command(), "SELECT");
    /// # Ok(()) }
    /// ```
    pub fn command(&self) -> &str {
        &self.command
    }

    /// Rows returned or affected; `None` for commands without a count.
    ///
    /// ```no_run
    /// # async fn f(sql: edgepg_tokio::http::HttpClient) -> edgepg_tokio::Result<()> {
    /// assert_eq!(sql.query("SELECT 1 UNION SELECT 2", &[]).await?.row_count(), Some(2));
    /// # Ok(()) }
    /// ```
    pub fn row_count(&self) -> Option<u64> {
        self.row_count
    }

    /// The columns.
    ///
    /// ```no_run
    /// # async fn f(sql: edgepg_tokio::http::HttpClient) -> edgepg_tokio::Result<()> {
    /// assert_eq!(sql.query("SELECT 1 AS one", &[]).await?.fields()[0].data_type_id, 23);
    /// # Ok(()) }
    /// ```
    pub fn fields(&self) -> &[HttpField] {
        &self.fields
    }

    /// The rows, each value in PostgreSQL's text form (`None` for NULL).
    ///
    /// ```no_run
    /// # async fn f(sql: edgepg_tokio::http::HttpClient) -> edgepg_tokio::Result<()> {
    /// let r = sql.query("SELECT 1, NULL", &[]).await?;
    /// assert_eq!(r.rows()[0], [Some("1".to_string()), None]);
    /// # Ok(()) }
    /// ```
    pub fn rows(&self) -> &[Vec<Option<String>>] {
        &self.rows
    }

    /// The number of rows.
    ///
    /// ```no_run
    /// # async fn f(sql: edgepg_tokio::http::HttpClient) -> edgepg_tokio::Result<()> {
    /// assert_eq!(sql.query("SELECT 1", &[]).await?.len(), 1);
    /// # Ok(()) }
    /// ```
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// True when there are no rows.
    ///
    /// ```no_run
    /// # async fn f(sql: edgepg_tokio::http::HttpClient) -> edgepg_tokio::Result<()> {
    /// assert!(sql.query("SELECT 1 WHERE false", &[]).await?.is_empty());
    /// # Ok(()) }
    /// ```
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Row `row`'s value of column `column`, parsed from its text (`None` for
    /// NULL); an `Interface` error for a missing row or column, a `Data`
    /// error for text that does not parse as `T`.
    ///
    /// ```no_run
    /// # async fn f(sql: edgepg_tokio::http::HttpClient) -> edgepg_tokio::Result<()> {
    /// let r = sql.query("SELECT 9007199254740993::int8 AS big", &[]).await?;
    /// assert_eq!(r.get::<i64>(0, "big")?, Some(9007199254740993));
    /// # Ok(()) }
    /// ```
    pub fn get<T: FromStr>(&self, row: usize, column: &str) -> Result<Option<T>> {
        let c = self
            .fields
            .iter()
            .position(|f| f.name == column)
            .ok_or_else(|| Error::interface(format!("no column named {column:?}")))?;
        let cells = self.rows.get(row).ok_or_else(|| {
            Error::interface(format!("no row {row} (there are {})", self.rows.len()))
        })?;
        match cells.get(c).and_then(Option::as_deref) {
            None => Ok(None),
            Some(text) => text.parse().map(Some).map_err(|_| {
                Error::from_kind(
                    ErrorKind::Data,
                    format!(
                        "column {column:?}: {text:?} does not parse as {}",
                        std::any::type_name::<T>()
                    ),
                )
            }),
        }
    }
}

impl HttpClient {
    /// A client for `connection_string` through the `/sql` endpoint at
    /// `endpoint` (`http://` or `https://`). No I/O until the first query.
    ///
    /// ```
    /// use edgepg_tokio::http::HttpClient;
    /// assert!(HttpClient::new("postgresql://app@db/shop", "http://127.0.0.1:8080/sql").is_ok());
    /// assert!(HttpClient::new("postgresql://app@db/shop", "ftp://proxy/sql").is_err());
    /// ```
    pub fn new(connection_string: &str, endpoint: &str) -> Result<HttpClient> {
        if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
            return Err(Error::interface(format!(
                "the /sql endpoint must be an http:// or https:// URL, not {endpoint:?}"
            )));
        }
        let http = reqwest::Client::builder()
            .pool_idle_timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| Error::interface(format!("cannot set up the HTTP client: {e}")))?;
        Ok(HttpClient {
            http,
            endpoint: endpoint.to_string(),
            connection_string: connection_string.to_string(),
        })
    }

    /// Runs one statement with text parameters (`None` for NULL).
    ///
    /// ```no_run
    /// # async fn f(sql: edgepg_tokio::http::HttpClient) -> edgepg_tokio::Result<()> {
    /// let r = sql.query("SELECT $1::text AS s", &[Some("hi")]).await?;
    /// assert_eq!(r.get::<String>(0, "s")?.as_deref(), Some("hi"));
    /// # Ok(()) }
    /// ```
    pub async fn query(&self, sql: &str, params: &[Option<&str>]) -> Result<HttpResults> {
        let body = json!({ "query": sql, "params": params });
        let reply = self.post(body, None).await?;
        results(&reply)
    }

    /// Runs statements in one transaction with `batch`'s settings; any
    /// failure rolls all of them back and is returned.
    ///
    /// ```no_run
    /// # async fn f(sql: edgepg_tokio::http::HttpClient) -> edgepg_tokio::Result<()> {
    /// use edgepg_tokio::http::Batch;
    /// let r = sql.transaction(&[("SELECT 1", &[]), ("SELECT 2", &[])], &Batch::default()).await?;
    /// assert_eq!(r[1].get::<i32>(0, "?column?")?, Some(2));
    /// # Ok(()) }
    /// ```
    pub async fn transaction(
        &self,
        statements: &[(&str, &[Option<&str>])],
        batch: &Batch,
    ) -> Result<Vec<HttpResults>> {
        let queries: Vec<Json> = statements
            .iter()
            .map(|(sql, params)| json!({ "query": sql, "params": params }))
            .collect();
        let reply = self
            .post(json!({ "queries": queries }), Some(batch))
            .await?;
        match reply.get("results").and_then(Json::as_array) {
            Some(all) => all.iter().map(results).collect(),
            None => Err(malformed("a batch reply without results")),
        }
    }

    async fn post(&self, body: Json, batch: Option<&Batch>) -> Result<Json> {
        let mut request = self
            .http
            .post(&self.endpoint)
            .header("Neon-Connection-String", &self.connection_string)
            .header("Neon-Raw-Text-Output", "true")
            .header("Neon-Array-Mode", "true")
            .header("Content-Type", "application/json");
        if let Some(b) = batch {
            if let Some(level) = b.isolation_level {
                request = request.header("Neon-Batch-Isolation-Level", level);
            }
            if b.read_only {
                request = request.header("Neon-Batch-Read-Only", "true");
            }
            if b.deferrable {
                request = request.header("Neon-Batch-Deferrable", "true");
            }
        }
        let response = request.body(body.to_string()).send().await.map_err(|e| {
            Error::from_kind(
                ErrorKind::DatabaseNotAvailable,
                format!("the /sql endpoint {} did not answer: {e}", self.endpoint),
            )
        })?;
        let status = response.status();
        let text = response.text().await.map_err(|e| {
            Error::from_kind(
                ErrorKind::ConnectionLost,
                format!("the /sql reply was cut off: {e}"),
            )
        })?;
        let reply: Json = serde_json::from_str(&text)
            .map_err(|_| malformed(&format!("HTTP {status} with a body that is not JSON")))?;
        if status.is_success() {
            return Ok(reply);
        }
        Err(reply_error(status.as_u16(), &reply))
    }
}

fn malformed(what: &str) -> Error {
    Error::from_kind(
        ErrorKind::Interface,
        format!("the /sql endpoint sent {what}"),
    )
}

/// A 4xx/5xx reply: the server's error (with its SQLSTATE) or the proxy's refusal.
fn reply_error(status: u16, reply: &Json) -> Error {
    let text = |k: &str| reply.get(k).and_then(Json::as_str).map(str::to_string);
    let message = text("message").unwrap_or_else(|| format!("HTTP {status}"));
    match text("code") {
        Some(code) if code.len() == 5 => Error::from_server(DbErrorFields {
            severity: text("severity").unwrap_or_else(|| "ERROR".into()),
            code,
            message,
            detail: text("detail"),
            hint: text("hint"),
            position: text("position").and_then(|p| p.parse().ok()),
            schema: text("schema"),
            table: text("table"),
            column: text("column"),
            constraint: text("constraint"),
            datatype: text("dataType"),
            where_: text("where"),
            file: text("file"),
            line: text("line").and_then(|l| l.parse().ok()),
            routine: text("routine"),
        }),
        _ => {
            let kind = match status {
                403 | 407 => ErrorKind::Operational,
                502..=504 => ErrorKind::DatabaseNotAvailable,
                _ => ErrorKind::Interface,
            };
            Error::from_kind(
                kind,
                format!("the /sql endpoint refused: {message} (HTTP {status})"),
            )
        }
    }
}

fn results(r: &Json) -> Result<HttpResults> {
    let command = r
        .get("command")
        .and_then(Json::as_str)
        .ok_or_else(|| malformed("a result without a command"))?
        .to_string();
    let row_count = r.get("rowCount").and_then(Json::as_u64);
    let num = |f: &Json, k: &str| f.get(k).and_then(Json::as_i64).unwrap_or(0);
    let fields = r
        .get("fields")
        .and_then(Json::as_array)
        .map(|fs| {
            fs.iter()
                .map(|f| HttpField {
                    name: f
                        .get("name")
                        .and_then(Json::as_str)
                        .unwrap_or("")
                        .to_string(),
                    data_type_id: u32::try_from(num(f, "dataTypeID")).unwrap_or(0),
                    table_id: u32::try_from(num(f, "tableID")).unwrap_or(0),
                    column_id: i32::try_from(num(f, "columnID")).unwrap_or(0),
                })
                .collect()
        })
        .unwrap_or_default();
    let rows = r
        .get("rows")
        .and_then(Json::as_array)
        .ok_or_else(|| malformed("a result without rows"))?
        .iter()
        .map(|row| match row.as_array() {
            Some(cells) => Ok(cells
                .iter()
                .map(|c| match c {
                    Json::Null => None,
                    Json::String(s) => Some(s.clone()),
                    other => Some(other.to_string()),
                })
                .collect()),
            None => Err(malformed("a row that is not an array")),
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(HttpResults {
        command,
        row_count,
        fields,
        rows,
    })
}
