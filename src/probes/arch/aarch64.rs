//! arm64 `struct pt_regs` offsets (`regs[31]` first) of the AAPCS64 argument registers and the
//! return value; feeds `arch::pt_regs_offset`.

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
