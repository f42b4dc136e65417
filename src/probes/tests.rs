//! Unit tests for the provider table, attach point parsing, tracepoint formats and listing,
//! run against the system catalogue over the tracefs fixture in tests/fixtures/tracefs, and
//! against text fixture catalogues.

use super::catalogue::Fixture;
use super::system::System;
use super::*;

/// A system catalogue over the tracefs fixture. It is explicit, not `RTRACE_TRACEFS`: an
/// environment variable would redirect the kernel tests that share this test process.
fn fixture() -> &'static System {
    static FIXTURE: std::sync::OnceLock<System> = std::sync::OnceLock::new();
    FIXTURE.get_or_init(|| {
        System::with_tracefs(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/tracefs"
        ))
    })
}

/// `parse_attach` against the fixture catalogue.
fn parse(raw: &str) -> Result<Vec<Attach>, String> {
    parse_attach(raw, fixture())
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
    assert_eq!(parse("BEGIN"), Ok(vec![Attach::Begin]));
    assert_eq!(parse(" END "), Ok(vec![Attach::End]));
    let one = Ok(vec![tp("syscalls", "sys_enter_read")]);
    assert_eq!(parse("tracepoint:syscalls:sys_enter_read"), one);
    assert_eq!(parse("t:syscalls:sys_enter_read"), one);
    assert_eq!(
        parse("t:syscalls:sys_enter_*"),
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
        parse("tracepoint:*sys*:sys_?nter"),
        Ok(vec![tp("raw_syscalls", "sys_enter")])
    );
    assert_eq!(
        parse("tracepoint:syscalls:sys_enter_nope"),
        Err("tracepoint not found: syscalls:sys_enter_nope".into())
    );
    assert_eq!(
        parse("tracepoint:nope*:x*"),
        Err("no tracepoint matches 'nope*:x*'".into())
    );
    assert!(parse("tracepoint:sched").is_err());
    assert!(parse("tracepoint:sched:").is_err());
    assert!(parse("tracepoint:../..:x").is_err());
    assert!(parse("tracepoint:sched:sched_switch:x").is_err());
}

#[test]
fn other_providers() {
    let raw = Ok(vec![Attach::RawTracepoint {
        name: "sched_switch".into(),
    }]);
    assert_eq!(parse("rawtracepoint:sched_switch"), raw);
    assert_eq!(parse("rt:sched_switch"), raw);
    let kp = |func: &str, offset, ret| {
        Ok(vec![Attach::Kprobe {
            func: func.into(),
            offset,
            ret,
        }])
    };
    // kprobes and kfuncs parse against a catalogue that has them; the machine's may not.
    let k = Fixture::new()
        .kernel_functions(&["vfs_read", "vfs_write"])
        .with_btf(crate::btf::kernel_fixture())
        .with_kfuncs();
    let kparse = |raw: &str| parse_attach(raw, &k);
    assert_eq!(kparse("kprobe:vfs_read"), kp("vfs_read", 0, false));
    assert_eq!(kparse("k:vfs_read+8"), kp("vfs_read", 8, false));
    assert_eq!(kparse("kretprobe:vfs_read"), kp("vfs_read", 0, true));
    assert_eq!(kparse("kr:vfs_read"), kp("vfs_read", 0, true));
    if !kprobe::available() {
        assert_eq!(parse("kprobe:vfs_*"), Err(kprobe::UNAVAILABLE.to_string()));
        assert_eq!(
            parse("kprobe:vfs_read"),
            Err(kprobe::UNAVAILABLE.to_string())
        );
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
            kparse(raw),
            Ok(vec![Attach::Fentry {
                func: "vfs_read".into(),
                ret
            }]),
            "{raw}"
        );
        let err = parse_attach(raw, &Fixture::new()).unwrap_err();
        assert!(err.contains("not available on this kernel"), "{err}");
    }
    let up = |ret| Attach::Uprobe {
        path: "/bin/bash".into(),
        symbol: Some("readline".into()),
        offset: 0,
        ret,
    };
    assert_eq!(parse("uprobe:/bin/bash:readline"), Ok(vec![up(false)]));
    assert_eq!(parse("u:/bin/bash:readline"), Ok(vec![up(false)]));
    assert_eq!(parse("uretprobe:/bin/bash:readline"), Ok(vec![up(true)]));
    assert_eq!(parse("ur:/bin/bash:readline"), Ok(vec![up(true)]));
    let sec = Ok(vec![Attach::Interval {
        period_ns: 1_000_000_000,
    }]);
    assert_eq!(parse("interval:s:1"), sec);
    assert_eq!(parse("i:ms:1000"), sec);
    assert_eq!(
        parse("profile:hz:99"),
        Ok(vec![Attach::Profile {
            period_ns: 10_101_010
        }])
    );
    assert_eq!(
        parse("p:us:50"),
        Ok(vec![Attach::Profile { period_ns: 50_000 }])
    );
    assert_eq!(
        parse("s:faults"),
        Ok(vec![Attach::Software {
            event: "faults".into(),
            count: 100
        }])
    );
    assert_eq!(
        parse("software:cpu-clock:5"),
        Ok(vec![Attach::Software {
            event: "cpu-clock".into(),
            count: 5
        }])
    );
    assert!(parse("hardware:cache-misses:100").is_err());
    assert_eq!(
        parse("bogus:x"),
        Err("invalid probe type 'bogus' in 'bogus:x'".into())
    );
}

#[test]
fn format_parsing() {
    let cat = fixture();
    let f = cat.format("sched", "sched_switch").expect("format");
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

    let f = cat.format("syscalls", "sys_enter_execve").expect("format");
    assert_eq!(f.fields[0].name, "__syscall_nr");
    assert_eq!(f.fields[1].c_type, "const char *");
    assert!(f.fields[1].pointer);
    assert_eq!(
        (f.fields[2].name.as_str(), f.fields[2].c_type.as_str()),
        ("argv", "const char *const *")
    );
    assert_eq!(f.fields[3].offset, 32);

    let f = cat.format("sched", "sched_process_exec").expect("format");
    assert_eq!(f.fields[0].name, "filename");
    assert_eq!(f.fields[0].c_type, "__data_loc char[]");
    assert!(f.fields[0].data_loc && !f.fields[0].pointer);
    assert_eq!(f.fields[0].array_len, None);
    assert_eq!(f.fields[1].name, "pid");

    let f = cat.format("syscalls", "sys_exit_read").expect("format");
    assert_eq!(f.fields[1].name, "ret");
    assert!(f.fields[1].signed);
    assert!(cat.format("syscalls", "nope").is_err());
    assert!(cat.format("..", "x").is_err());
    assert!(format::parse_format("\tfield:int x;\toffset:z;\tsize:4;\tsigned:1;\n").is_err());
}

#[test]
fn listing_on_the_fixture() {
    let list = |pattern, verbose| list::list_in(pattern, verbose, fixture());
    assert_eq!(
        list(Some("tracepoint:sched:*"), false),
        Ok(
            "tracepoint:sched:sched_process_exec\ntracepoint:sched:sched_process_exit\n\
            tracepoint:sched:sched_process_fork\ntracepoint:sched:sched_switch\n\
            tracepoint:sched:sched_wakeup\n"
                .into()
        )
    );
    assert_eq!(
        list(Some("t:syscalls:sys_enter_execve"), true),
        Ok(
            "tracepoint:syscalls:sys_enter_execve\n    int __syscall_nr\n    \
            const char * filename\n    const char *const * argv\n    \
            const char *const * envp\n"
                .into()
        )
    );
    // bytewise order: `raw_syscalls` sorts before `sched`, `sys_exit` after `sys_enter`.
    let all = list(Some("tracepoint:*_syscalls:*"), false).expect("list");
    assert_eq!(
        all,
        "tracepoint:raw_syscalls:sys_enter\ntracepoint:raw_syscalls:sys_exit\n"
    );
    let sw = list(Some("software:cpu*"), false).expect("list");
    assert_eq!(sw, "software:cpu-clock:\nsoftware:cpu-migrations:\n");
    let every = list(None, false).expect("list");
    assert!(every.starts_with("hardware:backend-stalls:\n"), "{every}");
    assert!(every.ends_with("tracepoint:syscalls:sys_exit_write\n"));
    assert!(list(Some("tracepoint:sched"), false).is_err());
    let up = list(Some("uprobe:/bin/bash:readline"), false).expect("list");
    assert_eq!(up, "uprobe:/bin/bash:readline\n");
}

#[test]
fn one_table_of_names_and_aliases() {
    let mut seen = std::collections::BTreeSet::new();
    for p in PROVIDERS {
        for name in std::iter::once(&p.name).chain(p.aliases) {
            assert!(seen.insert(*name), "{name} names two providers");
            assert!(std::ptr::eq(provider(name).expect("known"), p), "{name}");
        }
    }
    for (written, full) in [
        ("t", "tracepoint"),
        ("rt", "rawtracepoint"),
        ("k", "kprobe"),
        ("kr", "kretprobe"),
        ("u", "uprobe"),
        ("ur", "uretprobe"),
        ("i", "interval"),
        ("p", "profile"),
        ("s", "software"),
        ("h", "hardware"),
        ("f", "kfunc"),
        ("fentry", "kfunc"),
        ("fr", "kretfunc"),
        ("fexit", "kretfunc"),
        ("U", "usdt"),
        ("w", "watchpoint"),
        ("aw", "asyncwatchpoint"),
        ("it", "iter"),
    ] {
        assert_eq!(provider(written).map(|p| p.name), Some(full), "{written}");
    }
    assert!(provider("begin").is_none());
}

#[test]
fn every_attach_point_names_its_provider() {
    let cat = Fixture::new()
        .kernel_functions(&["vfs_read"])
        .with_btf(crate::btf::kernel_fixture())
        .with_kfuncs();
    for raw in [
        "BEGIN",
        "END",
        "rt:sched_switch",
        "k:vfs_read",
        "kr:vfs_read",
        "i:s:1",
        "p:hz:99",
        "s:cs",
        "f:vfs_read",
        "fr:vfs_read",
    ] {
        for a in parse_attach(raw, &cat).expect(raw) {
            let written = raw.split(':').next().unwrap_or(raw);
            assert!(std::ptr::eq(a.provider(), provider(written).expect(raw)));
            assert!(a.to_string().starts_with(a.provider().name), "{a}");
        }
    }
    assert_eq!(
        display_name(
            &Attach::Fentry {
                func: "x".into(),
                ret: true
            },
            "fexit:x"
        ),
        "kretfunc:vmlinux:x"
    );
    assert_eq!(display_name(&Attach::Begin, "BEGIN"), "BEGIN");
    assert_eq!(
        display_name(
            &Attach::Interval {
                period_ns: 1_000_000
            },
            "i:ms:1"
        ),
        "interval:ms:1"
    );
    assert_eq!(
        probe_text(&Attach::Interval {
            period_ns: 1_000_000
        }),
        "interval:ns:1000000"
    );
}

#[test]
fn begin_and_unsupported_types() {
    let cat = Fixture::new();
    assert_eq!(
        parse_attach("BEGIN:x", &cat),
        Err("invalid probe type 'BEGIN' in 'BEGIN:x'".into())
    );
    assert_eq!(
        parse_attach("END:", &cat),
        Err("invalid probe type 'END' in 'END:'".into())
    );
    // Watchpoints by their short names; an asyncwatchpoint needs a function.
    for (raw, provider) in [("w:0x10:8:w", "watchpoint"), ("aw:f+arg0:8:w", "")] {
        match parse_attach(raw, &cat) {
            Ok(points) => assert_eq!(points[0].provider().name, provider),
            Err(e) => assert_eq!(e, "-p PID or -c CMD required for watchpoint", "{raw}"),
        }
    }
    assert_eq!(
        parse_attach("asyncwatchpoint:0x10:8:w", &cat),
        Err("asyncwatchpoint requires a function name".into())
    );
    // Known types the kernel (or rtrace) cannot attach say which.
    let err = parse_attach("h:cycles", &cat).unwrap_err();
    assert!(err.contains("probes are not"), "{err}");
    let err = parse_attach("iter:task", &cat).unwrap_err();
    assert!(err.contains("is not available"), "{err}");
}

#[test]
fn iterators_parse_against_the_kernels_btf() {
    let bytes = crate::btf::kernel_fixture();
    let btf = crate::btf::Btf::parse(bytes.clone()).unwrap();
    let id = |f: &str| btf.func_proto(f).unwrap().func;
    let cat = Fixture::new().with_btf(bytes.clone()).with_iters();
    for (raw, name) in [("iter:task", "task"), ("it:task_file", "task_file")] {
        assert_eq!(
            parse_attach(raw, &cat),
            Ok(vec![Attach::Iter {
                name: name.into(),
                btf_id: id(&format!("bpf_iter_{name}")),
            }])
        );
    }
    let err = |raw: &str, cat: &Fixture| parse_attach(raw, cat).unwrap_err();
    assert_eq!(
        err("iter:vma", &cat),
        "iter vma not available for your kernel version."
    );
    assert_eq!(
        err("iter:task*", &cat),
        "iter probe type does not support wildcards"
    );
    assert_eq!(
        err("iter:", &cat),
        "iter probe type takes 2 arguments (1 optional)"
    );
    assert_eq!(
        err("iter:task:a:b", &cat),
        "iter probe type takes 2 arguments (1 optional)"
    );
    assert!(err("iter:task:pinned", &cat).contains("does not pin iterators"));
    // A kernel that refuses iterator programs: the kernel's answer is in the message.
    let refusing = Fixture::new().with_btf(bytes);
    let e = err("iter:task_file", &refusing);
    assert!(
        e.contains("does not load an iterator program against bpf_iter_task_file")
            && e.contains("the fixture's kernel loads no iterators"),
        "{e}"
    );
    // BTF without the iterator's function.
    let other = Fixture::new()
        .with_btf(crate::btf::tests::sample().0)
        .with_iters();
    assert!(err("iter:task", &other).contains("its BTF has no function bpf_iter_task"));
}

#[test]
fn an_iterators_context_comes_from_btf() {
    let btf = crate::btf::Btf::parse(crate::btf::kernel_fixture()).unwrap();
    let ctx = crate::probes::iter::context_fields(&btf, "task_file").unwrap();
    let got: Vec<(&str, u32, u32, bool)> = ctx
        .fields
        .iter()
        .map(|f| (f.name.as_str(), f.offset, f.size, f.pointer))
        .collect();
    assert_eq!(
        got,
        [
            ("meta", 0, 8, true),
            ("task", 8, 8, true),
            ("fd", 16, 4, false),
            ("file", 24, 8, true)
        ]
    );
    assert!(crate::probes::iter::context_fields(&btf, "vma").is_err());
}

#[test]
fn interval_and_profile_units() {
    let cat = Fixture::new();
    let iv = |s: &str| {
        parse_attach(&format!("interval:{s}"), &cat).map(|a| match a.as_slice() {
            [Attach::Interval { period_ns }] => *period_ns,
            _ => 0,
        })
    };
    assert_eq!(iv("s:1"), Ok(1_000_000_000));
    assert_eq!(iv("ms:100"), Ok(100_000_000));
    assert_eq!(iv("us:100"), Ok(100_000));
    assert_eq!(iv("hz:5"), Ok(200_000_000));
    assert_eq!(
        iv("ns:100"),
        Err("ns is not an accepted unit of time".into())
    );
    assert_eq!(
        iv("1s"),
        Err("interval probe type requires 2 arguments".into())
    );
    assert!(iv("s:1:2").is_err());
    assert!(iv("s:0").is_err());
    assert!(iv("s:x").is_err());
    assert!(iv("s:99999999999999").is_err());
    assert!(parse_attach("profile:99", &cat).is_err());
}

#[test]
fn software_events() {
    let cat = Fixture::new();
    let sw = |e: &str, c| {
        Ok(vec![Attach::Software {
            event: e.into(),
            count: c,
        }])
    };
    let p = |raw: &str| parse_attach(&format!("software:{raw}"), &cat);
    assert_eq!(p("cpu"), sw("cpu", 1_000_000));
    assert_eq!(p("cpu-clock"), sw("cpu-clock", 1_000_000));
    assert_eq!(p("faults:10"), sw("faults", 10));
    assert_eq!(p("cs"), sw("cs", 1000));
    assert_eq!(p("page-faults"), sw("page-faults", 100));
    assert_eq!(p("task-clock"), sw("task-clock", 1));
    assert_eq!(p("minor-faults"), sw("minor-faults", 100));
    assert_eq!(p("bpf-output"), sw("bpf-output", 1));
    assert_eq!(p("nope"), Err("nope is not a software probe".into()));
    assert!(p("cs:x").is_err());
    assert!(p("").is_err());
}

/// A format file as tracefs writes one, common fields included.
const OPENAT: &str = "name: sys_enter_openat\nID: 1\nformat:\n\
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\
\tfield:int __syscall_nr;\toffset:8;\tsize:4;\tsigned:1;\n\
\tfield:const char * filename;\toffset:24;\tsize:8;\tsigned:0;\n";

#[test]
fn fixture_catalogue_needs_no_machine() {
    let cat = Fixture::new()
        .tracepoint("syscalls", "sys_enter_openat", OPENAT)
        .tracepoint("syscalls", "sys_enter_close", OPENAT)
        .binary("/opt/app", &["main", "handle"]);
    assert_eq!(
        parse_attach("t:syscalls:sys_enter_*", &cat),
        Ok(vec![
            tp("syscalls", "sys_enter_close"),
            tp("syscalls", "sys_enter_openat"),
        ])
    );
    assert_eq!(
        parse_attach("t:syscalls:nope", &cat),
        Err("tracepoint not found: syscalls:nope".into())
    );
    let f = cat.format("syscalls", "sys_enter_openat").expect("format");
    assert_eq!(f.fields[1].name, "filename");
    assert!(f.fields[1].pointer);
    assert_eq!(
        parse_attach("uprobe:/opt/app:ha*", &cat),
        Ok(vec![Attach::Uprobe {
            path: "/opt/app".into(),
            symbol: Some("handle".into()),
            offset: 0,
            ret: false
        }])
    );
    assert!(parse_attach("uprobe:/opt/app:nope", &cat).is_err());
    assert_eq!(
        list::list_in(Some("t:*:*openat"), true, &cat),
        Ok(
            "tracepoint:syscalls:sys_enter_openat\n    int __syscall_nr\n    \
            const char * filename\n"
                .into()
        )
    );
    assert_eq!(
        list::list_in(Some("uprobe:/opt/app:*"), false, &cat),
        Ok("uprobe:/opt/app:handle\nuprobe:/opt/app:main\n".into())
    );
}

#[test]
fn pt_regs_offsets_per_architecture() {
    assert_eq!(arch::x86_64::pt_regs_offset("arg0"), Some(112));
    assert_eq!(arch::x86_64::pt_regs_offset("retval"), Some(80));
    assert_eq!(arch::aarch64::pt_regs_offset("arg5"), Some(40));
    assert_eq!(arch::pt_regs_offset("arg6"), None);
    assert_eq!(kprobe::KPROBE.context, Context::REGS);
    assert_eq!(tracepoint::PROVIDER.context, Context::ARGS);
}

#[test]
fn kfuncs_expand_and_list_against_btf() {
    let cat = Fixture::new()
        .with_btf(crate::btf::kernel_fixture())
        .with_kfuncs();
    let fentry = |f: &str, ret| Attach::Fentry {
        func: f.into(),
        ret,
    };
    assert_eq!(
        parse_attach("kfunc:vfs_*", &cat),
        Ok(vec![fentry("vfs_read", false), fentry("vfs_write", false)])
    );
    assert_eq!(
        parse_attach("kretfunc:vmlinux:vfs_r*", &cat),
        Ok(vec![fentry("vfs_read", true)])
    );
    assert_eq!(
        parse_attach("fentry:*:do_exit", &cat),
        Ok(vec![fentry("do_exit", false)])
    );
    // More than six parameters: left out of wildcards, as bpftrace 0.17 does.
    assert_eq!(
        parse_attach("kfunc:man*", &cat),
        Err("no kernel function matches 'man*'".into())
    );
    let err = |raw: &str| parse_attach(raw, &cat).unwrap_err();
    assert_eq!(
        err("kfunc:many"),
        "kfunc:many: functions with more than 6 parameters are not supported."
    );
    assert_eq!(
        err("kfunc:nothing"),
        "kfunc:nothing: the kernel's BTF has no function nothing"
    );
    assert!(err("kfunc:ext4:ext4_read").contains("not the BTF of module ext4"));
    assert_eq!(
        err("kfunc:a:b:c"),
        "kfunc probe type requires 1 or 2 arguments"
    );
    assert_eq!(
        err("kretfunc:"),
        "kretfunc probe type requires 1 or 2 arguments"
    );
    // Only traceable functions, when the catalogue knows them.
    let traceable = Fixture::new()
        .with_btf(crate::btf::kernel_fixture())
        .kernel_functions(&["vfs_write"])
        .with_kfuncs();
    assert_eq!(
        parse_attach("kfunc:vfs_*", &traceable),
        Ok(vec![fentry("vfs_write", false)])
    );

    let list = |pattern, verbose| list::list_in(Some(pattern), verbose, &cat);
    assert_eq!(
        list("kfunc:vfs_*", false),
        Ok("kfunc:vmlinux:vfs_read\nkfunc:vmlinux:vfs_write\n".into())
    );
    assert_eq!(
        list("kretfunc:vmlinux:vfs_read", true),
        Ok(
            "kretfunc:vmlinux:vfs_read\n    struct file * file\n    char * buf\n    \
            size_t count\n    loff_t * pos\n    ssize_t retval\n"
                .into()
        )
    );
    assert_eq!(
        list("kfunc:do_exit", true),
        Ok("kfunc:vmlinux:do_exit\n    long int code\n".into())
    );
    // A kernel without kfuncs: bpftrace 0.17's error.
    let none = Fixture::new().with_btf(crate::btf::kernel_fixture());
    assert_eq!(
        list::list_in(Some("kfunc:vfs_read"), true, &none).map_err(|e| e.message),
        Err("kfunc/kretfunc not available for your kernel version.".into())
    );
}

#[test]
fn kfunc_arguments_are_laid_out_from_the_prototype() {
    let btf = crate::btf::Btf::parse(crate::btf::kernel_fixture()).unwrap();
    let format = kfunc::args_format(&btf, "vfs_read", true).expect("vfs_read");
    let got: Vec<(&str, u32, u32, bool, bool)> = format
        .fields
        .iter()
        .map(|f| (f.name.as_str(), f.offset, f.size, f.signed, f.pointer))
        .collect();
    assert_eq!(
        got,
        [
            ("file", 0, 8, false, true),
            ("buf", 8, 8, false, true),
            ("count", 16, 8, false, false),
            ("pos", 24, 8, false, true),
            (kfunc::RETVAL_FIELD, 32, 8, true, false),
        ]
    );
    // kfunc has no retval; a void function has none either.
    assert_eq!(
        kfunc::args_format(&btf, "vfs_read", false)
            .unwrap()
            .fields
            .len(),
        4
    );
    let exit = kfunc::args_format(&btf, "do_exit", true).unwrap();
    assert_eq!(exit.fields.len(), 1);
    assert!(exit.fields[0].signed);
    assert_eq!(kfunc::args_format(&btf, "nothing", true), None);
}

#[test]
fn raw_tracepoints_come_from_btf() {
    let btf = crate::btf::Btf::parse(crate::btf::kernel_fixture()).unwrap();
    assert_eq!(btf.raw_tracepoints(), ["sched_switch", "sys_enter"]);
    let cat = Fixture::new().with_btf(crate::btf::kernel_fixture());
    let rt = |name: &str| Attach::RawTracepoint { name: name.into() };
    assert_eq!(
        parse_attach("rawtracepoint:s*", &cat),
        Ok(vec![rt("sched_switch"), rt("sys_enter")])
    );
    assert_eq!(
        parse_attach("rt:sys_enter", &cat),
        Ok(vec![rt("sys_enter")])
    );
    assert_eq!(
        parse_attach("rt:nothing*", &cat),
        Err("No raw tracepoint matches 'nothing*'".into())
    );
    let list = |pattern, verbose| list::list_in(Some(pattern), verbose, &cat);
    assert_eq!(
        list("rawtracepoint:*", false),
        Ok("rawtracepoint:sched_switch\nrawtracepoint:sys_enter\n".into())
    );
    // Names from the kernel's own __bpf_trace_NAME where BTF has it, else argN.
    assert_eq!(
        list("rt:sched_switch", true),
        Ok(
            "rawtracepoint:sched_switch\n    int preempt\n    struct task_struct * prev\n    \
            struct task_struct * next\n    unsigned int prev_state\n"
                .into()
        )
    );
    assert_eq!(
        list("rt:sys_e*", true),
        Ok("rawtracepoint:sys_enter\n    struct file * arg0\n    long int arg1\n".into())
    );
    // Not part of a listing of every probe: bpftrace 0.17 has no raw tracepoints.
    assert!(!list("*", false).unwrap().contains("rawtracepoint"));
    // argN: one 8-byte slot each, as many as the tracepoint has.
    let format = rawtracepoint::args_format(&btf, "sched_switch").unwrap();
    let got: Vec<(&str, u32, u32)> = format
        .fields
        .iter()
        .map(|f| (f.name.as_str(), f.offset, f.size))
        .collect();
    assert_eq!(
        got,
        [
            ("arg0", 0, 8),
            ("arg1", 8, 8),
            ("arg2", 16, 8),
            ("arg3", 24, 8)
        ]
    );
    assert_eq!(rawtracepoint::args_format(&btf, "nothing"), None);
}
