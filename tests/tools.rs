//! The tools of bpftrace's package (/usr/sbin/*.bt): every one compiles with `--compile-only`
//! (what this machine lacks, such as kprobes, is a warning there; a member this kernel's
//! structs no longer have is an error in both tracers), and every one that starts
//! under bpftrace 0.17 here and needs nothing this kernel lacks also starts under rtrace and
//! stops cleanly on Ctrl-C (as root).

mod common;

use common::{command, kernel_test, no_panic, Running};
use std::path::PathBuf;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_rtrace");

/// The package's tools, sorted; the test fails when the bpftrace package is missing.
fn tools() -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/sbin")
        .map(|d| {
            d.flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "bt"))
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    assert!(
        found.len() >= 30,
        "bpftrace's tools are missing from /usr/sbin (apt-get install -y bpftrace): {found:?}"
    );
    found
}

#[test]
fn every_tool_compiles() {
    let mut failed = Vec::new();
    for tool in tools() {
        let out = common::run(command(
            BIN,
            &["--compile-only", &tool.display().to_string()],
        ));
        no_panic(&out);
        if out.code != Some(0) && !stale_for_this_kernel(&tool, &out.stderr) {
            failed.push(format!("{}:\n{}", tool.display(), out.stderr));
        }
    }
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}

/// Whether a tool failed only because it reads a kernel struct member that this kernel's BTF
/// no longer has (runqlen's `cfs_rq.nr_running`, `nr_queued` since Linux 6.13), which
/// bpftrace 0.17 also refuses here, naming the same member.
fn stale_for_this_kernel(tool: &std::path::Path, stderr: &str) -> bool {
    let Some(member) = stderr
        .lines()
        .find_map(|l| l.split_once(" has no member '"))
        .and_then(|(_, rest)| rest.split_once('\''))
        .map(|(m, _)| m.to_string())
    else {
        return false;
    };
    let reference = common::run(command(
        "timeout",
        &["10", "bpftrace", &tool.display().to_string()],
    ));
    reference.code != Some(0)
        && reference
            .stderr
            .contains(&format!("does not contain a field named '{member}'"))
}

/// Starts `tracer TOOL`, waits until every probe is attached, then sends Ctrl-C. An error
/// (the output it gave instead) when it never attached, else how it ended.
fn start_and_stop(tracer: &str, tool: &str) -> Result<common::Output, String> {
    // Both tracers print this marker on stderr once every probe is attached.
    let mut cmd = command(tracer, &[tool]);
    cmd.env("__BPFTRACE_NOTIFY_PROBES_ATTACHED", "1");
    let mut run = Running::start(cmd);
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if run.stderr().contains("__BPFTRACE_NOTIFY_PROBES_ATTACHED") {
            break;
        }
        if Instant::now() > deadline || run.exited() {
            run.signal_if_running(libc::SIGKILL);
            let out = run.finish();
            return Err(format!("{}{}", out.stdout, out.stderr));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    // Let BEGIN run and the first events arrive.
    std::thread::sleep(Duration::from_millis(300));
    run.signal_if_running(libc::SIGINT);
    if tracer == "bpftrace" {
        // bpftrace 0.17 misses a SIGINT that lands after it printed the marker and before
        // its poll loop starts (the handler only sets a flag, which the loop reads on EINTR
        // alone): on a busy machine it then runs on. Another SIGINT interrupts the loop.
        let deadline = Instant::now() + Duration::from_secs(15);
        while !run.exited() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(500));
            run.signal_if_running(libc::SIGINT);
        }
    }
    Ok(run.finish())
}

#[test]
fn tools_bpftrace_runs_here_start_and_stop_under_rtrace() {
    kernel_test(|| {
        let mut checked = Vec::new();
        let mut failed = Vec::new();
        for tool in tools() {
            let tool = tool.display().to_string();
            // A tool needing what this kernel lacks (kprobes, fentry) is refused by rtrace at
            // compile time, on purpose; bpftrace 0.17 may still print that it attached them.
            let check = common::run(command(BIN, &["--compile-only", &tool]));
            if check.stderr.contains("it cannot run on this machine") {
                continue;
            }
            if start_and_stop("bpftrace", &tool).is_err() {
                // bpftrace 0.17 cannot run it on this kernel (kprobes, missing symbols).
                continue;
            }
            match start_and_stop(BIN, &tool) {
                Ok(out) => {
                    no_panic(&out);
                    if out.code != Some(0) {
                        failed.push(format!("{tool}: exit {:?}: {}", out.code, out.stderr));
                    }
                }
                Err(text) => failed.push(format!("{tool}: never attached: {text}")),
            }
            checked.push(tool);
        }
        assert!(failed.is_empty(), "{}", failed.join("\n"));
        assert!(
            checked.len() >= 5,
            "bpftrace ran only {checked:?} here: is this the kernel the tests expect?"
        );
        eprintln!("started and stopped under both: {checked:?}");
    });
}
