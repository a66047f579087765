//! The workspace's own source, for tests that read it (layering, message rules).

use std::path::{Path, PathBuf};

/// Every `.rs` file below `dir`, sorted.
///
/// ```
/// let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
/// assert!(edgepg_tests::rust_sources(&dir).iter().any(|f| f.ends_with("source.rs")));
/// ```
pub fn rust_sources(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("readable source directory") {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}
