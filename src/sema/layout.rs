//! Byte layouts of map keys, map values and event records: the one source of layouts for both
//! codegen and the runtime decoder. Fed by sema's types.

/// Kernel map types rtrace creates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MapKind {
    Hash,
    PerCpuHash,
    Array,
    PerCpuArray,
    RingBuf,
    /// `BPF_MAP_TYPE_STACK_TRACE`: stack ids (u32 keys) to frames, written by
    /// `bpf_get_stackid` (kstack, ustack).
    StackTrace,
}

/// A kernel map to create before codegen encodes its fd into the programs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapDef {
    /// A name for the kernel (at most 15 bytes used): `@name`, `ringbuf`, ...
    pub name: String,
    pub kind: MapKind,
    pub key_size: u32,
    /// For per-CPU maps: the size of one CPU's value.
    pub value_size: u32,
    pub max_entries: u32,
}
