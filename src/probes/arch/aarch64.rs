//! arm64 `struct pt_regs` (`regs[31]`, then sp, pc, pstate): register offsets for `reg()`,
//! the AAPCS64 argument registers and the return value, stack arguments; feeds `arch`.

/// `arg0`...`arg5` are x0...x5; `retval` is x0.
pub fn pt_regs_offset(name: &str) -> Option<u32> {
    Some(match name {
        "arg0" | "retval" => 0,
        "arg1" => 8,
        "arg2" => 16,
        "arg3" => 24,
        "arg4" => 32,
        "arg5" => 40,
        _ => return None,
    })
}

/// The byte offset of a register by its `reg()` name: `x0`...`x30`, `sp`, `pc`, `pstate`.
pub fn register_offset(name: &str) -> Option<u32> {
    match name {
        "sp" => Some(248),
        "pc" => Some(256),
        "pstate" => Some(264),
        _ => {
            let n: u32 = name.strip_prefix('x')?.parse().ok()?;
            (n <= 30).then_some(8 * n)
        }
    }
}

/// `sargN` is the word at `sp + 8 * (N + STACK_ARGS_FROM)`.
pub const STACK_ARGS_FROM: u32 = 0;
