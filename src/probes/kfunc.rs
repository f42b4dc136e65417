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

fn parse_kfunc(rest: &str, cat: &dyn Catalogue) -> Result<Vec<Attach>, String> {
    let attach = parse(rest, false)?;
    available_in(cat, "kfunc")?;
    Ok(attach)
}

fn parse_kretfunc(rest: &str, cat: &dyn Catalogue) -> Result<Vec<Attach>, String> {
    let attach = parse(rest, true)?;
    available_in(cat, "kretfunc")?;
    Ok(attach)
}

/// The error for a kernel that does not load fentry/fexit programs, found while parsing so
/// that nothing is loaded or run (not even BEGIN).
fn available_in(cat: &dyn Catalogue, kind: &str) -> Result<(), String> {
    if cat.kfuncs_available() {
        Ok(())
    } else {
        cat.lacking(format!(
            "{kind} probes are not available on this kernel: it does not load BPF trampoline \
             (fentry/fexit) programs; use a tracepoint or rawtracepoint instead"
        ))
    }
}

/// `BPF_PROG_TYPE_TRACING`.
const BPF_PROG_TYPE_TRACING: u32 = 26;
/// `BPF_TRACE_FENTRY`.
const BPF_TRACE_FENTRY: u32 = 24;

/// Whether the kernel loads an fentry program: a two-instruction program (`r0 = 0; exit`)
/// attached by BTF id to a kernel function, loaded once and closed, as bpftrace's feature
/// check does. Needs the kernel's BTF.
pub fn available(btf: &crate::btf::Btf) -> bool {
    let Some(func) = ["bpf_fentry_test1", "vfs_read"]
        .iter()
        .find_map(|f| btf.func_proto(f))
        .map(|p| p.func)
    else {
        return false;
    };
    // mov r0, 0; exit.
    let insns: [u8; 16] = [0xb7, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0];
    let license = b"GPL\0";
    let mut attr = [0u8; 128];
    attr[0..4].copy_from_slice(&BPF_PROG_TYPE_TRACING.to_le_bytes());
    attr[4..8].copy_from_slice(&2u32.to_le_bytes());
    attr[8..16].copy_from_slice(&(insns.as_ptr() as u64).to_le_bytes());
    attr[16..24].copy_from_slice(&(license.as_ptr() as u64).to_le_bytes());
    attr[68..72].copy_from_slice(&BPF_TRACE_FENTRY.to_le_bytes());
    attr[108..112].copy_from_slice(&func.to_le_bytes());
    // SAFETY: BPF_PROG_LOAD (5) with a zero-filled attribute block of the size given; the
    // pointers it holds outlive the call.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            5,
            attr.as_mut_ptr(),
            attr.len() as libc::c_uint,
        )
    };
    if fd < 0 {
        return false;
    }
    // SAFETY: the kernel gave us this fd and nothing else owns it.
    unsafe { libc::close(fd as i32) };
    true
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
