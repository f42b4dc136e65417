//! The rawtracepoint provider: `rawtracepoint:NAME` attached with `BPF_RAW_TRACEPOINT_OPEN`;
//! fed by `parse_attach` and `attach_probe`. The kernel's raw tracepoints, their number of
//! arguments and their types come from its BTF (`btf_trace_NAME` typedefs): wildcards and
//! `-l`/`-lv` need it, a plain name does not.

use super::catalogue::Catalogue;
use super::perf::BPF_PROG_TYPE_RAW_TRACEPOINT;
use super::{glob_match, has_wildcard, Attach, Context, Provider, Query};
use super::{TpField, TpFormat};
use crate::bpf::sys;
use crate::btf::Btf;
use std::fmt::Write as _;
use std::os::fd::{OwnedFd, RawFd};

pub static PROVIDER: Provider = Provider {
    name: "rawtracepoint",
    aliases: &["rt"],
    parse: Some(parse),
    prog_type: Some(BPF_PROG_TYPE_RAW_TRACEPOINT),
    context: Context::NONE,
    attach: Some(attach),
    list: Some(list),
};

/// The most arguments a raw tracepoint program can read (`MAX_BPF_FUNC_ARGS`): `arg0` to
/// `arg11` where BTF does not say how many the tracepoint has.
pub const MAX_ARGS: usize = 12;

/// `rawtracepoint:NAME`, or a wildcard matched against the raw tracepoints of the kernel's
/// BTF.
pub(crate) fn parse(rest: &str, cat: &dyn Catalogue) -> Result<Vec<Attach>, String> {
    if rest.is_empty() || rest.contains(':') {
        return Err("rawtracepoint probe type requires 1 argument".into());
    }
    if !has_wildcard(rest) {
        return Ok(vec![Attach::RawTracepoint {
            name: rest.to_string(),
        }]);
    }
    let btf = cat
        .btf()
        .map_err(|e| format!("wildcards in rawtracepoint probes need the kernel's BTF: {e}"))?;
    let found: Vec<Attach> = btf
        .raw_tracepoints()
        .into_iter()
        .filter(|name| glob_match(rest, name))
        .map(|name| Attach::RawTracepoint {
            name: name.to_string(),
        })
        .collect();
    if found.is_empty() {
        return Err(format!("No raw tracepoint matches '{rest}'"));
    }
    Ok(found)
}

/// `-l rawtracepoint:GLOB`: every matching raw tracepoint of the kernel's BTF as
/// `rawtracepoint:NAME`, sorted; with `-lv`, each argument as `TYPE NAME`.
fn list(q: &Query<'_>, cat: &dyn Catalogue, out: &mut String) -> Result<(), String> {
    let btf = cat.btf()?;
    let pattern = if q.rest.is_empty() { "*" } else { q.rest };
    for name in btf.raw_tracepoints() {
        if !glob_match(pattern, name) {
            continue;
        }
        let _ = writeln!(out, "rawtracepoint:{name}");
        if q.verbose {
            for p in btf.raw_tracepoint_params(name).unwrap_or_default() {
                let _ = writeln!(out, "    {} {}", btf.c_decl(p.ty), p.name);
            }
        }
    }
    Ok(())
}

/// `arg0`, `arg1`...: one 8-byte slot of the context each (the kernel passes every argument
/// as a u64), as many as BTF says raw tracepoint `name` has. `None` when BTF does not
/// describe it (then `arg0` to `arg11` may be read; the kernel checks the count at attach).
pub fn args_format(btf: &Btf, name: &str) -> Option<TpFormat> {
    let params = btf.raw_tracepoint_params(name)?;
    let fields = params
        .iter()
        .enumerate()
        .map(|(i, p)| TpField {
            name: format!("arg{i}"),
            c_type: btf.c_decl(p.ty),
            offset: 8 * i as u32,
            size: 8,
            signed: false,
            data_loc: false,
            array_len: None,
            pointer: false,
        })
        .collect();
    Some(TpFormat { fields })
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
