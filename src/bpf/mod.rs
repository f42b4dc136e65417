//! The kernel interface: raw `bpf()` and `perf_event_open()` syscalls, maps made from
//! `sema::layout::MapDef`s, and the ring buffer reader. Used by the runtime and kernel tests.

pub mod features;
pub mod maps;
pub mod ringbuf;
pub mod sys;
