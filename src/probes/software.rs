//! The software provider: `software:EVENT[:COUNT]` with bpftrace's event names, aliases and
//! default counts (the table in `perf.rs`), one perf event per CPU; fed by `parse_attach`,
//! `attach_probe` and `-l`.

use super::catalogue::Catalogue;
use super::perf::{per_cpu, software, software_event, BPF_PROG_TYPE_PERF_EVENT, SOFTWARE_EVENTS};
use super::{glob_match, Attach, Context, Provider, Query};
use std::fmt::Write as _;
use std::os::fd::{OwnedFd, RawFd};

pub static PROVIDER: Provider = Provider {
    name: "software",
    aliases: &["s"],
    parse: Some(parse),
    prog_type: Some(BPF_PROG_TYPE_PERF_EVENT),
    context: Context::NONE,
    attach: Some(attach),
    list: Some(list),
};

/// `software:EVENT[:COUNT]`; the event keeps the name as written (an alias stays an alias).
pub(crate) fn parse(rest: &str, _: &dyn Catalogue) -> Result<Vec<Attach>, String> {
    let (event, count) = match rest.split_once(':') {
        Some((e, c)) => (e, Some(c)),
        None => (rest, None),
    };
    if event.is_empty() {
        return Err("software probe type requires 1 or 2 arguments".into());
    }
    let Some(known) = software_event(event) else {
        return Err(format!("{event} is not a software probe"));
    };
    let count = match count {
        None | Some("") => known.default_count,
        Some(c) => c
            .parse()
            .map_err(|_| format!("invalid software count '{c}': expected an integer"))?,
    };
    Ok(vec![Attach::Software {
        event: event.to_string(),
        count,
    }])
}

/// `-l software:EVENT`: every event by its full name, with an empty count.
fn list(q: &Query<'_>, _: &dyn Catalogue, out: &mut String) -> Result<(), String> {
    let event = q.rest.split(':').next().unwrap_or(q.rest);
    for e in SOFTWARE_EVENTS {
        if glob_match(event, e.name) {
            let _ = writeln!(out, "software:{}:", e.name);
        }
    }
    Ok(())
}

fn attach(prog_fd: RawFd, attach: &Attach, pid: Option<i32>) -> Result<Vec<OwnedFd>, String> {
    let Attach::Software { event, count } = attach else {
        return Err(super::wrong_provider(attach));
    };
    let Some(known) = software_event(event) else {
        return Err(format!("unknown software event: {event}"));
    };
    per_cpu(
        prog_fd,
        &software(known.config, *count),
        pid,
        &attach.to_string(),
    )
}
