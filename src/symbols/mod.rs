//! Addresses to names, for printing stacks, `ksym()`, `usym()` and `func`: kernel symbols from
//! /proc/kallsyms, user symbols from the ELF files (and JIT perf maps) a process maps. Built on
//! first use by the runtime's decoder, so scripts that print no symbol never read a symbol
//! table; everything read is cached (per file, per process) for the rest of the run.

mod cxxsort;
pub mod elf;
pub mod kallsyms;
pub mod maps;

use elf::FileSymbols;
use kallsyms::KernelSymbols;
use maps::Mapping;
use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// A user symbol: its name (demangled when asked), the offset into it, and the file it is in
/// as the process's maps name it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserSymbol {
    pub name: String,
    pub offset: u64,
    pub module: String,
}

/// What printing a stack or symbol needs of the running session: the stack maps' contents
/// and symbols. The runtime implements it; `NoSymbols` resolves nothing.
pub trait Resolver {
    /// The frames of stack `id` in the stack map of `limit` frames (zero frames dropped);
    /// `None` when the map has no such stack.
    fn stack(&mut self, limit: u32, id: u32) -> Option<Vec<u64>>;
    /// The kernel symbol at or before `addr`, and the offset into it.
    fn kernel(&mut self, addr: u64) -> Option<(String, u64)>;
    /// The symbol of `addr` in process `pid`.
    fn user(&mut self, addr: u64, pid: u32) -> Option<UserSymbol>;
}

/// Resolves nothing (dumps and tests that print no symbols).
pub struct NoSymbols;

impl Resolver for NoSymbols {
    fn stack(&mut self, _: u32, _: u32) -> Option<Vec<u64>> {
        None
    }
    fn kernel(&mut self, _: u64) -> Option<(String, u64)> {
        None
    }
    fn user(&mut self, _: u64, _: u32) -> Option<UserSymbol> {
        None
    }
}

/// A file, as the kernel identifies it: (device, inode, size, modification time).
type FileId = (u64, u64, u64, i64);

/// One process's executable mappings, grouped by file in the order its maps list them.
struct Process {
    modules: Vec<Module>,
    read_at: Instant,
}

struct Module {
    /// The path as /proc/PID/maps writes it.
    path: String,
    /// (start, end, file offset) of each executable mapping of it.
    ranges: Vec<(u64, u64, u64)>,
    /// The file's symbols, when it could be read.
    file: Option<FileId>,
}

/// A process's maps are read again, when an address is in none of them, at most this often.
const REREAD_AFTER: Duration = Duration::from_millis(100);

/// The machine's symbols, read lazily and cached for the run.
pub struct Symbolizer {
    demangle: bool,
    kernel: Option<KernelSymbols>,
    files: HashMap<FileId, Option<FileSymbols>>,
    procs: HashMap<u32, Process>,
    perf_maps: HashMap<u32, Option<maps::PerfMap>>,
    /// Demangled names by (file, symbol index).
    demangled: HashMap<(FileId, usize), String>,
}

impl Symbolizer {
    /// `demangle`: C++ names are demangled (unless `BPFTRACE_NO_CPP_DEMANGLE` is set).
    pub fn new(demangle: bool) -> Symbolizer {
        Symbolizer {
            demangle,
            kernel: None,
            files: HashMap::new(),
            procs: HashMap::new(),
            perf_maps: HashMap::new(),
            demangled: HashMap::new(),
        }
    }

    /// The kernel symbol at or before `addr` (kallsyms is read the first time).
    pub fn kernel(&mut self, addr: u64) -> Option<(String, u64)> {
        let k = self.kernel.get_or_insert_with(KernelSymbols::load);
        k.resolve(addr).map(|(n, off)| (n.to_string(), off))
    }

    /// The symbol of `addr` in process `pid`: the ELF file mapped there (its maps read the
    /// first time, and again when an address is in none of them), else the process's perf
    /// map (/tmp/perf-PID.map, written by JIT compilers).
    pub fn user(&mut self, addr: u64, pid: u32) -> Option<UserSymbol> {
        if !self.procs.contains_key(&pid) {
            self.read_process(pid);
        }
        let found = self.in_module(addr, pid);
        let found = match found {
            Lookup::Nowhere if self.procs[&pid].read_at.elapsed() >= REREAD_AFTER => {
                self.read_process(pid);
                self.in_module(addr, pid)
            }
            other => other,
        };
        match found {
            Lookup::Found(sym) => Some(sym),
            Lookup::NoSymbol | Lookup::Nowhere => self.perf_map(addr, pid),
        }
    }

    fn read_process(&mut self, pid: u32) {
        let list = std::fs::read_to_string(format!("/proc/{pid}/maps"))
            .map(|t| maps::executable_mappings(&t))
            .unwrap_or_default();
        let mut modules: Vec<Module> = Vec::new();
        for Mapping {
            start,
            end,
            offset,
            path,
        } in list
        {
            match modules.iter_mut().find(|m| m.path == path) {
                Some(m) => m.ranges.push((start, end, offset)),
                None => {
                    let file = if path == "[vdso]" {
                        self.open_vdso(pid, start, end)
                    } else {
                        self.open_file(pid, &path)
                    };
                    modules.push(Module {
                        path,
                        ranges: vec![(start, end, offset)],
                        file,
                    });
                }
            }
        }
        self.procs.insert(
            pid,
            Process {
                modules,
                read_at: Instant::now(),
            },
        );
    }

    /// Reads a mapped file's symbols once per file: through the process's root first, so a
    /// process in another mount namespace or chroot gets its own files.
    fn open_file(&mut self, pid: u32, path: &str) -> Option<FileId> {
        let rooted = PathBuf::from(format!("/proc/{pid}/root{path}"));
        let path = if rooted.exists() {
            rooted
        } else {
            PathBuf::from(path)
        };
        let meta = std::fs::metadata(&path).ok()?;
        let id = (meta.dev(), meta.ino(), meta.size(), meta.mtime());
        self.files
            .entry(id)
            .or_insert_with(|| FileSymbols::read(&path).ok());
        Some(id)
    }

    /// The vDSO's symbols, from the process's memory (the same image in every process).
    fn open_vdso(&mut self, pid: u32, start: u64, end: u64) -> Option<FileId> {
        use std::io::{Read, Seek, SeekFrom};
        let id = (u64::MAX, 0, end - start, 0);
        if let std::collections::hash_map::Entry::Vacant(slot) = self.files.entry(id) {
            let read = || -> Option<FileSymbols> {
                let mut mem = std::fs::File::open(format!("/proc/{pid}/mem")).ok()?;
                mem.seek(SeekFrom::Start(start)).ok()?;
                let mut bytes = vec![0; usize::try_from(end - start).ok()?];
                mem.read_exact(&mut bytes).ok()?;
                let mut f = FileSymbols::parse(&bytes, None).ok()?;
                // Its symbols are relative to where it is mapped.
                f.text = (0, 0);
                Some(f)
            };
            slot.insert(read());
        }
        Some(id)
    }

    fn in_module(&mut self, addr: u64, pid: u32) -> Lookup {
        let Some(proc) = self.procs.get(&pid) else {
            return Lookup::Nowhere;
        };
        let mut any = false;
        for m in &proc.modules {
            let Some(&(start, _, offset)) = m.ranges.iter().find(|r| r.0 <= addr && addr < r.1)
            else {
                continue;
            };
            any = true;
            let Some(id) = m.file else { continue };
            let Some(Some(file)) = self.files.get(&id) else {
                continue;
            };
            let at = file.symbol_address(addr, start, offset);
            let Some((index, name, off)) = file.resolve(at) else {
                continue;
            };
            let name = if self.demangle && is_mangled(name) {
                self.demangled
                    .entry((id, index))
                    .or_insert_with(|| demangle(name))
                    .clone()
            } else {
                name.to_string()
            };
            return Lookup::Found(UserSymbol {
                name,
                offset: off,
                module: m.path.clone(),
            });
        }
        if any {
            Lookup::NoSymbol
        } else {
            Lookup::Nowhere
        }
    }

    fn perf_map(&mut self, addr: u64, pid: u32) -> Option<UserSymbol> {
        let map = self
            .perf_maps
            .entry(pid)
            .or_insert_with(|| maps::PerfMap::read(pid));
        let map = map.as_ref()?;
        let (name, off) = map.resolve(addr)?;
        Some(UserSymbol {
            name: name.to_string(),
            offset: off,
            module: map.path.clone(),
        })
    }
}

enum Lookup {
    Found(UserSymbol),
    /// In a mapped file without a symbol there.
    NoSymbol,
    /// In no mapped file.
    Nowhere,
}

/// A C++ (Itanium ABI) mangled name, as bcc recognises them.
fn is_mangled(name: &str) -> bool {
    name.starts_with("_Z") || name.starts_with("___Z")
}

/// The demangled form of a C++ name, or the name itself when it does not demangle.
pub fn demangle(name: &str) -> String {
    let mangled = name
        .strip_prefix("__")
        .filter(|n| n.starts_with("_Z"))
        .unwrap_or(name);
    cpp_demangle::Symbol::new(mangled)
        .ok()
        .and_then(|s| s.demangle().ok())
        .unwrap_or_else(|| name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demangles_cpp_names() {
        assert_eq!(demangle("_ZN3foo3barEi"), "foo::bar(int)");
        assert_eq!(demangle("main"), "main");
        assert_eq!(demangle("_Znotvalid"), "_Znotvalid");
        assert!(is_mangled("_ZN3foo3barEi") && !is_mangled("main"));
    }

    #[test]
    fn resolves_this_process_own_functions() {
        // A function of the test binary itself, through /proc/self/maps and its ELF file.
        let addr = resolves_this_process_own_functions as *const () as usize as u64;
        let mut s = Symbolizer::new(true);
        let sym = s.user(addr, std::process::id()).expect("resolved");
        assert!(
            sym.name.contains("resolves_this_process_own_functions"),
            "{sym:?}"
        );
        assert_eq!(sym.offset, 0);
        let exe = std::fs::read_link("/proc/self/exe").expect("exe");
        assert_eq!(sym.module, exe.to_string_lossy());
        // Nothing is mapped at 16: unresolved.
        assert_eq!(s.user(16, std::process::id()), None);
        // A process that does not exist.
        assert_eq!(s.user(addr, u32::MAX - 1), None);
    }
}
