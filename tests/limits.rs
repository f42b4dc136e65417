//! Kernel limits caught before the kernel, run with `rtrace --compile-only` (no root): values
//! over the 512-byte stack compile (they go to scratch space); values over the scratch space,
//! jumps over the 16-bit offsets, programs over the instruction limit and scripts with
//! thousands of probes end in a spanned diagnostic, never a panic.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What one compile-only run printed.
struct Outcome {
    code: Option<i32>,
    stderr: String,
    took: Duration,
}

/// Compiles `text` as NAME.bt in a fresh temporary directory; kills rtrace after `limit`.
fn compile_only(name: &str, text: &str, limit: Duration) -> Outcome {
    let dir = std::env::temp_dir().join(format!("rtrace-limits-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temporary directory");
    let file = format!("{name}.bt");
    std::fs::write(dir.join(&file), text).expect("script written");
    let start = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_rtrace"))
        .args(["--compile-only", &file])
        .current_dir(&dir)
        .env(
            "RTRACE_TRACEFS",
            concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/tracefs"),
        )
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("rtrace runs");
    let mut pipe = child.stderr.take().expect("stderr piped");
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = pipe.read_to_string(&mut s);
        s
    });
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break Some(status);
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let took = start.elapsed();
    let stderr = reader.join().unwrap_or_default();
    let _ = std::fs::remove_dir_all(&dir);
    Outcome {
        code: status.and_then(|s| s.code()),
        stderr,
        took,
    }
}

/// The script must be rejected with `message` in a diagnostic that points into it.
fn rejected(name: &str, text: &str, message: &str, limit: Duration) {
    let out = compile_only(name, text, limit);
    let head: String = out.stderr.chars().take(800).collect();
    assert!(
        out.took <= limit,
        "{name}: no answer within {limit:?}\n{head}"
    );
    assert_eq!(out.code, Some(1), "{name}: exit status\n{head}");
    assert!(!out.stderr.contains("panicked"), "{name}: panic\n{head}");
    assert!(
        out.stderr.contains(message),
        "{name}: expected '{message}'\n{head}"
    );
    assert!(
        out.stderr.contains(&format!("{name}.bt:1:")),
        "{name}: no span\n{head}"
    );
}

fn repeat(item: &str, n: usize, sep: &str) -> String {
    vec![item; n].join(sep)
}

/// The script must compile: what does not fit the stack goes to scratch space.
fn accepted(name: &str, text: &str) {
    let out = compile_only(name, text, Duration::from_secs(10));
    let head: String = out.stderr.chars().take(800).collect();
    assert_eq!(out.code, Some(0), "{name}: exit status\n{head}");
}

/// Scripts whose values need more than the kernel's 512 bytes of stack: their values move to
/// per-CPU scratch space (tests/kernel.rs runs some and checks what they print).
#[test]
fn values_over_512_bytes_of_stack_compile() {
    let vars: Vec<String> = (0..40).map(|i| format!("$s{i} = comm;")).collect();
    let uses: Vec<String> = (0..40).map(|i| format!("$s{i}")).collect();
    for (name, text) in [
        (
            "tuple",
            format!("BEGIN {{ $t = ({}); }}\n", repeat("comm", 40, ", ")),
        ),
        (
            "key",
            format!("BEGIN {{ @x[{}] = 1; }}\n", repeat("comm", 40, ", ")),
        ),
        (
            "value",
            format!("BEGIN {{ @x = ({}); }}\n", repeat("comm", 40, ", ")),
        ),
        (
            "printf",
            format!(
                "BEGIN {{ printf(\"{}\\n\", {}); }}\n",
                repeat("%s", 40, ""),
                repeat("comm", 40, ", ")
            ),
        ),
        (
            "variables",
            format!(
                "BEGIN {{ {} printf(\"{}\\n\", {}); }}\n",
                vars.join(" "),
                repeat("%s", 40, ""),
                uses.join(", ")
            ),
        ),
    ] {
        accepted(name, &text);
    }
}

#[test]
fn values_over_the_scratch_space() {
    let text = format!("BEGIN {{ @x = ({}); }}\n", repeat("comm", 2100, ", "));
    rejected(
        "scratch",
        &text,
        "bytes for its values; the stack holds 512 and scratch space 32768",
        Duration::from_secs(30),
    );
}

#[test]
fn a_jump_over_32767_instructions() {
    let text = "tracepoint:syscalls:sys_enter_openat { if (pid) { unroll(100) { unroll(60) \
                { @x[pid] = 1; } } } }\n";
    rejected(
        "jump",
        text,
        "eBPF jumps reach at most",
        Duration::from_secs(60),
    );
}

/// 100^3 copies of a map update: millions of instructions, over the kernel's limit of one
/// million; the compiler must say so promptly instead of allocating registers for all of them.
#[test]
fn a_probe_over_a_million_instructions() {
    let text = "tracepoint:syscalls:sys_enter_openat { unroll(100) { unroll(100) { unroll(100) \
                { @x = 1; } } } }\n";
    rejected(
        "million",
        text,
        "unroll expands to",
        Duration::from_secs(20),
    );
}

/// More probes than bpftrace's default limits of 512 get a diagnostic, as in bpftrace: the
/// limit on generated programs (one per attach point) first, then the one on probes.
#[test]
fn five_thousand_probes_are_over_the_limit() {
    let text: String = (1..=5000)
        .map(|i| format!("interval:s:{i} {{ @c = count(); }}\n"))
        .collect();
    let out = compile_only("many", &text, Duration::from_secs(20));
    assert_eq!(out.code, Some(1), "5000 probes: {}", out.stderr);
    assert!(
        out.stderr.contains("exceeds the current limit of 512")
            && out.stderr.contains("BPFTRACE_MAX_BPF_PROGS"),
        "{}",
        out.stderr
    );
}

/// Hundreds of probes compile; each is its own program, so nothing here nears a limit.
#[test]
fn five_hundred_probes_compile() {
    let text: String = (1..=500)
        .map(|i| format!("interval:s:{i} {{ @c = count(); }}\n"))
        .collect();
    let limit = Duration::from_secs(60);
    let out = compile_only("probes", &text, limit);
    let head: String = out.stderr.chars().take(800).collect();
    assert!(out.took <= limit, "500 probes: no answer within {limit:?}");
    assert_eq!(out.code, Some(0), "500 probes\n{head}");
}

/// `!` over `-` over `!` ...: each `!` must lower its operand once, not once as a value and
/// again as a condition, or 30 levels take 2^30 copies (found by the `compile` fuzz target).
#[test]
fn alternating_not_and_negate_compile_promptly() {
    let text = format!("BEGIN {{ $a = {}1; }}\n", repeat("!-", 30, ""));
    let limit = Duration::from_secs(10);
    let out = compile_only("not_neg", &text, limit);
    let head: String = out.stderr.chars().take(800).collect();
    assert!(out.took <= limit, "!-!-...: no answer within {limit:?}");
    assert_eq!(out.code, Some(0), "!-!-...\n{head}");
}
