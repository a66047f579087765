//! [`Error`] and [`ErrorKind`]: the DB-API error classes of SPEC §6.

use std::fmt;
use std::sync::Arc;

/// The class of an [`Error`], following the DB-API classes of `queries` and `momoko`.
///
/// ```
/// use edgepg_core::ErrorKind;
/// assert_eq!(ErrorKind::from_sqlstate("23505"), ErrorKind::Integrity);
/// assert_eq!(ErrorKind::from_sqlstate("57014"), ErrorKind::QueryCanceled);
/// assert!(ErrorKind::ConnectionLost.is_operational());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Misuse of the API or a bad configuration, detected client-side.
    Interface,
    /// SQLSTATE class 22: bad data (division by zero, out of range, bad input syntax).
    Data,
    /// SQLSTATE class 23: a constraint was violated.
    Integrity,
    /// SQLSTATE classes 42, 26, 34, 3D, 3F: bad SQL or a missing object.
    Programming,
    /// SQLSTATE class 0A: the feature is not supported.
    NotSupported,
    /// SQLSTATE 57014: the statement was cancelled (timeout or cancel request).
    QueryCanceled,
    /// SQLSTATE class 40: serialization failure or deadlock; retrying may succeed.
    TransactionRollback,
    /// SQLSTATE classes 08, 28, 53, 54, 55, 57, 58, and any error while connecting.
    Operational,
    /// SQLSTATE classes XX, 25 and P0.
    Internal,
    /// Any other SQLSTATE.
    Database,
    /// The connection broke while a statement may have been running; it was not retried.
    ConnectionLost,
    /// The pool is at `max_size` and `acquire_timeout` is zero.
    PoolFull,
    /// No connection became available within `acquire_timeout`.
    PoolTimeout,
    /// The pool was closed.
    PoolClosed,
    /// No connection to the server can be made right now.
    DatabaseNotAvailable,
    /// `connect()` could open only some of `min_size` connections.
    PartiallyConnected,
}

impl ErrorKind {
    /// The kind's name as written in Rust (`"PoolTimeout"`): what the
    /// JavaScript package puts in `error.kind`.
    ///
    /// ```
    /// use edgepg_core::ErrorKind;
    /// assert_eq!(ErrorKind::QueryCanceled.name(), "QueryCanceled");
    /// assert_eq!(ErrorKind::from_sqlstate("23505").name(), "Integrity");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::Interface => "Interface",
            ErrorKind::Data => "Data",
            ErrorKind::Integrity => "Integrity",
            ErrorKind::Programming => "Programming",
            ErrorKind::NotSupported => "NotSupported",
            ErrorKind::QueryCanceled => "QueryCanceled",
            ErrorKind::TransactionRollback => "TransactionRollback",
            ErrorKind::Operational => "Operational",
            ErrorKind::Internal => "Internal",
            ErrorKind::Database => "Database",
            ErrorKind::ConnectionLost => "ConnectionLost",
            ErrorKind::PoolFull => "PoolFull",
            ErrorKind::PoolTimeout => "PoolTimeout",
            ErrorKind::PoolClosed => "PoolClosed",
            ErrorKind::DatabaseNotAvailable => "DatabaseNotAvailable",
            ErrorKind::PartiallyConnected => "PartiallyConnected",
        }
    }

    /// Maps a SQLSTATE code to its kind (SPEC §6).
    ///
    /// ```
    /// use edgepg_core::ErrorKind;
    /// assert_eq!(ErrorKind::from_sqlstate("42P01"), ErrorKind::Programming);
    /// assert_eq!(ErrorKind::from_sqlstate("P0001"), ErrorKind::Internal);
    /// assert_eq!(ErrorKind::from_sqlstate("HV000"), ErrorKind::Database);
    /// ```
    pub fn from_sqlstate(code: &str) -> ErrorKind {
        if code == "57014" {
            return ErrorKind::QueryCanceled;
        }
        match code.get(..2).unwrap_or("") {
            "22" => ErrorKind::Data,
            "23" => ErrorKind::Integrity,
            "42" | "26" | "34" | "3D" | "3F" => ErrorKind::Programming,
            "0A" => ErrorKind::NotSupported,
            "40" => ErrorKind::TransactionRollback,
            "08" | "28" | "53" | "54" | "55" | "57" | "58" => ErrorKind::Operational,
            "XX" | "25" | "P0" => ErrorKind::Internal,
            _ => ErrorKind::Database,
        }
    }

    /// True for [`ErrorKind::Operational`] and the client-side kinds that are
    /// operational in DB-API terms (lost connections, unavailable server, pool exhaustion).
    ///
    /// ```
    /// use edgepg_core::ErrorKind;
    /// assert!(ErrorKind::PoolTimeout.is_operational());
    /// assert!(!ErrorKind::Integrity.is_operational());
    /// ```
    pub fn is_operational(self) -> bool {
        matches!(
            self,
            ErrorKind::Operational
                | ErrorKind::ConnectionLost
                | ErrorKind::DatabaseNotAvailable
                | ErrorKind::PartiallyConnected
                | ErrorKind::PoolTimeout
                | ErrorKind::PoolFull
                | ErrorKind::PoolClosed
        )
    }

    /// True when the error came from the server (it carries a SQLSTATE).
    ///
    /// ```
    /// use edgepg_core::ErrorKind;
    /// assert!(ErrorKind::Integrity.is_database());
    /// assert!(!ErrorKind::PoolClosed.is_database());
    /// ```
    pub fn is_database(self) -> bool {
        !matches!(
            self,
            ErrorKind::Interface
                | ErrorKind::ConnectionLost
                | ErrorKind::PoolFull
                | ErrorKind::PoolTimeout
                | ErrorKind::PoolClosed
                | ErrorKind::DatabaseNotAvailable
                | ErrorKind::PartiallyConnected
        )
    }
}

/// Fields of an error reported by the server.
///
/// ```no_run
/// # async fn f(pool: edgepg_core::Pool<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
/// let err = pool.query("SELECT 1/0", &[]).await.unwrap_err();
/// let fields = err.db_error().expect("reported by the server");
/// assert_eq!((fields.severity.as_str(), fields.code.as_str()), ("ERROR", "22012"));
/// assert_eq!(fields.message, "division by zero");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DbErrorFields {
    /// Severity (`ERROR`, `FATAL`, `PANIC`).
    pub severity: String,
    /// Five-character SQLSTATE code.
    pub code: String,
    /// Primary message.
    pub message: String,
    /// Optional detail.
    pub detail: Option<String>,
    /// Optional hint.
    pub hint: Option<String>,
    /// 1-based character position in the query text.
    pub position: Option<u32>,
    /// Schema of the object involved.
    pub schema: Option<String>,
    /// Table involved.
    pub table: Option<String>,
    /// Column involved.
    pub column: Option<String>,
    /// Constraint involved.
    pub constraint: Option<String>,
    /// Data type involved.
    pub datatype: Option<String>,
    /// Where it happened (`COPY items, line 3, column price: "x"`, a PL/pgSQL
    /// call stack).
    pub where_: Option<String>,
    /// The server's source file that reported it.
    pub file: Option<String>,
    /// The line in that file.
    pub line: Option<u32>,
    /// The server routine that reported it.
    pub routine: Option<String>,
}

impl DbErrorFields {
    /// The fields of an error or notice message as tokio-postgres parsed them.
    pub(crate) fn from_db(db: &tokio_postgres::error::DbError) -> DbErrorFields {
        DbErrorFields {
            severity: db.severity().to_string(),
            code: db.code().code().to_string(),
            message: db.message().to_string(),
            detail: db.detail().map(str::to_string),
            hint: db.hint().map(str::to_string),
            position: match db.position() {
                Some(tokio_postgres::error::ErrorPosition::Original(p)) => Some(*p),
                Some(tokio_postgres::error::ErrorPosition::Internal { position, .. }) => {
                    Some(*position)
                }
                None => None,
            },
            schema: db.schema().map(str::to_string),
            table: db.table().map(str::to_string),
            column: db.column().map(str::to_string),
            constraint: db.constraint().map(str::to_string),
            datatype: db.datatype().map(str::to_string),
            where_: db.where_().map(str::to_string),
            file: db.file().map(str::to_string),
            line: db.line(),
            routine: db.routine().map(str::to_string),
        }
    }
}

struct Inner {
    kind: ErrorKind,
    message: String,
    db: Option<DbErrorFields>,
    counts: Option<(usize, usize)>,
    source: Option<Error>,
    io_kind: Option<std::io::ErrorKind>,
}

/// An edgepg error: a kind, one clear sentence, the server's fields when there are any,
/// and the cause. Cheap to clone, so one connect failure can be handed to every waiter.
///
/// ```
/// use edgepg_core::{Config, ErrorKind};
/// let err = Config::parse("postgresql://h:notaport/db").unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::Interface);
/// assert!(err.to_string().contains("port"));
/// ```
#[derive(Clone)]
pub struct Error(Arc<Inner>);

/// `Result` with [`Error`].
///
/// ```
/// use edgepg_core::{Config, Result};
/// fn shop() -> Result<Config> {
///     Config::parse("postgresql://db/shop")
/// }
/// assert_eq!(shop()?.get_dbname(), Some("shop"));
/// # Ok::<(), edgepg_core::Error>(())
/// ```
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error(Arc::new(Inner {
            kind,
            message: message.into(),
            db: None,
            counts: None,
            source: None,
            io_kind: None,
        }))
    }

    /// An [`ErrorKind::Interface`] error: misuse or bad configuration.
    ///
    /// ```
    /// use edgepg_core::{Error, ErrorKind};
    /// let err = Error::interface("limit must be positive");
    /// assert_eq!(err.kind(), ErrorKind::Interface);
    /// assert_eq!(err.to_string(), "interface error: limit must be positive");
    /// ```
    pub fn interface(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Interface, message)
    }

    pub(crate) fn with_source(kind: ErrorKind, message: impl Into<String>, source: Error) -> Error {
        let mut e = Error::new(kind, message);
        Arc::get_mut(&mut e.0).expect("fresh").source = Some(source);
        e
    }

    pub(crate) fn partially_connected(connected: usize, failed: usize, cause: Error) -> Error {
        let mut e = Error::with_source(
            ErrorKind::PartiallyConnected,
            format!(
                "opened {connected} of {} connections; the first failure was: {cause}",
                connected + failed
            ),
            cause,
        );
        Arc::get_mut(&mut e.0).expect("fresh").counts = Some((connected, failed));
        e
    }

    pub(crate) fn io(kind: ErrorKind, context: &str, err: &std::io::Error) -> Error {
        let mut e = Error::new(kind, format!("{context}: {err}"));
        Arc::get_mut(&mut e.0).expect("fresh").io_kind = Some(err.kind());
        e
    }

    /// Converts a tokio-postgres error raised while a statement ran.
    pub(crate) fn from_pg(err: tokio_postgres::Error) -> Error {
        Error::convert(err, false)
    }

    /// Converts a tokio-postgres error raised while connecting: every failure is operational,
    /// as in psycopg2, but the server's SQLSTATE is kept.
    pub(crate) fn from_pg_connect(err: tokio_postgres::Error) -> Error {
        Error::convert(err, true)
    }

    /// An error of `kind` with a message, for clients built on edgepg that
    /// report their own failures in its terms (an unreachable HTTP endpoint).
    ///
    /// ```
    /// use edgepg_core::{Error, ErrorKind};
    /// let e = Error::from_kind(ErrorKind::DatabaseNotAvailable, "the endpoint did not answer");
    /// assert_eq!(e.kind(), ErrorKind::DatabaseNotAvailable);
    /// ```
    pub fn from_kind(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error::new(kind, message)
    }

    /// An error the server reported, from its fields, for clients that
    /// receive them some other way (SQL over HTTP): the kind follows the
    /// SQLSTATE, as for errors read from the wire.
    ///
    /// ```
    /// use edgepg_core::{DbErrorFields, Error, ErrorKind};
    /// let fields = DbErrorFields { code: "23505".into(), message: "duplicate key".into(), ..Default::default() };
    /// let e = Error::from_server(fields);
    /// assert_eq!(e.kind(), ErrorKind::Integrity);
    /// assert_eq!(e.db_error().map(|f| f.code.as_str()), Some("23505"));
    /// ```
    pub fn from_server(fields: DbErrorFields) -> Error {
        let kind = ErrorKind::from_sqlstate(&fields.code);
        Error::with_fields(kind, fields)
    }

    fn with_fields(kind: ErrorKind, fields: DbErrorFields) -> Error {
        let message = match &fields.detail {
            Some(detail) => format!("{} (SQLSTATE {}): {}", fields.message, fields.code, detail),
            None => format!("{} (SQLSTATE {})", fields.message, fields.code),
        };
        let mut e = Error::new(kind, message);
        Arc::get_mut(&mut e.0).expect("fresh").db = Some(fields);
        e
    }

    fn convert(err: tokio_postgres::Error, connecting: bool) -> Error {
        if let Some(db) = err.as_db_error() {
            let fields = DbErrorFields::from_db(db);
            let kind = if connecting {
                ErrorKind::Operational
            } else {
                ErrorKind::from_sqlstate(&fields.code)
            };
            return Error::with_fields(kind, fields);
        }
        let io_kind = std::error::Error::source(&err)
            .and_then(|s| s.downcast_ref::<std::io::Error>())
            .map(|io| io.kind());
        let text = err.to_string();
        let kind = if text.starts_with("error encoding message to server") {
            // A message that cannot be encoded (a NUL byte in the SQL, the user
            // name, …) was never sent: misuse, not a lost connection or server.
            ErrorKind::Interface
        } else if connecting {
            ErrorKind::Operational
        } else if err.is_closed()
            || io_kind.is_some()
            || text.contains("unexpected EOF")
            || text.contains("closed")
        {
            ErrorKind::ConnectionLost
        } else {
            ErrorKind::Interface
        };
        // tokio-postgres counts parameters from 0; SQL (and the user) from $1.
        let text = match text
            .strip_prefix("error serializing parameter ")
            .and_then(|n| n.parse::<usize>().ok())
        {
            Some(i) => format!("cannot send parameter ${}", i + 1),
            None => text,
        };
        let message = match std::error::Error::source(&err) {
            Some(source) if !text.contains(&source.to_string()) => format!("{text}: {source}"),
            _ => text,
        };
        let mut e = Error::new(kind, message);
        Arc::get_mut(&mut e.0).expect("fresh").io_kind = io_kind;
        e
    }

    /// The kind of error.
    ///
    /// ```
    /// use edgepg_core::{Config, ErrorKind};
    /// let err = Config::parse("sslmode=sometimes").unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::Interface);
    /// ```
    pub fn kind(&self) -> ErrorKind {
        self.0.kind
    }

    /// True for operational errors (see [`ErrorKind::is_operational`]).
    ///
    /// ```
    /// use edgepg_core::Error;
    /// assert!(!Error::interface("bad limit").is_operational());
    /// ```
    pub fn is_operational(&self) -> bool {
        self.0.kind.is_operational()
    }

    /// The message, without the kind.
    ///
    /// ```
    /// use edgepg_core::Error;
    /// let err = Error::interface("bad limit");
    /// assert_eq!(err.message(), "bad limit");
    /// assert_eq!(err.to_string(), "interface error: bad limit");
    /// ```
    pub fn message(&self) -> &str {
        &self.0.message
    }

    /// The server's fields, if the server reported this error (here or in its cause).
    ///
    /// ```no_run
    /// # async fn f(pool: edgepg_core::Pool<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
    /// let err = pool.query("SELECT * FROM no_such_table", &[]).await.unwrap_err();
    /// assert_eq!(err.db_error().map(|db| db.code.as_str()), Some("42P01"));
    /// assert!(edgepg_core::Error::interface("client-side").db_error().is_none());
    /// # Ok(()) }
    /// ```
    pub fn db_error(&self) -> Option<&DbErrorFields> {
        self.0
            .db
            .as_ref()
            .or_else(|| self.0.source.as_ref().and_then(|s| s.db_error()))
    }

    /// The SQLSTATE code, if the server reported one.
    ///
    /// ```no_run
    /// # async fn f(pool: edgepg_core::Pool<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
    /// let err = pool.query("SELECT 1/0", &[]).await.unwrap_err();
    /// assert_eq!(err.code(), Some("22012"));
    /// # Ok(()) }
    /// ```
    pub fn code(&self) -> Option<&str> {
        self.db_error().map(|d| d.code.as_str())
    }

    /// The server's DETAIL field.
    ///
    /// ```no_run
    /// # async fn f(pool: edgepg_core::Pool<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
    /// // users (id int PRIMARY KEY, email text NOT NULL) has a row with id 1.
    /// let err = pool.query("INSERT INTO users VALUES (1, 'ann@example.com')", &[]).await.unwrap_err();
    /// assert_eq!(err.detail(), Some("Key (id)=(1) already exists."));
    /// # Ok(()) }
    /// ```
    pub fn detail(&self) -> Option<&str> {
        self.db_error().and_then(|d| d.detail.as_deref())
    }

    /// The server's HINT field.
    ///
    /// ```no_run
    /// # async fn f(pool: edgepg_core::Pool<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
    /// let err = pool.query("SELECT no_such_function(1)", &[]).await.unwrap_err();
    /// assert!(err.hint().unwrap().starts_with("No function matches the given name"));
    /// # Ok(()) }
    /// ```
    pub fn hint(&self) -> Option<&str> {
        self.db_error().and_then(|d| d.hint.as_deref())
    }

    /// The 1-based character position of the error in the query.
    ///
    /// ```no_run
    /// # async fn f(pool: edgepg_core::Pool<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
    /// let err = pool.query("SELECT no_such_column FROM pg_class", &[]).await.unwrap_err();
    /// assert_eq!(err.position(), Some(8));
    /// # Ok(()) }
    /// ```
    pub fn position(&self) -> Option<u32> {
        self.db_error().and_then(|d| d.position)
    }

    /// The table involved, if any.
    ///
    /// ```no_run
    /// # async fn f(pool: edgepg_core::Pool<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
    /// // users (id int PRIMARY KEY, email text NOT NULL)
    /// let err = pool.query("INSERT INTO users VALUES (2, NULL)", &[]).await.unwrap_err();
    /// assert_eq!(err.table(), Some("users"));
    /// # Ok(()) }
    /// ```
    pub fn table(&self) -> Option<&str> {
        self.db_error().and_then(|d| d.table.as_deref())
    }

    /// The column involved, if any.
    ///
    /// ```no_run
    /// # async fn f(pool: edgepg_core::Pool<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
    /// // users (id int PRIMARY KEY, email text NOT NULL)
    /// let err = pool.query("INSERT INTO users VALUES (2, NULL)", &[]).await.unwrap_err();
    /// assert_eq!(err.column(), Some("email"));
    /// # Ok(()) }
    /// ```
    pub fn column(&self) -> Option<&str> {
        self.db_error().and_then(|d| d.column.as_deref())
    }

    /// The constraint involved, if any.
    ///
    /// ```no_run
    /// # async fn f(pool: edgepg_core::Pool<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
    /// // users (id int PRIMARY KEY, email text NOT NULL) has a row with id 1.
    /// let err = pool.query("INSERT INTO users VALUES (1, 'ann@example.com')", &[]).await.unwrap_err();
    /// assert_eq!(err.constraint(), Some("users_pkey"));
    /// # Ok(()) }
    /// ```
    pub fn constraint(&self) -> Option<&str> {
        self.db_error().and_then(|d| d.constraint.as_deref())
    }

    /// For [`ErrorKind::PartiallyConnected`]: (connections opened, connections that failed).
    ///
    /// ```no_run
    /// # async fn f(pool: edgepg_core::Pool<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
    /// // `min_size` is 5, and the server accepts only 3 more connections.
    /// let err = pool.connect().await.unwrap_err();
    /// assert_eq!(err.connect_counts(), Some((3, 2)));
    /// # Ok(()) }
    /// ```
    pub fn connect_counts(&self) -> Option<(usize, usize)> {
        self.0.counts
    }

    /// The underlying error that caused this one (e.g. the last connect error of
    /// a [`ErrorKind::DatabaseNotAvailable`]).
    ///
    /// ```no_run
    /// # async fn f(pool: edgepg_core::Pool<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
    /// use edgepg_core::ErrorKind;
    /// // Nothing listens at the pool's host and port.
    /// let err = pool.query("SELECT 1", &[]).await.unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::DatabaseNotAvailable);
    /// assert_eq!(err.cause().map(|c| c.kind()), Some(ErrorKind::Operational));
    /// # Ok(()) }
    /// ```
    pub fn cause(&self) -> Option<&Error> {
        self.0.source.as_ref()
    }

    /// The I/O error kind, when this error came from the socket.
    ///
    /// ```no_run
    /// # async fn f(pool: edgepg_core::Pool<impl edgepg_core::Transport>) -> edgepg_core::Result<()> {
    /// // Nothing listens at the pool's host and port.
    /// let err = pool.query("SELECT 1", &[]).await.unwrap_err();
    /// assert_eq!(err.io_kind(), Some(std::io::ErrorKind::ConnectionRefused));
    /// # Ok(()) }
    /// ```
    pub fn io_kind(&self) -> Option<std::io::ErrorKind> {
        self.0
            .io_kind
            .or_else(|| self.0.source.as_ref().and_then(|s| s.io_kind()))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let label = match self.0.kind {
            ErrorKind::Interface => "interface error",
            ErrorKind::Data => "data error",
            ErrorKind::Integrity => "integrity error",
            ErrorKind::Programming => "programming error",
            ErrorKind::NotSupported => "not supported",
            ErrorKind::QueryCanceled => "query canceled",
            ErrorKind::TransactionRollback => "transaction rolled back",
            ErrorKind::Operational => "operational error",
            ErrorKind::Internal => "internal error",
            ErrorKind::Database => "database error",
            ErrorKind::ConnectionLost => "connection lost",
            ErrorKind::PoolFull => "pool full",
            ErrorKind::PoolTimeout => "pool timeout",
            ErrorKind::PoolClosed => "pool closed",
            ErrorKind::DatabaseNotAvailable => "database not available",
            ErrorKind::PartiallyConnected => "partially connected",
        };
        write!(f, "{label}: {}", self.0.message)
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Error");
        d.field("kind", &self.0.kind)
            .field("message", &self.0.message);
        if let Some(db) = &self.0.db {
            d.field("code", &db.code);
        }
        if let Some(source) = &self.0.source {
            d.field("cause", source);
        }
        d.finish()
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0
            .source
            .as_ref()
            .map(|s| s as &(dyn std::error::Error + 'static))
    }
}

/// The server is ending this backend (admin command, shutdown, crash recovery):
/// whatever statement it was handed did not commit.
pub(crate) fn is_terminating(e: &Error) -> bool {
    is_fatal(e) && matches!(e.code(), Some("57P01" | "57P02" | "57P03"))
}

/// The server ends the backend after this error (`RAISE … USING ERRCODE`
/// can produce any code, but only at ERROR severity).
fn is_fatal(e: &Error) -> bool {
    e.db_error()
        .is_some_and(|db| matches!(db.severity.as_str(), "FATAL" | "PANIC"))
}

pub(crate) fn query_timed_out(limit: std::time::Duration) -> Error {
    Error::new(
        ErrorKind::QueryCanceled,
        format!(
            "the statement did not finish within {} and was cancelled",
            duration_text(limit)
        ),
    )
}

/// Rule 6: a broken connection under a statement that may have run is `ConnectionLost`.
pub(crate) fn lost(e: Error) -> Error {
    let broken = e.kind() == ErrorKind::ConnectionLost
        || is_terminating(&e)
        || (is_fatal(&e) && e.code().is_some_and(|c| c.starts_with("08")));
    if broken && e.kind() != ErrorKind::ConnectionLost {
        Error::with_source(
            ErrorKind::ConnectionLost,
            format!(
                "the connection was lost and the statement was not retried: {}",
                e.message()
            ),
            e,
        )
    } else {
        e
    }
}

// Messages are written with `Display` only: the npm package's wasm is built
// with `-Zfmt-debug=none` (issue 19), where every `{:?}` prints nothing.

/// `d` as `Duration`'s `Debug` writes it: `5s`, `1.5s`, `250ms`, `12µs`, `7ns`.
pub(crate) fn duration_text(d: std::time::Duration) -> String {
    let (whole, frac, digits, unit) = match (d.as_secs(), d.subsec_nanos()) {
        (0, n) if n >= 1_000_000 => (u64::from(n / 1_000_000), n % 1_000_000, 6, "ms"),
        (0, n) if n >= 1_000 => (u64::from(n / 1_000), n % 1_000, 3, "µs"),
        (0, n) => (u64::from(n), 0, 0, "ns"),
        (s, n) => (s, n, 9, "s"),
    };
    if frac == 0 {
        return format!("{whole}{unit}");
    }
    let frac = format!("{frac:0digits$}");
    format!("{whole}.{}{unit}", frac.trim_end_matches('0'))
}

/// `s` in double quotes with `str`'s `Debug` escapes (`"a\"b\n"`).
pub(crate) fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '\'' => out.push(c),
            c => out.extend(c.escape_debug()),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod message_text {
    use super::{duration_text, quoted};
    use std::time::Duration;

    #[test]
    fn durations_read_as_their_debug_form() {
        for d in [
            Duration::ZERO,
            Duration::from_nanos(7),
            Duration::from_nanos(1_500),
            Duration::from_micros(12),
            Duration::from_millis(250),
            Duration::from_micros(250_125),
            Duration::from_secs(5),
            Duration::from_millis(1_500),
            Duration::new(3, 1),
            Duration::from_secs(86_400),
        ] {
            assert_eq!(duration_text(d), format!("{d:?}"));
        }
    }

    #[test]
    fn quoting_reads_as_the_debug_form() {
        for s in [
            "plain",
            "O'Brien",
            "a\"b",
            "tab\there",
            "back\\slash",
            "nul\0",
            "é✓",
            "",
        ] {
            assert_eq!(quoted(s), format!("{s:?}"));
        }
    }
}
