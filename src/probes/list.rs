//! `rtrace -l [PATTERN]` and `-lv`: probe listing as bpftrace 0.17 prints it (names, order,
//! filtering); fed by the CLI's pattern, and by each listable provider's `list`, which asks the
//! catalogue (tracefs, ELF files, BTF, the kernel's function list).
//!
//! The pattern is read as bpftrace reads it: attach points separated by `,`; a wildcard probe
//! type expands to the kernel probe types (or, with `-p` or a path, to the user-space ones),
//! and each expansion skips what it cannot parse.

use super::catalogue::Catalogue;
use super::uprobe::split_parts;
use super::{glob_match, has_wildcard, provider, system, Query};

/// A listing error: a message, and where in the pattern it points (byte range), for the
/// `stdin:1:COL` diagnostic bpftrace prints.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListError {
    pub message: String,
    pub span: Option<(usize, usize)>,
}

impl From<String> for ListError {
    fn from(message: String) -> ListError {
        ListError {
            message,
            span: None,
        }
    }
}

/// Probe types a wildcard type expands to when no process or path is named (bpftrace's
/// kernel list: no return probes, no timers, watchpoints or BEGIN/END), by name.
const KERNEL_TYPES: [&str; 6] = [
    "hardware",
    "iter",
    "kfunc",
    "kprobe",
    "software",
    "tracepoint",
];
/// Probe types a wildcard type expands to with `-p` or a path (bpftrace's user-space list).
const USER_TYPES: [&str; 2] = ["uprobe", "usdt"];

/// The listing for `pattern` (every probe when `None`) on this machine: one probe a line;
/// with `verbose`, each probe's fields or arguments follow it, indented by four spaces.
pub fn list(pattern: Option<&str>, verbose: bool) -> Result<String, ListError> {
    list_in(pattern, verbose, system::catalogue())
}

/// The listing for `pattern` from `cat`.
pub fn list_in(
    pattern: Option<&str>,
    verbose: bool,
    cat: &dyn Catalogue,
) -> Result<String, ListError> {
    let pattern = match pattern {
        None => "*:*",
        Some(p) if p.trim() == "*" => "*:*",
        Some(p) => p,
    };
    check_characters(pattern)?;
    let mut out = String::new();
    let mut any = false;
    let mut start = 0;
    for piece in split_points(pattern) {
        let at = start + (piece.len() - piece.trim_start().len());
        start += piece.len() + 1;
        let raw = piece.trim();
        if raw.is_empty() {
            continue;
        }
        any = true;
        let span = Some((at, at + raw.len()));
        list_point(raw, verbose, cat, &mut out).map_err(|message| ListError { message, span })?;
    }
    if !any {
        return Err(ListError {
            message: "No attach points for probe".into(),
            span: Some((0, pattern.len().min(1))),
        });
    }
    Ok(out)
}

/// One attach point of the pattern.
fn list_point(
    raw: &str,
    verbose: bool,
    cat: &dyn Catalogue,
    out: &mut String,
) -> Result<(), String> {
    let parts = split_parts(raw);
    let written = parts[0].as_str();
    let rest = raw.split_once(':').map_or("", |(_, r)| r);
    if !has_wildcard(written) {
        let p = provider(written).ok_or_else(|| format!("Invalid probe type: {written}"))?;
        let query = Query {
            rest,
            named: true,
            verbose,
        };
        return match p.list {
            Some(list) => list(&query, cat, out),
            None => Ok(()),
        };
    }
    // A single part (`-l 'sched*'`) looks at every type, with the whole text as the rest.
    let type_query = if parts.len() == 1 { "*" } else { written };
    let user = cat.pid().is_some() || parts.get(1).is_some_and(|p| p.contains('/'));
    let candidates: &[&str] = if user { &USER_TYPES } else { &KERNEL_TYPES };
    let types: Vec<&str> = candidates
        .iter()
        .copied()
        .filter(|t| glob_match(type_query, t))
        .filter(|t| *t != "kfunc" || cat.kfuncs_available())
        .collect();
    if types.is_empty() {
        return Err(format!("No probe type matched for {written}"));
    }
    let rest = if parts.len() == 1 { raw } else { rest };
    for t in &types {
        let Some(p) = provider(t) else { continue };
        let query = Query {
            rest,
            // One match parses as if named; several skip what they cannot parse.
            named: types.len() == 1,
            verbose,
        };
        if let Some(list) = p.list {
            list(&query, cat, out)?;
        }
    }
    Ok(())
}

/// The pattern split at `,` outside quotes.
fn split_points(pattern: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut quoted = false;
    let mut start = 0;
    for (i, c) in pattern.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => {
                out.push(&pattern[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&pattern[start..]);
    out
}

/// Characters bpftrace's lexer accepts in attach points (outside quotes): letters, digits,
/// `_ - . / # * + : $ [ ]`, `,` between attach points and blanks.
fn check_characters(pattern: &str) -> Result<(), ListError> {
    let mut quoted = false;
    for (i, c) in pattern.char_indices() {
        let ok = quoted
            || c.is_ascii_alphanumeric()
            || c.is_ascii_whitespace()
            || "_-./#*+:$[],\"?".contains(c);
        if c == '"' {
            quoted = !quoted;
        }
        if !ok {
            return Err(ListError {
                message: format!("invalid character '{c}'"),
                span: Some((i, i + c.len_utf8())),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probes::catalogue::Fixture;

    fn fixture() -> Fixture {
        Fixture::new()
            .tracepoint("sched", "sched_switch", "")
            .tracepoint("syscalls", "sys_enter_nanosleep", "")
            .binary("/opt/app", &["main", "handle", "helper.part.0"])
            .binary("/opt/app2", &["main"])
            .binary("/lib/libfoo.so.1", &["foo_init"])
    }

    fn l(p: &str) -> Result<String, ListError> {
        list_in(Some(p), false, &fixture())
    }

    #[test]
    fn uprobes_by_file_glob_and_library() {
        assert_eq!(
            l("uprobe:/opt/app:*").unwrap(),
            "uprobe:/opt/app:handle\nuprobe:/opt/app:main\n"
        );
        assert_eq!(
            l("uretprobe:/opt/app:h*").unwrap(),
            "uretprobe:/opt/app:handle\n"
        );
        assert_eq!(
            l("uprobe:/opt/app*:main").unwrap(),
            "uprobe:/opt/app2:main\nuprobe:/opt/app:main\n"
        );
        assert_eq!(
            l("u:libfoo:*").unwrap(),
            "uprobe:/lib/libfoo.so.1:foo_init\n"
        );
        assert_eq!(l("*:/opt/app:m*").unwrap(), "uprobe:/opt/app:main\n");
        assert!(l("uprobe:/no/such:*").is_err());
    }

    #[test]
    fn pid_lists_the_executable() {
        let cat = fixture().with_pid(42, "/opt/app");
        assert_eq!(
            list_in(Some("uprobe:m*"), false, &cat).unwrap(),
            "uprobe:/opt/app:main\n"
        );
        assert_eq!(
            list_in(None, false, &cat).unwrap(),
            "uprobe:/opt/app:handle\nuprobe:/opt/app:main\n"
        );
    }

    #[test]
    fn wildcard_types_and_errors() {
        let all = l("*").unwrap();
        assert!(all.contains("tracepoint:sched:sched_switch\n"), "{all}");
        assert!(all.contains("software:cpu-clock:\n"), "{all}");
        assert!(all.contains("iter:task\n"), "{all}");
        assert_eq!(
            l("*sleep*").unwrap(),
            "tracepoint:syscalls:sys_enter_nanosleep\n"
        );
        assert_eq!(
            l("nosuch*:*").unwrap_err().message,
            "No probe type matched for nosuch*"
        );
        assert_eq!(l("foo:*").unwrap_err().message, "Invalid probe type: foo");
        let bad = l("\\n").unwrap_err();
        assert_eq!(bad.message, "invalid character '\\'");
        assert_eq!(bad.span, Some((0, 1)));
        assert_eq!(
            l("t:sched:*,t:syscalls:*").unwrap(),
            "tracepoint:sched:sched_switch\ntracepoint:syscalls:sys_enter_nanosleep\n"
        );
        assert!(l("").is_err());
    }
}
