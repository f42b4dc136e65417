//! The files usdt probes are looked for in: the executable mappings of a process
//! (`/proc/PID/maps`, read through `/proc/PID/root` so a process in another mount namespace
//! works) and the ELF files a glob names; asked by the system catalogue.

use crate::probes::{glob_match, has_wildcard};
use std::path::Path;

/// The executable files process `pid` maps, as `/proc/PID/root/PATH`, in map order, unique.
pub fn process_files(pid: i32) -> Result<Vec<String>, String> {
    let maps_path = format!("/proc/{pid}/maps");
    let text = std::fs::read_to_string(&maps_path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            format!("process {pid} is not running")
        } else {
            format!("cannot read {maps_path}: {e}")
        }
    })?;
    Ok(mapped_files(&text)
        .into_iter()
        .map(|f| format!("/proc/{pid}/root{f}"))
        .collect())
}

/// The files of the executable mappings of a `/proc/PID/maps` text, in order, unique.
fn mapped_files(maps: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in maps.lines() {
        // address perms offset dev inode path
        let mut fields = line.splitn(6, ' ');
        let perms = fields.nth(1).unwrap_or("");
        let Some(path) = fields.nth(3).map(str::trim_start) else {
            continue;
        };
        if !perms.contains('x') || !path.starts_with('/') || path.ends_with(" (deleted)") {
            continue;
        }
        if !out.iter().any(|p| p == path) {
            out.push(path.to_string());
        }
    }
    out
}

/// Whether `path` is an ELF executable or shared object (`e_type` 2 or 3). Only regular
/// files are opened: opening a device (`/dev/watchdog`) may do something.
pub fn is_elf_object(path: &Path) -> bool {
    if !path.is_file() {
        return false;
    }
    matches!(crate::probes::elf::file_type(path), Some(2 | 3))
}

/// The ELF executables and shared objects whose path matches the glob `pattern` (`*` and `?`
/// within one path component), sorted, written as the pattern writes them.
pub fn glob_files(pattern: &str) -> Vec<String> {
    let (mut found, parts) = match pattern.strip_prefix('/') {
        Some(rest) => (vec![String::from("/")], rest),
        None => (vec![String::new()], pattern),
    };
    let comps: Vec<&str> = parts.split('/').filter(|c| !c.is_empty()).collect();
    for (i, comp) in comps.iter().enumerate() {
        let last = i + 1 == comps.len();
        let mut next = Vec::new();
        for dir in &found {
            let join = |name: &str| match dir.as_str() {
                "" => name.to_string(),
                d if d.ends_with('/') => format!("{d}{name}"),
                d => format!("{d}/{name}"),
            };
            if !has_wildcard(comp) {
                let p = join(comp);
                if Path::new(&p).exists() {
                    next.push(p);
                }
                continue;
            }
            let listing = if dir.is_empty() { "." } else { dir.as_str() };
            let Ok(entries) = std::fs::read_dir(listing) else {
                continue;
            };
            let mut names: Vec<String> = entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| !n.starts_with('.') && glob_match(comp, n))
                .collect();
            names.sort();
            next.extend(names.iter().map(|n| join(n)));
        }
        if !last {
            next.retain(|p| Path::new(p).is_dir());
        }
        found = next;
    }
    found.retain(|p| is_elf_object(Path::new(p)));
    found.sort();
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn executable_mappings_only() {
        let maps = "\
00400000-00401000 r--p 00000000 fe:00 754869                             /opt/t/usdt_test
00401000-00402000 r-xp 00001000 fe:00 754869                             /opt/t/usdt_test
7f2ee324f000-7f2ee3252000 rw-p 00000000 00:00 0 
7f2ee3278000-7f2ee33ce000 r-xp 00026000 fe:00 326279                     /usr/lib/libc.so.6
7f2ee3445000-7f2ee3447000 r-xp 00000000 00:00 0                          [vdso]
7f2ee3448000-7f2ee346e000 r-xp 00001000 fe:00 325843                     /tmp/gone (deleted)
7f2ee3478000-7f2ee347a000 r-xp 00031000 fe:00 326279                     /usr/lib/libc.so.6
7f2ee3479000-7f2ee347a000 r-xp 00031000 fe:00 326280                     /opt/a b/lib.so
";
        assert_eq!(
            mapped_files(maps),
            ["/opt/t/usdt_test", "/usr/lib/libc.so.6", "/opt/a b/lib.so"]
        );
    }

    #[test]
    fn globs_find_elf_files() {
        let dir = std::env::temp_dir().join(format!("rtrace-usdt-glob-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        let exe = std::fs::read("/proc/self/exe").unwrap();
        std::fs::write(dir.join("sub/prog_a"), &exe).unwrap();
        std::fs::write(dir.join("sub/prog_b"), &exe).unwrap();
        std::fs::write(dir.join("sub/prog_text"), b"not elf").unwrap();
        let d = dir.to_string_lossy();
        assert_eq!(
            glob_files(&format!("{d}/s*/prog_*")),
            [format!("{d}/sub/prog_a"), format!("{d}/sub/prog_b")]
        );
        assert_eq!(glob_files(&format!("{d}/sub/prog_?")).len(), 2);
        assert!(glob_files(&format!("{d}/nothing*")).is_empty());
        assert!(is_elf_object(&dir.join("sub/prog_a")));
        assert!(!is_elf_object(&dir.join("sub/prog_text")));
        assert!(!is_elf_object(Path::new("/dev/null")));
        assert!(!is_elf_object(&dir));
        std::fs::remove_dir_all(&dir).ok();
    }
}
