//! The end-of-run proof, read back with `psql` as the superuser over the
//! Unix socket (so the check does not depend on the client under test):
//! every acknowledged write is stored exactly once, nothing that failed
//! before it could run is stored, nothing is stored twice, and every
//! transaction is stored whole or not at all.

use std::collections::HashMap;

use edgepg_tests::PgServer;

use crate::workload::{split_key, TaskReport, ABSENT, ACKED, AMBIGUOUS, PENDING};

#[derive(Debug, Default, Clone)]
pub struct Tally {
    pub attempted: u64,
    /// Acknowledged to the client.
    pub acked: u64,
    /// Failed in a way that proves it never ran, or rolled back.
    pub absent: u64,
    /// The connection broke while it may have run.
    pub ambiguous: u64,
    /// Of the ambiguous ones, how many turned out stored.
    pub ambiguous_stored: u64,
    /// Abandoned by a hung operation (only after a hang, which fails the run anyway).
    pub pending: u64,
    /// Acknowledged but not stored.
    pub lost: u64,
    /// Stored more than once.
    pub duplicates: u64,
    /// Stored although the client was told it never ran / was rolled back.
    pub phantoms: u64,
    /// Transactions stored in part.
    pub half_applied: u64,
    /// Rows whose key no task ever used.
    pub unknown: u64,
}

impl Tally {
    pub fn failed(&self) -> bool {
        self.lost + self.duplicates + self.phantoms + self.half_applied + self.unknown > 0
    }
}

fn rows(pg: &PgServer, sql: &str) -> Result<Vec<Vec<i64>>, String> {
    let out = pg.psql(sql)?;
    out.lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            l.split('|')
                .map(|f| {
                    f.parse::<i64>()
                        .map_err(|_| format!("unexpected psql output line {l:?}"))
                })
                .collect()
        })
        .collect()
}

/// Checks the single-statement writes (`soak_writes`).
pub fn writes(pg: &PgServer, reports: &[TaskReport]) -> Result<Tally, String> {
    let stored: HashMap<i64, i64> = rows(pg, "SELECT k, count(*) FROM soak_writes GROUP BY k")?
        .into_iter()
        .map(|r| (r[0], r[1]))
        .collect();
    let by_id: HashMap<u32, &TaskReport> = reports.iter().map(|r| (r.id, r)).collect();
    let mut t = Tally::default();
    for r in reports {
        for (seq, &outcome) in r.writes.iter().enumerate() {
            let k = crate::workload::key(r.id, seq);
            let n = stored.get(&k).copied().unwrap_or(0);
            t.attempted += 1;
            if n > 1 {
                t.duplicates += 1;
            }
            match outcome {
                ACKED => {
                    t.acked += 1;
                    if n == 0 {
                        t.lost += 1;
                    }
                }
                ABSENT => {
                    t.absent += 1;
                    if n > 0 {
                        t.phantoms += 1;
                    }
                }
                AMBIGUOUS => {
                    t.ambiguous += 1;
                    if n > 0 {
                        t.ambiguous_stored += 1;
                    }
                }
                PENDING => t.pending += 1,
                _ => unreachable!("ledger outcomes are the four constants"),
            }
        }
    }
    t.unknown = stored
        .keys()
        .filter(|&&k| {
            let (id, seq) = split_key(k);
            by_id.get(&id).is_none_or(|r| seq >= r.writes.len())
        })
        .count() as u64;
    Ok(t)
}

/// Checks the transactions (`soak_tx`): all parts or none, each once.
pub fn transactions(pg: &PgServer, reports: &[TaskReport]) -> Result<Tally, String> {
    let stored: HashMap<i64, (i64, i64)> = rows(
        pg,
        "SELECT txid, count(*), count(DISTINCT part) FROM soak_tx GROUP BY txid",
    )?
    .into_iter()
    .map(|r| (r[0], (r[1], r[2])))
    .collect();
    let by_id: HashMap<u32, &TaskReport> = reports.iter().map(|r| (r.id, r)).collect();
    let mut t = Tally::default();
    for r in reports {
        for (seq, &(outcome, parts)) in r.txs.iter().enumerate() {
            let txid = crate::workload::key(r.id, seq);
            let (n, distinct) = stored.get(&txid).copied().unwrap_or((0, 0));
            let parts = i64::from(parts);
            t.attempted += 1;
            if n != distinct {
                t.duplicates += 1;
            }
            if distinct != 0 && distinct != parts {
                t.half_applied += 1;
            }
            match outcome {
                ACKED => {
                    t.acked += 1;
                    if distinct == 0 {
                        t.lost += 1;
                    }
                }
                ABSENT => {
                    t.absent += 1;
                    if n > 0 {
                        t.phantoms += 1;
                    }
                }
                AMBIGUOUS => {
                    t.ambiguous += 1;
                    if n > 0 {
                        t.ambiguous_stored += 1;
                    }
                }
                PENDING => t.pending += 1,
                _ => unreachable!("ledger outcomes are the four constants"),
            }
        }
    }
    t.unknown = stored
        .keys()
        .filter(|&&k| {
            let (id, seq) = split_key(k);
            by_id.get(&id).is_none_or(|r| seq >= r.txs.len())
        })
        .count() as u64;
    Ok(t)
}
