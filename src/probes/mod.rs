//! Probe types (providers): parsing attach points, wildcard expansion, context fields,
//! listing (`-l`). One file per provider; fed by the AST's attach point text.

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

pub mod kprobe;
pub mod list;
pub mod perf;
pub mod tracepoint;
pub mod uprobe;

use std::path::PathBuf;

/// Parses one attach point as written (`t:syscalls:sys_enter_*`, `uprobe:libc:malloc`,
/// `interval:ms:100`, ...) into concrete attach points, expanding wildcards against tracefs
/// and ELF symbol tables. Errors are messages for the attach point's span.
pub fn parse_attach(raw: &str) -> Result<Vec<Attach>, String> {
    let raw = raw.trim();
    match raw {
        "BEGIN" => return Ok(vec![Attach::Begin]),
        "END" => return Ok(vec![Attach::End]),
        _ => {}
    }
    let (provider, rest) = raw.split_once(':').unwrap_or((raw, ""));
    match provider {
        "tracepoint" | "t" => tracepoint::parse(rest),
        "rawtracepoint" | "rt" => parse_rawtracepoint(rest),
        "kprobe" | "k" => kprobe::parse(rest, false),
        "kretprobe" | "kr" => kprobe::parse(rest, true),
        "uprobe" | "u" => uprobe::parse(rest, false),
        "uretprobe" | "ur" => uprobe::parse(rest, true),
        "interval" | "i" => perf::parse_interval(rest).map(|a| vec![a]),
        "profile" | "p" => perf::parse_profile(rest).map(|a| vec![a]),
        "software" | "s" => perf::parse_software(rest).map(|a| vec![a]),
        "kfunc" | "f" | "fentry" => parse_fentry(rest, false),
        "kretfunc" | "fr" | "fexit" => parse_fentry(rest, true),
        "hardware" | "h" | "usdt" | "U" | "watchpoint" | "w" | "asyncwatchpoint" | "iter"
        | "it" => Err(format!("{provider} probes are not supported by rtrace")),
        _ => Err(format!("invalid probe type '{provider}' in '{raw}'")),
    }
}

fn parse_rawtracepoint(rest: &str) -> Result<Vec<Attach>, String> {
    if rest.is_empty() || rest.contains(':') {
        return Err("rawtracepoint probe type requires 1 argument".into());
    }
    if has_wildcard(rest) {
        return Err("wildcards are not supported in rawtracepoint probes".into());
    }
    Ok(vec![Attach::RawTracepoint {
        name: rest.to_string(),
    }])
}

fn parse_fentry(rest: &str, ret: bool) -> Result<Vec<Attach>, String> {
    let kind = if ret { "kretfunc" } else { "kfunc" };
    if rest.is_empty() || rest.contains(':') {
        return Err(format!("{kind} probe type requires 1 argument"));
    }
    if has_wildcard(rest) {
        return Err(format!("wildcards are not supported in {kind} probes"));
    }
    Ok(vec![Attach::Fentry {
        func: rest.to_string(),
        ret,
    }])
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

/// The tracefs root: `$RTRACE_TRACEFS` if set (tests point it at a fixture), else the first of
/// /sys/kernel/tracing and /sys/kernel/debug/tracing that holds `events/`. A root found is
/// kept for the rest of the process (every tracepoint probe asks); a missing one is looked
/// for again on the next call.
pub fn tracefs_root() -> Result<PathBuf, String> {
    static FOUND: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    if let Some(dir) = std::env::var_os("RTRACE_TRACEFS") {
        return Ok(PathBuf::from(dir));
    }
    if let Some(p) = FOUND.get() {
        return Ok(p.clone());
    }
    let candidates = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"];
    if let Some(p) = candidates
        .iter()
        .map(PathBuf::from)
        .find(|p| p.join("events").is_dir())
    {
        return Ok(FOUND.get_or_init(|| p).clone());
    }
    // A tracefs we may not enter (not root) says "permission denied", not "missing".
    for c in candidates {
        if let Err(e) = std::fs::read_dir(c) {
            if e.kind() == std::io::ErrorKind::PermissionDenied {
                return Err(format!(
                    "cannot read tracepoints from {c}: permission denied (rtrace needs root)"
                ));
            }
        }
    }
    Err("tracefs is not mounted (mount -t tracefs tracefs /sys/kernel/tracing)".to_string())
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
