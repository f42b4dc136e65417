//! The `-c CMD` child: started before the programs load (so `cpid` is known), held before
//! exec until BEGIN has run, and watched through a pidfd so that its exit ends the run.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

pub struct Child {
    pid: i32,
    /// Write end of the pipe the child waits on before exec; closing it releases the child.
    gate: Option<OwnedFd>,
    pidfd: Option<OwnedFd>,
    reaped: bool,
}

/// Finds a program as a shell would: a name with a `/` as it is, others through `$PATH`.
pub fn resolve_program(name: &str) -> Result<String, String> {
    let executable = |p: &std::path::Path| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if name.contains('/') {
        return if executable(std::path::Path::new(name)) {
            Ok(name.to_string())
        } else {
            Err(format!("cannot run '{name}': no such executable file"))
        };
    }
    let path = std::env::var("PATH").unwrap_or_else(|_| "/usr/local/bin:/usr/bin:/bin".into());
    path.split(':')
        .filter(|d| !d.is_empty())
        .map(|d| std::path::Path::new(d).join(name))
        .find(|p| executable(p))
        .map(|p| p.to_string_lossy().into_owned())
        .ok_or_else(|| format!("cannot run '{name}': command not found in PATH"))
}

/// Splits a command line as bpftrace 0.17 does: on spaces, with no quoting (`'A'` is an
/// argument of three characters, quotes included) and no other white space as separator.
/// A run of spaces is one separator (bpftrace 0.17 passes an empty argument for each extra
/// space).
pub fn split_command(cmd: &str) -> Result<Vec<String>, String> {
    let words: Vec<String> = cmd
        .split(' ')
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect();
    if words.is_empty() {
        return Err("the -c command is empty".into());
    }
    Ok(words)
}

/// Waits (up to a second) until the child sits in its read() of the gate, so that the
/// probes attached next do not see that read's entry as the command's own syscall.
fn wait_until_blocked(pid: i32) {
    let path = format!("/proc/{pid}/syscall");
    let read = format!("{} ", libc::SYS_read);
    for _ in 0..10_000 {
        match std::fs::read_to_string(&path) {
            Ok(s) if s.starts_with(&read) => return,
            Ok(_) => {}
            Err(_) => return,
        }
        std::thread::sleep(std::time::Duration::from_micros(100));
    }
}

/// `pidfd_open(pid)`: readable once the process exits.
pub fn pidfd_open(pid: i32) -> io::Result<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just returned this fd to us; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

impl Child {
    /// Forks the command (resolved through PATH like a shell) and holds it before exec.
    pub fn spawn(cmd: &str) -> Result<Child, String> {
        let words = split_command(cmd)?;
        let program = resolve_program(&words[0])?;
        let to_c = |s: &str| {
            CString::new(s).map_err(|_| format!("the command '{cmd}' contains a NUL byte"))
        };
        let path = to_c(&program)?;
        // argv[0] is the program as found, as bpftrace 0.17 passes it (`/usr/bin/ls`).
        let args: Vec<CString> = std::iter::once(program.as_str())
            .chain(words[1..].iter().map(String::as_str))
            .map(to_c)
            .collect::<Result<_, _>>()?;
        let mut argv: Vec<*const libc::c_char> = args.iter().map(|a| a.as_ptr()).collect();
        argv.push(std::ptr::null());
        let mut fds = [0i32; 2];
        // SAFETY: `fds` has room for the two descriptors pipe2 writes.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
            return Err(format!("pipe: {}", io::Error::last_os_error()));
        }
        // SAFETY: pipe2 succeeded, so both fds are ours alone.
        let (read_end, write_end) =
            unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        // SAFETY: after fork the child only calls async-signal-safe functions (close, read,
        // execv, _exit) on data prepared before the fork.
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            return Err(format!("fork: {}", io::Error::last_os_error()));
        }
        if pid == 0 {
            // SAFETY: see above; the child never returns into Rust code.
            unsafe {
                libc::close(write_end.as_raw_fd());
                let mut b = 0u8;
                while libc::read(read_end.as_raw_fd(), (&mut b as *mut u8).cast(), 1) < 0
                    && *libc::__errno_location() == libc::EINTR
                {}
                libc::execv(path.as_ptr(), argv.as_ptr());
                libc::_exit(127);
            }
        }
        drop(read_end);
        wait_until_blocked(pid);
        let pidfd = pidfd_open(pid).ok();
        Ok(Child {
            pid,
            gate: Some(write_end),
            pidfd,
            reaped: false,
        })
    }

    pub fn pid(&self) -> u32 {
        self.pid as u32
    }

    /// Lets the child exec.
    pub fn release(&mut self) -> io::Result<()> {
        self.gate = None;
        Ok(())
    }

    /// A descriptor that becomes readable when the child exits.
    pub fn pidfd(&mut self) -> OwnedFd {
        match self.pidfd.take() {
            Some(fd) => fd,
            None => {
                // Without pidfd support, fall back to an eventfd that never becomes readable.
                // SAFETY: eventfd returns a new fd or -1; a negative fd is harmless to poll.
                unsafe { OwnedFd::from_raw_fd(libc::eventfd(0, libc::EFD_CLOEXEC)) }
            }
        }
    }

    /// Reaps the child if it has exited; otherwise leaves it running.
    pub fn reap(&mut self) {
        if self.reaped {
            return;
        }
        let mut status = 0;
        // SAFETY: waitpid on our own child with WNOHANG.
        let r = unsafe { libc::waitpid(self.pid, &mut status, libc::WNOHANG) };
        self.reaped = r == self.pid;
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        // A child still held before exec must not run the command once we are gone, and one
        // still running when the run ends (exit(), a signal) is killed, as bpftrace does.
        self.reap();
        if !self.reaped {
            // SAFETY: signalling and reaping our own child.
            unsafe {
                libc::kill(self.pid, libc::SIGKILL);
                libc::waitpid(self.pid, std::ptr::null_mut(), 0);
            }
            self.reaped = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_on_spaces_as_bpftrace_does() {
        assert_eq!(
            split_command("./syscall execve /bin/echo 'A'").unwrap(),
            vec!["./syscall", "execve", "/bin/echo", "'A'"]
        );
        assert_eq!(
            split_command(" cat  \"a b\"\tc ").unwrap(),
            vec!["cat", "\"a", "b\"\tc"]
        );
        assert!(split_command("  ").is_err());
    }
}
