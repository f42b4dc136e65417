//! Watchpoints during a run: address watchpoints placed when the run starts, function
//! watchpoints placed when their setup uprobe reports the address (`event::WATCHPOINT`,
//! `codegen::lower::watch_setup`) and the stopped process continued, and `unwatch(addr)`
//! removing every watchpoint on an address (`event::UNWATCH`), as bpftrace 0.17 does.
//! Owned by the session's `Sink`: every perf event closes with it, on every way out.

use super::load::Programs;
use crate::object::Object;
use crate::output::Output;
use crate::probes::watchpoint::{self, OpenError, NO_REGISTERS};
use crate::probes::Attach;
use crate::sema::typed::event;
use std::os::fd::{BorrowedFd, OwnedFd};

/// The watchpoint programs of a run and the watchpoints placed.
pub(super) struct Watches {
    programs: Vec<Watched>,
    placed: Vec<Placed>,
    /// The `-p` process when a function watchpoint stops its callers: continued at the end
    /// if it is left stopped (a setup record sent as the run ended is never read).
    resume: Option<i32>,
}

/// One watchpoint program of the object.
struct Watched {
    /// Its index in `Object::programs` (the id of its setup records).
    index: usize,
    /// The loaded program, kept open for watchpoints placed later.
    fd: OwnedFd,
    attach: Attach,
    /// The address last placed for it: a setup reporting it again places nothing, as in
    /// bpftrace (which also keeps it after `unwatch`).
    last: Option<u64>,
}

/// The perf events of one watchpoint.
struct Placed {
    addr: u64,
    _fds: Vec<OwnedFd>,
}

/// The programs a run attaches later: function watchpoints, placed by their setup uprobe.
/// `Attaching N probes...` counts their setup probes instead, as bpftrace does.
pub(super) fn deferred(object: &Object) -> usize {
    object
        .programs
        .iter()
        .filter(|p| matches!(p.attach, Attach::Watchpoint { func: Some(_), .. }))
        .count()
}

impl Watches {
    /// Takes the object's watchpoint programs and places the address watchpoints now, in the
    /// process `pid` (`-p`, or the `-c` command), or on every CPU without one. `None` when
    /// the object has no watchpoint. On failure: the program's index and the message.
    /// `attached` is the `-p` process (it outlives the run; a `-c` command does not).
    pub(super) fn start(
        object: &Object,
        programs: &Programs,
        pid: Option<i32>,
        attached: Option<i32>,
    ) -> Result<Option<Watches>, (usize, String)> {
        let stops = object.programs.iter().any(|p| {
            matches!(
                p.attach,
                Attach::Watchpoint {
                    func: Some(_),
                    stop: true,
                    ..
                }
            )
        });
        let mut w = Watches {
            programs: Vec::new(),
            placed: Vec::new(),
            resume: attached.filter(|_| stops),
        };
        for (index, p) in object.programs.iter().enumerate() {
            let Attach::Watchpoint { addr, func, .. } = &p.attach else {
                continue;
            };
            let fd = programs
                .program_fd(index)
                // SAFETY: the fd is open for as long as `programs`, and only cloned here.
                .map(|raw| unsafe { BorrowedFd::borrow_raw(raw) }.try_clone_to_owned())
                .ok_or_else(|| (index, format!("{} is not loaded", p.attach)))?
                .map_err(|e| (index, format!("cannot keep {}: {e}", p.attach)))?;
            w.programs.push(Watched {
                index,
                fd,
                attach: p.attach.clone(),
                last: None,
            });
            if func.is_none() {
                let at = w.programs.len() - 1;
                w.place(at, *addr, pid).map_err(|e| {
                    (
                        index,
                        match e {
                            OpenError::NoRegisters => NO_REGISTERS.to_string(),
                            OpenError::Other(m) => m,
                        },
                    )
                })?;
            }
        }
        Ok((!w.programs.is_empty()).then_some(w))
    }

    /// Places a watchpoint of program `at` (in `programs`) on `addr`.
    fn place(&mut self, at: usize, addr: u64, pid: Option<i32>) -> Result<(), OpenError> {
        let w = &mut self.programs[at];
        let Attach::Watchpoint { len, mode, .. } = &w.attach else {
            return Ok(());
        };
        w.last = Some(addr);
        let what = w.attach.to_string();
        let fds = watchpoint::open(
            std::os::fd::AsRawFd::as_raw_fd(&w.fd),
            addr,
            *len,
            mode,
            pid,
            &what,
        )?;
        self.placed.push(Placed { addr, _fds: fds });
        Ok(())
    }

    /// A watchpoint record: a setup probe's address (placed, then the stopped process
    /// continued), or `unwatch`. Running out of debug registers is bpftrace's message in the
    /// output; any other failure ends the run (after the process is continued).
    pub(super) fn handle(
        &mut self,
        kind: u32,
        rec: &[u8],
        printer: &dyn Output,
        out: &mut Vec<u8>,
    ) -> Result<(), String> {
        let word = |at: usize| {
            rec.get(at..at + 8)
                .map_or(0, |b| u64::from_le_bytes(b.try_into().unwrap_or([0; 8])))
        };
        match kind {
            event::WATCHPOINT => {
                let id = u32::from_le_bytes([rec[4], rec[5], rec[6], rec[7]]) as usize;
                let (addr, pid) = (word(8), word(16) as i32);
                let Some(at) = self.programs.iter().position(|w| w.index == id) else {
                    return Err(format!("invalid watchpoint probe {id}"));
                };
                let stop = matches!(
                    self.programs[at].attach,
                    Attach::Watchpoint { stop: true, .. }
                );
                let placed = if self.programs[at].last == Some(addr) {
                    Ok(())
                } else {
                    self.place(at, addr, Some(pid))
                };
                let placed = match placed {
                    Err(OpenError::NoRegisters) => {
                        printer.message(out, "lost_events", NO_REGISTERS.as_bytes(), true);
                        Ok(())
                    }
                    Err(OpenError::Other(m)) => Err(m),
                    Ok(()) => Ok(()),
                };
                // SAFETY: kill() with a pid and a signal number has no memory effects.
                if stop && unsafe { libc::kill(pid, libc::SIGCONT) } != 0 {
                    let e = std::io::Error::last_os_error();
                    return Err(format!("Failed to SIGCONT tracee: {e}"));
                }
                placed
            }
            event::UNWATCH => {
                let addr = word(8);
                // Closing the perf events removes the watchpoints; an address watched by
                // nothing is no error (bpftrace lets scripts unwatch freely).
                self.placed.retain(|p| p.addr != addr);
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

impl Drop for Watches {
    /// The session drops its programs first: no setup probe can stop the `-p` process any
    /// more, so one left stopped by a record nobody read is continued.
    fn drop(&mut self) {
        if let Some(pid) = self.resume {
            if stopped(pid) {
                // SAFETY: kill() with a pid and a signal number has no memory effects.
                unsafe { libc::kill(pid, libc::SIGCONT) };
            }
        }
    }
}

/// Whether process `pid` is stopped (state `T` in /proc/PID/stat).
fn stopped(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(") ")
                .and_then(|(_, rest)| rest.chars().next())
        })
        == Some('T')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stopped_reads_the_process_state() {
        assert!(!stopped(std::process::id() as i32));
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .expect("sleep");
        let pid = child.id() as i32;
        // SAFETY: signalling our own child.
        unsafe { libc::kill(pid, libc::SIGSTOP) };
        let mut seen = false;
        for _ in 0..200 {
            if stopped(pid) {
                seen = true;
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        let _ = child.kill();
        let _ = child.wait();
        assert!(seen, "a SIGSTOPped child reads as stopped");
        assert!(!stopped(-1));
    }
}
