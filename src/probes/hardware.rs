//! The hardware provider (`hardware:EVENT[:COUNT]`, CPU performance counters): bpftrace's
//! event names and default counts, `-l` listing, and, while parsing, a clear error: where the
//! kernel has no CPU PMU (virtual machines often have none) it says so, and elsewhere that
//! rtrace does not attach them yet. Fed by `parse_attach` and `-l`.

use super::catalogue::Catalogue;
use super::perf::PMU_DIR;
use super::{glob_match, Attach, Context, Provider, Query};
use std::fmt::Write as _;
use std::path::Path;

pub static PROVIDER: Provider = Provider {
    name: "hardware",
    aliases: &["h"],
    parse: Some(parse),
    prog_type: None,
    context: Context::NONE,
    attach: None,
    list: Some(list),
};

/// bpftrace 0.17's hardware events: name, alias, default count, in `-l` order.
pub const EVENTS: [(&str, Option<&str>, u64); 10] = [
    ("backend-stalls", None, 1_000_000),
    ("branch-instructions", Some("branches"), 100_000),
    ("branch-misses", None, 100_000),
    ("bus-cycles", None, 100_000),
    ("cache-misses", None, 1_000_000),
    ("cache-references", None, 1_000_000),
    ("cpu-cycles", Some("cycles"), 1_000_000),
    ("frontend-stalls", None, 1_000_000),
    ("instructions", None, 1_000_000),
    ("ref-cycles", None, 1_000_000),
];

/// Whether the kernel has a CPU PMU for hardware events (`cpu` or `cpu_core` in sysfs).
pub fn available() -> bool {
    ["cpu", "cpu_core", "armv8_pmuv3"]
        .iter()
        .any(|p| Path::new(PMU_DIR).join(p).exists())
}

/// `hardware:EVENT[:COUNT]`: the event and count are checked, then refused with the reason.
fn parse(rest: &str, _: &dyn Catalogue) -> Result<Vec<Attach>, String> {
    let (event, count) = match rest.split_once(':') {
        Some((e, c)) => (e, Some(c)),
        None => (rest, None),
    };
    if event.is_empty() || count.is_some_and(|c| c.contains(':')) {
        return Err("hardware probe type requires 1 or 2 arguments".into());
    }
    if !EVENTS
        .iter()
        .any(|(name, alias, _)| *name == event || *alias == Some(event))
    {
        return Err(format!("{event} is not a hardware probe"));
    }
    if let Some(c) = count.filter(|c| !c.is_empty()) {
        c.parse::<u64>()
            .map_err(|_| format!("invalid hardware count '{c}': expected an integer"))?;
    }
    if available() {
        Err("hardware probes are not supported by rtrace yet".into())
    } else {
        Err(format!(
            "hardware probes are not available on this kernel: it has no CPU performance \
             counter PMU ({PMU_DIR}/cpu is missing, as in most virtual machines)"
        ))
    }
}

/// `-l hardware:EVENT`: every event by its full name, with an empty count.
fn list(q: &Query<'_>, _: &dyn Catalogue, out: &mut String) -> Result<(), String> {
    let event = q.rest.split(':').next().unwrap_or(q.rest);
    for (name, _, _) in EVENTS {
        if glob_match(event, name) {
            let _ = writeln!(out, "hardware:{name}:");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probes::catalogue::Fixture;

    #[test]
    fn events_are_checked_then_refused() {
        let cat = Fixture::new();
        assert!(parse("nope", &cat)
            .unwrap_err()
            .contains("not a hardware probe"));
        assert!(parse("cache-misses:x", &cat)
            .unwrap_err()
            .contains("invalid"));
        let err = parse("cycles:1000", &cat).unwrap_err();
        assert!(err.contains("hardware probes are not"), "{err}");
        let mut out = String::new();
        let q = Query {
            rest: "cache*",
            named: true,
            verbose: false,
        };
        list(&q, &cat, &mut out).unwrap();
        assert_eq!(out, "hardware:cache-misses:\nhardware:cache-references:\n");
    }
}
