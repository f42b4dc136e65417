//! The uprobe provider: `uprobe:PATH:SYMBOL[+OFF]` and `uprobe:PATH:ADDR`, library and program
//! name lookup, and ELF symbol resolution (.symtab, else .dynsym); fed by `parse_attach`.

use super::{glob_match, has_wildcard, parse_u64, Attach};
use object::{Object, ObjectSegment, ObjectSymbol, SymbolKind};
use std::path::{Path, PathBuf};

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
pub(crate) fn parse(rest: &str, ret: bool) -> Result<Vec<Attach>, String> {
    let kind = if ret { "uretprobe" } else { "uprobe" };
    let Some((path, target)) = rest.split_once(':') else {
        return Err(format!("{kind} probe type requires 2 arguments"));
    };
    if path.is_empty() || target.is_empty() {
        return Err(format!("{kind} probe must have a target"));
    }
    let path = resolve_path(path)?;
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
    let elf = Elf::read(&path)?;
    if !has_wildcard(symbol) {
        if elf.symbol_address(symbol)?.is_none() {
            return Err(format!("symbol '{symbol}' not found in {path}"));
        }
        return Ok(vec![mk(Some(symbol.to_string()), offset)]);
    }
    if offset != 0 {
        return Err(format!("a wildcard {kind} cannot have an offset"));
    }
    let found: Vec<Attach> = elf
        .functions()?
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bash_readline_from_dynsym() {
        let a = parse("/bin/bash:readline", false).expect("parse");
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
        let a = parse("/bin/bash:readl*", true).expect("parse");
        assert!(a.len() >= 2, "{a:?}");
        assert!(a.iter().all(|x| matches!(x,
            Attach::Uprobe { symbol: Some(s), ret: true, .. } if s.starts_with("readl"))));
        assert!(parse("/bin/bash:no_such_function_x", false).is_err());
        assert!(parse("/no/such/file:main", false).is_err());
        assert!(parse("/bin/bash", false).is_err());
        assert!(parse("/bin/bash:readline+4", true).is_err());
        assert_eq!(
            parse("/bin/bash:0x1000", false),
            Ok(vec![Attach::Uprobe {
                path: "/bin/bash".into(),
                symbol: None,
                offset: 0x1000,
                ret: false
            }])
        );
        let bash = parse("bash:readline", false).expect("bash on PATH");
        assert!(matches!(&bash[0], Attach::Uprobe { path, .. } if path.ends_with("/bash")));
        let libc = parse("libc:malloc", false).expect("libc");
        assert!(
            matches!(&libc[0], Attach::Uprobe { path, .. } if path.contains("libc.so")),
            "{libc:?}"
        );
    }
}
