//! Kernel tests of teardown: after every way a run can end (signals, exit(), an attach failure, a full map, a closed or full output, SIGKILL, the -p process exiting) no program, map, link or perf event of rtrace's is left.

mod common;

use common::{command, kernel_test, no_panic, Holdings, Output, Running};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_rtrace");

fn me() -> String {
    std::process::id().to_string()
}

fn online_cpus() -> usize {
    thread::available_parallelism().map_or(1, |n| n.get())
}

/// Samples what `pid` holds until it has exited (or become a zombie), and returns the union:
/// for runs too short to look at from the test's own thread.
fn sample_until_exit(pid: i32) -> JoinHandle<Holdings> {
    thread::spawn(move || {
        let mut all = Holdings::default();
        let deadline = Instant::now() + common::TIMEOUT;
        while Instant::now() < deadline {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let state = stat
                .rfind(')')
                .and_then(|i| stat[i + 1..].split_whitespace().next());
            if matches!(state, None | Some("Z") | Some("X")) {
                break;
            }
            let h = common::holdings(pid);
            all.progs.extend(h.progs);
            all.maps.extend(h.maps);
            all.links.extend(h.links);
            all.perf_events = all.perf_events.max(h.perf_events);
            thread::sleep(Duration::from_millis(1));
        }
        all
    })
}

/// What a running rtrace holds once its probes are attached; checks that there is one program
/// per probe, at least `maps` maps, and at least `attachments` links or perf events.
fn held_while_attached(pid: i32, progs: usize, maps: usize, attachments: usize) -> Holdings {
    let h = common::holdings(pid);
    assert_eq!(h.progs.len(), progs, "programs held by rtrace: {h:?}");
    assert!(h.maps.len() >= maps, "maps held by rtrace: {h:?}");
    assert!(
        h.links.len() + h.perf_events >= attachments,
        "links and perf events held by rtrace (want {attachments}): {h:?}"
    );
    // Every program we hold is really loaded, and every link of ours points at one of them.
    let loaded: Vec<u32> = rtrace::bpf::sys::loaded_programs()
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert!(h.progs.iter().all(|id| loaded.contains(id)), "{h:?}");
    for (link, prog) in rtrace::bpf::sys::loaded_links() {
        if h.links.contains(&link) {
            assert!(
                h.progs.contains(&prog),
                "link {link} of program {prog}: {h:?}"
            );
        }
    }
    h
}

/// Six programs of four attach kinds: a tracepoint on our own getpid(), a one-CPU interval,
/// a profile probe on every CPU, a uprobe, plus BEGIN and END.
const MIXED: &str = "BEGIN { printf(\"begin\\n\"); }
tracepoint:syscalls:sys_enter_getpid /pid == $1/ { @g = count(); }
interval:ms:50 { @t = count(); }
profile:hz:49 { @p = count(); }
uprobe:/bin/bash:readline { @r = count(); }
END { printf(\"end\\n\"); }";

/// Starts the mixed script, lets it count three getpid() calls of ours, ends it with `sig`.
fn mixed_run_ended_by(sig: i32) -> (Output, Holdings) {
    let mut run = Running::start(command(BIN, &["-e", MIXED, &me()]));
    run.wait_for_stdout("begin\n");
    // 4 user maps, the ring buffer and the lost counter; 3 single attachments and one per CPU.
    let held = held_while_attached(run.pid(), 6, 6, 3 + online_cpus());
    for _ in 0..3 {
        // SAFETY: getpid has no preconditions; each call fires the probe.
        unsafe { libc::syscall(libc::SYS_getpid) };
    }
    thread::sleep(Duration::from_millis(50));
    let out = if sig == libc::SIGKILL {
        run.kill()
    } else {
        run.signal(sig);
        run.finish()
    };
    (out, held)
}

fn signal_ends_cleanly(sig: i32) {
    kernel_test(|| {
        let (out, held) = mixed_run_ended_by(sig);
        out.expect_code(0);
        no_panic(&out);
        assert!(
            out.stdout.starts_with("Attaching 6 probes...\nbegin\n"),
            "{}",
            out.stdout
        );
        assert!(out.stdout.contains("end\n\n\n"), "END ran: {}", out.stdout);
        assert!(out.stdout.contains("\n@g: 3\n"), "{}", out.stdout);
        assert!(out.stdout.contains("\n@t: "), "{}", out.stdout);
        assert_eq!(out.stderr, "");
        common::assert_released(&held);
    });
}

#[test]
fn sigint_releases_everything() {
    signal_ends_cleanly(libc::SIGINT);
}

#[test]
fn sigterm_releases_everything() {
    signal_ends_cleanly(libc::SIGTERM);
}

#[test]
fn sighup_releases_everything() {
    signal_ends_cleanly(libc::SIGHUP);
}

#[test]
fn sigkill_leaves_nothing_behind() {
    kernel_test(|| {
        let (out, held) = mixed_run_ended_by(libc::SIGKILL);
        assert_eq!(out.code, None, "killed by a signal");
        common::assert_released(&held);
    });
}

#[test]
fn exit_builtin_releases_everything() {
    kernel_test(|| {
        let script = "tracepoint:syscalls:sys_enter_getpid /pid == $1/ { @g = count(); }
            tracepoint:syscalls:sys_enter_getppid /pid == $1/ { exit(); }
            END { printf(\"end\\n\"); }";
        let mut run = Running::start(command(BIN, &["-e", script, &me()]));
        run.wait_for_stdout("Attaching 3 probes...\n");
        let held = held_while_attached(run.pid(), 3, 3, 2);
        // SAFETY: getpid and getppid have no preconditions.
        unsafe {
            libc::syscall(libc::SYS_getpid);
            libc::syscall(libc::SYS_getppid);
        }
        let out = run.finish();
        out.expect_code(0);
        no_panic(&out);
        assert_eq!(out.stdout, "Attaching 3 probes...\nend\n\n\n@g: 1\n");
        common::assert_released(&held);
    });
}

/// rtrace attaches in script order; the second of three attachable probes fails in the middle
/// (its address is in no loaded segment of the file), after the first was attached.
#[test]
fn attach_failure_half_way_releases_everything() {
    kernel_test(|| {
        let script = "BEGIN { printf(\"begin\\n\"); }
            tracepoint:syscalls:sys_enter_getpid { @g = count(); }
            uprobe:/bin/bash:0x7fffffff { @u = count(); }
            tracepoint:syscalls:sys_enter_getppid { @h = count(); }";
        let run = Running::start(command(BIN, &["-e", script]));
        let sampler = sample_until_exit(run.pid());
        let out = run.finish();
        let seen = sampler.join().expect("sampler");
        out.expect_code(1);
        no_panic(&out);
        // BEGIN ran before the probes were attached, but its output is never read: the run
        // stops at the failure, before `Attaching N probes...`.
        assert_eq!(out.stdout, "", "nothing attached, BEGIN's output not read");
        assert!(
            out.stderr.contains("uprobe:/bin/bash:0x7fffffff"),
            "the failing probe is named: {}",
            out.stderr
        );
        assert_eq!(
            out.stderr.to_lowercase().matches("error:").count(),
            1,
            "one message: {}",
            out.stderr
        );
        assert!(
            out.stderr.contains("stdin:3:13"),
            "the message points at the attach point: {}",
            out.stderr
        );
        common::assert_released(&seen);
    });
}

/// A plain hash map holds 4096 entries. Updates of new keys past that fail in the kernel and
/// are dropped without a word (as bpftrace 0.17 does): the run goes on, the other map keeps
/// counting, and it ends cleanly with the 4096 entries that fit.
#[test]
fn full_map_keeps_the_run_going() {
    kernel_test(|| {
        let gate = common::temp_path("full-map-gate");
        let script =
            "tracepoint:syscalls:sys_enter_getpid /pid == cpid/ { @m[nsecs] = 1; @n = count(); }";
        let workload = common::getpid_workload(&gate, 10_000);
        let mut run = Running::start(command(BIN, &["-e", script, "-c", &workload]));
        run.wait_for_stdout("Attaching 1 probe...\n");
        let held = held_while_attached(run.pid(), 1, 2, 1);
        std::fs::write(&gate, "").expect("open the gate");
        let out = run.finish();
        let _ = std::fs::remove_file(&gate);
        let _ = std::fs::remove_file(gate.with_extension("py"));
        out.expect_code(0);
        no_panic(&out);
        let entries = out.stdout.lines().filter(|l| l.starts_with("@m[")).count();
        assert_eq!(entries, 4096, "entries of the full map");
        let n: u64 = out
            .stdout
            .lines()
            .find_map(|l| l.strip_prefix("@n: "))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no @n line:\n{}", out.stdout));
        assert!((10_000..10_100).contains(&n), "@n: {n}");
        assert!(!out.stdout.contains("Lost"), "no event was lost");
        common::assert_released(&held);
    });
}

/// Closing rtrace's stdout (`rtrace ... | head -1`) ends the run quietly: exit 0, no message.
#[test]
fn closed_stdout_ends_the_run_quietly() {
    kernel_test(|| {
        let mut child = Command::new(BIN)
            .args(["-e", "interval:ms:20 { printf(\"tick\\n\"); }"])
            .current_dir("/")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start rtrace");
        let pid = child.id() as i32;
        let mut stdout = BufReader::new(child.stdout.take().expect("piped"));
        let mut line = String::new();
        stdout.read_line(&mut line).expect("first line");
        assert_eq!(line, "Attaching 1 probe...\n");
        let held = held_while_attached(pid, 1, 2, 1);
        drop(stdout);
        let deadline = Instant::now() + common::TIMEOUT;
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait") {
                break status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("rtrace kept running with its stdout closed");
            }
            thread::sleep(Duration::from_millis(5));
        };
        let mut stderr = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().expect("piped"), &mut stderr)
            .expect("stderr");
        assert_eq!(status.code(), Some(0), "stderr: {stderr}");
        assert_eq!(stderr, "");
        common::assert_released(&held);
    });
}

/// A write error other than a closed pipe (`-o /dev/full`) ends the run with one message and
/// exit code 1, after the probes were attached.
#[test]
fn output_write_error_is_one_message() {
    kernel_test(|| {
        let run = Running::start(command(
            BIN,
            &[
                "-o",
                "/dev/full",
                "-e",
                "interval:ms:20 { printf(\"tick\\n\"); }",
            ],
        ));
        let sampler = sample_until_exit(run.pid());
        let out = run.finish();
        let seen = sampler.join().expect("sampler");
        out.expect_code(1);
        no_panic(&out);
        assert_eq!(
            out.stderr,
            "ERROR: cannot write output: No space left on device (os error 28)\n"
        );
        common::assert_released(&seen);
    });
}

/// `-p PID`: when the process exits the run ends as bpftrace's does, exit code 0 and the maps
/// printed.
#[test]
fn pid_process_exit_ends_the_run() {
    kernel_test(|| {
        let gate = common::temp_path("pid-gate");
        let mut traced = Command::new("/usr/bin/python3")
            .arg("-c")
            .arg(format!(
                "import os, time\nwhile not os.path.exists({:?}): time.sleep(0.005)\nfor _ in range(10): os.getpid()",
                gate.display().to_string()
            ))
            .stdin(Stdio::null())
            .spawn()
            .expect("start python3");
        let pid = traced.id().to_string();
        let script = "tracepoint:syscalls:sys_enter_getpid /pid == $1/ { @n = count(); } END { printf(\"end\\n\"); }";
        let mut run = Running::start(command(BIN, &["-p", &pid, "-e", script, &pid]));
        run.wait_for_stdout("Attaching 2 probes...\n");
        let held = held_while_attached(run.pid(), 2, 2, 1);
        std::fs::write(&gate, "").expect("open the gate");
        let out = run.finish();
        let _ = traced.wait();
        let _ = std::fs::remove_file(&gate);
        out.expect_code(0);
        no_panic(&out);
        assert_eq!(out.stdout, "Attaching 2 probes...\nend\n\n\n@n: 10\n");
        common::assert_released(&held);
    });
}
