//! The kprobe provider: `kprobe:FUNC[+OFF]` and `kretprobe:FUNC`, wildcard expansion against
//! the catalogue's kernel functions, `argN`/`retval` from `pt_regs`, attaching through the
//! kprobe PMU, and a clear error where the kernel has no kprobes; fed by `parse_attach`,
//! `attach_probe`, `-l` and the system catalogue (which asks `available` and `functions`).

use super::catalogue::Catalogue;
use super::perf::{dynamic_pmu, on_perf_event, BPF_PROG_TYPE_KPROBE, PMU_DIR};
use super::{glob_match, has_wildcard, parse_u64, tracefs, Attach, Context, Provider, Query};
use crate::bpf::sys::{self, PerfEvent};
use std::ffi::CString;
use std::fmt::Write as _;
use std::os::fd::{OwnedFd, RawFd};
use std::path::Path;

pub static KPROBE: Provider = Provider {
    name: "kprobe",
    aliases: &["k"],
    parse: Some(parse_kprobe),
    prog_type: Some(BPF_PROG_TYPE_KPROBE),
    context: Context::REGS,
    attach: Some(attach),
    list: Some(list),
};

pub static KRETPROBE: Provider = Provider {
    name: "kretprobe",
    aliases: &["kr"],
    parse: Some(parse_kretprobe),
    prog_type: Some(BPF_PROG_TYPE_KPROBE),
    context: Context::RETVAL,
    attach: Some(attach),
    list: Some(list_ret),
};

/// The message for kernels built without CONFIG_KPROBES.
pub const UNAVAILABLE: &str = "kprobes are not available on this kernel (CONFIG_KPROBES is not \
                               set); use a tracepoint or rawtracepoint instead";

/// Whether the kernel can create kprobes: a `kprobe` PMU or tracefs `kprobe_events`.
pub fn available() -> bool {
    Path::new(PMU_DIR).join("kprobe").exists() || tracefs::has_kprobe_events()
}

fn parse_kprobe(rest: &str, cat: &dyn Catalogue) -> Result<Vec<Attach>, String> {
    parse(rest, false, cat)
}

fn parse_kretprobe(rest: &str, cat: &dyn Catalogue) -> Result<Vec<Attach>, String> {
    parse(rest, true, cat)
}

/// Parses `FUNC` or `FUNC+OFF` (after `kprobe:` / `kretprobe:`). Wildcards expand against the
/// catalogue's kernel functions, which needs kprobe support.
pub(crate) fn parse(rest: &str, ret: bool, cat: &dyn Catalogue) -> Result<Vec<Attach>, String> {
    let kind = if ret { "kretprobe" } else { "kprobe" };
    if rest.is_empty() || rest.contains(':') {
        return Err(format!("{kind} probe type requires 1 argument"));
    }
    let (func, offset) = match rest.split_once('+') {
        Some((f, off)) => match parse_u64(off) {
            Some(o) => (f, o),
            None => return Err(format!("invalid offset '{off}' in {kind}:{rest}")),
        },
        None => (rest, 0),
    };
    if ret && offset != 0 {
        return Err("kretprobe probes cannot have an offset".into());
    }
    if func.is_empty() {
        return Err(format!("{kind} probe must have a target"));
    }
    // Known before anything is loaded: the script stops here, before BEGIN runs.
    if !cat.kprobes_available() {
        cat.lacking(UNAVAILABLE.into())?;
    }
    if !has_wildcard(func) {
        return Ok(vec![Attach::Kprobe {
            func: func.to_string(),
            offset,
            ret,
        }]);
    }
    if offset != 0 {
        return Err("a wildcard kprobe cannot have an offset".into());
    }
    let found: Vec<Attach> = cat
        .kernel_functions()
        .into_iter()
        .filter(|f| glob_match(func, f))
        .map(|func| Attach::Kprobe {
            func,
            offset: 0,
            ret,
        })
        .collect();
    if found.is_empty() {
        // --compile-only: another kernel may have the functions this one lacks.
        cat.lacking(format!("no kernel function matches '{func}'"))?;
    }
    Ok(found)
}

/// Traceable kernel functions, sorted and unique: `available_filter_functions` when readable,
/// else the text symbols of `/proc/kallsyms`. Empty when the kernel has no kprobes.
pub fn functions() -> Vec<String> {
    if !available() {
        return Vec::new();
    }
    traceable_functions()
}

/// `available_filter_functions` when readable, else the text symbols of `/proc/kallsyms`,
/// whether or not kprobes can attach to them (`--compile-only` expands wildcards with them).
pub fn traceable_functions() -> Vec<String> {
    let filter = tracefs::root()
        .ok()
        .and_then(|root| std::fs::read_to_string(root.join("available_filter_functions")).ok());
    let mut out: Vec<String> = match filter {
        Some(text) => text
            .lines()
            .filter_map(|l| l.split_whitespace().next())
            .map(str::to_string)
            .collect(),
        None => std::fs::read_to_string("/proc/kallsyms")
            .unwrap_or_default()
            .lines()
            .filter_map(kallsyms_text_symbol)
            .map(str::to_string)
            .collect(),
    };
    out.sort();
    out.dedup();
    out
}

/// The name on a `/proc/kallsyms` line of a text (`t`/`T`) symbol.
fn kallsyms_text_symbol(line: &str) -> Option<&str> {
    let mut it = line.split_whitespace();
    let (_addr, kind, name) = (it.next()?, it.next()?, it.next()?);
    matches!(kind, "t" | "T").then_some(name)
}

/// `-l kprobe:PATTERN`: the matching kernel functions.
fn list(q: &Query<'_>, cat: &dyn Catalogue, out: &mut String) -> Result<(), String> {
    list_kind("kprobe", q, cat, out)
}

/// `-l kretprobe:PATTERN`: the same functions.
fn list_ret(q: &Query<'_>, cat: &dyn Catalogue, out: &mut String) -> Result<(), String> {
    list_kind("kretprobe", q, cat, out)
}

/// The functions matching the pattern, without the `.part.N` clones bpftrace leaves out.
fn list_kind(
    kind: &str,
    q: &Query<'_>,
    cat: &dyn Catalogue,
    out: &mut String,
) -> Result<(), String> {
    for f in cat.kernel_functions() {
        if glob_match(q.rest, &f) && !f.contains(".part.") {
            let _ = writeln!(out, "{kind}:{f}");
        }
    }
    Ok(())
}

/// A kprobe or kretprobe perf event from the kprobe PMU.
fn attach(prog_fd: RawFd, attach: &Attach, _pid: Option<i32>) -> Result<Vec<OwnedFd>, String> {
    let Attach::Kprobe { func, offset, ret } = attach else {
        return Err(super::wrong_provider(attach));
    };
    let fail = |call: &str, e: std::io::Error| format!("cannot attach {attach}: {call}: {e}");
    let (kind, ret_bit) = match dynamic_pmu("kprobe") {
        Ok(pmu) => pmu,
        Err(_) if tracefs::has_kprobe_events() => {
            return Err(format!(
                "cannot attach {attach}: this kernel has kprobe_events but no kprobe PMU \
                 (Linux 4.17 or later is needed)"
            ))
        }
        Err(_) => {
            return Err(format!(
                "cannot attach {attach}: kprobes are not available on this kernel \
                 (no kprobe PMU and no kprobe_events: built without CONFIG_KPROBES?)"
            ))
        }
    };
    let c_func = CString::new(func.as_str())
        .map_err(|_| format!("cannot attach {attach}: NUL in the function name"))?;
    let ev = PerfEvent {
        kind,
        config: if *ret { 1 << ret_bit } else { 0 },
        sample_period: 1,
        wakeup_events: 1,
        config1: c_func.as_ptr() as u64,
        config2: *offset,
        ..PerfEvent::default()
    };
    let fd = sys::perf_event_open(&ev, -1, 0).map_err(|e| fail("perf_event_open", e))?;
    on_perf_event(prog_fd, fd)
        .map(|fd| vec![fd])
        .map_err(|e| fail("ioctl", e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probes::catalogue::Fixture;

    #[test]
    fn kallsyms_lines() {
        assert_eq!(
            kallsyms_text_symbol("ffffffff81000000 T _stext"),
            Some("_stext")
        );
        assert_eq!(
            kallsyms_text_symbol("ffffffff81000000 t vfs_x [ext4]"),
            Some("vfs_x")
        );
        assert_eq!(kallsyms_text_symbol("ffffffff82000000 D data"), None);
        assert_eq!(kallsyms_text_symbol("garbage"), None);
    }

    #[test]
    fn offsets_and_errors() {
        let cat = Fixture::new().kernel_functions(&["vfs_read"]);
        let k = |s| parse(s, false, &cat);
        assert_eq!(
            k("vfs_read+0x10"),
            Ok(vec![Attach::Kprobe {
                func: "vfs_read".into(),
                offset: 16,
                ret: false
            }])
        );
        assert!(parse("vfs_read+4", true, &cat).is_err());
        assert!(k("vfs_read+x").is_err());
        assert!(k("").is_err());
        assert!(k("a:b").is_err());
        // Without kprobes, every kprobe is refused while parsing.
        let none = Fixture::new();
        assert_eq!(parse("vfs_*", false, &none), Err(UNAVAILABLE.into()));
        assert_eq!(parse("vfs_read", true, &none), Err(UNAVAILABLE.into()));
    }

    #[test]
    fn wildcards_from_the_catalogue() {
        let cat = Fixture::new().kernel_functions(&["vfs_write", "vfs_read", "do_sys_open"]);
        let funcs: Vec<String> = parse("vfs_*", true, &cat)
            .expect("matches")
            .into_iter()
            .filter_map(|a| match a {
                Attach::Kprobe { func, .. } => Some(func),
                _ => None,
            })
            .collect();
        assert_eq!(funcs, ["vfs_read", "vfs_write"]);
        assert!(parse("nope*", false, &cat).is_err());
    }
}
