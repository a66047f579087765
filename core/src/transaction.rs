//! [`Transaction`]: an explicit transaction on one pooled connection.

use tokio_postgres::types::ToSql;

use crate::error::{Error, ErrorKind, Result};
use crate::execute::quote_qualified;
use crate::pool::PooledConnection;
use crate::results::Results;
use crate::transport::Transport;

/// A transaction started by `begin()`. Uncommitted on drop means rolled back
/// (the pool rolls it back before the connection is reused, rule 10).
pub struct Transaction<T: Transport> {
    conn: PooledConnection<T>,
    failed: bool,
}

impl<T: Transport> Transaction<T> {
    pub(crate) fn new(conn: PooledConnection<T>) -> Self {
        Transaction {
            conn,
            failed: false,
        }
    }

    fn note<R>(&mut self, r: Result<R>) -> Result<R> {
        if r.is_err() {
            self.failed = true;
        }
        r
    }

    /// Runs a statement inside the transaction and buffers its rows.
    pub async fn query(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Results> {
        let r = self.conn.query(sql, params).await;
        self.note(r)
    }

    /// Runs a statement inside the transaction and returns the rows affected.
    pub async fn execute(&mut self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64> {
        let r = self.conn.execute(sql, params).await;
        self.note(r)
    }

    /// Creates a savepoint.
    pub async fn savepoint(&mut self, name: &str) -> Result<()> {
        let sql = format!("SAVEPOINT {}", quote_qualified(name)?);
        let r = self.conn.batch_execute(&sql).await;
        self.note(r)
    }

    /// Rolls back to a savepoint; the transaction is usable again after an error.
    pub async fn rollback_to(&mut self, name: &str) -> Result<()> {
        let sql = format!("ROLLBACK TO SAVEPOINT {}", quote_qualified(name)?);
        self.conn.batch_execute(&sql).await?;
        self.failed = false;
        Ok(())
    }

    /// Releases a savepoint.
    pub async fn release_savepoint(&mut self, name: &str) -> Result<()> {
        let sql = format!("RELEASE SAVEPOINT {}", quote_qualified(name)?);
        let r = self.conn.batch_execute(&sql).await;
        self.note(r)
    }

    /// Commits. If a statement failed earlier (and was not rolled back to a
    /// savepoint), the server rolls back instead, and this returns an error.
    pub async fn commit(mut self) -> Result<()> {
        if self.failed {
            self.conn.batch_execute("ROLLBACK").await?;
            self.conn.conn().in_transaction = false;
            return Err(Error::new(
                ErrorKind::TransactionRollback,
                "the transaction was rolled back because a statement in it failed",
            ));
        }
        self.conn.batch_execute("COMMIT").await?;
        self.conn.conn().in_transaction = false;
        Ok(())
    }

    /// Rolls back.
    pub async fn rollback(mut self) -> Result<()> {
        self.conn.batch_execute("ROLLBACK").await?;
        self.conn.conn().in_transaction = false;
        Ok(())
    }
}
