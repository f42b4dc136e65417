//! The hardware provider (`hardware:EVENT[:COUNT]`, CPU performance counters): bpftrace's
//! event names and default counts, `-l` listing, and one perf event per CPU (or for the `-p`
//! process) counting `PERF_TYPE_HARDWARE` events, the program running every COUNT of them.
//! Where the kernel has no CPU PMU (virtual machines often have none) parsing says so, before
//! anything is loaded. Fed by `parse_attach`, `attach_probe` and `-l`.

use super::catalogue::Catalogue;
use super::perf::{hardware, per_cpu, BPF_PROG_TYPE_PERF_EVENT, PMU_DIR};
use super::{glob_match, Attach, Context, Provider, Query};
use std::fmt::Write as _;
use std::os::fd::{OwnedFd, RawFd};
use std::path::Path;

pub static PROVIDER: Provider = Provider {
    name: "hardware",
    aliases: &["h"],
    parse: Some(parse),
    prog_type: Some(BPF_PROG_TYPE_PERF_EVENT),
    context: Context::NONE,
    attach: Some(attach),
    list: Some(list),
};

/// Each event's `PERF_COUNT_HW_*` (the `config` of a `PERF_TYPE_HARDWARE` event).
fn config(name: &str) -> Option<u64> {
    Some(match name {
        "cpu-cycles" => 0,
        "instructions" => 1,
        "cache-references" => 2,
        "cache-misses" => 3,
        "branch-instructions" => 4,
        "branch-misses" => 5,
        "bus-cycles" => 6,
        "frontend-stalls" => 7,
        "backend-stalls" => 8,
        "ref-cycles" => 9,
        _ => return None,
    })
}

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

/// `hardware:EVENT[:COUNT]`: the event (or its alias) and the count (its default when left
/// out); an error where the CPU has no PMU.
fn parse(rest: &str, cat: &dyn Catalogue) -> Result<Vec<Attach>, String> {
    let (event, count) = match rest.split_once(':') {
        Some((e, c)) => (e, Some(c)),
        None => (rest, None),
    };
    if event.is_empty() || count.is_some_and(|c| c.contains(':')) {
        return Err("hardware probe type requires 1 or 2 arguments".into());
    }
    let Some(&(name, _, default)) = EVENTS
        .iter()
        .find(|(name, alias, _)| *name == event || *alias == Some(event))
    else {
        return Err(format!("{event} is not a hardware probe"));
    };
    let count = match count.filter(|c| !c.is_empty()) {
        Some(c) => c
            .parse::<u64>()
            .map_err(|_| format!("invalid hardware count '{c}': expected an integer"))?,
        None => default,
    };
    if !available() {
        // --compile-only: another machine's CPU may count them.
        cat.lacking(format!(
            "hardware probes are not available on this kernel: it has no CPU performance \
             counter PMU ({PMU_DIR}/cpu is missing, as in most virtual machines)"
        ))?;
    }
    Ok(vec![Attach::Hardware {
        event: name.to_string(),
        count,
    }])
}

/// One counting perf event per CPU (or for `pid`), the program attached to each.
fn attach(prog_fd: RawFd, attach: &Attach, pid: Option<i32>) -> Result<Vec<OwnedFd>, String> {
    let Attach::Hardware { event, count } = attach else {
        return Err(super::wrong_provider(attach));
    };
    let config = config(event).ok_or_else(|| format!("unknown hardware event: {event}"))?;
    per_cpu(prog_fd, &hardware(config, *count), pid, &attach.to_string())
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
    fn events_are_checked_and_counted() {
        let cat = Fixture::new();
        assert!(parse("nope", &cat)
            .unwrap_err()
            .contains("not a hardware probe"));
        assert!(parse("cache-misses:x", &cat)
            .unwrap_err()
            .contains("invalid"));
        match parse("cycles:1000", &cat) {
            Ok(points) => {
                assert!(available());
                assert_eq!(
                    points,
                    [Attach::Hardware {
                        event: "cpu-cycles".into(),
                        count: 1000
                    }]
                );
            }
            Err(err) => assert!(err.contains("hardware probes are not available"), "{err}"),
        }
        let mut out = String::new();
        let q = Query {
            rest: "cache*",
            named: true,
            verbose: false,
        };
        list(&q, &cat, &mut out).unwrap();
        assert_eq!(out, "hardware:cache-misses:\nhardware:cache-references:\n");
    }

    #[test]
    fn perf_events_count_hardware() {
        for (name, _, _) in EVENTS {
            let ev = hardware(config(name).expect(name), 1000);
            assert_eq!(ev.kind, crate::bpf::sys::PERF_TYPE_HARDWARE);
            assert_eq!(ev.sample_period, 1000);
        }
        assert_eq!(config("cache-misses"), Some(3));
        assert_eq!(config("ref-cycles"), Some(9));
        // A period of 0 would never fire: at least 1.
        assert_eq!(hardware(0, 0).sample_period, 1);
    }
}
