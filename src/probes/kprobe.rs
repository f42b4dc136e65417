//! The kprobe provider: `kprobe:FUNC[+OFF]` and `kretprobe:FUNC`, wildcard expansion against
//! the kernel's function list, and a clear error where the kernel has no kprobes; fed by
//! `parse_attach`.

use super::{glob_match, has_wildcard, parse_u64, tracefs_root, Attach};
use std::path::Path;

/// The message for kernels built without CONFIG_KPROBES.
pub const UNAVAILABLE: &str = "kprobes are not available on this kernel (CONFIG_KPROBES is not \
                               set); use a tracepoint or rawtracepoint instead";

/// Whether the kernel can create kprobes: a `kprobe` PMU or tracefs `kprobe_events`.
pub fn available() -> bool {
    Path::new("/sys/bus/event_source/devices/kprobe").exists()
        || tracefs_root().is_ok_and(|root| root.join("kprobe_events").exists())
}

/// `Err(UNAVAILABLE)` on kernels without kprobes: for the attach step to call first.
pub fn check_available() -> Result<(), String> {
    if available() {
        Ok(())
    } else {
        Err(UNAVAILABLE.into())
    }
}

/// Parses `FUNC` or `FUNC+OFF` (after `kprobe:` / `kretprobe:`). Wildcards expand against
/// `available_filter_functions` (or `/proc/kallsyms`), which needs kprobe support.
pub(crate) fn parse(rest: &str, ret: bool) -> Result<Vec<Attach>, String> {
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
    check_available()?;
    let found: Vec<Attach> = functions()
        .into_iter()
        .filter(|f| glob_match(func, f))
        .map(|func| Attach::Kprobe {
            func,
            offset: 0,
            ret,
        })
        .collect();
    if found.is_empty() {
        return Err(format!("no kernel function matches '{func}'"));
    }
    Ok(found)
}

/// Traceable kernel functions, sorted and unique: `available_filter_functions` when readable,
/// else the text symbols of `/proc/kallsyms`. Empty when the kernel has no kprobes.
pub fn functions() -> Vec<String> {
    if !available() {
        return Vec::new();
    }
    let filter = tracefs_root()
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

#[cfg(test)]
mod tests {
    use super::*;

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
        let k = |s| parse(s, false);
        assert_eq!(
            k("vfs_read+0x10"),
            Ok(vec![Attach::Kprobe {
                func: "vfs_read".into(),
                offset: 16,
                ret: false
            }])
        );
        assert!(parse("vfs_read+4", true).is_err());
        assert!(k("vfs_read+x").is_err());
        assert!(k("").is_err());
        assert!(k("a:b").is_err());
    }
}
