//! Kernel tests of the rtrace binary as root: real tracepoints, intervals, signals, -c/-p, errors, and no BPF object left loaded after any run.

mod common;

use common::{command, kernel_test, no_panic, Output, Running};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_rtrace");

fn rtrace(args: &[&str]) -> Output {
    common::run(command(BIN, args))
}

/// The `-c` command's own stdout lands in rtrace's stdout (it inherits it).
fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname").expect("/etc/hostname")
}

#[test]
fn counts_openat_of_the_command_by_comm() {
    kernel_test(|| {
        let out = rtrace(&[
            "-e",
            "tracepoint:syscalls:sys_enter_openat /pid == cpid/ { @[comm] = count(); }",
            "-c",
            "/usr/bin/cat /etc/hostname",
        ]);
        out.expect_code(0);
        let head = format!("Attaching 1 probe...\n{}\n\n@[cat]: ", hostname());
        let rest = out
            .stdout
            .strip_prefix(&head)
            .unwrap_or_else(|| panic!("stdout does not start with {head:?}:\n{}", out.stdout));
        let n: u64 = rest
            .strip_suffix('\n')
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("not a count line: {rest:?}"));
        assert!(n > 0, "cat opened no file? {}", out.stdout);
    });
}

#[test]
fn str_of_filename_shows_the_opened_file() {
    kernel_test(|| {
        let out = rtrace(&[
            "-e",
            "tracepoint:syscalls:sys_enter_openat /pid == cpid/ { printf(\"<%s>\\n\", str(args->filename)); }",
            "-c",
            "/usr/bin/cat /etc/hostname",
        ]);
        out.expect_code(0);
        let lines: Vec<&str> = out.stdout.lines().collect();
        assert_eq!(
            lines.first(),
            Some(&"Attaching 1 probe..."),
            "{}",
            out.stdout
        );
        assert!(
            lines.contains(&"</etc/hostname>"),
            "no </etc/hostname> line:\n{}",
            out.stdout
        );
        let opened = lines.iter().filter(|l| l.starts_with('<')).count();
        assert!(
            opened >= 2,
            "the loader opens libraries too:\n{}",
            out.stdout
        );
    });
}

#[test]
#[cfg(target_arch = "x86_64")] // openat is syscall 257 there
fn raw_tracepoint_args_are_the_tracepoints_arguments() {
    kernel_test(|| {
        // sched_process_exec(p, old_pid, bprm) and sys_enter(regs, id), one by a wildcard;
        // `probe` names the expansion.
        let out = rtrace(&[
            "-e",
            "rawtracepoint:sched_process_e*c /pid == cpid/ { \
                printf(\"%s <%s> %d\\n\", probe, \
                    str(((struct linux_binprm *)arg2)->filename), arg1 == cpid); } \
             rt:sys_enter /pid == cpid && arg1 == 257/ { @openat = count(); }",
            "-c",
            "/usr/bin/cat /etc/hostname",
        ]);
        out.expect_code(0);
        assert!(
            out.stdout
                .contains("rawtracepoint:sched_process_exec </usr/bin/cat> 1\n"),
            "{}",
            out.stdout
        );
        let opens = out
            .stdout
            .lines()
            .find_map(|l| l.strip_prefix("@openat: "))
            .and_then(|n| n.parse::<u64>().ok());
        assert!(opens.is_some_and(|n| n >= 2), "{}", out.stdout);
    });
}

#[test]
fn interval_ticks_until_exit() {
    kernel_test(|| {
        let start = Instant::now();
        let out = rtrace(&[
            "-e",
            "interval:ms:50 { @n = count(); if (@n == 3) { exit(); } }",
        ]);
        let took = start.elapsed();
        out.expect_code(0);
        assert_eq!(out.stdout, "Attaching 1 probe...\n\n\n@n: 3\n");
        assert!(
            took >= Duration::from_millis(140),
            "3 ticks of 50 ms in {took:?}"
        );
    });
}

#[test]
fn maps_are_printed_at_exit_in_name_order() {
    kernel_test(|| {
        let out = rtrace(&[
            "-e",
            "BEGIN { @b = 2; @a[\"x\"] = 1; @a[\"y\"] = 3; $t = (1, \"s\"); @c = $t; exit(); } END { printf(\"end\\n\"); }",
        ]);
        out.expect_code(0);
        assert_eq!(
            out.stdout,
            "Attaching 2 probes...\nend\n\n\n@a[x]: 1\n@a[y]: 3\n@b: 2\n@c: (1, s)\n"
        );
    });
}

fn stops_on_signal(sig: i32) {
    kernel_test(|| {
        let mut run = Running::start(command(
            BIN,
            &[
                "-e",
                "tracepoint:syscalls:sys_enter_getpid /pid == $1/ { @ = count(); }",
                &std::process::id().to_string(),
            ],
        ));
        run.wait_for_stdout("Attaching 1 probe...\n");
        for _ in 0..5 {
            // SAFETY: getpid has no preconditions; each call fires the probe.
            unsafe { libc::syscall(libc::SYS_getpid) };
        }
        // Events are counted in the kernel; give the probe no chance to be missed.
        std::thread::sleep(Duration::from_millis(100));
        run.signal(sig);
        let out = run.finish();
        out.expect_code(0);
        no_panic(&out);
        assert_eq!(out.stdout, "Attaching 1 probe...\n\n\n@: 5\n");
    });
}

/// A backlog that would take a minute to handle (each record a system() call) must not hold a
/// signal back: the run ends at once, with END's output, and the events dropped are counted.
#[test]
fn sigint_ends_a_run_with_a_long_backlog_at_once() {
    kernel_test(|| {
        let gate = common::temp_path("backlog-gate");
        let workload = common::getpid_workload(&gate, 100_000);
        let mut run = Running::start(command(
            BIN,
            &[
                "--unsafe",
                "-e",
                "tracepoint:syscalls:sys_enter_getpid /pid == cpid/ { system(\"true\"); } \
                 END { printf(\"end\\n\"); }",
                "-c",
                &workload,
            ],
        ));
        run.wait_for_stdout("Attaching 2 probes...\n");
        std::fs::write(&gate, "").expect("open the gate");
        std::thread::sleep(Duration::from_millis(500));
        let signalled = Instant::now();
        run.signal(libc::SIGINT);
        let out = run.finish();
        let took = signalled.elapsed();
        let _ = std::fs::remove_file(&gate);
        let _ = std::fs::remove_file(gate.with_extension("py"));
        out.expect_code(0);
        no_panic(&out);
        assert!(took < Duration::from_secs(2), "the end took {took:?}");
        // END's line, then (the ring buffer overflowed) the lost events, then no map.
        assert!(
            out.stdout.starts_with("Attaching 2 probes...\nend\n")
                && out.stdout.ends_with("\n\n\n"),
            "{}",
            out.stdout
        );
        assert!(
            out.stderr.contains("events were not handled"),
            "{}",
            out.stderr
        );
    });
}

#[test]
fn sigint_detaches_and_prints_maps() {
    stops_on_signal(libc::SIGINT);
}

#[test]
fn sigterm_detaches_and_prints_maps() {
    stops_on_signal(libc::SIGTERM);
}

#[test]
fn sigusr1_prints_every_map_and_the_run_goes_on() {
    kernel_test(|| {
        let mut run = Running::start(command(
            BIN,
            &[
                "-e",
                "BEGIN { @scalar = 5; @k[\"a\"] = 1; } interval:s:1 { exit(); }",
            ],
        ));
        run.wait_for_stdout("Attaching 2 probes...\n");
        run.signal(libc::SIGUSR1);
        let out = run.finish();
        out.expect_code(0);
        no_panic(&out);
        assert_eq!(
            out.stdout,
            "Attaching 2 probes...\n@k[a]: 1\n@scalar: 5\n\n\n@k[a]: 1\n@scalar: 5\n"
        );
    });
}

#[test]
fn pid_flag_ends_when_the_process_exits() {
    kernel_test(|| {
        let mut sleep = std::process::Command::new("/usr/bin/sleep")
            .arg("1")
            .spawn()
            .expect("start sleep");
        let pid = sleep.id().to_string();
        let start = Instant::now();
        let out = rtrace(&["-p", &pid, "-e", "interval:ms:100 { @t = count(); }"]);
        let took = start.elapsed();
        let _ = sleep.wait();
        out.expect_code(0);
        no_panic(&out);
        assert!(
            took < Duration::from_secs(5),
            "ran {took:?} after a 1 s sleep"
        );
        assert!(took >= Duration::from_millis(500), "ended early: {took:?}");
        let n: u64 = out
            .stdout
            .strip_prefix("Attaching 1 probe...\n\n\n@t: ")
            .and_then(|r| r.strip_suffix('\n'))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("unexpected stdout:\n{}", out.stdout));
        assert!((3..=20).contains(&n), "{n} ticks of 100 ms in {took:?}");
    });
}

#[test]
fn command_ends_the_run_and_end_runs() {
    kernel_test(|| {
        let out = rtrace(&[
            "-e",
            "tracepoint:syscalls:sys_enter_exit_group /pid == cpid/ { @code = args->error_code; } END { printf(\"done\\n\"); }",
            "-c",
            "/usr/bin/false",
        ]);
        out.expect_code(0);
        assert_eq!(out.stdout, "Attaching 2 probes...\ndone\n\n\n@code: 1\n");
    });
}

#[test]
fn missing_command_is_an_error() {
    kernel_test(|| {
        let out = rtrace(&["-c", "/nonexistent/cmd", "-e", "BEGIN { exit(); }"]);
        out.expect_code(1);
        no_panic(&out);
        assert!(out.stderr.contains("/nonexistent/cmd"), "{}", out.stderr);
    });
}

#[test]
fn syntax_error_from_stdin_names_line_and_column() {
    kernel_test(|| {
        let run = Running::start_with_stdin(command(BIN, &["-"]), "BEGIN {\n  @x = ;\n}\n");
        let out = run.finish();
        out.expect_code(1);
        no_panic(&out);
        assert!(out.stderr.contains("stdin:2:8"), "{}", out.stderr);
        assert_eq!(out.stdout, "", "nothing runs");
    });
}

#[test]
fn semantic_errors_name_line_and_column() {
    kernel_test(|| {
        for (script, at) in [
            ("BEGIN { @x = foo; }", "stdin:1:14"),
            ("BEGIN {\n  printf(\"%d\\n\", \"s\");\n}", "stdin:2:"),
            (
                "tracepoint:syscalls:sys_enter_openat { @ = args->nofield; }",
                "stdin:1:",
            ),
            ("tracepoint:nosuchcat:nosuchtp { }", "stdin:1:"),
            ("BEGIN { $x = 1; $x = \"s\"; }", "stdin:1:"),
        ] {
            let out = rtrace(&["-e", script]);
            out.expect_code(1);
            no_panic(&out);
            assert!(
                out.stderr.contains(at),
                "{script}: no {at} in\n{}",
                out.stderr
            );
            assert!(
                !out.stdout.contains("Attaching"),
                "{script}: {}",
                out.stdout
            );
        }
    });
}

#[test]
fn errors_in_a_file_name_the_file() {
    kernel_test(|| {
        let path = std::env::temp_dir().join(format!("rtrace-kt-{}.bt", std::process::id()));
        std::fs::write(&path, "BEGIN\n{ @x = 1 +; }\n").expect("write script");
        let out = rtrace(&[path.to_str().expect("utf-8 temp dir")]);
        let _ = std::fs::remove_file(&path);
        out.expect_code(1);
        no_panic(&out);
        let at = format!("{}:2:11", path.display());
        assert!(out.stderr.contains(&at), "no {at} in\n{}", out.stderr);
    });
}

#[test]
fn deliberate_differences_from_bpftrace_0_17() {
    kernel_test(|| {
        let out = rtrace(&[
            "-e",
            "BEGIN { @div = -7 / 2; @mod = -7 % 3; @mx = max(-3); @mn = min(-5); printf(\"%d %d %i 100%%\\n\", -7 / 2, -7 % 3, 12); exit(); }",
        ]);
        out.expect_code(0);
        assert_eq!(
            out.stdout,
            "Attaching 1 probe...\n-3 -1 12 100%\n\n\n@div: -3\n@mn: -5\n@mod: -1\n@mx: -3\n"
        );
    });
}

#[test]
fn hist_buckets_above_2_pow_31() {
    kernel_test(|| {
        let out = rtrace(&[
            "-e",
            "BEGIN { @h = hist(3000000000); @h = hist(5000000000); exit(); }",
        ]);
        out.expect_code(0);
        let bar = "@".repeat(52);
        assert_eq!(
            out.stdout,
            format!(
                "Attaching 1 probe...\n\n\n@h: \n[2G, 4G)               1 |{bar}|\n[4G, 8G)               1 |{bar}|\n\n"
            )
        );
    });
}

#[test]
fn json_output_lines() {
    kernel_test(|| {
        let out = rtrace(&[
            "-f",
            "json",
            "-e",
            "BEGIN { printf(\"hi %d\\n\", 3); @x = 5; @h = hist(5); @c[\"k\"] = count(); exit(); }",
        ]);
        out.expect_code(0);
        assert_eq!(
            out.stdout,
            concat!(
                "{\"type\": \"attached_probes\", \"data\": {\"probes\": 1}}\n",
                "{\"type\": \"printf\", \"data\": \"hi 3\\n\"}\n",
                "\n\n",
                "{\"type\": \"map\", \"data\": {\"@c\": {\"k\": 1}}}\n",
                "{\"type\": \"hist\", \"data\": {\"@h\": [{\"min\": 4, \"max\": 7, \"count\": 1}]}}\n",
                "{\"type\": \"map\", \"data\": {\"@x\": 5}}\n",
            )
        );
    });
}

#[test]
fn json_escapes_high_bytes_as_utf8() {
    kernel_test(|| {
        let out = rtrace(&[
            "-f",
            "json",
            "-e",
            "BEGIN { printf(\"caf\\xc3\\xa9 \\\"q\\\" \\t\\n\"); exit(); }",
        ]);
        out.expect_code(0);
        let line = out.stdout.lines().nth(1).unwrap_or_default();
        assert_eq!(
            line,
            "{\"type\": \"printf\", \"data\": \"café \\\"q\\\" \\t\\n\"}"
        );
    });
}

#[test]
fn quiet_hides_the_attaching_line() {
    kernel_test(|| {
        let out = rtrace(&["-q", "-e", "BEGIN { printf(\"a\\n\"); exit(); }"]);
        out.expect_code(0);
        assert_eq!(out.stdout, "a\n\n\n");
    });
}

#[test]
fn a_key_over_the_stack_runs_from_scratch_space() {
    kernel_test(|| {
        let keys: Vec<String> = (1..=70).map(|i| i.to_string()).collect();
        let script = format!("BEGIN {{ @a[{}] = 1; exit(); }}", keys.join(","));
        let out = rtrace(&["-e", &script]);
        out.expect_code(0);
        no_panic(&out);
        assert_eq!(
            out.stdout,
            format!("Attaching 1 probe...\n\n\n@a[{}]: 1\n", keys.join(", "))
        );
    });
}

#[test]
fn verifier_rejection_is_reported() {
    kernel_test(|| {
        let out = rtrace(&[
            "-e",
            "tracepoint:syscalls:sys_enter_getpid { $i = 0; while ($i < args->__syscall_nr) { $i = $i + 1; } exit(); }",
        ]);
        out.expect_code(1);
        no_panic(&out);
        assert!(out.stderr.contains("verifier"), "{}", out.stderr);
        assert!(out.stderr.contains("stdin:1:"), "{}", out.stderr);
        // The headline carries the kernel's reason, not the log's closing statistics.
        let headline = out.stderr.lines().next().unwrap_or_default();
        assert!(
            headline.contains("too complex"),
            "the kernel's reason belongs in the headline {headline:?}:\n{}",
            out.stderr
        );
        assert!(!out.stdout.contains("Attaching"), "{}", out.stdout);
    });
}

#[test]
fn list_shows_tracepoints() {
    kernel_test(|| {
        let out = rtrace(&["-l", "tracepoint:syscalls:sys_enter_openat*"]);
        out.expect_code(0);
        assert_eq!(
            out.stdout,
            "tracepoint:syscalls:sys_enter_openat\ntracepoint:syscalls:sys_enter_openat2\n"
        );
    });
}

#[test]
fn notifies_attached_probes_when_asked_as_bpftrace_does() {
    kernel_test(|| {
        let script = "tracepoint:syscalls:sys_enter_getpid { } BEGIN { exit(); }";
        let mut cmd = command(BIN, &["-e", script]);
        cmd.env("__BPFTRACE_NOTIFY_PROBES_ATTACHED", "1");
        let out = common::run(cmd);
        out.expect_code(0);
        assert_eq!(out.stderr, "__BPFTRACE_NOTIFY_PROBES_ATTACHED\n");
        let quiet = rtrace(&["-e", script]);
        assert_eq!(quiet.stderr, "");
    });
}

#[test]
fn cgroupid_names_the_cgroup_a_process_runs_in() {
    kernel_test(|| {
        // A cgroup2 hierarchy of our own (this machine may have only v1 mounted).
        let root = common::temp_path("cgroup2");
        std::fs::create_dir_all(&root).expect("mount point");
        let mounted = std::process::Command::new("mount")
            .args(["-t", "cgroup2", "none"])
            .arg(&root)
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        assert!(mounted, "cannot mount cgroup2 on {}", root.display());
        let cg = root.join("rtrace-test");
        let _ = std::fs::create_dir(&cg);
        let script = format!(
            "tracepoint:syscalls:sys_enter_exit_group /cgroup == cgroupid(\"{}\")/ {{ printf(\"%s %d\\n\", comm, cgroup == cgroupid(\"{}\")); }}",
            cg.display(),
            root.display()
        );
        // The command moves itself into the cgroup, then runs true, which exits there (from a
        // file: `-c` splits on spaces, with no quoting).
        let file = common::temp_path("cgroup.sh");
        std::fs::write(
            &file,
            format!("echo $$ > {}/cgroup.procs; exec /bin/true\n", cg.display()),
        )
        .expect("write the command");
        let cmd = format!("/bin/sh {}", file.display());
        let out = rtrace(&["-e", &script, "-c", &cmd]);
        let _ = std::fs::remove_file(&file);
        let _ = std::fs::remove_dir(&cg);
        let _ = std::process::Command::new("umount").arg(&root).status();
        let _ = std::fs::remove_dir(&root);
        out.expect_code(0);
        assert_eq!(
            out.stdout, "Attaching 1 probe...\ntrue 0\n\n\n",
            "{}",
            out.stderr
        );
        let err = rtrace(&["-e", "BEGIN { @ = cgroupid(\"/proc\"); }"]);
        err.expect_code(1);
        assert!(
            err.stderr.contains("/proc is not a cgroup"),
            "{}",
            err.stderr
        );
    });
}

#[test]
fn debugf_writes_to_the_kernel_trace_buffer() {
    kernel_test(|| {
        let marker = format!("rtrace-debugf-{}", std::process::id());
        let script = format!(r#"BEGIN {{ debugf("{marker} %s %d %x", "a", 1, 16); exit(); }}"#);
        let out = rtrace(&["-e", &script]);
        out.expect_code(0);
        let trace = [
            "/sys/kernel/tracing/trace",
            "/sys/kernel/debug/tracing/trace",
        ]
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok())
        .expect("the trace buffer (tracefs) is readable");
        let want = format!("bpf_trace_printk: {marker} a 1 10");
        assert!(trace.contains(&want), "{want:?} not in the trace buffer");
    });
}

#[test]
fn flamegraph_of_a_profile_names_kernel_functions() {
    kernel_test(|| {
        let svg = common::temp_path("flame.svg");
        let out = rtrace(&[
            "--flamegraph",
            &svg.display().to_string(),
            "-e",
            "profile:hz:997 /pid == cpid/ { @[kstack] = count(); }",
            "-c",
            "/bin/dd if=/dev/zero of=/dev/null bs=1M count=3000",
        ]);
        out.expect_code(0);
        let text = std::fs::read_to_string(&svg).expect("the SVG was written");
        let _ = std::fs::remove_file(&svg);
        assert!(text.contains("<svg"), "{}", &text[..text.len().min(200)]);
        // Frame titles are `function (N samples, P%)`: some name a kernel text symbol.
        let kallsyms = std::fs::read_to_string("/proc/kallsyms").expect("kallsyms");
        let functions: std::collections::HashSet<&str> = kallsyms
            .lines()
            .filter_map(|l| l.split_whitespace().nth(2))
            .collect();
        let named = text
            .split("<title>")
            .skip(1)
            .filter_map(|t| t.split(" (").next())
            .filter(|name| functions.contains(name))
            .count();
        assert!(named >= 2, "no kernel function named in the flame graph");
        let none = rtrace(&[
            "--flamegraph",
            "/dev/null",
            "-e",
            "BEGIN { @ = count(); exit(); }",
        ]);
        none.expect_code(1);
        assert!(
            none.stderr.contains("no map keyed by a kstack"),
            "{}",
            none.stderr
        );
    });
}

/// A `-c` command still running when the run ends (here by `exit()`) is killed and reaped, as
/// bpftrace does: it is not left behind.
#[test]
fn the_command_does_not_outlive_the_run() {
    kernel_test(|| {
        let out = rtrace(&[
            "-e",
            "BEGIN { printf(\"%d\\n\", cpid); exit(); }",
            "-c",
            "/bin/sleep 30",
        ]);
        out.expect_code(0);
        let cpid: u32 = out
            .stdout
            .lines()
            .nth(1)
            .and_then(|l| l.parse().ok())
            .unwrap_or_else(|| panic!("no cpid line:\n{}", out.stdout));
        assert!(
            !std::path::Path::new(&format!("/proc/{cpid}")).exists(),
            "the command {cpid} still runs after rtrace exited"
        );
    });
}

#[test]
fn values_over_the_stack_run_from_scratch_space() {
    kernel_test(|| {
        let long: Vec<String> = (0..3).map(|i| format!("{i}").repeat(199)).collect();
        let mut cmd = command(
            BIN,
            &[
                "-e",
                "BEGIN { @[str($1), str($2), str($3)] = count(); \
                 printf(\"%s %s %s %d\\n\", str($1), str($2), str($3), strncmp(str($1), str($2), 199)); \
                 @t = (str($3), 7, str($1)); exit(); }",
                &long[0],
                &long[1],
                &long[2],
            ],
        );
        cmd.env("BPFTRACE_STRLEN", "200");
        let out = common::run(cmd);
        out.expect_code(0);
        let (a, b, c) = (&long[0], &long[1], &long[2]);
        assert_eq!(
            out.stdout,
            format!(
                "Attaching 1 probe...\n{a} {b} {c} 1\n\n\n@[{a}, {b}, {c}]: 1\n@t: ({c}, 7, {a})\n"
            )
        );
    });
}

#[test]
fn events_after_exit_are_dropped_and_not_counted_lost() {
    kernel_test(|| {
        // cat opens several files; the first openat calls exit(), the later ones are dropped
        // (as in bpftrace 0.17), and END still prints.
        let out = rtrace(&[
            "-e",
            "tracepoint:syscalls:sys_enter_openat /pid == cpid/ { printf(\"open\\n\"); exit(); } \
             END { printf(\"end\\n\"); }",
            "-c",
            "/usr/bin/cat /etc/hostname /etc/hostname /etc/hostname",
        ]);
        out.expect_code(0);
        assert_eq!(out.stdout.matches("open\n").count(), 1, "{}", out.stdout);
        assert!(out.stdout.contains("end\n"), "{}", out.stdout);
        assert!(!out.stdout.contains("Lost"), "{}", out.stdout);
    });
}

/// `iter:task` and `iter:task_file` run their iterator once over every task and end: this
/// test process is visited once, and a file it holds open is seen at its fd.
#[test]
fn iterators_visit_this_process_and_its_open_files() {
    use std::os::fd::AsRawFd;
    kernel_test(|| {
        let me = std::process::id().to_string();
        let out = rtrace(&[
            "-e",
            "iter:task /ctx->task->pid == $1/ { printf(\"%d %d\\n\", ctx->task->pid, ctx->task->tgid); } END { printf(\"end\\n\"); }",
            &me,
        ]);
        out.expect_code(0);
        let lines: Vec<&str> = out.stdout.lines().filter(|l| !l.is_empty()).collect();
        assert_eq!(
            lines,
            ["Attaching 2 probes...", &format!("{me} {me}"), "end"],
            "{}",
            out.stdout
        );
        let file = std::fs::File::open("/etc/hostname").expect("/etc/hostname");
        let fd = file.as_raw_fd().to_string();
        let out = rtrace(&[
            "-e",
            "iter:task_file /ctx->task->pid == $1 && ctx->fd == $2/ { printf(\"%d %s\\n\", ctx->fd, str(ctx->file->f_path.dentry->d_name.name)); }",
            &me,
            &fd,
        ]);
        drop(file);
        out.expect_code(0);
        let lines: Vec<&str> = out.stdout.lines().filter(|l| !l.is_empty()).collect();
        assert_eq!(
            lines,
            ["Attaching 1 probe...", &format!("{fd} hostname")],
            "{}",
            out.stdout
        );
    });
}

/// An iterator whose records are more than the ring buffer holds loses none of them: the
/// runtime handles the ring buffer after every few objects, not once the iteration is over.
#[test]
fn iterators_lose_no_records_beyond_the_ring_buffer() {
    kernel_test(|| {
        // 6000 open files, each printing about 300 bytes: far more than the 1 MiB ring buffer.
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit/setrlimit read and write the struct given.
        unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) };
        if limit.rlim_max < 7000 {
            eprintln!("skipped: at most {} open files", limit.rlim_max);
            return;
        }
        let old = limit.rlim_cur;
        limit.rlim_cur = limit.rlim_max;
        unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) };
        let files: Vec<std::fs::File> = (0..6000)
            .map(|_| std::fs::File::open("/dev/null").expect("/dev/null"))
            .collect();
        let me = std::process::id().to_string();
        let out = rtrace(&[
            "-e",
            "iter:task_file /ctx->task->pid == $1/ { $n = str(ctx->file->f_path.dentry->d_name.name); printf(\"%d %s %s %s %s %s\\n\", ctx->fd, $n, $n, $n, $n, ctx->task->comm); @files = count(); }",
            &me,
        ]);
        drop(files);
        limit.rlim_cur = old;
        unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) };
        out.expect_code(0);
        let nulls = out.stdout.lines().filter(|l| l.contains(" null ")).count();
        assert!(
            nulls >= 6000,
            "{nulls} records of /dev/null: {}",
            out.stderr
        );
        assert!(!out.stderr.contains("lost"), "{}", out.stderr);
        let count: usize = out
            .stdout
            .lines()
            .find_map(|l| l.strip_prefix("@files: "))
            .and_then(|n| n.parse().ok())
            .expect("@files");
        let printed = out.stdout.lines().filter(|l| !l.is_empty()).count() - 2;
        assert_eq!(printed, count, "every record printed");
    });
}

/// In the interactive session an iter probe runs its iterator once, when it is added, beside
/// the probes already there.
#[test]
fn interactive_iter_probe_runs_once_when_added() {
    kernel_test(|| {
        let me = std::process::id();
        let input = format!(
            "i:s:10 {{ @a = 1; }}\niter:task /ctx->task->pid == {me}/ {{ printf(\"seen %d\\n\", ctx->task->tgid); }}\n"
        );
        let out = Running::start_with_stdin(command(BIN, &["-i"]), &input).finish();
        out.expect_code(0);
        let seen: Vec<&str> = out
            .stdout
            .lines()
            .filter(|l| l.starts_with("seen "))
            .collect();
        assert_eq!(seen, [format!("seen {me}")], "{}", out.stdout);
    });
}
