//! The tools in examples/, each run as root against a workload the test starts (`-c`), and
//! checked on the lines that workload causes: other processes may add lines, never remove ours.

mod common;

use common::{command, kernel_test, no_panic, temp_path, Output};
use std::path::Path;

const BIN: &str = env!("CARGO_BIN_EXE_rtrace");

fn example(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(format!("{name}.bt"))
        .display()
        .to_string()
}

/// Runs `examples/NAME.bt -c CMD` and expects a clean exit.
fn run_tool(name: &str, cmd: &str) -> Output {
    let out = common::run(command(BIN, &[&example(name), "-c", cmd]));
    no_panic(&out);
    out.expect_code(0);
    out
}

/// Whitespace-separated fields of every line.
fn rows(out: &Output) -> Vec<Vec<String>> {
    out.stdout
        .lines()
        .map(|l| l.split_whitespace().map(String::from).collect())
        .collect()
}

/// The count of `@NAME[KEY]: N` in the output.
fn count_of(out: &Output, map: &str, key: &str) -> Option<u64> {
    let prefix = format!("{map}[{key}]: ");
    out.stdout
        .lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|n| n.trim().parse().ok())
}

/// The sum of a histogram's bucket counts printed under `header` (`@usecs: ` or `@usecs[8]: `).
fn hist_total(out: &Output, header: &str) -> u64 {
    let mut lines = out.stdout.lines().skip_while(|l| !l.starts_with(header));
    assert!(lines.next().is_some(), "no {header:?} in:\n{}", out.stdout);
    lines
        .take_while(|l| l.starts_with('['))
        .map(|l| {
            // `[4, 8)   N |@@@|` or `[0]   N |@|`.
            let count = l
                .find([')', ']'])
                .and_then(|end| l[end + 1..].split('|').next());
            count
                .and_then(|c| c.trim().parse::<u64>().ok())
                .unwrap_or_else(|| panic!("not a histogram line: {l:?}"))
        })
        .sum()
}

#[test]
fn execsnoop_shows_the_command_line_and_parent() {
    kernel_test(|| {
        let marker = format!("rtrace-execsnoop-{}", std::process::id());
        // `-c` splits on spaces with no quoting: the shell reads its command from a file.
        let file = temp_path("execsnoop.sh");
        std::fs::write(&file, format!("/bin/echo {marker} >/dev/null\n")).expect("write");
        let out = run_tool("execsnoop", &format!("/bin/sh {}", file.display()));
        let _ = std::fs::remove_file(&file);
        let rows = rows(&out);
        assert!(
            rows.iter()
                .any(|r| r == &["TIME(ms)", "PID", "PPID", "ARGS"]),
            "{}",
            out.stdout
        );
        let find = |args: &[&str]| {
            rows.iter()
                .find(|r| r.len() > 3 && r[3..].join(" ") == args.join(" "))
                .unwrap_or_else(|| panic!("no execve of {args:?} in:\n{}", out.stdout))
        };
        let sh = find(&["/bin/sh", &file.display().to_string()]);
        let echo = find(&["/bin/echo", &marker]);
        // The shell runs echo as its child.
        assert_eq!(echo[2], sh[1], "{}", out.stdout);
    });
}

#[test]
fn opensnoop_shows_a_failed_open_with_its_errno() {
    kernel_test(|| {
        let missing = temp_path("opensnoop-missing");
        let out = common::run(command(
            BIN,
            &[
                &example("opensnoop"),
                "-c",
                &format!("/bin/cat {}", missing.display()),
            ],
        ));
        no_panic(&out);
        // cat fails, rtrace does not.
        out.expect_code(0);
        let path = missing.display().to_string();
        let found = rows(&out)
            .into_iter()
            .any(|r| r.len() == 5 && r[1] == "cat" && r[2] == "-1" && r[3] == "2" && r[4] == path);
        assert!(found, "no failed open of {path} in:\n{}", out.stdout);
    });
}

#[test]
fn syscount_counts_the_command_by_name() {
    kernel_test(|| {
        // A comm no other process has.
        let name = format!("rtsc{}", std::process::id() % 100_000);
        let prog = std::env::temp_dir().join(&name);
        std::fs::copy("/bin/true", &prog).expect("copy /bin/true");
        let out = run_tool("syscount", &prog.display().to_string());
        let _ = std::fs::remove_file(&prog);
        assert!(
            out.stdout.contains("\nTop 10 processes:\n"),
            "{}",
            out.stdout
        );
        assert!(
            out.stdout.contains("\nTop 10 system call numbers:\n"),
            "{}",
            out.stdout
        );
        let n = count_of(&out, "@calls", &name)
            .unwrap_or_else(|| panic!("no count for {name} in:\n{}", out.stdout));
        // Loading and exiting alone takes a dozen system calls.
        assert!(n >= 10, "{}", out.stdout);
    });
}

#[test]
fn killsnoop_shows_the_signal_target_and_result() {
    kernel_test(|| {
        let me = std::process::id().to_string();
        let out = run_tool("killsnoop", &format!("/bin/kill -s 0 {me}"));
        let found = rows(&out)
            .into_iter()
            .any(|r| r.len() == 6 && r[2] == "kill" && r[3] == "0" && r[4] == me && r[5] == "0");
        assert!(found, "no kill(2) of {me} in:\n{}", out.stdout);
    });
}

#[test]
fn runqlat_prints_a_latency_histogram() {
    kernel_test(|| {
        // The sleep's own wakeup is at least one sample.
        let out = run_tool("runqlat", "/bin/sleep 0.2");
        assert!(hist_total(&out, "@usecs: ") >= 1, "{}", out.stdout);
    });
}

#[test]
fn biolatency_times_direct_writes() {
    kernel_test(|| {
        // Not the temp dir: it may be a tmpfs, which does no block I/O.
        let file = Path::new("/var/tmp").join(format!("rtrace-bio-{}", std::process::id()));
        let dd = format!(
            "/bin/dd if=/dev/zero of={} bs=4k count=20 oflag=direct",
            file.display()
        );
        let out = run_tool("biolatency", &dd);
        let _ = std::fs::remove_file(&file);
        if !out.stderr.contains("20+0 records out") {
            eprintln!(
                "skipped: O_DIRECT writes to /var/tmp failed: {}",
                out.stderr
            );
            return;
        }
        let header = out
            .stdout
            .lines()
            .find(|l| l.starts_with("@usecs["))
            .unwrap_or_else(|| panic!("no histogram in:\n{}", out.stdout))
            .to_string();
        let total: u64 = out
            .stdout
            .lines()
            .filter(|l| l.starts_with("@usecs["))
            .map(|h| hist_total(&out, h))
            .sum();
        // Each direct write is its own request (more when the device splits them).
        assert!(total >= 20, "{header}: {total} requests\n{}", out.stdout);
    });
}

#[test]
fn tcpstates_follows_a_loopback_connection() {
    kernel_test(|| {
        // The port goes to a file: the workload's stdout interleaves with rtrace's.
        let port_file = temp_path("tcpstates-port");
        let py = format!(
            "import socket\ns=socket.socket()\ns.bind((\"127.0.0.1\",0))\ns.listen()\n\
             c=socket.create_connection(s.getsockname())\na,_=s.accept()\n\
             open(\"{}\",\"w\").write(str(s.getsockname()[1]))\nc.close()\na.close()\ns.close()",
            port_file.display()
        );
        // From a file: `-c` splits on spaces, with no quoting.
        let py_file = temp_path("tcpstates.py");
        std::fs::write(&py_file, py).expect("write the workload");
        let out = run_tool(
            "tcpstates",
            &format!("/usr/bin/python3 {}", py_file.display()),
        );
        let _ = std::fs::remove_file(&py_file);
        let port = std::fs::read_to_string(&port_file)
            .unwrap_or_else(|e| panic!("no port from the workload ({e}):\n{}", out.stdout));
        let _ = std::fs::remove_file(&port_file);
        let transitions: Vec<String> = rows(&out)
            .into_iter()
            // Loopback delivery may run in softirq context under another comm.
            .filter(|r| r.len() == 10 && (r[4] == port || r[6] == port))
            .map(|r| format!("{} {} {}", r[7], r[8], r[9]))
            .collect();
        for want in [
            "CLOSE -> LISTEN",
            "CLOSE -> SYN_SENT",
            "SYN_SENT -> ESTABLISHED",
            "SYN_RECV -> ESTABLISHED",
            "ESTABLISHED -> FIN_WAIT1",
        ] {
            assert!(
                transitions.iter().any(|t| t == want),
                "no {want} on port {port} in {transitions:?}:\n{}",
                out.stdout
            );
        }
        let addresses = rows(&out)
            .into_iter()
            .filter(|r| r.len() == 10 && r[6] == port)
            .all(|r| r[3] == "127.0.0.1" && r[5] == "127.0.0.1");
        assert!(addresses, "{}", out.stdout);
    });
}

#[test]
fn dirlatency_counts_opendir_calls() {
    kernel_test(|| {
        let out = run_tool("dirlatency", "/bin/ls /usr");
        // ls opens the one directory it lists.
        assert_eq!(count_of(&out, "@calls", "ls"), Some(1), "{}", out.stdout);
        assert_eq!(hist_total(&out, "@usecs[ls]: "), 1, "{}", out.stdout);
    });
}
