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
    /// Counts one ledger entry by what the client was told, given whether the
    /// database holds any of it (`stored`) and whether it holds it in full.
    fn count(&mut self, outcome: u8, stored: bool, in_full: bool) {
        self.attempted += 1;
        match outcome {
            ACKED => {
                self.acked += 1;
                if !in_full {
                    self.lost += 1;
                }
            }
            ABSENT => {
                self.absent += 1;
                if stored {
                    self.phantoms += 1;
                }
            }
            AMBIGUOUS => {
                self.ambiguous += 1;
                if stored {
                    self.ambiguous_stored += 1;
                }
            }
            PENDING => self.pending += 1,
            _ => unreachable!("ledger outcomes are the four constants"),
        }
    }

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
    let mut t = Tally::default();
    for r in reports {
        for (seq, &outcome) in r.writes.iter().enumerate() {
            let n = stored
                .get(&crate::workload::key(r.id, seq))
                .copied()
                .unwrap_or(0);
            if n > 1 {
                t.duplicates += 1;
            }
            t.count(outcome, n > 0, n > 0);
        }
    }
    t.unknown = unknown_keys(stored.keys(), reports, |r| r.writes.len());
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
    let mut t = Tally::default();
    for r in reports {
        for (seq, &(outcome, parts)) in r.txs.iter().enumerate() {
            let (n, distinct) = stored
                .get(&crate::workload::key(r.id, seq))
                .copied()
                .unwrap_or((0, 0));
            if n != distinct {
                t.duplicates += 1;
            }
            if distinct != 0 && distinct != i64::from(parts) {
                t.half_applied += 1;
            }
            t.count(outcome, n > 0, distinct != 0);
        }
    }
    t.unknown = unknown_keys(stored.keys(), reports, |r| r.txs.len());
    Ok(t)
}

/// Stored keys that no task's ledger (of `len` entries) ever used.
fn unknown_keys<'a>(
    keys: impl Iterator<Item = &'a i64>,
    reports: &[TaskReport],
    len: impl Fn(&TaskReport) -> usize,
) -> u64 {
    let by_id: HashMap<u32, &TaskReport> = reports.iter().map(|r| (r.id, r)).collect();
    keys.filter(|&&k| {
        let (id, seq) = split_key(k);
        by_id.get(&id).is_none_or(|r| seq >= len(r))
    })
    .count() as u64
}
