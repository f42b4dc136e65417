//! What parsing and checking need to know of the machine (tracepoint names and formats, kernel
//! functions, ELF symbols), behind one trait: the system catalogue (`system.rs`) reads the
//! machine, the fixture catalogue here answers from text (and BTF bytes) a test gives. Asked by
//! `probes::parse_attach`, `probes::list` and `sema` (through `sema::check_with`).

use super::elf::Found;
use super::elf_dwarf::{Dwarf, Param, Place};
use super::usdt::notes::UsdtProbe;
use super::{format, glob_match, TpField, TpFormat};
use crate::btf::Btf;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

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

    /// The file a uprobe target names (`libc` -> `/lib/.../libc.so.6`, `bash` -> `/usr/bin/bash`):
    /// the first of `binary_paths`, after `which_so` for a `lib...` name.
    fn resolve_binary(&self, name: &str) -> Result<String, String> {
        let target = self.which_so(name).unwrap_or_else(|| name.to_string());
        self.binary_paths(&target)
            .into_iter()
            .next()
            .ok_or_else(|| {
                format!("uprobe target file '{name}' does not exist or is not executable")
            })
    }

    /// The process `-p` names, when one was given: uprobe targets are then resolved in its
    /// maps and mount namespace.
    fn pid(&self) -> Option<i32> {
        None
    }

    /// The executable of the `-p` process, as a path this process can open.
    fn pid_exe(&self) -> Option<String> {
        None
    }

    /// The program of the `-c` command, as bpftrace names it (its first word, found as
    /// `binary_paths` finds it: `./prog` stays relative, `ls` becomes `/usr/bin/ls`); `None`
    /// without `-c`.
    fn command(&self) -> Option<String> {
        None
    }

    /// The library a `libNAME` target names (the `-p` process's maps, else ld.so.cache).
    fn which_so(&self, _target: &str) -> Option<String> {
        None
    }

    /// Every ELF executable or shared object a target names, as bpftrace's
    /// `resolve_binary_path` finds them (the path, `$PATH` for a bare name, `*` globbed).
    fn binary_paths(&self, target: &str) -> Vec<String>;

    /// The symbol (any type) named `symbol` in the ELF file at `path`.
    fn symbol(&self, path: &str, symbol: &str) -> Result<Option<Found>, String>;

    /// The symbol whose range holds the virtual address `addr` in the file at `path`.
    fn symbol_at(&self, path: &str, addr: u64) -> Result<Option<Found>, String>;

    /// Whether the ELF file at `path` defines `symbol`.
    fn has_symbol(&self, path: &str, symbol: &str) -> Result<bool, String> {
        Ok(self.symbol(path, symbol)?.is_some())
    }

    /// The functions the ELF file at `path` defines, sorted and unique.
    fn functions(&self, path: &str) -> Result<Vec<String>, String>;

    /// The kernel's BTF (C types of structs, unions, enums, typedefs and function
    /// prototypes), read and parsed on first use and kept: a script that names no C type
    /// never reads it. The error says why there is none (no file, unreadable, malformed).
    fn btf(&self) -> Result<&Btf, String> {
        Err("no BTF in this catalogue".into())
    }

    /// The DWARF of the ELF file at `path` (or of its debug file), read once and kept;
    /// `None` when it has none.
    fn dwarf(&self, _path: &str) -> Option<Arc<Dwarf>> {
        None
    }

    /// The parameters of `func` in the ELF file at `path` from its DWARF; `None` when the
    /// file has no DWARF.
    fn dwarf_params(&self, path: &str, func: &str) -> Option<Vec<Param>> {
        self.dwarf(path).map(|d| d.params(func))
    }

    /// The parameters of `func` as `-lv` prints them (`int argc`); `None` without DWARF.
    fn function_params(&self, path: &str, func: &str) -> Option<Vec<String>> {
        self.dwarf_params(path, func)
            .map(|ps| ps.iter().map(Param::decl).collect())
    }

    /// `args` of a uprobe on `func`: its DWARF parameters as a record laid over the
    /// registers that carry them (`pt_regs`, the uprobe's context): those passed in the
    /// integer registers rtrace reads (`arg0`...`arg5`); `None` without DWARF.
    fn uprobe_args(&self, path: &str, func: &str) -> Option<TpFormat> {
        let params = self.dwarf_params(path, func)?;
        let fields = params
            .iter()
            .filter_map(|p| {
                let Place::Register(i) = p.place else {
                    return None;
                };
                let offset = super::arch::pt_regs_offset(&format!("arg{i}"))?;
                matches!(p.size, 1 | 2 | 4 | 8).then(|| TpField {
                    name: p.name.clone(),
                    c_type: p.type_name.clone(),
                    offset,
                    size: p.size,
                    signed: p.signed,
                    data_loc: false,
                    array_len: None,
                    pointer: p.pointer,
                })
            })
            .collect();
        Some(TpFormat { fields })
    }

    /// Whether the kernel can load and attach kfunc (fentry/fexit) programs.
    fn kfuncs_available(&self) -> bool {
        false
    }

    /// Why the kernel cannot run kfunc programs (its answer to loading one), or `None` when
    /// it can.
    fn kfunc_refusal(&self) -> Option<String> {
        (!self.kfuncs_available()).then(|| "no kernel in this catalogue".to_string())
    }

    /// Whether the kernel loads a BPF iterator program against the function of BTF id
    /// `btf_id` (`bpf_iter_task`); `Err` holds the kernel's reason when it does not.
    fn iter_loads(&self, _btf_id: u32) -> Result<(), String> {
        Err("no kernel in this catalogue".into())
    }

    /// The address of a kernel symbol (`/proc/kallsyms`), for `kaddr()`.
    fn kernel_symbol(&self, _name: &str) -> Option<u64> {
        None
    }

    /// The id of the cgroup (v2) at `path`, for `cgroupid()`: the kernel's cgroup id is the
    /// inode number of its directory in the cgroup2 file system.
    fn cgroup_id(&self, path: &str) -> Result<u64, String> {
        Err(format!("no cgroup {path} in this catalogue"))
    }

    /// The address and size of a data symbol (STT_OBJECT) of the ELF file at `path`, for
    /// `uaddr()`; `Ok(None)` when the file has none of that name.
    fn user_object(&self, path: &str, _name: &str) -> Result<Option<(u64, u64)>, String> {
        Err(format!("cannot read {path}: not in this catalogue"))
    }

    /// `--compile-only`: what the machine lacks (kprobes, a symbol) is noted, not an error,
    /// so a script written for another machine compiles here.
    fn compile_only(&self) -> bool {
        false
    }

    /// Records a note for `--compile-only` (printed as a warning once compiling succeeds).
    fn note(&self, _message: String) {}

    /// The machine lacks something a probe needs: an error, or with `--compile-only` a note.
    fn lacking(&self, message: String) -> Result<(), String> {
        if self.compile_only() {
            self.note(message);
            Ok(())
        } else {
            Err(message)
        }
    }

    /// The USDT probes of the ELF file at `path` (its `.note.stapsdt` notes); empty when it
    /// has none.
    fn usdt_probes(&self, path: &str) -> Result<Vec<UsdtProbe>, String>;

    /// The process `-p` names: usdt probes then come from the files it maps.
    fn target_pid(&self) -> Option<i32> {
        self.pid()
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
    /// Data symbols by (binary, name): address and size.
    objects: BTreeMap<(String, String), (u64, u64)>,
    btf: Option<Result<Btf, String>>,
    pid: Option<(i32, String)>,
    command: Option<String>,
    kfuncs: bool,
    iters: bool,
    usdt: BTreeMap<String, Vec<UsdtProbe>>,
    processes: BTreeMap<i32, Vec<String>>,
    /// Real files whose DWARF the catalogue reads, by path.
    dwarf: BTreeMap<String, Arc<Dwarf>>,
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

    /// Adds a data symbol `name` of `size` bytes at `addr` to the binary at `path`.
    pub fn object(mut self, path: &str, name: &str, addr: u64, size: u64) -> Fixture {
        self.objects
            .insert((path.into(), name.into()), (addr, size));
        self
    }

    /// Makes kfunc (fentry/fexit) probes available.
    pub fn with_kfuncs(mut self) -> Fixture {
        self.kfuncs = true;
        self
    }

    /// Makes the fixture's kernel load iterator programs (its BTF must still name them).
    pub fn with_iters(mut self) -> Fixture {
        self.iters = true;
        self
    }

    /// Makes `-p PID` given, the process running the fixture binary `exe`.
    pub fn with_pid(mut self, pid: i32, exe: &str) -> Fixture {
        self.pid = Some((pid, exe.into()));
        self
    }

    /// Makes `-c CMD` given, its program the fixture binary `program`.
    pub fn with_command(mut self, program: &str) -> Fixture {
        self.command = Some(program.into());
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

    /// Adds the real ELF file at `path` (a test builds it with `cc -g`) with its functions
    /// and its DWARF.
    pub fn dwarf_binary(mut self, path: &str) -> Result<Fixture, String> {
        let elf = Arc::new(super::elf::Elf::read(path)?);
        let dwarf = Dwarf::open(&elf)?.ok_or_else(|| format!("{path} has no DWARF"))?;
        let functions = elf.functions()?;
        self.binaries.insert(path.into(), functions);
        self.dwarf.insert(path.into(), Arc::new(dwarf));
        Ok(self)
    }

    /// Points the catalogue at process `pid`, as `-p PID` does (its executable unknown).
    pub fn target(mut self, pid: i32) -> Fixture {
        self.pid = Some((pid, String::new()));
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

    fn pid(&self) -> Option<i32> {
        self.pid.as_ref().map(|(p, _)| *p)
    }

    fn kfuncs_available(&self) -> bool {
        self.kfuncs
    }

    fn iter_loads(&self, _btf_id: u32) -> Result<(), String> {
        if self.iters {
            Ok(())
        } else {
            Err("the fixture's kernel loads no iterators".into())
        }
    }

    fn pid_exe(&self) -> Option<String> {
        self.pid.as_ref().map(|(_, e)| e.clone())
    }

    fn command(&self) -> Option<String> {
        self.command.clone()
    }

    /// `libNAME` -> the fixture binary whose file name is `libNAME.so...`.
    fn which_so(&self, target: &str) -> Option<String> {
        let name = target.strip_prefix("lib")?;
        let prefix = format!("lib{name}.so");
        self.binaries
            .keys()
            .find(|p| {
                Path::new(p)
                    .file_name()
                    .is_some_and(|f| f.to_string_lossy().starts_with(&prefix))
            })
            .cloned()
    }

    /// The binary at that path, a binary of that file name, or those a `*` pattern matches.
    fn binary_paths(&self, target: &str) -> Vec<String> {
        self.binaries
            .keys()
            .filter(|p| {
                *p == target
                    || (target.contains('*') && glob_match(target, p))
                    || (!target.contains('/')
                        && Path::new(p)
                            .file_name()
                            .is_some_and(|f| f.to_string_lossy() == target))
            })
            .cloned()
            .collect()
    }

    /// Fixture functions are 16 bytes each, from 0x1000 in name order.
    fn symbol(&self, path: &str, symbol: &str) -> Result<Option<Found>, String> {
        let funcs = self.binary_functions(path)?;
        Ok(funcs
            .iter()
            .position(|f| f == symbol)
            .map(|i| fixture_symbol(symbol, i)))
    }

    fn symbol_at(&self, path: &str, addr: u64) -> Result<Option<Found>, String> {
        let funcs = self.binary_functions(path)?;
        let Some(i) = addr.checked_sub(0x1000).map(|a| (a / 16) as usize) else {
            return Ok(None);
        };
        Ok(funcs.get(i).map(|name| fixture_symbol(name, i)))
    }

    fn functions(&self, path: &str) -> Result<Vec<String>, String> {
        self.binary_functions(path).cloned()
    }

    fn dwarf(&self, path: &str) -> Option<Arc<Dwarf>> {
        self.dwarf.get(path).cloned()
    }

    fn user_object(&self, path: &str, name: &str) -> Result<Option<(u64, u64)>, String> {
        self.binary_functions(path)?;
        Ok(self.objects.get(&(path.into(), name.into())).copied())
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

    fn process_files(&self, pid: i32) -> Result<Vec<String>, String> {
        // A process set with `with_pid` maps its executable alone.
        let exe = self
            .pid
            .as_ref()
            .filter(|(p, exe)| *p == pid && !exe.is_empty())
            .map(|(_, exe)| vec![exe.clone()]);
        self.processes
            .get(&pid)
            .cloned()
            .or(exe)
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

/// The `i`th function of a fixture binary: 16 bytes at `0x1000 + 16 * i`.
fn fixture_symbol(name: &str, i: usize) -> Found {
    Found {
        name: name.to_string(),
        address: 0x1000 + 16 * i as u64,
        size: 16,
        kind: super::elf::STT_FUNC,
    }
}

/// The message for a tracepoint that does not exist (bpftrace 0.17's words).
pub(crate) fn no_match(category: &str, name: &str) -> String {
    format!("tracepoint not found: {category}:{name}")
}
