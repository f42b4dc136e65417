//! One ELF file's symbols by address: .symtab, .dynsym and those of its separate debug file
//! (found by build id under /usr/lib/debug), sorted by start; read once per file by the
//! symbolizer (mod.rs) for user stacks, `usym()` and `func`, and by the catalogue for `uaddr()`.

use object::{Object, ObjectSection, ObjectSymbol, SymbolKind};
use std::path::{Path, PathBuf};

/// How addresses in a mapping of the file become symbol addresses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ElfKind {
    /// ET_EXEC: loaded where it was linked; an address is a symbol address.
    Exec,
    /// ET_DYN (shared objects, PIE executables): relocated as a whole.
    Dyn,
}

/// A file's symbols, sorted by start address.
#[derive(Debug)]
pub struct FileSymbols {
    pub kind: ElfKind,
    /// The `.text` section's address and file offset (0, 0 without one): a mapping's file
    /// offset becomes an address through them, as bcc computes it.
    pub text: (u64, u64),
    /// (start, size, start of the name in `names`, its length)
    syms: Vec<(u64, u64, u32, u32)>,
    names: String,
}

impl FileSymbols {
    /// Reads the file at `path` and its debug file, when one is installed.
    pub fn read(path: &Path) -> Result<FileSymbols, String> {
        let data = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let debug = debug_file(&data).and_then(|p| std::fs::read(p).ok());
        FileSymbols::parse(&data, debug.as_deref()).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// The symbols of an ELF image (and of its debug file's image).
    pub fn parse(data: &[u8], debug: Option<&[u8]>) -> Result<FileSymbols, String> {
        let file = object::File::parse(data).map_err(|e| format!("not an ELF file: {e}"))?;
        let kind = match file.kind() {
            object::ObjectKind::Executable => ElfKind::Exec,
            _ => ElfKind::Dyn,
        };
        let text = file
            .section_by_name(".text")
            .and_then(|s| Some((s.address(), s.file_range()?.0)))
            .unwrap_or((0, 0));
        let mut out = FileSymbols {
            kind,
            text,
            syms: Vec::new(),
            names: String::new(),
        };
        let debug = debug.and_then(|d| object::File::parse(d).ok());
        if let Some(d) = &debug {
            out.add(d);
        }
        out.add(&file);
        // Sorted as bpftrace 0.17 sorts them (by start alone), so that of several symbols at
        // one address the same one names it.
        super::cxxsort::sort_by_key(&mut out.syms, |s| s.0);
        Ok(out)
    }

    /// Adds a file's symbols: its symbol tables in section order (.dynsym usually first), as
    /// bcc reads them.
    fn add(&mut self, file: &object::File<'_>) {
        let index = |name: &str| file.section_by_name(name).map(|s| s.index().0);
        let dynamic_first = match (index(".dynsym"), index(".symtab")) {
            (Some(d), Some(s)) => d < s,
            _ => true,
        };
        let (first, second) = if dynamic_first {
            (file.dynamic_symbols(), file.symbols())
        } else {
            (file.symbols(), file.dynamic_symbols())
        };
        for s in first.chain(second) {
            let Ok(name) = s.name() else { continue };
            if name.is_empty() || s.address() == 0 {
                continue;
            }
            self.syms.push((
                s.address(),
                s.size(),
                self.names.len() as u32,
                name.len() as u32,
            ));
            self.names.push_str(name);
        }
    }

    fn name(&self, i: usize) -> &str {
        let (_, _, off, len) = self.syms[i];
        self.names
            .get(off as usize..(off + len) as usize)
            .unwrap_or("")
    }

    /// The symbol whose extent holds `addr` (a symbol address, see `ElfKind`), its index and
    /// the offset into it. Symbols may nest (a function inside another's extent): the walk
    /// goes back from the nearest start while an earlier symbol may still cover `addr`.
    pub fn resolve(&self, addr: u64) -> Option<(usize, &str, u64)> {
        let upper = self.syms.partition_point(|s| s.0 <= addr);
        let mut i = upper.checked_sub(1)?;
        let limit = self.syms[i].0;
        loop {
            let (start, size, _, _) = self.syms[i];
            if addr < start.saturating_add(size) {
                return Some((i, self.name(i), addr - start));
            }
            if limit > start.saturating_add(size) || i == 0 {
                return None;
            }
            i -= 1;
        }
    }

    /// The symbol address of a mapped address: `addr` in a mapping that starts at `start`
    /// and maps the file from `file_offset`.
    pub fn symbol_address(&self, addr: u64, start: u64, file_offset: u64) -> u64 {
        match self.kind {
            ElfKind::Exec => addr,
            ElfKind::Dyn => (addr - start + file_offset)
                .wrapping_sub(self.text.1)
                .wrapping_add(self.text.0),
        }
    }
}

/// The address and size of a data symbol (STT_OBJECT) of the ELF file at `path`, as
/// `uaddr("name")` resolves it: the debug file's symbols first, then .symtab, then .dynsym.
pub fn object_symbol(path: &Path, name: &str) -> Result<Option<(u64, u64)>, String> {
    let data = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let debug = debug_file(&data).and_then(|p| std::fs::read(p).ok());
    let find = |bytes: &[u8]| -> Option<(u64, u64)> {
        let file = object::File::parse(bytes).ok()?;
        file.symbols()
            .chain(file.dynamic_symbols())
            .find(|s| {
                s.kind() == SymbolKind::Data
                    && s.address() != 0
                    && s.name().is_ok_and(|n| n == name)
            })
            .map(|s| (s.address(), s.size()))
    };
    if object::File::parse(&*data).is_err() {
        return Err(format!("{}: not an ELF file", path.display()));
    }
    Ok(debug.as_deref().and_then(find).or_else(|| find(&data)))
}

/// The separate debug file of an ELF image, by its build id, when one is installed.
fn debug_file(data: &[u8]) -> Option<PathBuf> {
    let file = object::File::parse(data).ok()?;
    let id = file.build_id().ok()??;
    let (first, rest) = id.split_first()?;
    let hex: String = rest.iter().map(|b| format!("{b:02x}")).collect();
    let path = PathBuf::from(format!("/usr/lib/debug/.build-id/{first:02x}/{hex}.debug"));
    path.is_file().then_some(path)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::process::Command;

    /// Builds a small C program (frame pointers kept, not PIE) in a fresh directory and
    /// returns its path, or `None` when no C compiler is installed.
    pub(crate) fn build_program(name: &str, source: &str, pie: bool) -> Option<PathBuf> {
        let dir = std::env::temp_dir().join(format!("rtrace-sym-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).ok()?;
        let src = dir.join(format!("{name}.c"));
        std::fs::write(&src, source).ok()?;
        let out = dir.join(name);
        let pie_flag = if pie { "-pie" } else { "-no-pie" };
        let status = Command::new("cc")
            .args(["-O0", "-g", "-fno-omit-frame-pointer", pie_flag, "-o"])
            .arg(&out)
            .arg(&src)
            .status()
            .ok()?;
        status.success().then_some(out)
    }

    pub(crate) const PROGRAM: &str = "\
int counter = 7;
long big_table[4] = {1, 2, 3, 4};
__attribute__((noinline)) int leaf(int x) { return x * 2 + counter; }
__attribute__((noinline)) int middle(int x) { return leaf(x) + 1; }
int main(void) { return middle(3) > 1000; }
";

    /// `nm`'s address of a symbol.
    fn nm_address(path: &Path, name: &str) -> u64 {
        let out = Command::new("nm").arg(path).output().expect("nm runs");
        let text = String::from_utf8_lossy(&out.stdout);
        let line = text
            .lines()
            .find(|l| l.split_whitespace().nth(2) == Some(name))
            .expect("symbol listed");
        u64::from_str_radix(line.split_whitespace().next().expect("address"), 16)
            .expect("hex address")
    }

    #[test]
    fn resolves_functions_of_a_built_program() {
        let Some(path) = build_program("elfsyms", PROGRAM, false) else {
            eprintln!("no C compiler: skipped");
            return;
        };
        let syms = FileSymbols::read(&path).expect("readable");
        assert_eq!(syms.kind, ElfKind::Exec);
        let leaf = nm_address(&path, "leaf");
        let middle = nm_address(&path, "middle");
        assert_eq!(syms.resolve(leaf).map(|r| (r.1, r.2)), Some(("leaf", 0)));
        assert_eq!(
            syms.resolve(middle + 5).map(|r| (r.1, r.2)),
            Some(("middle", 5))
        );
        // A data symbol by name, with its size, as uaddr() wants it.
        let table = object_symbol(&path, "big_table").expect("readable");
        assert_eq!(table, Some((nm_address(&path, "big_table"), 32)));
        assert_eq!(object_symbol(&path, "leaf").expect("readable"), None);
        assert!(object_symbol(Path::new("/proc/self/status"), "x").is_err());
    }

    #[test]
    fn pie_addresses_go_through_the_text_section() {
        let Some(path) = build_program("elfpie", PROGRAM, true) else {
            return;
        };
        let syms = FileSymbols::read(&path).expect("readable");
        assert_eq!(syms.kind, ElfKind::Dyn);
        let leaf = nm_address(&path, "leaf");
        // Mapped at 0x5555_0000_0000 from file offset 0 (text offset equals its address
        // in a PIE, so the symbol address is the offset into the file).
        let base = 0x5555_0000_0000;
        let (text_addr, text_off) = syms.text;
        let mapped = base + leaf - text_addr + text_off;
        let addr = syms.symbol_address(mapped, base, 0);
        assert_eq!(syms.resolve(addr).map(|r| (r.1, r.2)), Some(("leaf", 0)));
    }

    #[test]
    fn nested_symbols_resolve_to_the_innermost_that_covers() {
        let syms = FileSymbols {
            kind: ElfKind::Exec,
            text: (0, 0),
            syms: vec![
                (0x0, 0x6, 0, 3),
                (0x6, 0x10, 3, 3),
                (0x8, 0x4, 6, 3),
                (0x16, 0x10, 9, 3),
            ],
            names: "goofoobarbaz".into(),
        };
        assert_eq!(syms.resolve(0x12).map(|r| r.1), Some("foo"));
        assert_eq!(syms.resolve(0x9).map(|r| r.1), Some("bar"));
        assert_eq!(syms.resolve(0x30), None);
    }
}
