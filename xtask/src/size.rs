//! `cargo xtask size`: what each entry of the npm package costs to load, and
//! what the wasm is made of (issue 19).
//!
//! * Entries: the `"."` export of `pkg/package.json` under the `browser`,
//!   `workerd` and `node` conditions, and every file its import graph loads
//!   (relative `import`/`export … from`, `new URL(…, import.meta.url)`), each
//!   compressed on its own (as a server sends each file): gzip -9 and brotli
//!   quality 11, by Node's zlib.
//! * Contributors: the code section of the module after wasm-bindgen and
//!   before wasm-opt (the only stage with function names), by crate and by
//!   function, from the `name` section.
//!
//! The figures go into BENCHMARKS.md between the markers below.
//! `cargo xtask size --check` (a step of `cargo xtask test`) only measures
//! the browser entry against [`BROWSER_BUDGET_GZ`].

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::run::{command_line, workspace_root};

/// The most the browser entry (wasm + every JS file it loads, gzip -9 each)
/// may weigh: 288 182 B reached in issue 19 (std compiled for size, see
/// `pkg.rs`), plus about 1 %. The goal
/// is [`BROWSER_GOAL_GZ`]; BENCHMARKS.md says what stands between the two.
pub const BROWSER_BUDGET_GZ: u64 = 291_000;

/// The goal of issue 19 for the browser entry, gzip -9.
pub const BROWSER_GOAL_GZ: u64 = 163_840;

const BEGIN: &str = "<!-- xtask size: begin (generated; edit outside these markers) -->";
const END: &str = "<!-- xtask size: end -->";

/// The entries measured, as `package.json` export conditions.
const ENTRIES: [&str; 3] = ["browser", "workerd", "node"];

/// Raw, gzip -9 and brotli sizes of one blob.
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
struct Sizes {
    raw: u64,
    gz: u64,
    br: u64,
}

impl std::ops::AddAssign for Sizes {
    fn add_assign(&mut self, o: Sizes) {
        self.raw += o.raw;
        self.gz += o.gz;
        self.br += o.br;
    }
}

/// One entry: its files (relative to `pkg/`) with their sizes.
struct Entry {
    condition: &'static str,
    files: Vec<(String, Sizes)>,
}

impl Entry {
    fn total(&self) -> Sizes {
        let mut t = Sizes::default();
        for (_, s) in &self.files {
            t += *s;
        }
        t
    }

    fn wasm_and_js(&self) -> (Sizes, Sizes) {
        let (mut wasm, mut js) = (Sizes::default(), Sizes::default());
        for (f, s) in &self.files {
            if f.ends_with(".wasm") {
                wasm += *s;
            } else {
                js += *s;
            }
        }
        (wasm, js)
    }
}

/// `cargo xtask size [--check]`.
pub fn size(args: &[String]) -> Result<(), String> {
    match args {
        [] => report(),
        [flag] if flag == "--check" => check(),
        _ => Err(format!(
            "xtask size: unexpected arguments: {} (usage: cargo xtask size [--check])",
            args.join(" ")
        )),
    }
}

/// The budget check of `cargo xtask test`: builds (idempotent) and measures
/// the browser entry only.
fn check() -> Result<(), String> {
    crate::pkg::build()?;
    let root = workspace_root();
    let entry = entry(&root.join("pkg"), "browser")?;
    let total = entry.total();
    println!(
        "xtask size: browser entry {} B gzip -9 ({} files), budget {BROWSER_BUDGET_GZ} B, goal {BROWSER_GOAL_GZ} B",
        total.gz,
        entry.files.len()
    );
    if total.gz > BROWSER_BUDGET_GZ {
        return Err(format!(
            "the browser entry is {} B gzip -9, over the budget of {BROWSER_BUDGET_GZ} B \
             (xtask/src/size.rs); `cargo xtask size` shows what grew",
            total.gz
        ));
    }
    Ok(())
}

/// The full report, printed and written into BENCHMARKS.md.
fn report() -> Result<(), String> {
    crate::pkg::build()?;
    let root = workspace_root();
    let pkg = root.join("pkg");
    let entries = ENTRIES
        .iter()
        .map(|c| entry(&pkg, c))
        .collect::<Result<Vec<_>, _>>()?;
    let named = named_module(&root)?;
    let module = fs::read(&named).map_err(|e| format!("{}: {e}", named.display()))?;
    let anatomy = Anatomy::parse(&module)?;
    let by_crate = anatomy.by_crate();
    let crate_gz = crate_compressed(&root, &anatomy, &by_crate)?;
    let text = render(&entries, &anatomy, &by_crate, &crate_gz);
    println!("{text}");
    crate::markdown::write_section(
        &root.join("BENCHMARKS.md"),
        (BEGIN, END),
        &text,
        crate::markdown::Place::AtEnd,
    )?;
    println!("xtask size: wrote BENCHMARKS.md");
    Ok(())
}

/// Measures one entry of `pkg/package.json`.
fn entry(pkg: &Path, condition: &'static str) -> Result<Entry, String> {
    let manifest = fs::read_to_string(pkg.join("package.json"))
        .map_err(|e| format!("reading pkg/package.json: {e}"))?;
    let manifest: serde_json::Value =
        serde_json::from_str(&manifest).map_err(|e| format!("parsing pkg/package.json: {e}"))?;
    let start = manifest["exports"]["."][condition]
        .as_str()
        .ok_or_else(|| format!("pkg/package.json: exports[\".\"].{condition} is missing"))?;
    let files = import_graph(pkg, start)?;
    let sizes = compressed_sizes(&files.iter().map(|f| pkg.join(f)).collect::<Vec<_>>())?;
    Ok(Entry {
        condition,
        files: files.into_iter().zip(sizes).collect(),
    })
}

/// Every file (relative to `pkg/`, `/`-separated) that loading `start` loads.
fn import_graph(pkg: &Path, start: &str) -> Result<Vec<String>, String> {
    let mut seen = BTreeSet::new();
    let mut todo = vec![normalize(start)?];
    while let Some(file) = todo.pop() {
        if !seen.insert(file.clone()) {
            continue;
        }
        if !file.ends_with(".js") && !file.ends_with(".mjs") {
            continue;
        }
        let src =
            fs::read_to_string(pkg.join(&file)).map_err(|e| format!("reading pkg/{file}: {e}"))?;
        let dir = file.rsplit_once('/').map_or("", |(d, _)| d);
        for spec in relative_specifiers(&src) {
            todo.push(normalize(&format!("{dir}/{spec}"))?);
        }
    }
    Ok(seen.into_iter().collect())
}

/// `a/./b/../c` → `a/c`; an error when it leaves `pkg/`.
fn normalize(path: &str) -> Result<String, String> {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts
                    .pop()
                    .ok_or_else(|| format!("{path} points outside pkg/"))?;
            }
            p => parts.push(p),
        }
    }
    Ok(parts.join("/"))
}

/// The relative module specifiers and asset URLs in a JavaScript file:
/// `from './x.js'`, `import './x.js'`, `import('./x.js')` and
/// `new URL('../wasm/x.wasm', import.meta.url)`. Lines that start as
/// comments are skipped (they show usage such as `import … from 'edgepg'`).
fn relative_specifiers(src: &str) -> Vec<String> {
    const OPENERS: [&str; 4] = ["from", "import", "import(", "new URL("];
    let mut out = Vec::new();
    for line in src.lines() {
        let t = line.trim_start();
        if t.starts_with("//") || t.starts_with('*') || t.starts_with("/*") {
            continue;
        }
        for opener in OPENERS {
            let mut rest = line;
            while let Some(i) = rest.find(opener) {
                let before_ok = rest[..i]
                    .chars()
                    .next_back()
                    .is_none_or(|c| !c.is_alphanumeric() && c != '_' && c != '.');
                let after = rest[i + opener.len()..].trim_start();
                rest = &rest[i + opener.len()..];
                if !before_ok {
                    continue;
                }
                let Some(quote) = after.chars().next().filter(|c| matches!(c, '\'' | '"')) else {
                    continue;
                };
                let Some(end) = after[1..].find(quote) else {
                    continue;
                };
                let spec = &after[1..1 + end];
                if spec.starts_with("./") || spec.starts_with("../") {
                    out.push(spec.to_string());
                }
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// gzip -9 (GNU gzip, as the issue measures; `-n`: no name in the header)
/// and brotli (quality 11, by Node's zlib in one run) of each file.
fn compressed_sizes(files: &[PathBuf]) -> Result<Vec<Sizes>, String> {
    const BROTLI: &str = "\
const zlib = require('node:zlib'), fs = require('node:fs');
const { BROTLI_PARAM_QUALITY: Q, BROTLI_PARAM_SIZE_HINT: H } = zlib.constants;
for (const f of process.argv.slice(1)) {
  const b = fs.readFileSync(f);
  console.log(zlib.brotliCompressSync(b, { params: { [Q]: 11, [H]: b.length } }).length);
}";
    if files.is_empty() {
        return Ok(Vec::new());
    }
    let mut cmd = Command::new("node");
    cmd.arg("-e").arg(BROTLI).args(files);
    let brotli: Vec<u64> = output_of(&mut cmd)?
        .lines()
        .map(|l| {
            l.trim()
                .parse()
                .map_err(|_| format!("unexpected brotli output: {l}"))
        })
        .collect::<Result<_, _>>()?;
    if brotli.len() != files.len() {
        return Err(format!(
            "brotli measured {} of {} files",
            brotli.len(),
            files.len()
        ));
    }
    files
        .iter()
        .zip(brotli)
        .map(|(f, br)| {
            let raw = fs::metadata(f)
                .map_err(|e| format!("{}: {e}", f.display()))?
                .len();
            let gz = crate::pkg::gzip_size(f)
                .ok_or_else(|| format!("gzip -9 of {} failed (is gzip installed?)", f.display()))?;
            Ok(Sizes { raw, gz, br })
        })
        .collect()
}

/// The standard output of a command that must succeed.
fn output_of(cmd: &mut Command) -> Result<String, String> {
    let out = cmd
        .output()
        .map_err(|e| format!("{}: {e}", command_line(cmd)))?;
    if !out.status.success() {
        return Err(format!(
            "{} failed: {}",
            command_line(cmd),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The cargo-built module through wasm-bindgen again, keeping the `name`
/// section (`cargo xtask pkg` strips it), into `target/xtask-size/`.
fn named_module(root: &Path) -> Result<PathBuf, String> {
    let input = crate::pkg::cargo_wasm(root);
    let out = crate::pkg::target_dir(root).join("xtask-size");
    let mut cmd = Command::new("wasm-bindgen");
    cmd.args([
        "--target",
        "web",
        "--out-name",
        "edgepg",
        "--no-typescript",
        "--out-dir",
    ])
    .arg(&out)
    .arg(&input);
    let status = cmd
        .status()
        .map_err(|e| format!("{}: {e}", command_line(&cmd)))?;
    if !status.success() {
        return Err(format!("{} failed", command_line(&cmd)));
    }
    Ok(out.join("edgepg_bg.wasm"))
}

/// What a module is made of: bytes per section, and each defined
/// function's body size with its (demangled) name.
struct Anatomy {
    total: u64,
    code: u64,
    data: u64,
    names: u64,
    /// Function bodies: (size, name).
    functions: Vec<(u64, String)>,
    /// The bodies' bytes, by function, for the compressed estimate per crate.
    bodies: Vec<std::ops::Range<usize>>,
    module: Vec<u8>,
}

/// A LEB128 reader over a byte slice.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn u32(&mut self) -> Result<u32, String> {
        let mut value: u64 = 0;
        for shift in (0..35).step_by(7) {
            let b = *self
                .bytes
                .get(self.pos)
                .ok_or("wasm: truncated LEB128 number")?;
            self.pos += 1;
            value |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return u32::try_from(value).map_err(|_| "wasm: LEB128 number too large".into());
            }
        }
        Err("wasm: LEB128 number too long".into())
    }

    fn byte(&mut self) -> Result<u8, String> {
        let b = *self.bytes.get(self.pos).ok_or("wasm: truncated")?;
        self.pos += 1;
        Ok(b)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.bytes.len());
        let end = end.ok_or("wasm: a section or name runs past the end")?;
        let s = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn name(&mut self) -> Result<&'a str, String> {
        let n = self.u32()? as usize;
        std::str::from_utf8(self.take(n)?).map_err(|_| "wasm: a name is not UTF-8".into())
    }

    fn limits(&mut self) -> Result<(), String> {
        let flags = self.byte()?;
        self.u32()?;
        if flags & 1 != 0 {
            self.u32()?;
        }
        Ok(())
    }
}

impl Anatomy {
    fn parse(module: &[u8]) -> Result<Anatomy, String> {
        if module.len() < 8 || &module[..4] != b"\0asm" {
            return Err("not a wasm module".into());
        }
        let mut r = Reader {
            bytes: module,
            pos: 8,
        };
        let (mut code, mut data, mut names_size) = (0, 0, 0);
        let mut imported_functions = 0u32;
        let mut bodies = Vec::new();
        let mut names: BTreeMap<u32, String> = BTreeMap::new();
        while r.pos < module.len() {
            let id = r.byte()?;
            let len = r.u32()? as usize;
            let start = r.pos;
            let mut s = Reader {
                bytes: r.take(len)?,
                pos: 0,
            };
            match id {
                2 => {
                    for _ in 0..s.u32()? {
                        s.name()?;
                        s.name()?;
                        match s.byte()? {
                            0 => {
                                s.u32()?;
                                imported_functions += 1;
                            }
                            1 => {
                                s.byte()?;
                                s.limits()?;
                            }
                            2 => s.limits()?,
                            3 => {
                                s.byte()?;
                                s.byte()?;
                            }
                            4 => {
                                s.byte()?;
                                s.u32()?;
                            }
                            k => return Err(format!("wasm: unknown import kind {k}")),
                        }
                    }
                }
                10 => {
                    code = len as u64;
                    for _ in 0..s.u32()? {
                        let n = s.u32()? as usize;
                        let body = start + s.pos;
                        s.take(n)?;
                        bodies.push(body..body + n);
                    }
                }
                11 => data = len as u64,
                0 if s.name()? == "name" => {
                    names_size = len as u64;
                    while s.pos < s.bytes.len() {
                        let sub = s.byte()?;
                        let n = s.u32()? as usize;
                        let mut sub_r = Reader {
                            bytes: s.take(n)?,
                            pos: 0,
                        };
                        if sub == 1 {
                            for _ in 0..sub_r.u32()? {
                                let index = sub_r.u32()?;
                                names.insert(index, sub_r.name()?.to_string());
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        if names.is_empty() {
            return Err("the module has no function names (name section)".into());
        }
        let functions = bodies
            .iter()
            .enumerate()
            .map(|(i, b)| {
                let index = imported_functions + i as u32;
                let name = names
                    .get(&index)
                    .map_or_else(|| format!("function[{index}]"), |n| demangle(n));
                (b.len() as u64, name)
            })
            .collect();
        Ok(Anatomy {
            total: module.len() as u64,
            code,
            data,
            names: names_size,
            functions,
            bodies,
            module: module.to_vec(),
        })
    }

    /// (crate, bytes, functions), largest first.
    fn by_crate(&self) -> Vec<(String, u64, usize)> {
        let mut m: BTreeMap<String, (u64, usize)> = BTreeMap::new();
        for (size, name) in &self.functions {
            let e = m.entry(crate_of(name)).or_default();
            e.0 += size;
            e.1 += 1;
        }
        let mut v: Vec<_> = m.into_iter().map(|(k, (b, n))| (k, b, n)).collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        v
    }
}

/// A function's name without hashes: wasm-bindgen leaves most names
/// demangled already (`…::h0123456789abcdef`, `core[0123456789abcdef]::…`),
/// some still mangled.
fn demangle(symbol: &str) -> String {
    let name = format!("{:#}", rustc_demangle::demangle(symbol));
    let name = match name.rsplit_once("::h") {
        Some((head, hash)) if is_hash(hash) => head,
        _ => name.as_str(),
    };
    let mut out = String::with_capacity(name.len());
    let mut rest = name;
    while let Some(i) = rest.find('[') {
        let tail = &rest[i + 1..];
        match tail.split_once(']') {
            Some((hash, after)) if is_hash(hash) => {
                out.push_str(&rest[..i]);
                rest = after;
            }
            _ => {
                out.push_str(&rest[..=i]);
                rest = tail;
            }
        }
    }
    out.push_str(rest);
    out
}

fn is_hash(s: &str) -> bool {
    (8..=16).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The crate a function belongs to: the first path of its name, or for an
/// impl on a type from elsewhere (`<&T as core::fmt::Debug>::fmt`), the
/// trait's; primitives' inherent methods (`<str>::to_uppercase`) are core's.
fn crate_of(name: &str) -> String {
    fn first_path(s: &str) -> Option<&str> {
        let s = s.trim_start_matches(['<', '&', '*', '[', '(', ' ']);
        let s = s
            .strip_prefix("mut ")
            .or_else(|| s.strip_prefix("const "))
            .or_else(|| s.strip_prefix("dyn "))
            .unwrap_or(s);
        let s = s.trim_start_matches(['<', '&', '*', '[', '(', ' ']);
        let end = s
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(s.len());
        // A path has `::` after its first segment; a bare word is a
        // primitive or a type parameter.
        s[end..].starts_with("::").then(|| &s[..end])
    }
    if name.starts_with("__wbg")
        || name.starts_with("__wbindgen")
        || name.starts_with("__externref")
    {
        return "wasm_bindgen (generated)".into();
    }
    if let Some(c) = first_path(name) {
        return c.to_string();
    }
    if let Some(i) = name.find(" as ") {
        if let Some(c) = first_path(&name[i + 4..]) {
            return c.to_string();
        }
    }
    if name.starts_with('<') {
        return "core".into();
    }
    if name.starts_with("function[") {
        return "(unnamed)".into();
    }
    // Unmangled: compiler builtins and the allocator's C-ABI entry points.
    "(unmangled: builtins, exports)".into()
}

/// gzip -9 of each crate's function bodies, concatenated in module order:
/// roughly what the crate adds to the compressed module.
fn crate_compressed(
    root: &Path,
    anatomy: &Anatomy,
    by_crate: &[(String, u64, usize)],
) -> Result<BTreeMap<String, u64>, String> {
    let dir = crate::pkg::target_dir(root).join("xtask-size/crates");
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut blobs: BTreeMap<&str, Vec<u8>> = BTreeMap::new();
    for ((_, name), range) in anatomy.functions.iter().zip(&anatomy.bodies) {
        let c = crate_of(name);
        let (key, _, _) = by_crate
            .iter()
            .find(|(k, _, _)| *k == c)
            .expect("every crate is in by_crate");
        blobs
            .entry(key.as_str())
            .or_default()
            .extend_from_slice(&anatomy.module[range.clone()]);
    }
    let mut files = Vec::new();
    for (i, (_, blob)) in blobs.iter().enumerate() {
        let p = dir.join(format!("{i}.bin"));
        fs::write(&p, blob).map_err(|e| format!("{}: {e}", p.display()))?;
        files.push(p);
    }
    let sizes = compressed_sizes(&files)?;
    Ok(blobs
        .keys()
        .zip(sizes)
        .map(|(k, s)| (k.to_string(), s.gz))
        .collect())
}

fn render(
    entries: &[Entry],
    anatomy: &Anatomy,
    by_crate: &[(String, u64, usize)],
    crate_gz: &BTreeMap<String, u64>,
) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "### Latest `cargo xtask size` run\n\n\
         Each file compressed on its own (gzip -9, brotli quality 11); an entry \
         is every file its `import` graph loads. Budget of the browser entry \
         in `cargo xtask test`: {BROWSER_BUDGET_GZ} B gzip; goal of issue 19: \
         {BROWSER_GOAL_GZ} B.\n"
    );
    let _ = writeln!(
        out,
        "| entry | files | bytes | gzip -9 | brotli | wasm gzip | JS gzip |\n|---|---:|---:|---:|---:|---:|---:|"
    );
    for e in entries {
        let t = e.total();
        let (wasm, js) = e.wasm_and_js();
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} |",
            e.condition,
            e.files.len(),
            t.raw,
            t.gz,
            t.br,
            wasm.gz,
            js.gz
        );
    }
    let mut files: BTreeMap<&str, Sizes> = BTreeMap::new();
    for e in entries {
        for (f, s) in &e.files {
            files.insert(f.as_str(), *s);
        }
    }
    let _ = writeln!(
        out,
        "\n| file | bytes | gzip -9 | brotli | loaded by |\n|---|---:|---:|---:|---|"
    );
    for (f, s) in &files {
        let by: Vec<&str> = entries
            .iter()
            .filter(|e| e.files.iter().any(|(g, _)| g == f))
            .map(|e| e.condition)
            .collect();
        let _ = writeln!(
            out,
            "| `{f}` | {} | {} | {} | {} |",
            s.raw,
            s.gz,
            s.br,
            by.join(", ")
        );
    }
    let _ = writeln!(
        out,
        "\nThe wasm before `wasm-opt`, with names ({} B: code {} B, data {} B, \
         names {} B; {} functions). By crate (gzip: the crate's function \
         bodies compressed together):\n",
        anatomy.total,
        anatomy.code,
        anatomy.data,
        anatomy.names,
        anatomy.functions.len()
    );
    let _ = writeln!(
        out,
        "| crate | code bytes | functions | gzip -9 |\n|---|---:|---:|---:|"
    );
    const CRATES: usize = 25;
    for (c, bytes, n) in by_crate.iter().take(CRATES) {
        let _ = writeln!(
            out,
            "| `{c}` | {bytes} | {n} | {} |",
            crate_gz.get(c).copied().unwrap_or(0)
        );
    }
    if by_crate.len() > CRATES {
        let rest = &by_crate[CRATES..];
        let bytes: u64 = rest.iter().map(|r| r.1).sum();
        let n: usize = rest.iter().map(|r| r.2).sum();
        let gz: u64 = rest.iter().filter_map(|r| crate_gz.get(&r.0)).sum();
        let _ = writeln!(out, "| {} more crates | {bytes} | {n} | {gz} |", rest.len());
    }
    let mut largest: Vec<&(u64, String)> = anatomy.functions.iter().collect();
    largest.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let _ = writeln!(
        out,
        "\nLargest functions:\n\n| bytes | function |\n|---:|---|"
    );
    for (bytes, name) in largest.iter().take(30) {
        let mut shown: String = name.chars().take(110).collect();
        if shown.len() < name.len() {
            shown.push('…');
        }
        let _ = writeln!(out, "| {bytes} | `{}` |", shown.replace('|', "\\|"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specifiers() {
        let src = "\
// import { http } from 'edgepg';
import init from '../wasm/edgepg.js';
import * as b from \"./api.js\";
import {
  a,
} from './errors.js';
import net from 'node:net';
export * from './exports.js';
await init({ module_or_path: new URL('../wasm/edgepg_bg.wasm', import.meta.url) });
const m = await import('./lazy.js');
const transform = 'x'; // not an import: reform('./no.js')
";
        assert_eq!(
            relative_specifiers(src),
            [
                "../wasm/edgepg.js",
                "../wasm/edgepg_bg.wasm",
                "./api.js",
                "./errors.js",
                "./exports.js",
                "./lazy.js"
            ]
        );
    }

    #[test]
    fn paths() {
        assert_eq!(normalize("src/../wasm/x.wasm").unwrap(), "wasm/x.wasm");
        assert_eq!(normalize("./src/./a.js").unwrap(), "src/a.js");
        assert!(normalize("src/../../x").is_err());
    }

    #[test]
    fn crates() {
        assert_eq!(crate_of("edgepg_core::value::decode"), "edgepg_core");
        assert_eq!(crate_of("<&T as core::fmt::Debug>::fmt"), "core");
        assert_eq!(
            crate_of("<tokio_postgres::error::Error as core::fmt::Display>::fmt"),
            "tokio_postgres"
        );
        assert_eq!(
            crate_of("<dlmalloc::dlmalloc::Dlmalloc<dlmalloc::sys::System>>::malloc"),
            "dlmalloc"
        );
        assert_eq!(crate_of("<str>::to_uppercase"), "core");
        assert_eq!(crate_of("__wbg_get_abc"), "wasm_bindgen (generated)");
        assert_eq!(crate_of("memcpy"), "(unmangled: builtins, exports)");
        assert_eq!(
            demangle("_ZN4core3fmt5write17h0123456789abcdefE"),
            "core::fmt::write"
        );
        assert_eq!(
            demangle("edgepg_core::value::decode::hfec1b164e5431695"),
            "edgepg_core::value::decode"
        );
        assert_eq!(
            demangle("<dlmalloc[e24a27700634d609]::Dlmalloc<[u8; 4]>>::malloc"),
            "<dlmalloc::Dlmalloc<[u8; 4]>>::malloc"
        );
    }

    #[test]
    fn reads_a_module() {
        // One imported function, one defined function of 4 body bytes named "f".
        let mut m = b"\0asm\x01\0\0\0".to_vec();
        m.extend([1, 4, 1, 0x60, 0, 0]); // type section: () -> ()
        m.extend([2, 7, 1, 1, b'm', 1, b'i', 0, 0]); // import m.i: func type 0
        m.extend([3, 2, 1, 0]); // function section
        m.extend([10, 6, 1, 4, 0, 1, 1, 0x0b]); // code: locals 0, nop, nop, end
        let names = [1u8, 4, 1, 1, 1, b'f'];
        let mut custom = vec![4, b'n', b'a', b'm', b'e'];
        custom.extend(names);
        m.push(0);
        m.push(custom.len() as u8);
        m.extend(custom);
        let a = Anatomy::parse(&m).unwrap();
        assert_eq!(a.functions, [(4, "f".to_string())]);
        assert_eq!(a.code, 6);
    }
}
