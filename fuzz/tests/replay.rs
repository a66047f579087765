//! The fuzz targets as ordinary tests (part of `cargo test --workspace`):
//! every committed seed (`fuzz/seeds/TARGET/`) and every regression input
//! (`fuzz/regressions/TARGET/`, one file per crash ever found) is run, then
//! a short deterministic pseudo-random run of each target. The libFuzzer
//! runs (`cargo xtask fuzz`, and a few seconds each in `cargo xtask test`)
//! explore far more; this keeps every past crash fixed on every build.

use std::path::{Path, PathBuf};

fn dir(kind: &str, target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(kind)
        .join(target)
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| p.is_file())
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

fn replay(kind: &str) -> usize {
    let mut n = 0;
    for (target, run) in edgepg_fuzz::TARGETS {
        for file in files(&dir(kind, target)) {
            let data = std::fs::read(&file).unwrap();
            let outcome = std::panic::catch_unwind(|| run(&data));
            assert!(outcome.is_ok(), "{target}: {} fails", file.display());
            n += 1;
        }
    }
    n
}

#[test]
fn seeds() {
    let n = replay("seeds");
    assert!(n >= 20, "only {n} seeds");
}

#[test]
fn regressions() {
    let n = replay("regressions");
    eprintln!("{n} regression inputs pass");
}

/// xorshift64*.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

#[test]
fn pseudo_random_smoke() {
    for (i, (target, run)) in edgepg_fuzz::TARGETS.into_iter().enumerate() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ i as u64);
        let seeds = files(&dir("seeds", target));
        for round in 0..300 {
            // Mutate a seed, or take fresh bytes.
            let mut data: Vec<u8> = match seeds.get(round % seeds.len().max(1)) {
                Some(p) if round % 2 == 0 => std::fs::read(p).unwrap(),
                _ => (0..rng.next() % 512).map(|_| rng.next() as u8).collect(),
            };
            for _ in 0..rng.next() % 8 {
                if data.is_empty() {
                    break;
                }
                let at = (rng.next() % data.len() as u64) as usize;
                data[at] = rng.next() as u8;
            }
            let outcome = std::panic::catch_unwind(|| run(&data));
            assert!(
                outcome.is_ok(),
                "{target}: round {round} fails on {:?}",
                String::from_utf8_lossy(&data)
            );
        }
    }
}

/// Regression files for `values` start with the index of their type.
#[test]
fn value_regressions_name_their_type_by_index() {
    use postgres_types::Type;
    for (ty, index) in [
        (Type::INT4, 2),
        (Type::TIMETZ, 14),
        (Type::INTERVAL, 17),
        (Type::INT4_ARRAY, 39),
    ] {
        assert_eq!(edgepg_fuzz::type_index(&ty), Some(index), "{ty}");
    }
}
