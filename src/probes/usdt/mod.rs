//! The usdt provider: `usdt:PATH:[PROVIDER:]NAME` (alias `U`), static probes that
//! `<sys/sdt.h>` compiles into programs and libraries. Probes are read from the ELF
//! `.note.stapsdt` notes of a file, of files a glob names, or (with `-p PID`) of every file
//! the process maps; each location of a probe is its own attach point, with its own argument
//! specs (`args`), attached as a uprobe at the location's file offset with the probe's
//! semaphore as the uprobe's reference counter, so the kernel activates it in every process
//! that maps the file. Fed by `parse_attach`, `attach_probe` and `-l`.

pub mod args;
pub mod files;
pub mod notes;

pub use notes::{UsdtLocation, UsdtProbe};

use super::catalogue::Catalogue;
use super::perf::{dynamic_pmu, on_perf_event, BPF_PROG_TYPE_KPROBE, PMU_DIR};
use super::{glob_match, has_wildcard, Attach, Context, Provider, Query};
use crate::bpf::sys::{self, PerfEvent};
use std::collections::BTreeMap;
use std::ffi::CString;
use std::fmt::Write as _;
use std::os::fd::{OwnedFd, RawFd};

pub static PROVIDER: Provider = Provider {
    name: "usdt",
    aliases: &["U"],
    parse: Some(parse),
    prog_type: Some(BPF_PROG_TYPE_KPROBE),
    context: Context::REGS,
    attach: Some(attach),
    list: Some(list),
};

/// An attach point's parts after `usdt:`: the file (empty with `-p`), the provider (empty
/// when not written) and the probe name, quotes and escapes removed.
#[derive(Debug, PartialEq, Eq)]
struct Spec {
    target: String,
    provider: String,
    name: String,
}

/// Splits the text after `usdt:` at the colons outside double quotes; a quoted part keeps
/// what a backslash escapes (`"\"probe1\""` is `"probe1"`), as bpftrace reads attach points.
fn split_parts(rest: &str) -> Vec<String> {
    let mut parts = vec![String::new()];
    let mut quoted = false;
    let mut chars = rest.chars();
    while let Some(c) = chars.next() {
        let cur = parts.last_mut().expect("never empty");
        match c {
            ':' if !quoted => parts.push(String::new()),
            '"' => quoted = !quoted,
            '\\' if quoted => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            c => cur.push(c),
        }
    }
    parts
}

/// The parts of an attach point; with a target process the file may be left out
/// (`usdt:NAME`).
fn spec(rest: &str, pid: Option<i32>) -> Result<Spec, String> {
    let mut parts = split_parts(rest);
    if pid.is_some() && parts.len() == 1 {
        parts.insert(0, String::new());
    }
    let (target, provider, name) = match parts.as_slice() {
        [t, n] => (t.clone(), String::new(), n.clone()),
        [t, p, n] => (t.clone(), p.clone(), n.clone()),
        _ => return Err("usdt probe type requires 2 or 3 arguments".into()),
    };
    if name.is_empty() {
        return Err("usdt probe must have a target function or wildcard".into());
    }
    Ok(Spec {
        target,
        provider,
        name,
    })
}

/// One probe found, with the file it is in as bpftrace names it.
struct Found {
    path: String,
    probe: UsdtProbe,
}

impl Found {
    fn line(&self) -> String {
        format!("{}:{}:{}", self.path, self.probe.provider, self.probe.name)
    }
}

/// The message for a file that is not there.
fn no_file(target: &str) -> String {
    format!("usdt target file '{target}' does not exist or is not executable")
}

/// The files a target names: a glob's matches, else the one file (a bare name looked up as
/// uprobes look it up).
fn target_files(target: &str, cat: &dyn Catalogue) -> Result<Vec<String>, String> {
    if has_wildcard(target) {
        let files = cat.glob_files(target);
        if files.is_empty() {
            return Err(no_file(target));
        }
        return Ok(files);
    }
    cat.resolve_binary(target)
        .map(|f| vec![f])
        .map_err(|_| no_file(target))
}

/// Every probe the spec may name, and the glob its `path:provider:name` lines must match:
/// with a target process its files (as `/proc/PID/root/...`, so the file's part of the
/// pattern starts with `*`), else the target's files.
fn candidates(s: &Spec, cat: &dyn Catalogue) -> Result<(Vec<Found>, String), String> {
    let provider = if s.provider.is_empty() {
        "*"
    } else {
        &s.provider
    };
    let mut found = Vec::new();
    let file_pattern = match cat.target_pid() {
        Some(pid) => {
            for path in cat.process_files(pid)? {
                // A mapped file that cannot be read as ELF holds no probes.
                for probe in cat.usdt_probes(&path).unwrap_or_default() {
                    found.push(Found {
                        path: path.clone(),
                        probe,
                    });
                }
            }
            match s.target.as_str() {
                "" => "*".to_string(),
                t if has_wildcard(t) => format!("*{t}"),
                // A file seen only in the process's mount namespace is written absolute.
                t => match cat.real_path(t) {
                    Some(abs) => format!("*{abs}"),
                    None if t.starts_with('/') => format!("*{t}"),
                    None => return Err(no_file(t)),
                },
            }
        }
        None if s.target.is_empty() => {
            return Err("usdt probe must specify at least path or pid to probe".into())
        }
        None => {
            let files = target_files(&s.target, cat)?;
            for path in &files {
                for probe in cat.usdt_probes(path)? {
                    found.push(Found {
                        path: path.clone(),
                        probe,
                    });
                }
            }
            match files.as_slice() {
                [one] if !has_wildcard(&s.target) => one.clone(),
                _ => s.target.clone(),
            }
        }
    };
    Ok((found, format!("{file_pattern}:{provider}:{}", s.name)))
}

/// The probes a spec names, sorted by `path:provider:name` as bpftrace orders them.
fn matching(s: &Spec, cat: &dyn Catalogue) -> Result<Vec<Found>, String> {
    let (found, pattern) = candidates(s, cat)?;
    let mut by_line: BTreeMap<String, Found> = BTreeMap::new();
    for f in found {
        let line = f.line();
        if glob_match(&pattern, &line) {
            by_line.entry(line).or_insert(f);
        }
    }
    Ok(by_line.into_values().collect())
}

/// Parses `PATH:[PROVIDER:]NAME` into one attach point per location of every probe it names.
fn parse(rest: &str, cat: &dyn Catalogue) -> Result<Vec<Attach>, String> {
    let pid = cat.target_pid();
    let s = spec(rest, pid)?;
    let wildcard = [&s.target, &s.provider, &s.name]
        .iter()
        .any(|p| has_wildcard(p));
    let found = matching(&s, cat)?;
    let named = match s.target.as_str() {
        "" => format!("usdt:{}", s.name),
        t => format!("usdt:{t}:{}", s.name),
    };
    if found.is_empty() {
        return Err(match s.provider.as_str() {
            "" => format!("no usdt probe matches '{named}'"),
            p => format!("no usdt probe matches '{}:{p}:{}'", s.target, s.name),
        });
    }
    // A name without wildcards must name one probe when the provider is left out or the
    // probes come from a process (its libraries may reuse a name).
    if !wildcard && (s.provider.is_empty() || pid.is_some()) && found.len() > 1 {
        return Err(format!(
            "namespace for {named} not specified, matched {} probes; specify a unique \
             namespace or use '*' to attach to all matched probes",
            found.len()
        ));
    }
    let mut out = Vec::new();
    for f in found {
        for (i, loc) in f.probe.locations.iter().enumerate() {
            out.push(Attach::Usdt {
                path: f.path.clone(),
                provider: f.probe.provider.clone(),
                name: f.probe.name.clone(),
                loc: i as u32,
                offset: loc.offset,
                semaphore: f.probe.semaphore,
                args: loc.args.clone(),
            });
        }
    }
    Ok(out)
}

/// `-l usdt:PATH:...` (or with `-p PID`, `-l usdt:*`): the matching probes, one line each. A
/// pattern whose provider is a wildcard lists usdt probes only when it names a path or a
/// process is given, as bpftrace does.
fn list(q: &Query<'_>, cat: &dyn Catalogue, out: &mut String) -> Result<(), String> {
    let pid = cat.target_pid();
    if !q.named {
        let names_path = split_parts(q.rest).first().is_some_and(|p| p.contains('/'));
        if pid.is_none() && !names_path {
            return Ok(());
        }
        // A pattern another probe type reads differently is not an error here.
        let Ok(s) = spec(q.rest, pid) else {
            return Ok(());
        };
        return list_spec(&s, cat, out);
    }
    list_spec(&spec(q.rest, pid)?, cat, out)
}

fn list_spec(s: &Spec, cat: &dyn Catalogue, out: &mut String) -> Result<(), String> {
    for f in matching(s, cat)? {
        let _ = writeln!(out, "usdt:{}", f.line());
    }
    Ok(())
}

/// The bit of the uprobe PMU's `config` where the reference counter's offset starts
/// (`format/ref_ctr_offset` reads `config:32-63`); `None` on kernels without it (before 4.20).
fn ref_ctr_shift() -> Option<u32> {
    let text = std::fs::read_to_string(format!("{PMU_DIR}/uprobe/format/ref_ctr_offset")).ok()?;
    parse_config_bits(&text)
}

/// `config:32-63` -> 32.
fn parse_config_bits(text: &str) -> Option<u32> {
    let bits = text.trim().strip_prefix("config:")?;
    bits.split('-').next()?.parse().ok()
}

/// A uprobe perf event at the location's file offset, with the probe's semaphore as the
/// reference counter the kernel increments while it is attached; `pid` limits it to one
/// process (`-p`, or the `-c` command).
fn attach(prog_fd: RawFd, attach: &Attach, pid: Option<i32>) -> Result<Vec<OwnedFd>, String> {
    let Attach::Usdt {
        path,
        offset,
        semaphore,
        ..
    } = attach
    else {
        return Err(super::wrong_provider(attach));
    };
    let fail = |what: String| format!("cannot attach {attach}: {what}");
    let (kind, _) = dynamic_pmu("uprobe").map_err(|e| fail(format!("no uprobe PMU: {e}")))?;
    let mut config = 0;
    if *semaphore != 0 {
        let shift = ref_ctr_shift().ok_or_else(|| {
            fail(
                "the probe has a semaphore and this kernel's uprobes cannot activate it \
                 (no ref_ctr_offset; Linux 4.20 or later is needed)"
                    .into(),
            )
        })?;
        if *semaphore > u64::from(u32::MAX) {
            return Err(fail(format!(
                "the semaphore's file offset {semaphore:#x} is past 4 GiB"
            )));
        }
        config |= semaphore << shift;
    }
    let c_path = CString::new(path.as_str()).map_err(|_| fail("NUL in the path".into()))?;
    let ev = PerfEvent {
        kind,
        config,
        sample_period: 1,
        wakeup_events: 1,
        config1: c_path.as_ptr() as u64,
        config2: *offset,
        ..PerfEvent::default()
    };
    let (pid, cpu) = match pid {
        None => (-1, 0),
        Some(p) if p > 0 => (p, -1),
        Some(p) => return Err(format!("invalid pid {p}")),
    };
    let fd =
        sys::perf_event_open(&ev, pid, cpu).map_err(|e| fail(format!("perf_event_open: {e}")))?;
    on_perf_event(prog_fd, fd)
        .map(|fd| vec![fd])
        .map_err(|e| fail(format!("ioctl: {e}")))
}

#[cfg(test)]
mod tests;
