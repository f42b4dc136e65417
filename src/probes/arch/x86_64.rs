//! x86-64 `struct pt_regs` offsets of the System V argument registers and the return value;
//! feeds `arch::pt_regs_offset`.

/// `arg0`...`arg5` are rdi, rsi, rdx, rcx, r8, r9; `retval` is rax.
pub fn pt_regs_offset(name: &str) -> Option<u32> {
    Some(match name {
        "arg0" => 112,  // di
        "arg1" => 104,  // si
        "arg2" => 96,   // dx
        "arg3" => 88,   // cx
        "arg4" => 72,   // r8
        "arg5" => 64,   // r9
        "retval" => 80, // ax
        _ => return None,
    })
}
