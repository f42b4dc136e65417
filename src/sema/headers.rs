//! `#include` lines: rtrace reads no header (types come from BTF, which has no macros), so
//! the object-like macros bpftrace's tools use are listed here, per header, with the values
//! the headers define; and a header that is nowhere to be found is an error, as in bpftrace.

use std::path::Path;

/// Top directories of the kernel's include trees (include/, include/uapi/, arch/*/include/):
/// their headers declare kernel types, which come from BTF, so they need not be installed.
const KERNEL_DIRS: &[&str] = &[
    "acpi",
    "asm",
    "asm-generic",
    "clocksource",
    "crypto",
    "drm",
    "dt-bindings",
    "generated",
    "keys",
    "kunit",
    "kvm",
    "linux",
    "math-emu",
    "media",
    "memory",
    "misc",
    "net",
    "pcmcia",
    "ras",
    "rdma",
    "scsi",
    "soc",
    "sound",
    "target",
    "trace",
    "uapi",
    "ufs",
    "vdso",
    "video",
    "xen",
];

/// The C compiler's own headers (bpftrace carries clang's): there without any package.
const COMPILER_HEADERS: &[&str] = &[
    "float.h",
    "iso646.h",
    "limits.h",
    "stdalign.h",
    "stdarg.h",
    "stdatomic.h",
    "stdbool.h",
    "stddef.h",
    "stdint.h",
    "stdnoreturn.h",
    "__stddef_max_align_t.h",
];

/// Whether `#include <path>` (or `"path"` when `quoted`) names a header rtrace accepts: one
/// of the kernel's or the compiler's, or a file in `dirs` (`-I`), then (quoted) the current
/// directory, then /usr/local/include and /usr/include with its multiarch directory.
pub fn found(path: &str, quoted: bool, dirs: &[String]) -> bool {
    let top = path.split('/').next().unwrap_or(path);
    if (path.contains('/') && KERNEL_DIRS.contains(&top)) || COMPILER_HEADERS.contains(&path) {
        return true;
    }
    let multiarch = format!("/usr/include/{}-linux-gnu", std::env::consts::ARCH);
    let local = if quoted { Some(".") } else { None };
    let mut search = dirs.iter().map(String::as_str).chain(local);
    search.any(|d| Path::new(d).join(path).is_file())
        || ["/usr/local/include", multiarch.as_str(), "/usr/include"]
            .iter()
            .any(|d| Path::new(d).join(path).is_file())
}

/// `#define`s a script gets by including `header`.
pub fn macros(header: &str) -> &'static [(&'static str, i64)] {
    match header {
        "linux/socket.h" | "sys/socket.h" | "net/sock.h" | "bits/socket.h" => SOCKET,
        "linux/sched.h" => SCHED,
        "linux/errno.h" | "errno.h" | "asm-generic/errno-base.h" => ERRNO,
        _ => &[],
    }
}

/// Address families (include/linux/socket.h).
const SOCKET: &[(&str, i64)] = &[
    ("AF_UNSPEC", 0),
    ("AF_UNIX", 1),
    ("AF_LOCAL", 1),
    ("AF_INET", 2),
    ("AF_INET6", 10),
    ("AF_NETLINK", 16),
    ("AF_PACKET", 17),
    ("AF_VSOCK", 40),
];

/// Task states (include/linux/sched.h).
const SCHED: &[(&str, i64)] = &[
    ("TASK_RUNNING", 0x0000),
    ("TASK_INTERRUPTIBLE", 0x0001),
    ("TASK_UNINTERRUPTIBLE", 0x0002),
    ("__TASK_STOPPED", 0x0004),
    ("__TASK_TRACED", 0x0008),
    ("EXIT_DEAD", 0x0010),
    ("EXIT_ZOMBIE", 0x0020),
    ("TASK_PARKED", 0x0040),
    ("TASK_DEAD", 0x0080),
    ("TASK_WAKEKILL", 0x0100),
    ("TASK_WAKING", 0x0200),
    ("TASK_NOLOAD", 0x0400),
    ("TASK_NEW", 0x0800),
];

/// The first error numbers (include/uapi/asm-generic/errno-base.h).
const ERRNO: &[(&str, i64)] = &[
    ("EPERM", 1),
    ("ENOENT", 2),
    ("ESRCH", 3),
    ("EINTR", 4),
    ("EIO", 5),
    ("ENXIO", 6),
    ("E2BIG", 7),
    ("ENOEXEC", 8),
    ("EBADF", 9),
    ("ECHILD", 10),
    ("EAGAIN", 11),
    ("ENOMEM", 12),
    ("EACCES", 13),
    ("EFAULT", 14),
    ("ENOTBLK", 15),
    ("EBUSY", 16),
    ("EEXIST", 17),
    ("EXDEV", 18),
    ("ENODEV", 19),
    ("ENOTDIR", 20),
    ("EISDIR", 21),
    ("EINVAL", 22),
    ("ENFILE", 23),
    ("EMFILE", 24),
    ("ENOTTY", 25),
    ("ETXTBSY", 26),
    ("EFBIG", 27),
    ("ENOSPC", 28),
    ("ESPIPE", 29),
    ("EROFS", 30),
    ("EMLINK", 31),
    ("EPIPE", 32),
    ("EDOM", 33),
    ("ERANGE", 34),
];

#[cfg(test)]
mod tests {
    #[test]
    fn headers_give_their_constants() {
        let af = super::macros("linux/socket.h");
        assert!(af.contains(&("AF_INET", 2)) && af.contains(&("AF_INET6", 10)));
        assert!(super::macros("linux/sched.h").contains(&("TASK_RUNNING", 0)));
        assert!(super::macros("errno.h").contains(&("EPERM", 1)));
        assert!(super::macros("linux/nope.h").is_empty());
    }

    #[test]
    fn kernel_and_compiler_headers_need_no_file_others_do() {
        use super::found;
        assert!(found("linux/sched.h", false, &[]));
        assert!(found("net/sock.h", false, &[]));
        assert!(found("stddef.h", false, &[]));
        assert!(!found("lol/no.h", false, &[]));
        assert!(!found("linux.h", false, &[]));
        let dir = std::env::temp_dir().join(format!("rtrace-headers-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("lol")).unwrap();
        std::fs::write(dir.join("lol/no.h"), "").unwrap();
        let dirs = [dir.display().to_string()];
        assert!(found("lol/no.h", false, &dirs));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
