//! What parsing and checking need to know of the machine (tracepoint names and formats, kernel
//! functions, ELF symbols), behind one trait: the system catalogue (`system.rs`) reads the
//! machine, the fixture catalogue here answers from text (and BTF bytes) a test gives. Asked by
//! `probes::parse_attach`, `probes::list` and `sema` (through `sema::check_with`).

use super::usdt::notes::UsdtProbe;
use super::{format, glob_match, TpFormat};
use crate::btf::Btf;
use std::collections::BTreeMap;
use std::path::Path;

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
        format::parse_format(&text).map_err(|e| format!("tracepoint {category}:{name}: {e}"))
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

    /// The kernel's BTF (C types of structs, unions, enums, typedefs and function
    /// prototypes), read and parsed on first use and kept: a script that names no C type
    /// never reads it. The error says why there is none (no file, unreadable, malformed).
    fn btf(&self) -> Result<&Btf, String> {
        Err("no BTF in this catalogue".into())
    }

    /// The address of a kernel symbol (`/proc/kallsyms`), for `kaddr()`.
    fn kernel_symbol(&self, _name: &str) -> Option<u64> {
        None
    }

    /// The USDT probes of the ELF file at `path` (its `.note.stapsdt` notes); empty when it
    /// has none.
    fn usdt_probes(&self, path: &str) -> Result<Vec<UsdtProbe>, String>;

    /// The process `-p` names: usdt probes then come from the files it maps.
    fn target_pid(&self) -> Option<i32> {
        None
    }

    /// The executable files process `pid` maps, as `/proc/PID/root/PATH` (readable from
    /// another mount namespace), in the order of its memory map, unique.
    fn process_files(&self, pid: i32) -> Result<Vec<String>, String>;

    /// The ELF executables and shared objects whose path matches the glob `pattern`, sorted,
    /// as written (a relative pattern gives relative paths).
    fn glob_files(&self, pattern: &str) -> Vec<String>;

    /// `path` made absolute with symbolic links resolved; `None` when it does not exist.
    fn real_path(&self, path: &str) -> Option<String>;
}

/// A catalogue made of text, for tests that run without root, tracefs or the files a real
/// machine has: tracepoint formats as their format files would read, kernel functions,
/// binaries with their function names, and BTF bytes.
#[derive(Default)]
pub struct Fixture {
    formats: BTreeMap<(String, String), String>,
    kernel_functions: Vec<String>,
    binaries: BTreeMap<String, Vec<String>>,
    btf: Option<Result<Btf, String>>,
    usdt: BTreeMap<String, Vec<UsdtProbe>>,
    processes: BTreeMap<i32, Vec<String>>,
    pid: Option<i32>,
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

    /// Uses `bytes` as the kernel's BTF (tests write them with `btf::tests::Writer`); named
    /// apart from `Catalogue::btf`, which reads it back.
    pub fn with_btf(mut self, bytes: Vec<u8>) -> Fixture {
        self.btf = Some(Btf::parse(bytes));
        self
    }

    /// Adds an ELF file at `path` holding the USDT probes `probes`.
    pub fn usdt(mut self, path: &str, probes: Vec<UsdtProbe>) -> Fixture {
        self.binaries.entry(path.into()).or_default();
        self.usdt.insert(path.into(), probes);
        self
    }

    /// Adds a process `pid` mapping `files` (written as `/proc/PID/root/PATH`).
    pub fn process(mut self, pid: i32, files: &[&str]) -> Fixture {
        self.processes
            .insert(pid, files.iter().map(|s| s.to_string()).collect());
        self
    }

    /// Points the catalogue at process `pid`, as `-p PID` does.
    pub fn target(mut self, pid: i32) -> Fixture {
        self.pid = Some(pid);
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

    fn usdt_probes(&self, path: &str) -> Result<Vec<UsdtProbe>, String> {
        // A process's file, `/proc/PID/root/PATH`, is the fixture's `PATH`.
        let path = path
            .strip_prefix("/proc/")
            .and_then(|p| p.split_once("/root"))
            .map_or(path, |(_, p)| p);
        match self.usdt.get(path) {
            Some(p) => Ok(p.clone()),
            None => self.binary_functions(path).map(|_| Vec::new()),
        }
    }

    fn target_pid(&self) -> Option<i32> {
        self.pid
    }

    fn process_files(&self, pid: i32) -> Result<Vec<String>, String> {
        self.processes
            .get(&pid)
            .cloned()
            .ok_or_else(|| format!("no process {pid} in the fixture"))
    }

    fn glob_files(&self, pattern: &str) -> Vec<String> {
        self.binaries
            .keys()
            .filter(|p| glob_match(pattern, p))
            .cloned()
            .collect()
    }

    fn real_path(&self, path: &str) -> Option<String> {
        let path = path.strip_prefix("./").unwrap_or(path);
        let abs = if path.starts_with('/') {
            path.to_string()
        } else {
            format!("/{path}")
        };
        self.binaries.contains_key(&abs).then_some(abs)
    }

    fn btf(&self) -> Result<&Btf, String> {
        match &self.btf {
            Some(btf) => btf.as_ref().map_err(Clone::clone),
            None => Err("no BTF in the fixture".into()),
        }
    }
}

/// The message for a tracepoint that does not exist.
pub(crate) fn no_match(category: &str, name: &str) -> String {
    format!("no tracepoint matches '{category}:{name}'")
}
