//! Malformed scripts: every tests/malformed/*.bt (written by generate.py there) must be rejected
//! by `rtrace --compile-only` with exit 1 and a spanned diagnostic, within a second, no panic.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long one script may take to be rejected.
const LIMIT: Duration = Duration::from_secs(1);

#[test]
fn malformed_scripts_get_a_spanned_diagnostic() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/malformed");
    let mut scripts: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/malformed exists")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "bt"))
        .collect();
    scripts.sort();
    assert!(scripts.len() >= 200, "only {} scripts", scripts.len());

    let queue = Arc::new(Mutex::new(scripts.clone()));
    let failures = Arc::new(Mutex::new(Vec::new()));
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get().min(8));
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let queue = Arc::clone(&queue);
            let failures = Arc::clone(&failures);
            std::thread::spawn(move || {
                while let Some(script) = queue.lock().ok().and_then(|mut q| q.pop()) {
                    if let Err(why) = check(&script) {
                        if let Ok(mut f) = failures.lock() {
                            f.push(why);
                        }
                    }
                }
            })
        })
        .collect();
    for w in workers {
        w.join().expect("worker thread");
    }
    let mut failures = failures.lock().expect("failures").clone();
    failures.sort();
    assert!(
        failures.is_empty(),
        "{} of {} malformed scripts misbehave:\n\n{}",
        failures.len(),
        scripts.len(),
        failures.join("\n\n")
    );
}

/// Runs one script; the reason it fails the contract, if it does.
fn check(script: &Path) -> Result<(), String> {
    let name = script
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or("bad file name")?;
    let start = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_rtrace"))
        .arg("--compile-only")
        .arg(name)
        .current_dir(script.parent().ok_or("no directory")?)
        .env(
            "RTRACE_TRACEFS",
            concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/tracefs"),
        )
        .env_remove("RUST_BACKTRACE")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{name}: cannot run rtrace: {e}"))?;
    let took = start.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let head: String = stderr.chars().take(600).collect();
    let mut wrong = Vec::new();
    match out.status.code() {
        Some(1) => {}
        Some(c) => wrong.push(format!("exit {c}, not 1")),
        None => wrong.push(format!("killed by a signal ({:?})", out.status)),
    }
    if stderr.contains("panicked") || stderr.contains("RUST_BACKTRACE") {
        wrong.push("panicked".into());
    }
    if !has_span(&stderr, name) {
        wrong.push(format!("no '{name}:LINE:COL' in stderr"));
    }
    if took > LIMIT {
        wrong.push(format!("took {} ms", took.as_millis()));
    }
    if wrong.is_empty() {
        Ok(())
    } else {
        Err(format!("{name}: {}\n{head}", wrong.join(", ")))
    }
}

/// Does the rendered diagnostic point into the file, as `NAME:LINE:COL`?
fn has_span(stderr: &str, name: &str) -> bool {
    let pat = format!("{name}:");
    stderr.match_indices(&pat).any(|(i, _)| {
        let mut parts = stderr[i + pat.len()..].splitn(2, ':');
        let line = parts.next().unwrap_or("");
        let col: String = parts
            .next()
            .unwrap_or("")
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        !line.is_empty() && line.bytes().all(|b| b.is_ascii_digit()) && !col.is_empty()
    })
}
