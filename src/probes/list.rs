//! `rtrace -l [PATTERN]` and `-lv`: probe listing in bpftrace's format (tracepoints
//! byte-identical to bpftrace 0.17); fed by the CLI's pattern and by tracefs, ELF files and
//! the kernel's function list.

use super::perf::SOFTWARE_EVENTS;
use super::{glob_match, has_wildcard, kprobe, tracepoint, uprobe};
use std::fmt::Write as _;

/// Listable providers, in the order bpftrace prints them, with their short aliases.
const PROVIDERS: [(&str, &str); 4] = [
    ("kprobe", "k"),
    ("software", "s"),
    ("tracepoint", "t"),
    ("uprobe", "u"),
];

/// The listing for `pattern` (every probe when `None`): one probe a line; with `verbose`,
/// each tracepoint's fields follow it, indented by four spaces.
pub fn list(pattern: Option<&str>, verbose: bool) -> Result<String, String> {
    let pattern = pattern
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .unwrap_or("*");
    // `PROVIDER:REST`; a pattern without a provider applies to every provider.
    let (provider, rest, explicit) = match pattern.split_once(':') {
        Some((p, r)) => (p, r, true),
        None => ("*", pattern, false),
    };
    let mut out = String::new();
    for (name, alias) in PROVIDERS {
        let wanted = provider == alias || glob_match(provider, name);
        if !wanted {
            continue;
        }
        let named = explicit && !has_wildcard(provider);
        match name {
            "kprobe" => list_kprobes(rest, &mut out),
            "software" => list_software(rest, &mut out),
            "tracepoint" => list_tracepoints(rest, named, verbose, &mut out)?,
            // Symbols need a file: only listed when the provider is named with a path.
            "uprobe" if named => list_uprobes(rest, &mut out)?,
            _ => {}
        }
    }
    Ok(out)
}

fn list_kprobes(rest: &str, out: &mut String) {
    for f in kprobe::functions() {
        if glob_match(rest, &f) {
            let _ = writeln!(out, "kprobe:{f}");
        }
    }
}

fn list_software(rest: &str, out: &mut String) {
    let event = rest.split(':').next().unwrap_or(rest);
    for (name, _, _) in SOFTWARE_EVENTS {
        if glob_match(event, name) {
            let _ = writeln!(out, "software:{name}:");
        }
    }
}

fn list_tracepoints(
    rest: &str,
    named: bool,
    verbose: bool,
    out: &mut String,
) -> Result<(), String> {
    if named && !has_wildcard(rest) && rest.matches(':').count() != 1 {
        return Err("tracepoint probe type requires 2 arguments".into());
    }
    for (cat, name) in tracepoint::all()? {
        if !glob_match(rest, &format!("{cat}:{name}")) {
            continue;
        }
        let _ = writeln!(out, "tracepoint:{cat}:{name}");
        if verbose {
            // A format that cannot be read lists the probe alone, as bpftrace does.
            if let Ok(text) = tracepoint::format_text(&cat, &name) {
                for decl in tracepoint::field_decls(&text) {
                    let _ = writeln!(out, "    {decl}");
                }
            }
        }
    }
    Ok(())
}

fn list_uprobes(rest: &str, out: &mut String) -> Result<(), String> {
    let Some((path, symbol)) = rest.split_once(':') else {
        return Err("uprobe probe type requires 2 arguments".into());
    };
    let file = uprobe::resolve_path(path)?;
    let shown = if path.contains('/') { path } else { &file };
    for f in uprobe::Elf::read(&file)?.functions()? {
        if glob_match(symbol, &f) {
            let _ = writeln!(out, "uprobe:{shown}:{f}");
        }
    }
    Ok(())
}
