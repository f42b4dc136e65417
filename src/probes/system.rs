//! The catalogue of the running machine: tracepoint names and formats from tracefs, kernel
//! functions, ELF symbols of uprobe targets, each read when first asked and kept; asked by
//! sema (through `sema::check`), `parse_attach` and `-l`.

use super::catalogue::{no_match, Catalogue};
use super::uprobe::Elf;
use super::{format, kprobe, tracefs, tracepoint, TpFormat};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

/// The running machine's catalogue, shared by the whole process so each file is read once.
pub fn catalogue() -> &'static System {
    static SYSTEM: OnceLock<System> = OnceLock::new();
    SYSTEM.get_or_init(System::default)
}

/// The catalogue of the running machine: tracefs, `/proc/kallsyms`, ELF files. Parsed formats
/// and ELF files are kept for the rest of the process: a script with many probes on one
/// tracepoint or library reads it once.
#[derive(Default)]
pub struct System {
    /// The tracefs to read; `None` for the machine's (`tracefs::root`).
    tracefs: Option<PathBuf>,
    formats: Mutex<HashMap<PathBuf, TpFormat>>,
    elves: Mutex<HashMap<String, Arc<Elf>>>,
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
