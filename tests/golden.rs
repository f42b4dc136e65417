//! Golden tests: run the built `rtrace` on every tests/golden/<kind>/NAME.bt and compare with the
//! expected file beside it. `UPDATE_GOLDEN=1 cargo test --test golden` rewrites the expectations.
//!
//! A directory named after a dump kind (`ast`, `types`, `ir`, `bpf`, ...) runs
//! `rtrace --dump <kind> NAME.bt` and expects stdout in `NAME.<kind>`; the directory `errors` runs
//! `rtrace --compile-only NAME.bt` and expects stderr then a line `exit: N` in `NAME.stderr`;
//! the directory `run` runs `rtrace NAME.bt` on the real kernel (as root) and expects stdout in
//! `NAME.out`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

#[test]
fn golden() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let mut failures = Vec::new();
    let mut checked = 0;
    for dir in sorted_entries(&root).into_iter().filter(|p| p.is_dir()) {
        for script in sorted_entries(&dir) {
            if script.extension().is_some_and(|e| e == "bt") {
                checked += 1;
                if let Err(message) = check(&script) {
                    failures.push(message);
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} golden files differ (UPDATE_GOLDEN=1 rewrites them):\n\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn sorted_entries(dir: &Path) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = fs::read_dir(dir)
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    paths.sort();
    paths
}

/// Runs one golden script and compares (or, with UPDATE_GOLDEN=1, rewrites) its expectation.
fn check(script: &Path) -> Result<(), String> {
    let dir = script.parent().ok_or("script has no directory")?;
    let kind = dir
        .file_name()
        .and_then(|k| k.to_str())
        .ok_or("bad directory name")?;
    let name = script
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or("bad file name")?;
    let (args, expected_path) = if kind == "errors" {
        (
            vec!["--compile-only", name],
            script.with_extension("stderr"),
        )
    } else if kind == "run" {
        (vec![name], script.with_extension("out"))
    } else {
        (vec!["--dump", kind, name], script.with_extension(kind))
    };
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rtrace"));
    cmd.args(&args).current_dir(dir);
    if kind != "run" {
        // Tracepoint formats come from a copy of this kernel's tracefs: no root needed.
        cmd.env(
            "RTRACE_TRACEFS",
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tracefs"),
        );
    }
    let output = cmd
        .output()
        .map_err(|e| format!("{}: cannot run rtrace: {e}", script.display()))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let code = output.status.code().unwrap_or(-1);
    let actual = if kind == "errors" {
        format!("{stderr}exit: {code}\n")
    } else if code == 0 {
        stdout.into_owned()
    } else {
        format!("{stdout}--- stderr\n{stderr}exit: {code}\n")
    };
    if std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1") {
        return fs::write(&expected_path, &actual)
            .map_err(|e| format!("{}: cannot write: {e}", expected_path.display()));
    }
    let expected = fs::read_to_string(&expected_path).unwrap_or_default();
    if expected == actual {
        return Ok(());
    }
    Err(format!(
        "--- {} (expected)\n+++ rtrace {} (actual)\n{}",
        expected_path.display(),
        args.join(" "),
        diff(&expected, &actual)
    ))
}

/// A line diff (longest common subsequence): `-` expected only, `+` actual only, ` ` both,
/// with unchanged runs longer than six lines elided.
fn diff(expected: &str, actual: &str) -> String {
    let a: Vec<&str> = expected.lines().collect();
    let b: Vec<&str> = actual.lines().collect();
    if a.len() * b.len() > 4_000_000 {
        return format!("(too large to diff: {} vs {} lines)\n", a.len(), b.len());
    }
    // lcs[i][j]: length of the longest common subsequence of a[i..] and b[j..].
    let mut lcs = vec![vec![0u32; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let mut lines = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            lines.push(format!(" {}", a[i]));
            i += 1;
            j += 1;
        } else if i < a.len() && (j == b.len() || lcs[i + 1][j] >= lcs[i][j + 1]) {
            lines.push(format!("-{}", a[i]));
            i += 1;
        } else {
            lines.push(format!("+{}", b[j]));
            j += 1;
        }
    }
    let mut out = String::new();
    let mut k = 0;
    while k < lines.len() {
        let run = lines[k..].iter().take_while(|l| l.starts_with(' ')).count();
        if run > 6 {
            let keep_head = if k == 0 { 0 } else { 3 };
            let keep_tail = if k + run == lines.len() { 0 } else { 3 };
            for l in &lines[k..k + keep_head] {
                out.push_str(l);
                out.push('\n');
            }
            out.push_str(&format!(
                "@@ {} unchanged lines @@\n",
                run - keep_head - keep_tail
            ));
            for l in &lines[k + run - keep_tail..k + run] {
                out.push_str(l);
                out.push('\n');
            }
            k += run;
        } else {
            out.push_str(&lines[k]);
            out.push('\n');
            k += 1;
        }
    }
    out
}

/// A format file as tracefs would write it, common fields included.
const OPENAT_FORMAT: &str = "name: sys_enter_openat\nID: 700\nformat:\n\
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\
\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;\n\
\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;\n\
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\n\
\tfield:int __syscall_nr;\toffset:8;\tsize:4;\tsigned:1;\n\
\tfield:int dfd;\toffset:16;\tsize:8;\tsigned:0;\n\
\tfield:const char * filename;\toffset:24;\tsize:8;\tsigned:0;\n\
\tfield:int flags;\toffset:32;\tsize:8;\tsigned:0;\n\
\tfield:umode_t mode;\toffset:40;\tsize:8;\tsigned:0;\n";

/// `args->field` checked against a fixture catalogue: tracepoint formats given as text, so
/// no root, no tracefs, and no `RTRACE_TRACEFS`. The expected `--dump types` output is
/// tests/fixtures/catalogue/args_field.types (`UPDATE_GOLDEN=1` rewrites it).
#[test]
fn args_fields_from_a_fixture_catalogue() {
    use rtrace::probes::catalogue::Fixture;
    use rtrace::source::Source;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/catalogue");
    let script = dir.join("args_field.bt");
    let text = fs::read_to_string(&script).expect("script");
    let source = Source::new("args_field.bt", text);
    let program = rtrace::parse::parse(&source).expect("parses");
    let catalogue = Fixture::new().tracepoint("syscalls", "sys_enter_openat", OPENAT_FORMAT);
    let env = rtrace::sema::Env::default();
    let checked = rtrace::sema::check_with(&program, &env, &catalogue).expect("checks");
    let actual = rtrace::sema::dump::dump(&checked, &source);
    let expected_path = script.with_extension("types");
    if std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1") {
        fs::write(&expected_path, &actual).expect("write");
        return;
    }
    let expected = fs::read_to_string(&expected_path).unwrap_or_default();
    assert_eq!(actual, expected, "{}", expected_path.display());

    // A tracepoint the catalogue lacks is an error on its attach point, not a read of tracefs.
    let missing = Source::new("m.bt", "t:syscalls:sys_enter_close { @ = args->fd; }");
    let program = rtrace::parse::parse(&missing).expect("parses");
    let diags = rtrace::sema::check_with(&program, &env, &catalogue).expect_err("no such");
    assert!(
        diags
            .iter()
            .any(|d| format!("{d:?}").contains("tracepoint not found: syscalls:sys_enter_close")),
        "{diags:?}"
    );
}

#[test]
fn no_warnings_silences_the_warnings() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/errors");
    let output = Command::new(env!("CARGO_BIN_EXE_rtrace"))
        .args(["--compile-only", "--no-warnings", "warnings.bt"])
        .current_dir(&dir)
        .env(
            "RTRACE_TRACEFS",
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tracefs"),
        )
        .output()
        .expect("rtrace runs");
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&output.stderr), "");
}
