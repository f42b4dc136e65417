//! Attaching one loaded program to its probe with the kernel's own interfaces (perf events for
//! tracepoints, timers, software events, uprobes and kprobes; `BPF_RAW_TRACEPOINT_OPEN` for raw
//! tracepoints; aya only for fentry/fexit), with clear messages when the kernel lacks the
//! mechanism; fed by `runtime::load::Session::attach`.

use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::Path;

use aya::programs::Program;

use super::load::probe_text;
use crate::bpf::sys::{self, PerfEvent};
use crate::probes::Attach;

/// Where tracefs may be mounted, preferred first.
const TRACEFS: [&str; 2] = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"];

/// Where the kernel lists its dynamic PMUs (`uprobe`, `kprobe`).
const PMU_DIR: &str = "/sys/bus/event_source/devices";

/// Attaches the loaded program `prog_fd` to `attach`; `pid` limits uprobes and
/// profile/software probes to one process. The program stays attached while the returned fds
/// (perf events or links) are open. BEGIN, END and fentry/fexit are not attached here.
pub fn attach_probe(
    prog_fd: RawFd,
    attach: &Attach,
    pid: Option<i32>,
) -> Result<Vec<OwnedFd>, String> {
    let what = probe_text(attach);
    let fail = |call: &str, e: std::io::Error| format!("cannot attach {what}: {call}: {e}");
    match attach {
        Attach::Tracepoint { category, name } => {
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
        Attach::RawTracepoint { name } => {
            if name.contains('\0') || name.is_empty() {
                return Err(format!("invalid raw tracepoint name {name:?}"));
            }
            sys::raw_tracepoint_open(prog_fd, name)
                .map(|fd| vec![fd])
                .map_err(|e| fail("BPF_RAW_TRACEPOINT_OPEN", e))
        }
        Attach::Interval { period_ns } => {
            let cpus = sys::online_cpus().map_err(|e| format!("cannot attach {what}: {e}"))?;
            let cpu = cpus.first().copied().unwrap_or(0);
            let ev = software(CPU_CLOCK, *period_ns);
            let fd = sys::perf_event_open(&ev, -1, cpu as i32)
                .map_err(|e| fail("perf_event_open", e))?;
            on_perf_event(prog_fd, fd)
                .map(|fd| vec![fd])
                .map_err(|e| fail("ioctl", e))
        }
        Attach::Profile { period_ns } => {
            per_cpu(prog_fd, &software(CPU_CLOCK, *period_ns), pid, &what)
        }
        Attach::Software { event, count } => {
            let config = software_event(event)?;
            per_cpu(prog_fd, &software(config, *count), pid, &what)
        }
        Attach::Uprobe {
            path,
            symbol,
            offset,
            ret,
        } => {
            // A bare name (`libc`) is looked up the way the uprobe provider does.
            let file = if path.contains('/') {
                path.clone()
            } else {
                crate::probes::uprobe::resolve_path(path)
                    .map_err(|e| format!("cannot attach {what}: {e}"))?
            };
            let off = crate::probes::uprobe::file_offset(&file, symbol.as_deref(), *offset)
                .map_err(|e| format!("cannot attach {what}: {e}"))?;
            let (kind, ret_bit) = dynamic_pmu("uprobe")
                .map_err(|e| format!("cannot attach {what}: no uprobe PMU: {e}"))?;
            let c_path =
                CString::new(file).map_err(|_| format!("cannot attach {what}: NUL in the path"))?;
            let ev = PerfEvent {
                kind,
                config: if *ret { 1 << ret_bit } else { 0 },
                sample_period: 1,
                wakeup_events: 1,
                config1: c_path.as_ptr() as u64,
                config2: off,
                ..PerfEvent::default()
            };
            let (pid, cpu) = match pid {
                None => (-1, 0),
                Some(p) if p > 0 => (p, -1),
                Some(p) => return Err(format!("invalid pid {p}")),
            };
            let fd = sys::perf_event_open(&ev, pid, cpu).map_err(|e| fail("perf_event_open", e))?;
            on_perf_event(prog_fd, fd)
                .map(|fd| vec![fd])
                .map_err(|e| fail("ioctl", e))
        }
        Attach::Kprobe { func, offset, ret } => {
            let (kind, ret_bit) = match dynamic_pmu("kprobe") {
                Ok(pmu) => pmu,
                Err(_) if kprobe_events() => {
                    return Err(format!(
                        "cannot attach {what}: this kernel has kprobe_events but no kprobe PMU \
                         (Linux 4.17 or later is needed)"
                    ))
                }
                Err(_) => {
                    return Err(format!(
                        "cannot attach {what}: kprobes are not available on this kernel \
                         (no kprobe PMU and no kprobe_events: built without CONFIG_KPROBES?)"
                    ))
                }
            };
            let c_func = CString::new(func.as_str())
                .map_err(|_| format!("cannot attach {what}: NUL in the function name"))?;
            let ev = PerfEvent {
                kind,
                config: if *ret { 1 << ret_bit } else { 0 },
                sample_period: 1,
                wakeup_events: 1,
                config1: c_func.as_ptr() as u64,
                config2: *offset,
                ..PerfEvent::default()
            };
            let fd = sys::perf_event_open(&ev, -1, 0).map_err(|e| fail("perf_event_open", e))?;
            on_perf_event(prog_fd, fd)
                .map(|fd| vec![fd])
                .map_err(|e| fail("ioctl", e))
        }
        Attach::Begin | Attach::End | Attach::Fentry { .. } => Err(format!(
            "cannot attach {what}: not a probe attached through a perf event or link"
        )),
    }
}

/// Attaches an fentry/fexit program loaded by aya (which needed the kernel's BTF for it); the
/// link lives inside `prog` until it is dropped.
pub fn attach_btf_program(prog: &mut Program, attach: &Attach) -> Result<(), String> {
    let what = probe_text(attach);
    let fail = |e: &dyn std::error::Error| format!("cannot attach {what}: {}", chain(e));
    match (prog, attach) {
        (Program::FEntry(p), Attach::Fentry { .. }) => p.attach().map(drop).map_err(|e| fail(&e)),
        (Program::FExit(p), Attach::Fentry { .. }) => p.attach().map(drop).map_err(|e| fail(&e)),
        _ => Err(format!(
            "cannot attach {what}: program type does not match the probe"
        )),
    }
}

/// Runs `prog_fd` on the perf event `fd` and enables it; the attachment ends when `fd` closes.
fn on_perf_event(prog_fd: RawFd, fd: OwnedFd) -> std::io::Result<OwnedFd> {
    sys::perf_event_set_bpf(fd.as_raw_fd(), prog_fd)?;
    sys::perf_event_enable(fd.as_raw_fd())?;
    Ok(fd)
}

/// `PERF_COUNT_SW_CPU_CLOCK`.
const CPU_CLOCK: u64 = 0;

/// A software perf event firing every `period` (nanoseconds for the clocks, a count for the
/// others).
fn software(config: u64, period: u64) -> PerfEvent {
    PerfEvent {
        kind: sys::PERF_TYPE_SOFTWARE,
        config,
        sample_period: period.max(1),
        ..PerfEvent::default()
    }
}

/// One perf event per online CPU, or one for the process `pid` on any CPU.
fn per_cpu(
    prog_fd: RawFd,
    ev: &PerfEvent,
    pid: Option<i32>,
    what: &str,
) -> Result<Vec<OwnedFd>, String> {
    let targets: Vec<(i32, i32)> = match pid {
        Some(p) if p > 0 => vec![(p, -1)],
        Some(p) => return Err(format!("invalid pid {p}")),
        None => sys::online_cpus()
            .map_err(|e| format!("cannot attach {what}: {e}"))?
            .into_iter()
            .map(|cpu| (-1, cpu as i32))
            .collect(),
    };
    let mut fds = Vec::with_capacity(targets.len());
    for (pid, cpu) in targets {
        let fd = sys::perf_event_open(ev, pid, cpu)
            .map_err(|e| format!("cannot attach {what}: perf_event_open: {e}"))?;
        let fd =
            on_perf_event(prog_fd, fd).map_err(|e| format!("cannot attach {what}: ioctl: {e}"))?;
        fds.push(fd);
    }
    Ok(fds)
}

/// The mounted tracefs, if any (found once per process; looked for again while missing).
fn tracefs() -> Option<&'static str> {
    static FOUND: std::sync::OnceLock<&'static str> = std::sync::OnceLock::new();
    if let Some(dir) = FOUND.get() {
        return Some(dir);
    }
    let dir = TRACEFS
        .into_iter()
        .find(|dir| Path::new(dir).join("events").is_dir())?;
    Some(FOUND.get_or_init(|| dir))
}

/// The tracepoint's perf config: `events/CAT/NAME/id` in tracefs (one small read).
fn tracepoint_id(category: &str, name: &str) -> Result<u64, String> {
    let bad = |s: &str| s.is_empty() || s.contains('/') || s.contains("..");
    if bad(category) || bad(name) {
        return Err(format!("tracepoint not found: {category}:{name}"));
    }
    let Some(root) = tracefs() else {
        return Err("cannot attach tracepoints: tracefs is not mounted \
             (mount -t tracefs tracefs /sys/kernel/tracing)"
            .into());
    };
    let path = format!("{root}/events/{category}/{name}/id");
    match std::fs::read_to_string(&path) {
        Ok(text) => text
            .trim()
            .parse()
            .map_err(|_| format!("cannot attach tracepoint:{category}:{name}: bad id in {path}")),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Err(format!("tracepoint not found: {category}:{name}"))
        }
        Err(e) => Err(format!("cannot read {path}: {e}")),
    }
}

/// A dynamic PMU's perf type and the config bit that makes a return probe
/// (`format/retprobe` holds `config:0`).
fn dynamic_pmu(name: &str) -> std::io::Result<(u32, u32)> {
    let dir = format!("{PMU_DIR}/{name}");
    let kind = std::fs::read_to_string(format!("{dir}/type"))?
        .trim()
        .parse()
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "bad PMU type"))?;
    let bit = std::fs::read_to_string(format!("{dir}/format/retprobe"))
        .ok()
        .and_then(|t| retprobe_bit(&t))
        .unwrap_or(0);
    Ok((kind, bit))
}

/// `config:N` -> N (below 64).
fn retprobe_bit(format: &str) -> Option<u32> {
    format
        .trim()
        .strip_prefix("config:")?
        .parse()
        .ok()
        .filter(|&b| b < 64)
}

/// Whether tracefs offers the legacy `kprobe_events` interface.
fn kprobe_events() -> bool {
    tracefs().is_some_and(|root| Path::new(root).join("kprobe_events").exists())
}

/// bpftrace's software event names and aliases -> `PERF_COUNT_SW_*`.
fn software_event(name: &str) -> Result<u64, String> {
    Ok(match name {
        "cpu-clock" | "cpu" => CPU_CLOCK,
        "task-clock" => 1,
        "page-faults" | "faults" => 2,
        "context-switches" | "cs" => 3,
        "cpu-migrations" => 4,
        "minor-faults" => 5,
        "major-faults" => 6,
        "alignment-faults" => 7,
        "emulation-faults" => 8,
        "dummy" => 9,
        "bpf-output" => 10,
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
        assert_eq!(software_event("cs"), Ok(3));
        assert_eq!(software_event("page-faults"), Ok(2));
        assert_eq!(software_event("cpu"), Ok(CPU_CLOCK));
        assert!(software_event("no-such").is_err());
    }

    #[test]
    fn tracepoint_names_cannot_escape_tracefs() {
        assert!(tracepoint_id("..", "x").is_err());
        assert!(tracepoint_id("syscalls", "a/b").is_err());
        assert!(tracepoint_id("", "x").is_err());
    }

    #[test]
    fn retprobe_bits() {
        assert_eq!(retprobe_bit("config:0\n"), Some(0));
        assert_eq!(retprobe_bit("config:5"), Some(5));
        assert_eq!(retprobe_bit("config1:0"), None);
        assert_eq!(retprobe_bit("config:64"), None);
    }
}
