//! Raw `bpf()` and `perf_event_open()` syscall wrappers (byte-level map access, program loads
//! with a verifier log, perf events, test runs, object enumeration); used by the
//! runtime's maps, loader, attacher and teardown tests.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// `enum bpf_cmd` values, named as the kernel names them.
const BPF_MAP_LOOKUP_ELEM: i64 = 1;
const BPF_MAP_UPDATE_ELEM: i64 = 2;
const BPF_MAP_DELETE_ELEM: i64 = 3;
const BPF_MAP_GET_NEXT_KEY: i64 = 4;
const BPF_PROG_LOAD: i64 = 5;
const BPF_PROG_TEST_RUN: i64 = 10;
const BPF_PROG_GET_NEXT_ID: i64 = 11;
const BPF_RAW_TRACEPOINT_OPEN: i64 = 17;
const BPF_MAP_GET_NEXT_ID: i64 = 12;
const BPF_PROG_GET_FD_BY_ID: i64 = 13;
const BPF_MAP_GET_FD_BY_ID: i64 = 14;
const BPF_OBJ_GET_INFO_BY_FD: i64 = 15;
const BPF_LINK_CREATE: i64 = 28;
const BPF_LINK_GET_FD_BY_ID: i64 = 30;
const BPF_ITER_CREATE: i64 = 33;
const BPF_LINK_GET_NEXT_ID: i64 = 31;
const BPF_MAP_CREATE: i64 = 0;
const BPF_MAP_LOOKUP_BATCH: i64 = 24;

/// `BPF_ANY` flag of `BPF_MAP_UPDATE_ELEM`: create or replace.
pub const BPF_ANY: u64 = 0;

/// `union bpf_attr`, as 8-byte words; every command's fields fit in 128 bytes.
#[repr(C, align(8))]
struct Attr([u8; 128]);

impl Default for Attr {
    fn default() -> Self {
        Attr([0; 128])
    }
}

impl Attr {
    fn put_u32(&mut self, off: usize, v: u32) {
        self.0[off..off + 4].copy_from_slice(&v.to_ne_bytes());
    }
    fn put_u64(&mut self, off: usize, v: u64) {
        self.0[off..off + 8].copy_from_slice(&v.to_ne_bytes());
    }
    fn get_u32(&self, off: usize) -> u32 {
        let mut b = [0u8; 4];
        b.copy_from_slice(&self.0[off..off + 4]);
        u32::from_ne_bytes(b)
    }
}

fn bpf(cmd: i64, attr: &mut Attr) -> io::Result<i64> {
    // SAFETY: `attr` is a valid, writable 128-byte buffer for the duration of the call, and
    // every pointer stored in it refers to memory the caller keeps alive and sized correctly.
    let r = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr.0.as_mut_ptr(),
            std::mem::size_of::<Attr>(),
        )
    };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

fn ptr(b: &[u8]) -> u64 {
    b.as_ptr() as u64
}

fn elem_attr(fd: RawFd, key: &[u8]) -> Attr {
    let mut a = Attr::default();
    a.put_u32(0, fd as u32);
    a.put_u64(8, ptr(key));
    a
}

/// `BPF_MAP_LOOKUP_ELEM`: copy the value for `key` into `value` (which must be the map's value
/// size, or `possible_cpus() * round_up(value_size, 8)` for per-CPU maps).
pub fn map_lookup(fd: RawFd, key: &[u8], value: &mut [u8]) -> io::Result<()> {
    let mut a = elem_attr(fd, key);
    a.put_u64(16, value.as_mut_ptr() as u64);
    bpf(BPF_MAP_LOOKUP_ELEM, &mut a).map(drop)
}

/// `BPF_MAP_UPDATE_ELEM` with `flags` (`BPF_ANY` to create or replace).
pub fn map_update(fd: RawFd, key: &[u8], value: &[u8], flags: u64) -> io::Result<()> {
    let mut a = elem_attr(fd, key);
    a.put_u64(16, ptr(value));
    a.put_u64(24, flags);
    bpf(BPF_MAP_UPDATE_ELEM, &mut a).map(drop)
}

/// `BPF_MAP_DELETE_ELEM`.
pub fn map_delete(fd: RawFd, key: &[u8]) -> io::Result<()> {
    let mut a = elem_attr(fd, key);
    bpf(BPF_MAP_DELETE_ELEM, &mut a).map(drop)
}

/// `BPF_MAP_GET_NEXT_KEY`: the key after `key` (the first key when `key` is `None`) written to
/// `next`. `Ok(false)` at the end of the map.
pub fn map_get_next_key(fd: RawFd, key: Option<&[u8]>, next: &mut [u8]) -> io::Result<bool> {
    let mut a = Attr::default();
    a.put_u32(0, fd as u32);
    a.put_u64(8, key.map_or(0, ptr));
    a.put_u64(16, next.as_mut_ptr() as u64);
    match bpf(BPF_MAP_GET_NEXT_KEY, &mut a) {
        Ok(_) => Ok(true),
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(false),
        Err(e) => Err(e),
    }
}

/// `BPF_PROG_TEST_RUN` with `ctx_in` as the context (raw_tracepoint programs take an array of
/// u64 arguments; an empty slice is fine). Returns the program's return value.
pub fn prog_test_run(prog_fd: RawFd, ctx_in: &[u8]) -> io::Result<u32> {
    let mut a = Attr::default();
    a.put_u32(0, prog_fd as u32);
    if !ctx_in.is_empty() {
        a.put_u32(40, ctx_in.len() as u32); // ctx_size_in
        a.put_u64(48, ptr(ctx_in)); // ctx_in
    }
    bpf(BPF_PROG_TEST_RUN, &mut a)?;
    Ok(a.get_u32(4))
}

/// `BPF_PROG_LOAD` of raw instructions (8 bytes each) with a GPL license; the verifier log
/// goes into the error text. For tests and small fixed programs; generated code loads
/// through `prog_load_log` (see `runtime::load`).
pub fn prog_load(prog_type: u32, insns: &[u8], name: &str) -> io::Result<OwnedFd> {
    let license = b"GPL\0";
    let mut log = vec![0u8; 64 * 1024];
    let mut a = Attr::default();
    a.put_u32(0, prog_type);
    a.put_u32(4, (insns.len() / 8) as u32);
    a.put_u64(8, ptr(insns));
    a.put_u64(16, ptr(license));
    a.put_u32(24, 1); // log_level
    a.put_u32(28, log.len() as u32);
    a.put_u64(32, log.as_mut_ptr() as u64);
    let n = name.as_bytes();
    let len = n.len().min(15);
    a.0[48..48 + len].copy_from_slice(&n[..len]); // prog_name
    match bpf(BPF_PROG_LOAD, &mut a) {
        Ok(fd) => Ok(owned(fd)),
        Err(e) => {
            let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
            let text = String::from_utf8_lossy(&log[..end]);
            Err(io::Error::new(e.kind(), format!("{e}: {text}")))
        }
    }
}

/// `BPF_PROG_LOAD` of a small fixed program with an attach type and a BTF id to attach to
/// (fentry, iterators), no log: for probing what the kernel offers (`--info`).
pub fn prog_load_probe(
    prog_type: u32,
    expected_attach_type: u32,
    attach_btf_id: u32,
    insns: &[u8],
) -> io::Result<OwnedFd> {
    let license = b"GPL\0";
    let mut a = Attr::default();
    a.put_u32(0, prog_type);
    a.put_u32(4, (insns.len() / 8) as u32);
    a.put_u64(8, ptr(insns));
    a.put_u64(16, ptr(license));
    a.put_u32(40, kernel_version());
    a.put_u32(68, expected_attach_type);
    a.put_u32(108, attach_btf_id);
    bpf(BPF_PROG_LOAD, &mut a).map(owned)
}

/// `BPF_MAP_CREATE` of a map of any type, for probing what the kernel offers (`--info`).
pub fn map_create(
    map_type: u32,
    key_size: u32,
    value_size: u32,
    entries: u32,
) -> io::Result<OwnedFd> {
    let mut a = Attr::default();
    a.put_u32(0, map_type);
    a.put_u32(4, key_size);
    a.put_u32(8, value_size);
    a.put_u32(12, entries);
    bpf(BPF_MAP_CREATE, &mut a).map(owned)
}

/// Whether `BPF_MAP_LOOKUP_BATCH` works on map `fd` (an empty map answers ENOENT).
pub fn map_batch_supported(fd: RawFd, key_size: usize, value_size: usize) -> bool {
    let mut keys = vec![0u8; key_size];
    let mut values = vec![0u8; value_size];
    let mut out_batch = [0u8; 8];
    let mut a = Attr::default();
    a.put_u64(8, out_batch.as_mut_ptr() as u64);
    a.put_u64(16, keys.as_mut_ptr() as u64);
    a.put_u64(24, values.as_mut_ptr() as u64);
    a.put_u32(32, 1);
    a.put_u32(36, fd as u32);
    match bpf(BPF_MAP_LOOKUP_BATCH, &mut a) {
        Ok(_) => true,
        Err(e) => e.raw_os_error() == Some(libc::ENOENT),
    }
}

/// What `prog_load_log` loads: the `BPF_PROG_LOAD` fields rtrace sets.
#[derive(Clone, Copy, Debug)]
pub struct ProgLoad<'a> {
    /// `enum bpf_prog_type`.
    pub prog_type: u32,
    /// `enum bpf_attach_type`; 0 for the program types rtrace loads directly.
    pub expected_attach_type: u32,
    /// The BTF id (in vmlinux) of the kernel function a tracing program attaches to
    /// (`bpf_iter_task` for an iterator); 0 for other program types.
    pub attach_btf_id: u32,
    /// Encoded instructions, 8 bytes each.
    pub insns: &'a [u8],
    /// The program's name; the kernel keeps 15 bytes of `[A-Za-z0-9_.]`.
    pub name: &'a str,
    /// `KERNEL_VERSION(a, b, c)` of the running kernel (kprobe programs on kernels before 5.0
    /// need it), else 0.
    pub kern_version: u32,
}

/// `BPF_PROG_LOAD` under the GPL license. `log_level` 0 with an empty `log` asks for no
/// verifier log (the fast path); otherwise the kernel writes its log into `log`, NUL-terminated
/// (ENOSPC when it did not fit: a 6.4+ kernel then keeps the log's tail).
pub fn prog_load_log(p: &ProgLoad<'_>, log_level: u32, log: &mut [u8]) -> io::Result<OwnedFd> {
    let license = b"GPL\0";
    let mut a = Attr::default();
    a.put_u32(0, p.prog_type);
    a.put_u32(4, (p.insns.len() / 8) as u32);
    a.put_u64(8, ptr(p.insns));
    a.put_u64(16, ptr(license));
    if !log.is_empty() {
        a.put_u32(24, log_level);
        a.put_u32(28, u32::try_from(log.len()).unwrap_or(u32::MAX));
        a.put_u64(32, log.as_mut_ptr() as u64);
    }
    a.put_u32(40, p.kern_version);
    let n = p.name.as_bytes();
    let len = n.len().min(15);
    a.0[48..48 + len].copy_from_slice(&n[..len]); // prog_name
    a.put_u32(68, p.expected_attach_type);
    a.put_u32(108, p.attach_btf_id);
    bpf(BPF_PROG_LOAD, &mut a).map(owned)
}

/// The kernel's id of a loaded program (`bpf_prog_info.id`), as `bpftool prog` lists it.
pub fn prog_id(prog_fd: RawFd) -> io::Result<u32> {
    // `bpf_prog_info` starts with `type` and `id`; the kernel fills only `info_len` bytes.
    let mut info = [0u8; 8];
    let mut a = Attr::default();
    a.put_u32(0, prog_fd as u32);
    a.put_u32(4, info.len() as u32);
    a.put_u64(8, info.as_mut_ptr() as u64);
    bpf(BPF_OBJ_GET_INFO_BY_FD, &mut a)?;
    Ok(u32_at(&info, 4))
}

/// `BPF_LINK_CREATE` of `prog_fd` with `attach_type` and no target (an iterator,
/// `BPF_TRACE_ITER`): the link lives as long as the returned fd.
pub fn link_create(prog_fd: RawFd, attach_type: u32) -> io::Result<OwnedFd> {
    let mut a = Attr::default();
    a.put_u32(0, prog_fd as u32);
    a.put_u32(8, attach_type);
    bpf(BPF_LINK_CREATE, &mut a).map(owned)
}

/// `BPF_ITER_CREATE`: a new iteration over an iterator link; each `read` of the returned fd
/// runs the program over the next objects, and a read of 0 bytes means the end.
pub fn iter_create(link_fd: RawFd) -> io::Result<OwnedFd> {
    let mut a = Attr::default();
    a.put_u32(0, link_fd as u32);
    bpf(BPF_ITER_CREATE, &mut a).map(owned)
}

/// `perf_event_attr.type` values, named as the kernel names them.
pub const PERF_TYPE_SOFTWARE: u32 = 1;
/// `PERF_TYPE_HARDWARE`: CPU counters, `config` a `PERF_COUNT_HW_*`.
pub const PERF_TYPE_HARDWARE: u32 = 0;
pub const PERF_TYPE_TRACEPOINT: u32 = 2;
/// `perf_event_attr.sample_type` bit for raw tracepoint records.
pub const PERF_SAMPLE_RAW: u64 = 1 << 10;

/// The `perf_event_attr` fields rtrace sets; the rest are zero.
#[derive(Clone, Copy, Debug, Default)]
pub struct PerfEvent {
    /// `PERF_TYPE_*`, or a dynamic PMU type (uprobe, kprobe) read from sysfs.
    pub kind: u32,
    pub config: u64,
    pub sample_period: u64,
    pub sample_type: u64,
    pub wakeup_events: u32,
    /// kprobe/uprobe PMUs: a pointer to the function name or file path (NUL-terminated).
    pub config1: u64,
    /// kprobe/uprobe PMUs: the offset. Breakpoints: `bp_len`, the bytes watched.
    pub config2: u64,
    /// Breakpoints (`PERF_TYPE_BREAKPOINT`): `bp_type`, a mask of `HW_BREAKPOINT_R`, `_W`,
    /// `_X`; the address (`bp_addr`) goes in `config1`, the length (`bp_len`) in `config2`.
    pub bp_type: u32,
}

/// `PERF_TYPE_BREAKPOINT`: hardware breakpoints (watchpoints), `config` 0.
pub const PERF_TYPE_BREAKPOINT: u32 = 5;

/// The 128 bytes of `perf_event_attr` (`PERF_ATTR_SIZE_VER7`) that `perf_event_open` hands
/// the kernel for `ev`: created disabled, so that a program is attached before it fires.
pub fn perf_event_attr(ev: &PerfEvent) -> [u8; 128] {
    const PERF_ATTR_SIZE_VER7: u32 = 128;
    const DISABLED: u64 = 1;
    let mut a = Attr::default();
    a.put_u32(0, ev.kind);
    a.put_u32(4, PERF_ATTR_SIZE_VER7);
    a.put_u64(8, ev.config);
    a.put_u64(16, ev.sample_period);
    a.put_u64(24, ev.sample_type);
    a.put_u64(40, DISABLED);
    a.put_u32(48, ev.wakeup_events);
    a.put_u32(52, ev.bp_type);
    a.put_u64(56, ev.config1);
    a.put_u64(64, ev.config2);
    a.0
}

/// `perf_event_open(attr, pid, cpu, -1, PERF_FLAG_FD_CLOEXEC)`, created disabled: enable it
/// once a program is attached. `pid` -1 with a `cpu` means every process on that CPU.
pub fn perf_event_open(ev: &PerfEvent, pid: i32, cpu: i32) -> io::Result<OwnedFd> {
    const PERF_FLAG_FD_CLOEXEC: u64 = 8;
    let a = Attr(perf_event_attr(ev));
    // SAFETY: `a` is a 128-byte perf_event_attr whose `size` says 128; any pointer in
    // config1 refers to a NUL-terminated string the caller keeps alive across the call.
    let r = unsafe {
        libc::syscall(
            libc::SYS_perf_event_open,
            a.0.as_ptr(),
            pid as libc::c_long,
            cpu as libc::c_long,
            -1 as libc::c_long,
            PERF_FLAG_FD_CLOEXEC as libc::c_ulong,
        )
    };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(owned(r))
    }
}

/// `PERF_EVENT_IOC_SET_BPF`: runs `prog_fd` on each event of `perf_fd` until the perf event is
/// closed.
pub fn perf_event_set_bpf(perf_fd: RawFd, prog_fd: RawFd) -> io::Result<()> {
    const PERF_EVENT_IOC_SET_BPF: libc::c_ulong = 0x4004_2408;
    // SAFETY: the ioctl takes the program fd by value.
    let r = unsafe { libc::ioctl(perf_fd, PERF_EVENT_IOC_SET_BPF as _, prog_fd) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// `PERF_EVENT_IOC_ENABLE`.
pub fn perf_event_enable(perf_fd: RawFd) -> io::Result<()> {
    const PERF_EVENT_IOC_ENABLE: libc::c_ulong = 0x2400;
    // SAFETY: the ioctl takes no argument.
    let r = unsafe { libc::ioctl(perf_fd, PERF_EVENT_IOC_ENABLE as _, 0) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// The online CPUs, from /sys/devices/system/cpu/online.
pub fn online_cpus() -> io::Result<Vec<u32>> {
    let text = std::fs::read_to_string("/sys/devices/system/cpu/online")?;
    cpu_ids(&text).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "/sys/devices/system/cpu/online: unexpected {:?}",
                text.trim()
            ),
        )
    })
}

/// The CPU ids in a list like `0-3,5`.
fn cpu_ids(s: &str) -> Option<Vec<u32>> {
    let mut out = Vec::new();
    for part in s.trim().split(',').filter(|p| !p.is_empty()) {
        let (lo, hi): (u32, u32) = match part.split_once('-') {
            Some((lo, hi)) => (lo.trim().parse().ok()?, hi.trim().parse().ok()?),
            None => {
                let c = part.trim().parse().ok()?;
                (c, c)
            }
        };
        if lo > hi || hi - lo > 1 << 16 {
            return None;
        }
        out.extend(lo..=hi);
    }
    Some(out)
}

/// `KERNEL_VERSION(a, b, c)` of the running kernel from uname, 0 when unreadable.
pub fn kernel_version() -> u32 {
    // SAFETY: utsname is plain data; uname fills it.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: `u` is a valid, writable utsname.
    if unsafe { libc::uname(&mut u) } != 0 {
        return 0;
    }
    let release: Vec<u8> = u
        .release
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    version_code(&String::from_utf8_lossy(&release))
}

/// `6.18.44-x` -> `KERNEL_VERSION(6, 18, 44)` (the sublevel saturates at 255, as the kernel's
/// macro does).
fn version_code(release: &str) -> u32 {
    let mut nums = release
        .split(|c: char| !c.is_ascii_digit())
        .take(3)
        .map(|n| n.parse::<u32>().unwrap_or(0));
    let a = nums.next().unwrap_or(0);
    let b = nums.next().unwrap_or(0);
    let c = nums.next().unwrap_or(0);
    (a.min(255) << 16) | (b.min(255) << 8) | c.min(255)
}

/// `BPF_RAW_TRACEPOINT_OPEN`: attaches a raw_tracepoint program to `name` (`sched_switch`);
/// the link lives as long as the returned fd.
pub fn raw_tracepoint_open(prog_fd: RawFd, name: &str) -> io::Result<OwnedFd> {
    let name = std::ffi::CString::new(name)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in tracepoint name"))?;
    let mut a = Attr::default();
    a.put_u64(0, name.as_ptr() as u64);
    a.put_u32(8, prog_fd as u32);
    bpf(BPF_RAW_TRACEPOINT_OPEN, &mut a).map(owned)
}

fn owned(fd: i64) -> OwnedFd {
    // SAFETY: the kernel just returned this fd to us and nothing else owns it.
    unsafe { OwnedFd::from_raw_fd(fd as RawFd) }
}

/// The number of possible CPUs: the size of per-CPU value arrays.
pub fn possible_cpus() -> usize {
    // Fixed at boot: read once per process (every per-CPU map access asks).
    static CPUS: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CPUS.get_or_init(|| {
        std::fs::read_to_string("/sys/devices/system/cpu/possible")
            .ok()
            .and_then(|s| parse_cpu_list(&s))
            .unwrap_or(1)
    })
}

/// Counts the CPUs in a list like `0-3,5,7-8`.
fn parse_cpu_list(s: &str) -> Option<usize> {
    let mut max = None;
    for part in s.trim().split(',').filter(|p| !p.is_empty()) {
        let hi = match part.split_once('-') {
            Some((_, hi)) => hi.trim().parse::<usize>().ok()?,
            None => part.trim().parse::<usize>().ok()?,
        };
        max = Some(max.map_or(hi, |m: usize| m.max(hi)));
    }
    max.map(|m| m + 1)
}

/// Walks ids with a `*_GET_NEXT_ID` command, opening each with a `*_GET_FD_BY_ID` command and
/// reading `info_len` bytes of its info. Objects that vanish meanwhile are skipped.
fn enumerate(next_cmd: i64, fd_cmd: i64, info_len: usize) -> Vec<(u32, Vec<u8>)> {
    let mut out = Vec::new();
    let mut id = 0u32;
    loop {
        let mut a = Attr::default();
        a.put_u32(0, id);
        if bpf(next_cmd, &mut a).is_err() {
            break;
        }
        id = a.get_u32(4);
        let mut a = Attr::default();
        a.put_u32(0, id);
        let fd = match bpf(fd_cmd, &mut a) {
            Ok(fd) => owned(fd),
            Err(_) => continue,
        };
        let mut info = vec![0u8; info_len];
        let mut a = Attr::default();
        a.put_u32(0, fd.as_raw_fd() as u32);
        a.put_u32(4, info_len as u32);
        a.put_u64(8, info.as_mut_ptr() as u64);
        if bpf(BPF_OBJ_GET_INFO_BY_FD, &mut a).is_ok() {
            out.push((id, info));
        }
    }
    out
}

fn c_name(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

fn u32_at(b: &[u8], off: usize) -> u32 {
    let mut w = [0u8; 4];
    w.copy_from_slice(&b[off..off + 4]);
    u32::from_ne_bytes(w)
}

/// Every BPF program loaded in the kernel: `(id, name)` (`bpf_prog_info.name`, 15 bytes max).
pub fn loaded_programs() -> Vec<(u32, String)> {
    enumerate(BPF_PROG_GET_NEXT_ID, BPF_PROG_GET_FD_BY_ID, 80)
        .into_iter()
        .map(|(id, info)| (id, c_name(&info[64..80])))
        .collect()
}

/// Every BPF map in the kernel: `(id, name)` (`bpf_map_info.name`).
pub fn loaded_maps() -> Vec<(u32, String)> {
    enumerate(BPF_MAP_GET_NEXT_ID, BPF_MAP_GET_FD_BY_ID, 40)
        .into_iter()
        .map(|(id, info)| (id, c_name(&info[24..40])))
        .collect()
}

/// Every BPF link in the kernel: `(link id, program id)` (links have no name).
pub fn loaded_links() -> Vec<(u32, u32)> {
    enumerate(BPF_LINK_GET_NEXT_ID, BPF_LINK_GET_FD_BY_ID, 16)
        .into_iter()
        .map(|(id, info)| (id, u32_at(&info, 8)))
        .collect()
}

/// Whether this process may load BPF programs and open perf events: root, or CAP_BPF with
/// CAP_PERFMON, or CAP_SYS_ADMIN (read from /proc/self/status).
pub fn has_bpf_privileges() -> bool {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        return true;
    }
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return false;
    };
    let caps = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        .unwrap_or(0);
    const CAP_SYS_ADMIN: u64 = 1 << 21;
    const CAP_PERFMON: u64 = 1 << 38;
    const CAP_BPF: u64 = 1 << 39;
    caps & CAP_SYS_ADMIN != 0 || (caps & CAP_BPF != 0 && caps & CAP_PERFMON != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists() {
        assert_eq!(parse_cpu_list("0\n"), Some(1));
        assert_eq!(parse_cpu_list("0-3\n"), Some(4));
        assert_eq!(parse_cpu_list("0-3,5,7-8"), Some(9));
        assert_eq!(parse_cpu_list("x"), None);
        assert!(possible_cpus() >= 1);
    }

    #[test]
    fn attr_words() {
        let mut a = Attr::default();
        a.put_u32(4, 7);
        a.put_u64(8, 0x1122_3344_5566_7788);
        assert_eq!(a.get_u32(4), 7);
        assert_eq!(u32_at(&a.0, 8), 0x5566_7788);
        assert_eq!(c_name(b"abc\0def"), "abc");
    }

    #[test]
    fn cpu_id_lists_and_versions() {
        assert_eq!(cpu_ids("0-1\n"), Some(vec![0, 1]));
        assert_eq!(cpu_ids("0,2-3"), Some(vec![0, 2, 3]));
        assert_eq!(cpu_ids("3-1"), None);
        assert_eq!(version_code("6.18.44-generic"), (6 << 16) | (18 << 8) | 44);
        assert_eq!(version_code("5.4.300"), (5 << 16) | (4 << 8) | 255);
        assert_eq!(version_code("6.1"), (6 << 16) | (1 << 8));
    }
}
