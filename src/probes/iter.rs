//! The iter provider (`iter:task`, `iter:task_file`, BPF iterators): a tracing program loaded
//! against the kernel's `bpf_iter_NAME` function, linked with `BPF_LINK_CREATE` and run over
//! every task (or every open file of every task) by reading the iterator to its end. `ctx` is
//! the kernel's `struct bpf_iter__NAME` (`ctx->task`, `ctx->fd`, `ctx->file`), its fields laid
//! out from BTF. `-l` lists bpftrace 0.17's iterators (with `-lv`, their fields). Fed by
//! `parse_attach`, sema (the context's fields) and the runtime (attach, then `run`).

use super::catalogue::Catalogue;
use super::{glob_match, Attach, Context, Provider, Query, TpField, TpFormat};
use crate::bpf::sys;
use std::fmt::Write as _;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

pub static PROVIDER: Provider = Provider {
    name: "iter",
    aliases: &["it"],
    parse: Some(parse),
    prog_type: Some(BPF_PROG_TYPE_TRACING),
    context: Context::NONE,
    attach: Some(attach),
    list: Some(list),
};

/// `BPF_PROG_TYPE_TRACING`.
const BPF_PROG_TYPE_TRACING: u32 = 26;
/// `BPF_TRACE_ITER` of `enum bpf_attach_type`.
pub const BPF_TRACE_ITER: u32 = 28;

/// bpftrace 0.17's iterators and the fields `-lv` shows for each.
const ITERS: [(&str, &[&str]); 2] = [
    ("task", &["struct task_struct * task"]),
    (
        "task_file",
        &["struct task_struct * task", "int fd", "struct file * file"],
    ),
];

/// The kernel function an iterator program is loaded against (`bpf_iter_task`).
pub fn target_function(name: &str) -> String {
    format!("bpf_iter_{name}")
}

/// The kernel struct an iterator program's context points to (`struct bpf_iter__task`).
pub fn context_struct(name: &str) -> String {
    format!("bpf_iter__{name}")
}

/// `iter:NAME[:PIN]`. The iterator must be one bpftrace 0.17 knows, the kernel's BTF must
/// name its function and the kernel must load a program against it. Pinning is refused:
/// rtrace's programs print through its ring buffer, which a pinned iterator read later by
/// another process would not reach.
fn parse(rest: &str, cat: &dyn Catalogue) -> Result<Vec<Attach>, String> {
    let parts: Vec<&str> = rest.split(':').collect();
    if rest.is_empty() || parts.len() > 2 {
        return Err("iter probe type takes 2 arguments (1 optional)".into());
    }
    let name = parts[0];
    if name.contains('*') {
        return Err("iter probe type does not support wildcards".into());
    }
    if !ITERS.iter().any(|(n, _)| *n == name) {
        return Err(format!(
            "iter {name} not available for your kernel version."
        ));
    }
    if let Some(pin) = parts.get(1) {
        return Err(format!(
            "iter:{name}:{pin}: rtrace does not pin iterators (its programs print through its \
             own ring buffer, which a later reader of the pinned file would not reach); \
             write iter:{name} to run the iterator now"
        ));
    }
    let func = target_function(name);
    let btf_id = match cat.btf().map(|b| b.func_proto(&func)) {
        Ok(Some(proto)) => proto.func,
        Ok(None) => {
            cat.lacking(format!(
                "iter:{name} is not available on this kernel: its BTF has no function {func}"
            ))?;
            0
        }
        Err(e) => {
            cat.lacking(format!(
                "iter:{name} is not available: it needs the kernel's BTF ({e})"
            ))?;
            0
        }
    };
    if btf_id != 0 {
        if let Err(e) = cat.iter_loads(btf_id) {
            cat.lacking(format!(
                "iter:{name} is not available on this kernel: it does not load an iterator \
                 program against {func} ({e})"
            ))?;
        }
    }
    Ok(vec![Attach::Iter {
        name: name.to_string(),
        btf_id,
    }])
}

/// The fields of `ctx` in an iterator program, from the kernel's `struct bpf_iter__NAME`
/// (`meta`, then `task`, `fd`, `file`), as sema reads `ctx->FIELD`: each is read from the
/// context directly, as the verifier requires.
pub fn context_fields(btf: &crate::btf::Btf, name: &str) -> Result<TpFormat, String> {
    let record = context_struct(name);
    let fields = btf
        .record_fields(&record)
        .ok_or_else(|| format!("the kernel's BTF has no struct {record}"))?
        .into_iter()
        .map(|f| TpField {
            pointer: f.c_type.ends_with('*'),
            name: f.name,
            c_type: f.c_type,
            offset: f.offset,
            size: f.size,
            signed: f.signed,
            data_loc: false,
            array_len: None,
        })
        .collect();
    Ok(TpFormat { fields })
}

/// Attaches an iterator program: a `BPF_LINK_CREATE` link, which `run` reads through.
fn attach(prog_fd: RawFd, attach: &Attach, _pid: Option<i32>) -> Result<Vec<OwnedFd>, String> {
    match attach {
        Attach::Iter { .. } => sys::link_create(prog_fd, BPF_TRACE_ITER)
            .map(|link| vec![link])
            .map_err(|e| format!("cannot attach {attach}: BPF_LINK_CREATE: {e}")),
        _ => Err(super::wrong_provider(attach)),
    }
}

/// Objects an iterator goes over per read: each run of the program writes one marker byte to
/// the kernel's sequence file (`codegen::lower`'s `iter_marker`), and a read returns once it
/// has the bytes it asked for, so the ring buffer is handled after at most this many runs.
const OBJECTS_PER_READ: usize = 64;

/// Runs the iterator of `link` over every object: a new iteration (`BPF_ITER_CREATE`) read to
/// its end, `OBJECTS_PER_READ` objects at a time. `step` runs after each read (the program's
/// ring buffer records are handled there) and stops the iteration early when it returns false
/// (exit(), a signal). The bytes read are the program's markers, not output.
pub fn run(link: RawFd, step: &mut dyn FnMut() -> io::Result<bool>) -> io::Result<()> {
    let iter = sys::iter_create(link)?;
    let mut buf = [0u8; OBJECTS_PER_READ];
    loop {
        // SAFETY: `buf` is writable for its length; `iter` is an open fd we own.
        let n = unsafe { libc::read(iter.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
        if !step()? || n == 0 {
            return Ok(());
        }
    }
}

/// Whether the kernel loads an iterator program (`r0 = 0; exit`) against the function of BTF
/// id `btf_id`; `Err` holds the kernel's answer when it does not.
pub fn load_test(btf_id: u32) -> Result<(), String> {
    // mov r0, 0; exit.
    let insns: [u8; 16] = [0xb7, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0];
    sys::prog_load_probe(BPF_PROG_TYPE_TRACING, BPF_TRACE_ITER, btf_id, &insns)
        .map(drop)
        .map_err(|e| format!("BPF_PROG_LOAD: {e}"))
}

/// `-l iter:PATTERN`.
fn list(q: &Query<'_>, _: &dyn Catalogue, out: &mut String) -> Result<(), String> {
    for (name, fields) in ITERS {
        if glob_match(q.rest, name) {
            let _ = writeln!(out, "iter:{name}");
            if q.verbose {
                for f in fields {
                    let _ = writeln!(out, "    {f}");
                }
            }
        }
    }
    Ok(())
}
