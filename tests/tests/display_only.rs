//! The npm package's wasm is built with `-Zfmt-debug=none` (xtask/src/pkg.rs),
//! where `{:?}` prints nothing. So no message of the code that goes into it
//! (edgepg-core, edgepg-wasm) may be written with `Debug`: a `{…:?}` there
//! would turn into a blank in a JavaScript error. Read from the source,
//! outside `#[cfg(test)]` items and comments.

use std::path::Path;

/// Lines allowed to format with `Debug`: native-only code (`cfg(not(target_arch = "wasm32"))`).
const NATIVE_ONLY: &[(&str, &str)] = &[("value/text_form/float.rs", "format!(\"{f:?}\")")];

/// `{:?}`, `{name:?}`, `{0:#?}` and the like in `line`.
fn debug_placeholder(line: &str) -> bool {
    line.match_indices('{').any(|(i, _)| {
        let rest = &line[i + 1..];
        let Some(end) = rest.find('}') else {
            return false;
        };
        let spec = &rest[..end];
        spec.split_once(':')
            .is_some_and(|(_, format)| format.ends_with('?'))
    })
}

fn offenders(root: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for crate_dir in ["core/src", "transport-wasm/src"] {
        for file in edgepg_tests::rust_sources(&root.join(crate_dir)) {
            let text = std::fs::read_to_string(&file).unwrap();
            let relative = file.strip_prefix(root.join(crate_dir)).unwrap();
            // Brace depth inside a `#[cfg(test)]` item, when in one.
            let mut test_depth: Option<i64> = None;
            let mut test_item_next = false;
            for (n, line) in text.lines().enumerate() {
                let code = line.trim_start();
                if code.starts_with("#[cfg(test)]") {
                    test_item_next = true;
                    continue;
                }
                let braces = code.matches('{').count() as i64 - code.matches('}').count() as i64;
                if test_item_next && !code.is_empty() && !code.starts_with("#[") {
                    test_item_next = false;
                    if braces > 0 {
                        test_depth = Some(braces);
                    }
                    continue;
                }
                if let Some(depth) = test_depth.as_mut() {
                    *depth += braces;
                    if *depth <= 0 {
                        test_depth = None;
                    }
                    continue;
                }
                if code.starts_with("//") || !debug_placeholder(code) {
                    continue;
                }
                let allowed = NATIVE_ONLY.iter().any(|(f, l)| {
                    relative.to_string_lossy().replace('\\', "/") == *f && code == *l
                });
                if !allowed {
                    found.push(format!(
                        "{crate_dir}/{}:{}: {code}",
                        relative.display(),
                        n + 1
                    ));
                }
            }
        }
    }
    found
}

#[test]
fn messages_of_the_wasm_crates_are_written_with_display_only() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let found = offenders(root);
    assert!(
        found.is_empty(),
        "Debug formatting prints nothing in the npm package's wasm; use Display \
         (edgepg_core's ErrorKind::name, error::duration_text, error::quoted):\n{}",
        found.join("\n")
    );
}

#[test]
fn the_scan_sees_debug_placeholders() {
    assert!(debug_placeholder(r#"format!("bad {name:?}")"#));
    assert!(debug_placeholder(r#"write!(f, "{:?}", x)"#));
    assert!(debug_placeholder(r#"format!("{0:#?}", x)"#));
    assert!(!debug_placeholder(r#"format!("{name} {}: {x:>4}", y)"#));
    assert!(!debug_placeholder(
        "let m = HashMap::<u8, u8>::new(); { a }"
    ));
}
