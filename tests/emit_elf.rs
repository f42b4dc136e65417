//! `--emit-elf`: the object rtrace writes is loaded by libbpf through `bpftool prog loadall`
//! (as root), every program of the script is pinned, and nothing stays loaded once the pins
//! are removed.

mod common;

use common::{command, kernel_test, no_panic, temp_path};
use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_rtrace");

/// bpffs, mounted where bpftool expects it.
fn bpffs() {
    let mounted = std::fs::read_to_string("/proc/mounts")
        .unwrap_or_default()
        .lines()
        .any(|l| l.split_whitespace().nth(1) == Some("/sys/fs/bpf"));
    if !mounted {
        let ok = Command::new("mount")
            .args(["-t", "bpf", "bpf", "/sys/fs/bpf"])
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        assert!(ok, "cannot mount bpffs on /sys/fs/bpf");
    }
}

/// Emits `script` as an object, loads it with bpftool and returns the pinned program names.
fn load_with_bpftool(tag: &str, script: &str) -> Vec<String> {
    let obj = temp_path(&format!("{tag}.o"));
    let out = common::run(command(
        BIN,
        &["--emit-elf", &obj.display().to_string(), "-e", script],
    ));
    no_panic(&out);
    out.expect_code(0);
    bpffs();
    let pins = Path::new("/sys/fs/bpf").join(format!("rtrace-test-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&pins);
    let loaded = Command::new("bpftool")
        .args(["prog", "loadall"])
        .arg(&obj)
        .arg(&pins)
        .output()
        .expect("bpftool is needed for this test (apt-get install -y bpftool)");
    let mut names: Vec<String> = std::fs::read_dir(&pins)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    let _ = std::fs::remove_dir_all(&pins);
    let _ = std::fs::remove_file(&obj);
    assert!(
        loaded.status.success(),
        "bpftool prog loadall failed:\n{}",
        String::from_utf8_lossy(&loaded.stderr)
    );
    names
}

#[test]
fn bpftool_loads_every_program_and_map_kind() {
    kernel_test(|| {
        let names = load_with_bpftool(
            "all",
            r#"
            BEGIN { @start = nsecs; @h = hist(3); }
            tracepoint:syscalls:sys_enter_openat {
                @opens[comm] = count();
                @bytes = sum(5);
                @s = stats(2);
                printf("%d %s\n", pid, str(args->filename));
            }
            rawtracepoint:sched_switch { @switches = count(); }
            interval:ms:100 { print(@opens); }
            profile:hz:9 { @l = lhist(cpu, 0, 64, 1); }
            uprobe:libc:opendir { @u = count(); }
            END { clear(@opens); }
            "#,
        );
        // One pinned program per probe, named as rtrace names them (`pN_` and the attach
        // point; the uprobe's with its resolved library path).
        let want = [
            "p0_BEGIN",
            "p1_tracepoint_syscalls_sys_enter_openat",
            "p2_rawtracepoint_sched_switch",
            "p3_interval_ms_100",
            "p4_profile_hz_9",
            "p5_uprobe_",
            "p6_END",
        ];
        assert_eq!(names.len(), want.len(), "{names:?}");
        for (name, want) in names.iter().zip(want) {
            assert!(name.starts_with(want), "{name} is not {want}...");
        }
        assert!(names[5].ends_with("opendir"), "{names:?}");
    });
}

#[test]
fn runtime_constants_are_refused_with_a_reason() {
    let out = common::run(command(
        BIN,
        &[
            "--emit-elf",
            "/dev/null",
            "-e",
            "BEGIN { printf(\"%d\\n\", elapsed); }",
        ],
    ));
    no_panic(&out);
    out.expect_code(1);
    assert!(out.stderr.contains("elapsed"), "{}", out.stderr);
}
