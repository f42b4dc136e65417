//! The catalogue of the running machine: tracepoint names and formats from tracefs, kernel
//! functions, ELF symbols of uprobe targets, the kernel's BTF, each read when first asked and
//! kept; asked by
//! sema (through `sema::check`), `parse_attach` and `-l`.

use super::catalogue::{no_match, Catalogue};
use super::elf::{self, Elf, Found};
use super::elf_dwarf::Dwarf;
use super::usdt::files;
use super::usdt::notes::{self, UsdtProbe};
use super::{elf_paths, format, kprobe, tracefs, tracepoint, TpFormat};
use crate::btf::Btf;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

/// Each file's DWARF by path, or `None` without DWARF.
type DwarfFiles = HashMap<String, Option<Arc<Dwarf>>>;

/// The running machine's catalogue, shared by the whole process so each file is read once.
pub fn catalogue() -> &'static System {
    static SYSTEM: OnceLock<System> = OnceLock::new();
    SYSTEM.get_or_init(System::default)
}

/// The running machine's catalogue pointed at process `pid` (`-p PID`: uprobe libraries and
/// usdt probes come from the files it maps), or the plain one without a pid.
pub fn catalogue_for(pid: Option<i32>) -> &'static System {
    let cat = catalogue();
    if let Some(pid) = pid {
        cat.set_pid(pid);
    }
    cat
}

/// The catalogue of the running machine: tracefs, `/proc/kallsyms`, ELF files, BTF. Parsed
/// formats, ELF files and BTF are kept for the rest of the process: a script with many probes on one
/// tracepoint or library reads it once.
#[derive(Default)]
pub struct System {
    /// The tracefs to read; `None` for the machine's (`tracefs::root`).
    tracefs: Option<PathBuf>,
    formats: Mutex<HashMap<PathBuf, TpFormat>>,
    /// `-p PID`, set once by the driver before anything is parsed or listed.
    pid: OnceLock<i32>,
    /// `-c CMD`, set once by the driver before anything is parsed.
    command: OnceLock<String>,
    /// The kernel's BTF, read on first use (`btf_path`).
    btf: OnceLock<Result<Btf, String>>,
    /// Each ELF file's DWARF (`None`: the file has none), by path, read on first use.
    dwarf: Mutex<DwarfFiles>,
    /// Whether fentry programs load (else the kernel's answer), checked on first use.
    kfuncs: OnceLock<Result<(), String>>,
    /// /proc/kallsyms by name, read on first use.
    kallsyms: OnceLock<HashMap<String, u64>>,
    /// `--compile-only`: what the machine lacks is noted (`notes`), not an error.
    compile_only: std::sync::atomic::AtomicBool,
    notes: Mutex<Vec<String>>,
    /// USDT probes by file, read on first use.
    usdt: Mutex<HashMap<String, Vec<UsdtProbe>>>,
}

impl System {
    /// A catalogue that reads tracepoints from a copy of tracefs (tests use a fixture) and
    /// everything else from the machine.
    pub fn with_tracefs(dir: impl Into<PathBuf>) -> System {
        System {
            tracefs: Some(dir.into()),
            ..System::default()
        }
    }

    fn tracefs(&self) -> Result<PathBuf, String> {
        match &self.tracefs {
            Some(dir) => Ok(dir.clone()),
            None => tracefs::root(),
        }
    }

    /// `ROOT/events/CATEGORY/NAME/format`, for names that stay inside `events/`.
    fn format_path(&self, category: &str, name: &str) -> Result<PathBuf, String> {
        if ![category, name].iter().all(|s| tracefs::safe_name(s)) {
            return Err(no_match(category, name));
        }
        let mut path = self.tracefs()?;
        path.extend(["events", category, name, "format"]);
        Ok(path)
    }

    /// The ELF file at `path`, mapped and indexed once per process (`elf::open`).
    fn elf(&self, path: &str) -> Result<Arc<Elf>, String> {
        elf::open(path)
    }

    /// Makes `-p PID` the process uprobe targets are resolved in. The first call wins.
    /// `--compile-only`: from now on, what the machine lacks is a note (`take_notes`).
    pub fn set_compile_only(&self) {
        self.compile_only
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// The notes recorded since the last call, in order, each once.
    pub fn take_notes(&self) -> Vec<String> {
        let mut notes = self.notes.lock().unwrap_or_else(|p| p.into_inner());
        let mut out: Vec<String> = Vec::new();
        for n in notes.drain(..) {
            if !out.contains(&n) {
                out.push(n);
            }
        }
        out
    }

    pub fn set_pid(&self, pid: i32) {
        let _ = self.pid.set(pid);
    }

    /// Makes `-c CMD` the command whose program function watchpoints are placed in. The
    /// first call wins.
    pub fn set_command(&self, cmd: &str) {
        let _ = self.command.set(cmd.to_string());
    }
}

/// The kernel's BTF file: `$BPFTRACE_BTF` when set (as bpftrace honours it, given here as
/// `env`), else `/sys/kernel/btf/vmlinux`.
fn btf_path(env: Option<std::ffi::OsString>) -> PathBuf {
    match env {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => PathBuf::from("/sys/kernel/btf/vmlinux"),
    }
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
        let root = self.tracefs()?;
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
        let path = self.format_path(category, name)?;
        read_format(&path, category, name)
    }

    fn format(&self, category: &str, name: &str) -> Result<TpFormat, String> {
        let path = self.format_path(category, name)?;
        let cached = |formats: &Mutex<HashMap<PathBuf, TpFormat>>| {
            let guard = formats.lock().unwrap_or_else(|p| p.into_inner());
            guard.get(&path).cloned()
        };
        if let Some(f) = cached(&self.formats) {
            return Ok(f);
        }
        let text = read_format(&path, category, name)?;
        let f = format::parse_format(&text)
            .map_err(|e| format!("tracepoint {category}:{name}: {e}"))?;
        let mut guard = self.formats.lock().unwrap_or_else(|p| p.into_inner());
        guard.insert(path, f.clone());
        Ok(f)
    }

    fn kprobes_available(&self) -> bool {
        kprobe::available()
    }

    fn kernel_functions(&self) -> Vec<String> {
        if self.compile_only() && !kprobe::available() {
            return kprobe::traceable_functions();
        }
        kprobe::functions()
    }

    fn compile_only(&self) -> bool {
        self.compile_only.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn note(&self, message: String) {
        self.notes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(message);
    }

    fn pid(&self) -> Option<i32> {
        self.pid.get().copied()
    }

    fn command(&self) -> Option<String> {
        let program = self.command.get()?.split_whitespace().next()?.to_string();
        Some(
            self.binary_paths(&program)
                .into_iter()
                .next()
                .unwrap_or(program),
        )
    }

    fn pid_exe(&self) -> Option<String> {
        let pid = self.pid()?;
        elf_paths::pid_exe(pid).map(|exe| elf_paths::path_for_pid_mountns(pid, &exe))
    }

    fn which_so(&self, target: &str) -> Option<String> {
        elf_paths::which_so(target, self.pid())
    }

    fn binary_paths(&self, target: &str) -> Vec<String> {
        elf_paths::resolve_binary_path(target, self.pid())
    }

    fn symbol(&self, path: &str, symbol: &str) -> Result<Option<Found>, String> {
        Ok(self.elf(path)?.lookup(symbol))
    }

    fn symbol_at(&self, path: &str, addr: u64) -> Result<Option<Found>, String> {
        Ok(self.elf(path)?.symbol_at(addr))
    }

    fn dwarf(&self, path: &str) -> Option<Arc<Dwarf>> {
        let mut cache = self.dwarf.lock().unwrap_or_else(|p| p.into_inner());
        cache
            .entry(path.to_string())
            .or_insert_with(|| {
                let elf = self.elf(path).ok()?;
                Dwarf::open(&elf).ok().flatten().map(Arc::new)
            })
            .clone()
    }

    fn functions(&self, path: &str) -> Result<Vec<String>, String> {
        self.elf(path)?.functions()
    }

    fn btf(&self) -> Result<&Btf, String> {
        let btf = self
            .btf
            .get_or_init(|| Btf::open(&btf_path(std::env::var_os("BPFTRACE_BTF"))));
        btf.as_ref().map_err(Clone::clone)
    }

    fn cgroup_id(&self, path: &str) -> Result<u64, String> {
        use std::os::unix::fs::MetadataExt;
        const CGROUP2_SUPER_MAGIC: i64 = 0x6367_7270;
        const CGROUP_SUPER_MAGIC: i64 = 0x0027_e0eb;
        let meta = std::fs::metadata(path).map_err(|e| {
            format!(
                "cannot read cgroup {path}: {}",
                crate::output::os_error_text(&e)
            )
        })?;
        let c_path = std::ffi::CString::new(path).map_err(|_| format!("bad path {path:?}"))?;
        // SAFETY: statfs writes into `fs`, a zeroed plain C struct, and reads the NUL-ended path.
        let mut fs: libc::statfs = unsafe { std::mem::zeroed() };
        if unsafe { libc::statfs(c_path.as_ptr(), &mut fs) } != 0 {
            let e = std::io::Error::last_os_error();
            return Err(format!("cannot read cgroup {path}: {e}"));
        }
        let magic = fs.f_type as i64;
        if !meta.is_dir() || (magic != CGROUP2_SUPER_MAGIC && magic != CGROUP_SUPER_MAGIC) {
            return Err(format!(
                "{path} is not a cgroup: give a directory of a cgroup2 (or cgroup) mount"
            ));
        }
        Ok(meta.ino())
    }

    fn user_object(&self, path: &str, name: &str) -> Result<Option<(u64, u64)>, String> {
        crate::symbols::elf::object_symbol(std::path::Path::new(path), name)
    }

    fn iter_loads(&self, btf_id: u32) -> Result<(), String> {
        super::iter::load_test(btf_id)
    }

    fn kfuncs_available(&self) -> bool {
        self.kfunc_refusal().is_none()
    }

    fn kfunc_refusal(&self) -> Option<String> {
        self.kfuncs
            .get_or_init(|| {
                let btf = self.btf().map_err(|e| format!("no kernel BTF: {e}"))?;
                super::kfunc::load_test(btf)
            })
            .clone()
            .err()
    }

    fn usdt_probes(&self, path: &str) -> Result<Vec<UsdtProbe>, String> {
        let mut cache = self.usdt.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(p) = cache.get(path) {
            return Ok(p.clone());
        }
        let data = std::fs::read(path).map_err(|e| format!("cannot read {path}: {e}"))?;
        let probes = notes::read(&data).map_err(|e| format!("{path}: {e}"))?;
        cache.insert(path.to_string(), probes.clone());
        Ok(probes)
    }

    fn process_files(&self, pid: i32) -> Result<Vec<String>, String> {
        files::process_files(pid)
    }

    fn glob_files(&self, pattern: &str) -> Vec<String> {
        files::glob_files(pattern)
    }

    fn real_path(&self, path: &str) -> Option<String> {
        std::fs::canonicalize(path)
            .ok()
            .map(|p| p.to_string_lossy().into_owned())
    }

    fn kernel_symbol(&self, name: &str) -> Option<u64> {
        let syms = self.kallsyms.get_or_init(|| {
            let text = std::fs::read_to_string("/proc/kallsyms").unwrap_or_default();
            let mut syms = HashMap::new();
            for line in text.lines() {
                let mut f = line.split_whitespace();
                let (Some(addr), Some(_kind), Some(sym)) = (f.next(), f.next(), f.next()) else {
                    continue;
                };
                // The first of several symbols of one name, as /proc/kallsyms lists them.
                if let Ok(a) = u64::from_str_radix(addr, 16) {
                    syms.entry(sym.to_string()).or_insert(a);
                }
            }
            syms
        });
        let found = syms.get(name).copied().filter(|&a| a != 0);
        if found.is_none() && self.compile_only() {
            // The program is not run: its constant may stay 0.
            self.note(format!(
                "Failed to resolve kernel symbol: {name} (compiled with address 0)"
            ));
            return Some(0);
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn btf_is_read_only_when_asked() {
        let system = System::with_tracefs(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/tracefs"
        ));
        let src = crate::source::Source::new("t.bt", "BEGIN { @x = count(); exit(); }");
        let prog = crate::parse::parse(&src).expect("parses");
        let env = crate::sema::Env::default();
        crate::sema::check_with(&prog, &env, &system).expect("checks");
        assert!(
            system.btf.get().is_none(),
            "a script without C types read BTF"
        );
    }

    #[test]
    fn bpftrace_btf_names_the_file() {
        assert_eq!(btf_path(None), Path::new("/sys/kernel/btf/vmlinux"));
        assert_eq!(
            btf_path(Some("".into())),
            Path::new("/sys/kernel/btf/vmlinux")
        );
        assert_eq!(btf_path(Some("/tmp/x.btf".into())), Path::new("/tmp/x.btf"));
        let dir = std::env::temp_dir().join(format!("rtrace-btf-{}", std::process::id()));
        std::fs::write(&dir, b"not btf").unwrap();
        let err = Btf::open(&dir).unwrap_err();
        std::fs::remove_file(&dir).ok();
        assert!(err.contains("magic"), "{err}");
        assert!(Btf::open(Path::new("/nonexistent.btf")).is_err());
    }
}
