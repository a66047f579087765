//! The mixed workload: every task loops over reads, writes with unique keys,
//! transactions (explicit and momoko-style, some made to fail on purpose),
//! cursors, NOTIFY and pipelined bursts, each bounded by a timeout that
//! fails the run. Every write attempt is booked in the task's ledger with
//! what the client was told, so the end of the run can prove that nothing
//! acknowledged was lost and nothing was written twice.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use edgepg_tokio::{Error, ErrorKind, Pool, Statement, Value};
use futures_util::StreamExt;

use crate::util::Rng;

/// A ledger entry: what the client was told about one write or transaction.
pub const PENDING: u8 = 0;
/// Acknowledged (execute returned 1 row, or COMMIT succeeded): must be stored exactly once.
pub const ACKED: u8 = 1;
/// Failed before it could have run, or rolled back: must not be stored.
pub const ABSENT: u8 = 2;
/// The connection broke while it may have run: stored once or not at all (never twice, never half).
pub const AMBIGUOUS: u8 = 3;

/// Any single operation taking longer than this is a hang and fails the run.
pub const OP_LIMIT: Duration = Duration::from_secs(45);

/// Where a pool's connections go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Route {
    /// TCP (TLS, `sslmode=require`) through a fault relay.
    Native,
    /// `TokioTransport::websocket` through `edgepg-proxy`, whose upstream goes through a fault relay.
    Tunnel,
}

impl Route {
    pub fn name(self) -> &'static str {
        match self {
            Route::Native => "native",
            Route::Tunnel => "tunnel",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

/// The operations, with their weights in the mix (they sum to 100).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Op {
    Read,
    ReadOwnWrite,
    Write,
    Transaction,
    TransactionFailing,
    Momoko,
    MomokoFailing,
    Cursor,
    Notify,
    Burst,
    Callproc,
}

const MIX: [(Op, u64); 11] = [
    (Op::Read, 20),
    (Op::ReadOwnWrite, 8),
    (Op::Write, 25),
    (Op::Transaction, 10),
    (Op::TransactionFailing, 3),
    (Op::Momoko, 6),
    (Op::MomokoFailing, 2),
    (Op::Cursor, 8),
    (Op::Notify, 6),
    (Op::Burst, 8),
    (Op::Callproc, 4),
];

impl Op {
    pub fn name(self) -> &'static str {
        match self {
            Op::Read => "read",
            Op::ReadOwnWrite => "read_own_write",
            Op::Write => "write",
            Op::Transaction => "transaction",
            Op::TransactionFailing => "transaction_failing",
            Op::Momoko => "momoko_transaction",
            Op::MomokoFailing => "momoko_transaction_failing",
            Op::Cursor => "cursor",
            Op::Notify => "notify",
            Op::Burst => "pipelined_burst",
            Op::Callproc => "callproc",
        }
    }

    fn pick(rng: &mut Rng) -> Op {
        let mut x = rng.below(100);
        for (op, w) in MIX {
            if x < w {
                return op;
            }
            x -= w;
        }
        Op::Read
    }

    /// Error kinds a fault may legitimately cause (plus, for the operations
    /// that fail on purpose, the errors they provoke).
    fn expected(self, kind: ErrorKind) -> bool {
        let faults = matches!(
            kind,
            ErrorKind::ConnectionLost
                | ErrorKind::DatabaseNotAvailable
                | ErrorKind::PoolTimeout
                | ErrorKind::Operational
                | ErrorKind::QueryCanceled
        );
        let provoked = matches!(self, Op::TransactionFailing | Op::MomokoFailing)
            && matches!(kind, ErrorKind::Data | ErrorKind::TransactionRollback);
        faults || provoked
    }
}

/// Shared state of a run.
pub struct Ctx {
    pub origin: Instant,
    pub stop: AtomicBool,
    pub stop_listeners: AtomicBool,
    /// The SCRAM password: no error message may contain it.
    pub password: String,
    /// A marker written into every payload: the proxy must never log it.
    pub secret: String,
    pub ops: AtomicU64,
    pub errors: AtomicU64,
    /// Milliseconds since `origin` of the last successful operation, per route.
    pub last_ok_ms: [AtomicU64; 2],
    /// Broken invariants (wrong data, unexpected errors, hangs): each fails the run.
    pub violations: Mutex<Vec<String>>,
    pub violation_count: AtomicU64,
    /// Error messages that contained the password.
    pub leaks: AtomicU64,
    /// `final:` notifications seen, by the route of the listener that saw them.
    pub finals: Mutex<HashMap<Route, HashSet<String>>>,
}

impl Ctx {
    pub fn new(password: String, secret: String) -> Ctx {
        Ctx {
            origin: Instant::now(),
            stop: AtomicBool::new(false),
            stop_listeners: AtomicBool::new(false),
            password,
            secret,
            ops: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            last_ok_ms: [AtomicU64::new(0), AtomicU64::new(0)],
            violations: Mutex::new(Vec::new()),
            violation_count: AtomicU64::new(0),
            leaks: AtomicU64::new(0),
            finals: Mutex::new(HashMap::new()),
        }
    }

    pub fn ms(&self) -> u64 {
        self.origin.elapsed().as_millis() as u64
    }

    pub fn violation(&self, what: String) {
        self.violation_count.fetch_add(1, Ordering::SeqCst);
        let mut v = self.violations.lock().unwrap_or_else(|p| p.into_inner());
        if v.len() < 50 {
            crate::say!("VIOLATION at {:.1}s: {what}", self.ms() as f64 / 1000.0);
            v.push(what);
        }
    }

    /// Checks an error for the password (Display and Debug).
    fn screen(&self, e: &Error) {
        let text = format!("{e} {e:?}");
        if !self.password.is_empty() && text.contains(&self.password) {
            self.leaks.fetch_add(1, Ordering::SeqCst);
            self.violation(format!("an error message contains the password: {e}"));
        }
    }
}

/// What one task did.
pub struct TaskReport {
    pub id: u32,
    pub route: Route,
    /// Per write sequence number: PENDING / ACKED / ABSENT / AMBIGUOUS.
    pub writes: Vec<u8>,
    /// Per transaction sequence number: (outcome, rows it inserts).
    pub txs: Vec<(u8, u8)>,
    /// (operation, "ok" or error kind) → count.
    pub counts: BTreeMap<(Op, String), u64>,
    /// A sample message per error kind.
    pub samples: BTreeMap<String, String>,
    pub hangs: u64,
}

/// Key of write `seq` of task `id` (also used for transaction ids).
pub fn key(id: u32, seq: usize) -> i64 {
    (i64::from(id) << 32) | seq as i64
}

pub fn split_key(k: i64) -> (u32, usize) {
    ((k >> 32) as u32, (k & 0xffff_ffff) as usize)
}

enum Fail {
    Db(Error),
    Check(String),
}

impl From<Error> for Fail {
    fn from(e: Error) -> Fail {
        Fail::Db(e)
    }
}

/// True when the error proves the statement never took effect (it was never
/// sent, or the server refused it with an error of its own).
fn never_applied(e: &Error) -> bool {
    match e.kind() {
        ErrorKind::DatabaseNotAvailable
        | ErrorKind::PoolTimeout
        | ErrorKind::PoolFull
        | ErrorKind::PoolClosed => true,
        ErrorKind::ConnectionLost | ErrorKind::Operational | ErrorKind::QueryCanceled => false,
        _ => e.code().is_some(),
    }
}

fn outcome_of(e: &Error) -> u8 {
    if never_applied(e) {
        ABSENT
    } else {
        AMBIGUOUS
    }
}

struct Task {
    ctx: Arc<Ctx>,
    pool: Pool,
    id: u32,
    route: Route,
    rng: Rng,
    report: TaskReport,
}

pub async fn worker(ctx: Arc<Ctx>, pool: Pool, id: u32, route: Route, seed: u64) -> TaskReport {
    let mut task = Task {
        ctx,
        pool,
        id,
        route,
        rng: Rng::new(seed ^ (u64::from(id) << 20)),
        report: TaskReport {
            id,
            route,
            writes: Vec::with_capacity(4096),
            txs: Vec::with_capacity(2048),
            counts: BTreeMap::new(),
            samples: BTreeMap::new(),
            hangs: 0,
        },
    };
    while !task.ctx.stop.load(Ordering::SeqCst) {
        let op = Op::pick(&mut task.rng);
        let started = Instant::now();
        let outcome = tokio::time::timeout(OP_LIMIT, task.run(op)).await;
        task.ctx.ops.fetch_add(1, Ordering::Relaxed);
        let failed = match outcome {
            Err(_) => {
                task.report.hangs += 1;
                let status = task.pool.status();
                task.ctx.violation(format!(
                    "task {} ({}) {}: no answer within {OP_LIMIT:?} (pool: size {} idle {} in use {} waiting {})",
                    id,
                    route.name(),
                    op.name(),
                    status.size,
                    status.idle,
                    status.in_use,
                    status.waiting
                ));
                task.count(op, "hang".into());
                true
            }
            Ok(Ok(())) => {
                task.count(op, "ok".into());
                task.ctx.last_ok_ms[route.index()].fetch_max(task.ctx.ms(), Ordering::Relaxed);
                false
            }
            Ok(Err(Fail::Check(what))) => {
                task.ctx.violation(format!(
                    "task {id} ({}) {}: {what}",
                    route.name(),
                    op.name()
                ));
                task.count(op, "wrong_result".into());
                true
            }
            Ok(Err(Fail::Db(e))) => {
                task.error(op, &e);
                true
            }
        };
        if failed {
            task.ctx.errors.fetch_add(1, Ordering::Relaxed);
            // Errors come fast while the server is down: do not spin.
            let pause = task.rng.range(10, 40);
            tokio::time::sleep(Duration::from_millis(pause)).await;
        } else if started.elapsed() < Duration::from_millis(1) {
            tokio::task::yield_now().await;
        }
    }
    task.report
}

impl Task {
    fn count(&mut self, op: Op, what: String) {
        *self.report.counts.entry((op, what)).or_default() += 1;
    }

    fn error(&mut self, op: Op, e: &Error) {
        self.ctx.screen(e);
        let kind = format!("{:?}", e.kind());
        self.report
            .samples
            .entry(kind.clone())
            .or_insert_with(|| e.to_string());
        if !op.expected(e.kind()) {
            self.ctx.violation(format!(
                "task {} ({}) {}: unexpected error kind {kind}: {e}",
                self.id,
                self.route.name(),
                op.name()
            ));
        }
        self.count(op, kind);
    }

    async fn run(&mut self, op: Op) -> Result<(), Fail> {
        match op {
            Op::Read => self.read().await,
            Op::ReadOwnWrite => self.read_own_write().await,
            Op::Write => self.write().await,
            Op::Transaction => self.transaction().await,
            Op::TransactionFailing => self.transaction_failing().await,
            Op::Momoko => self.momoko(false).await,
            Op::MomokoFailing => self.momoko(true).await,
            Op::Cursor => self.cursor().await,
            Op::Notify => self.notify().await,
            Op::Burst => self.burst().await,
            Op::Callproc => self.callproc().await,
        }
    }

    async fn read(&mut self) -> Result<(), Fail> {
        let v = (self.rng.next() >> 2) as i64;
        let s = format!("r{:x}-{}", self.rng.next(), self.id);
        let r = self
            .pool
            .query("SELECT $1::int8 + 1 AS n, $2::text AS s", &[&v, &s])
            .await?;
        if r.len() != 1 {
            return Err(Fail::Check(format!("{} rows instead of 1", r.len())));
        }
        let (n, got): (i64, String) = (r[0].get("n"), r[0].get("s"));
        if n != v + 1 || got != s {
            return Err(Fail::Check(format!(
                "asked for ({}, {s:?}), got ({n}, {got:?})",
                v + 1
            )));
        }
        Ok(())
    }

    async fn read_own_write(&mut self) -> Result<(), Fail> {
        let n = self.report.writes.len();
        let acked = (0..8)
            .map(|_| self.rng.below(n.max(1) as u64) as usize)
            .find(|&i| self.report.writes.get(i) == Some(&ACKED));
        let Some(seq) = acked else {
            return self.read().await;
        };
        let k = key(self.id, seq);
        let r = self
            .pool
            .query(
                "SELECT count(*)::int8 AS n FROM soak_writes WHERE k = $1",
                &[&k],
            )
            .await?;
        let found: i64 = r[0].get("n");
        if found != 1 {
            return Err(Fail::Check(format!(
                "acknowledged write {k} is stored {found} times"
            )));
        }
        Ok(())
    }

    async fn write(&mut self) -> Result<(), Fail> {
        let seq = self.report.writes.len();
        self.report.writes.push(PENDING);
        let k = key(self.id, seq);
        let payload = format!("{}:{k}", self.ctx.secret);
        let task = self.id as i32;
        let result = self
            .pool
            .execute(
                "INSERT INTO soak_writes (k, task, route, payload) VALUES ($1, $2, $3, $4)",
                &[&k, &task, &self.route.name(), &payload],
            )
            .await;
        match result {
            Ok(1) => {
                self.report.writes[seq] = ACKED;
                Ok(())
            }
            Ok(n) => {
                self.report.writes[seq] = AMBIGUOUS;
                Err(Fail::Check(format!("INSERT reported {n} rows")))
            }
            Err(e) => {
                self.report.writes[seq] = outcome_of(&e);
                Err(e.into())
            }
        }
    }

    fn new_tx(&mut self, parts: u8) -> (usize, i64) {
        let seq = self.report.txs.len();
        self.report.txs.push((PENDING, parts));
        (seq, key(self.id, seq))
    }

    async fn transaction(&mut self) -> Result<(), Fail> {
        let parts = self.rng.range(2, 4) as u8;
        let (seq, txid) = self.new_tx(parts);
        let mut tx = match self.pool.begin().await {
            Ok(tx) => tx,
            Err(e) => {
                self.report.txs[seq].0 = ABSENT;
                return Err(e.into());
            }
        };
        let route = self.route.name();
        for part in 1..=i32::from(parts) {
            if let Err(e) = tx
                .execute(
                    "INSERT INTO soak_tx (txid, part, route) VALUES ($1, $2, $3)",
                    &[&txid, &part, &route],
                )
                .await
            {
                // Never committed: dropping the transaction rolls it back.
                self.report.txs[seq].0 = ABSENT;
                return Err(e.into());
            }
            if part == 1 && self.rng.chance(30) {
                let r = match tx
                    .query(
                        "SELECT count(*)::int8 AS n FROM soak_tx WHERE txid = $1",
                        &[&txid],
                    )
                    .await
                {
                    Ok(r) => r,
                    Err(e) => {
                        self.report.txs[seq].0 = ABSENT;
                        return Err(e.into());
                    }
                };
                let n: i64 = r[0].get("n");
                if n != 1 {
                    self.report.txs[seq].0 = ABSENT;
                    return Err(Fail::Check(format!(
                        "transaction {txid} sees {n} of its own rows instead of 1"
                    )));
                }
            }
        }
        match tx.commit().await {
            Ok(()) => {
                self.report.txs[seq].0 = ACKED;
                Ok(())
            }
            Err(e) => {
                self.report.txs[seq].0 = AMBIGUOUS;
                Err(e.into())
            }
        }
    }

    async fn transaction_failing(&mut self) -> Result<(), Fail> {
        let (seq, txid) = self.new_tx(2);
        // Whatever happens below, nothing of this transaction may be stored.
        self.report.txs[seq].0 = ABSENT;
        let mut tx = self.pool.begin().await?;
        tx.execute(
            "INSERT INTO soak_tx (txid, part, route) VALUES ($1, 1, $2)",
            &[&txid, &self.route.name()],
        )
        .await?;
        let failed = tx.query("SELECT 1 / (random() * 0)::int", &[]).await;
        let first = match failed {
            Ok(_) => return Err(Fail::Check("division by zero succeeded".into())),
            Err(e) => e,
        };
        // A statement failed: COMMIT must not commit the rows before it.
        let _ = tx
            .execute(
                "INSERT INTO soak_tx (txid, part, route) VALUES ($1, 2, $2)",
                &[&txid, &self.route.name()],
            )
            .await;
        match tx.commit().await {
            Ok(()) => Err(Fail::Check(format!(
                "COMMIT succeeded after a failed statement ({first})"
            ))),
            Err(_) => Err(first.into()),
        }
    }

    async fn momoko(&mut self, failing: bool) -> Result<(), Fail> {
        let parts = if failing {
            2
        } else {
            self.rng.range(2, 4) as u8
        };
        let (seq, txid) = self.new_tx(parts);
        let insert = "INSERT INTO soak_tx (txid, part, route) VALUES ($1, $2, $3)";
        let mut statements: Vec<Statement> = (1..=i64::from(parts))
            .map(|part| {
                Statement::new(
                    insert,
                    vec![
                        Value::Int(txid),
                        Value::Int(part),
                        Value::from(self.route.name()),
                    ],
                )
            })
            .collect();
        if failing {
            statements.insert(1, "SELECT 1 / (random() * 0)::int".into());
        }
        let result = self.pool.transaction(statements).await;
        match (result, failing) {
            (Ok(_), false) => {
                self.report.txs[seq].0 = ACKED;
                Ok(())
            }
            (Ok(_), true) => {
                self.report.txs[seq].0 = ABSENT;
                Err(Fail::Check("a failing transaction() succeeded".into()))
            }
            (Err(e), _) => {
                self.report.txs[seq].0 = if failing { ABSENT } else { outcome_of(&e) };
                Err(e.into())
            }
        }
    }

    async fn cursor(&mut self) -> Result<(), Fail> {
        let chunk = [1, 7, 50, 200, 1000][self.rng.below(5) as usize];
        // At most ~40 round trips, so that one cursor does not hold a connection for long.
        let n = self.rng.range(50, 3000).min(chunk as u64 * 40) as i32;
        let abandon_at = self
            .rng
            .chance(15)
            .then(|| self.rng.range(1, n as u64) as i32);
        let mut rows = self
            .pool
            .cursor("SELECT g FROM generate_series(1, $1::int) g", &[&n], chunk)
            .await?;
        let mut expected = 1;
        while let Some(row) = rows.next().await {
            let row = row?;
            let g: i32 = row.get(0);
            if g != expected {
                return Err(Fail::Check(format!("cursor row {expected} holds {g}")));
            }
            if Some(g) == abandon_at {
                // Dropping the stream mid-way must return the connection clean (rule 10).
                return Ok(());
            }
            expected += 1;
        }
        if expected - 1 != n {
            return Err(Fail::Check(format!(
                "cursor ended after {} of {n} rows",
                expected - 1
            )));
        }
        Ok(())
    }

    async fn notify(&mut self) -> Result<(), Fail> {
        let payload = format!("n:{}:{}:{}", self.route.name(), self.id, self.rng.next());
        self.pool
            .execute("SELECT pg_notify('soak_events', $1)", &[&payload])
            .await?;
        Ok(())
    }

    async fn burst(&mut self) -> Result<(), Fail> {
        let values: Vec<i64> = (0..6).map(|_| (self.rng.next() >> 4) as i64).collect();
        let pool = &self.pool;
        let queries = values.iter().map(|v| async move {
            let r = pool.query("SELECT $1::int8 * 3 AS v", &[v]).await?;
            let got: i64 = r[0].get("v");
            if got != v * 3 {
                return Err(Fail::Check(format!(
                    "pipelined query for {v} answered {got}"
                )));
            }
            Ok(())
        });
        let results = futures_util::future::join_all(queries).await;
        // Book every error but the first; the first is the operation's result.
        let mut first = None;
        for r in results {
            match r {
                Ok(()) => {}
                Err(f) if first.is_none() => first = Some(f),
                Err(Fail::Db(e)) => self.error(Op::Burst, &e),
                Err(Fail::Check(what)) => self.ctx.violation(what),
            }
        }
        first.map_or(Ok(()), Err)
    }

    async fn callproc(&mut self) -> Result<(), Fail> {
        let v = -((self.rng.next() >> 4) as i64) - 1;
        let r = self.pool.callproc("abs", &[&v]).await?;
        let got: i64 = r[0].get(0);
        if got != -v {
            return Err(Fail::Check(format!("abs({v}) answered {got}")));
        }
        Ok(())
    }
}

/// What a listener saw.
pub struct ListenReport {
    pub route: Route,
    pub received: u64,
    pub malformed: u64,
}

/// Holds `LISTEN soak_events` on the pool's dedicated connection (re-LISTENed
/// after every fault) and books what arrives.
pub async fn listener(ctx: Arc<Ctx>, pool: Pool, route: Route) -> ListenReport {
    let mut report = ListenReport {
        route,
        received: 0,
        malformed: 0,
    };
    let mut stream = loop {
        match pool.listen("soak_events").await {
            Ok(s) => break s,
            Err(e) => {
                crate::say!("listener ({}): {e}; retrying", route.name());
                if ctx.stop_listeners.load(Ordering::SeqCst) {
                    return report;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    };
    while !ctx.stop_listeners.load(Ordering::SeqCst) {
        let next = tokio::time::timeout(Duration::from_millis(200), stream.next()).await;
        match next {
            Err(_) => continue,
            Ok(None) => {
                ctx.violation(format!("the {} listener stream ended", route.name()));
                break;
            }
            Ok(Some(Err(e))) => ctx.violation(format!("listener ({}): {e}", route.name())),
            Ok(Some(Ok(n))) => {
                report.received += 1;
                if n.channel != "soak_events" {
                    report.malformed += 1;
                } else if n.payload.starts_with("final:") {
                    ctx.finals
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .entry(route)
                        .or_default()
                        .insert(n.payload);
                } else if !n.payload.starts_with("n:") {
                    report.malformed += 1;
                }
            }
        }
    }
    report
}
