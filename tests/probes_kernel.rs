//! Kernel tests (root, real BPF) for raw syscalls, maps, the ring buffer and probe listing;
//! fed by the runtime's sys/maps/ringbuf modules and `probes::list`.

use rtrace::bpf::sys;
use std::os::fd::AsRawFd;

const BPF_PROG_TYPE_RAW_TRACEPOINT: u32 = 17;

/// Encodes one instruction: opcode, dst, src, offset, immediate.
fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> [u8; 8] {
    let mut b = [0u8; 8];
    b[0] = code;
    b[1] = (src << 4) | (dst & 0xf);
    b[2..4].copy_from_slice(&off.to_le_bytes());
    b[4..8].copy_from_slice(&imm.to_le_bytes());
    b
}

fn program(insns: &[[u8; 8]]) -> Vec<u8> {
    insns.iter().flatten().copied().collect()
}

#[test]
fn prog_test_run_returns_r0() {
    // r0 = 42; exit
    let code = program(&[insn(0xb7, 0, 0, 0, 42), insn(0x95, 0, 0, 0, 0)]);
    let fd = sys::prog_load(BPF_PROG_TYPE_RAW_TRACEPOINT, &code, "rtrace_t_ret").expect("load");
    assert_eq!(sys::prog_test_run(fd.as_raw_fd(), &[]).expect("run"), 42);
    assert_eq!(
        sys::prog_test_run(fd.as_raw_fd(), &[0u8; 16]).expect("run"),
        42
    );
    let progs = sys::loaded_programs();
    assert!(progs.iter().any(|(_, n)| n == "rtrace_t_ret"), "{progs:?}");
    drop(fd);
    let progs = sys::loaded_programs();
    assert!(!progs.iter().any(|(_, n)| n == "rtrace_t_ret"), "{progs:?}");
}

use rtrace::bpf::maps::KernelMap;
use rtrace::bpf::ringbuf::EventReader;
use rtrace::sema::layout::{MapDef, MapKind};

fn def(name: &str, kind: MapKind, key_size: u32, value_size: u32, max: u32) -> MapDef {
    MapDef {
        name: name.to_string(),
        kind,
        key_size,
        value_size,
        max_entries: max,
    }
}

fn sorted<T: Ord>(mut v: Vec<T>) -> Vec<T> {
    v.sort();
    v
}

#[test]
fn hash_map_round_trip() {
    let m = KernelMap::create(&def("@counts", MapKind::Hash, 8, 8, 64)).expect("create");
    assert!(m.fd() > 0);
    let maps = sys::loaded_maps();
    assert!(maps.iter().any(|(_, n)| n == "AT_counts"), "{maps:?}");
    for k in 1u64..=5 {
        m.update(&k.to_ne_bytes(), &(k * 10).to_ne_bytes())
            .expect("update");
    }
    assert_eq!(
        m.lookup(&3u64.to_ne_bytes()),
        Some(30u64.to_ne_bytes().to_vec())
    );
    assert_eq!(m.lookup(&9u64.to_ne_bytes()), None);
    m.delete(&2u64.to_ne_bytes()).expect("delete");
    assert!(m.delete(&2u64.to_ne_bytes()).is_err());
    let got: Vec<(u64, u64)> = m
        .entries()
        .expect("entries")
        .into_iter()
        .map(|(k, v)| (u64_of(&k), u64_of(&v)))
        .collect();
    assert_eq!(sorted(got), vec![(1, 10), (3, 30), (4, 40), (5, 50)]);
    m.zero().expect("zero");
    let vals: Vec<u64> = m
        .entries()
        .expect("entries")
        .iter()
        .map(|(_, v)| u64_of(v))
        .collect();
    assert_eq!(vals, vec![0; 4]);
    m.clear().expect("clear");
    assert!(m.entries().expect("entries").is_empty());
    drop(m);
    assert!(!sys::loaded_maps().iter().any(|(_, n)| n == "AT_counts"));
}

fn u64_of(b: &[u8]) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[..8]);
    u64::from_ne_bytes(w)
}

#[test]
fn per_cpu_maps_hold_one_value_per_cpu() {
    let ncpu = sys::possible_cpus();
    let m = KernelMap::create(&def("@pc", MapKind::PerCpuHash, 4, 4, 16)).expect("create");
    m.update(&7u32.to_ne_bytes(), &99u32.to_ne_bytes())
        .expect("update");
    let e = m.percpu_entries().expect("entries");
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].0, 7u32.to_ne_bytes().to_vec());
    assert_eq!(e[0].1, vec![99u32.to_ne_bytes().to_vec(); ncpu]);
    // A full buffer sets each CPU separately (stride 8 for a 4-byte value).
    let mut buf = vec![0u8; ncpu * 8];
    for cpu in 0..ncpu {
        buf[cpu * 8..cpu * 8 + 4].copy_from_slice(&(cpu as u32 + 1).to_ne_bytes());
    }
    m.update(&7u32.to_ne_bytes(), &buf).expect("update");
    let per = m.lookup_percpu(&7u32.to_ne_bytes()).expect("lookup");
    let want: Vec<Vec<u8>> = (0..ncpu)
        .map(|c| (c as u32 + 1).to_ne_bytes().to_vec())
        .collect();
    assert_eq!(per, want);
    m.zero().expect("zero");
    assert_eq!(
        m.lookup_percpu(&7u32.to_ne_bytes()),
        Some(vec![vec![0u8; 4]; ncpu])
    );

    let a = KernelMap::create(&def("@arr", MapKind::PerCpuArray, 4, 16, 2)).expect("create");
    let e = a.percpu_entries().expect("entries");
    assert_eq!(e.len(), 2);
    assert!(e
        .iter()
        .all(|(_, v)| v.len() == ncpu && v.iter().all(|x| x == &vec![0u8; 16])));
    a.update(&1u32.to_ne_bytes(), &[5u8; 16]).expect("update");
    a.clear().expect("clear zeroes arrays");
    assert_eq!(
        a.lookup_percpu(&1u32.to_ne_bytes()),
        Some(vec![vec![0u8; 16]; ncpu])
    );
}

#[test]
fn iteration_survives_concurrent_deletes() {
    let m = KernelMap::create(&def("churn", MapKind::Hash, 4, 4, 4096)).expect("create");
    for k in 0u32..4000 {
        m.update(&k.to_ne_bytes(), &k.to_ne_bytes())
            .expect("update");
    }
    let fd = m.fd();
    let deleter = std::thread::spawn(move || {
        for k in (1u32..4000).step_by(2) {
            let _ = sys::map_delete(fd, &k.to_ne_bytes());
        }
    });
    let keys = m.keys().expect("keys");
    deleter.join().expect("join");
    let mut seen: Vec<u32> = keys
        .iter()
        .map(|k| u32::from_ne_bytes([k[0], k[1], k[2], k[3]]))
        .collect();
    let n = seen.len();
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), n, "a key came back twice");
    for k in (0u32..4000).step_by(2) {
        assert!(seen.binary_search(&k).is_ok(), "key {k} missed");
    }
}

#[test]
fn ringbuf_records_reach_userspace() {
    let map = KernelMap::create(&def("ringbuf", MapKind::RingBuf, 0, 0, 4096 * 4)).expect("create");
    let fd = map.fd();
    let code = vec![
        insn(0x7a, 10, 0, -16, 0x1122_3344), // *(u64 *)(r10 - 16) = 0x11223344
        insn(0x7a, 10, 0, -8, -1),           // *(u64 *)(r10 - 8) = -1
        insn(0x18, 1, 1, 0, fd),             // r1 = map fd (ld_imm64, BPF_PSEUDO_MAP_FD)
        insn(0x00, 0, 0, 0, 0),
        insn(0xbf, 2, 10, 0, 0),  // r2 = r10
        insn(0x07, 2, 0, 0, -16), // r2 += -16
        insn(0xb7, 3, 0, 0, 16),  // r3 = 16
        insn(0xb7, 4, 0, 0, 0),   // r4 = 0
        insn(0x85, 0, 0, 0, 130), // call bpf_ringbuf_output
        insn(0xb7, 0, 0, 0, 0),
        insn(0x95, 0, 0, 0, 0),
    ];
    let prog =
        sys::prog_load(BPF_PROG_TYPE_RAW_TRACEPOINT, &program(&code), "rtrace_t_rb").expect("load");
    let mut reader = EventReader::new(map).expect("reader");
    assert!(reader.raw_fd() > 0);
    assert!(
        !reader.poll(0).expect("poll"),
        "empty ring reported readable"
    );
    assert_eq!(reader.drain(|_| panic!("record in an empty ring")), 0);
    for _ in 0..3 {
        sys::prog_test_run(prog.as_raw_fd(), &[]).expect("run");
    }
    assert!(reader.poll(1000).expect("poll"));
    let mut want = Vec::new();
    want.extend_from_slice(&0x1122_3344u64.to_ne_bytes());
    want.extend_from_slice(&u64::MAX.to_ne_bytes());
    let mut got = Vec::new();
    assert_eq!(reader.drain(|r| got.push(r.to_vec())), 3);
    assert_eq!(got, vec![want; 3]);
    assert_eq!(reader.drain(|_| panic!("record twice")), 0);
}

/// `bpftrace -l [-v] PATTERN`, or `None` (with the reason printed) when bpftrace is missing.
fn bpftrace_list(pattern: &str, verbose: bool) -> Option<String> {
    let flag = if verbose { "-lv" } else { "-l" };
    match std::process::Command::new("bpftrace")
        .args([flag, pattern])
        .output()
    {
        Ok(out) => Some(String::from_utf8_lossy(&out.stdout).into_owned()),
        Err(e) => {
            eprintln!("skipping the diff against bpftrace: cannot run bpftrace: {e}");
            None
        }
    }
}

#[test]
fn listing_matches_bpftrace() {
    std::env::remove_var("RTRACE_TRACEFS");
    let cases = [
        ("tracepoint:sched:*", false),
        ("t:syscalls:sys_enter_*", false),
        ("tracepoint:*sched*", false),
        ("tracepoint:sched*:*switch", false),
        ("tracepoint:*", false),
        ("tracepoint:syscalls:sys_enter_execve", true),
        ("tracepoint:sched:*", true),
        ("tracepoint:*", true),
        ("uprobe:/bin/bash:readl*", false),
    ];
    for (pattern, verbose) in cases {
        let ours = rtrace::probes::list::list(Some(pattern), verbose, None).expect(pattern);
        assert!(!ours.is_empty(), "{pattern}: empty listing");
        let Some(theirs) = bpftrace_list(pattern, verbose) else {
            return;
        };
        if ours != theirs {
            let first = ours
                .lines()
                .zip(theirs.lines())
                .find(|(a, b)| a != b)
                .map(|(a, b)| format!("ours {a:?} vs bpftrace {b:?}"))
                .unwrap_or_else(|| "one is a prefix of the other".into());
            panic!(
                "{pattern} (verbose {verbose}): {} vs {} lines; first difference: {first}",
                ours.lines().count(),
                theirs.lines().count()
            );
        }
    }
}

#[test]
fn links_are_listed_until_closed() {
    let code = program(&[insn(0xb7, 0, 0, 0, 0), insn(0x95, 0, 0, 0, 0)]);
    let prog = sys::prog_load(BPF_PROG_TYPE_RAW_TRACEPOINT, &code, "rtrace_t_link").expect("load");
    let id = sys::loaded_programs()
        .into_iter()
        .find(|(_, n)| n == "rtrace_t_link")
        .map(|(id, _)| id)
        .expect("program listed");
    let link = sys::raw_tracepoint_open(prog.as_raw_fd(), "sched_switch").expect("attach");
    assert!(sys::loaded_links().iter().any(|&(_, p)| p == id));
    drop(link);
    assert!(!sys::loaded_links().iter().any(|&(_, p)| p == id));
    assert!(sys::raw_tracepoint_open(prog.as_raw_fd(), "no_such_tracepoint_x").is_err());
}
