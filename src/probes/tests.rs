//! Unit tests for attach point parsing, tracepoint formats and listing, run against the
//! tracefs fixture in tests/fixtures/tracefs.

use super::*;

/// Points tracefs at the fixture (every test sets the same value, so parallel tests agree).
fn fixture() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/tracefs");
    std::env::set_var("RTRACE_TRACEFS", dir);
}

fn tp(c: &str, n: &str) -> Attach {
    Attach::Tracepoint {
        category: c.into(),
        name: n.into(),
    }
}

#[test]
fn globs() {
    assert!(glob_match("*", ""));
    assert!(glob_match("*", "sched:sched_switch"));
    assert!(glob_match("sched:*", "sched:sched_switch"));
    assert!(glob_match("*switch", "sched:sched_switch"));
    assert!(glob_match("sch?d:*_sw*", "sched:sched_switch"));
    assert!(glob_match("a*b*c", "aXbYbc"));
    assert!(!glob_match("sched:*", "sched"));
    assert!(!glob_match("sched", "sched:x"));
    assert!(!glob_match("?", ""));
    assert!(!glob_match("a*b", "aXc"));
}

#[test]
fn special_and_tracepoints() {
    fixture();
    assert_eq!(parse_attach("BEGIN"), Ok(vec![Attach::Begin]));
    assert_eq!(parse_attach(" END "), Ok(vec![Attach::End]));
    let one = Ok(vec![tp("syscalls", "sys_enter_read")]);
    assert_eq!(parse_attach("tracepoint:syscalls:sys_enter_read"), one);
    assert_eq!(parse_attach("t:syscalls:sys_enter_read"), one);
    assert_eq!(
        parse_attach("t:syscalls:sys_enter_*"),
        Ok(vec![
            tp("syscalls", "sys_enter_close"),
            tp("syscalls", "sys_enter_execve"),
            tp("syscalls", "sys_enter_getpid"),
            tp("syscalls", "sys_enter_nanosleep"),
            tp("syscalls", "sys_enter_openat"),
            tp("syscalls", "sys_enter_read"),
            tp("syscalls", "sys_enter_write"),
        ])
    );
    assert_eq!(
        parse_attach("tracepoint:*sys*:sys_?nter"),
        Ok(vec![tp("raw_syscalls", "sys_enter")])
    );
    assert_eq!(
        parse_attach("tracepoint:syscalls:sys_enter_nope"),
        Err("no tracepoint matches 'syscalls:sys_enter_nope'".into())
    );
    assert_eq!(
        parse_attach("tracepoint:nope*:x*"),
        Err("no tracepoint matches 'nope*:x*'".into())
    );
    assert!(parse_attach("tracepoint:sched").is_err());
    assert!(parse_attach("tracepoint:sched:").is_err());
    assert!(parse_attach("tracepoint:../..:x").is_err());
    assert!(parse_attach("tracepoint:sched:sched_switch:x").is_err());
}

#[test]
fn other_providers() {
    let raw = Ok(vec![Attach::RawTracepoint {
        name: "sched_switch".into(),
    }]);
    assert_eq!(parse_attach("rawtracepoint:sched_switch"), raw);
    assert_eq!(parse_attach("rt:sched_switch"), raw);
    assert!(parse_attach("rt:sched_*").is_err());
    let kp = |func: &str, offset, ret| {
        Ok(vec![Attach::Kprobe {
            func: func.into(),
            offset,
            ret,
        }])
    };
    assert_eq!(parse_attach("kprobe:vfs_read"), kp("vfs_read", 0, false));
    assert_eq!(parse_attach("k:vfs_read+8"), kp("vfs_read", 8, false));
    assert_eq!(parse_attach("kretprobe:vfs_read"), kp("vfs_read", 0, true));
    assert_eq!(parse_attach("kr:vfs_read"), kp("vfs_read", 0, true));
    if !kprobe::available() {
        assert_eq!(
            parse_attach("kprobe:vfs_*"),
            Err(kprobe::UNAVAILABLE.to_string())
        );
        assert!(kprobe::check_available().is_err());
        assert!(kprobe::functions().is_empty());
    }
    for (raw, ret) in [
        ("kfunc:vfs_read", false),
        ("f:vfs_read", false),
        ("fentry:vfs_read", false),
        ("kretfunc:vfs_read", true),
        ("fr:vfs_read", true),
        ("fexit:vfs_read", true),
    ] {
        assert_eq!(
            parse_attach(raw),
            Ok(vec![Attach::Fentry {
                func: "vfs_read".into(),
                ret
            }]),
            "{raw}"
        );
    }
    let up = |ret| Attach::Uprobe {
        path: "/bin/bash".into(),
        symbol: Some("readline".into()),
        offset: 0,
        ret,
    };
    assert_eq!(
        parse_attach("uprobe:/bin/bash:readline"),
        Ok(vec![up(false)])
    );
    assert_eq!(parse_attach("u:/bin/bash:readline"), Ok(vec![up(false)]));
    assert_eq!(
        parse_attach("uretprobe:/bin/bash:readline"),
        Ok(vec![up(true)])
    );
    assert_eq!(parse_attach("ur:/bin/bash:readline"), Ok(vec![up(true)]));
    let sec = Ok(vec![Attach::Interval {
        period_ns: 1_000_000_000,
    }]);
    assert_eq!(parse_attach("interval:s:1"), sec);
    assert_eq!(parse_attach("i:ms:1000"), sec);
    assert_eq!(
        parse_attach("profile:hz:99"),
        Ok(vec![Attach::Profile {
            period_ns: 10_101_010
        }])
    );
    assert_eq!(
        parse_attach("p:us:50"),
        Ok(vec![Attach::Profile { period_ns: 50_000 }])
    );
    assert_eq!(
        parse_attach("s:faults"),
        Ok(vec![Attach::Software {
            event: "faults".into(),
            count: 100
        }])
    );
    assert_eq!(
        parse_attach("software:cpu-clock:5"),
        Ok(vec![Attach::Software {
            event: "cpu-clock".into(),
            count: 5
        }])
    );
    assert!(parse_attach("hardware:cache-misses:100").is_err());
    assert_eq!(
        parse_attach("bogus:x"),
        Err("invalid probe type 'bogus' in 'bogus:x'".into())
    );
}

#[test]
fn format_parsing() {
    fixture();
    let f = tracepoint::format("sched", "sched_switch").expect("format");
    let names: Vec<&str> = f.fields.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "prev_comm",
            "prev_pid",
            "prev_prio",
            "prev_state",
            "next_comm",
            "next_pid",
            "next_prio"
        ]
    );
    assert_eq!(
        f.fields[0],
        TpField {
            name: "prev_comm".into(),
            c_type: "char".into(),
            offset: 8,
            size: 16,
            signed: false,
            data_loc: false,
            array_len: Some(16),
            pointer: false,
        }
    );
    assert_eq!((f.fields[3].offset, f.fields[3].size), (32, 8));
    assert!(f.fields[3].signed);

    let f = tracepoint::format("syscalls", "sys_enter_execve").expect("format");
    assert_eq!(f.fields[0].name, "__syscall_nr");
    assert_eq!(f.fields[1].c_type, "const char *");
    assert!(f.fields[1].pointer);
    assert_eq!(
        (f.fields[2].name.as_str(), f.fields[2].c_type.as_str()),
        ("argv", "const char *const *")
    );
    assert_eq!(f.fields[3].offset, 32);

    let f = tracepoint::format("sched", "sched_process_exec").expect("format");
    assert_eq!(f.fields[0].name, "filename");
    assert_eq!(f.fields[0].c_type, "__data_loc char[]");
    assert!(f.fields[0].data_loc && !f.fields[0].pointer);
    assert_eq!(f.fields[0].array_len, None);
    assert_eq!(f.fields[1].name, "pid");

    let f = tracepoint::format("syscalls", "sys_exit_read").expect("format");
    assert_eq!(f.fields[1].name, "ret");
    assert!(f.fields[1].signed);
    assert!(tracepoint::format("syscalls", "nope").is_err());
    assert!(tracepoint::format("..", "x").is_err());
    assert!(tracepoint::parse_format("\tfield:int x;\toffset:z;\tsize:4;\tsigned:1;\n").is_err());
}

#[test]
fn listing_on_the_fixture() {
    fixture();
    assert_eq!(
        list::list(Some("tracepoint:sched:*"), false),
        Ok(
            "tracepoint:sched:sched_process_exec\ntracepoint:sched:sched_process_exit\n\
            tracepoint:sched:sched_process_fork\ntracepoint:sched:sched_switch\n\
            tracepoint:sched:sched_wakeup\n"
                .into()
        )
    );
    assert_eq!(
        list::list(Some("t:syscalls:sys_enter_execve"), true),
        Ok(
            "tracepoint:syscalls:sys_enter_execve\n    int __syscall_nr\n    \
            const char * filename\n    const char *const * argv\n    \
            const char *const * envp\n"
                .into()
        )
    );
    // bytewise order: `raw_syscalls` sorts before `sched`, `sys_exit` after `sys_enter`.
    let all = list::list(Some("tracepoint:*_syscalls:*"), false).expect("list");
    assert_eq!(
        all,
        "tracepoint:raw_syscalls:sys_enter\ntracepoint:raw_syscalls:sys_exit\n"
    );
    let sw = list::list(Some("software:cpu*"), false).expect("list");
    assert_eq!(sw, "software:cpu-clock:\nsoftware:cpu-migrations:\n");
    let every = list::list(None, false).expect("list");
    assert!(every.starts_with("software:alignment-faults:\n"));
    assert!(every.ends_with("tracepoint:syscalls:sys_exit_write\n"));
    assert!(list::list(Some("tracepoint:sched"), false).is_err());
    let up = list::list(Some("uprobe:/bin/bash:readline"), false).expect("list");
    assert_eq!(up, "uprobe:/bin/bash:readline\n");
}
