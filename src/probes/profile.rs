//! The profile provider: `profile:UNIT:N` runs on every CPU (or in one process) every period,
//! through cpu-clock perf events; fed by `parse_attach` and `attach_probe`.

use super::catalogue::Catalogue;
use super::perf::{per_cpu, period_ns, software, BPF_PROG_TYPE_PERF_EVENT, CPU_CLOCK};
use super::{Attach, Context, Provider};
use std::os::fd::{OwnedFd, RawFd};

pub static PROVIDER: Provider = Provider {
    name: "profile",
    aliases: &["p"],
    parse: Some(parse),
    prog_type: Some(BPF_PROG_TYPE_PERF_EVENT),
    context: Context::NONE,
    attach: Some(attach),
    list: Some(list),
};

/// `-l profile:...`: see `list_timed`.
fn list(q: &super::Query<'_>, _: &dyn Catalogue, _: &mut String) -> Result<(), String> {
    super::perf::list_timed("profile", q)
}

/// `profile:UNIT:N`.
pub(crate) fn parse(rest: &str, _: &dyn Catalogue) -> Result<Vec<Attach>, String> {
    Ok(vec![Attach::Profile {
        period_ns: period_ns("profile", rest)?,
    }])
}

fn attach(prog_fd: RawFd, attach: &Attach, pid: Option<i32>) -> Result<Vec<OwnedFd>, String> {
    let Attach::Profile { period_ns } = attach else {
        return Err(super::wrong_provider(attach));
    };
    per_cpu(
        prog_fd,
        &software(CPU_CLOCK, *period_ns),
        pid,
        &attach.to_string(),
    )
}
