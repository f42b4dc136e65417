//! The watchpoint and asyncwatchpoint providers (`watchpoint:ADDR:LEN:MODE`, hardware
//! breakpoints): known by name, not yet supported, so a script using them gets a clear error
//! from `parse_attach`.

use super::{Context, Provider};

pub static WATCHPOINT: Provider = Provider {
    name: "watchpoint",
    aliases: &["w"],
    parse: None,
    prog_type: None,
    context: Context::NONE,
    attach: None,
    list: None,
};

pub static ASYNCWATCHPOINT: Provider = Provider {
    name: "asyncwatchpoint",
    aliases: &[],
    parse: None,
    prog_type: None,
    context: Context::NONE,
    attach: None,
    list: None,
};
