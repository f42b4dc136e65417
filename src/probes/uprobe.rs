//! The uprobe provider: `uprobe:PATH:SYMBOL[+OFF]` and `uprobe:PATH:ADDR`, library and program
//! name lookup, ELF symbol resolution (.symtab, else .dynsym), `argN`/`retval` from `pt_regs`,
//! and attaching through the uprobe PMU; fed by `parse_attach` (names and symbols through the
//! catalogue), `attach_probe` and `-l`.

use super::catalogue::Catalogue;
use super::perf::{dynamic_pmu, on_perf_event, BPF_PROG_TYPE_KPROBE};
use super::{glob_match, has_wildcard, parse_u64, Attach, Context, Provider, Query};
use crate::bpf::sys::{self, PerfEvent};
use std::ffi::CString;
use std::fmt::Write as _;
use std::os::fd::{OwnedFd, RawFd};

pub static UPROBE: Provider = Provider {
    name: "uprobe",
    aliases: &["u"],
    parse: Some(parse_uprobe),
    prog_type: Some(BPF_PROG_TYPE_KPROBE),
    context: Context::REGS,
    attach: Some(attach),
    list: Some(list),
};

pub static URETPROBE: Provider = Provider {
    name: "uretprobe",
    aliases: &["ur"],
    parse: Some(parse_uretprobe),
    prog_type: Some(BPF_PROG_TYPE_KPROBE),
    context: Context::RETVAL,
    attach: Some(attach),
    list: Some(list_ret),
};

fn parse_uprobe(rest: &str, cat: &dyn Catalogue) -> Result<Vec<Attach>, String> {
    parse(rest, false, cat)
}

fn parse_uretprobe(rest: &str, cat: &dyn Catalogue) -> Result<Vec<Attach>, String> {
    parse(rest, true, cat)
}

/// bpftrace's attach point lexing: `:`-separated parts, `"..."` quoting a part (or a piece of
/// one) that may hold `:` or other characters, `\` escaping inside quotes.
pub(crate) fn split_parts(text: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            ':' if !quoted => parts.push(std::mem::take(&mut cur)),
            '"' => quoted = !quoted,
            '\\' if quoted => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            _ => cur.push(c),
        }
    }
    parts.push(cur);
    parts
}

/// A uprobe attach point after bpftrace's attach point parser: the target (a `lib...` name
/// already looked up), and a function with an offset or an address.
struct Parsed {
    target: String,
    func: String,
    offset: u64,
    address: Option<u64>,
}

/// `TARGET:FUNC[+OFF]` or `TARGET:ADDR`, and `FUNC` alone with `-p` (the process's
/// executable), split as bpftrace 0.17 splits them.
fn split(rest: &str, ret: bool, cat: &dyn Catalogue) -> Result<Parsed, String> {
    let kind = if ret { "uretprobe" } else { "uprobe" };
    let mut parts = split_parts(rest);
    if parts.len() == 1 {
        if let Some(exe) = cat.pid_exe() {
            parts.insert(0, exe);
        }
    }
    let [target, func] = <[String; 2]>::try_from(parts)
        .map_err(|_| format!("{kind} probe type requires 2 arguments"))?;
    let target = if has_wildcard(&target) {
        target
    } else {
        cat.which_so(&target).unwrap_or(target)
    };
    let mut p = Parsed {
        target,
        func: func.clone(),
        offset: 0,
        address: None,
    };
    match func.matches('+').count() {
        0 => {
            if let Some(addr) = parse_u64(&func) {
                if has_wildcard(&p.target) {
                    return Err("Cannot use wildcards with absolute address".into());
                }
                p.address = Some(addr);
                p.func.clear();
            }
        }
        1 if ret => return Err("Offset not allowed".into()),
        1 => {
            let (f, off) = func.split_once('+').unwrap_or_default();
            if f.is_empty() || off.is_empty() {
                return Err("Invalid offset".into());
            }
            p.offset = parse_u64(off).ok_or_else(|| format!("invalid offset '{off}'"))?;
            p.func = f.to_string();
        }
        _ => return Err("Cannot take more than one offset".into()),
    }
    if p.target.is_empty() {
        return Err(format!("{kind} should have a target"));
    }
    if p.func.is_empty() && p.address.is_none_or(|a| a == 0) {
        return Err(format!(
            "{kind} should be attached to a function and/or address"
        ));
    }
    Ok(p)
}

/// The files a target names, as bpftrace's semantic pass keeps them: one file, the first of
/// several found on `$PATH`, or every match of a `*` pattern.
fn target_files(target: &str, cat: &dyn Catalogue) -> Result<Vec<String>, String> {
    let mut paths = cat.binary_paths(target);
    match paths.len() {
        0 => Err(format!(
            "uprobe target file '{target}' does not exist or is not executable"
        )),
        1 => Ok(paths),
        _ if target.contains('*') => Ok(paths),
        _ => {
            paths.truncate(1);
            Ok(paths)
        }
    }
}

/// `(file, function)` for every function of `files` that `func` matches, sorted on
/// `file:function` and unique, as bpftrace 0.17 expands a wildcard (`.part.N` clones left out).
fn matches(
    files: &[String],
    func: &str,
    cat: &dyn Catalogue,
) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for file in files {
        let search = format!("{file}:{func}");
        for f in cat.functions(file)? {
            let hit = glob_match(func, &f) || demangled_match(&search, file, &f);
            if hit && !f.contains(".part.") {
                out.push((file.clone(), f));
            }
        }
    }
    out.sort_by_cached_key(|(p, f)| format!("{p}:{f}"));
    out.dedup();
    Ok(out)
}

/// bpftrace 0.17's second chance for a C++ function: its demangled name (`ns::f(int)`), behind
/// `FILE:`, holds the pieces of `FILE:PATTERN` between `*`s in order, anywhere.
fn demangled_match(search: &str, file: &str, name: &str) -> bool {
    if !name.starts_with("_Z") {
        return false;
    }
    let Some(demangled) = demangle(name) else {
        return false;
    };
    let text = format!("{file}:{demangled}");
    let mut at = 0;
    for piece in search.split('*').filter(|p| !p.is_empty()) {
        match text[at..].find(piece) {
            Some(i) => at += i + piece.len(),
            None => return false,
        }
    }
    true
}

/// The demangled form of an Itanium C++ symbol (`_ZN2ns1fEi` -> `ns::f(int)`).
pub fn demangle(name: &str) -> Option<String> {
    let sym = cpp_demangle::Symbol::new(name).ok()?;
    sym.demangle().ok()
}

/// Parses `PATH:TARGET` (after `uprobe:` / `uretprobe:`) into attach points: targets resolved
/// as bpftrace resolves them, wildcards expanded, symbols and offsets checked against the
/// file's symbols (an offset must lie inside its function; an address must lie inside some
/// function).
pub(crate) fn parse(rest: &str, ret: bool, cat: &dyn Catalogue) -> Result<Vec<Attach>, String> {
    let p = split(rest, ret, cat)?;
    let files = target_files(&p.target, cat)?;
    let mk = |path: &str, symbol: Option<String>, offset| Attach::Uprobe {
        path: path.to_string(),
        symbol,
        offset,
        ret,
    };
    if let Some(addr) = p.address {
        let path = &files[0];
        let Some(sym) = cat.symbol_at(path, addr)? else {
            return Err(format!("Could not resolve address: {path}:{addr:#x}"));
        };
        let off = addr - sym.address;
        if ret && off != 0 {
            return Err(format!(
                "uretprobes cannot be attached at function offset. (address resolved to: {}+{off})",
                sym.name
            ));
        }
        return Ok(vec![mk(path, None, addr)]);
    }
    if has_wildcard(&p.func) || has_wildcard(&p.target) {
        if p.offset != 0 {
            return Err("a wildcard uprobe cannot have an offset".into());
        }
        let found = matches(&files, &p.func, cat)?;
        if found.is_empty() {
            return Err(format!("no function in {} matches '{}'", p.target, p.func));
        }
        return Ok(found
            .into_iter()
            .map(|(path, f)| mk(&path, Some(f), 0))
            .collect());
    }
    let path = &files[0];
    let Some(sym) = cat.symbol(path, &p.func)? else {
        // --compile-only: the program compiles; attaching it needs the symbol.
        cat.lacking(format!("Could not resolve symbol: {path}:{}", p.func))?;
        return Ok(vec![mk(path, Some(p.func), p.offset)]);
    };
    if p.offset != 0 && p.offset >= sym.size {
        return Err(format!(
            "Offset outside the function bounds ('{}' size is {})",
            p.func, sym.size
        ));
    }
    Ok(vec![mk(path, Some(p.func), p.offset)])
}

/// The file a uprobe path names (bpftrace's resolution without `-p`): a `lib...` name through
/// ld.so.cache, then the path itself or the first match on `$PATH`.
pub fn resolve_path(name: &str) -> Result<String, String> {
    let target = super::elf_paths::which_so(name, None).unwrap_or_else(|| name.to_string());
    super::elf_paths::resolve_binary_path(&target, None)
        .into_iter()
        .next()
        .ok_or_else(|| format!("uprobe target file '{name}' does not exist or is not executable"))
}

pub use super::elf::Elf;

/// The file offset the kernel attaches a uprobe at: `symbol + offset`, or the address
/// `offset` when there is no symbol. The file's index is the one parsing built.
pub fn file_offset(path: &str, symbol: Option<&str>, offset: u64) -> Result<u64, String> {
    let elf = super::elf::open(path)?;
    let addr = match symbol {
        None => offset,
        Some(name) => match elf.lookup(name) {
            Some(f) => f.address.wrapping_add(offset),
            None => return Err(format!("Could not resolve symbol: {path}:{name}")),
        },
    };
    elf.vaddr_to_offset(addr)
}

/// `-l uprobe:PATH:PATTERN` (and `uretprobe:`): the matching functions (`STT_FUNC` and
/// `STT_GNU_IFUNC`) of the file, or of every file a `*` path matches, as bpftrace 0.17 lists
/// them; with `-p`, `uprobe:PATTERN` lists the process's executable.
fn list(q: &Query<'_>, cat: &dyn Catalogue, out: &mut String) -> Result<(), String> {
    list_kind(q, false, cat, out)
}

fn list_ret(q: &Query<'_>, cat: &dyn Catalogue, out: &mut String) -> Result<(), String> {
    list_kind(q, true, cat, out)
}

fn list_kind(
    q: &Query<'_>,
    ret: bool,
    cat: &dyn Catalogue,
    out: &mut String,
) -> Result<(), String> {
    let kind = if ret { "uretprobe" } else { "uprobe" };
    let p = match split(q.rest, ret, cat) {
        Ok(p) => p,
        // A probe type reached through a wildcard skips what it cannot parse.
        Err(_) if !q.named => return Ok(()),
        Err(e) => return Err(e),
    };
    let files = target_files(&p.target, cat)?;
    if p.func.is_empty() {
        // bpftrace 0.17 lists an address as the bare file.
        let _ = writeln!(out, "{kind}:{}:", files[0]);
        return Ok(());
    }
    let mut warned: Vec<String> = Vec::new();
    for (path, f) in matches(&files, &p.func, cat)? {
        let _ = writeln!(out, "{kind}:{path}:{f}");
        // `-lv`: the arguments from DWARF, as bpftrace 0.17 shows them (uprobes only).
        if q.verbose && !ret {
            match cat.function_params(&path, &f) {
                Some(params) => {
                    for param in params {
                        let _ = writeln!(out, "    {param}");
                    }
                }
                None if !warned.contains(&path) => {
                    eprintln!("WARNING: No DWARF found for \"{path}\", cannot show parameter info");
                    warned.push(path.clone());
                }
                None => {}
            }
        }
    }
    Ok(())
}

/// A uprobe or uretprobe perf event from the uprobe PMU, at the file offset of the symbol;
/// `pid` limits it to one process.
fn attach(prog_fd: RawFd, attach: &Attach, pid: Option<i32>) -> Result<Vec<OwnedFd>, String> {
    let fd = open_event(attach, pid)?;
    attach_opened(prog_fd, attach, fd)
}

/// Runs `prog_fd` on a perf event `open_event` opened for `attach`, and enables it.
pub fn attach_opened(prog_fd: RawFd, attach: &Attach, fd: OwnedFd) -> Result<Vec<OwnedFd>, String> {
    on_perf_event(prog_fd, fd)
        .map(|fd| vec![fd])
        .map_err(|e| format!("cannot attach {attach}: ioctl: {e}"))
}

/// The perf event of a uprobe or uretprobe, opened without a program: it runs nothing until
/// `attach_opened` gives it one. Opening it registers the uprobe, which writes its breakpoint
/// into every process that maps the file (the slow part of attaching), so the runtime opens
/// these while it loads the programs.
pub fn open_event(attach: &Attach, pid: Option<i32>) -> Result<OwnedFd, String> {
    let Attach::Uprobe {
        path,
        symbol,
        offset,
        ret,
    } = attach
    else {
        return Err(super::wrong_provider(attach));
    };
    // Parsing resolved the path; a bare name (`libc`) built by hand is looked up as it does.
    let file = if path.contains('/') {
        path.clone()
    } else {
        resolve_path(path).map_err(|e| format!("cannot attach {attach}: {e}"))?
    };
    let off = file_offset(&file, symbol.as_deref(), *offset)
        .map_err(|e| format!("cannot attach {attach}: {e}"))?;
    let (kind, ret_bit) =
        uprobe_pmu().map_err(|e| format!("cannot attach {attach}: no uprobe PMU: {e}"))?;
    let c_path =
        CString::new(file).map_err(|_| format!("cannot attach {attach}: NUL in the path"))?;
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
    sys::perf_event_open(&ev, pid, cpu)
        .map_err(|e| format!("cannot attach {attach}: perf_event_open: {e}"))
}

/// The uprobe PMU's perf type and return probe bit, read from sysfs once per process.
fn uprobe_pmu() -> Result<(u32, u32), String> {
    static PMU: std::sync::OnceLock<Result<(u32, u32), String>> = std::sync::OnceLock::new();
    PMU.get_or_init(|| dynamic_pmu("uprobe").map_err(|e| e.to_string()))
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probes::catalogue::Fixture;
    use crate::probes::elf::Elf;
    use crate::probes::system::catalogue as system;

    fn parse_sys(rest: &str, ret: bool) -> Result<Vec<Attach>, String> {
        parse(rest, ret, system())
    }

    fn up(path: &str, symbol: Option<&str>, offset: u64, ret: bool) -> Attach {
        Attach::Uprobe {
            path: path.into(),
            symbol: symbol.map(str::to_string),
            offset,
            ret,
        }
    }

    #[test]
    fn bash_readline_from_dynsym() {
        let a = parse_sys("/bin/bash:readline", false).expect("parse");
        assert_eq!(a, vec![up("/bin/bash", Some("readline"), 0, false)]);
        let off = file_offset("/bin/bash", Some("readline"), 0).expect("offset");
        assert!(off > 0);
        // The offset must land on the same bytes as the symbol's address.
        let elf = Elf::read("/bin/bash").expect("read");
        let addr = elf
            .symbol_address("readline")
            .expect("elf")
            .expect("symbol");
        assert_eq!(elf.vaddr_to_offset(addr), Ok(off));
        assert_eq!(file_offset("/bin/bash", Some("readline"), 4), Ok(off + 4));
        assert_eq!(file_offset("/bin/bash", None, addr), Ok(off));
    }

    #[test]
    fn wildcards_names_and_errors() {
        let a = parse_sys("/bin/bash:readl*", true).expect("parse");
        assert!(a.len() >= 2, "{a:?}");
        assert!(a.iter().all(|x| matches!(x,
            Attach::Uprobe { symbol: Some(s), ret: true, .. } if s.starts_with("readl"))));
        assert_eq!(
            parse_sys("/bin/bash:no_such_function_x", false),
            Err("Could not resolve symbol: /bin/bash:no_such_function_x".into())
        );
        assert!(parse_sys("/no/such/file:main", false)
            .unwrap_err()
            .contains("does not exist or is not executable"));
        assert!(parse_sys("/bin/bash", false).is_err());
        assert_eq!(
            parse_sys("/bin/bash:readline+4", true),
            Err("Offset not allowed".into())
        );
        assert_eq!(
            parse_sys("/bin/bash:10", false),
            Err("Could not resolve address: /bin/bash:0xa".into())
        );
        let bash = parse_sys("bash:readline", false).expect("bash on PATH");
        assert!(matches!(&bash[0], Attach::Uprobe { path, .. } if path.ends_with("/bash")));
        let libc = parse_sys("libc:malloc", false).expect("libc");
        assert!(
            matches!(&libc[0], Attach::Uprobe { path, .. } if path.contains("libc.so")),
            "{libc:?}"
        );
        // A quoted function name, with an offset.
        assert_eq!(
            parse_sys("/bin/bash:\"readline\"+0", false),
            Ok(vec![up("/bin/bash", Some("readline"), 0, false)])
        );
    }

    #[test]
    fn offsets_addresses_and_pids_on_a_fixture() {
        // Fixture functions are 16 bytes from 0x1000 in name order: handle, main.
        let cat = Fixture::new().binary("/opt/app", &["main", "handle"]);
        let p = |rest: &str, ret| parse(rest, ret, &cat);
        assert_eq!(
            p("/opt/app:main+8", false),
            Ok(vec![up("/opt/app", Some("main"), 8, false)])
        );
        assert_eq!(
            p("/opt/app:main+16", false),
            Err("Offset outside the function bounds ('main' size is 16)".into())
        );
        assert_eq!(
            p("/opt/app:0x1004", false),
            Ok(vec![up("/opt/app", None, 0x1004, false)])
        );
        assert_eq!(
            p("/opt/app:0x1004", true),
            Err("uretprobes cannot be attached at function offset. \
                 (address resolved to: handle+4)"
                .into())
        );
        assert_eq!(
            p("/opt/app:0x1010", true),
            Ok(vec![up("/opt/app", None, 0x1010, true)])
        );
        assert_eq!(
            p("/opt/app:a+1+2", false),
            Err("Cannot take more than one offset".into())
        );
        assert_eq!(p("/opt/app:+2", false), Err("Invalid offset".into()));
        assert_eq!(
            p("/opt/*:0x1000", false),
            Err("Cannot use wildcards with absolute address".into())
        );
        assert!(p("main", false).is_err());
        let with_pid = Fixture::new()
            .binary("/opt/app", &["main", "handle"])
            .with_pid(7, "/opt/app");
        assert_eq!(
            parse("ma*", false, &with_pid),
            Ok(vec![up("/opt/app", Some("main"), 0, false)])
        );
    }

    #[test]
    fn cpp_names_match_demangled() {
        let cat = Fixture::new().binary("/opt/cpp", &["_ZN3Foo3barEi", "_ZN3Baz3quxEv", "main"]);
        let p = |rest: &str| parse(rest, false, &cat);
        assert_eq!(demangle("_ZN3Foo3barEi").as_deref(), Some("Foo::bar(int)"));
        assert_eq!(
            p("/opt/cpp:\"Foo::bar*\""),
            Ok(vec![up("/opt/cpp", Some("_ZN3Foo3barEi"), 0, false)])
        );
        assert_eq!(
            p("/opt/cpp:*qux*"),
            Ok(vec![up("/opt/cpp", Some("_ZN3Baz3quxEv"), 0, false)])
        );
        // The mangled name itself matches too; an exact name is the mangled one.
        assert_eq!(p("/opt/cpp:_ZN3Foo*").map(|v| v.len()), Ok(1));
        assert!(p("/opt/cpp:_ZN3Baz3quxEv").is_ok());
    }

    #[test]
    fn parts_split_as_bpftrace_lexes_them() {
        assert_eq!(split_parts("a:b:c"), ["a", "b", "c"]);
        assert_eq!(split_parts("/x:\"ns::f(int)\""), ["/x", "ns::f(int)"]);
        assert_eq!(split_parts("a:\"q\\\"x\"+1"), ["a", "q\"x+1"]);
        assert_eq!(split_parts("a:"), ["a", ""]);
    }

    #[test]
    fn eighty_libc_functions_share_one_index() {
        let Ok(libc) = resolve_path("libc") else {
            return;
        };
        let funcs: Vec<String> = crate::probes::elf::open(&libc)
            .expect("libc")
            .functions()
            .expect("functions")
            .into_iter()
            .filter(|f| !f.starts_with('_'))
            .take(80)
            .collect();
        let start = std::time::Instant::now();
        for f in &funcs {
            parse(&format!("libc:{f}"), false, system()).expect(f);
            file_offset(&libc, Some(f), 0).expect(f);
        }
        let took = start.elapsed();
        assert!(took.as_millis() < 200, "80 lookups took {took:?}");
    }
}
