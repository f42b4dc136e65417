//! Kernel tests of the loader and attacher (they need root and skip without it): hand-encoded
//! programs loaded with `runtime::load::Programs`, attached to real probes, checked through an
//! array-map counter. Run them under the kernel-test lock like tests/*kernel*.rs:
//! `flock /tmp/rtrace-kernel.lock cargo test --lib runtime::load_tests`.

use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::time::Duration;

use super::load::{LoadError, LoadOptions, ProgramImage, Programs};
use crate::bpf::sys;
use crate::probes::Attach;
use aya::maps::MapData;

fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> [u8; 8] {
    let mut b = [0u8; 8];
    b[0] = code;
    b[1] = (src << 4) | (dst & 0xf);
    b[2..4].copy_from_slice(&off.to_le_bytes());
    b[4..8].copy_from_slice(&imm.to_le_bytes());
    b
}

const EXIT: u8 = 0x95;
const MOV64_IMM: u8 = 0xb7;
const MOV64_REG: u8 = 0xbf;

/// A one-slot `u64` array map; dropped (closed) with the value.
struct Counter(MapData);

impl Counter {
    fn new(name: &str) -> Counter {
        let def = aya_obj::Map::new_from_params(2 /* BPF_MAP_TYPE_ARRAY */, 4, 8, 1, 0);
        Counter(MapData::create(def, name, None).expect("create array map"))
    }
    fn fd(&self) -> RawFd {
        self.0.fd().as_fd().as_raw_fd()
    }
    fn get(&self) -> u64 {
        let mut v = [0u8; 8];
        sys::map_lookup(self.fd(), &0u32.to_ne_bytes(), &mut v).expect("lookup");
        u64::from_ne_bytes(v)
    }
}

/// `*(u64 *)lookup(map, 0) += 1; return 0`.
fn count_insns(map_fd: RawFd) -> Vec<[u8; 8]> {
    vec![
        insn(0x62, 10, 0, -4, 0),     // *(u32 *)(r10 - 4) = 0
        insn(0x18, 1, 1, 0, map_fd),  // r1 = map fd (ld_imm64, BPF_PSEUDO_MAP_FD)
        insn(0, 0, 0, 0, 0),          //   second slot
        insn(MOV64_REG, 2, 10, 0, 0), // r2 = r10
        insn(0x07, 2, 0, 0, -4),      // r2 += -4
        insn(0x85, 0, 0, 0, 1),       // call bpf_map_lookup_elem
        insn(0x15, 0, 0, 2, 0),       // if r0 == 0 goto +2
        insn(MOV64_IMM, 1, 0, 0, 1),  // r1 = 1
        insn(0xdb, 0, 1, 0, 0),       // lock *(u64 *)(r0 + 0) += r1
        insn(MOV64_IMM, 0, 0, 0, 0),  // r0 = 0
        insn(EXIT, 0, 0, 0, 0),       // exit
    ]
}

fn image(name: &str, attach: Attach, insns: Vec<[u8; 8]>) -> ProgramImage {
    ProgramImage {
        name: name.into(),
        attach,
        insns,
    }
}

/// A uprobe (or uretprobe) on `func` of this test binary.
fn own_uprobe(func: &str, ret: bool) -> Attach {
    let exe = std::env::current_exe().expect("current exe");
    Attach::Uprobe {
        path: exe.to_string_lossy().into_owned(),
        symbol: Some(func.into()),
        offset: 0,
        ret,
    }
}

fn getpid_tp() -> Attach {
    Attach::Tracepoint {
        category: "syscalls".into(),
        name: "sys_enter_getpid".into(),
    }
}

/// Loading programs needs root: without it these tests have nothing to test.
fn as_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

fn ensure_tracefs() {
    if !std::path::Path::new("/sys/kernel/tracing/events").is_dir() {
        let _ = std::process::Command::new("mount")
            .args(["-t", "tracefs", "tracefs", "/sys/kernel/tracing"])
            .status();
    }
}

/// Kernel ids of loaded programs whose (15-byte) name is `name`.
fn prog_ids(name: &str) -> Vec<u32> {
    let short = &name[..name.len().min(15)];
    sys::loaded_programs()
        .into_iter()
        .filter(|(_, n)| n == short)
        .map(|(id, _)| id)
        .collect()
}

fn assert_gone(ids: &[u32]) {
    // Another test listing programs holds an fd of each one for a moment (to read its
    // name), which keeps a closed program loaded until that test closes it: wait a little.
    for _ in 0..100 {
        let progs: Vec<u32> = sys::loaded_programs().into_iter().map(|p| p.0).collect();
        if !ids.iter().any(|id| progs.contains(id)) {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let progs: Vec<u32> = sys::loaded_programs().into_iter().map(|p| p.0).collect();
    let links = sys::loaded_links();
    for id in ids {
        assert!(!progs.contains(id), "program {id} still loaded");
        assert!(
            !links.iter().any(|(_, p)| p == id),
            "a link to program {id} remains"
        );
    }
}

#[test]
fn tracepoint_counts_getpid_and_leaves_nothing() {
    if !as_root() {
        return;
    }
    ensure_tracefs();
    let ctr = Counter::new("ld_tp_ctr");
    let images = [image("ld_tp_getpid", getpid_tp(), count_insns(ctr.fd()))];
    let mut s = Programs::load(&images).expect("load");
    let ids = prog_ids("ld_tp_getpid");
    assert_eq!(ids.len(), 1, "one program loaded under our name");
    // SAFETY: getpid has no preconditions.
    unsafe { libc::getpid() };
    assert_eq!(ctr.get(), 0, "not attached yet");
    assert_eq!(s.attach(None).expect("attach"), 1);
    for _ in 0..5 {
        // SAFETY: as above.
        unsafe { libc::getpid() };
    }
    assert!(ctr.get() >= 5, "counter {} after 5 getpid calls", ctr.get());
    s.close();
    assert_gone(&ids);
    let after = ctr.get();
    // SAFETY: as above.
    unsafe { libc::getpid() };
    assert_eq!(ctr.get(), after, "detached program still counts");
}

#[test]
fn begin_and_end_fire_once_each() {
    if !as_root() {
        return;
    }
    let b = Counter::new("ld_begin_ctr");
    let e = Counter::new("ld_end_ctr");
    let images = [
        image("ld_begin", Attach::Begin, count_insns(b.fd())),
        image("ld_end", Attach::End, count_insns(e.fd())),
    ];
    let mut s = Programs::load(&images).expect("load");
    assert_eq!(s.attach(None).expect("attach"), 2, "BEGIN and END count");
    assert_eq!((b.get(), e.get()), (0, 0), "attach does not fire BEGIN");
    s.run_begin().expect("run BEGIN");
    assert_eq!((b.get(), e.get()), (1, 0));
    s.run_end().expect("run END");
    assert_eq!((b.get(), e.get()), (1, 1));
}

#[test]
fn interval_ticks() {
    if !as_root() {
        return;
    }
    let ctr = Counter::new("ld_iv_ctr");
    let images = [image(
        "ld_interval",
        Attach::Interval {
            period_ns: 10_000_000,
        },
        count_insns(ctr.fd()),
    )];
    let mut s = Programs::load(&images).expect("load");
    s.attach(None).expect("attach");
    std::thread::sleep(Duration::from_millis(300));
    let n = ctr.get();
    assert!((5..=60).contains(&n), "{n} ticks of 10 ms in 300 ms");
}

#[test]
fn profile_runs_on_every_cpu() {
    if !as_root() {
        return;
    }
    let ctr = Counter::new("ld_prof_ctr");
    let images = [image(
        "ld_profile",
        Attach::Profile {
            period_ns: 1_000_000,
        },
        count_insns(ctr.fd()),
    )];
    let mut s = Programs::load(&images).expect("load");
    assert_eq!(
        s.attach(None).expect("attach"),
        1,
        "one probe however many CPUs"
    );
    std::thread::sleep(Duration::from_millis(200));
    assert!(ctr.get() > 0);
}

#[no_mangle]
#[inline(never)]
pub extern "C" fn rtrace_load_test_target(x: u64) -> u64 {
    std::hint::black_box(x).wrapping_mul(3)
}

#[test]
fn uprobe_on_own_function_counts_calls() {
    if !as_root() {
        return;
    }
    let ctr = Counter::new("ld_up_ctr");
    let images = [image(
        "ld_uprobe",
        own_uprobe("rtrace_load_test_target", false),
        count_insns(ctr.fd()),
    )];
    let mut s = Programs::load(&images).expect("load");
    s.attach(Some(std::process::id() as i32)).expect("attach");
    for i in 0..3 {
        std::hint::black_box(rtrace_load_test_target(std::hint::black_box(i)));
    }
    assert_eq!(ctr.get(), 3);
}

#[test]
fn uprobe_on_bash_readline_fires() {
    if !as_root() {
        return;
    }
    let ctr = Counter::new("ld_rl_ctr");
    let images = [image(
        "ld_readline",
        Attach::Uprobe {
            path: "/bin/bash".into(),
            symbol: Some("readline".into()),
            offset: 0,
            ret: false,
        },
        count_insns(ctr.fd()),
    )];
    let mut s = Programs::load(&images).expect("load");
    assert_eq!(s.attach(None).expect("attach"), 1);
    // An interactive bash (on a pty from util-linux `script`) reads each line with readline.
    if std::path::Path::new("/usr/bin/script").exists() {
        let status = std::process::Command::new("sh")
            .args([
                "-c",
                "printf 'true\\nexit\\n' | script -qc 'bash --norc -i' /dev/null",
            ])
            .stdout(std::process::Stdio::null())
            .status()
            .expect("run bash");
        assert!(status.success());
        assert!(ctr.get() > 0, "readline never hit");
    }
}

/// `*v = *v * 10 + digit` on the counter's slot: the programs that ran, in the order they ran.
fn append_digit_insns(map_fd: RawFd, digit: i32) -> Vec<[u8; 8]> {
    vec![
        insn(0x62, 10, 0, -4, 0),     // *(u32 *)(r10 - 4) = 0
        insn(0x18, 1, 1, 0, map_fd),  // r1 = map fd
        insn(0, 0, 0, 0, 0),          //   second slot
        insn(MOV64_REG, 2, 10, 0, 0), // r2 = r10
        insn(0x07, 2, 0, 0, -4),      // r2 += -4
        insn(0x85, 0, 0, 0, 1),       // call bpf_map_lookup_elem
        insn(0x15, 0, 0, 4, 0),       // if r0 == 0 goto +4
        insn(0x79, 1, 0, 0, 0),       // r1 = *(u64 *)(r0 + 0)
        insn(0x27, 1, 0, 0, 10),      // r1 *= 10
        insn(0x07, 1, 0, 0, digit),   // r1 += digit
        insn(0x7b, 0, 1, 0, 0),       // *(u64 *)(r0 + 0) = r1
        insn(MOV64_IMM, 0, 0, 0, 0),  // r0 = 0
        insn(EXIT, 0, 0, 0, 0),       // exit
    ]
}

/// The target of the uprobe order test (each test has its own: tests run in parallel).
#[no_mangle]
#[inline(never)]
pub extern "C" fn rtrace_load_test_order_target(x: u64) -> u64 {
    std::hint::black_box(x).wrapping_mul(5)
}

/// The target of the uprobe pid test.
#[no_mangle]
#[inline(never)]
pub extern "C" fn rtrace_load_test_pid_target(x: u64) -> u64 {
    std::hint::black_box(x).wrapping_mul(7)
}

#[test]
fn uprobes_opened_while_loading_run_in_script_order() {
    if !as_root() {
        return;
    }
    let target = own_uprobe("rtrace_load_test_order_target", false);
    let pid = Some(std::process::id() as i32);
    // Both ways of loading: events opened while loading (`load_for`) and at attach time.
    for ahead in [true, false] {
        let ctr = Counter::new("ld_order_ctr");
        let images = [
            image(
                "ld_order_1",
                target.clone(),
                append_digit_insns(ctr.fd(), 1),
            ),
            image(
                "ld_order_2",
                target.clone(),
                append_digit_insns(ctr.fd(), 2),
            ),
        ];
        let mut s = if ahead {
            Programs::load_for(&images, pid, &LoadOptions::default())
        } else {
            Programs::load(&images)
        }
        .expect("load");
        assert_eq!(s.attach(pid).expect("attach"), 2);
        std::hint::black_box(rtrace_load_test_order_target(std::hint::black_box(1)));
        assert_eq!(ctr.get(), 12, "opened ahead: {ahead}");
        let ids = [prog_ids("ld_order_1"), prog_ids("ld_order_2")].concat();
        s.close();
        assert_gone(&ids);
    }
}

#[test]
fn uprobe_opened_for_another_pid_is_opened_again() {
    if !as_root() {
        return;
    }
    let ctr = Counter::new("ld_repid_ctr");
    let images = [image(
        "ld_repid",
        own_uprobe("rtrace_load_test_pid_target", false),
        count_insns(ctr.fd()),
    )];
    // Opened for every process, attached for this one only: the event is opened again.
    let mut s = Programs::load_for(&images, None, &LoadOptions::default()).expect("load");
    s.attach(Some(std::process::id() as i32)).expect("attach");
    std::hint::black_box(rtrace_load_test_pid_target(std::hint::black_box(2)));
    assert_eq!(ctr.get(), 1);
}

#[test]
fn missing_uprobe_target_opened_ahead_is_an_attach_error() {
    if !as_root() {
        return;
    }
    let ok = image(
        "ld_ahead_ok",
        getpid_tp(),
        vec![insn(MOV64_IMM, 0, 0, 0, 0), insn(EXIT, 0, 0, 0, 0)],
    );
    let missing = image(
        "ld_ahead_missing",
        Attach::Uprobe {
            path: "/no/such/binary".into(),
            symbol: Some("main".into()),
            offset: 0,
            ret: false,
        },
        vec![insn(MOV64_IMM, 0, 0, 0, 0), insn(EXIT, 0, 0, 0, 0)],
    );
    ensure_tracefs();
    let mut s = Programs::load_for(&[ok, missing], None, &LoadOptions::default()).expect("load");
    let ids = [prog_ids("ld_ahead_ok"), prog_ids("ld_ahead_missing")].concat();
    match s.attach(None) {
        Err(LoadError::Attach {
            program: 1,
            message,
        }) => assert_eq!(
            message,
            "cannot attach uprobe:/no/such/binary:main: cannot read /no/such/binary: \
             No such file or directory (os error 2)"
        ),
        other => panic!(
            "expected an attach error, got {:?}",
            other.map_err(|e| e.to_string())
        ),
    }
    assert_gone(&ids);
}

#[test]
fn missing_uprobe_target_is_an_attach_error() {
    if !as_root() {
        return;
    }
    let images = [image(
        "ld_up_missing",
        Attach::Uprobe {
            path: "/no/such/binary".into(),
            symbol: Some("main".into()),
            offset: 0,
            ret: false,
        },
        vec![insn(MOV64_IMM, 0, 0, 0, 0), insn(EXIT, 0, 0, 0, 0)],
    )];
    let mut s = Programs::load(&images).expect("load");
    match s.attach(None) {
        Err(LoadError::Attach {
            program: 0,
            message,
        }) => {
            assert!(message.contains("/no/such/binary"), "{message}")
        }
        other => panic!(
            "expected an attach error, got {:?}",
            other.map_err(|e| e.to_string())
        ),
    }
}

/// The getpid syscall's kernel function on this architecture.
const GETPID_FUNC: &str = if cfg!(target_arch = "aarch64") {
    "__arm64_sys_getpid"
} else {
    "__x64_sys_getpid"
};

fn kprobes_here() -> bool {
    std::path::Path::new("/sys/bus/event_source/devices/kprobe/type").exists()
        || std::path::Path::new("/sys/kernel/tracing/kprobe_events").exists()
}

#[test]
fn kprobe_attaches_or_says_kprobes_are_unavailable() {
    if !as_root() {
        return;
    }
    ensure_tracefs();
    let ctr = Counter::new("ld_kp_ctr");
    let images = [image(
        "ld_kprobe",
        Attach::Kprobe {
            func: GETPID_FUNC.into(),
            offset: 0,
            ret: false,
        },
        count_insns(ctr.fd()),
    )];
    let mut s = Programs::load(&images).expect("a kprobe program loads everywhere");
    let ids = prog_ids("ld_kprobe");
    let result = s.attach(None);
    if kprobes_here() {
        assert_eq!(result.expect("attach"), 1);
        // SAFETY: getpid has no preconditions.
        unsafe { libc::getpid() };
        assert!(ctr.get() > 0);
    } else {
        match result {
            Err(e @ LoadError::Attach { program: 0, .. }) => {
                let text = e.to_string();
                assert!(text.contains("kprobes are not available"), "{text}");
                assert!(text.contains(&format!("kprobe:{GETPID_FUNC}")), "{text}");
            }
            other => panic!(
                "expected an attach error, got {:?}",
                other.map_err(|e| e.to_string())
            ),
        }
        assert_gone(&ids);
    }
}

#[test]
fn fentry_loads_or_says_it_is_unavailable() {
    if !as_root() {
        return;
    }
    let images = [image(
        "ld_fentry",
        Attach::Fentry {
            func: "do_sys_openat2".into(),
            ret: false,
        },
        vec![insn(MOV64_IMM, 0, 0, 0, 0), insn(EXIT, 0, 0, 0, 0)],
    )];
    match Programs::load(&images) {
        Ok(mut s) => assert_eq!(s.attach(None).expect("attach fentry"), 1),
        Err(e @ LoadError::Attach { program: 0, .. }) => {
            let text = e.to_string();
            assert!(
                text.contains("kfunc:do_sys_openat2 is not available"),
                "{text}"
            );
        }
        Err(e) => panic!("unexpected error: {e:?}"),
    }
}

#[test]
fn verifier_rejection_names_program_and_instruction() {
    if !as_root() {
        return;
    }
    let images = [
        image(
            "ld_ok",
            Attach::Begin,
            vec![insn(MOV64_IMM, 0, 0, 0, 0), insn(EXIT, 0, 0, 0, 0)],
        ),
        image(
            "ld_bad",
            Attach::Begin,
            vec![
                insn(MOV64_IMM, 0, 0, 0, 0),
                insn(MOV64_IMM, 1, 0, 0, 7),
                insn(MOV64_REG, 0, 5, 0, 0), // r0 = r5: r5 was never written
                insn(EXIT, 0, 0, 0, 0),
            ],
        ),
    ];
    match Programs::load(&images) {
        Err(e @ LoadError::Verifier { .. }) => {
            let text = e.to_string();
            let LoadError::Verifier { program, insn, log } = e else {
                unreachable!()
            };
            assert_eq!(program, 1);
            assert_eq!(insn, Some(2), "log:\n{log}");
            assert!(log.contains("R5 !read_ok"), "{log}");
            assert!(
                text.contains("R5 !read_ok") && text.contains("instruction 2"),
                "{text}"
            );
        }
        Err(e) => panic!("expected a verifier error, got {e:?}"),
        Ok(_) => panic!("the verifier accepted an uninitialised read"),
    }
    assert!(prog_ids("ld_ok").is_empty(), "failed load leaves programs");
}

#[test]
fn failed_attach_drops_earlier_probes() {
    if !as_root() {
        return;
    }
    ensure_tracefs();
    let ctr = Counter::new("ld_fail_ctr");
    let images = [
        image("ld_fail_first", getpid_tp(), count_insns(ctr.fd())),
        image(
            "ld_fail_second",
            Attach::Tracepoint {
                category: "syscalls".into(),
                name: "sys_enter_no_such_call".into(),
            },
            vec![insn(MOV64_IMM, 0, 0, 0, 0), insn(EXIT, 0, 0, 0, 0)],
        ),
    ];
    let mut s = Programs::load(&images).expect("load");
    let ids = [prog_ids("ld_fail_first"), prog_ids("ld_fail_second")].concat();
    assert_eq!(ids.len(), 2);
    match s.attach(None) {
        Err(LoadError::Attach {
            program: 1,
            message,
        }) => assert!(
            message.contains("syscalls:sys_enter_no_such_call"),
            "{message}"
        ),
        other => panic!(
            "expected an attach error, got {:?}",
            other.map_err(|e| e.to_string())
        ),
    }
    // The session still exists, yet nothing of it remains in the kernel.
    assert_gone(&ids);
    let before = ctr.get();
    // SAFETY: getpid has no preconditions.
    unsafe { libc::getpid() };
    assert_eq!(ctr.get(), before);
    assert!(s.run_begin().is_err(), "a closed session cannot run BEGIN");
}

#[test]
fn uretprobe_on_own_function_counts_returns() {
    if !as_root() {
        return;
    }
    let ctr = Counter::new("ld_uret_ctr");
    let images = [image(
        "ld_uretprobe",
        own_uprobe("rtrace_load_test_target", true),
        count_insns(ctr.fd()),
    )];
    let mut s = Programs::load(&images).expect("load");
    s.attach(Some(std::process::id() as i32)).expect("attach");
    for i in 0..4 {
        std::hint::black_box(rtrace_load_test_target(std::hint::black_box(i)));
    }
    assert_eq!(ctr.get(), 4);
    let ids = prog_ids("ld_uretprobe");
    s.close();
    assert_gone(&ids);
}

#[test]
fn raw_tracepoint_counts_syscalls() {
    if !as_root() {
        return;
    }
    let ctr = Counter::new("ld_raw_ctr");
    let images = [image(
        "ld_raw_enter",
        Attach::RawTracepoint {
            name: "sys_enter".into(),
        },
        count_insns(ctr.fd()),
    )];
    let mut s = Programs::load(&images).expect("load");
    assert_eq!(s.attach(None).expect("attach"), 1);
    for _ in 0..3 {
        // SAFETY: getpid has no preconditions.
        unsafe { libc::getpid() };
    }
    assert!(ctr.get() >= 3, "counter {}", ctr.get());
    let ids = prog_ids("ld_raw_enter");
    s.close();
    // A raw tracepoint link frees its program after an RCU grace period.
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    while std::time::Instant::now() < deadline
        && prog_ids("ld_raw_enter").iter().any(|i| ids.contains(i))
    {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_gone(&ids);
}

#[test]
fn missing_raw_tracepoint_is_an_attach_error() {
    if !as_root() {
        return;
    }
    let images = [image(
        "ld_raw_missing",
        Attach::RawTracepoint {
            name: "no_such_tracepoint_x".into(),
        },
        vec![insn(MOV64_IMM, 0, 0, 0, 0), insn(EXIT, 0, 0, 0, 0)],
    )];
    let mut s = Programs::load(&images).expect("load");
    match s.attach(None) {
        Err(e @ LoadError::Attach { program: 0, .. }) => {
            let text = e.to_string();
            assert!(
                text.contains("rawtracepoint:no_such_tracepoint_x"),
                "{text}"
            );
        }
        other => panic!(
            "expected an attach error, got {:?}",
            other.map_err(|e| e.to_string())
        ),
    }
}

#[test]
fn software_event_counts_page_faults_of_one_process() {
    if !as_root() {
        return;
    }
    let ctr = Counter::new("ld_sw_ctr");
    let images = [image(
        "ld_software",
        Attach::Software {
            event: "page-faults".into(),
            count: 1,
        },
        count_insns(ctr.fd()),
    )];
    let mut s = Programs::load(&images).expect("load");
    // A perf event of one task follows that thread: this test's thread.
    // SAFETY: gettid has no preconditions.
    let tid = unsafe { libc::gettid() };
    assert_eq!(s.attach(Some(tid)).expect("attach"), 1);
    // Touch fresh anonymous pages: each first touch is a page fault of this thread.
    let len = 64 * 4096;
    // SAFETY: a private anonymous mapping; no existing memory is affected.
    let mem = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    assert_ne!(mem, libc::MAP_FAILED);
    for off in (0..len).step_by(4096) {
        // SAFETY: `off` is inside the mapping just made.
        unsafe { std::ptr::write_volatile(mem.cast::<u8>().add(off), 1) };
    }
    // SAFETY: `mem` is the mapping of `len` bytes made above, no longer used.
    unsafe { libc::munmap(mem, len) };
    assert!(ctr.get() > 0, "no page fault counted");
}

#[test]
fn verifier_log_names_the_reason_for_a_large_program() {
    if !as_root() {
        return;
    }
    // 5,000 no-op moves, then an uninitialised read: the log is asked for only after the
    // fast load fails, and the failing instruction still comes out of it.
    let mut insns = vec![insn(MOV64_IMM, 0, 0, 0, 0); 5000];
    insns.push(insn(MOV64_REG, 0, 7, 0, 0)); // r0 = r7: never written
    insns.push(insn(EXIT, 0, 0, 0, 0));
    let images = [image("ld_big_bad", Attach::Begin, insns)];
    match Programs::load(&images) {
        Err(LoadError::Verifier { program, insn, log }) => {
            assert_eq!(program, 0);
            assert_eq!(
                insn,
                Some(5000),
                "log tail:\n{}",
                &log[log.len().saturating_sub(500)..]
            );
            assert!(
                log.contains("R7 !read_ok"),
                "{}",
                &log[log.len().saturating_sub(500)..]
            );
        }
        Err(e) => panic!("expected a verifier error, got {e:?}"),
        Ok(_) => panic!("the verifier accepted an uninitialised read"),
    }
}

#[test]
fn many_tracepoints_detach_concurrently_and_leave_nothing() {
    if !as_root() {
        return;
    }
    ensure_tracefs();
    let ctr = Counter::new("ld_many_ctr");
    let names = [
        ("ld_many_pid", "sys_enter_getpid"),
        ("ld_many_ppid", "sys_enter_getppid"),
        ("ld_many_tid", "sys_enter_gettid"),
        ("ld_many_xpid", "sys_exit_getpid"),
        ("ld_many_pid2", "sys_enter_getpid"),
    ];
    let images: Vec<ProgramImage> = names
        .iter()
        .map(|(prog, tp)| {
            let attach = Attach::Tracepoint {
                category: "syscalls".into(),
                name: (*tp).into(),
            };
            image(prog, attach, count_insns(ctr.fd()))
        })
        .collect();
    let mut s = Programs::load(&images).expect("load");
    let ids: Vec<u32> = names.iter().flat_map(|(p, _)| prog_ids(p)).collect();
    assert_eq!(ids.len(), names.len());
    assert_eq!(s.attach(None).expect("attach"), names.len());
    // SAFETY: getpid has no preconditions.
    unsafe { libc::getpid() };
    assert!(ctr.get() >= 3, "entry twice and exit once: {}", ctr.get());
    // Dropping closes the perf events from several threads and waits for all of them.
    drop(s);
    assert_gone(&ids);
    let after = ctr.get();
    // SAFETY: these calls have no preconditions.
    unsafe {
        libc::getpid();
        libc::getppid();
        libc::gettid();
    }
    assert_eq!(ctr.get(), after, "a detached program still counts");
}

#[test]
fn hash_maps_take_bursts_of_new_keys_with_interrupts_off() {
    if !as_root() {
        return;
    }
    use crate::bpf::maps::KernelMap;
    use crate::sema::layout::{MapDef, MapKind};
    // An interval program runs with interrupts off and inserts six new keys in one run: every
    // insert must land (a non-preallocated hash map would lose all but the first one or four),
    // and every program type must accept the map.
    for kind in [MapKind::Hash, MapKind::PerCpuHash] {
        let map = KernelMap::create(&MapDef {
            name: "ld_burst_hash".into(),
            kind,
            key_size: 8,
            value_size: 8,
            max_entries: 64,
        })
        .expect("create hash map");
        let prog = |name: &str, attach: Attach| {
            let mut code = vec![insn(0x7a, 10, 0, -16, 42)]; // *(u64 *)(r10 - 16) = 42
            for key in 1..=6 {
                code.extend([
                    insn(0x7a, 10, 0, -8, key),    // *(u64 *)(r10 - 8) = key
                    insn(0x18, 1, 1, 0, map.fd()), // r1 = map fd
                    insn(0, 0, 0, 0, 0),
                    insn(MOV64_REG, 2, 10, 0, 0), // r2 = r10 - 8
                    insn(0x07, 2, 0, 0, -8),
                    insn(MOV64_REG, 3, 10, 0, 0), // r3 = r10 - 16
                    insn(0x07, 3, 0, 0, -16),
                    insn(MOV64_IMM, 4, 0, 0, 0), // r4 = BPF_ANY
                    insn(0x85, 0, 0, 0, 2),      // call bpf_map_update_elem
                ]);
            }
            code.extend([insn(MOV64_IMM, 0, 0, 0, 0), insn(EXIT, 0, 0, 0, 0)]);
            image(name, attach, code)
        };
        let kprobe = Attach::Kprobe {
            func: "vfs_read".into(),
            offset: 0,
            ret: false,
        };
        let images = [
            prog(
                "ld_burst_iv",
                Attach::Interval {
                    period_ns: 10_000_000,
                },
            ),
            prog("ld_burst_begin", Attach::Begin),
            prog("ld_burst_tp", getpid_tp()),
            prog("ld_burst_kprobe", kprobe),
        ];
        let mut s = match Programs::load(&images) {
            Ok(s) => s,
            Err(e) => panic!("{kind:?}: {e}"),
        };
        // Only the interval probe: the others were loaded for the verifier's sake.
        drop(std::mem::replace(
            &mut s,
            Programs::load(&images[..1]).expect("load"),
        ));
        s.attach(None).expect("attach");
        for _ in 0..100 {
            std::thread::sleep(Duration::from_millis(20));
            if !map.keys().expect("keys").is_empty() {
                break;
            }
        }
        // Detaching waits for runs in progress, so the last tick has finished.
        drop(s);
        let mut keys = map.keys().expect("keys");
        keys.sort();
        let want: Vec<Vec<u8>> = (1..=6u64).map(|k| k.to_ne_bytes().to_vec()).collect();
        assert_eq!(keys, want, "{kind:?}: keys after the first tick");
    }
}

fn verbose(log_size: usize) -> LoadOptions {
    LoadOptions {
        verbose: true,
        log_size,
    }
}

fn ret0() -> Vec<[u8; 8]> {
    vec![insn(MOV64_IMM, 0, 0, 0, 0), insn(EXIT, 0, 0, 0, 0)]
}

fn reads_unset_r5() -> Vec<[u8; 8]> {
    vec![
        insn(MOV64_IMM, 0, 0, 0, 0),
        insn(MOV64_REG, 0, 5, 0, 0), // r0 = r5: r5 was never written
        insn(EXIT, 0, 0, 0, 0),
    ]
}

#[test]
fn verbose_load_keeps_every_programs_log_and_id() {
    if !as_root() {
        return;
    }
    let images = [
        image("ld_v_one", Attach::Begin, ret0()),
        image("ld_v_two", Attach::End, ret0()),
    ];
    let s = Programs::load_with(&images, &verbose(1_000_000)).expect("load");
    let logs = s.verifier_logs();
    assert_eq!(logs.len(), 2);
    for (i, name) in ["ld_v_one", "ld_v_two"].iter().enumerate() {
        assert_eq!(logs[i].program, i);
        assert_eq!(logs[i].id.map(|id| vec![id]), Some(prog_ids(name)));
        assert!(logs[i].log.contains("processed 2 insns"), "{}", logs[i].log);
    }
    let quiet = Programs::load(&[image("ld_v_quiet", Attach::Begin, ret0())]).expect("load");
    assert!(quiet.verifier_logs().is_empty(), "no log without -v");
}

#[test]
fn verbose_load_with_a_log_too_small_fails_and_leaves_nothing() {
    if !as_root() {
        return;
    }
    let images = [
        image("ld_small_a", Attach::Begin, ret0()),
        image("ld_small_b", Attach::End, ret0()),
    ];
    // Each log ("processed 2 insns (limit 1000000) ...") is longer than 40 bytes: the first
    // program already fails, and nothing stays loaded.
    match Programs::load_with(&images, &verbose(40)) {
        Err(LoadError::LogTooSmall { program, size, .. }) => {
            assert_eq!((program, size), (0, 40));
        }
        Err(e) => panic!("expected LogTooSmall, got {e:?}"),
        Ok(_) => panic!("a 40-byte log buffer was enough"),
    }
    assert!(prog_ids("ld_small_a").is_empty() && prog_ids("ld_small_b").is_empty());
    match Programs::load_with(&images, &verbose(1)) {
        Err(LoadError::LogTooSmall { program: 0, .. }) => {}
        other => panic!("expected LogTooSmall, got {:?}", other.err()),
    }
}

#[test]
fn rejection_shows_the_reason_with_and_without_verbose_and_any_log_size() {
    if !as_root() {
        return;
    }
    let images = [image("ld_v_bad", Attach::Begin, reads_unset_r5())];
    let opts = [
        verbose(1_000_000),
        LoadOptions {
            verbose: false,
            log_size: 1,
        },
        LoadOptions::default(),
    ];
    for o in opts {
        match Programs::load_with(&images, &o) {
            Err(LoadError::Verifier { program, insn, log }) => {
                assert_eq!((program, insn), (0, Some(1)), "{o:?}: {log}");
                assert!(log.contains("R5 !read_ok"), "{o:?}: {log}");
            }
            Err(e) => panic!("{o:?}: expected a verifier error, got {e:?}"),
            Ok(_) => panic!("{o:?}: the verifier accepted an uninitialised read"),
        }
    }
}

#[test]
fn detach_stops_the_probes_and_end_still_fires() {
    if !as_root() {
        return;
    }
    ensure_tracefs();
    let ctr = Counter::new("ld_det_ctr");
    let end = Counter::new("ld_det_end");
    let images = [
        image("ld_det_getpid", getpid_tp(), count_insns(ctr.fd())),
        image("ld_det_end", Attach::End, count_insns(end.fd())),
    ];
    let mut s = Programs::load(&images).expect("load");
    s.attach(None).expect("attach");
    // SAFETY: getpid has no preconditions.
    unsafe { libc::getpid() };
    assert!(ctr.get() >= 1);
    s.detach();
    let after = ctr.get();
    for _ in 0..5 {
        // SAFETY: as above.
        unsafe { libc::getpid() };
    }
    assert_eq!(ctr.get(), after, "a detached probe still counts");
    assert!(
        !prog_ids("ld_det_getpid").is_empty(),
        "detach keeps the programs loaded"
    );
    s.run_end().expect("END after detach");
    assert_eq!(end.get(), 1);
}
