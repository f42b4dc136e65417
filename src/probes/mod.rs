//! Probe types as providers: one file per probe type, each a `Provider` with its names,
//! attach point parsing and wildcard expansion, kernel program type, context, attaching and
//! listing (`-l`). Fed by the AST's attach point text (through sema) with a `Catalogue` of the
//! machine, and by the runtime's loaded programs.

/// One concrete attach point after parsing and wildcard expansion.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Attach {
    /// `BEGIN`: runs once after every probe is attached (a raw_tracepoint program fired with
    /// BPF_PROG_TEST_RUN).
    Begin,
    /// `END`: runs once when the run ends, before maps are printed (fired like BEGIN).
    End,
    /// `tracepoint:CAT:NAME` / `t:CAT:NAME`.
    Tracepoint { category: String, name: String },
    /// `rawtracepoint:NAME` / `rt:NAME`.
    RawTracepoint { name: String },
    /// `interval:s:N`, `interval:ms:N`, `interval:us:N`, `interval:hz:N`: one CPU.
    Interval { period_ns: u64 },
    /// `profile:hz:N`, `profile:s:N`, ...: every CPU.
    Profile { period_ns: u64 },
    /// `software:EVENT:COUNT` (cpu-clock, task-clock, page-faults, ...).
    Software { event: String, count: u64 },
    /// `hardware:EVENT:COUNT` (cpu-cycles, instructions, cache-misses, ...), where the CPU's
    /// PMU offers them.
    Hardware { event: String, count: u64 },
    /// `uprobe:PATH:SYMBOL`, `uprobe:PATH:SYMBOL+OFF`, `uprobe:PATH:0xADDR`, `uretprobe:...`.
    /// `path` names the file (a bare `libc` or `bash` already resolved to a full path). With a
    /// symbol, `offset` is bytes past the symbol; without one, it is the ELF virtual address as
    /// written. `uprobe::file_offset` turns either into the file offset the kernel wants.
    Uprobe {
        path: String,
        symbol: Option<String>,
        offset: u64,
        ret: bool,
    },
    /// `kprobe:FUNC`, `kprobe:FUNC+OFF`, `kretprobe:FUNC`.
    Kprobe {
        func: String,
        offset: u64,
        ret: bool,
    },
    /// `kfunc:FUNC` / `fentry:FUNC`, `kretfunc:` / `fexit:`.
    Fentry { func: String, ret: bool },
    /// `iter:task`, `iter:task_file`: a BPF iterator, run over every object once by reading
    /// it to its end. `btf_id` is the vmlinux BTF id of its `bpf_iter_NAME` function, which
    /// the program is loaded against.
    Iter { name: String, btf_id: u32 },
    /// `usdt:PATH:PROVIDER:NAME`: one location of a USDT probe (a marker compiled to several
    /// places gives one attach point each: each may keep its arguments elsewhere).
    Usdt {
        /// The file as bpftrace names it (`/proc/PID/root/...` with `-p`).
        path: String,
        provider: String,
        name: String,
        /// Which location of the probe, from 0 in note order.
        loc: u32,
        /// File offset of the location.
        offset: u64,
        /// File offset of the probe's semaphore; 0 for none.
        semaphore: u64,
        /// The location's argument specs as the note writes them (`usdt::args`).
        args: String,
    },
    /// `watchpoint:ADDR:LEN:MODE`, `watchpoint:FUNC+argN:LEN:MODE`,
    /// `asyncwatchpoint:FUNC+argN:LEN:MODE`: a hardware breakpoint on `len` bytes.
    Watchpoint {
        /// The address watched; with `func`, the number of the argument that will hold it.
        addr: u64,
        /// 1, 2, 4 or 8.
        len: u64,
        /// `r`, `w`, `x` in that order (`rw`, `w`, `x`).
        mode: String,
        /// The `-c` command's program or `/proc/PID/exe` of `-p`, as bpftrace names it (empty
        /// without either): part of the probe's name, and the file `func` is in.
        target: String,
        /// `FUNC+argN`: the function whose argument `addr` holds the address; the
        /// watchpoint is placed when the function is called (`WatchpointSetup`).
        func: Option<String>,
        /// `watchpoint` stops the calling task until the watchpoint is in place;
        /// `asyncwatchpoint` lets it run on.
        stop: bool,
    },
    /// The uprobe on a function watchpoint's function: it hands the argument's value (the
    /// address to watch) to userspace, which places the watchpoint (`runtime::watch`).
    WatchpointSetup {
        /// The file, as `Watchpoint::target`.
        path: String,
        func: String,
    },
}

/// One field of a tracepoint's record, from `events/CAT/NAME/format`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TpField {
    pub name: String,
    /// The C type as the format file writes it (`const char *`, `__data_loc char[]`, `int`).
    pub c_type: String,
    /// Byte offset from the start of the record (the context pointer).
    pub offset: u32,
    pub size: u32,
    pub signed: bool,
    /// `__data_loc` field: a u32 holding `offset | len << 16` of a dynamic array in the record.
    pub data_loc: bool,
    /// `char comm[16]` style fixed arrays: the element count.
    pub array_len: Option<u32>,
    /// The type is a pointer (`const char *`).
    pub pointer: bool,
}

/// A tracepoint's record layout (the `common_*` fields left out).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct TpFormat {
    pub fields: Vec<TpField>,
}

pub mod arch;
pub mod begin;
pub mod catalogue;
pub mod elf;
pub mod elf_dwarf;
pub mod elf_paths;
pub mod format;
pub mod hardware;
pub mod interval;
pub mod iter;
pub mod kfunc;
pub mod kprobe;
pub mod list;
pub mod perf;
pub mod profile;
pub mod rawtracepoint;
pub mod software;
pub mod system;
pub mod tracefs;
pub mod tracepoint;
pub mod uprobe;
pub mod usdt;
pub mod watchpoint;

pub use catalogue::Catalogue;
pub use kfunc::attach_btf_program;

use std::fmt;
use std::os::fd::{OwnedFd, RawFd};

/// What a probe's program may read from its context, beyond what every probe has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Context {
    /// `args->field`: the tracepoint's record, laid out by its format file.
    pub args: bool,
    /// `arg0`...`arg5`: registers of `struct pt_regs` (`arch::pt_regs_offset`).
    pub regs: bool,
    /// `retval`: the return register of `struct pt_regs`.
    pub retval: bool,
}

impl Context {
    pub const NONE: Context = Context {
        args: false,
        regs: false,
        retval: false,
    };
    pub const ARGS: Context = Context {
        args: true,
        ..Context::NONE
    };
    pub const REGS: Context = Context {
        regs: true,
        ..Context::NONE
    };
    pub const RETVAL: Context = Context {
        retval: true,
        ..Context::NONE
    };
}

/// What one provider is asked to list.
pub struct Query<'a> {
    /// The pattern after `PROVIDER:` (the whole pattern when no provider was given).
    pub rest: &'a str,
    /// The provider was named without wildcards (`uprobe:...` needs it to know the file).
    pub named: bool,
    /// `-lv`: tracepoint fields too.
    pub verbose: bool,
}

/// Parses the text after `PROVIDER:` into concrete attach points.
pub type ParseFn = fn(&str, &dyn Catalogue) -> Result<Vec<Attach>, String>;
/// Attaches a loaded program (its fd) to one attach point; `pid` limits it to one process
/// where the probe type allows. The program stays attached while the returned fds are open.
pub type AttachFn = fn(RawFd, &Attach, Option<i32>) -> Result<Vec<OwnedFd>, String>;
/// Appends the `-l` lines matching a query.
pub type ListFn = fn(&Query<'_>, &dyn Catalogue, &mut String) -> Result<(), String>;

/// One probe type: the table row that parsing, sema, loading, attaching and listing ask.
pub struct Provider {
    /// The full name, as the `probe` builtin and messages give it.
    pub name: &'static str,
    /// Other names a script may write (`t` for `tracepoint`, `fentry` for `kfunc`).
    pub aliases: &'static [&'static str],
    /// `None`: a probe type rtrace knows but does not support yet.
    pub parse: Option<ParseFn>,
    /// `BPF_PROG_TYPE_*` loaded directly; `None` when aya loads it with BTF (kfunc) or the
    /// type is unsupported.
    pub prog_type: Option<u32>,
    pub context: Context,
    /// `None`: not attached through a perf event or link (BEGIN/END run by test runs,
    /// kfunc attached by `attach_btf_program`).
    pub attach: Option<AttachFn>,
    /// `None`: not listed by `-l`.
    pub list: Option<ListFn>,
}

/// Every probe type rtrace knows, one row each: the one table of names and aliases.
pub static PROVIDERS: [&Provider; 18] = [
    &begin::BEGIN,
    &begin::END,
    &hardware::PROVIDER,
    &interval::PROVIDER,
    &iter::PROVIDER,
    &kfunc::KFUNC,
    &kfunc::KRETFUNC,
    &kprobe::KPROBE,
    &kprobe::KRETPROBE,
    &profile::PROVIDER,
    &rawtracepoint::PROVIDER,
    &software::PROVIDER,
    &tracepoint::PROVIDER,
    &uprobe::UPROBE,
    &uprobe::URETPROBE,
    &usdt::PROVIDER,
    &watchpoint::WATCHPOINT,
    &watchpoint::ASYNCWATCHPOINT,
];

/// The provider a script names, by its name or an alias.
pub fn provider(name: &str) -> Option<&'static Provider> {
    PROVIDERS
        .iter()
        .copied()
        .find(|p| p.name == name || p.aliases.contains(&name))
}

impl Attach {
    /// The provider this attach point belongs to.
    pub fn provider(&self) -> &'static Provider {
        match self {
            Attach::Begin => &begin::BEGIN,
            Attach::End => &begin::END,
            Attach::Tracepoint { .. } => &tracepoint::PROVIDER,
            Attach::RawTracepoint { .. } => &rawtracepoint::PROVIDER,
            Attach::Interval { .. } => &interval::PROVIDER,
            Attach::Profile { .. } => &profile::PROVIDER,
            Attach::Software { .. } => &software::PROVIDER,
            Attach::Hardware { .. } => &hardware::PROVIDER,
            Attach::Uprobe { ret: false, .. } => &uprobe::UPROBE,
            Attach::Uprobe { ret: true, .. } => &uprobe::URETPROBE,
            Attach::Kprobe { ret: false, .. } => &kprobe::KPROBE,
            Attach::Kprobe { ret: true, .. } => &kprobe::KRETPROBE,
            Attach::Fentry { ret: false, .. } => &kfunc::KFUNC,
            Attach::Fentry { ret: true, .. } => &kfunc::KRETFUNC,
            Attach::Iter { .. } => &iter::PROVIDER,
            Attach::Usdt { .. } => &usdt::PROVIDER,
            Attach::Watchpoint { stop: true, .. } => &watchpoint::WATCHPOINT,
            Attach::Watchpoint { stop: false, .. } => &watchpoint::ASYNCWATCHPOINT,
            Attach::WatchpointSetup { .. } => &watchpoint::SETUP,
        }
    }

    /// Whether the probe stops a user-space task: memory a script reads through an integer
    /// or a cast is the traced process's (uprobe, uretprobe, usdt).
    pub fn is_user(&self) -> bool {
        matches!(self, Attach::Uprobe { .. } | Attach::Usdt { .. })
    }
}

/// Parses one attach point as written (`t:syscalls:sys_enter_*`, `uprobe:libc:malloc`,
/// `interval:ms:100`, ...) into concrete attach points, expanding wildcards against the
/// catalogue. Errors are messages for the attach point's span.
pub fn parse_attach(raw: &str, cat: &dyn Catalogue) -> Result<Vec<Attach>, String> {
    let raw = raw.trim();
    let (written, rest) = raw.split_once(':').unwrap_or((raw, ""));
    let invalid = || format!("invalid probe type '{written}' in '{raw}'");
    let p = provider(written).ok_or_else(invalid)?;
    // BEGIN and END take no arguments, not even an empty list.
    if matches!(p.name, "BEGIN" | "END") && raw != p.name {
        return Err(invalid());
    }
    match p.parse {
        Some(parse) => parse(rest, cat),
        None => Err(format!("{written} probes are not supported by rtrace")),
    }
}

/// The full name of one expanded attach point, as bpftrace's `probe` builtin gives it: the
/// provider's full name, then the rest as written (wildcards expanded).
pub fn display_name(attach: &Attach, raw: &str) -> String {
    match attach {
        Attach::Tracepoint { category, name } => return format!("tracepoint:{category}:{name}"),
        Attach::Usdt {
            path,
            provider,
            name,
            ..
        } => return format!("usdt:{path}:{provider}:{name}"),
        Attach::Watchpoint { .. } => return watchpoint::probe_name(attach),
        // A wildcard's expansions are named one by one, as bpftrace names kprobes.
        Attach::RawTracepoint { .. } | Attach::Kprobe { .. } => return attach.to_string(),
        // As bpftrace 0.17 names a kfunc: with the BTF object (module) it is found in.
        Attach::Fentry { func, .. } => {
            return format!("{}:{}:{func}", attach.provider().name, kfunc::MODULE)
        }
        _ => {}
    }
    // bpftrace names a uprobe by its resolved file and function (an address in decimal).
    if let Attach::Uprobe {
        path,
        symbol,
        offset,
        ret,
    } = attach
    {
        let kind = if *ret { "uretprobe" } else { "uprobe" };
        return match symbol {
            Some(s) if *offset == 0 => format!("{kind}:{path}:{s}"),
            Some(s) => format!("{kind}:{path}:{s}+{offset}"),
            None => format!("{kind}:{path}:{offset}"),
        };
    }
    let (written, rest) = match raw.split_once(':') {
        Some((p, r)) => (p, Some(r)),
        None => (raw, None),
    };
    let full = provider(written).map_or(written, |p| p.name);
    match rest {
        Some(r) => format!("{full}:{r}"),
        None => full.to_string(),
    }
}

/// The attach point as a script would write it, for messages.
pub fn probe_text(attach: &Attach) -> String {
    attach.to_string()
}

impl fmt::Display for Attach {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = self.provider().name;
        match self {
            Attach::Begin | Attach::End => f.write_str(kind),
            Attach::Tracepoint { category, name } => write!(f, "{kind}:{category}:{name}"),
            Attach::RawTracepoint { name } => write!(f, "{kind}:{name}"),
            Attach::Interval { period_ns } | Attach::Profile { period_ns } => {
                write!(f, "{kind}:ns:{period_ns}")
            }
            Attach::Software { event, count } | Attach::Hardware { event, count } => {
                write!(f, "{kind}:{event}:{count}")
            }
            Attach::Uprobe {
                path,
                symbol,
                offset,
                ..
            } => match symbol {
                Some(s) if *offset == 0 => write!(f, "{kind}:{path}:{s}"),
                Some(s) => write!(f, "{kind}:{path}:{s}+{offset}"),
                None => write!(f, "{kind}:{path}:{offset:#x}"),
            },
            Attach::Kprobe { func, offset, .. } => {
                if *offset == 0 {
                    write!(f, "{kind}:{func}")
                } else {
                    write!(f, "{kind}:{func}+{offset}")
                }
            }
            Attach::Fentry { func, .. } => write!(f, "{kind}:{func}"),
            Attach::Iter { name, .. } => write!(f, "{kind}:{name}"),
            Attach::Usdt {
                path,
                provider,
                name,
                loc,
                ..
            } => write!(f, "{kind}:{path}:{provider}:{name} (location {loc})"),
            Attach::Watchpoint {
                addr,
                len,
                mode,
                func,
                ..
            } => match func {
                Some(func) => write!(f, "{kind}:{func}+arg{addr}:{len}:{mode}"),
                None => write!(f, "{kind}:{addr:#x}:{len}:{mode}"),
            },
            Attach::WatchpointSetup { path, func } => write!(f, "{kind}:{path}:{func}"),
        }
    }
}

/// Attaches the loaded program `prog_fd` to `attach` through its provider; `pid` limits
/// uprobes and profile/software probes to one process. The program stays attached while the
/// returned fds (perf events or links) are open. BEGIN, END and fentry/fexit are not attached
/// here.
pub fn attach_probe(
    prog_fd: RawFd,
    attach: &Attach,
    pid: Option<i32>,
) -> Result<Vec<OwnedFd>, String> {
    match attach.provider().attach {
        Some(attach_fn) => attach_fn(prog_fd, attach, pid),
        None => Err(wrong_provider(attach)),
    }
}

/// Whether the kernel runs the programs on this kind of attach point in the reverse order of
/// their attaching (uprobes, kprobes, software events, fentry), so that they must be attached
/// last-declared first to run in the order the script declares them, as bpftrace 0.17 does.
pub fn fires_in_reverse(attach: &Attach) -> bool {
    matches!(
        attach,
        Attach::Begin
            | Attach::End
            | Attach::Uprobe { .. }
            | Attach::Kprobe { ret: false, .. }
            | Attach::Software { .. }
            | Attach::Fentry { ret: false, .. }
            | Attach::WatchpointSetup { .. }
    )
}

/// The message for an attach point handed to a provider that cannot attach it.
pub(crate) fn wrong_provider(attach: &Attach) -> String {
    format!("cannot attach {attach}: not a probe attached through a perf event or link")
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

/// Whether `s` holds a glob wildcard (`*` or `?`).
pub fn has_wildcard(s: &str) -> bool {
    s.contains(['*', '?'])
}

/// Glob match: `*` matches any run of bytes (`:` included), `?` any one byte.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == b'?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

/// Parses a decimal or `0x` hexadecimal unsigned number.
pub(crate) fn parse_u64(s: &str) -> Option<u64> {
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => s.parse().ok(),
    }
}

#[cfg(test)]
mod tests;
