//! The watchpoint and asyncwatchpoint providers (hardware breakpoints, `PERF_TYPE_BREAKPOINT`
//! perf events running a `BPF_PROG_TYPE_PERF_EVENT` program): `watchpoint:ADDR:LEN:MODE` is
//! placed when the run starts; `watchpoint:FUNC+argN:LEN:MODE` (and `asyncwatchpoint:`) when
//! FUNC of the `-c`/`-p` program is called, by a setup uprobe (`Attach::WatchpointSetup`,
//! code from `codegen::lower::watch_setup`) whose record `runtime::watch` answers. Parsing
//! follows bpftrace 0.17's attach point parser and semantic rules. Fed by `parse_attach` and
//! `attach_probe`; the runtime opens function watchpoints through `open`.

use super::catalogue::Catalogue;
use super::perf::{on_perf_event, BPF_PROG_TYPE_KPROBE, BPF_PROG_TYPE_PERF_EVENT};
use super::{parse_u64, Attach, Context, Provider, Query};
use crate::bpf::sys::{self, PerfEvent};
use std::fmt::Write as _;
use std::os::fd::{OwnedFd, RawFd};

pub static WATCHPOINT: Provider = Provider {
    name: "watchpoint",
    aliases: &["w"],
    parse: Some(parse_sync),
    prog_type: Some(BPF_PROG_TYPE_PERF_EVENT),
    context: Context::NONE,
    attach: Some(attach),
    list: Some(list_sync),
};

pub static ASYNCWATCHPOINT: Provider = Provider {
    name: "asyncwatchpoint",
    aliases: &["aw"],
    parse: Some(parse_async),
    prog_type: Some(BPF_PROG_TYPE_PERF_EVENT),
    context: Context::NONE,
    attach: Some(attach),
    list: Some(list_async),
};

/// The setup uprobe of a function watchpoint: not a name a script writes (it is in no
/// `PROVIDERS` row), named `uprobe` in messages.
pub static SETUP: Provider = Provider {
    name: "uprobe",
    aliases: &[],
    parse: None,
    prog_type: Some(BPF_PROG_TYPE_KPROBE),
    context: Context::REGS,
    attach: Some(attach_setup),
    list: None,
};

/// `HW_BREAKPOINT_R`, `HW_BREAKPOINT_W`, `HW_BREAKPOINT_X` (`bp_type` bits).
const HW_BREAKPOINT_R: u32 = 1;
const HW_BREAKPOINT_W: u32 = 2;
const HW_BREAKPOINT_X: u32 = 4;

/// Modes the CPU cannot watch, sorted as bpftrace sorts them (x86: Intel SDM vol. 3,
/// 17.2.4; arm64: the kernel's `arch_build_bp_info`).
#[cfg(target_arch = "x86_64")]
const INVALID_MODES: &[&str] = &["r", "rx", "wx", "rwx"];
#[cfg(not(target_arch = "x86_64"))]
const INVALID_MODES: &[&str] = &["rx", "wx", "rwx"];

fn parse_sync(rest: &str, cat: &dyn Catalogue) -> Result<Vec<Attach>, String> {
    parse(rest, true, cat)
}

fn parse_async(rest: &str, cat: &dyn Catalogue) -> Result<Vec<Attach>, String> {
    parse(rest, false, cat)
}

/// `ADDR:LEN:MODE` or `FUNC+argN:LEN:MODE`, checked by bpftrace 0.17's rules (the first
/// broken one is the error); a function's wildcards expand against the `-c`/`-p` program.
pub(crate) fn parse(rest: &str, stop: bool, cat: &dyn Catalogue) -> Result<Vec<Attach>, String> {
    let kind = if stop {
        "watchpoint"
    } else {
        "asyncwatchpoint"
    };
    let parts: Vec<&str> = rest.split(':').collect();
    let [place, len, mode] = parts[..] else {
        return Err(format!("{kind} probe type requires 3 arguments"));
    };
    let number = |what: &str, text: &str| {
        parse_u64(text).ok_or_else(|| format!("invalid {kind} {what} '{text}': expected a number"))
    };
    let (func, addr) = match place.split_once('+') {
        None => (None, number("address", place)?),
        Some(_) => {
            let pieces: Vec<&str> = place.split('+').filter(|p| !p.is_empty()).collect();
            let [func, arg] = pieces[..] else {
                return Err("Invalid function/address argument".into());
            };
            let n = match arg.strip_prefix("arg") {
                Some(n) if !n.is_empty() => n,
                _ => return Err("Invalid function argument".into()),
            };
            let n = n
                .parse::<u64>()
                .map_err(|_| format!("invalid function argument '{arg}': expected argN"))?;
            (Some(func.to_string()), n)
        }
    };
    let len = number("length", len)?;
    let target = cat
        .command()
        .or_else(|| cat.pid().map(|pid| format!("/proc/{pid}/exe")));
    if func.is_some() {
        if target.is_none() {
            return Err("-p PID or -c CMD required for watchpoint".into());
        }
        if super::arch::pt_regs_offset(&format!("arg{addr}")).is_none() {
            return Err(format!(
                "{} doesn't support arg{addr}",
                std::env::consts::ARCH
            ));
        }
    } else if !stop {
        return Err(format!("{kind} requires a function name"));
    } else if addr == 0 {
        return Err("watchpoint must be attached to a non-zero address".into());
    }
    if ![1, 2, 4, 8].contains(&len) {
        return Err("watchpoint length must be one of (1,2,4,8)".into());
    }
    let mode = sorted_mode(mode)?;
    let target = target.unwrap_or_default();
    let Some(func) = func else {
        return Ok(vec![Attach::Watchpoint {
            addr,
            len,
            mode,
            target,
            func: None,
            stop,
        }]);
    };
    // The functions as a uprobe on them would find them (wildcards expanded).
    let found = super::uprobe::parse(&format!("{target}:{func}"), false, cat)?;
    Ok(found
        .into_iter()
        .filter_map(|a| match a {
            Attach::Uprobe {
                symbol: Some(s), ..
            } => Some(Attach::Watchpoint {
                addr,
                len,
                mode: mode.clone(),
                target: target.clone(),
                func: Some(s),
                stop,
            }),
            _ => None,
        })
        .collect())
}

fn list_sync(q: &Query<'_>, cat: &dyn Catalogue, out: &mut String) -> Result<(), String> {
    list(q, true, cat, out)
}

fn list_async(q: &Query<'_>, cat: &dyn Catalogue, out: &mut String) -> Result<(), String> {
    list(q, false, cat, out)
}

/// `-l watchpoint:...`: the attach point checked as a script's is, then listed as bpftrace
/// 0.17 lists it: `PROVIDER:PROGRAM:FUNC` per function, `PROVIDER:PROGRAM:` for an address
/// (`watchpoint::` without `-p`).
fn list(q: &Query<'_>, stop: bool, cat: &dyn Catalogue, out: &mut String) -> Result<(), String> {
    for a in parse(q.rest, stop, cat)? {
        if let Attach::Watchpoint { target, func, .. } = &a {
            let kind = a.provider().name;
            let _ = writeln!(out, "{kind}:{target}:{}", func.as_deref().unwrap_or(""));
        }
    }
    Ok(())
}

/// The mode's letters in bpftrace's order (`wr` is `rw`), checked as bpftrace checks them.
fn sorted_mode(mode: &str) -> Result<String, String> {
    const LETTERS: &str = "watchpoint mode must be combination of (r,w,x)";
    let mut letters: Vec<char> = mode.chars().collect();
    if letters.is_empty() || letters.iter().any(|c| !matches!(c, 'r' | 'w' | 'x')) {
        return Err(LETTERS.into());
    }
    letters.sort_unstable();
    if letters.windows(2).any(|w| w[0] == w[1]) {
        return Err("watchpoint modes may not be duplicated".into());
    }
    let sorted: String = letters.into_iter().collect();
    if INVALID_MODES.contains(&sorted.as_str()) {
        return Err(format!("invalid watchpoint mode: {sorted}"));
    }
    Ok(sorted)
}

/// The probe's name as bpftrace 0.17's `probe` builtin gives it: the provider, the program
/// (when `-c`/`-p` names one), the function, the address or argument number (decimal, left
/// out when 0), the length and the mode: `watchpoint:./prog:increment:1:4:w`.
pub fn probe_name(attach: &Attach) -> String {
    let Attach::Watchpoint {
        addr,
        len,
        mode,
        target,
        func,
        ..
    } = attach
    else {
        return attach.to_string();
    };
    let mut name = attach.provider().name.to_string();
    for part in [target.as_str(), func.as_deref().unwrap_or("")] {
        if !part.is_empty() {
            name.push(':');
            name.push_str(part);
        }
    }
    if *addr != 0 {
        name.push_str(&format!(":{addr}"));
    }
    name.push_str(&format!(":{len}:{mode}"));
    name
}

/// The breakpoint perf event watching `len` bytes at `addr` for the accesses of `mode`,
/// firing on every one (`sample_period` 1).
pub fn breakpoint(addr: u64, len: u64, mode: &str) -> PerfEvent {
    let bp_type = mode.chars().fold(0, |t, c| {
        t | match c {
            'r' => HW_BREAKPOINT_R,
            'w' => HW_BREAKPOINT_W,
            'x' => HW_BREAKPOINT_X,
            _ => 0,
        }
    });
    PerfEvent {
        kind: sys::PERF_TYPE_BREAKPOINT,
        config: 0,
        sample_period: 1,
        config1: addr,
        config2: len,
        bp_type,
        ..PerfEvent::default()
    }
}

/// Why a watchpoint could not be placed.
#[derive(Debug)]
pub enum OpenError {
    /// `ENOSPC`: every debug register of the CPU is in use (x86 has 4).
    NoRegisters,
    Other(String),
}

/// Runs `prog_fd` on a breakpoint at `addr`: in process `pid` (any CPU), or on every CPU
/// when there is none (a kernel address). The watchpoint stays while the fds are open.
pub fn open(
    prog_fd: RawFd,
    addr: u64,
    len: u64,
    mode: &str,
    pid: Option<i32>,
    what: &str,
) -> Result<Vec<OwnedFd>, OpenError> {
    let ev = breakpoint(addr, len, mode);
    let targets: Vec<(i32, i32)> = match pid {
        Some(p) if p > 0 => vec![(p, -1)],
        _ => sys::online_cpus()
            .map_err(|e| OpenError::Other(format!("cannot attach {what}: {e}")))?
            .into_iter()
            .map(|cpu| (-1, cpu as i32))
            .collect(),
    };
    let mut fds = Vec::with_capacity(targets.len());
    for (pid, cpu) in targets {
        let fd = sys::perf_event_open(&ev, pid, cpu).map_err(|e| {
            if e.raw_os_error() == Some(libc::ENOSPC) {
                OpenError::NoRegisters
            } else {
                OpenError::Other(format!("cannot attach {what}: perf_event_open: {e}"))
            }
        })?;
        let fd = on_perf_event(prog_fd, fd)
            .map_err(|e| OpenError::Other(format!("cannot attach {what}: ioctl: {e}")))?;
        fds.push(fd);
    }
    Ok(fds)
}

/// The message for `OpenError::NoRegisters`, bpftrace's words.
pub const NO_REGISTERS: &str =
    "Failed to attach watchpoint probe. You are out of watchpoint registers.";

/// An address watchpoint, placed when the run starts (a function's is placed by the runtime
/// when the function is called, through `open`).
fn attach(prog_fd: RawFd, attach: &Attach, pid: Option<i32>) -> Result<Vec<OwnedFd>, String> {
    let Attach::Watchpoint {
        addr,
        len,
        mode,
        func: None,
        ..
    } = attach
    else {
        return Err(super::wrong_provider(attach));
    };
    open(prog_fd, *addr, *len, mode, pid, &attach.to_string()).map_err(|e| match e {
        OpenError::NoRegisters => NO_REGISTERS.to_string(),
        OpenError::Other(m) => m,
    })
}

/// The setup uprobe: a uprobe on the function's entry.
fn attach_setup(prog_fd: RawFd, attach: &Attach, pid: Option<i32>) -> Result<Vec<OwnedFd>, String> {
    let Attach::WatchpointSetup { path, func } = attach else {
        return Err(super::wrong_provider(attach));
    };
    let uprobe = Attach::Uprobe {
        path: path.clone(),
        symbol: Some(func.clone()),
        offset: 0,
        ret: false,
    };
    super::attach_probe(prog_fd, &uprobe, pid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probes::catalogue::Fixture;

    fn addr_point(addr: u64, len: u64, mode: &str) -> Attach {
        Attach::Watchpoint {
            addr,
            len,
            mode: mode.into(),
            target: String::new(),
            func: None,
            stop: true,
        }
    }

    #[test]
    fn address_watchpoints_parse_with_bpftrace_rules() {
        let cat = Fixture::new();
        assert_eq!(
            parse("0x10000000:8:w", true, &cat),
            Ok(vec![addr_point(0x1000_0000, 8, "w")])
        );
        // The mode is sorted; decimal addresses are fine.
        assert_eq!(
            parse("4096:4:wr", true, &cat),
            Ok(vec![addr_point(4096, 4, "rw")])
        );
        for (rest, err) in [
            ("0x10:8", "watchpoint probe type requires 3 arguments"),
            ("0x10:8:w:x", "watchpoint probe type requires 3 arguments"),
            ("0:8:w", "watchpoint must be attached to a non-zero address"),
            ("0x10:3:w", "watchpoint length must be one of (1,2,4,8)"),
            ("0x10:0:w", "watchpoint length must be one of (1,2,4,8)"),
            ("0x10:8:", "watchpoint mode must be combination of (r,w,x)"),
            (
                "0x10:8:rwq",
                "watchpoint mode must be combination of (r,w,x)",
            ),
            ("0x10:8:ww", "watchpoint modes may not be duplicated"),
            ("f+x:8:w", "Invalid function argument"),
            ("f+arg:8:w", "Invalid function argument"),
            ("f+arg1+2:8:w", "Invalid function/address argument"),
            ("f+arg1:8:w", "-p PID or -c CMD required for watchpoint"),
        ] {
            assert_eq!(parse(rest, true, &cat), Err(err.to_string()), "{rest}");
        }
        #[cfg(target_arch = "x86_64")]
        for mode in ["r", "rx", "xw", "rwx"] {
            let mut sorted: Vec<char> = mode.chars().collect();
            sorted.sort_unstable();
            let sorted: String = sorted.into_iter().collect();
            assert_eq!(
                parse(&format!("0x10:8:{mode}"), true, &cat),
                Err(format!("invalid watchpoint mode: {sorted}"))
            );
        }
        assert!(parse("abc:8:w", true, &cat)
            .unwrap_err()
            .contains("invalid watchpoint address 'abc'"));
        assert_eq!(
            parse("0x10:8:w", false, &cat),
            Err("asyncwatchpoint requires a function name".into())
        );
        assert_eq!(
            parse("0x10:8", false, &cat),
            Err("asyncwatchpoint probe type requires 3 arguments".into())
        );
    }

    #[test]
    fn function_watchpoints_expand_in_the_command() {
        let prog = "./testprogs/watchpoint_func_wildcard";
        let cat = Fixture::new()
            .binary(
                prog,
                &["increment_0", "increment_1", "increment_10", "main"],
            )
            .with_command(prog);
        let funcs = |rest: &str, stop: bool| -> Vec<String> {
            parse(rest, stop, &cat)
                .unwrap()
                .iter()
                .map(probe_name)
                .collect()
        };
        assert_eq!(
            funcs("increment_1*+arg0:4:w", true),
            [
                "watchpoint:./testprogs/watchpoint_func_wildcard:increment_1:4:w",
                "watchpoint:./testprogs/watchpoint_func_wildcard:increment_10:4:w",
            ]
        );
        assert_eq!(
            funcs("main+arg1:8:wr", false),
            ["asyncwatchpoint:./testprogs/watchpoint_func_wildcard:main:1:8:rw"]
        );
        assert!(parse("nothing+arg0:4:w", true, &cat).is_err());
        #[cfg(target_arch = "x86_64")]
        assert_eq!(
            parse("main+arg6:4:w", true, &cat),
            Err("x86_64 doesn't support arg6".into())
        );
        // -p: the process's executable through /proc.
        let cat = Fixture::new()
            .binary("/proc/42/exe", &["f"])
            .with_pid(42, "/proc/42/exe");
        let points = parse("f+arg0:4:w", true, &cat).unwrap();
        assert_eq!(probe_name(&points[0]), "watchpoint:/proc/42/exe:f:4:w");
        assert_eq!(points[0].to_string(), "watchpoint:f+arg0:4:w");
    }

    #[test]
    fn listing_checks_the_attach_point() {
        let q = |rest| Query {
            rest,
            named: true,
            verbose: false,
        };
        let mut out = String::new();
        list(&q("0x10:8:w"), true, &Fixture::new(), &mut out).unwrap();
        assert_eq!(out, "watchpoint::\n");
        assert_eq!(
            list(&q("0x10:8:rr"), true, &Fixture::new(), &mut out),
            Err("watchpoint modes may not be duplicated".into())
        );
        let cat = Fixture::new()
            .binary("/proc/7/exe", &["inc_a", "inc_b", "main"])
            .with_pid(7, "/proc/7/exe");
        let mut out = String::new();
        list(&q("inc*+arg0:4:w"), false, &cat, &mut out).unwrap();
        assert_eq!(
            out,
            "asyncwatchpoint:/proc/7/exe:inc_a\nasyncwatchpoint:/proc/7/exe:inc_b\n"
        );
    }

    #[test]
    fn names_of_address_watchpoints() {
        let a = addr_point(0x1000_0000, 8, "w");
        assert_eq!(probe_name(&a), "watchpoint:268435456:8:w");
        assert_eq!(a.to_string(), "watchpoint:0x10000000:8:w");
        assert!(std::ptr::eq(a.provider(), &WATCHPOINT));
    }

    #[test]
    fn breakpoint_attr_bytes() {
        let ev = breakpoint(0x1000_0000, 8, "rw");
        let attr = sys::perf_event_attr(&ev);
        let u32_at = |o: usize| u32::from_ne_bytes(attr[o..o + 4].try_into().unwrap());
        let u64_at = |o: usize| u64::from_ne_bytes(attr[o..o + 8].try_into().unwrap());
        assert_eq!(u32_at(0), sys::PERF_TYPE_BREAKPOINT);
        assert_eq!(u32_at(0), 5);
        assert_eq!(u32_at(4), 128, "size");
        assert_eq!(u64_at(8), 0, "config");
        assert_eq!(u64_at(16), 1, "sample_period: every access");
        assert_eq!(u64_at(40) & 1, 1, "created disabled");
        assert_eq!(u32_at(52), HW_BREAKPOINT_R | HW_BREAKPOINT_W, "bp_type");
        assert_eq!(u64_at(56), 0x1000_0000, "bp_addr");
        assert_eq!(u64_at(64), 8, "bp_len");
        assert_eq!(breakpoint(1, 1, "w").bp_type, 2);
        assert_eq!(breakpoint(1, 1, "x").bp_type, 4);
    }
}
