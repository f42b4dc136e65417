//! Per-architecture facts the providers' contexts need: where `argN` and `retval` sit in the
//! kernel's `struct pt_regs`; asked by sema for kprobe and uprobe contexts.

pub mod aarch64;
pub mod x86_64;

#[cfg(target_arch = "aarch64")]
use aarch64 as host;
#[cfg(not(target_arch = "aarch64"))]
use x86_64 as host;

/// The byte offset in `struct pt_regs` of `arg0`...`arg5` or `retval` on the machine rtrace
/// runs on; `None` for any other name.
pub fn pt_regs_offset(name: &str) -> Option<u32> {
    host::pt_regs_offset(name)
}
