//! Random-script testing: generate, predict with the reference, run in the kernel, shrink and save failures (env: RTRACE_RANDOM_SEED, _COUNT, _JOBS).

pub mod gen;
pub mod reference;
pub mod rng;
pub mod runner;
pub mod script;
pub mod shrink;

use script::Script;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

/// The first seed when `RTRACE_RANDOM_SEED` is not set.
const DEFAULT_SEED: u64 = 1;
/// Scripts per run when `RTRACE_RANDOM_COUNT` is not set.
const DEFAULT_COUNT: u64 = 1000;
/// Runs of the binary a shrink may spend.
const SHRINK_BUDGET: usize = 1500;

/// Where shrunk failures are kept, each `NAME.bt` beside its expected `NAME.out`.
pub fn regressions_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/regressions/random")
}

fn env_u64(name: &str) -> Option<u64> {
    let v = std::env::var(name).ok()?;
    match v.trim().strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => v.trim().parse().ok(),
    }
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// Whether rtrace's own parser and checker accept the script (shrinking must stay inside the
/// language the generator produces).
fn rtrace_accepts(text: &str) -> bool {
    let src = rtrace::source::Source::new("random.bt", text);
    match rtrace::parse::parse(&src) {
        Ok(prog) => rtrace::sema::check(&prog, &rtrace::sema::Env::default()).is_ok(),
        Err(_) => false,
    }
}

/// A script that did not print what the reference predicts.
struct Failure {
    seed: u64,
    script: Script,
    expected: String,
    run: runner::Run,
}

fn describe(text: &str, expected: &str, run: &runner::Run) -> String {
    format!(
        "--- script:\n{text}--- expected stdout:\n{expected}--- rtrace stdout (exit code {:?}):\n{}--- rtrace stderr:\n{}",
        run.code, run.stdout, run.stderr
    )
}

/// Generates and checks `RTRACE_RANDOM_COUNT` scripts from `RTRACE_RANDOM_SEED`, two at a time.
pub fn check_many() {
    let base = env_u64("RTRACE_RANDOM_SEED").unwrap_or(DEFAULT_SEED);
    let count = env_u64("RTRACE_RANDOM_COUNT").unwrap_or(DEFAULT_COUNT);
    let next = AtomicU64::new(0);
    let stop = AtomicBool::new(false);
    let failures: Mutex<Vec<Failure>> = Mutex::new(Vec::new());
    let checks = AtomicU64::new(0);
    let start = Instant::now();
    // Runs wait on the kernel (program load, map teardown) as much as on the CPU: two scripts
    // a core keeps both cores busy.
    let workers = env_u64("RTRACE_RANDOM_JOBS").map_or(2 * cores(), |j| j.max(1) as usize);
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= count || stop.load(Ordering::SeqCst) {
                    break;
                }
                let seed = base.wrapping_add(i);
                let script = gen::script(seed);
                let text = script.text();
                let expected = match reference::expected(&script) {
                    Ok(e) => e,
                    Err(e) => panic!("the generator made a script the reference rejects ({e}); seed {seed}:\n{text}"),
                };
                checks.fetch_add(expected.lines().count() as u64, Ordering::Relaxed);
                let run = runner::run_script(&text);
                if !run.matches(&expected) {
                    stop.store(true, Ordering::SeqCst);
                    failures.lock().unwrap_or_else(|e| e.into_inner()).push(Failure {
                        seed,
                        script,
                        expected,
                        run,
                    });
                }
            });
        }
    });
    let done = next.load(Ordering::SeqCst).min(count);
    eprintln!(
        "random scripts: {done} run (seeds {base}..), {} output lines checked, in {:.1?}",
        checks.load(Ordering::Relaxed),
        start.elapsed()
    );
    let mut failures = failures.into_inner().unwrap_or_else(|e| e.into_inner());
    failures.sort_by_key(|f| f.seed);
    let Some(first) = failures.into_iter().next() else {
        return;
    };
    let original = describe(&first.script.text(), &first.expected, &first.run);
    let small = shrink_failure(&first.script);
    let text = small.text();
    let expected = reference::expected(&small).unwrap_or_default();
    let run = runner::run_script(&text);
    let saved = save(&format!("seed_{}", first.seed), &text, &expected);
    panic!(
        "seed {} failed (reproduce with RTRACE_RANDOM_SEED={} RTRACE_RANDOM_COUNT=1)\n\
         === shrunk (kept as {}):\n{}\n=== original:\n{original}",
        first.seed,
        first.seed,
        saved.display(),
        describe(&text, &expected, &run),
    );
}

/// The smallest variant of a failing script that still fails.
fn shrink_failure(script: &Script) -> Script {
    let valid = |s: &Script| reference::expected(s).is_ok() && rtrace_accepts(&s.text());
    let fails = |s: &Script| match reference::expected(s) {
        Ok(exp) => !runner::run_script(&s.text()).matches(&exp),
        Err(_) => false,
    };
    shrink::shrink(script.clone(), &valid, &fails, SHRINK_BUDGET)
}

/// Writes `NAME.bt` and its expected `NAME.out` into the regression directory, unless a saved
/// regression already holds the same script.
fn save(name: &str, text: &str, expected: &str) -> PathBuf {
    let dir = regressions_dir();
    if let Some(same) = saved_scripts()
        .into_iter()
        .find(|p| std::fs::read_to_string(p).is_ok_and(|t| t == text))
    {
        return same;
    }
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join(format!("{name}.bt"));
    let _ = std::fs::write(&path, text);
    let _ = std::fs::write(dir.join(format!("{name}.out")), expected);
    path
}

/// The saved regression scripts, sorted.
fn saved_scripts() -> Vec<PathBuf> {
    let mut names: Vec<PathBuf> = std::fs::read_dir(regressions_dir())
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "bt"))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// Runs every saved regression script and compares its stdout with the saved expectation.
pub fn check_regressions() {
    let names = saved_scripts();
    let mut failed = Vec::new();
    for path in &names {
        let expected = std::fs::read_to_string(path.with_extension("out"))
            .unwrap_or_else(|e| panic!("{}: no expected output: {e}", path.display()));
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let run = runner::run_args(&[&path.to_string_lossy()]);
        if !run.matches(&expected) {
            failed.push(format!(
                "=== {}\n{}",
                path.display(),
                describe(&text, &expected, &run)
            ));
        }
    }
    assert!(
        failed.is_empty(),
        "{} of {} random regressions fail:\n{}",
        failed.len(),
        names.len(),
        failed.join("\n")
    );
}
