//! [`PoolStatus`]: a snapshot of the pool's size and lifetime counters.

/// Sizes and counters of a pool at one moment.
///
/// `size` counts every connection the pool holds or is opening; it never
/// exceeds `max_size` (rule 3).
///
/// ```
/// use edgepg_core::PoolStatus;
/// let s = PoolStatus { size: 3, idle: 0, in_use: 3, max_size: 3, ..PoolStatus::default() };
/// let saturated = s.size == s.max_size && s.idle == 0;
/// assert!(saturated && !s.closed);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PoolStatus {
    /// Open connections plus connects under way.
    pub size: usize,
    /// Connections waiting in the pool.
    pub idle: usize,
    /// Connections checked out (including ones being cleaned after use).
    pub in_use: usize,
    /// Connects under way.
    pub pending: usize,
    /// Callers waiting for a connection.
    pub waiting: usize,
    /// `min_size` setting.
    pub min_size: usize,
    /// `max_size` setting.
    pub max_size: usize,
    /// True after `close()`.
    pub closed: bool,
    /// Connections opened successfully since the pool was built.
    pub created: u64,
    /// Connect attempts that failed.
    pub connect_failures: u64,
    /// Connections closed because they sat idle past `idle_timeout`.
    pub closed_idle: u64,
    /// Connections closed because they outlived `max_lifetime`.
    pub closed_lifetime: u64,
    /// Connections found broken (socket closed, failed ping, failed setsession).
    pub closed_broken: u64,
    /// Connections discarded because they came back dirty and could not be cleaned.
    pub closed_dirty: u64,
    /// Connections closed by `close()`.
    pub closed_by_close: u64,
    /// Checkouts that had to wait.
    pub waits: u64,
    /// Checkouts that timed out or found the pool full.
    pub timeouts: u64,
    /// Statements retried once on a fresh connection (rule 6).
    pub retries: u64,
    /// Prepared-statement cache hits, over all connections.
    pub statement_cache_hits: u64,
    /// Prepared-statement cache misses (statements prepared).
    pub statement_cache_misses: u64,
    /// Statements evicted from a full cache.
    pub statement_cache_evictions: u64,
}
