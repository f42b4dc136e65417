//! Kernel tests of usdt probes (root, real uprobes): a program with `<sys/sdt.h>` probes
//! (tests/fixtures/usdt/demo.c) is built with cc into a temp dir, then traced with `-c` and
//! `-p`: exact hit counts, arguments in registers and memory, a probe written twice, the
//! semaphore, `probe`, listing, and errors.

mod common;

use common::{command, kernel_test, no_panic, Output, Running};
use std::sync::OnceLock;

const BIN: &str = env!("CARGO_BIN_EXE_rtrace");

fn rtrace(args: &[&str]) -> Output {
    let out = common::run(command(BIN, args));
    no_panic(&out);
    out
}

/// The demo program, built once per test run (PIE, -O1: arguments in registers, on the
/// stack and at a base+index address).
fn demo() -> &'static str {
    static DEMO: OnceLock<String> = OnceLock::new();
    DEMO.get_or_init(|| {
        let src = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/usdt/demo.c");
        let exe = common::build_c(
            "usdt",
            std::path::Path::new(src),
            &["-O1", "-g"],
            "the usdt tests need a C compiler and systemtap-sdt-dev",
        );
        exe.to_string_lossy().into_owned()
    })
}

#[test]
fn lists_the_probes_of_a_file() {
    let bin = demo();
    let out = rtrace(&["-l", &format!("usdt:{bin}:*")]);
    out.expect_code(0);
    let want: String = ["gated", "loop", "mem", "twice"]
        .iter()
        .map(|n| format!("usdt:{bin}:demo:{n}\n"))
        .collect();
    assert_eq!(out.stdout, want);
    let out = rtrace(&["-l", &format!("U:{bin}:demo:t*")]);
    assert_eq!(out.stdout, format!("usdt:{bin}:demo:twice\n"));
}

#[test]
fn counts_every_hit_of_the_command_and_every_marker() {
    kernel_test(|| {
        let bin = demo();
        let script = format!(
            "usdt:{bin}:demo:loop {{ @loop = count(); }} \
             usdt:{bin}:twice {{ @twice[probe] = count(); }}"
        );
        let out = rtrace(&["-e", &script, "-c", &format!("{bin} 7")]);
        out.expect_code(0);
        // demo:twice is written twice: two locations, two programs, every hit counted once.
        assert_eq!(
            out.stdout,
            format!("Attaching 3 probes...\n\n\n@loop: 7\n@twice[usdt:{bin}:demo:twice]: 14\n")
        );
    });
}

#[test]
fn arguments_in_registers_and_memory() {
    kernel_test(|| {
        let bin = demo();
        let script = format!(
            "usdt:{bin}:demo:loop {{ printf(\"%d %lld %d %s\\n\", arg0, arg1, arg2, str(arg3)); }} \
             usdt:{bin}:demo:mem {{ printf(\"mem %d\\n\", arg0); }}"
        );
        let out = rtrace(&["-e", &script, "-c", &format!("{bin} 5")]);
        out.expect_code(0);
        let mut want = String::from("Attaching 2 probes...\n");
        for i in 0..5 {
            let neg = if i == 0 {
                "0".to_string()
            } else {
                format!("-{i}")
            };
            want.push_str(&format!("{i} {} {neg} item-{i}\n", -5_000_000_000i64 - i));
            want.push_str(&format!("mem {}\n", [11, 22, 33, 44][i as usize % 4]));
        }
        want.push_str("\n\n");
        assert_eq!(out.stdout, want);
    });
}

#[test]
fn the_semaphore_is_on_while_traced() {
    kernel_test(|| {
        let bin = demo();
        // demo:gated fires only when its semaphore is set; arg0 is the semaphore itself.
        let script = format!("usdt:{bin}:demo:gated {{ @[arg0] = count(); }}");
        let out = rtrace(&["-e", &script, "-c", &format!("{bin} 4")]);
        out.expect_code(0);
        assert_eq!(out.stdout, "Attaching 1 probe...\n\n\n@[1]: 4\n");
    });
}

#[test]
fn a_running_process_with_p() {
    kernel_test(|| {
        let bin = demo();
        let target = Running::start(command(bin, &["wait"]));
        let pid = target.pid();
        let abs = std::fs::canonicalize(bin).expect("canonical path");
        let shown = format!("/proc/{pid}/root{}", abs.display());
        // The file may be left out with -p; the probe's name shows the process's view.
        let out = rtrace(&[
            "-p",
            &pid.to_string(),
            "-e",
            "usdt::demo:loop { printf(\"%d %s\\n\", pid, probe); exit(); }",
        ]);
        out.expect_code(0);
        let first = out.stdout.lines().nth(1).unwrap_or_default().to_string();
        assert_eq!(
            first,
            format!("{pid} usdt:{shown}:demo:loop"),
            "{}",
            out.stdout
        );
        let listed = rtrace(&["-l", "usdt:*", "-p", &pid.to_string()]);
        listed.expect_code(0);
        assert!(
            listed
                .stdout
                .contains(&format!("usdt:{shown}:demo:twice\n")),
            "{}",
            listed.stdout
        );
        let _ = target.kill();
    });
}

#[test]
fn errors_name_the_probe() {
    let bin = demo();
    let cases = [
        (
            format!("usdt:{bin}:demo:nope {{ }}"),
            "no usdt probe matches",
        ),
        (
            format!("usdt:{bin}:demo:twice {{ printf(\"%d\", arg1); }}"),
            "has 1 argument: arg1 does not exist",
        ),
        (
            format!("usdt:{bin}:demo:loop {{ printf(\"%d\", sarg0); }}"),
            "kprobe and uprobe probes",
        ),
        (
            "usdt:/no/such/file:p:n { }".to_string(),
            "usdt target file '/no/such/file' does not exist or is not executable",
        ),
        (
            "usdt::p:n { }".to_string(),
            "must specify at least path or pid",
        ),
    ];
    for (script, want) in cases {
        let out = rtrace(&["-e", &script]);
        out.expect_code(1);
        assert!(out.stderr.contains(want), "{script}: {}", out.stderr);
    }
}
