//! Constants that scripts take from the kernel's headers with `#include`: rtrace reads no
//! header (types come from BTF, which has no macros), so the object-like macros bpftrace's tools
//! use are listed here, per header, with the values the headers define.

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
}
