//! Kernel tests of watchpoints (hardware breakpoints) with the rtrace binary as root, on a
//! small C program this test builds: function watchpoints placed when the function is
//! called (the caller stopped until then, or not for asyncwatchpoint), an address
//! watchpoint in the `-c` command, `unwatch`, and running out of debug registers after an
//! earlier run released its own.

mod common;

use common::{command, kernel_test, Output};
use std::path::PathBuf;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_rtrace");

fn rtrace(args: &[&str]) -> Output {
    let out = common::run(command(BIN, args));
    common::no_panic(&out);
    out
}

/// `prog calls N`: `touch(0, p)` on N fresh heap ints, three writes each; `prog slow N`: the
/// same with 100 ms before each write; `prog loop`: calls every 10 ms, forever; `prog fixed`:
/// five writes at 0x30000000.
fn program() -> PathBuf {
    common::build_c_text(
        "watch",
        "watched",
        "#include <stdlib.h>\n\
         #include <string.h>\n\
         #include <sys/mman.h>\n\
         #include <unistd.h>\n\
         static int slow;\n\
         __attribute__((noinline)) void touch(int unused, int *p) {\n\
           for (int i = 0; i < 3; i++) { if (slow) usleep(100000); (*p)++; }\n\
         }\n\
         int main(int argc, char **argv) {\n\
           if (argc > 1 && strcmp(argv[1], \"fixed\") == 0) {\n\
             volatile int *a = mmap((void *)0x30000000, 4096, PROT_READ | PROT_WRITE,\n\
                                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);\n\
             if (a == MAP_FAILED) return 1;\n\
             for (int i = 0; i < 5; i++) *a = i;\n\
             return 0;\n\
           }\n\
           if (argc > 1 && strcmp(argv[1], \"loop\") == 0)\n\
             for (;;) { touch(0, malloc(64)); usleep(10000); }\n\
           slow = argc > 1 && strcmp(argv[1], \"slow\") == 0;\n\
           int n = argc > 2 ? atoi(argv[2]) : 1;\n\
           for (int i = 0; i < n; i++) touch(0, malloc(64));\n\
           return 0;\n\
         }\n",
        &["-O0", "-g", "-no-pie"],
    )
}

fn path(p: &std::path::Path) -> &str {
    p.to_str().expect("utf-8 path")
}

#[test]
fn function_watchpoints_are_placed_when_the_function_is_called() {
    kernel_test(|| {
        let prog = program();
        let prog = path(&prog);
        let out = rtrace(&[
            "-e",
            "watchpoint:touch+arg1:4:w { @hits = count(); @names[probe] = count(); }",
            "-c",
            &format!("{prog} calls 2"),
        ]);
        out.expect_code(0);
        let text = &out.stdout;
        // One setup probe is attached; each call's watchpoint sees its three writes, the
        // caller stopped until the watchpoint was in place.
        assert!(text.starts_with("Attaching 1 probe...\n"), "{text}");
        assert!(text.contains("\n@hits: 6\n"), "{text}");
        assert!(
            text.contains(&format!("@names[watchpoint:{prog}:touch:1:4:w]: 6\n")),
            "{text}"
        );
    });
}

#[test]
fn asyncwatchpoints_let_the_caller_run() {
    kernel_test(|| {
        let prog = program();
        let out = rtrace(&[
            "-e",
            "asyncwatchpoint:touch+arg1:4:w { @hits = count(); }",
            "-c",
            &format!("{} slow 2", path(&prog)),
        ]);
        out.expect_code(0);
        assert!(out.stdout.contains("\n@hits: 6\n"), "{}", out.stdout);
    });
}

#[test]
fn address_watchpoints_watch_the_command() {
    kernel_test(|| {
        let prog = program();
        let out = rtrace(&[
            "-e",
            "watchpoint:0x30000000:4:w { @hits = count(); @p[probe] = count(); }",
            "-c",
            &format!("{} fixed", path(&prog)),
        ]);
        out.expect_code(0);
        assert!(out.stdout.contains("\n@hits: 5\n"), "{}", out.stdout);
    });
}

#[test]
fn unwatch_removes_the_watchpoint() {
    kernel_test(|| {
        let prog = program();
        let prog = path(&prog);
        let script = format!(
            "uprobe:{prog}:touch {{ @addr = (uint64)arg1; }}\n\
             watchpoint:touch+arg1:4:w {{ @hits = count(); unwatch(@addr); }}"
        );
        // Writes 100 ms apart: the first one's unwatch is handled before the second.
        let out = rtrace(&["-e", &script, "-c", &format!("{prog} slow 1")]);
        out.expect_code(0);
        assert!(out.stdout.contains("\n@hits: 1\n"), "{}", out.stdout);
    });
}

/// The state letter of process `pid` (`T` when stopped).
fn state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(") ")?.1.chars().next()
}

#[test]
fn a_traced_process_runs_on_after_the_run() {
    kernel_test(|| {
        let prog = program();
        let mut target = Command::new(&prog)
            .arg("loop")
            .spawn()
            .expect("start the program");
        let pid = target.id().to_string();
        let out = rtrace(&[
            "-e",
            "watchpoint:touch+arg1:4:w { @hits = count(); exit(); }",
            "-p",
            &pid,
        ]);
        out.expect_code(0);
        // The writes of the call that hit may all be counted before the run ends.
        let hits = out
            .stdout
            .split("\n@hits: ")
            .nth(1)
            .and_then(|r| r.trim().parse::<u64>().ok());
        assert!(matches!(hits, Some(1..=3)), "{}", out.stdout);
        // Stopped by setup probes many times; never left stopped.
        std::thread::sleep(std::time::Duration::from_millis(100));
        let st = state(target.id());
        let _ = target.kill();
        let _ = target.wait();
        assert!(matches!(st, Some('S' | 'R')), "state {st:?}");
    });
}

#[test]
fn function_watchpoints_need_a_process() {
    let out = rtrace(&["-e", "watchpoint:touch+arg1:4:w { exit(); }"]);
    out.expect_code(1);
    assert!(
        out.stderr
            .contains("-p PID or -c CMD required for watchpoint"),
        "{}",
        out.stderr
    );
}

/// x86 has four debug registers: watchpoints past the fourth are refused with bpftrace's
/// message, and the registers an earlier run took on every CPU are free again.
#[cfg(target_arch = "x86_64")]
#[test]
fn out_of_registers_after_a_run_released_its_own() {
    kernel_test(|| {
        let prog = program();
        // Placed on every CPU (no process), then the run ends.
        let out = rtrace(&[
            "-e",
            "watchpoint:0x30000000:8:w { exit(); } interval:ms:50 { exit(); }",
        ]);
        out.expect_code(0);
        let out = rtrace(&[
            "-e",
            "watchpoint:touch+arg1:4:w { @hits = count(); }",
            "-c",
            &format!("{} calls 6", path(&prog)),
        ]);
        out.expect_code(0);
        let text = &out.stdout;
        let refused = "Failed to attach watchpoint probe. You are out of watchpoint registers.\n";
        assert_eq!(text.matches(refused).count(), 2, "{text}");
        assert!(text.contains("\n@hits: 12\n"), "{text}");
    });
}
