//! ELF files for uprobes (and usdt): one memory-mapped file and its symbol index, built once
//! per file per process and shared (`open`) by parsing, `-l` and attaching. Symbols are read
//! as bcc reads them for bpftrace 0.17: `.symtab` and `.dynsym` in section order, then the
//! `.symtab` of the separate debug file (found by build id under /usr/lib/debug); fed by
//! `uprobe.rs` and the system catalogue.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

/// `STT_FUNC`.
pub const STT_FUNC: u8 = 2;
/// `STT_GNU_IFUNC`: a function whose address a resolver picks at load time (libc's `strlen`).
pub const STT_GNU_IFUNC: u8 = 10;
const SHT_SYMTAB: u32 = 2;
const SHT_DYNSYM: u32 = 11;
const SHT_NOTE: u32 = 7;
const PT_LOAD: u32 = 1;
/// `ET_EXEC` and `ET_DYN`.
pub const ET_EXEC: u16 = 2;
pub const ET_DYN: u16 = 3;

/// A read-only private mapping of a whole file, unmapped when dropped.
struct Mapping {
    ptr: *mut libc::c_void,
    len: usize,
}

// The mapping is read-only and never changes while it lives.
unsafe impl Send for Mapping {}
unsafe impl Sync for Mapping {}

impl Mapping {
    fn open(path: &Path) -> std::io::Result<Mapping> {
        use std::os::fd::AsRawFd;
        let file = std::fs::File::open(path)?;
        let len = usize::try_from(file.metadata()?.len())
            .map_err(|_| std::io::Error::other("file too large"))?;
        if len == 0 {
            return Ok(Mapping {
                ptr: std::ptr::null_mut(),
                len: 0,
            });
        }
        // SAFETY: a fresh read-only private mapping of an open file; checked for failure.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_PRIVATE,
                file.as_raw_fd(),
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        Ok(Mapping { ptr, len })
    }

    fn bytes(&self) -> &[u8] {
        if self.len == 0 {
            return &[];
        }
        // SAFETY: `ptr` maps `len` readable bytes for as long as `self` lives.
        unsafe { std::slice::from_raw_parts(self.ptr as *const u8, self.len) }
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        if self.len != 0 {
            // SAFETY: unmaps exactly what `open` mapped.
            unsafe { libc::munmap(self.ptr, self.len) };
        }
    }
}

/// Little-endian reads that return `None` past the end.
fn u16_at(b: &[u8], off: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(off..off + 2)?.try_into().ok()?))
}
fn u32_at(b: &[u8], off: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(off..off + 4)?.try_into().ok()?))
}
fn u64_at(b: &[u8], off: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(off..off + 8)?.try_into().ok()?))
}

/// One section header (the fields used here).
#[derive(Clone, Copy)]
struct Section {
    kind: u32,
    offset: u64,
    size: u64,
    link: u32,
    entsize: u64,
}

/// One loadable segment: virtual address, file offset and file size.
#[derive(Clone, Copy, Debug)]
struct Segment {
    vaddr: u64,
    offset: u64,
    filesz: u64,
}

/// The parsed headers of a 64-bit little-endian ELF file.
struct Headers {
    kind: u16,
    sections: Vec<Section>,
    segments: Vec<Segment>,
}

fn headers(b: &[u8]) -> Result<Headers, String> {
    if b.get(..4) != Some(b"\x7fELF") {
        return Err("not an ELF file".into());
    }
    // EI_CLASS 2 (64-bit), EI_DATA 1 (little-endian).
    if b.get(4) != Some(&2) || b.get(5) != Some(&1) {
        return Err("not a 64-bit little-endian ELF file".into());
    }
    let bad = || "truncated ELF headers".to_string();
    let kind = u16_at(b, 16).ok_or_else(bad)?;
    let phoff = u64_at(b, 32).ok_or_else(bad)? as usize;
    let shoff = u64_at(b, 40).ok_or_else(bad)? as usize;
    let phentsize = u16_at(b, 54).ok_or_else(bad)? as usize;
    let phnum = u16_at(b, 56).ok_or_else(bad)? as usize;
    let shentsize = u16_at(b, 58).ok_or_else(bad)? as usize;
    let shnum = u16_at(b, 60).ok_or_else(bad)? as usize;
    let mut segments = Vec::new();
    for i in 0..phnum {
        let at = phoff + i * phentsize;
        if u32_at(b, at) != Some(PT_LOAD) {
            continue;
        }
        segments.push(Segment {
            offset: u64_at(b, at + 8).ok_or_else(bad)?,
            vaddr: u64_at(b, at + 16).ok_or_else(bad)?,
            filesz: u64_at(b, at + 32).ok_or_else(bad)?,
        });
    }
    let mut sections = Vec::new();
    if shoff != 0 && shentsize >= 64 {
        for i in 0..shnum {
            let at = shoff + i * shentsize;
            sections.push(Section {
                kind: u32_at(b, at + 4).ok_or_else(bad)?,
                offset: u64_at(b, at + 24).ok_or_else(bad)?,
                size: u64_at(b, at + 32).ok_or_else(bad)?,
                link: u32_at(b, at + 40).ok_or_else(bad)?,
                entsize: u64_at(b, at + 56).ok_or_else(bad)?,
            });
        }
    }
    Ok(Headers {
        kind,
        sections,
        segments,
    })
}

/// One defined symbol: where its name lies (file 0 = the ELF, 1 = its debug file), its type,
/// address and size.
#[derive(Clone, Copy, Debug)]
struct Symbol {
    file: u8,
    name_at: u32,
    name_len: u32,
    kind: u8,
    value: u64,
    size: u64,
}

/// A symbol found by name or address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found {
    pub name: String,
    /// The virtual address (`st_value`).
    pub address: u64,
    pub size: u64,
    /// `STT_*`.
    pub kind: u8,
}

/// One ELF file, mapped, with its symbol index (and its debug file's symbols).
pub struct Elf {
    path: String,
    map: Mapping,
    debug: Option<Mapping>,
    kind: u16,
    segments: Vec<Segment>,
    /// Every named symbol with a non-zero value, in bcc's order.
    symbols: Vec<Symbol>,
    /// Name -> indices into `symbols`, built on the first lookup by name.
    by_name: OnceLock<HashMap<Box<str>, Vec<u32>>>,
}

/// The process's ELF files by path, each mapped and indexed once.
fn files() -> &'static Mutex<HashMap<String, Arc<Elf>>> {
    static FILES: OnceLock<Mutex<HashMap<String, Arc<Elf>>>> = OnceLock::new();
    FILES.get_or_init(Mutex::default)
}

/// The file at `path` if this process has already mapped it.
fn opened(path: &str) -> Option<Arc<Elf>> {
    files()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(path)
        .cloned()
}

/// The process's ELF files by path: each file is mapped and indexed once, then shared.
pub fn open(path: &str) -> Result<Arc<Elf>, String> {
    if let Some(elf) = opened(path) {
        return Ok(elf);
    }
    let elf = Arc::new(Elf::read(path)?);
    let mut guard = files().lock().unwrap_or_else(|p| p.into_inner());
    Ok(guard.entry(path.to_string()).or_insert(elf).clone())
}

impl Elf {
    /// Maps and indexes `path` (and its debug file). `open` shares one per path; this makes a
    /// new one.
    pub fn read(path: &str) -> Result<Elf, String> {
        let map = Mapping::open(Path::new(path)).map_err(|e| format!("cannot read {path}: {e}"))?;
        let h = headers(map.bytes()).map_err(|e| format!("{path}: {e}"))?;
        let mut symbols = Vec::new();
        collect_symbols(map.bytes(), &h.sections, 0, &mut symbols);
        let debug = build_id(map.bytes(), &h.sections)
            .and_then(|id| debug_file(&id))
            .and_then(|p| Mapping::open(&p).ok());
        if let Some(d) = &debug {
            if let Ok(dh) = headers(d.bytes()) {
                collect_symbols(d.bytes(), &dh.sections, 1, &mut symbols);
            }
        }
        Ok(Elf {
            path: path.to_string(),
            map,
            debug,
            kind: h.kind,
            segments: h.segments,
            symbols,
            by_name: OnceLock::new(),
        })
    }

    /// The path the file was opened with.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The file's bytes (for readers of other parts of it, such as usdt notes).
    pub fn bytes(&self) -> &[u8] {
        self.map.bytes()
    }

    /// The separate debug file's bytes, when one is installed.
    pub fn debug_bytes(&self) -> Option<&[u8]> {
        self.debug.as_ref().map(Mapping::bytes)
    }

    /// `e_type`: `ET_EXEC`, `ET_DYN`, ...
    pub fn elf_type(&self) -> u16 {
        self.kind
    }

    fn name_of(&self, s: &Symbol) -> &str {
        let bytes = match s.file {
            0 => self.map.bytes(),
            _ => self.debug.as_ref().map_or(&[][..], Mapping::bytes),
        };
        let (at, len) = (s.name_at as usize, s.name_len as usize);
        bytes
            .get(at..at + len)
            .and_then(|b| std::str::from_utf8(b).ok())
            .unwrap_or("")
    }

    fn found(&self, s: &Symbol) -> Found {
        Found {
            name: self.name_of(s).to_string(),
            address: s.value,
            size: s.size,
            kind: s.kind,
        }
    }

    fn index(&self) -> &HashMap<Box<str>, Vec<u32>> {
        self.by_name.get_or_init(|| {
            let mut map: HashMap<Box<str>, Vec<u32>> = HashMap::with_capacity(self.symbols.len());
            for (i, s) in self.symbols.iter().enumerate() {
                map.entry(self.name_of(s).into())
                    .or_default()
                    .push(i as u32);
            }
            map
        })
    }

    /// The first symbol of any type named exactly `name` (as bcc finds it); else, for a name
    /// without a version, the symbol `name@@VERSION` (the default version), else
    /// `name@VERSION`.
    pub fn lookup(&self, name: &str) -> Option<Found> {
        let index = self.index();
        if let Some(&i) = index.get(name).and_then(|v| v.first()) {
            return Some(self.found(&self.symbols[i as usize]));
        }
        if name.contains('@') {
            return None;
        }
        let versioned = |sep: &str| {
            self.symbols.iter().find(|s| {
                self.name_of(s)
                    .strip_prefix(name)
                    .is_some_and(|rest| rest.starts_with(sep) && !rest[sep.len()..].contains('@'))
            })
        };
        versioned("@@")
            .or_else(|| versioned("@"))
            .map(|s| self.found(s))
    }

    /// The first symbol (any type) whose range holds `addr`, as bcc's search does.
    pub fn symbol_at(&self, addr: u64) -> Option<Found> {
        self.symbols
            .iter()
            .find(|s| addr >= s.value && addr < s.value.saturating_add(s.size))
            .map(|s| self.found(s))
    }

    /// The virtual address of a defined symbol (`lookup`).
    pub fn symbol_address(&self, name: &str) -> Result<Option<u64>, String> {
        Ok(self.lookup(name).map(|f| f.address))
    }

    /// Names of the functions (`STT_FUNC` and `STT_GNU_IFUNC`), sorted bytewise and unique:
    /// what bpftrace 0.17 lists and matches wildcards against.
    pub fn functions(&self) -> Result<Vec<String>, String> {
        let mut out: Vec<&str> = self
            .symbols
            .iter()
            .filter(|s| s.kind == STT_FUNC || s.kind == STT_GNU_IFUNC)
            .map(|s| self.name_of(s))
            .filter(|n| !n.is_empty())
            .collect();
        out.sort_unstable();
        out.dedup();
        Ok(out.into_iter().map(str::to_string).collect())
    }

    /// The file offset of a virtual address (through the loadable segments).
    pub fn vaddr_to_offset(&self, addr: u64) -> Result<u64, String> {
        self.segments
            .iter()
            .find_map(|seg| {
                let rel = addr.checked_sub(seg.vaddr)?;
                (rel < seg.filesz).then_some(seg.offset + rel)
            })
            .ok_or_else(|| {
                format!(
                    "address {addr:#x} is not in a loaded segment of {}",
                    self.path
                )
            })
    }
}

/// Appends the named, non-zero symbols of every `.symtab` and `.dynsym` of `b`.
fn collect_symbols(b: &[u8], sections: &[Section], file: u8, out: &mut Vec<Symbol>) {
    for sec in sections {
        if sec.kind != SHT_SYMTAB && sec.kind != SHT_DYNSYM {
            continue;
        }
        let Some(strtab) = sections.get(sec.link as usize) else {
            continue;
        };
        let entsize = if sec.entsize >= 24 { sec.entsize } else { 24 } as usize;
        let (start, size) = (sec.offset as usize, sec.size as usize);
        let Some(table) = b.get(start..start.saturating_add(size)) else {
            continue;
        };
        let (str_start, str_end) = (
            strtab.offset as usize,
            strtab.offset.saturating_add(strtab.size) as usize,
        );
        let Some(strings) = b.get(str_start..str_end) else {
            continue;
        };
        // Entry 0 is the null symbol.
        for entry in table.chunks_exact(entsize).skip(1) {
            let (Some(name), Some(value), Some(size)) =
                (u32_at(entry, 0), u64_at(entry, 8), u64_at(entry, 16))
            else {
                continue;
            };
            let kind = entry[4] & 0xf;
            if value == 0 || name == 0 {
                continue;
            }
            let Some(rest) = strings.get(name as usize..) else {
                continue;
            };
            let len = rest.iter().position(|&c| c == 0).unwrap_or(rest.len());
            if len == 0 {
                continue;
            }
            out.push(Symbol {
                file,
                name_at: (str_start + name as usize) as u32,
                name_len: len as u32,
                kind,
                value,
                size,
            });
        }
    }
}

/// The GNU build id from the file's note sections.
fn build_id(b: &[u8], sections: &[Section]) -> Option<Vec<u8>> {
    for sec in sections.iter().filter(|s| s.kind == SHT_NOTE) {
        let notes = b.get(sec.offset as usize..(sec.offset + sec.size) as usize)?;
        let mut at = 0;
        while at + 12 <= notes.len() {
            let namesz = u32_at(notes, at)? as usize;
            let descsz = u32_at(notes, at + 4)? as usize;
            let kind = u32_at(notes, at + 8)?;
            let name_at = at + 12;
            let desc_at = name_at + namesz.div_ceil(4) * 4;
            let next = desc_at + descsz.div_ceil(4) * 4;
            // NT_GNU_BUILD_ID = 3, owner "GNU\0".
            if kind == 3 && notes.get(name_at..name_at + namesz) == Some(b"GNU\0") {
                return notes.get(desc_at..desc_at + descsz).map(<[u8]>::to_vec);
            }
            at = next;
        }
    }
    None
}

/// `/usr/lib/debug/.build-id/XX/REST.debug` for a build id, when installed.
fn debug_file(id: &[u8]) -> Option<PathBuf> {
    let (first, rest) = id.split_first()?;
    let hex: String = rest.iter().map(|b| format!("{b:02x}")).collect();
    let path = PathBuf::from(format!("/usr/lib/debug/.build-id/{first:02x}/{hex}.debug"));
    path.is_file().then_some(path)
}

/// Whether `path` is an ELF file bpftrace 0.17 would trace: an executable (`X_OK`) or a
/// shared object.
pub fn is_traceable(path: &Path) -> bool {
    // A file already mapped (every uprobe on libc names it again) is not read again.
    if let Some(elf) = path.to_str().and_then(opened) {
        return elf.kind == ET_DYN || is_executable(path);
    }
    file_type(path).is_some_and(|kind| kind == ET_DYN || is_executable(path))
}

/// The `e_type` of the ELF file at `path`, read from its header alone (in the file's byte
/// order); `None` when it cannot be read or is no ELF file.
pub fn file_type(path: &Path) -> Option<u16> {
    use std::io::Read;
    let mut head = [0u8; 18];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .ok()?;
    if head[..4] != *b"\x7fELF" {
        return None;
    }
    Some(match head[5] {
        2 => u16::from_be_bytes([head[16], head[17]]),
        _ => u16::from_le_bytes([head[16], head[17]]),
    })
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: a valid NUL-terminated path.
    unsafe { libc::access(c.as_ptr(), libc::X_OK) == 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIBC: &str = "/lib/x86_64-linux-gnu/libc.so.6";

    #[test]
    fn bash_symbols_and_offsets() {
        let elf = open("/bin/bash").expect("bash");
        let f = elf.lookup("readline").expect("readline");
        assert!(f.size > 0);
        assert_eq!(
            elf.symbol_at(f.address + 1).map(|s| s.name),
            Some("readline".into())
        );
        assert!(elf.functions().unwrap().iter().any(|n| n == "readline"));
        let off = elf.vaddr_to_offset(f.address).expect("offset");
        assert!(off > 0);
        assert!(
            Arc::ptr_eq(&elf, &open("/bin/bash").unwrap()),
            "one index per file"
        );
    }

    #[test]
    fn ifuncs_and_versions() {
        if !Path::new(LIBC).exists() {
            return;
        }
        let elf = open(LIBC).expect("libc");
        let strlen = elf.lookup("strlen").expect("strlen");
        assert_eq!(strlen.kind, STT_GNU_IFUNC);
        assert!(elf.functions().unwrap().iter().any(|n| n == "strlen"));
        assert!(elf.lookup("pthread_create").is_some());
        assert!(elf.lookup("no_such_function_anywhere").is_none());
    }

    #[test]
    fn not_elf() {
        let dir = std::env::temp_dir().join(format!("rtrace-elf-{}", std::process::id()));
        std::fs::write(&dir, b"hello").unwrap();
        let err = Elf::read(dir.to_str().unwrap()).err().unwrap();
        std::fs::remove_file(&dir).ok();
        assert!(err.contains("not an ELF"), "{err}");
        assert!(Elf::read("/no/such/file").is_err());
    }
}
