//! The kfunc/kretfunc (fentry/fexit) provider: `kfunc:FUNC`, loaded through aya against the
//! kernel's BTF and attached through its trampoline link; fed by `parse_attach` and by
//! `runtime::load` (which loads the BTF programs and calls `attach_btf_program`).

use super::catalogue::Catalogue;
use super::{chain, has_wildcard, Attach, Context, Provider};
use aya::programs::Program;

pub static KFUNC: Provider = Provider {
    name: "kfunc",
    aliases: &["f", "fentry"],
    parse: Some(parse_kfunc),
    prog_type: None,
    context: Context::NONE,
    attach: None,
    list: None,
};

pub static KRETFUNC: Provider = Provider {
    name: "kretfunc",
    aliases: &["fr", "fexit"],
    parse: Some(parse_kretfunc),
    prog_type: None,
    context: Context::NONE,
    attach: None,
    list: None,
};

fn parse_kfunc(rest: &str, _: &dyn Catalogue) -> Result<Vec<Attach>, String> {
    parse(rest, false)
}

fn parse_kretfunc(rest: &str, _: &dyn Catalogue) -> Result<Vec<Attach>, String> {
    parse(rest, true)
}

/// `FUNC` after `kfunc:` or `kretfunc:`; no wildcards.
fn parse(rest: &str, ret: bool) -> Result<Vec<Attach>, String> {
    let kind = if ret { "kretfunc" } else { "kfunc" };
    if rest.is_empty() || rest.contains(':') {
        return Err(format!("{kind} probe type requires 1 argument"));
    }
    if has_wildcard(rest) {
        return Err(format!("wildcards are not supported in {kind} probes"));
    }
    Ok(vec![Attach::Fentry {
        func: rest.to_string(),
        ret,
    }])
}

/// Attaches an fentry/fexit program loaded by aya (which needed the kernel's BTF for it); the
/// link lives inside `prog` until it is dropped.
pub fn attach_btf_program(prog: &mut Program, attach: &Attach) -> Result<(), String> {
    let fail = |e: &dyn std::error::Error| format!("cannot attach {attach}: {}", chain(e));
    match (prog, attach) {
        (Program::FEntry(p), Attach::Fentry { .. }) => p.attach().map(drop).map_err(|e| fail(&e)),
        (Program::FExit(p), Attach::Fentry { .. }) => p.attach().map(drop).map_err(|e| fail(&e)),
        _ => Err(format!(
            "cannot attach {attach}: program type does not match the probe"
        )),
    }
}
