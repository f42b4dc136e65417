//! docs/reference.md is checked here: every ```rtrace example runs (as root) and, where an
//! ```output block follows it, prints exactly that; every builtin, function, map function and
//! probe type rtrace offers has its own section, so the reference cannot fall behind.
//!
//! An example's fence says how it runs: ```rtrace [FLAGS...] [-c CMD...] runs `rtrace FLAGS -e
//! EXAMPLE -c CMD`; ```rtrace compile only compiles it (probe types this kernel lacks);
//! ```rtrace fails expects exit code 1 and a spanned error (what rtrace cannot do here);
//! ```rtrace if-exists PATH ... runs it only where PATH exists.

mod common;

use common::{command, kernel_test, no_panic};
use std::collections::BTreeSet;
use std::path::Path;

const BIN: &str = env!("CARGO_BIN_EXE_rtrace");

struct Example {
    line: usize,
    fence: Vec<String>,
    code: String,
    output: Option<String>,
}

fn reference() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/reference.md");
    std::fs::read_to_string(path).expect("docs/reference.md")
}

/// The lines of a fenced block starting after line `start`, up to its closing fence.
fn block(lines: &[&str], start: usize) -> (String, usize) {
    let mut end = start + 1;
    while end < lines.len() && lines[end] != "```" {
        end += 1;
    }
    let mut text = lines[start + 1..end].join("\n");
    text.push('\n');
    (text, end)
}

fn examples(text: &str) -> Vec<Example> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let Some(info) = lines[i].strip_prefix("```rtrace") else {
            i += 1;
            continue;
        };
        let (code, end) = block(&lines, i);
        let mut ex = Example {
            line: i + 1,
            fence: info.split_whitespace().map(String::from).collect(),
            code,
            output: None,
        };
        i = end + 1;
        if lines.get(i) == Some(&"```output") {
            let (output, end) = block(&lines, i);
            ex.output = Some(output);
            i = end + 1;
        }
        out.push(ex);
    }
    out
}

/// The names in backquotes of every `### ` heading.
fn sections(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter_map(|l| l.strip_prefix("### "))
        .flat_map(|h| h.split('`').skip(1).step_by(2).map(String::from))
        .collect()
}

#[test]
fn every_builtin_and_probe_type_has_a_section() {
    use rtrace::builtins::{all, Kind};
    let documented = sections(&reference());
    let mut missing = Vec::new();
    for kind in [Kind::Variable, Kind::Function, Kind::MapFunction] {
        for b in all(kind) {
            if !documented.contains(b.name) {
                missing.push(b.name);
            }
        }
    }
    for p in rtrace::probes::PROVIDERS.iter() {
        if !documented.contains(p.name) {
            missing.push(p.name);
        }
    }
    assert!(
        missing.is_empty(),
        "docs/reference.md has no section for {missing:?}"
    );
}

#[test]
fn every_example_runs_as_documented() {
    let text = reference();
    let all = examples(&text);
    assert!(all.len() > 50, "only {} examples found", all.len());
    kernel_test(|| {
        let mut failures = Vec::new();
        for ex in &all {
            let mut fence = ex.fence.clone();
            if fence.first().map(String::as_str) == Some("if-exists") {
                let path = fence.get(1).cloned().unwrap_or_default();
                fence.drain(..2.min(fence.len()));
                if !Path::new(&path).exists() {
                    eprintln!("docs/reference.md:{}: skipped, no {path} here", ex.line);
                    continue;
                }
            }
            let fails = fence.first().map(String::as_str) == Some("fails");
            if fails {
                fence.remove(0);
            }
            let mut args: Vec<String> = Vec::new();
            let mut cmd: Option<String> = None;
            let mut it = fence.iter();
            while let Some(w) = it.next() {
                match w.as_str() {
                    "compile" => args.push("--compile-only".into()),
                    "-c" => cmd = Some(it.by_ref().cloned().collect::<Vec<_>>().join(" ")),
                    other => args.push(other.into()),
                }
            }
            args.push("-e".into());
            args.push(ex.code.clone());
            if let Some(c) = cmd {
                args.push("-c".into());
                args.push(c);
            }
            let argv: Vec<&str> = args.iter().map(String::as_str).collect();
            let out = common::run(command(BIN, &argv));
            no_panic(&out);
            let problem = if fails {
                (out.code != Some(1)
                    || !out.stderr.to_lowercase().contains("error:")
                    || !out.stderr.contains("┌─"))
                .then(|| {
                    format!(
                        "expected a spanned error, got {:?}: {}",
                        out.code, out.stderr
                    )
                })
            } else if out.code != Some(0) {
                Some(format!("exit code {:?}: {}", out.code, out.stderr))
            } else {
                match &ex.output {
                    Some(want) if *want != out.stdout => {
                        Some(format!("printed:\n{}\nnot:\n{want}", out.stdout))
                    }
                    _ => None,
                }
            };
            if let Some(p) = problem {
                failures.push(format!("docs/reference.md:{}: {p}", ex.line));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    });
}
