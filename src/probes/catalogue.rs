//! What parsing and checking need to know of the machine (tracepoint names and formats, kernel
//! functions, ELF symbols), behind one trait: the system catalogue reads tracefs, kallsyms and
//! ELF files lazily and once; the fixture catalogue answers from text given by a test. Asked by
//! `probes::parse_attach`, `probes::list` and `sema` (through `sema::check_with`).

use super::uprobe::Elf;
use super::{kprobe, tracefs, tracepoint, TpFormat};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

/// The machine as the front end sees it. Every answer is an error message ready for the
/// attach point's span when the machine cannot give it.
pub trait Catalogue {
    /// Every tracepoint as `(category, name)`, sorted as bpftrace lists them (bytewise on
    /// `category:name`), unique.
    fn tracepoints(&self) -> Result<Vec<(String, String)>, String>;

    /// The text of `events/CATEGORY/NAME/format`.
    fn format_text(&self, category: &str, name: &str) -> Result<String, String>;

    /// The record layout of `CATEGORY:NAME` (without `common_*` fields).
    fn format(&self, category: &str, name: &str) -> Result<TpFormat, String> {
        let text = self.format_text(category, name)?;
        tracepoint::parse_format(&text).map_err(|e| format!("tracepoint {category}:{name}: {e}"))
    }

    /// Whether the kernel can create kprobes.
    fn kprobes_available(&self) -> bool;

    /// Traceable kernel functions, sorted and unique; empty without kprobes.
    fn kernel_functions(&self) -> Vec<String>;

    /// The file a uprobe target names (`libc` -> `/lib/.../libc.so.6`, `bash` -> `/usr/bin/bash`).
    fn resolve_binary(&self, name: &str) -> Result<String, String>;

    /// Whether the ELF file at `path` defines `symbol`.
    fn has_symbol(&self, path: &str, symbol: &str) -> Result<bool, String>;

    /// The functions the ELF file at `path` defines, sorted and unique.
    fn functions(&self, path: &str) -> Result<Vec<String>, String>;
}

/// The running machine's catalogue, shared by the whole process so each file is read once.
pub fn system() -> &'static System {
    static SYSTEM: OnceLock<System> = OnceLock::new();
    SYSTEM.get_or_init(System::default)
}

/// The catalogue of the running machine: tracefs, `/proc/kallsyms`, ELF files. Parsed formats
/// and ELF files are kept for the rest of the process: a script with many probes on one
/// tracepoint or library reads it once.
#[derive(Default)]
pub struct System {
    formats: Mutex<HashMap<PathBuf, TpFormat>>,
    elves: Mutex<HashMap<String, Arc<Elf>>>,
}

impl System {
    fn elf(&self, path: &str) -> Result<Arc<Elf>, String> {
        let mut elves = self.elves.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(elf) = elves.get(path) {
            return Ok(elf.clone());
        }
        let elf = Arc::new(Elf::read(path)?);
        elves.insert(path.to_string(), elf.clone());
        Ok(elf)
    }
}

/// `ROOT/events/CATEGORY/NAME/format`, for names that stay inside `events/`.
fn format_path(category: &str, name: &str) -> Result<PathBuf, String> {
    if ![category, name].iter().all(|s| tracefs::safe_name(s)) {
        return Err(no_match(category, name));
    }
    let mut path = tracefs::root()?;
    path.extend(["events", category, name, "format"]);
    Ok(path)
}

fn no_match(category: &str, name: &str) -> String {
    format!("no tracepoint matches '{category}:{name}'")
}

fn read_format(path: &Path, category: &str, name: &str) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => no_match(category, name),
        std::io::ErrorKind::PermissionDenied => tracefs::not_readable(path),
        _ => format!("cannot read {}: {e}", path.display()),
    })
}

impl Catalogue for System {
    fn tracepoints(&self) -> Result<Vec<(String, String)>, String> {
        let root = tracefs::root()?;
        let mut out: Vec<(String, String)> =
            match std::fs::read_to_string(root.join("available_events")) {
                Ok(text) => text
                    .lines()
                    .filter_map(|l| l.trim().split_once(':'))
                    .map(|(c, n)| (c.to_string(), n.to_string()))
                    .collect(),
                Err(_) => tracepoint::scan_events(&root.join("events"))?,
            };
        out.sort_by_cached_key(|(c, n)| format!("{c}:{n}"));
        out.dedup();
        Ok(out)
    }

    fn format_text(&self, category: &str, name: &str) -> Result<String, String> {
        let path = format_path(category, name)?;
        read_format(&path, category, name)
    }

    fn format(&self, category: &str, name: &str) -> Result<TpFormat, String> {
        let path = format_path(category, name)?;
        let cached = |formats: &Mutex<HashMap<PathBuf, TpFormat>>| {
            let guard = formats.lock().unwrap_or_else(|p| p.into_inner());
            guard.get(&path).cloned()
        };
        if let Some(f) = cached(&self.formats) {
            return Ok(f);
        }
        let text = read_format(&path, category, name)?;
        let f = tracepoint::parse_format(&text)
            .map_err(|e| format!("tracepoint {category}:{name}: {e}"))?;
        let mut guard = self.formats.lock().unwrap_or_else(|p| p.into_inner());
        guard.insert(path, f.clone());
        Ok(f)
    }

    fn kprobes_available(&self) -> bool {
        kprobe::available()
    }

    fn kernel_functions(&self) -> Vec<String> {
        kprobe::functions()
    }

    fn resolve_binary(&self, name: &str) -> Result<String, String> {
        super::uprobe::resolve_path(name)
    }

    fn has_symbol(&self, path: &str, symbol: &str) -> Result<bool, String> {
        Ok(self.elf(path)?.symbol_address(symbol)?.is_some())
    }

    fn functions(&self, path: &str) -> Result<Vec<String>, String> {
        self.elf(path)?.functions()
    }
}

/// A catalogue made of text, for tests that run without root, tracefs or the files a real
/// machine has: tracepoint formats as their format files would read, kernel functions, and
/// binaries with their function names.
#[derive(Default)]
pub struct Fixture {
    formats: BTreeMap<(String, String), String>,
    kernel_functions: Vec<String>,
    binaries: BTreeMap<String, Vec<String>>,
}

impl Fixture {
    pub fn new() -> Fixture {
        Fixture::default()
    }

    /// Adds the tracepoint `CATEGORY:NAME` with the text of its format file.
    pub fn tracepoint(mut self, category: &str, name: &str, format: &str) -> Fixture {
        self.formats
            .insert((category.into(), name.into()), format.into());
        self
    }

    /// Adds kernel functions, which also makes kprobes available.
    pub fn kernel_functions(mut self, names: &[&str]) -> Fixture {
        self.kernel_functions = names.iter().map(|s| s.to_string()).collect();
        self.kernel_functions.sort();
        self.kernel_functions.dedup();
        self
    }

    /// Adds a binary at `path` defining the functions `names`.
    pub fn binary(mut self, path: &str, names: &[&str]) -> Fixture {
        let mut names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        names.sort();
        names.dedup();
        self.binaries.insert(path.into(), names);
        self
    }

    fn binary_functions(&self, path: &str) -> Result<&Vec<String>, String> {
        self.binaries
            .get(path)
            .ok_or_else(|| format!("cannot read {path}: not in the fixture"))
    }
}

impl Catalogue for Fixture {
    fn tracepoints(&self) -> Result<Vec<(String, String)>, String> {
        let mut out: Vec<(String, String)> = self.formats.keys().cloned().collect();
        out.sort_by_cached_key(|(c, n)| format!("{c}:{n}"));
        Ok(out)
    }

    fn format_text(&self, category: &str, name: &str) -> Result<String, String> {
        self.formats
            .get(&(category.to_string(), name.to_string()))
            .cloned()
            .ok_or_else(|| no_match(category, name))
    }

    fn kprobes_available(&self) -> bool {
        !self.kernel_functions.is_empty()
    }

    fn kernel_functions(&self) -> Vec<String> {
        self.kernel_functions.clone()
    }

    fn resolve_binary(&self, name: &str) -> Result<String, String> {
        if self.binaries.contains_key(name) {
            return Ok(name.to_string());
        }
        let found = self.binaries.keys().find(|p| {
            Path::new(p)
                .file_name()
                .is_some_and(|f| f.to_string_lossy().split('.').next() == Some(name))
        });
        found
            .cloned()
            .ok_or_else(|| format!("uprobe target '{name}' is not a path, a library or a program"))
    }

    fn has_symbol(&self, path: &str, symbol: &str) -> Result<bool, String> {
        Ok(self.binary_functions(path)?.iter().any(|f| f == symbol))
    }

    fn functions(&self, path: &str) -> Result<Vec<String>, String> {
        self.binary_functions(path).cloned()
    }
}
