//! The tracepoint provider: `tracepoint:CAT:NAME` with wildcards expanded against the
//! catalogue, record layouts from the catalogue, `args->field` in the
//! context, and attaching through a tracepoint perf event; fed by `parse_attach`, the system
//! catalogue (format text) and `attach_probe`.

use super::catalogue::Catalogue;
use super::format::field_decls;
use super::perf::{on_perf_event, BPF_PROG_TYPE_TRACEPOINT};
use super::{glob_match, has_wildcard, tracefs, Attach, Context, Provider, Query};
use crate::bpf::sys::{self, PerfEvent};
use std::fmt::Write as _;
use std::os::fd::{OwnedFd, RawFd};
use std::path::Path;

pub static PROVIDER: Provider = Provider {
    name: "tracepoint",
    aliases: &["t"],
    parse: Some(parse),
    prog_type: Some(BPF_PROG_TYPE_TRACEPOINT),
    context: Context::ARGS,
    attach: Some(attach),
    list: Some(list),
};

/// Parses `CAT:NAME` (after `tracepoint:`), expanding `*` and `?` in either part.
pub(crate) fn parse(rest: &str, cat: &dyn Catalogue) -> Result<Vec<Attach>, String> {
    let (category, name) = match rest.split_once(':') {
        Some((c, n)) if !c.is_empty() && !n.contains(':') => (c, n),
        _ => return Err("tracepoint probe type requires 2 arguments".into()),
    };
    if name.is_empty() {
        return Err("tracepoint probe must have a target".into());
    }
    if !has_wildcard(rest) {
        cat.format(category, name)?;
        return Ok(vec![Attach::Tracepoint {
            category: category.to_string(),
            name: name.to_string(),
        }]);
    }
    let found: Vec<Attach> = cat
        .tracepoints()?
        .into_iter()
        .filter(|(c, n)| glob_match(category, c) && glob_match(name, n))
        .map(|(category, name)| Attach::Tracepoint { category, name })
        .collect();
    if found.is_empty() {
        return Err(format!("no tracepoint matches '{category}:{name}'"));
    }
    Ok(found)
}

/// `-l tracepoint:CAT:NAME` (wildcards allowed); with `-v`, each tracepoint's fields follow
/// it, indented by four spaces.
fn list(q: &Query<'_>, cat: &dyn Catalogue, out: &mut String) -> Result<(), String> {
    if q.named && !has_wildcard(q.rest) && q.rest.matches(':').count() != 1 {
        return Err("tracepoint probe type requires 2 arguments".into());
    }
    for (category, name) in cat.tracepoints()? {
        if !glob_match(q.rest, &format!("{category}:{name}")) {
            continue;
        }
        let _ = writeln!(out, "tracepoint:{category}:{name}");
        if q.verbose {
            // A format that cannot be read lists the probe alone, as bpftrace does.
            if let Ok(text) = cat.format_text(&category, &name) {
                for decl in field_decls(&text) {
                    let _ = writeln!(out, "    {decl}");
                }
            }
        }
    }
    Ok(())
}

/// Attaches `prog_fd` to a tracepoint's perf event (its id read from tracefs).
fn attach(prog_fd: RawFd, attach: &Attach, _pid: Option<i32>) -> Result<Vec<OwnedFd>, String> {
    let Attach::Tracepoint { category, name } = attach else {
        return Err(super::wrong_provider(attach));
    };
    let fail = |call: &str, e: std::io::Error| format!("cannot attach {attach}: {call}: {e}");
    let id = tracepoint_id(category, name)?;
    let ev = PerfEvent {
        kind: sys::PERF_TYPE_TRACEPOINT,
        config: id,
        sample_period: 1,
        sample_type: sys::PERF_SAMPLE_RAW,
        wakeup_events: 1,
        ..PerfEvent::default()
    };
    let fd = sys::perf_event_open(&ev, -1, 0).map_err(|e| fail("perf_event_open", e))?;
    on_perf_event(prog_fd, fd)
        .map(|fd| vec![fd])
        .map_err(|e| fail("ioctl", e))
}

/// The tracepoint's perf config: `events/CAT/NAME/id` in tracefs (one small read).
fn tracepoint_id(category: &str, name: &str) -> Result<u64, String> {
    if !tracefs::safe_name(category) || !tracefs::safe_name(name) {
        return Err(format!("tracepoint not found: {category}:{name}"));
    }
    let Ok(root) = tracefs::root() else {
        return Err("cannot attach tracepoints: tracefs is not mounted \
             (mount -t tracefs tracefs /sys/kernel/tracing)"
            .into());
    };
    let path = root.join("events").join(category).join(name).join("id");
    let shown = path.display();
    match std::fs::read_to_string(&path) {
        Ok(text) => text
            .trim()
            .parse()
            .map_err(|_| format!("cannot attach tracepoint:{category}:{name}: bad id in {shown}")),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Err(format!("tracepoint not found: {category}:{name}"))
        }
        Err(e) => Err(format!("cannot read {shown}: {e}")),
    }
}

/// Every `(category, name)` with a format file under `events/`, for a tracefs without
/// `available_events`.
pub(crate) fn scan_events(events: &Path) -> Result<Vec<(String, String)>, String> {
    let cats = std::fs::read_dir(events)
        .map_err(|e| format!("cannot list tracepoints in {}: {e}", events.display()))?;
    let mut out = Vec::new();
    for cat in cats.flatten() {
        let Ok(names) = std::fs::read_dir(cat.path()) else {
            continue;
        };
        for name in names.flatten() {
            if name.path().join("format").is_file() {
                out.push((
                    cat.file_name().to_string_lossy().into_owned(),
                    name.file_name().to_string_lossy().into_owned(),
                ));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracepoint_names_cannot_escape_tracefs() {
        assert!(tracepoint_id("..", "x").is_err());
        assert!(tracepoint_id("syscalls", "a/b").is_err());
        assert!(tracepoint_id("", "x").is_err());
    }
}
