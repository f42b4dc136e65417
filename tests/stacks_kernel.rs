//! Kernel tests of stacks and symbols with the rtrace binary as root: kernel stacks at a
//! tracepoint a command triggers, user stacks and `func` in uprobes of a small C program this
//! test builds with frame pointers (so that every caller is on the stack, by name), and
//! `uaddr()` reading the program's globals.

mod common;

use common::{command, kernel_test, Output};
use std::path::PathBuf;

const BIN: &str = env!("CARGO_BIN_EXE_rtrace");

fn rtrace(args: &[&str]) -> Output {
    common::run(command(BIN, args))
}

/// A program whose `leaf` is called through `middle` and `top` three times, built once with
/// frame pointers kept and without PIE; it sleeps afterwards so that it still lives when its
/// stacks are printed.
fn program() -> PathBuf {
    common::build_c_text(
        "stacks",
        "chain",
        "#include <unistd.h>\n\
         int counter = 0x11223344;\n\
         long wide = 0x5566778899;\n\
         __attribute__((noinline)) int leaf(int x) { return x * 2 + counter; }\n\
         __attribute__((noinline)) int middle(int x) { return leaf(x) + 1; }\n\
         __attribute__((noinline)) int top(int x) { return middle(x) + 1; }\n\
         int main(void) { int s = 0; for (int i = 0; i < 3; i++) s += top(i);\n\
         usleep(300000); return s == 12345; }\n",
        &["-O0", "-fno-omit-frame-pointer", "-no-pie"],
    )
}

#[test]
fn kernel_stacks_count_by_caller_chain() {
    kernel_test(|| {
        let out = rtrace(&[
            "-e",
            "tracepoint:syscalls:sys_enter_clock_nanosleep /pid == cpid/ \
             { @[kstack] = count(); @f[kstack(perf, 1)] = count(); }",
            "-c",
            "/usr/bin/sleep 0.05",
        ]);
        out.expect_code(0);
        let text = &out.stdout;
        // One stack, entered from the system call path, frames `name+offset` by 4 spaces.
        let key = text
            .split("@[\n")
            .nth(1)
            .and_then(|rest| rest.split("]: 1\n").next())
            .unwrap_or_else(|| panic!("no stack key:\n{text}"));
        let frames: Vec<&str> = key.lines().collect();
        assert!(frames.len() >= 2, "{text}");
        for f in &frames {
            let f = f
                .strip_prefix("    ")
                .unwrap_or_else(|| panic!("indent: {f:?}"));
            let (name, off) = f.rsplit_once('+').unwrap_or_else(|| panic!("{f:?}"));
            assert!(!name.is_empty() && off.parse::<u64>().is_ok(), "{f:?}");
        }
        assert!(key.contains("do_syscall_64+"), "{text}");
        // perf mode: a tab, the address in hex, the symbol.
        let perf = text
            .split("@f[\n")
            .nth(1)
            .unwrap_or_else(|| panic!("no perf key:\n{text}"));
        let line = perf.lines().next().unwrap_or("");
        let (addr, sym) = line
            .strip_prefix('\t')
            .and_then(|l| l.split_once(' '))
            .unwrap_or_else(|| panic!("{line:?}"));
        assert!(u64::from_str_radix(addr, 16).is_ok_and(|a| a > 0xffff_0000_0000_0000));
        assert_eq!(sym, frames[0].trim(), "{text}");
    });
}

#[test]
fn user_stacks_name_every_caller() {
    kernel_test(|| {
        let prog = program();
        let prog = prog.to_str().expect("utf-8 path");
        let script = format!(
            "uprobe:{prog}:leaf {{ @[ustack] = count(); @n[ustack(perf, 3)] = count(); \
             printf(\"%s|%s\\n\", ustack(4), func); }}"
        );
        let out = rtrace(&["-e", &script, "-c", prog]);
        out.expect_code(0);
        let text = &out.stdout;
        let chain = "\n        leaf+0\n        middle+";
        assert_eq!(text.matches(chain).count(), 3, "{text}");
        assert!(text.contains("\n        top+"), "{text}");
        assert!(text.contains("\n        main+"), "{text}");
        assert_eq!(text.matches("|leaf\n").count(), 3, "{text}");
        // The map key: every caller down to main, 4 spaces in, counted 3 times.
        let key = text
            .split("@[\n")
            .nth(1)
            .unwrap_or_else(|| panic!("no key:\n{text}"));
        let names: Vec<&str> = key
            .lines()
            .take(4)
            .map(|l| l.trim().split('+').next().unwrap_or(""))
            .collect();
        assert_eq!(names, ["leaf", "middle", "top", "main"], "{text}");
        assert!(key.contains("]: 3\n"), "{text}");
        // perf mode names the file.
        assert!(text.contains(&format!(" leaf+0 ({prog})\n")), "{text}");
    });
}

#[test]
fn uaddr_reads_the_programs_globals() {
    kernel_test(|| {
        let prog = program();
        let prog = prog.to_str().expect("utf-8 path");
        let script = format!(
            "uprobe:{prog}:leaf {{ printf(\"%x %lx\\n\", *uaddr(\"counter\"), *uaddr(\"wide\")); \
             exit(); }}"
        );
        let out = rtrace(&["-e", &script, "-c", prog]);
        out.expect_code(0);
        assert!(
            out.stdout.contains("11223344 5566778899\n"),
            "{}",
            out.stdout
        );
        let bad = rtrace(&[
            "-e",
            &format!("uprobe:{prog}:leaf {{ @ = uaddr(\"nope\"); }}"),
        ]);
        bad.expect_code(1);
        assert!(
            bad.stderr
                .contains(&format!("Could not resolve symbol: {prog}:nope")),
            "{}",
            bad.stderr
        );
    });
}

#[test]
fn symbols_of_a_map_of_many_stacks_print() {
    kernel_test(|| {
        // profile:hz gives whatever the CPUs run: every key must still print as a stack.
        let out = rtrace(&[
            "-e",
            "profile:hz:997 { @[kstack] = count(); } interval:ms:300 { exit(); }",
        ]);
        out.expect_code(0);
        assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
        assert!(out.stdout.contains("@["), "{}", out.stdout);
    });
}
