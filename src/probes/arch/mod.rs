//! Per-architecture facts the providers' contexts need: where `argN`, `retval`, the stack
//! pointer and every register sit in the kernel's `struct pt_regs`; asked by sema and the
//! builtins for kprobe and uprobe contexts.

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

/// The byte offset in `struct pt_regs` of a register by its `reg()` name on this machine.
pub fn register_offset(name: &str) -> Option<u32> {
    host::register_offset(name)
}

/// The stack pointer's offset in `struct pt_regs`.
pub fn sp_offset() -> u32 {
    host::register_offset("sp").unwrap_or(0)
}

/// `sargN` is the 8-byte word at `sp + 8 * (N + STACK_ARGS_FROM)`.
pub const STACK_ARGS_FROM: u32 = host::STACK_ARGS_FROM;
