//! The usdt provider (`usdt:PATH:[PROVIDER:]NAME`, static probes in user binaries): known by
//! name, not yet supported, so a script using it gets a clear error from `parse_attach`.

use super::{Context, Provider};

pub static PROVIDER: Provider = Provider {
    name: "usdt",
    aliases: &["U"],
    parse: None,
    prog_type: None,
    context: Context::NONE,
    attach: None,
    list: None,
};
