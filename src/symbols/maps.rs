//! What a process maps: its executable file-backed mappings from /proc/PID/maps, and the
//! symbols a JIT compiler wrote to /tmp/perf-PID.map. Read by the symbolizer (mod.rs).

/// One executable mapping of a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mapping {
    pub start: u64,
    pub end: u64,
    /// Where in the file the mapping starts.
    pub offset: u64,
    /// The path as the maps file writes it (`[vdso]` for the vDSO).
    pub path: String,
}

/// The executable mappings of /proc/PID/maps text that name a file (or the vDSO), in order.
pub fn executable_mappings(text: &str) -> Vec<Mapping> {
    text.lines().filter_map(mapping).collect()
}

fn mapping(line: &str) -> Option<Mapping> {
    // START-END PERMS OFFSET DEV INODE [PATH]; the path may hold spaces.
    let mut rest = line;
    let mut field = || {
        let t = rest.trim_start();
        let end = t.find(' ').unwrap_or(t.len());
        rest = &t[end..];
        &t[..end]
    };
    let range = field();
    let perms = field();
    let offset = field();
    let _dev = field();
    let _inode = field();
    let path = rest.trim();
    if perms.as_bytes().get(2) != Some(&b'x') || !file_backed(path) {
        return None;
    }
    let (start, end) = range.split_once('-')?;
    Some(Mapping {
        start: u64::from_str_radix(start, 16).ok()?,
        end: u64::from_str_radix(end, 16).ok()?,
        offset: u64::from_str_radix(offset, 16).ok()?,
        path: path.to_string(),
    })
}

/// Whether a mapping's name is a file symbols can come from (bcc's rule).
fn file_backed(path: &str) -> bool {
    !path.is_empty()
        && ![
            "//anon",
            "/dev/zero",
            "/anon_hugepage",
            "[stack",
            "/SYSV",
            "[heap]",
            "[vsyscall]",
        ]
        .iter()
        .any(|p| path.starts_with(p))
}

/// A perf map: `START SIZE NAME` lines (hexadecimal), sorted by start.
#[derive(Debug)]
pub struct PerfMap {
    pub path: String,
    syms: Vec<(u64, u64, String)>,
}

impl PerfMap {
    /// The perf map of `pid`, in its own root first, then in /tmp.
    pub fn read(pid: u32) -> Option<PerfMap> {
        let own = format!("/proc/{pid}/root/tmp/perf-{pid}.map");
        let global = format!("/tmp/perf-{pid}.map");
        [own, global].into_iter().find_map(|p| {
            let text = std::fs::read_to_string(&p).ok()?;
            Some(PerfMap::parse(format!("/tmp/perf-{pid}.map"), &text))
        })
    }

    pub fn parse(path: String, text: &str) -> PerfMap {
        let mut syms: Vec<(u64, u64, String)> = text
            .lines()
            .filter_map(|l| {
                let mut parts = l.splitn(3, ' ');
                let start = u64::from_str_radix(parts.next()?.trim_start_matches("0x"), 16).ok()?;
                let size = u64::from_str_radix(parts.next()?.trim_start_matches("0x"), 16).ok()?;
                Some((start, size, parts.next()?.trim_end().to_string()))
            })
            .collect();
        syms.sort_by_key(|s| s.0);
        PerfMap { path, syms }
    }

    /// The symbol whose extent holds `addr`, and the offset into it.
    pub fn resolve(&self, addr: u64) -> Option<(&str, u64)> {
        let i = self.syms.partition_point(|s| s.0 <= addr).checked_sub(1)?;
        let (start, size, name) = &self.syms[i];
        (addr < start.saturating_add(*size)).then(|| (name.as_str(), addr - start))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_executable_file_mappings() {
        let text = "\
55d0c0a00000-55d0c0a01000 r--p 00000000 08:01 1234 /tmp/prog
55d0c0a01000-55d0c0a02000 r-xp 00001000 08:01 1234 /tmp/prog
7f0000000000-7f0000001000 r-xp 00000000 00:00 0 
7f0000100000-7f0000200000 r-xp 00028000 08:01 99 /usr/lib/x86_64-linux-gnu/libc.so.6
7f0000300000-7f0000301000 r-xp 00000000 08:01 77 /tmp/with space (deleted)
7ffd1000000-7ffd1002000 r-xp 00000000 00:00 0 [vdso]
7ffd2000000-7ffd2002000 rw-p 00000000 00:00 0 [stack]
ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0 [vsyscall]
";
        let maps = executable_mappings(text);
        let paths: Vec<&str> = maps.iter().map(|m| m.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "/tmp/prog",
                "/usr/lib/x86_64-linux-gnu/libc.so.6",
                "/tmp/with space (deleted)",
                "[vdso]"
            ]
        );
        assert_eq!(
            maps[1],
            Mapping {
                start: 0x7f0000100000,
                end: 0x7f0000200000,
                offset: 0x28000,
                path: "/usr/lib/x86_64-linux-gnu/libc.so.6".into()
            }
        );
    }

    #[test]
    fn perf_maps_resolve_within_extents() {
        let m = PerfMap::parse(
            "/tmp/perf-1.map".into(),
            "7f00001000 40 LazyCompile:~foo app.js:1\n7f00000000 10 stub\nbad line\n",
        );
        assert_eq!(
            m.resolve(0x7f00001004),
            Some(("LazyCompile:~foo app.js:1", 4))
        );
        assert_eq!(m.resolve(0x7f00000010), None);
        assert_eq!(m.resolve(0x10), None);
    }
}
