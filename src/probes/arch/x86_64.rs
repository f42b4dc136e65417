//! x86-64 `struct pt_regs`: offsets of every register (for `reg()`), of the System V argument
//! registers and the return value, and where stack arguments start; feeds `arch`.

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

/// The registers of `struct pt_regs`, in order (8 bytes each), as `reg()` names them.
const REGISTERS: [&str; 21] = [
    "r15", "r14", "r13", "r12", "bp", "bx", "r11", "r10", "r9", "r8", "ax", "cx", "dx", "si", "di",
    "orig_ax", "ip", "cs", "flags", "sp", "ss",
];

/// The byte offset of a register by its `reg()` name.
pub fn register_offset(name: &str) -> Option<u32> {
    REGISTERS
        .iter()
        .position(|r| *r == name)
        .map(|i| 8 * i as u32)
}

/// `sargN` is the word at `sp + 8 * (N + STACK_ARGS_FROM)`: the return address comes first.
pub const STACK_ARGS_FROM: u32 = 1;
