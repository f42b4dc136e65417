//! The interval provider: `interval:UNIT:N` runs on one CPU every period, through a cpu-clock
//! perf event; fed by `parse_attach` and `attach_probe`.

use super::catalogue::Catalogue;
use super::perf::{on_perf_event, period_ns, software, BPF_PROG_TYPE_PERF_EVENT, CPU_CLOCK};
use super::{Attach, Context, Provider};
use crate::bpf::sys;
use std::os::fd::{OwnedFd, RawFd};

pub static PROVIDER: Provider = Provider {
    name: "interval",
    aliases: &["i"],
    parse: Some(parse),
    prog_type: Some(BPF_PROG_TYPE_PERF_EVENT),
    context: Context::NONE,
    attach: Some(attach),
    list: Some(list),
};

/// `-l interval:...`: see `list_timed`.
fn list(q: &super::Query<'_>, _: &dyn Catalogue, _: &mut String) -> Result<(), String> {
    super::perf::list_timed("interval", q)
}

/// `interval:UNIT:N`.
pub(crate) fn parse(rest: &str, _: &dyn Catalogue) -> Result<Vec<Attach>, String> {
    Ok(vec![Attach::Interval {
        period_ns: period_ns("interval", rest)?,
    }])
}

/// One cpu-clock perf event on the first online CPU.
fn attach(prog_fd: RawFd, attach: &Attach, _pid: Option<i32>) -> Result<Vec<OwnedFd>, String> {
    let Attach::Interval { period_ns } = attach else {
        return Err(super::wrong_provider(attach));
    };
    let fail = |call: &str, e: std::io::Error| format!("cannot attach {attach}: {call}: {e}");
    let cpus = sys::online_cpus().map_err(|e| format!("cannot attach {attach}: {e}"))?;
    let cpu = cpus.first().copied().unwrap_or(0);
    let ev = software(CPU_CLOCK, *period_ns);
    let fd = sys::perf_event_open(&ev, -1, cpu as i32).map_err(|e| fail("perf_event_open", e))?;
    on_perf_event(prog_fd, fd)
        .map(|fd| vec![fd])
        .map_err(|e| fail("ioctl", e))
}
