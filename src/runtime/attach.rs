//! Attaching one loaded program to its probe (tracepoint, raw tracepoint, perf event, uprobe,
//! kprobe, fentry) through aya, with clear messages when the kernel lacks the mechanism; fed by
//! `runtime::load::Session::attach`.

use std::num::NonZeroU32;
use std::path::Path;

use aya::programs::perf_event::{PerfEventConfig, PerfEventScope, SamplePolicy, SoftwareEvent};
use aya::programs::uprobe::{UProbeAttachLocation, UProbeScope};
use aya::programs::Program;

use super::load::probe_text;
use crate::probes::Attach;

/// Where tracefs may be mounted, preferred first.
const TRACEFS: [&str; 2] = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"];

/// Attaches `prog` (already loaded) to `attach`; `pid` limits uprobes and profile/software
/// probes to one process. The links live inside `prog` until it is dropped.
pub fn attach_probe(prog: &mut Program, attach: &Attach, pid: Option<i32>) -> Result<(), String> {
    let what = probe_text(attach);
    let fail = |e: &dyn std::error::Error| format!("cannot attach {what}: {}", chain(e));
    match (prog, attach) {
        (Program::TracePoint(p), Attach::Tracepoint { category, name }) => {
            check_tracepoint(category, name)?;
            p.attach(category, name).map(drop).map_err(|e| fail(&e))
        }
        (Program::RawTracePoint(p), Attach::RawTracepoint { name }) => {
            if name.contains('\0') || name.is_empty() {
                return Err(format!("invalid raw tracepoint name {name:?}"));
            }
            p.attach(name).map(drop).map_err(|e| fail(&e))
        }
        (Program::PerfEvent(p), Attach::Interval { period_ns }) => {
            let cpu = online_cpus()?.first().copied().unwrap_or(0);
            let clock = PerfEventConfig::Software(SoftwareEvent::CpuClock);
            let scope = PerfEventScope::AllProcessesOneCpu { cpu };
            let period = SamplePolicy::Period((*period_ns).max(1));
            p.attach(clock, scope, period, false)
                .map(drop)
                .map_err(|e| fail(&e))
        }
        (Program::PerfEvent(p), Attach::Profile { period_ns }) => {
            let clock = PerfEventConfig::Software(SoftwareEvent::CpuClock);
            for scope in per_cpu_scopes(pid)? {
                let period = SamplePolicy::Period((*period_ns).max(1));
                p.attach(clock, scope, period, false)
                    .map_err(|e| fail(&e))?;
            }
            Ok(())
        }
        (Program::PerfEvent(p), Attach::Software { event, count }) => {
            let config = PerfEventConfig::Software(software_event(event)?);
            for scope in per_cpu_scopes(pid)? {
                let period = SamplePolicy::Period((*count).max(1));
                p.attach(config, scope, period, false)
                    .map_err(|e| fail(&e))?;
            }
            Ok(())
        }
        (
            Program::UProbe(p),
            Attach::Uprobe {
                path,
                symbol,
                offset,
                ..
            },
        ) => {
            // A path names the file: resolve the symbol here for clear messages. A bare name
            // (`libc`) is left to aya, which searches the loader cache.
            let location = if path.contains('/') {
                let off = crate::probes::uprobe::file_offset(path, symbol.as_deref(), *offset)
                    .map_err(|e| format!("cannot attach {what}: {e}"))?;
                UProbeAttachLocation::AbsoluteOffset(off)
            } else {
                match symbol {
                    Some(s) => UProbeAttachLocation::SymbolOffset(s, *offset),
                    None => UProbeAttachLocation::AbsoluteOffset(*offset),
                }
            };
            let scope = match pid {
                None => UProbeScope::AllProcesses,
                Some(pid) => match u32::try_from(pid).ok().and_then(NonZeroU32::new) {
                    Some(pid) => UProbeScope::OneProcess(pid),
                    None => return Err(format!("invalid pid {pid}")),
                },
            };
            p.attach(location, path, scope)
                .map(drop)
                .map_err(|e| fail(&e))
        }
        (Program::KProbe(p), Attach::Kprobe { func, offset, .. }) => {
            if !kprobes_available() {
                return Err(format!(
                    "cannot attach {what}: kprobes are not available on this kernel \
                     (no kprobe PMU and no kprobe_events: built without CONFIG_KPROBES?)"
                ));
            }
            p.attach(func, *offset).map(drop).map_err(|e| fail(&e))
        }
        (Program::FEntry(p), Attach::Fentry { .. }) => p.attach().map(drop).map_err(|e| fail(&e)),
        (Program::FExit(p), Attach::Fentry { .. }) => p.attach().map(drop).map_err(|e| fail(&e)),
        _ => Err(format!(
            "cannot attach {what}: program type does not match the probe"
        )),
    }
}

/// The mounted tracefs, if any.
fn tracefs() -> Option<&'static str> {
    TRACEFS
        .into_iter()
        .find(|dir| Path::new(dir).join("events").is_dir())
}

fn check_tracepoint(category: &str, name: &str) -> Result<(), String> {
    let Some(root) = tracefs() else {
        return Err("cannot attach tracepoints: tracefs is not mounted \
             (mount -t tracefs tracefs /sys/kernel/tracing)"
            .into());
    };
    let bad = |s: &str| s.is_empty() || s.contains('/') || s.contains("..");
    let dir = Path::new(root).join("events").join(category).join(name);
    if bad(category) || bad(name) || !dir.is_dir() {
        return Err(format!("tracepoint not found: {category}:{name}"));
    }
    Ok(())
}

/// kprobes need the kprobe PMU (perf_event_open) or tracefs `kprobe_events` (legacy).
fn kprobes_available() -> bool {
    Path::new("/sys/bus/event_source/devices/kprobe/type").exists()
        || tracefs().is_some_and(|root| Path::new(root).join("kprobe_events").exists())
}

fn online_cpus() -> Result<Vec<u32>, String> {
    aya::util::online_cpus().map_err(|(file, e)| format!("cannot read {file}: {e}"))
}

/// One perf-event scope per online CPU, or the one process `pid` on any CPU.
fn per_cpu_scopes(pid: Option<i32>) -> Result<Vec<PerfEventScope>, String> {
    match pid {
        Some(pid) => match u32::try_from(pid) {
            Ok(pid) if pid > 0 => Ok(vec![PerfEventScope::OneProcess { pid, cpu: None }]),
            _ => Err(format!("invalid pid {pid}")),
        },
        None => Ok(online_cpus()?
            .into_iter()
            .map(|cpu| PerfEventScope::AllProcessesOneCpu { cpu })
            .collect()),
    }
}

/// bpftrace's software event names and aliases.
fn software_event(name: &str) -> Result<SoftwareEvent, String> {
    Ok(match name {
        "cpu-clock" | "cpu" => SoftwareEvent::CpuClock,
        "task-clock" => SoftwareEvent::TaskClock,
        "page-faults" | "faults" => SoftwareEvent::PageFaults,
        "context-switches" | "cs" => SoftwareEvent::ContextSwitches,
        "cpu-migrations" => SoftwareEvent::CpuMigrations,
        "minor-faults" => SoftwareEvent::PageFaultsMin,
        "major-faults" => SoftwareEvent::PageFaultsMaj,
        "alignment-faults" => SoftwareEvent::AlignmentFaults,
        "emulation-faults" => SoftwareEvent::EmulationFaults,
        "dummy" => SoftwareEvent::Dummy,
        "bpf-output" => SoftwareEvent::BpfOutput,
        _ => return Err(format!("unknown software event: {name}")),
    })
}

/// An error and its sources, `outer: inner: innermost`, skipping repeats.
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        cur = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn software_events_take_bpftrace_names() {
        assert!(matches!(
            software_event("cs"),
            Ok(SoftwareEvent::ContextSwitches)
        ));
        assert!(matches!(
            software_event("page-faults"),
            Ok(SoftwareEvent::PageFaults)
        ));
        assert!(software_event("no-such").is_err());
    }

    #[test]
    fn tracepoint_names_cannot_escape_tracefs() {
        assert!(check_tracepoint("..", "x").is_err());
        assert!(check_tracepoint("syscalls", "a/b").is_err());
    }
}
