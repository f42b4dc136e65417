//! What the perf-event providers share: the software-event table (names, aliases, default
//! counts, `PERF_COUNT_SW_*`), periods with bpftrace's units, the kernel program types, and
//! running a program on perf events; used by interval, profile, software, tracepoint, uprobe
//! and kprobe.

use crate::bpf::sys::{self, PerfEvent};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

/// `BPF_PROG_TYPE_KPROBE`: kprobes and uprobes (a `pt_regs` context).
pub const BPF_PROG_TYPE_KPROBE: u32 = 2;
/// `BPF_PROG_TYPE_TRACEPOINT`: the tracepoint's record as the context.
pub const BPF_PROG_TYPE_TRACEPOINT: u32 = 5;
/// `BPF_PROG_TYPE_PERF_EVENT`: timers and software events.
pub const BPF_PROG_TYPE_PERF_EVENT: u32 = 7;
/// `BPF_PROG_TYPE_RAW_TRACEPOINT`: raw tracepoints, and BEGIN/END (fired by test runs).
pub const BPF_PROG_TYPE_RAW_TRACEPOINT: u32 = 17;

/// One software event as bpftrace names it.
#[derive(Clone, Copy, Debug)]
pub struct SoftwareEvent {
    pub name: &'static str,
    pub alias: Option<&'static str>,
    /// The sample period bpftrace 0.17 passes when the script gives no count.
    pub default_count: u64,
    /// `PERF_COUNT_SW_*`.
    pub config: u64,
}

const fn sw(
    name: &'static str,
    alias: Option<&'static str>,
    count: u64,
    config: u64,
) -> SoftwareEvent {
    SoftwareEvent {
        name,
        alias,
        default_count: count,
        config,
    }
}

/// `PERF_COUNT_SW_CPU_CLOCK`: the clock behind interval and profile probes.
pub const CPU_CLOCK: u64 = 0;

/// Software events in the order `-l` lists them.
pub const SOFTWARE_EVENTS: [SoftwareEvent; 11] = [
    sw("alignment-faults", None, 1, 7),
    sw("bpf-output", None, 1, 10),
    sw("context-switches", Some("cs"), 1000, 3),
    sw("cpu-clock", Some("cpu"), 1_000_000, CPU_CLOCK),
    sw("cpu-migrations", None, 1, 4),
    sw("dummy", None, 1, 9),
    sw("emulation-faults", None, 1, 8),
    sw("major-faults", None, 1, 6),
    sw("minor-faults", None, 100, 5),
    sw("page-faults", Some("faults"), 100, 2),
    sw("task-clock", None, 1, 1),
];

/// The software event named `name` or aliased so.
pub fn software_event(name: &str) -> Option<&'static SoftwareEvent> {
    SOFTWARE_EVENTS
        .iter()
        .find(|e| e.name == name || e.alias == Some(name))
}

/// `-l interval:...` and `-l profile:...`: nothing is listed, but a pattern without both parts
/// is refused as bpftrace 0.17 refuses it.
pub(crate) fn list_timed(kind: &str, q: &super::Query<'_>) -> Result<(), String> {
    if q.named && q.rest.split(':').count() != 2 {
        return Err(format!("{kind} probe type requires 2 arguments"));
    }
    Ok(())
}

/// `UNIT:N` of an interval or profile probe, as nanoseconds between events.
pub(crate) fn period_ns(kind: &str, rest: &str) -> Result<u64, String> {
    let Some((unit, n)) = rest.split_once(':').filter(|(_, n)| !n.contains(':')) else {
        return Err(format!("{kind} probe type requires 2 arguments"));
    };
    let n: u64 = n
        .parse()
        .map_err(|_| format!("invalid {kind} count '{n}': expected a positive integer"))?;
    if n == 0 {
        return Err(format!("{kind} count must be greater than zero"));
    }
    let ns = match unit {
        "s" => n.checked_mul(1_000_000_000),
        "ms" => n.checked_mul(1_000_000),
        "us" => n.checked_mul(1_000),
        "hz" => Some((1_000_000_000 / n).max(1)),
        _ => return Err(format!("{unit} is not an accepted unit of time")),
    };
    ns.ok_or_else(|| format!("{kind} period {n}{unit} is too long"))
}

/// Runs `prog_fd` on the perf event `fd` and enables it; the attachment ends when `fd` closes.
pub(crate) fn on_perf_event(prog_fd: RawFd, fd: OwnedFd) -> std::io::Result<OwnedFd> {
    sys::perf_event_set_bpf(fd.as_raw_fd(), prog_fd)?;
    sys::perf_event_enable(fd.as_raw_fd())?;
    Ok(fd)
}

/// A software perf event firing every `period` (nanoseconds for the clocks, a count for the
/// others).
pub(crate) fn software(config: u64, period: u64) -> PerfEvent {
    PerfEvent {
        kind: sys::PERF_TYPE_SOFTWARE,
        config,
        sample_period: period.max(1),
        ..PerfEvent::default()
    }
}

/// A hardware (`PERF_TYPE_HARDWARE`) event firing every `period` counts.
pub(crate) fn hardware(config: u64, period: u64) -> PerfEvent {
    PerfEvent {
        kind: sys::PERF_TYPE_HARDWARE,
        config,
        sample_period: period.max(1),
        ..PerfEvent::default()
    }
}

/// One perf event per online CPU, or one for the process `pid` on any CPU.
pub(crate) fn per_cpu(
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

/// Where the kernel lists its dynamic PMUs (`uprobe`, `kprobe`).
pub(crate) const PMU_DIR: &str = "/sys/bus/event_source/devices";

/// A dynamic PMU's perf type and the config bit that makes a return probe
/// (`format/retprobe` holds `config:0`).
pub(crate) fn dynamic_pmu(name: &str) -> std::io::Result<(u32, u32)> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn software_events_take_bpftrace_names() {
        let config = |n| software_event(n).map(|e| e.config);
        assert_eq!(config("cs"), Some(3));
        assert_eq!(config("page-faults"), Some(2));
        assert_eq!(config("cpu"), Some(CPU_CLOCK));
        assert!(software_event("no-such").is_none());
    }

    #[test]
    fn retprobe_bits() {
        assert_eq!(retprobe_bit("config:0\n"), Some(0));
        assert_eq!(retprobe_bit("config:5"), Some(5));
        assert_eq!(retprobe_bit("config1:0"), None);
        assert_eq!(retprobe_bit("config:64"), None);
    }
}
