//! The rawtracepoint provider: `rawtracepoint:NAME` attached with `BPF_RAW_TRACEPOINT_OPEN`;
//! fed by `parse_attach` and `attach_probe`.

use super::catalogue::Catalogue;
use super::perf::BPF_PROG_TYPE_RAW_TRACEPOINT;
use super::{has_wildcard, Attach, Context, Provider};
use crate::bpf::sys;
use std::os::fd::{OwnedFd, RawFd};

pub static PROVIDER: Provider = Provider {
    name: "rawtracepoint",
    aliases: &["rt"],
    parse: Some(parse),
    prog_type: Some(BPF_PROG_TYPE_RAW_TRACEPOINT),
    context: Context::NONE,
    attach: Some(attach),
    list: None,
};

/// `rawtracepoint:NAME`, no wildcards (the kernel has no list of raw tracepoints to match).
pub(crate) fn parse(rest: &str, _: &dyn Catalogue) -> Result<Vec<Attach>, String> {
    if rest.is_empty() || rest.contains(':') {
        return Err("rawtracepoint probe type requires 1 argument".into());
    }
    if has_wildcard(rest) {
        return Err("wildcards are not supported in rawtracepoint probes".into());
    }
    Ok(vec![Attach::RawTracepoint {
        name: rest.to_string(),
    }])
}

fn attach(prog_fd: RawFd, attach: &Attach, _pid: Option<i32>) -> Result<Vec<OwnedFd>, String> {
    let Attach::RawTracepoint { name } = attach else {
        return Err(super::wrong_provider(attach));
    };
    if name.contains('\0') || name.is_empty() {
        return Err(format!("invalid raw tracepoint name {name:?}"));
    }
    sys::raw_tracepoint_open(prog_fd, name)
        .map(|fd| vec![fd])
        .map_err(|e| format!("cannot attach {attach}: BPF_RAW_TRACEPOINT_OPEN: {e}"))
}
