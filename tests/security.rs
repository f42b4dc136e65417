//! Kernel tests of rtrace's security edges: no privileges, unsafe builtins, traced data that looks like a format string, and `-o` at a symbolic link.

mod common;

use common::{command, kernel_test, no_panic, Output};
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_rtrace");

fn rtrace(args: &[&str]) -> Output {
    common::run(command(BIN, args))
}

/// A copy of the binary that user `nobody` can run (the target dir may not be reachable).
struct NobodyCopy {
    dir: PathBuf,
}

impl NobodyCopy {
    fn new() -> NobodyCopy {
        let dir = std::env::temp_dir().join(format!("rtrace-sec-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir(&dir).expect("temp dir");
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let bin = dir.join("rtrace");
        std::fs::copy(BIN, &bin).expect("copy rtrace");
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        NobodyCopy { dir }
    }

    /// rtrace run as uid/gid 65534 with no supplementary groups and `caps` (setpriv's
    /// `--inh-caps`/`--ambient-caps` list, e.g. `+bpf`) as its only capabilities.
    fn run(&self, caps: Option<&str>, args: &[&str]) -> Output {
        let mut cmd = Command::new("/usr/bin/setpriv");
        cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups"]);
        if let Some(caps) = caps {
            cmd.arg(format!("--inh-caps={caps}"))
                .arg(format!("--ambient-caps={caps}"));
        }
        cmd.arg(self.dir.join("rtrace")).args(args).current_dir("/");
        common::run(cmd)
    }
}

impl Drop for NobodyCopy {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// One line on stderr naming what is missing, exit code 1, nothing on stdout, and no raw
/// errno text.
fn refused_for_privileges(out: &Output, what: &str) {
    out.expect_code(1);
    no_panic(out);
    assert_eq!(out.stdout, "", "{what}: nothing runs");
    let first = out.stderr.lines().next().unwrap_or_default();
    assert!(
        first.contains("needs root"),
        "{what}: the first line says what is needed: {}",
        out.stderr
    );
    for soup in ["os error", "errno", "EPERM", "Operation not permitted"] {
        assert!(
            !out.stderr.contains(soup),
            "{what}: {soup:?} in {}",
            out.stderr
        );
    }
}

#[test]
fn without_privileges_one_clear_message() {
    kernel_test(|| {
        let copy = NobodyCopy::new();
        for (script, what) in [
            ("BEGIN { printf(\"hi\\n\"); exit(); }", "BEGIN"),
            ("interval:ms:10 { exit(); }", "interval"),
            ("uprobe:/bin/bash:readline { @ = count(); }", "uprobe"),
            (
                "tracepoint:syscalls:sys_enter_getpid { @ = count(); }",
                "tracepoint",
            ),
        ] {
            let out = copy.run(None, &["-e", script]);
            refused_for_privileges(&out, what);
        }
    });
}

#[test]
fn cap_bpf_without_cap_perfmon_is_not_enough() {
    kernel_test(|| {
        let copy = NobodyCopy::new();
        let out = copy.run(
            Some("+bpf"),
            &["-e", "BEGIN { printf(\"hi\\n\"); exit(); }"],
        );
        refused_for_privileges(&out, "CAP_BPF only");
    });
}

/// The refusal is about capabilities, not the user: CAP_BPF with CAP_PERFMON is enough for
/// probes that need no tracefs.
#[test]
fn cap_bpf_and_cap_perfmon_are_enough() {
    kernel_test(|| {
        let copy = NobodyCopy::new();
        let out = copy.run(
            Some("+bpf,+perfmon"),
            &["-e", "interval:ms:10 { printf(\"hi\\n\"); exit(); }"],
        );
        out.expect_code(0);
        assert_eq!(out.stdout, "Attaching 1 probe...\nhi\n\n\n");
    });
}

/// `system()` runs a shell command and `signal()` kills processes: without `--unsafe` a script
/// using them is refused before anything runs.
#[test]
fn unsafe_builtins_need_the_unsafe_flag() {
    kernel_test(|| {
        let marker = common::temp_path("system-marker");
        let system = format!(
            "BEGIN {{ system(\"touch {}\"); exit(); }}",
            marker.display()
        );
        for script in [
            system.as_str(),
            "BEGIN { signal(\"SIGUSR1\"); exit(); }",
            "tracepoint:syscalls:sys_enter_getpid /pid == 1/ { signal(9); }",
        ] {
            let out = rtrace(&["-e", script]);
            out.expect_code(1);
            no_panic(&out);
            assert!(
                !out.stdout.contains("Attaching"),
                "{script}: {}",
                out.stdout
            );
            assert!(out.stderr.contains("stdin:1:"), "{script}: {}", out.stderr);
        }
        assert!(!marker.exists(), "system() ran without --unsafe");
    });
}

/// Traced strings are data, never a format: a file name full of conversions prints as is, in
/// text and in JSON.
#[test]
fn traced_strings_are_not_format_strings() {
    kernel_test(|| {
        let name = format!("/tmp/rtrace-{}-x%s%n%d%p%x%%", std::process::id());
        std::fs::write(&name, "data\n").expect("create the file");
        let script = "tracepoint:syscalls:sys_enter_openat /pid == cpid/ { printf(\"<%s>\\n\", str(args->filename)); }";
        let cat = format!("/usr/bin/cat {name}");
        let text = rtrace(&["-e", script, "-c", &cat]);
        let json = rtrace(&["-f", "json", "-e", script, "-c", &cat]);
        let _ = std::fs::remove_file(&name);
        text.expect_code(0);
        no_panic(&text);
        assert!(
            text.stdout.lines().any(|l| l == format!("<{name}>")),
            "{name} printed literally:\n{}",
            text.stdout
        );
        json.expect_code(0);
        no_panic(&json);
        let record = format!("{{\"type\": \"printf\", \"data\": \"<{name}>\\n\"}}");
        assert!(
            json.stdout.lines().any(|l| l == record),
            "{record} in:\n{}",
            json.stdout
        );
    });
}

/// `-o FILE` writes a plain file, but never through a symbolic link at FILE: the link's
/// target keeps its content, and a dangling link's target is not created.
#[test]
fn output_file_refuses_a_symlink() {
    kernel_test(|| {
        let script = "BEGIN { printf(\"written\\n\"); exit(); }";

        let plain = common::temp_path("out-plain");
        let out = rtrace(&["-o", plain.to_str().expect("utf-8"), "-e", script]);
        out.expect_code(0);
        let written = std::fs::read_to_string(&plain).unwrap_or_default();
        let _ = std::fs::remove_file(&plain);
        assert_eq!(written, "Attaching 1 probe...\nwritten\n\n\n");

        let target = common::temp_path("out-target");
        let link = common::temp_path("out-link");
        std::fs::write(&target, "precious\n").expect("target");
        std::os::unix::fs::symlink(&target, &link).expect("symlink");
        let out = rtrace(&["-o", link.to_str().expect("utf-8"), "-e", script]);
        let kept = std::fs::read_to_string(&target).unwrap_or_default();
        let _ = std::fs::remove_file(&target);
        let _ = std::fs::remove_file(&link);
        out.expect_code(1);
        no_panic(&out);
        assert_eq!(kept, "precious\n", "the link's target was written");
        assert!(out.stderr.contains("out-link"), "{}", out.stderr);
        assert!(!out.stdout.contains("written"), "{}", out.stdout);

        let missing = common::temp_path("out-missing");
        let dangling = common::temp_path("out-dangling");
        std::os::unix::fs::symlink(&missing, &dangling).expect("symlink");
        let out = rtrace(&["-o", dangling.to_str().expect("utf-8"), "-e", script]);
        let created = missing.exists();
        let _ = std::fs::remove_file(&missing);
        let _ = std::fs::remove_file(&dangling);
        out.expect_code(1);
        no_panic(&out);
        assert!(!created, "a dangling link's target was created");
    });
}
