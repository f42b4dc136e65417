//! Random-script testing: generate, predict with the reference, run in the kernel, shrink and save failures (env: RTRACE_RANDOM_SEED, _COUNT, _JOBS).
//!
//! A saved failure is `NAME.bt` beside its expected `NAME.out`, and, when the script reads
//! memory or sets a string size, `NAME.data` (the bytes given as its last argument) and
//! `NAME.strlen` (`BPFTRACE_STRLEN`).

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
/// Scripts per run when `RTRACE_RANDOM_COUNT` is not set: as many as keep the check at about
/// the time 1,000 scripts took before scripts read memory (half of them do now, and those
/// cost about twice as much to compile and load).
const DEFAULT_COUNT: u64 = 700;
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

/// Scripts of one seed tried before giving up on one that fits the stack.
const STACK_TRIES: u64 = 20;

/// rtrace's diagnostics for the script, compiled as the run compiles it (no kernel involved).
fn compile_errors(script: &Script) -> Vec<String> {
    let src = rtrace::source::Source::new("random.bt", script.text());
    let env = rtrace::CompileEnv {
        strlen: script
            .strlen
            .unwrap_or(rtrace::CompileEnv::default().strlen),
        params: vec![String::from_utf8_lossy(&script.data).into_owned()],
        ..rtrace::CompileEnv::default()
    };
    match rtrace::compile(&src, &env) {
        Ok(_) => Vec::new(),
        Err(diags) => diags.into_iter().map(|d| d.message).collect(),
    }
}

/// Whether rtrace compiles the script (shrinking must stay inside the language the generator
/// produces).
fn rtrace_accepts(script: &Script) -> bool {
    compile_errors(script).is_empty()
}

/// The `attempt`th variant of the script of `seed` (the first is `gen::script(seed)`).
fn variant(seed: u64, attempt: u64) -> Script {
    gen::script(seed ^ attempt << 48)
}

/// Runs the first variant of the script of `seed` that fits the stack (the count of those
/// skipped goes to `skipped`): the script, its expected output and the run.
fn run_seed(seed: u64, skipped: &AtomicU64) -> (Script, String, runner::Run) {
    let mut attempt = 0;
    loop {
        let script = variant(seed, attempt);
        let expected = match reference::expected(&script) {
            Ok(e) => e,
            Err(e) => panic!(
                "the generator made a script the reference rejects ({e}); seed {seed}, variant \
                 {attempt}:\n{}",
                script.text()
            ),
        };
        let run = runner::run_script(&script);
        if run.matches(&expected) || attempt + 1 == STACK_TRIES || !run.out_of_stack() {
            return (script, expected, run);
        }
        skipped.fetch_add(1, Ordering::Relaxed);
        attempt += 1;
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
    let skipped = AtomicU64::new(0);
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
                let (script, expected, run) = run_seed(seed, &skipped);
                checks.fetch_add(expected.lines().count() as u64, Ordering::Relaxed);
                if !run.matches(&expected) {
                    stop.store(true, Ordering::SeqCst);
                    failures
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push(Failure {
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
        "random scripts: {done} run (seeds {base}..), {} output lines checked, {} variants \
         too big for the stack skipped, in {:.1?}",
        checks.load(Ordering::Relaxed),
        skipped.load(Ordering::Relaxed),
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
    let run = runner::run_script(&small);
    let saved = save(&format!("seed_{}", first.seed), &small, &expected);
    panic!(
        "seed {} failed (reproduce with RTRACE_RANDOM_SEED={} RTRACE_RANDOM_COUNT=1)\n\
         === shrunk (kept as {}; {}):\n{}\n=== original ({}):\n{original}",
        first.seed,
        first.seed,
        saved.display(),
        run_env(&small),
        describe(&text, &expected, &run),
        run_env(&first.script),
    );
}

/// How the script runs besides its text: `BPFTRACE_STRLEN` and its data argument.
fn run_env(script: &Script) -> String {
    format!(
        "BPFTRACE_STRLEN={}, data argument {:?}",
        script
            .strlen
            .map_or_else(|| "unset".to_string(), |n| n.to_string()),
        String::from_utf8_lossy(&script.data)
    )
}

/// The smallest variant of a failing script that still fails.
fn shrink_failure(script: &Script) -> Script {
    let valid = |s: &Script| reference::expected(s).is_ok() && rtrace_accepts(s);
    let fails = |s: &Script| match reference::expected(s) {
        Ok(exp) => !runner::run_script(s).matches(&exp),
        Err(_) => false,
    };
    shrink::shrink(script.clone(), &valid, &fails, SHRINK_BUDGET)
}

/// Writes `NAME.bt`, its expected `NAME.out` and its `NAME.data` and `NAME.strlen` when it has
/// them into the regression directory, unless a saved regression already holds the same script.
fn save(name: &str, script: &Script, expected: &str) -> PathBuf {
    let dir = regressions_dir();
    let text = script.text();
    if let Some(same) = saved_scripts()
        .into_iter()
        .find(|p| std::fs::read_to_string(p).is_ok_and(|t| t == text))
    {
        return same;
    }
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join(format!("{name}.bt"));
    let _ = std::fs::write(&path, &text);
    let _ = std::fs::write(dir.join(format!("{name}.out")), expected);
    if !script.data.is_empty() {
        let _ = std::fs::write(dir.join(format!("{name}.data")), &script.data);
    }
    if let Some(n) = script.strlen {
        let _ = std::fs::write(dir.join(format!("{name}.strlen")), format!("{n}\n"));
    }
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
        let data = std::fs::read(path.with_extension("data")).unwrap_or_default();
        let strlen = std::fs::read_to_string(path.with_extension("strlen"))
            .ok()
            .and_then(|s| s.trim().parse().ok());
        let run = runner::run_args(&runner::arguments(&text, &data), strlen);
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
