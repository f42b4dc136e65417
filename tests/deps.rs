//! The module graph of src/: every file's references to other files (`crate::` and `super::`
//! paths, in `use` trees and in code) must form no cycle, and the layers keep their rules
//! (the runtime never imports the CLI, sema never imports the runtime, the lexer never imports
//! the parser). Fed by the source files themselves; test-only code is left out.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Cycles known today in files other engineers are reshaping, each as its files in order
/// (`a -> b -> a` written `["a", "b"]`). Empty this list as they are fixed; a cycle not listed
/// here fails the test, and so does a listed one that is gone (so the list only shrinks).
const ALLOWED_CYCLES: &[&[&str]] = &[];

/// Layer rules broken today in files being reshaped elsewhere, as (file, imported file). Like
/// `ALLOWED_CYCLES`, this list may only shrink.
const ALLOWED_BREAKS: &[(&str, &str)] = &[];

/// Imports a layer must not make: (files under this prefix, may not reference this prefix).
const FORBIDDEN: &[(&str, &str)] = &[
    ("src/runtime/", "src/cli.rs"),
    ("src/runtime/", "src/driver.rs"),
    ("src/sema/", "src/runtime/"),
    ("src/sema/", "src/codegen/"),
    ("src/runtime/", "src/compile.rs"),
    ("src/output/", "src/runtime/"),
    ("src/output/", "src/sema/"),
    ("src/bpf/", "src/runtime/"),
    ("src/cli.rs", "src/driver.rs"),
    ("src/lex.rs", "src/parse/"),
];

#[test]
fn no_import_cycles_and_layer_rules() {
    let graph = Graph::read(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    assert!(graph.edges.len() > 20, "too few files read: {graph:?}");

    let mut broken = Vec::new();
    let mut breaks = BTreeSet::new();
    for (from, tos) in &graph.edges {
        for to in tos {
            for (layer, banned) in FORBIDDEN {
                if from.starts_with(layer) && to.starts_with(banned) {
                    breaks.insert((from.as_str(), to.as_str()));
                }
            }
        }
    }
    let allowed_breaks: BTreeSet<(&str, &str)> = ALLOWED_BREAKS.iter().copied().collect();
    for (from, to) in breaks.difference(&allowed_breaks) {
        broken.push(format!("{from} imports {to}"));
    }
    for (from, to) in allowed_breaks.difference(&breaks) {
        broken.push(format!(
            "allowed break is gone (remove it from ALLOWED_BREAKS): {from} -> {to}"
        ));
    }

    let cycles = graph.cycles();
    let allowed: BTreeSet<Vec<String>> = ALLOWED_CYCLES
        .iter()
        .map(|c| canonical(c.iter().map(|s| s.to_string()).collect()))
        .collect();
    let found: BTreeSet<Vec<String>> = cycles.iter().cloned().map(canonical).collect();
    let new: Vec<String> = found
        .difference(&allowed)
        .map(|c| format!("cycle: {} -> {}", c.join(" -> "), c[0]))
        .collect();
    let gone: Vec<String> = allowed
        .difference(&found)
        .map(|c| format!("allowed cycle is gone (remove it from ALLOWED_CYCLES): {c:?}"))
        .collect();
    broken.extend(new);
    broken.extend(gone);
    assert!(broken.is_empty(), "{}", broken.join("\n"));
}

#[test]
fn the_reader_finds_paths_in_use_trees_and_code() {
    let code = strip("use crate::a::{b::{self, C}, d};\nfn f() { super::e::g(\"crate::x::y\"); } // crate::z\nlet c = '{';");
    let mut refs = Vec::new();
    references(&code, &mut refs);
    assert_eq!(
        refs,
        [
            (Root::Crate, vec!["a", "b", "self"]),
            (Root::Crate, vec!["a", "b", "C"]),
            (Root::Crate, vec!["a", "d"]),
            (Root::Super(1), vec!["e", "g"]),
        ]
        .map(|(r, p)| (r, p.into_iter().map(String::from).collect::<Vec<_>>()))
    );
    let code = strip(
        "#[cfg(test)]\nmod tests { use crate::q; }\nuse crate::r;\n#[cfg(test)]\nuse crate::s;",
    );
    let code = drop_test_items(&code);
    let mut refs = Vec::new();
    references(&code, &mut refs);
    assert_eq!(refs, [(Root::Crate, vec!["r".to_string()])]);
}

/// Files (as `src/...` paths) and the files each references.
#[derive(Debug, Default)]
struct Graph {
    edges: BTreeMap<String, BTreeSet<String>>,
}

impl Graph {
    fn read(src: &Path) -> Graph {
        let root = src.parent().unwrap_or(src).to_path_buf();
        let mut files = Vec::new();
        walk(src, &mut files);
        let name = |p: &Path| {
            p.strip_prefix(&root)
                .unwrap_or(p)
                .to_string_lossy()
                .replace('\\', "/")
        };
        let texts: BTreeMap<String, String> = files
            .iter()
            .filter_map(|p| Some((name(p), fs::read_to_string(p).ok()?)))
            .collect();
        let tests: BTreeSet<String> = texts
            .iter()
            .flat_map(|(file, text)| test_children(file, text))
            .collect();
        let known: BTreeSet<&String> = texts.keys().collect();
        let mut graph = Graph::default();
        for (file, text) in &texts {
            // The binary's root and test-only files are not part of the library's graph.
            if file == "src/main.rs" || tests.contains(file) {
                continue;
            }
            let code = drop_test_items(&strip(text));
            let mut refs = Vec::new();
            references(&code, &mut refs);
            let here = module_of(file);
            let out = graph.edges.entry(file.clone()).or_default();
            for (root, path) in refs {
                let mut full = match root {
                    Root::Crate => Vec::new(),
                    Root::SelfMod => here.clone(),
                    Root::Super(n) => here[..here.len().saturating_sub(n)].to_vec(),
                };
                full.extend(path.into_iter().filter(|s| s != "self"));
                if let Some(target) = file_of(&full, &known) {
                    if &target != file {
                        out.insert(target);
                    }
                }
            }
        }
        graph
    }

    /// Every elementary cycle, each once, found by a depth-first search from every file
    /// (the graph is small).
    fn cycles(&self) -> Vec<Vec<String>> {
        let mut found = BTreeSet::new();
        for start in self.edges.keys() {
            let mut stack = vec![start.clone()];
            self.search(start, &mut stack, &mut found);
        }
        found.into_iter().collect()
    }

    fn search(&self, start: &str, stack: &mut Vec<String>, found: &mut BTreeSet<Vec<String>>) {
        let last = stack.last().cloned().unwrap_or_default();
        for next in self.edges.get(&last).into_iter().flatten() {
            if next == start {
                found.insert(canonical(stack.clone()));
            } else if next.as_str() > start && !stack.contains(next) {
                // Only files after `start` join the path: each cycle is found from its least file.
                stack.push(next.clone());
                self.search(start, stack, found);
                stack.pop();
            }
        }
    }
}

/// A cycle rotated to start at its least file.
fn canonical(mut cycle: Vec<String>) -> Vec<String> {
    if let Some(min) = (0..cycle.len()).min_by_key(|&i| cycle[i].clone()) {
        cycle.rotate_left(min);
    }
    cycle
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            walk(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The module path of a file: `src/lib.rs` is the crate root, `src/a/mod.rs` and `src/a.rs`
/// are `a`.
fn module_of(file: &str) -> Vec<String> {
    let rel = file.trim_start_matches("src/").trim_end_matches(".rs");
    let mut parts: Vec<String> = rel.split('/').map(String::from).collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
        parts.pop();
    }
    parts
}

/// The file of the longest module prefix of `path` (the last segments may be items).
fn file_of(path: &[String], known: &BTreeSet<&String>) -> Option<String> {
    for n in (0..=path.len()).rev() {
        let base = path[..n].join("/");
        let candidates = if n == 0 {
            vec!["src/lib.rs".to_string()]
        } else {
            vec![format!("src/{base}.rs"), format!("src/{base}/mod.rs")]
        };
        if let Some(c) = candidates.into_iter().find(|c| known.contains(c)) {
            return Some(c);
        }
    }
    None
}

/// The files a file declares with `#[cfg(test)] mod NAME;` (with `#[path = ".."]` honoured).
fn test_children(file: &str, text: &str) -> Vec<String> {
    let dir = file.rsplit_once('/').map_or("", |(d, _)| d);
    let stem = file
        .rsplit('/')
        .next()
        .unwrap_or(file)
        .trim_end_matches(".rs");
    let own_dir = if matches!(stem, "mod" | "lib" | "main") {
        dir.to_string()
    } else {
        format!("{dir}/{stem}")
    };
    let mut out = Vec::new();
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    for (i, line) in lines.iter().enumerate() {
        if *line != "#[cfg(test)]" {
            continue;
        }
        let mut path_attr = None;
        for next in &lines[i + 1..] {
            if let Some(p) = next.strip_prefix("#[path = \"") {
                path_attr = p.split('"').next().map(String::from);
            } else if next.starts_with("#[") {
                continue;
            } else {
                let decl = next
                    .trim_start_matches("pub ")
                    .trim_start_matches("pub(crate) ");
                if let Some(name) = decl.strip_prefix("mod ").and_then(|r| r.strip_suffix(';')) {
                    match &path_attr {
                        Some(p) => out.push(format!("{dir}/{p}")),
                        None => {
                            out.push(format!("{own_dir}/{name}.rs"));
                            out.push(format!("{own_dir}/{name}/mod.rs"));
                        }
                    }
                }
                break;
            }
        }
    }
    out
}

/// The source with comments removed and the contents of string and character literals
/// blanked, so braces and `crate::` inside them are not read as code.
fn strip(text: &str) -> String {
    let b: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < b.len() && b[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < b.len() {
                if b[i] == '/' && b.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if b[i] == '*' && b.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            out.push(' ');
        } else if c == 'r' && (next == Some('"') || next == Some('#')) && !ident_before(&b, i) {
            // A raw string: r"..." or r#"..."#.
            let mut j = i + 1;
            let mut hashes = 0;
            while b.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if b.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            j += 1;
            while j < b.len() {
                if b[j] == '"' && (0..hashes).all(|k| b.get(j + 1 + k) == Some(&'#')) {
                    j += 1 + hashes;
                    break;
                }
                j += 1;
            }
            out.push_str("\"\"");
            i = j;
        } else if c == '"' {
            i += 1;
            while i < b.len() && b[i] != '"' {
                if b[i] == '\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
            out.push_str("\"\"");
        } else if c == '\'' {
            // A character literal ('x', '\n', '\u{..}'), or else a lifetime.
            if next == Some('\\') {
                let mut j = i + 2;
                while j < b.len() && b[j] != '\'' {
                    j += 1;
                }
                i = j + 1;
                out.push_str("' '");
            } else if b.get(i + 2) == Some(&'\'') {
                i += 3;
                out.push_str("' '");
            } else {
                out.push(c);
                i += 1;
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

fn ident_before(b: &[char], i: usize) -> bool {
    i > 0 && (b[i - 1].is_alphanumeric() || b[i - 1] == '_')
}

/// `code` without the items marked `#[cfg(test)]` (up to their `;` or their closing brace).
fn drop_test_items(code: &str) -> String {
    const MARK: &str = "#[cfg(test)]";
    let mut out = String::with_capacity(code.len());
    let mut rest = code;
    while let Some(at) = rest.find(MARK) {
        out.push_str(&rest[..at]);
        let after = &rest[at + MARK.len()..];
        let mut depth = 0usize;
        let mut end = after.len();
        for (i, c) in after.char_indices() {
            match c {
                ';' if depth == 0 => {
                    end = i + 1;
                    break;
                }
                '{' => depth += 1,
                '}' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        end = i + 1;
                        break;
                    }
                }
                _ => {}
            }
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Root {
    Crate,
    SelfMod,
    /// `super::` repeated N times.
    Super(usize),
}

/// Every `crate::`, `self::` and `super::` path in `code`, use trees expanded.
fn references(code: &str, out: &mut Vec<(Root, Vec<String>)>) {
    let b: Vec<char> = code.chars().collect();
    let mut i = 0;
    while i < b.len() {
        if ident_before(&b, i) || (i > 0 && b[i - 1] == ':') {
            i += 1;
            continue;
        }
        let root = if starts(&b, i, "crate::") {
            i += "crate::".len();
            Root::Crate
        } else if starts(&b, i, "self::") {
            i += "self::".len();
            Root::SelfMod
        } else if starts(&b, i, "super::") {
            let mut n = 0;
            while starts(&b, i, "super::") {
                i += "super::".len();
                n += 1;
            }
            Root::Super(n)
        } else {
            i += 1;
            continue;
        };
        i = tree(&b, i, root, Vec::new(), out);
    }
}

fn starts(b: &[char], i: usize, s: &str) -> bool {
    s.chars().enumerate().all(|(k, c)| b.get(i + k) == Some(&c))
}

fn skip_space(b: &[char], mut i: usize) -> usize {
    while b.get(i).is_some_and(|c| c.is_whitespace()) {
        i += 1;
    }
    i
}

/// Reads one use tree (or code path) at `i` under `prefix`; returns where it ends.
fn tree(
    b: &[char],
    mut i: usize,
    root: Root,
    mut prefix: Vec<String>,
    out: &mut Vec<(Root, Vec<String>)>,
) -> usize {
    loop {
        i = skip_space(b, i);
        if b.get(i) == Some(&'{') {
            i += 1;
            loop {
                i = skip_space(b, i);
                match b.get(i) {
                    Some('}') => return i + 1,
                    Some(',') => i += 1,
                    None => return i,
                    _ => {
                        let before = i;
                        i = tree(b, i, root, prefix.clone(), out);
                        if i == before {
                            i += 1;
                        }
                    }
                }
            }
        }
        if b.get(i) == Some(&'*') {
            out.push((root, prefix));
            return i + 1;
        }
        let start = i;
        while b.get(i).is_some_and(|c| c.is_alphanumeric() || *c == '_') {
            i += 1;
        }
        if i == start {
            if !prefix.is_empty() {
                out.push((root, prefix));
            }
            return i;
        }
        prefix.push(b[start..i].iter().collect());
        if starts(b, i, "::") {
            i += 2;
        } else {
            out.push((root, prefix));
            return i;
        }
    }
}
