//! The kfunc/kretfunc provider (fentry/fexit): `kfunc:[vmlinux:]FUNC` with wildcards expanded
//! against the kernel's BTF functions, loaded through aya against the kernel's BTF and attached
//! through its trampoline link; `args->NAME` and `retval` typed from the function's BTF
//! prototype (`args_format`); `-l`/`-lv` as bpftrace 0.17 lists kfuncs (`kfunc:vmlinux:NAME`,
//! then each parameter and the return type). Fed by `parse_attach`, sema (the arguments'
//! layout), `-l`, and `runtime::load` (which loads the BTF programs and calls
//! `attach_btf_program`).

use super::catalogue::Catalogue;
use super::{chain, glob_match, has_wildcard, Attach, Context, Provider, Query, TpField, TpFormat};
use crate::btf::{Btf, Kind};
use aya::programs::Program;
use std::fmt::Write as _;

pub static KFUNC: Provider = Provider {
    name: "kfunc",
    aliases: &["f", "fentry"],
    parse: Some(parse_kfunc),
    prog_type: None,
    context: Context::NONE,
    attach: None,
    list: Some(list_kfunc),
};

pub static KRETFUNC: Provider = Provider {
    name: "kretfunc",
    aliases: &["fr", "fexit"],
    parse: Some(parse_kretfunc),
    prog_type: None,
    context: Context::NONE,
    attach: None,
    list: Some(list_kretfunc),
};

/// The only BTF object rtrace reads: the kernel's own (`/sys/kernel/btf/vmlinux`).
pub const MODULE: &str = "vmlinux";

/// Most parameters a traced function may have: bpftrace 0.17 leaves out functions with more
/// than six (`arch::max_arg() + 1` on x86-64), both when listing and when expanding wildcards.
const MAX_PARAMS: usize = 6;

/// The name a script's `$retval` field has in `args_format`: no script can write it after
/// `args->`, so it never shadows a parameter.
pub const RETVAL_FIELD: &str = "$retval";

fn parse_kfunc(rest: &str, cat: &dyn Catalogue) -> Result<Vec<Attach>, String> {
    parse(rest, false, cat)
}

fn parse_kretfunc(rest: &str, cat: &dyn Catalogue) -> Result<Vec<Attach>, String> {
    parse(rest, true, cat)
}

/// `[MODULE:]FUNC` after `kfunc:` or `kretfunc:`. A wildcard expands against the functions of
/// the kernel's BTF (traceable ones, with at most six parameters); a plain name must be one
/// BTF describes.
fn parse(rest: &str, ret: bool, cat: &dyn Catalogue) -> Result<Vec<Attach>, String> {
    let kind = if ret { "kretfunc" } else { "kfunc" };
    let parts: Vec<&str> = rest.split(':').collect();
    let (module, func) = match parts.as_slice() {
        [f] => (None, *f),
        [m, f] => (Some(*m), *f),
        _ => return Err(format!("{kind} probe type requires 1 or 2 arguments")),
    };
    if func.is_empty() || module.is_some_and(str::is_empty) {
        return Err(format!("{kind} probe type requires 1 or 2 arguments"));
    }
    if let Some(m) = module.filter(|m| !glob_match(m, MODULE)) {
        return Err(format!(
            "{kind}:{m}:{func}: rtrace reads only the kernel's own BTF ({MODULE}), not the \
             BTF of module {m}"
        ));
    }
    available_in(cat, kind)?;
    let btf = match cat.btf() {
        Ok(btf) => btf,
        // --compile-only on a machine without BTF: nothing to check the name against.
        Err(_) if !has_wildcard(func) && cat.compile_only() => {
            return Ok(vec![Attach::Fentry {
                func: func.to_string(),
                ret,
            }])
        }
        Err(e) => return Err(format!("{kind} probes need the kernel's BTF: {e}")),
    };
    if !has_wildcard(func) {
        let Some(proto) = btf.func_proto(func) else {
            return Err(format!(
                "{kind}:{func}: the kernel's BTF has no function {func}"
            ));
        };
        if proto.params.len() > MAX_PARAMS {
            return Err(format!(
                "{kind}:{func}: functions with more than {MAX_PARAMS} parameters are not \
                 supported."
            ));
        }
        return Ok(vec![Attach::Fentry {
            func: func.to_string(),
            ret,
        }]);
    }
    let found = matching_functions(btf, cat, &format!("{MODULE}:{func}"));
    if found.is_empty() {
        return Err(format!("no kernel function matches '{func}'"));
    }
    Ok(found
        .into_iter()
        .map(|f| Attach::Fentry { func: f, ret })
        .collect())
}

/// The functions of `btf` whose `vmlinux:NAME` matches `pattern`, sorted and unique, as
/// bpftrace 0.17 finds them: at most six parameters, and traceable when the catalogue knows
/// the traceable functions.
fn matching_functions(btf: &Btf, cat: &dyn Catalogue, pattern: &str) -> Vec<String> {
    let traceable = cat.kernel_functions();
    let mut found: Vec<String> = btf
        .functions()
        .filter(|&(name, params)| {
            params <= MAX_PARAMS
                && glob_match(pattern, &format!("{MODULE}:{name}"))
                && (traceable.is_empty()
                    || traceable.binary_search_by(|t| t.as_str().cmp(name)).is_ok())
        })
        .map(|(name, _)| name.to_string())
        .collect();
    found.sort();
    found.dedup();
    found
}

/// `args` (and `retval`) of a kfunc or kretfunc on `func`, from its BTF prototype: the
/// trampoline's context is an array of 8-byte slots holding the arguments in order (a struct
/// passed by value takes as many slots as it has 8-byte words), then, for kretfunc, the return
/// value (the field `RETVAL_FIELD`). Each field is read at its own size. `None` when BTF has
/// no such function.
pub fn args_format(btf: &Btf, func: &str, ret: bool) -> Option<TpFormat> {
    let proto = btf.func_proto(func)?;
    let mut slot: u32 = 0;
    let mut fields = Vec::new();
    let mut field = |name: &str, ty: u32, slot: &mut u32| {
        let size = u32::try_from(btf.size_of(ty)).unwrap_or(0);
        let resolved = btf.resolve(ty);
        let kind = btf.kind(resolved);
        let signed =
            kind == Kind::Int && btf.int_encoding(resolved).0 & crate::btf::INT_SIGNED != 0;
        fields.push(TpField {
            name: name.to_string(),
            c_type: btf.c_decl(ty),
            offset: 8 * *slot,
            size,
            signed,
            data_loc: false,
            array_len: None,
            pointer: kind == Kind::Ptr,
        });
        *slot += size.div_ceil(8).max(1);
    };
    for p in &proto.params {
        field(&p.name, p.ty, &mut slot);
    }
    if ret && proto.ret != 0 {
        field(RETVAL_FIELD, proto.ret, &mut slot);
    }
    Some(TpFormat { fields })
}

/// The error for a kernel that does not load fentry/fexit programs, found while parsing so
/// that nothing is loaded or run (not even BEGIN); it quotes the kernel's answer.
fn available_in(cat: &dyn Catalogue, kind: &str) -> Result<(), String> {
    match cat.kfunc_refusal() {
        None => Ok(()),
        Some(why) => cat.lacking(format!(
            "{kind} probes are not available on this kernel: it does not load BPF trampoline \
             (fentry/fexit) programs ({why}); use a tracepoint or rawtracepoint instead"
        )),
    }
}

/// `BPF_PROG_TYPE_TRACING`.
const BPF_PROG_TYPE_TRACING: u32 = 26;
/// `BPF_TRACE_FENTRY`.
const BPF_TRACE_FENTRY: u32 = 24;

/// Whether the kernel loads an fentry program: a two-instruction program (`r0 = 0; exit`)
/// attached by BTF id to a kernel function, loaded once and closed, as bpftrace's feature
/// check does. `Err` holds the kernel's answer (on a kernel whose security policy refuses
/// trampolines, `BPF_PROG_LOAD` fails with EPERM before the verifier runs, with an empty log).
pub fn load_test(btf: &Btf) -> Result<(), String> {
    let Some(func) = ["bpf_fentry_test1", "vfs_read"]
        .iter()
        .find_map(|f| btf.func_proto(f))
        .map(|p| p.func)
    else {
        return Err("the kernel's BTF has neither bpf_fentry_test1 nor vfs_read".into());
    };
    // mov r0, 0; exit.
    let insns: [u8; 16] = [0xb7, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0];
    crate::bpf::sys::prog_load_probe(BPF_PROG_TYPE_TRACING, BPF_TRACE_FENTRY, func, &insns)
        .map(drop)
        .map_err(|e| format!("BPF_PROG_LOAD of an fentry program: {e}"))
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

fn list_kfunc(q: &Query<'_>, cat: &dyn Catalogue, out: &mut String) -> Result<(), String> {
    list(q, cat, out, "kfunc")
}

fn list_kretfunc(q: &Query<'_>, cat: &dyn Catalogue, out: &mut String) -> Result<(), String> {
    list(q, cat, out, "kretfunc")
}

/// `-l kfunc:[MODULE:]PATTERN`: every matching function as `kfunc:vmlinux:NAME`, sorted; with
/// `-lv`, each parameter (`struct file * file`) and the return type (`ssize_t retval`). A
/// kernel without kfuncs gets bpftrace 0.17's error.
fn list(q: &Query<'_>, cat: &dyn Catalogue, out: &mut String, kind: &str) -> Result<(), String> {
    if !cat.kfuncs_available() {
        return Err("kfunc/kretfunc not available for your kernel version.".into());
    }
    let btf = cat.btf()?;
    let pattern = if q.rest.contains(':') {
        q.rest.to_string()
    } else if has_wildcard(q.rest) {
        format!("*:{}", q.rest)
    } else {
        format!("{MODULE}:{}", q.rest)
    };
    for name in matching_functions(btf, cat, &pattern) {
        let _ = writeln!(out, "{kind}:{MODULE}:{name}");
        if q.verbose {
            for line in btf.signature_lines(&name).unwrap_or_default() {
                let _ = writeln!(out, "    {line}");
            }
        }
    }
    Ok(())
}
