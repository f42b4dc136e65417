//! The uprobe provider: `uprobe:PATH:SYMBOL[+OFF]` and `uprobe:PATH:ADDR`, library and program
//! name lookup, ELF symbol resolution (.symtab, else .dynsym), `argN`/`retval` from `pt_regs`,
//! and attaching through the uprobe PMU; fed by `parse_attach` (names and symbols through the
//! catalogue), `attach_probe` and `-l`.

use super::catalogue::Catalogue;
use super::perf::{dynamic_pmu, on_perf_event, BPF_PROG_TYPE_KPROBE};
use super::{glob_match, has_wildcard, parse_u64, Attach, Context, Provider, Query};
use crate::bpf::sys::{self, PerfEvent};
use object::{Object, ObjectSegment, ObjectSymbol, SymbolKind};
use std::ffi::CString;
use std::fmt::Write as _;
use std::os::fd::{OwnedFd, RawFd};
use std::path::{Path, PathBuf};

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
    list: None,
};

fn parse_uprobe(rest: &str, cat: &dyn Catalogue) -> Result<Vec<Attach>, String> {
    parse(rest, false, cat)
}

fn parse_uretprobe(rest: &str, cat: &dyn Catalogue) -> Result<Vec<Attach>, String> {
    parse(rest, true, cat)
}

/// Directories searched for a bare library name such as `libc`.
const LIB_DIRS: [&str; 8] = [
    "/lib/x86_64-linux-gnu",
    "/usr/lib/x86_64-linux-gnu",
    "/lib/aarch64-linux-gnu",
    "/usr/lib/aarch64-linux-gnu",
    "/lib64",
    "/usr/lib64",
    "/lib",
    "/usr/lib",
];

/// Parses `PATH:TARGET` (after `uprobe:` / `uretprobe:`).
pub(crate) fn parse(rest: &str, ret: bool, cat: &dyn Catalogue) -> Result<Vec<Attach>, String> {
    let kind = if ret { "uretprobe" } else { "uprobe" };
    let Some((path, target)) = rest.split_once(':') else {
        return Err(format!("{kind} probe type requires 2 arguments"));
    };
    if path.is_empty() || target.is_empty() {
        return Err(format!("{kind} probe must have a target"));
    }
    let path = cat.resolve_binary(path)?;
    let mk = |symbol: Option<String>, offset| Attach::Uprobe {
        path: path.clone(),
        symbol,
        offset,
        ret,
    };
    if target.starts_with(|c: char| c.is_ascii_digit()) {
        let addr = parse_u64(target).ok_or_else(|| format!("invalid address '{target}'"))?;
        return Ok(vec![mk(None, addr)]);
    }
    let (symbol, offset) = match target.split_once('+') {
        Some((s, off)) => match parse_u64(off) {
            Some(o) => (s, o),
            None => return Err(format!("invalid offset '{off}' in {kind}:{rest}")),
        },
        None => (target, 0),
    };
    if ret && offset != 0 {
        return Err("uretprobe probes cannot have an offset".into());
    }
    if !has_wildcard(symbol) {
        if !cat.has_symbol(&path, symbol)? {
            return Err(format!("symbol '{symbol}' not found in {path}"));
        }
        return Ok(vec![mk(Some(symbol.to_string()), offset)]);
    }
    if offset != 0 {
        return Err(format!("a wildcard {kind} cannot have an offset"));
    }
    let found: Vec<Attach> = cat
        .functions(&path)?
        .into_iter()
        .filter(|f| glob_match(symbol, f))
        .map(|f| mk(Some(f), 0))
        .collect();
    if found.is_empty() {
        return Err(format!("no function in {path} matches '{symbol}'"));
    }
    Ok(found)
}

/// The file a uprobe path names: a path as written (it must exist), else a library in the
/// usual directories (`libc` -> `.../libc.so.6`), else a program on `$PATH`.
pub fn resolve_path(name: &str) -> Result<String, String> {
    if name.contains('/') {
        return if Path::new(name).is_file() {
            Ok(name.to_string())
        } else {
            Err(format!("uprobe target file '{name}' does not exist"))
        };
    }
    find_library(name)
        .or_else(|| find_program(name))
        .map(|p| p.to_string_lossy().into_owned())
        .ok_or_else(|| format!("uprobe target '{name}' is not a path, a library or a program"))
}

fn is_elf(path: &Path) -> bool {
    use std::io::Read;
    let mut magic = [0u8; 4];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok()
        && magic == *b"\x7fELF"
}

/// `libc` or `c` -> the first ELF `libc.so` or `libc.so.N...` in `LIB_DIRS`.
fn find_library(name: &str) -> Option<PathBuf> {
    let base = if name.starts_with("lib") {
        name.to_string()
    } else {
        format!("lib{name}")
    };
    let base = base.trim_end_matches(".so");
    for dir in LIB_DIRS {
        let exact = Path::new(dir).join(format!("{base}.so"));
        if is_elf(&exact) {
            return Some(exact);
        }
        let prefix = format!("{base}.so.");
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        let mut versioned: Vec<PathBuf> = entries
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
            .map(|e| e.path())
            .filter(|p| is_elf(p))
            .collect();
        versioned.sort();
        if let Some(p) = versioned.into_iter().next() {
            return Some(p);
        }
    }
    None
}

fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file() && is_elf(p))
}

/// One ELF file read into memory, with its separate debug file (found by build id under
/// /usr/lib/debug) when one is installed: stripped libraries keep their local symbols there.
pub struct Elf {
    path: String,
    data: Vec<u8>,
    debug: Option<Vec<u8>>,
}

impl Elf {
    pub fn read(path: &str) -> Result<Elf, String> {
        let data = std::fs::read(path).map_err(|e| format!("cannot read {path}: {e}"))?;
        let mut elf = Elf {
            path: path.to_string(),
            data,
            debug: None,
        };
        elf.debug = elf.debug_file().and_then(|p| std::fs::read(p).ok());
        Ok(elf)
    }

    fn debug_file(&self) -> Option<PathBuf> {
        let file = self.parse().ok()?;
        let id = file.build_id().ok()??;
        let (first, rest) = id.split_first()?;
        let hex: String = rest.iter().map(|b| format!("{b:02x}")).collect();
        let path = PathBuf::from(format!("/usr/lib/debug/.build-id/{first:02x}/{hex}.debug"));
        path.is_file().then_some(path)
    }

    fn parse(&self) -> Result<object::File<'_>, String> {
        object::File::parse(&*self.data).map_err(|e| format!("{}: not an ELF file: {e}", self.path))
    }

    /// Every symbol of .symtab, .dynsym and the debug file's .symtab, as (name, address,
    /// is a function), definitions only.
    fn symbols(&self) -> Result<Vec<(String, u64, bool)>, String> {
        let file = self.parse()?;
        let debug = self
            .debug
            .as_deref()
            .and_then(|d| object::File::parse(d).ok());
        let debug_syms = debug.iter().flat_map(|d| d.symbols());
        Ok(file
            .symbols()
            .chain(file.dynamic_symbols())
            .chain(debug_syms)
            .filter(|s| s.is_definition() && s.address() != 0)
            .filter_map(|s| {
                let name = s.name().ok().filter(|n| !n.is_empty())?;
                Some((name.to_string(), s.address(), s.kind() == SymbolKind::Text))
            })
            .collect())
    }

    /// The virtual address of a defined symbol.
    pub fn symbol_address(&self, name: &str) -> Result<Option<u64>, String> {
        Ok(self
            .symbols()?
            .into_iter()
            .find(|(n, _, _)| n == name)
            .map(|(_, addr, _)| addr))
    }

    /// Names of the defined functions, sorted and unique.
    pub fn functions(&self) -> Result<Vec<String>, String> {
        let mut out: Vec<String> = self
            .symbols()?
            .into_iter()
            .filter(|(_, _, func)| *func)
            .map(|(n, _, _)| n)
            .collect();
        out.sort();
        out.dedup();
        Ok(out)
    }

    /// The file offset of a virtual address (through the loadable segments).
    pub fn vaddr_to_offset(&self, addr: u64) -> Result<u64, String> {
        let file = self.parse()?;
        file.segments()
            .find_map(|seg| {
                let (off, len) = seg.file_range();
                let rel = addr.checked_sub(seg.address())?;
                (rel < len).then_some(off + rel)
            })
            .ok_or_else(|| {
                format!(
                    "address {addr:#x} is not in a loaded segment of {}",
                    self.path
                )
            })
    }
}

/// The file offset the kernel attaches a uprobe at: `symbol + offset`, or the address
/// `offset` when there is no symbol.
pub fn file_offset(path: &str, symbol: Option<&str>, offset: u64) -> Result<u64, String> {
    let elf = Elf::read(path)?;
    let addr = match symbol {
        None => offset,
        Some(name) => match elf.symbol_address(name)? {
            Some(a) => a.wrapping_add(offset),
            None => return Err(format!("symbol '{name}' not found in {path}")),
        },
    };
    elf.vaddr_to_offset(addr)
}

/// `-l uprobe:PATH:PATTERN`: the matching functions of one file. Symbols need a file, so
/// uprobes are listed only when the provider is named with a path.
fn list(q: &Query<'_>, cat: &dyn Catalogue, out: &mut String) -> Result<(), String> {
    if !q.named {
        return Ok(());
    }
    let Some((path, symbol)) = q.rest.split_once(':') else {
        return Err("uprobe probe type requires 2 arguments".into());
    };
    let file = cat.resolve_binary(path)?;
    let shown = if path.contains('/') { path } else { &file };
    for f in cat.functions(&file)? {
        if glob_match(symbol, &f) {
            let _ = writeln!(out, "uprobe:{shown}:{f}");
        }
    }
    Ok(())
}

/// A uprobe or uretprobe perf event from the uprobe PMU, at the file offset of the symbol;
/// `pid` limits it to one process.
fn attach(prog_fd: RawFd, attach: &Attach, pid: Option<i32>) -> Result<Vec<OwnedFd>, String> {
    let Attach::Uprobe {
        path,
        symbol,
        offset,
        ret,
    } = attach
    else {
        return Err(super::wrong_provider(attach));
    };
    let fail = |call: &str, e: std::io::Error| format!("cannot attach {attach}: {call}: {e}");
    // A bare name (`libc`) is looked up the way parsing does.
    let file = if path.contains('/') {
        path.clone()
    } else {
        resolve_path(path).map_err(|e| format!("cannot attach {attach}: {e}"))?
    };
    let off = file_offset(&file, symbol.as_deref(), *offset)
        .map_err(|e| format!("cannot attach {attach}: {e}"))?;
    let (kind, ret_bit) =
        dynamic_pmu("uprobe").map_err(|e| format!("cannot attach {attach}: no uprobe PMU: {e}"))?;
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
    let fd = sys::perf_event_open(&ev, pid, cpu).map_err(|e| fail("perf_event_open", e))?;
    on_perf_event(prog_fd, fd)
        .map(|fd| vec![fd])
        .map_err(|e| fail("ioctl", e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probes::system::catalogue as system;

    fn parse_sys(rest: &str, ret: bool) -> Result<Vec<Attach>, String> {
        parse(rest, ret, system())
    }

    #[test]
    fn bash_readline_from_dynsym() {
        let a = parse_sys("/bin/bash:readline", false).expect("parse");
        assert_eq!(
            a,
            vec![Attach::Uprobe {
                path: "/bin/bash".into(),
                symbol: Some("readline".into()),
                offset: 0,
                ret: false
            }]
        );
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
        assert!(parse_sys("/bin/bash:no_such_function_x", false).is_err());
        assert!(parse_sys("/no/such/file:main", false).is_err());
        assert!(parse_sys("/bin/bash", false).is_err());
        assert!(parse_sys("/bin/bash:readline+4", true).is_err());
        assert_eq!(
            parse_sys("/bin/bash:0x1000", false),
            Ok(vec![Attach::Uprobe {
                path: "/bin/bash".into(),
                symbol: None,
                offset: 0x1000,
                ret: false
            }])
        );
        let bash = parse_sys("bash:readline", false).expect("bash on PATH");
        assert!(matches!(&bash[0], Attach::Uprobe { path, .. } if path.ends_with("/bash")));
        let libc = parse_sys("libc:malloc", false).expect("libc");
        assert!(
            matches!(&libc[0], Attach::Uprobe { path, .. } if path.contains("libc.so")),
            "{libc:?}"
        );
    }
}
