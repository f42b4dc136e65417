//! The hardware provider (`hardware:EVENT[:COUNT]`, CPU counters): known by name, not yet
//! supported, so a script using it gets a clear error from `parse_attach`.

use super::{Context, Provider};

pub static PROVIDER: Provider = Provider {
    name: "hardware",
    aliases: &["h"],
    parse: None,
    prog_type: None,
    context: Context::NONE,
    attach: None,
    list: None,
};
