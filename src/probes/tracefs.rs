//! The one tracefs finder: where tracepoint formats, ids and the kprobe interface live; asked
//! by the system catalogue (formats, names) and by providers when they attach.

use std::path::{Path, PathBuf};

/// Where tracefs may be mounted, preferred first.
const CANDIDATES: [&str; 2] = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"];

/// The tracefs root: `$RTRACE_TRACEFS` if set (tests point it at a fixture), else the first of
/// /sys/kernel/tracing and /sys/kernel/debug/tracing that holds `events/`. A root found is
/// kept for the rest of the process (every tracepoint probe asks); a missing one is looked
/// for again on the next call.
pub fn root() -> Result<PathBuf, String> {
    static FOUND: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    if let Some(dir) = std::env::var_os("RTRACE_TRACEFS") {
        return Ok(PathBuf::from(dir));
    }
    if let Some(p) = FOUND.get() {
        return Ok(p.clone());
    }
    if let Some(p) = CANDIDATES
        .iter()
        .map(PathBuf::from)
        .find(|p| p.join("events").is_dir())
    {
        return Ok(FOUND.get_or_init(|| p).clone());
    }
    // A tracefs we may not enter (not root) says so plainly, not "missing".
    for c in CANDIDATES {
        if let Err(e) = std::fs::read_dir(c) {
            if e.kind() == std::io::ErrorKind::PermissionDenied {
                return Err(not_readable(Path::new(c)));
            }
        }
    }
    Err("tracefs is not mounted (mount -t tracefs tracefs /sys/kernel/tracing)".to_string())
}

/// The message for a tracefs file or directory that only root may read.
pub fn not_readable(path: &Path) -> String {
    format!(
        "reading tracepoint formats needs root: {} is not readable",
        path.display()
    )
}

/// Whether tracefs offers the legacy `kprobe_events` interface.
pub fn has_kprobe_events() -> bool {
    root().is_ok_and(|root| root.join("kprobe_events").exists())
}

/// Whether `s` can name a directory inside `events/` (no separator, no parent, not empty).
pub fn safe_name(s: &str) -> bool {
    !s.is_empty() && !s.contains('/') && !s.contains("..")
}
