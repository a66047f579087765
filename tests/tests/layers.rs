//! The layers of `edgepg-core` (its `lib.rs` module docs): every module of
//! `core/src` belongs to one, and imports only from its own layer or the
//! ones below, with no cycle among files. Read from the `crate::` and
//! `super::` paths of the source, so that it runs without building anything.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// From the ground up; a module is named by its top-level name (a directory
/// module with everything under it).
const LAYERS: &[(&str, &[&str])] = &[
    (
        "ground",
        &[
            "platform",
            "runtime",
            "error",
            "on_drop",
            "sql_text",
            "command_tag",
        ],
    ),
    ("values", &["value", "row", "deserialize", "results"]),
    ("wire", &["transport", "config"]),
    (
        "connection",
        &[
            "param_types",
            "pipelined_password",
            "connection",
            "connect",
            "cancel",
            "mogrify",
        ],
    ),
    ("pool", &["pool"]),
    (
        "user-facing",
        &["transaction", "cursor", "listen", "copy", "session"],
    ),
];

/// A module path below the crate root, e.g. `["pool", "connection"]`.
type Module = Vec<String>;

#[test]
fn core_modules_import_only_from_their_layer_or_below() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../core/src");
    let problems = check(&src);
    assert!(
        problems.is_empty(),
        "core/src breaks its layering:\n  {}",
        problems.join("\n  ")
    );
}

/// Everything wrong with the layering of the crate at `src`.
fn check(src: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    let files = modules(src);
    let known: BTreeSet<&Module> = files.keys().collect();
    let layer_of = |m: &Module| {
        LAYERS
            .iter()
            .position(|(_, names)| names.contains(&m[0].as_str()))
    };
    for m in files.keys().filter(|m| m.len() == 1) {
        if layer_of(m).is_none() {
            problems.push(format!(
                "core/src/{} is in no layer: add it to LAYERS in tests/tests/layers.rs and to core/src/lib.rs",
                m[0]
            ));
        }
    }
    for (_, names) in LAYERS {
        for name in *names {
            if !known.contains(&vec![name.to_string()]) {
                problems.push(format!(
                    "LAYERS names `{name}`, which core/src does not have"
                ));
            }
        }
    }
    let root = clean(&std::fs::read_to_string(src.join("lib.rs")).expect("lib.rs"));
    let reexports = reexports(&root, &known);

    let mut edges: BTreeMap<&Module, BTreeSet<&Module>> = BTreeMap::new();
    for (module, file) in &files {
        let text = clean(&std::fs::read_to_string(file).expect("readable source"));
        for (line, target) in imports(module, &text, &known, &reexports) {
            let Some(target) = known.get(&target).copied() else {
                continue;
            };
            // A module and its own submodules are one unit.
            if target.starts_with(module) || module.starts_with(target) {
                continue;
            }
            edges.entry(module).or_default().insert(target);
            if let (Some(from), Some(to)) = (layer_of(module), layer_of(target)) {
                if to > from {
                    problems.push(format!(
                        "{}:{line}: `{}` ({}) imports `crate::{}` ({}), a layer above its own",
                        shown(file, src),
                        module.join("::"),
                        LAYERS[from].0,
                        target.join("::"),
                        LAYERS[to].0
                    ));
                }
            }
        }
    }
    for cycle in cycles(&edges) {
        let names: Vec<String> = cycle.iter().map(|m| m.join("::")).collect();
        problems.push(format!("import cycle among {}", names.join(", ")));
    }
    problems
}

fn shown(file: &Path, src: &Path) -> String {
    format!(
        "core/src/{}",
        file.strip_prefix(src).unwrap_or(file).display()
    )
}

/// The modules of the crate at `src` (lib.rs excluded) and their files.
fn modules(src: &Path) -> BTreeMap<Module, PathBuf> {
    let mut out = BTreeMap::new();
    for path in edgepg_tests::rust_sources(src) {
        let rel = path.strip_prefix(src).expect("below src");
        let mut module: Module = rel
            .with_extension("")
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        if module.last().is_some_and(|l| l == "mod") {
            module.pop();
        }
        if module != ["lib"] {
            out.insert(module, path);
        }
    }
    out
}

/// The source with comments, strings and char literals blanked (newlines kept).
fn clean(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = b.to_vec();
    let blank = |out: &mut Vec<u8>, from: usize, to: usize| {
        for c in &mut out[from..to] {
            if *c != b'\n' {
                *c = b' ';
            }
        }
    };
    let mut i = 0;
    while i < b.len() {
        if b[i..].starts_with(b"//") {
            let end = b[i..]
                .iter()
                .position(|&c| c == b'\n')
                .map_or(b.len(), |n| i + n);
            blank(&mut out, i, end);
            i = end;
        } else if b[i..].starts_with(b"/*") {
            let (mut depth, mut j) = (1, i + 2);
            while j < b.len() && depth > 0 {
                if b[j..].starts_with(b"/*") {
                    depth += 1;
                    j += 2;
                } else if b[j..].starts_with(b"*/") {
                    depth -= 1;
                    j += 2;
                } else {
                    j += 1;
                }
            }
            blank(&mut out, i, j);
            i = j;
        } else if b[i] == b'r'
            && (i == 0 || !is_ident(b[i - 1]))
            && b.get(i + 1).is_some_and(|&c| c == b'"' || c == b'#')
        {
            let hashes = b[i + 1..].iter().take_while(|&&c| c == b'#').count();
            if b.get(i + 1 + hashes) != Some(&b'"') {
                i += 1;
                continue;
            }
            let close: Vec<u8> = std::iter::once(b'"')
                .chain(std::iter::repeat_n(b'#', hashes))
                .collect();
            let start = i + 2 + hashes;
            let end = b[start..]
                .windows(close.len())
                .position(|w| w == close.as_slice())
                .map_or(b.len(), |n| start + n + close.len());
            blank(&mut out, i, end);
            i = end;
        } else if b[i] == b'"' {
            let mut j = i + 1;
            while j < b.len() && b[j] != b'"' {
                j += if b[j] == b'\\' { 2 } else { 1 };
            }
            let end = (j + 1).min(b.len());
            blank(&mut out, i, end);
            i = end;
        } else if b[i] == b'\'' {
            // A char literal ('x', '\n', '\u{..}'), or else a lifetime.
            let end = if b.get(i + 1) == Some(&b'\\') {
                b[i + 2..]
                    .iter()
                    .position(|&c| c == b'\'')
                    .map(|n| i + 3 + n)
            } else {
                let len = text[i + 1..].chars().next().map_or(1, char::len_utf8);
                (b.get(i + 1 + len) == Some(&b'\'')).then_some(i + 2 + len)
            };
            match end {
                Some(end) => {
                    blank(&mut out, i, end);
                    i = end;
                }
                None => i += 1,
            }
        } else {
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn is_ident(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// The modules `module`'s source names through `crate::` (and, outside
/// inline modules, `super::`) paths, with their lines.
fn imports(
    module: &Module,
    text: &str,
    known: &BTreeSet<&Module>,
    reexports: &BTreeMap<String, Module>,
) -> Vec<(usize, Module)> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    // Brace depths at which inline `mod name {` blocks open.
    let mut inline_mods: Vec<usize> = Vec::new();
    let mut depth = 0usize;
    let mut i = 0;
    while i < b.len() {
        let boundary = i == 0 || !(is_ident(b[i - 1]) || b[i - 1] == b':');
        match b[i] {
            b'{' => {
                depth += 1;
                i += 1;
                continue;
            }
            b'}' => {
                if inline_mods.last() == Some(&depth) {
                    inline_mods.pop();
                }
                depth = depth.saturating_sub(1);
                i += 1;
                continue;
            }
            _ => {}
        }
        if boundary && b[i..].starts_with(b"mod ") {
            let rest = &text[i + 4..];
            let name_len = rest.bytes().take_while(|&c| is_ident(c)).count();
            if name_len > 0 && rest[name_len..].trim_start().starts_with('{') {
                inline_mods.push(depth + 1);
            }
        }
        let base = if boundary && b[i..].starts_with(b"crate::") {
            i += "crate::".len();
            Some(Vec::new())
        } else if boundary && b[i..].starts_with(b"super::") {
            i += "super::".len();
            inline_mods
                .is_empty()
                .then(|| module[..module.len() - 1].to_vec())
        } else {
            i += 1;
            None
        };
        if let Some(base) = base {
            let line = text[..i].matches('\n').count() + 1;
            let mut leaves = Vec::new();
            use_tree(b, &mut i.clone(), base, &mut leaves);
            for leaf in leaves {
                if let Some(target) = resolve(&leaf, known, reexports) {
                    out.push((line, target));
                }
            }
        }
    }
    out
}

/// Reads a path or use tree (`a::b`, `a::{b, c::d}`) at `*i` into its leaves.
fn use_tree(b: &[u8], i: &mut usize, prefix: Module, leaves: &mut Vec<Module>) {
    let skip_ws = |i: &mut usize| {
        while *i < b.len() && b[*i].is_ascii_whitespace() {
            *i += 1;
        }
    };
    skip_ws(i);
    if b.get(*i) == Some(&b'{') {
        *i += 1;
        loop {
            skip_ws(i);
            match b.get(*i) {
                Some(b'}') | None => {
                    *i += 1;
                    return;
                }
                Some(b',') => *i += 1,
                _ => {
                    let before = *i;
                    use_tree(b, i, prefix.clone(), leaves);
                    // Skip what a tree leaves behind (`as name`).
                    while *i < b.len() && !matches!(b[*i], b',' | b'}') {
                        *i += 1;
                    }
                    if *i == before {
                        *i += 1;
                    }
                }
            }
        }
    }
    let start = *i;
    while *i < b.len() && (is_ident(b[*i]) || b[*i] == b'*') {
        *i += 1;
    }
    let mut path = prefix;
    path.push(String::from_utf8_lossy(&b[start..*i]).into_owned());
    if b[*i..].starts_with(b"::") {
        *i += 2;
        use_tree(b, i, path, leaves);
    } else {
        leaves.push(path);
    }
}

/// The deepest known module a path names, through lib.rs's re-exports for
/// names at the root.
fn resolve(
    path: &Module,
    known: &BTreeSet<&Module>,
    reexports: &BTreeMap<String, Module>,
) -> Option<Module> {
    let found = (1..=path.len())
        .rev()
        .map(|n| path[..n].to_vec())
        .find(|prefix| known.contains(prefix));
    found.or_else(|| reexports.get(path.first()?).cloned())
}

/// The names lib.rs re-exports from its modules, with the module of each.
fn reexports(root: &str, known: &BTreeSet<&Module>) -> BTreeMap<String, Module> {
    let mut out = BTreeMap::new();
    let b = root.as_bytes();
    let mut at = 0;
    while let Some(n) = root[at..].find("pub use ") {
        let mut i = at + n + "pub use ".len();
        let mut leaves = Vec::new();
        use_tree(b, &mut i, Vec::new(), &mut leaves);
        for leaf in leaves {
            let module = (1..leaf.len())
                .rev()
                .map(|n| leaf[..n].to_vec())
                .find(|prefix| known.contains(prefix));
            if let (Some(module), Some(name)) = (module, leaf.last()) {
                out.insert(name.clone(), module);
            }
        }
        at = i;
    }
    out
}

/// The strongly connected components of more than one module (Tarjan).
fn cycles<'a>(edges: &BTreeMap<&'a Module, BTreeSet<&'a Module>>) -> Vec<Vec<&'a Module>> {
    struct Walk<'a, 'e> {
        edges: &'e BTreeMap<&'a Module, BTreeSet<&'a Module>>,
        index: BTreeMap<&'a Module, usize>,
        low: BTreeMap<&'a Module, usize>,
        stack: Vec<&'a Module>,
        on_stack: BTreeSet<&'a Module>,
        found: Vec<Vec<&'a Module>>,
    }
    impl<'a> Walk<'a, '_> {
        fn visit(&mut self, v: &'a Module) {
            let n = self.index.len();
            self.index.insert(v, n);
            self.low.insert(v, n);
            self.stack.push(v);
            self.on_stack.insert(v);
            for &w in self.edges.get(v).into_iter().flatten() {
                if !self.index.contains_key(w) {
                    self.visit(w);
                    let low = self.low[v].min(self.low[w]);
                    self.low.insert(v, low);
                } else if self.on_stack.contains(w) {
                    let low = self.low[v].min(self.index[w]);
                    self.low.insert(v, low);
                }
            }
            if self.low[v] == self.index[v] {
                let mut component = Vec::new();
                while let Some(w) = self.stack.pop() {
                    self.on_stack.remove(w);
                    component.push(w);
                    if w == v {
                        break;
                    }
                }
                if component.len() > 1 {
                    component.sort();
                    self.found.push(component);
                }
            }
        }
    }
    let mut walk = Walk {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        found: Vec::new(),
    };
    for &v in edges.keys() {
        if !walk.index.contains_key(v) {
            walk.visit(v);
        }
    }
    walk.found
}

#[test]
fn the_check_sees_an_upward_import_and_a_cycle() {
    let dir = std::env::temp_dir().join(format!("edgepg-layers-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("pool")).unwrap();
    let write = |name: &str, text: &str| std::fs::write(dir.join(name), text).unwrap();
    for (_, names) in LAYERS {
        for name in *names {
            write(&format!("{name}.rs"), "");
        }
    }
    std::fs::remove_file(dir.join("pool.rs")).unwrap();
    write("lib.rs", "pub use pool::{Pool};\n");
    // Upward, in a `use` tree and in an expression; a comment and a string do not count.
    write(
        "connection.rs",
        "// crate::session::x\nconst S: &str = \"crate::cursor\";\nuse crate::{error::Error, pool::{Inner}};\nfn f() { crate::listen::g() }\n",
    );
    // Within the pool: a module and its submodules are one unit.
    write(
        "pool/mod.rs",
        "mod statements;\nuse crate::connection::Connection;\n",
    );
    write(
        "pool/statements.rs",
        "use super::Inner;\nuse crate::Pool;\n",
    );
    write("row.rs", "use crate::results::Results;\n");
    write("results.rs", "use crate::row::Row;\n");
    let problems = check(&dir);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(
        problems,
        [
            "core/src/connection.rs:3: `connection` (connection) imports `crate::pool` (pool), a layer above its own",
            "core/src/connection.rs:4: `connection` (connection) imports `crate::listen` (user-facing), a layer above its own",
            "import cycle among connection, pool",
            "import cycle among results, row",
        ],
        "{problems:#?}"
    );
}
