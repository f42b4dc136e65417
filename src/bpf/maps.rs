//! Kernel maps created from sema's `MapDef`s, with byte-level access for the runtime's
//! printers; codegen embeds their fds in programs.

use crate::bpf::sys;
use crate::sema::layout::{MapDef, MapKind};
use std::collections::HashSet;
use std::io;
use std::os::fd::{AsFd, AsRawFd};

/// `enum bpf_map_type` values, named as the kernel names them.
const BPF_MAP_TYPE_HASH: u32 = 1;
const BPF_MAP_TYPE_ARRAY: u32 = 2;
const BPF_MAP_TYPE_PERCPU_HASH: u32 = 5;
const BPF_MAP_TYPE_PERCPU_ARRAY: u32 = 6;
const BPF_MAP_TYPE_STACK_TRACE: u32 = 7;
const BPF_MAP_TYPE_RINGBUF: u32 = 27;

/// A per-CPU map's key with one value per possible CPU.
pub type PerCpuEntry = (Vec<u8>, Vec<Vec<u8>>);

/// One kernel map; its fd closes when it drops.
#[derive(Debug)]
pub struct KernelMap {
    def: MapDef,
    data: aya::maps::MapData,
}

/// The name the kernel accepts for `name`: `@x` becomes `AT_x`, other characters outside
/// `[A-Za-z0-9_.]` become `_`, cut to 15 bytes.
pub fn kernel_name(name: &str) -> String {
    let (prefix, rest) = match name.strip_prefix('@') {
        Some(rest) => ("AT_", rest),
        None => ("", name),
    };
    let mut out = String::from(prefix);
    out.extend(rest.chars().map(|c| {
        if c.is_ascii_alphanumeric() || c == '_' || c == '.' {
            c
        } else {
            '_'
        }
    }));
    out.truncate(15);
    out
}

impl KernelMap {
    /// Creates the map in the kernel.
    pub fn create(def: &MapDef) -> io::Result<KernelMap> {
        let (map_type, key_size, value_size) = match def.kind {
            MapKind::Hash => (BPF_MAP_TYPE_HASH, def.key_size, def.value_size),
            MapKind::PerCpuHash => (BPF_MAP_TYPE_PERCPU_HASH, def.key_size, def.value_size),
            MapKind::Array => (BPF_MAP_TYPE_ARRAY, 4, def.value_size),
            MapKind::PerCpuArray => (BPF_MAP_TYPE_PERCPU_ARRAY, 4, def.value_size),
            MapKind::RingBuf => (BPF_MAP_TYPE_RINGBUF, 0, 0),
            MapKind::StackTrace => (BPF_MAP_TYPE_STACK_TRACE, 4, def.value_size),
        };
        if def.kind == MapKind::RingBuf && !valid_ringbuf_size(def.max_entries) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "ring buffer '{}': size {} is not a power-of-two multiple of the page size",
                    def.name, def.max_entries
                ),
            ));
        }
        let obj = aya_obj::Map::new_from_params(
            map_type,
            key_size,
            value_size,
            def.max_entries,
            MAP_FLAGS,
        );
        let data = aya::maps::MapData::create(obj, &kernel_name(&def.name), None)
            .map_err(|e| map_error(&def.name, e))?;
        let mut def = def.clone();
        def.key_size = key_size;
        Ok(KernelMap { def, data })
    }

    /// The raw fd, to embed in `ld_imm64` with `BPF_PSEUDO_MAP_FD`.
    pub fn fd(&self) -> i32 {
        self.data.fd().as_fd().as_raw_fd()
    }

    /// The definition it was created from (arrays have a 4-byte key).
    pub fn def(&self) -> &MapDef {
        &self.def
    }

    fn per_cpu(&self) -> bool {
        matches!(self.def.kind, MapKind::PerCpuHash | MapKind::PerCpuArray)
    }

    /// Bytes of one CPU's slot in a per-CPU value buffer.
    fn stride(&self) -> usize {
        (self.def.value_size as usize).div_ceil(8) * 8
    }

    /// Bytes the kernel reads or writes for one value.
    fn value_buf_len(&self) -> usize {
        if self.per_cpu() {
            sys::possible_cpus() * self.stride()
        } else {
            self.def.value_size as usize
        }
    }

    /// The value for `key`; for per-CPU maps every CPU's slot (`round_up(value_size, 8)` bytes
    /// each, see `lookup_percpu`).
    pub fn lookup(&self, key: &[u8]) -> Option<Vec<u8>> {
        let mut value = vec![0u8; self.value_buf_len()];
        sys::map_lookup(self.fd(), key, &mut value).ok()?;
        Some(value)
    }

    /// One value per possible CPU, each `value_size` bytes.
    pub fn lookup_percpu(&self, key: &[u8]) -> Option<Vec<Vec<u8>>> {
        let buf = self.lookup(key)?;
        Some(self.split_percpu(&buf))
    }

    fn split_percpu(&self, buf: &[u8]) -> Vec<Vec<u8>> {
        let vs = self.def.value_size as usize;
        buf.chunks(self.stride().max(1))
            .map(|c| c[..vs.min(c.len())].to_vec())
            .collect()
    }

    /// Creates or replaces `key`. For per-CPU maps, a `value_size` value is written to every
    /// CPU; a full buffer (`possible_cpus * round_up(value_size, 8)`) is written as is.
    pub fn update(&self, key: &[u8], value: &[u8]) -> io::Result<()> {
        if self.per_cpu() && value.len() == self.def.value_size as usize {
            let mut buf = vec![0u8; self.value_buf_len()];
            for slot in buf.chunks_mut(self.stride().max(1)) {
                slot[..value.len()].copy_from_slice(value);
            }
            return sys::map_update(self.fd(), key, &buf, sys::BPF_ANY);
        }
        sys::map_update(self.fd(), key, value, sys::BPF_ANY)
    }

    /// Deletes `key` (arrays cannot delete: the error is the kernel's).
    pub fn delete(&self, key: &[u8]) -> io::Result<()> {
        sys::map_delete(self.fd(), key)
    }

    /// Every key, each once, even while programs add and delete keys: a deleted cursor key
    /// makes the kernel restart from the first key, so keys already seen are skipped and the
    /// walk is bounded.
    pub fn keys(&self) -> io::Result<Vec<Vec<u8>>> {
        let key_size = self.def.key_size as usize;
        let mut seen = HashSet::new();
        let mut keys = Vec::new();
        let mut cursor: Option<Vec<u8>> = None;
        let limit = (16 * self.def.max_entries as usize).max(1 << 16);
        for _ in 0..limit {
            let mut next = vec![0u8; key_size];
            if !sys::map_get_next_key(self.fd(), cursor.as_deref(), &mut next)? {
                break;
            }
            if seen.insert(next.clone()) {
                keys.push(next.clone());
            }
            cursor = Some(next);
        }
        Ok(keys)
    }

    /// Every `(key, value)` of a plain map; keys deleted during the walk are left out.
    pub fn entries(&self) -> io::Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let mut out = Vec::new();
        for key in self.keys()? {
            let mut value = vec![0u8; self.value_buf_len()];
            match sys::map_lookup(self.fd(), &key, &mut value) {
                Ok(()) => out.push((key, value)),
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// Every `(key, one value per possible CPU)` of a per-CPU map.
    pub fn percpu_entries(&self) -> io::Result<Vec<PerCpuEntry>> {
        Ok(self
            .entries()?
            .into_iter()
            .map(|(k, v)| {
                let vals = self.split_percpu(&v);
                (k, vals)
            })
            .collect())
    }

    /// Deletes every key; arrays are zeroed instead (their keys cannot go).
    pub fn clear(&self) -> io::Result<()> {
        if matches!(self.def.kind, MapKind::Array | MapKind::PerCpuArray) {
            return self.zero();
        }
        for key in self.keys()? {
            match sys::map_delete(self.fd(), &key) {
                Ok(()) => {}
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Sets every value (on every CPU) to zeros, keeping the keys.
    pub fn zero(&self) -> io::Result<()> {
        let zeros = vec![0u8; self.value_buf_len()];
        for key in self.keys()? {
            // BPF_EXIST: a key deleted meanwhile stays deleted.
            match sys::map_update(self.fd(), &key, &zeros, BPF_EXIST) {
                Ok(()) => {}
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// The ring buffer behind this map, for `ringbuf::EventReader`.
    pub fn into_ring_buf(self) -> io::Result<aya::maps::RingBuf<aya::maps::MapData>> {
        let name = self.def.name;
        aya::maps::RingBuf::try_from(aya::maps::Map::RingBuf(self.data))
            .map_err(|e| map_error(&name, e))
    }
}

/// Map flags: none, so hash maps are preallocated (no `BPF_F_NO_PREALLOC`), although
/// preallocation costs about 1.5 ms of CPU per per-CPU hash map at creation here (all `max_entries` elements times
/// the CPUs), and megabytes per map on machines with many CPUs.
///
/// The verifier is not the obstacle: since Linux 6.1 (hash maps on `bpf_mem_alloc`) it takes
/// non-preallocated hash maps in perf_event, tracepoint, kprobe and raw_tracepoint programs
/// (checked on 6.18; before 6.1 perf_event programs were refused with "perf_event programs can
/// only use preallocated hash map"). The obstacle is that such a map takes a new element from
/// a small per-CPU cache that the kernel refills from irq_work, and fills with just one element
/// per CPU for per-CPU maps (four for small plain ones) when the map is created. A program
/// running with interrupts off (interval, profile and software probes; tracepoints in irq or
/// scheduler code) that inserts more keys than the cache holds gets ENOMEM, and the update is
/// lost without a trace: measured here, `interval:ms:100 { @s[1] = sum(10); @s[2] = sum(3); }`
/// printed only `@s[1]`, and `@t[k] = v` assignments past the fourth in one run vanished. An
/// assignment to a plain map (`@start[tid] = nsecs`) allocates on every update, not only for
/// new keys. Under memory pressure the refill itself can fail. bpftrace's output is exact
/// here, so the maps are preallocated and the start-up CPU is paid.
const MAP_FLAGS: u32 = 0;

/// `BPF_EXIST` flag of `BPF_MAP_UPDATE_ELEM`: only replace.
const BPF_EXIST: u64 = 2;

fn valid_ringbuf_size(size: u32) -> bool {
    // SAFETY: sysconf has no memory-safety preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    let page = if page > 0 { page as u32 } else { 4096 };
    size >= page && size.is_power_of_two() && size.is_multiple_of(page)
}

fn map_error(name: &str, e: aya::maps::MapError) -> io::Error {
    match e {
        aya::maps::MapError::CreateError { io_error, .. } => io::Error::new(
            io_error.kind(),
            format!("creating map '{name}': {io_error}"),
        ),
        other => io::Error::other(format!("map '{name}': {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_names() {
        assert_eq!(kernel_name("@"), "AT_");
        assert_eq!(kernel_name("@x"), "AT_x");
        assert_eq!(kernel_name("@a-b c"), "AT_a_b_c");
        assert_eq!(kernel_name("ringbuf"), "ringbuf");
        assert_eq!(kernel_name("@a_very_long_map_name"), "AT_a_very_long_");
    }

    #[test]
    fn ringbuf_sizes() {
        assert!(valid_ringbuf_size(4096));
        assert!(valid_ringbuf_size(1 << 20));
        assert!(!valid_ringbuf_size(4096 * 3));
        assert!(!valid_ringbuf_size(1024));
        assert!(!valid_ringbuf_size(0));
    }
}
