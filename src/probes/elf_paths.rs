//! Which file a uprobe (or usdt) target names, as bpftrace 0.17 finds it: `libNAME` through
//! the process's `/proc/PID/maps` (with `-p`) or `/etc/ld.so.cache`, other names through `$PATH`
//! (the process's own `$PATH` when it lives in another mount namespace), `*` in paths as
//! glob(3) expands it, and paths of a `-p` process in another mount namespace seen through
//! `/proc/PID/root`; fed by the uprobe provider and the system catalogue.

use super::elf::is_traceable;
use std::path::Path;
use std::sync::OnceLock;

/// One entry of `/etc/ld.so.cache`: the library's file name, its flags and its full path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CacheEntry {
    pub name: String,
    pub flags: u32,
    pub path: String,
}

/// `FLAG_ELF_LIBC6`: the entry type bcc accepts.
const FLAG_ELF_LIBC6: u32 = 0x0003;
/// 64-bit ABI flags bcc accepts (sparc, ia64, x86-64, s390, powerpc, aarch64 `*_LIB64`).
const LIB64_FLAGS: [u32; 6] = [0x0100, 0x0200, 0x0300, 0x0400, 0x0500, 0x0a00];

/// Parses the text of an ld.so.cache in glibc's format (`glibc-ld.so.cache1.1`, possibly after
/// the old `ld.so-1.7.0` part); entries in file order.
pub fn parse_ld_cache(b: &[u8]) -> Result<Vec<CacheEntry>, String> {
    const MAGIC: &[u8] = b"glibc-ld.so.cache1.1";
    let base = b
        .windows(MAGIC.len())
        .position(|w| w == MAGIC)
        .ok_or("no glibc-ld.so.cache1.1 header")?;
    let u32_at = |off: usize| -> Option<u32> {
        Some(u32::from_le_bytes(b.get(off..off + 4)?.try_into().ok()?))
    };
    let nlibs = u32_at(base + 20).ok_or("truncated header")? as usize;
    let string = |off: u32| -> Option<String> {
        let rest = b.get(base + off as usize..)?;
        let len = rest.iter().position(|&c| c == 0)?;
        Some(String::from_utf8_lossy(&rest[..len]).into_owned())
    };
    let mut out = Vec::with_capacity(nlibs);
    for i in 0..nlibs {
        let at = base + 48 + i * 24;
        let (Some(flags), Some(key), Some(value)) = (u32_at(at), u32_at(at + 4), u32_at(at + 8))
        else {
            return Err("truncated entries".into());
        };
        if let (Some(name), Some(path)) = (string(key), string(value)) {
            out.push(CacheEntry { name, flags, path });
        }
    }
    Ok(out)
}

fn ld_cache() -> &'static [CacheEntry] {
    static CACHE: OnceLock<Vec<CacheEntry>> = OnceLock::new();
    CACHE.get_or_init(|| {
        std::fs::read("/etc/ld.so.cache")
            .ok()
            .and_then(|b| parse_ld_cache(&b).ok())
            .unwrap_or_default()
    })
}

/// bcc's `bcc_procutils_which_so` from a cache: the first 64-bit libc6 entry whose name starts
/// with `libNAME.so`.
pub fn which_so_in_cache(name: &str, cache: &[CacheEntry]) -> Option<String> {
    let soname = format!("lib{name}.so");
    cache
        .iter()
        .find(|e| {
            e.name.starts_with(&soname)
                && e.flags & 0xff == FLAG_ELF_LIBC6
                && LIB64_FLAGS.contains(&(e.flags & 0xff00))
        })
        .map(|e| e.path.clone())
}

/// The first mapping of `/proc/PID/maps` text naming a `.so` file that holds `/libNAME.` or
/// `/libNAME-`.
pub fn which_so_in_maps(name: &str, maps: &str) -> Option<String> {
    let (dot, dash) = (format!("/lib{name}."), format!("/lib{name}-"));
    maps.lines()
        .filter_map(|l| l.split_whitespace().nth(5))
        .find(|p| p.contains(".so") && (p.contains(&dot) || p.contains(&dash)))
        .map(str::to_string)
}

/// The library a target such as `libc` or `libcrypto` names: in the process's maps with a pid,
/// else in `/etc/ld.so.cache`. `None` when the target is not `lib...` or nothing matches.
pub fn which_so(target: &str, pid: Option<i32>) -> Option<String> {
    let name = target.strip_prefix("lib")?;
    if target.contains('/') || target.contains('*') {
        return None;
    }
    if let Some(pid) = pid {
        if let Ok(maps) = std::fs::read_to_string(format!("/proc/{pid}/maps")) {
            if let Some(p) = which_so_in_maps(name, &maps) {
                return Some(p);
            }
        }
    }
    which_so_in_cache(name, ld_cache())
}

/// `/proc/PID/root` + `path`, unless the path is already under it.
pub fn path_for_pid_mountns(pid: i32, path: &str) -> String {
    let root = format!("/proc/{pid}/root");
    if path.starts_with(&root) {
        path.to_string()
    } else if path.starts_with('/') {
        format!("{root}{path}")
    } else {
        format!("{root}/{path}")
    }
}

/// Whether the process `pid` lives in another mount namespace than this one.
pub fn in_other_mountns(pid: i32) -> bool {
    use std::os::unix::fs::MetadataExt;
    let ns = |p: &str| std::fs::metadata(p).map(|m| (m.dev(), m.ino()));
    match (ns("/proc/self/ns/mnt"), ns(&format!("/proc/{pid}/ns/mnt"))) {
        (Ok(a), Ok(b)) => a != b,
        _ => false,
    }
}

/// The executable of the process `pid` (`/proc/PID/exe`'s target).
pub fn pid_exe(pid: i32) -> Option<String> {
    std::fs::read_link(format!("/proc/{pid}/exe"))
        .ok()
        .map(|p| p.to_string_lossy().into_owned())
}

/// The `PATH` the process `pid` was started with.
fn pid_path_env(pid: i32) -> Option<String> {
    let env = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
    env.split(|&c| c == 0)
        .find_map(|v| v.strip_prefix(b"PATH="))
        .map(|v| String::from_utf8_lossy(v).into_owned())
}

/// glob(3) of one pattern, sorted; the pattern itself when nothing matches (GLOB_NOCHECK).
pub fn glob(pattern: &str) -> Vec<String> {
    let Ok(c) = std::ffi::CString::new(pattern) else {
        return vec![pattern.to_string()];
    };
    // SAFETY: glob_t is plain data, zeroed as glob(3) expects, and freed with globfree.
    unsafe {
        let mut g: libc::glob_t = std::mem::zeroed();
        let rc = libc::glob(c.as_ptr(), libc::GLOB_NOCHECK, None, &mut g);
        let mut out = Vec::new();
        if rc == 0 {
            for i in 0..g.gl_pathc {
                let p = *g.gl_pathv.add(i);
                if !p.is_null() {
                    out.push(std::ffi::CStr::from_ptr(p).to_string_lossy().into_owned());
                }
            }
        }
        libc::globfree(&mut g);
        out
    }
}

/// bpftrace's `resolve_binary_path`: the ELF executables and shared objects `cmd` names: the
/// path itself, then (for a bare name) each `$PATH` directory; `*` expanded by glob(3); for a
/// process in another mount namespace, its `$PATH` and paths under `/proc/PID/root`.
pub fn resolve_binary_path(cmd: &str, pid: Option<i32>) -> Vec<String> {
    let other_ns = pid.filter(|&p| p > 0 && in_other_mountns(p));
    let env_path = match other_ns {
        Some(p) => pid_path_env(p),
        None => std::env::var("PATH").ok(),
    };
    let mut candidates = vec![cmd.to_string()];
    if !cmd.contains('/') {
        if let Some(paths) = env_path {
            candidates.extend(paths.split(':').map(|d| format!("{d}/{cmd}")));
        }
    }
    if cmd.contains('*') {
        candidates = candidates.iter().flat_map(|c| glob(c)).collect();
    }
    candidates
        .into_iter()
        .map(|p| match other_ns {
            Some(pid) => path_for_pid_mountns(pid, &p),
            None => p,
        })
        .filter(|p| is_traceable(Path::new(p)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A cache in glibc's new format with the given (name, flags, path) entries.
    fn cache_bytes(entries: &[(&str, u32, &str)]) -> Vec<u8> {
        let mut strings = Vec::new();
        let strings_at = 48 + entries.len() * 24;
        let mut table = Vec::new();
        for (name, flags, path) in entries {
            let key = strings_at + strings.len();
            strings.extend_from_slice(name.as_bytes());
            strings.push(0);
            let value = strings_at + strings.len();
            strings.extend_from_slice(path.as_bytes());
            strings.push(0);
            table.extend_from_slice(&flags.to_le_bytes());
            table.extend_from_slice(&(key as u32).to_le_bytes());
            table.extend_from_slice(&(value as u32).to_le_bytes());
            table.extend_from_slice(&[0; 12]);
        }
        let mut b = b"glibc-ld.so.cache1.1".to_vec();
        b.extend_from_slice(&(entries.len() as u32).to_le_bytes());
        b.extend_from_slice(&(strings.len() as u32).to_le_bytes());
        b.extend_from_slice(&[0; 20]);
        b.extend(table);
        b.extend(strings);
        b
    }

    #[test]
    fn ld_cache_lookup_as_bcc() {
        let b = cache_bytes(&[
            ("libssl.so.3", 0x0303, "/lib/x86_64-linux-gnu/libssl.so.3"),
            ("libssl.so", 0x0303, "/lib/x86_64-linux-gnu/libssl.so"),
            ("libc.so.6", 0x0003, "/lib32/libc.so.6"),
            ("libc.so.6", 0x0303, "/lib/x86_64-linux-gnu/libc.so.6"),
            (
                "libcrypto.so.3",
                0x0303,
                "/lib/x86_64-linux-gnu/libcrypto.so.3",
            ),
        ]);
        let cache = parse_ld_cache(&b).expect("parses");
        assert_eq!(cache.len(), 5);
        let so = |n| which_so_in_cache(n, &cache);
        assert_eq!(
            so("ssl").as_deref(),
            Some("/lib/x86_64-linux-gnu/libssl.so.3")
        );
        // The 32-bit entry is skipped.
        assert_eq!(so("c").as_deref(), Some("/lib/x86_64-linux-gnu/libc.so.6"));
        assert_eq!(
            so("crypto").as_deref(),
            Some("/lib/x86_64-linux-gnu/libcrypto.so.3")
        );
        assert_eq!(so("nothere"), None);
        assert!(parse_ld_cache(b"garbage").is_err());
    }

    #[test]
    fn maps_lookup_as_bcc() {
        let maps = "\
7f00-7f01 r--p 00000000 08:01 123 /usr/lib/x86_64-linux-gnu/libcrypto.so.3
7f02-7f03 r-xp 00000000 08:01 124 /usr/lib/x86_64-linux-gnu/libc.so.6
7f04-7f05 r-xp 00000000 08:01 125 /opt/lib/libfoo-2.1.so
7f06-7f07 rw-p 00000000 00:00 0 [heap]
";
        assert_eq!(
            which_so_in_maps("c", maps).as_deref(),
            Some("/usr/lib/x86_64-linux-gnu/libc.so.6")
        );
        assert_eq!(
            which_so_in_maps("foo", maps).as_deref(),
            Some("/opt/lib/libfoo-2.1.so")
        );
        assert_eq!(which_so_in_maps("ssl", maps), None);
    }

    #[test]
    fn pid_paths() {
        assert_eq!(
            path_for_pid_mountns(5, "/usr/bin/x"),
            "/proc/5/root/usr/bin/x"
        );
        assert_eq!(path_for_pid_mountns(5, "rel"), "/proc/5/root/rel");
        assert_eq!(path_for_pid_mountns(5, "/proc/5/root/a"), "/proc/5/root/a");
        assert!(!in_other_mountns(std::process::id() as i32));
        assert!(pid_exe(std::process::id() as i32).is_some());
    }

    #[test]
    fn binary_paths() {
        let bash = resolve_binary_path("bash", None);
        assert!(bash.iter().any(|p| p.ends_with("/bash")), "{bash:?}");
        assert!(resolve_binary_path("/no/such/binary", None).is_empty());
        let globbed = resolve_binary_path("/bin/bas*", None);
        assert!(globbed.iter().any(|p| p == "/bin/bash"), "{globbed:?}");
        // A text file is not a binary.
        assert!(resolve_binary_path("/etc/passwd", None).is_empty());
    }
}
