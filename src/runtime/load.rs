//! Loading and attaching: every encoded program verified with its own `BPF_PROG_LOAD` and
//! attached through `runtime::attach`; fed by `runtime::Session` with the object's programs,
//! relocations applied (`ProgramImage`).
//!
//! Architecture invariant: the vmlinux BTF is read only when the script has fentry/fexit
//! probes, which alone go through aya's `EbpfLoader` (an in-memory ELF of just those
//! programs). Everything else is loaded directly, so a run starts in a few milliseconds.
//! Nothing is pinned: closing the fds (drop, exit, SIGKILL) detaches and unloads everything.

use std::collections::HashMap;
use std::fmt;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};

use aya::programs::Program;
use aya::{Btf, Ebpf, EbpfLoader, VerifierLogLevel};

use super::elf;
use crate::bpf::sys;
use crate::probes::{attach_btf_program, attach_probe, chain, probe_text, uprobe, Attach};

/// One encoded program and where it attaches.
#[derive(Clone, Debug)]
pub struct ProgramImage {
    /// A valid C identifier, unique in the session (the program's name; the kernel keeps 15
    /// bytes of it).
    pub name: String,
    pub attach: Attach,
    /// Encoded instructions, relocations applied; `ld_imm64` takes two slots.
    pub insns: Vec<[u8; 8]>,
}

/// Why loading or attaching failed. `program` is an index into the images given to `load`.
#[derive(Debug)]
pub enum LoadError {
    /// The verifier rejected program `program`; `insn` is the failing instruction slot parsed
    /// from the log when possible (index into `ProgramImage::insns` and the program's spans),
    /// `log` the verifier log (or the syscall error when the kernel wrote none). Triggered by
    /// `r0 = r5; exit` (R5 !read_ok).
    Verifier {
        program: usize,
        insn: Option<usize>,
        log: String,
    },
    /// `-v`: the verifier log did not fit in its buffer of `size` bytes (`BPFTRACE_LOG_SIZE`),
    /// so the kernel refused the program (ENOSPC); `log` is what the buffer kept. Triggered by
    /// `BPFTRACE_LOG_SIZE=1 rtrace -v -e 'BEGIN { }'`.
    LogTooSmall {
        program: usize,
        size: usize,
        log: String,
    },
    /// Attaching failed: missing tracepoint or uprobe target, kprobes or fentry unavailable
    /// on this kernel, permission. Triggered by `kprobe:vfs_read` on a kernel without
    /// CONFIG_KPROBES.
    Attach { program: usize, message: String },
    /// Anything else (invalid image, object rejected by aya, BTF unreadable).
    Other(String),
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::Verifier { program, insn, log } => {
                write!(f, "the BPF verifier rejected program {program}")?;
                if let Some(i) = insn {
                    write!(f, " at instruction {i}")?;
                }
                match log_summary(log) {
                    Some(line) => write!(f, ": {line}"),
                    None => Ok(()),
                }
            }
            LoadError::LogTooSmall { program, size, .. } => write!(
                f,
                "the verifier log of program {program} did not fit in its {size}-byte buffer"
            ),
            LoadError::Attach { message, .. } => f.write_str(message),
            LoadError::Other(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for LoadError {}

/// bpftrace 0.17's verifier log buffer, in bytes (`BPFTRACE_LOG_SIZE` unset).
pub const DEFAULT_LOG_SIZE: usize = 1_000_000;

/// How programs are loaded: bpftrace's `-v` and `BPFTRACE_LOG_SIZE`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoadOptions {
    /// `-v`: every program is loaded with the verifier log on (level 1, as bpftrace 0.17
    /// does), in one buffer of `log_size` bytes; a log that does not fit fails the load
    /// (`LoadError::LogTooSmall`), as it does there.
    pub verbose: bool,
    /// `BPFTRACE_LOG_SIZE`: bytes of the verifier log buffer; without `-v`, the first buffer
    /// asked for when a load fails (a larger one follows when the log did not fit).
    pub log_size: usize,
}

impl Default for LoadOptions {
    fn default() -> LoadOptions {
        LoadOptions {
            verbose: false,
            log_size: DEFAULT_LOG_SIZE,
        }
    }
}

/// What the verifier said about a program it accepted, kept when loading with `-v`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifierLog {
    /// Index of the program in the images given to `load_with`.
    pub program: usize,
    /// The kernel's id of the program (`bpftool prog show id N`), when it could be read.
    pub id: Option<u32>,
    pub log: String,
}

/// One program of a session.
struct Loaded {
    name: String,
    attach: Attach,
    /// Perf events and links that keep it attached (closed before the program).
    links: Vec<OwnedFd>,
    /// The program fd; `None` for fentry/fexit programs, which live in `Programs::btf_programs`.
    fd: Option<OwnedFd>,
}

/// The loaded programs of one run, attached by `attach` and released on drop.
pub struct Programs {
    /// In the caller's order; emptied when an attach failure drops everything.
    programs: Vec<Loaded>,
    /// The fentry/fexit programs, loaded by aya with the kernel's BTF; `None` without any.
    btf_programs: Option<Ebpf>,
    /// Uprobe perf events opened, without programs, while the programs load (`load_for`).
    opening: Option<Opening>,
    closed: bool,
    /// `-v`: the verifier's log of every program loaded directly, in load order.
    logs: Vec<VerifierLog>,
}

/// The uprobe perf events `load_for` opens on a thread of their own: registering a uprobe
/// writes its breakpoint into every process that maps the file (0.1-0.2 ms per uprobe with 30
/// processes mapping libc, and an RCU grace period for the first), while the programs load
/// on this thread. `attach_for` then attaches each program to its event as soon as the
/// thread hands it over, so attaching overlaps the registering of the next ones.
struct Opening {
    /// The `pid` the events are limited to.
    pid: Option<i32>,
    /// The events in attach order as the thread opens them; `None` once it has ended.
    opened: Option<mpsc::Receiver<(usize, Opened)>>,
    /// Set to make the thread stop opening more (everything is being released).
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
    /// Received and not yet attached.
    events: HashMap<usize, Opened>,
}

/// The uprobe events of a run being opened on their own thread from before its maps are
/// created: the first registration waits for an RCU grace period (4-16 ms here), which then
/// passes while maps are created and programs load. Dropped unused, it closes what it opened.
pub struct OpenAhead(Option<Opening>);

impl OpenAhead {
    /// Starts opening the uprobe events of `attaches` (the programs' attach points, in
    /// program order), limited to `pid`.
    pub fn start<'a>(attaches: impl Iterator<Item = &'a Attach>, pid: Option<i32>) -> OpenAhead {
        OpenAhead(Opening::start(attaches, pid))
    }
}

impl Drop for Opening {
    /// Unused (the run failed before loading): the thread stops and its events close.
    fn drop(&mut self) {
        self.finish();
    }
}

/// A uprobe perf event opened ahead, or why it could not be.
type Opened = Result<OwnedFd, String>;

impl Opening {
    /// Opens the uprobe events of `images` in the order `attach_for` attaches them (the
    /// kernel runs a uprobe's consumers in the order they registered).
    fn start<'a>(attaches: impl Iterator<Item = &'a Attach>, pid: Option<i32>) -> Option<Opening> {
        let attaches: Vec<&Attach> = attaches.collect();
        let wanted: Vec<(usize, Attach)> = attach_order(attaches.iter().copied())
            .into_iter()
            .filter(|&i| matches!(attaches[i], Attach::Uprobe { .. }))
            .map(|i| (i, attaches[i].clone()))
            .collect();
        if wanted.is_empty() {
            return None;
        }
        let (tx, rx) = mpsc::channel();
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let open = move || {
            for (i, attach) in wanted {
                if stopped.load(Ordering::Relaxed) {
                    break;
                }
                let event = uprobe::open_event(&attach, pid);
                // The first failure ends the run; opening more would only slow it down.
                let failed = event.is_err();
                if tx.send((i, event)).is_err() || failed {
                    break;
                }
            }
        };
        let thread = std::thread::Builder::new()
            .name("rtrace-uprobes".into())
            .spawn(open)
            .ok()?;
        Some(Opening {
            pid,
            opened: Some(rx),
            stop,
            thread: Some(thread),
            events: HashMap::new(),
        })
    }

    /// The event opened for program `i` (waiting for the thread to open it), if it was
    /// opened for this `pid`.
    fn take(&mut self, i: usize, pid: Option<i32>) -> Option<Opened> {
        if pid != self.pid {
            return None;
        }
        if let Some(event) = self.events.remove(&i) {
            return Some(event);
        }
        while let Some(rx) = &self.opened {
            match rx.recv() {
                Ok((j, event)) if j == i => return Some(event),
                Ok((j, event)) => {
                    self.events.insert(j, event);
                }
                // The thread has ended (after a failure, or it could not open this one).
                Err(_) => self.opened = None,
            }
        }
        None
    }

    /// Stops the thread and returns every event not attached.
    fn into_fds(mut self) -> Vec<OwnedFd> {
        self.finish();
        std::mem::take(&mut self.events)
            .into_values()
            .filter_map(Result::ok)
            .collect()
    }

    /// Stops the thread and waits for it, keeping what it opened in `events`.
    fn finish(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(rx) = self.opened.take() {
            self.events.extend(rx);
        }
        if let Some(thread) = self.thread.take() {
            // A thread that panicked has sent what it opened; nothing else outlives it.
            let _ = thread.join();
        }
    }
}

/// Program indices in attach order: those the kernel fires in attach order first, in order;
/// the others after, in reverse. Every probe's programs then run in the order of the script.
fn attach_order<'a>(attaches: impl Iterator<Item = &'a Attach>) -> Vec<usize> {
    let attaches: Vec<&Attach> = attaches.collect();
    let (forward, reverse): (Vec<usize>, Vec<usize>) =
        (0..attaches.len()).partition(|&i| !crate::probes::fires_in_reverse(attaches[i]));
    forward
        .into_iter()
        .chain(reverse.into_iter().rev())
        .collect()
}

/// `enum bpf_prog_type` values, named as the kernel names them.
const BPF_PROG_TYPE_KPROBE: u32 = 2;
const BPF_PROG_TYPE_TRACEPOINT: u32 = 5;
const BPF_PROG_TYPE_PERF_EVENT: u32 = 7;
const BPF_PROG_TYPE_RAW_TRACEPOINT: u32 = 17;
const BPF_PROG_TYPE_TRACING: u32 = 26;
/// `BPF_TRACE_ITER` of `enum bpf_attach_type`.
const BPF_TRACE_ITER: u32 = 28;

/// The verifier log asked for after a failed load: `BPF_LOG_LEVEL1 | BPF_LOG_STATS`.
const LOG_LEVEL: u32 = 1 | 4;
/// The verifier log of `-v`: `BPF_LOG_LEVEL1`, as bpftrace 0.17 asks for it.
const VERBOSE_LOG_LEVEL: u32 = 1;
/// The log buffer of the retry after a failed load whose log did not fit the first buffer.
const RETRY_LOG_SIZE: usize = 16 << 20;

impl Programs {
    /// Verifies every program with `BPF_PROG_LOAD` (fentry/fexit ones through aya, which needs
    /// the kernel's BTF). Nothing is attached yet.
    pub fn load(images: &[ProgramImage]) -> Result<Programs, LoadError> {
        Programs::load_opening(images, &LoadOptions::default(), None)
    }

    /// `load`, with the verifier log as `opts` asks (`-v`, `BPFTRACE_LOG_SIZE`). A program
    /// refused here leaves nothing loaded: the ones before it are closed on return.
    #[cfg(test)]
    pub fn load_with(images: &[ProgramImage], opts: &LoadOptions) -> Result<Programs, LoadError> {
        Programs::load_opening(images, opts, None)
    }

    /// `load_with`, opening the uprobe events of `pid` (every process when `None`) on another
    /// thread meanwhile, for `attach_for` with the same `pid` to attach the programs to.
    #[cfg(test)]
    pub fn load_for(
        images: &[ProgramImage],
        pid: Option<i32>,
        opts: &LoadOptions,
    ) -> Result<Programs, LoadError> {
        check_names(images)?;
        let ahead = OpenAhead::start(images.iter().map(|im| &im.attach), pid);
        Programs::load_ahead(images, opts, ahead)
    }

    /// `load_for` with the uprobe events already being opened by `ahead` (started for the
    /// same attach points, in the same order, before the maps were created).
    pub fn load_ahead(
        images: &[ProgramImage],
        opts: &LoadOptions,
        ahead: OpenAhead,
    ) -> Result<Programs, LoadError> {
        Programs::load_opening(images, opts, ahead.0)
    }

    fn load_opening(
        images: &[ProgramImage],
        opts: &LoadOptions,
        opening: Option<Opening>,
    ) -> Result<Programs, LoadError> {
        // Whatever fails below drops the events opened so far (closing them unregisters).
        let mut programs = Programs {
            programs: Vec::with_capacity(images.len()),
            btf_programs: None,
            opening,
            closed: false,
            logs: Vec::new(),
        };
        check_names(images)?;
        let needs_version = images
            .iter()
            .any(|im| prog_type(&im.attach) == Some(BPF_PROG_TYPE_KPROBE));
        let kern_version = if needs_version {
            sys::kernel_version()
        } else {
            0
        };
        for (i, im) in images.iter().enumerate() {
            let fd = match prog_type(&im.attach) {
                Some(prog_type) => {
                    let (fd, log) =
                        load_one(im, prog_type, kern_version, opts).map_err(|e| e.at(i, im))?;
                    if let Some(log) = log {
                        programs.logs.push(VerifierLog {
                            program: i,
                            id: sys::prog_id(fd.as_raw_fd()).ok(),
                            log,
                        });
                    }
                    Some(fd)
                }
                None => None,
            };
            programs.programs.push(Loaded {
                name: im.name.clone(),
                attach: im.attach.clone(),
                links: Vec::new(),
                fd,
            });
        }
        programs.btf_programs = load_btf_programs(images)?;
        Ok(programs)
    }

    /// `-v`: the verifier's log of every program loaded directly (all but fentry/fexit), in
    /// load order; empty without `-v`.
    pub fn verifier_logs(&self) -> &[VerifierLog] {
        &self.logs
    }

    /// Detaches every probe now (perf events and links closed as `release` closes them); the
    /// programs stay loaded, so END can still fire. fentry/fexit programs, whose links aya
    /// keeps, stay attached until the drop.
    pub fn detach(&mut self) {
        let links: Vec<OwnedFd> = self
            .programs
            .iter_mut()
            .flat_map(|p| std::mem::take(&mut p.links))
            .collect();
        close_all(links);
    }

    /// Attaches every program except BEGIN/END. Returns the probe count bpftrace prints in
    /// "Attaching N probes...": one per program, BEGIN and END included, a profile or software
    /// probe once however many CPUs it runs on. On failure everything is detached and
    /// unloaded, and the session is closed.
    #[cfg(test)]
    pub fn attach(&mut self, pid: Option<i32>) -> Result<usize, LoadError> {
        self.attach_for(pid, None)
    }

    /// `attach`, with the pid of the `-c` command: usdt probes follow it as they follow a
    /// `-p` process (bpftrace attaches them to the command only); other probes do not.
    pub fn attach_for(
        &mut self,
        pid: Option<i32>,
        command: Option<i32>,
    ) -> Result<usize, LoadError> {
        if self.closed {
            return Err(closed());
        }
        let order = attach_order(self.programs.iter().map(|p| &p.attach));
        for i in order {
            let pid = match self.programs[i].attach {
                Attach::Usdt { .. } | Attach::WatchpointSetup { .. } => pid.or(command),
                _ => pid,
            };
            if let Err(message) = self.attach_one(i, pid) {
                // Closing every perf event, link and program fd detaches and unloads them.
                self.release();
                self.btf_programs = None;
                self.closed = true;
                return Err(LoadError::Attach {
                    program: i,
                    message,
                });
            }
        }
        Ok(self.programs.len())
    }

    fn attach_one(&mut self, i: usize, pid: Option<i32>) -> Result<(), String> {
        let Some(p) = self.programs.get_mut(i) else {
            return Ok(());
        };
        // A uprobe's event may have been opened while the programs loaded.
        let opened = self.opening.as_mut().and_then(|o| o.take(i, pid));
        match (&p.attach, &p.fd, opened) {
            // Watchpoints are placed by `runtime::watch`, which can also remove them.
            (Attach::Begin | Attach::End | Attach::Watchpoint { .. }, _, _) => Ok(()),
            (attach, Some(fd), Some(event)) => {
                p.links = uprobe::attach_opened(fd.as_raw_fd(), attach, event?)?;
                Ok(())
            }
            (_, Some(fd), None) => {
                let links = attach_probe(fd.as_raw_fd(), &p.attach, pid)?;
                p.links = links;
                Ok(())
            }
            (attach, None, _) => match self
                .btf_programs
                .as_mut()
                .and_then(|ebpf| ebpf.program_mut(&p.name))
            {
                Some(prog) => attach_btf_program(prog, attach),
                None => Err(format!("program {} is not loaded", p.name)),
            },
        }
    }

    /// The links of the attached iterator programs (`iter:task`), in the script's order.
    pub fn iter_links(&self) -> Vec<RawFd> {
        self.programs
            .iter()
            .filter(|p| matches!(p.attach, Attach::Iter { .. }))
            .filter_map(|p| p.links.first().map(AsRawFd::as_raw_fd))
            .collect()
    }

    /// Fires every BEGIN program once, in order, with BPF_PROG_TEST_RUN.
    pub fn run_begin(&self) -> Result<(), LoadError> {
        self.run(&Attach::Begin)
    }

    /// Fires every END program once, in order.
    pub fn run_end(&self) -> Result<(), LoadError> {
        self.run(&Attach::End)
    }

    /// The kernel fd of program `index` (for test runs and statistics), while loaded.
    pub fn program_fd(&self, index: usize) -> Option<RawFd> {
        let p = self.programs.get(index)?;
        match &p.fd {
            Some(fd) => Some(fd.as_raw_fd()),
            None => {
                let prog = self.btf_programs.as_ref()?.program(&p.name)?;
                Some(prog.fd().ok()?.as_fd().as_raw_fd())
            }
        }
    }

    /// Detaches and unloads everything now (dropping the programs does the same).
    #[cfg(test)]
    pub fn close(self) {}

    fn run(&self, which: &Attach) -> Result<(), LoadError> {
        if self.closed {
            return Err(closed());
        }
        // A raw_tracepoint context is an array of up to 12 u64 arguments: hand over 12
        // zeroes so a program reading its arguments reads zeroes, not a NULL context.
        let ctx = [0u8; 8 * 12];
        for (i, p) in self.programs.iter().enumerate() {
            if &p.attach != which {
                continue;
            }
            let fd = self.program_fd(i).ok_or_else(closed)?;
            sys::prog_test_run(fd, &ctx).map_err(|e| LoadError::Attach {
                program: i,
                message: format!("cannot run {}: BPF_PROG_TEST_RUN: {e}", probe_text(which)),
            })?;
        }
        Ok(())
    }
}

impl Drop for Programs {
    /// Detaches every probe (perf events and links closed concurrently, see `release`), then
    /// unloads the programs; everything is gone from the kernel when this returns.
    fn drop(&mut self) {
        self.release();
    }
}

impl Programs {
    /// Closes every perf event (those opened ahead too) and link, then the programs.
    fn release(&mut self) {
        let opened = self
            .opening
            .take()
            .map(Opening::into_fds)
            .unwrap_or_default();
        release(std::mem::take(&mut self.programs), opened);
    }
}

/// Most threads closing perf events and links at once.
const MAX_CLOSERS: usize = 16;

/// Closes every perf event and link of `programs`, then the programs.
///
/// Closing a tracepoint (or uprobe/kprobe) perf event waits in the kernel for RCU grace
/// periods, 25-90 ms per event here: one `synchronize_rcu_tasks_trace` when the program is
/// detached (`perf_event_detach_bpf_prog`, outside any global lock) and, when the event is the
/// tracepoint's last perf event, `synchronize_rcu_tasks_trace` + `synchronize_rcu` under the
/// global `event_mutex` (`perf_trace_destroy`). Closed one after another, the waits add up
/// (five probes took ~290 ms to detach); closed from several threads, every detach wait
/// overlaps the others and the serialised part, which cuts the total by ~40% (~170 ms). The
/// threads are joined before this returns, so nothing of rtrace's remains in the kernel and
/// no work is left running. `PERF_EVENT_IOC_DISABLE` first was measured and saves nothing
/// (a tracepoint's BPF programs run from its program array whether or not the event is
/// enabled), and neither does closing through a BPF link or closing the program fd first.
fn release(mut programs: Vec<Loaded>, opened: Vec<OwnedFd>) {
    let links: Vec<OwnedFd> = programs
        .iter_mut()
        .flat_map(|p| std::mem::take(&mut p.links))
        .chain(opened)
        .collect();
    close_all(links);
    drop(programs);
}

/// Closes perf events and links from up to `MAX_CLOSERS` threads (see `release`), all of
/// them closed when it returns.
fn close_all(mut links: Vec<OwnedFd>) {
    let threads = links.len().min(MAX_CLOSERS);
    if threads > 1 {
        let queue = std::sync::Mutex::new(std::mem::take(&mut links));
        let close_queued = || loop {
            // A poisoned lock still holds the fds: take them anyway.
            let next = match queue.lock() {
                Ok(mut q) => q.pop(),
                Err(poisoned) => poisoned.into_inner().pop(),
            };
            match next {
                Some(fd) => drop(fd),
                None => break,
            }
        };
        std::thread::scope(|scope| {
            for _ in 1..threads {
                // Without a thread (resources), this one closes the rest itself.
                let spawned = std::thread::Builder::new()
                    .name("rtrace-detach".into())
                    .stack_size(64 << 10)
                    .spawn_scoped(scope, close_queued);
                if spawned.is_err() {
                    break;
                }
            }
            close_queued();
        });
    }
    drop(links);
}

fn closed() -> LoadError {
    LoadError::Other("the BPF session is closed".into())
}

/// Names must be distinct C identifiers: aya keys fentry programs by symbol name, and the
/// kernel accepts only `[A-Za-z0-9_.]` in program names.
fn check_names(images: &[ProgramImage]) -> Result<(), LoadError> {
    let mut seen = std::collections::HashSet::new();
    for im in images {
        let mut chars = im.name.chars();
        let ok = chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !ok {
            return Err(LoadError::Other(format!(
                "invalid program name {:?}",
                im.name
            )));
        }
        if !seen.insert(im.name.as_str()) {
            return Err(LoadError::Other(format!(
                "duplicate program name {}",
                im.name
            )));
        }
    }
    Ok(())
}

/// The program type loaded directly for `attach`; `None` for fentry/fexit (aya, with BTF).
fn prog_type(attach: &Attach) -> Option<u32> {
    Some(match attach {
        Attach::Begin | Attach::End | Attach::RawTracepoint { .. } => BPF_PROG_TYPE_RAW_TRACEPOINT,
        Attach::Tracepoint { .. } => BPF_PROG_TYPE_TRACEPOINT,
        Attach::Interval { .. }
        | Attach::Profile { .. }
        | Attach::Software { .. }
        | Attach::Hardware { .. }
        | Attach::Watchpoint { .. } => BPF_PROG_TYPE_PERF_EVENT,
        Attach::Uprobe { .. }
        | Attach::Kprobe { .. }
        | Attach::Usdt { .. }
        | Attach::WatchpointSetup { .. } => BPF_PROG_TYPE_KPROBE,
        Attach::Iter { .. } => BPF_PROG_TYPE_TRACING,
        Attach::Fentry { .. } => return None,
    })
}

/// `expected_attach_type` and `attach_btf_id` of a program loaded directly: an iterator names
/// its `bpf_iter_NAME` function; the other types need neither.
fn attach_target(attach: &Attach) -> (u32, u32) {
    match attach {
        Attach::Iter { btf_id, .. } => (BPF_TRACE_ITER, *btf_id),
        _ => (0, 0),
    }
}

/// Loads one program without a verifier log (the fast path); when the kernel refuses it,
/// loads it again asking for the log, so the failing instruction and the reason reach the user.
/// With `-v`, loads it once with the log on and returns the log too.
fn load_one(
    im: &ProgramImage,
    prog_type: u32,
    kern_version: u32,
    opts: &LoadOptions,
) -> Result<(OwnedFd, Option<String>), Failure> {
    let insns = im.insns.concat();
    let (expected_attach_type, attach_btf_id) = attach_target(&im.attach);
    let req = sys::ProgLoad {
        prog_type,
        expected_attach_type,
        attach_btf_id,
        insns: &insns,
        name: &im.name,
        kern_version,
    };
    if opts.verbose {
        let mut log = vec![0u8; opts.log_size];
        let r = sys::prog_load_log(&req, VERBOSE_LOG_LEVEL, &mut log);
        let text = log_text(&log);
        return match r {
            Ok(fd) => Ok((fd, Some(text))),
            Err(e) if log_did_not_fit(&e, opts.log_size, &text) => Err(Failure::LogTooSmall {
                log: text,
                size: opts.log_size,
            }),
            Err(e) if text.trim().is_empty() => Err(Failure::Verifier {
                log: format!("BPF_PROG_LOAD: {e}"),
            }),
            Err(_) => Err(Failure::Verifier { log: text }),
        };
    }
    let first = match sys::prog_load_log(&req, 0, &mut []) {
        Ok(fd) => return Ok((fd, None)),
        Err(e) => e,
    };
    let mut text = String::new();
    let mut sizes = vec![opts.log_size.max(1)];
    if opts.log_size < RETRY_LOG_SIZE {
        sizes.push(RETRY_LOG_SIZE);
    }
    for size in sizes {
        let mut log = vec![0u8; size];
        let r = sys::prog_load_log(&req, LOG_LEVEL, &mut log);
        text = log_text(&log);
        match r {
            // Loaded when asked with a log: keep it (a transient failure, such as memory).
            Ok(fd) => return Ok((fd, None)),
            // The larger buffer next.
            Err(e) if log_did_not_fit(&e, size, &text) => continue,
            Err(_) => break,
        }
    }
    if text.trim().is_empty() {
        text = format!("BPF_PROG_LOAD: {first}");
    }
    Err(Failure::Verifier { log: text })
}

/// Whether a load failed because its log buffer of `size` bytes was too small: a 6.4+ kernel
/// refuses a program whose log did not fit (ENOSPC, keeping the log's tail); an older one
/// refuses a buffer under 128 bytes (EINVAL, writing nothing).
fn log_did_not_fit(e: &std::io::Error, size: usize, text: &str) -> bool {
    match e.raw_os_error() {
        Some(libc::ENOSPC) => true,
        Some(libc::EINVAL) => size < 128 && text.is_empty(),
        _ => false,
    }
}

/// The text of a verifier log buffer: up to its first NUL.
fn log_text(log: &[u8]) -> String {
    let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
    String::from_utf8_lossy(&log[..end]).into_owned()
}

/// Loads the fentry/fexit programs, if any, through aya: one in-memory ELF of just those
/// programs, verified against the kernel's BTF.
fn load_btf_programs(images: &[ProgramImage]) -> Result<Option<Ebpf>, LoadError> {
    let wanted: Vec<(usize, &ProgramImage)> = images
        .iter()
        .enumerate()
        .filter(|(_, im)| prog_type(&im.attach).is_none())
        .collect();
    if wanted.is_empty() {
        return Ok(None);
    }
    let programs: Vec<elf::ElfProgram<'_>> = wanted
        .iter()
        .map(|(_, im)| elf::ElfProgram {
            section: section_name(im),
            symbol: &im.name,
            code: im.insns.concat(),
        })
        .collect();
    let bytes = elf::write(&programs).map_err(LoadError::Other)?;
    let mut ebpf = EbpfLoader::new()
        .verifier_log_level(VerifierLogLevel::DEBUG | VerifierLogLevel::STATS)
        .load(&bytes)
        .map_err(|e| LoadError::Other(format!("cannot load the BPF object: {}", chain(&e))))?;
    let mut btf = None;
    for (i, im) in wanted {
        let prog = ebpf.program_mut(&im.name).ok_or_else(|| {
            LoadError::Other(format!("program {} missing from the object", im.name))
        })?;
        verify(prog, &im.attach, &mut btf).map_err(|e| e.at(i, im))?;
    }
    Ok(Some(ebpf))
}

/// The ELF section name that tells aya the program type (fentry/fexit only).
fn section_name(im: &ProgramImage) -> String {
    match &im.attach {
        Attach::Fentry { func, ret: true } => format!("fexit/{func}"),
        Attach::Fentry { func, .. } => format!("fentry/{func}"),
        _ => format!("raw_tp/{}", im.name),
    }
}

/// A load failure before its program index is known.
enum Failure {
    Verifier { log: String },
    LogTooSmall { log: String, size: usize },
    Attach(String),
    Other(String),
}

impl Failure {
    fn at(self, program: usize, im: &ProgramImage) -> LoadError {
        match self {
            Failure::Verifier { log } => LoadError::Verifier {
                program,
                insn: failing_insn(&log, im.insns.len()),
                log,
            },
            Failure::LogTooSmall { log, size } => LoadError::LogTooSmall { program, size, log },
            Failure::Attach(message) => LoadError::Attach { program, message },
            Failure::Other(message) => LoadError::Other(message),
        }
    }
}

/// Loads (verifies) one fentry/fexit program of the aya object.
fn verify(prog: &mut Program, attach: &Attach, btf: &mut Option<Btf>) -> Result<(), Failure> {
    let result = match (prog, attach) {
        (Program::FEntry(p), Attach::Fentry { func, .. }) => {
            let btf = vmlinux_btf(btf)?;
            p.load(func, btf)
        }
        (Program::FExit(p), Attach::Fentry { func, .. }) => {
            let btf = vmlinux_btf(btf)?;
            p.load(func, btf)
        }
        _ => {
            return Err(Failure::Other(
                "unexpected program type in the object".into(),
            ))
        }
    };
    match result {
        Ok(()) => Ok(()),
        Err(aya::programs::ProgramError::LoadError {
            io_error,
            verifier_log,
        }) => {
            let log = verifier_log.to_string();
            if log.trim().is_empty() {
                return Err(Failure::Attach(format!(
                    "{} is not available on this kernel: it refuses BPF trampolines \
                     (BPF_PROG_LOAD: {io_error})",
                    probe_text(attach)
                )));
            }
            Err(Failure::Verifier { log })
        }
        Err(e) => Err(Failure::Attach(format!(
            "cannot load {}: {}",
            probe_text(attach),
            chain(&e)
        ))),
    }
}

fn vmlinux_btf(btf: &mut Option<Btf>) -> Result<&Btf, Failure> {
    if btf.is_none() {
        let parsed = Btf::from_sys_fs()
            .map_err(|e| Failure::Other(format!("cannot read the kernel BTF: {}", chain(&e))))?;
        *btf = Some(parsed);
    }
    btf.as_ref()
        .ok_or_else(|| Failure::Other("cannot read the kernel BTF".into()))
}

/// The failing instruction slot from a verifier log: the last `N: (op) ...` line the
/// verifier printed (with log level 1 the log holds only the failing path), else an
/// instruction number named in the last lines (`unreachable insn 3`, `jump out of range from
/// insn 1 to 9`).
pub fn failing_insn(log: &str, n_insns: usize) -> Option<usize> {
    let valid = |i: usize| (i < n_insns).then_some(i);
    let traced = log.lines().rev().find_map(|line| {
        let (num, rest) = line.trim_start().split_once(": (")?;
        num.parse::<usize>().ok().filter(|_| rest.contains(')'))
    });
    if let Some(i) = traced {
        return valid(i);
    }
    for line in log.lines().rev().take(4) {
        if line.contains("last insn is not an exit or jmp") {
            return n_insns.checked_sub(1);
        }
        let mut words = line.split(|c: char| c.is_whitespace() || c == ',');
        while let Some(w) = words.next() {
            if w == "insn" || w == "insn_idx" {
                if let Some(i) = words.next().and_then(|n| n.parse::<usize>().ok()) {
                    return valid(i);
                }
            }
        }
    }
    None
}

/// The line of a verifier log that says what went wrong: the last one that is not a
/// statistics line.
fn log_summary(log: &str) -> Option<&str> {
    log.lines().map(str::trim).rev().find(|l| {
        !l.is_empty()
            && !l.starts_with("processed ")
            && !l.starts_with("verification time")
            && !l.starts_with("stack depth")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failing_insn_is_the_last_traced_instruction() {
        let log = "func#0 @0\n0: R1=ctx() R10=fp0\n0: (b7) r0 = 0                        ; R0_w=0\n1: (bf) r0 = r5\nR5 !read_ok\nprocessed 2 insns (limit 1000000) max_states_per_insn 0\n";
        assert_eq!(failing_insn(log, 3), Some(1));
        assert_eq!(failing_insn(log, 1), None);
        assert_eq!(log_summary(log), Some("R5 !read_ok"));
    }

    #[test]
    fn failing_insn_from_cfg_checks() {
        assert_eq!(failing_insn("unreachable insn 2\n", 4), Some(2));
        assert_eq!(
            failing_insn("jump out of range from insn 1 to 9\n", 4),
            Some(1)
        );
        assert_eq!(
            failing_insn("last insn is not an exit or jmp\nprocessed 0 insns\n", 5),
            Some(4)
        );
        assert_eq!(failing_insn("some other failure\n", 4), None);
    }

    #[test]
    fn names_must_be_unique_identifiers() {
        let im = |name: &str| ProgramImage {
            name: name.into(),
            attach: Attach::Begin,
            insns: vec![],
        };
        assert!(check_names(&[im("a_1"), im("_b")]).is_ok());
        assert!(check_names(&[im("1a")]).is_err());
        assert!(check_names(&[im("a-b")]).is_err());
        assert!(check_names(&[im("a"), im("a")]).is_err());
    }
}
