//! A traced run, the runtime's one entry: `Session::start` creates the maps, forks the `-c`
//! command, applies the relocations, loads and attaches the programs of a compiled `Object`;
//! `Session::run` fires BEGIN, prints events until exit()/Ctrl-C/the traced command ends, then
//! fires END and prints the maps, all through an `output::Output`.

use super::child::{self, Child};
use super::decode;
use super::load::{LoadError, LoadOptions, OpenAhead, ProgramImage, Programs, VerifierLog};
use super::relocate::{self, RunConsts};
use super::resolve::{MapTable, SessionSymbols};
use super::signals;
use crate::bpf::maps::KernelMap;
use crate::bpf::ringbuf::EventReader;
use crate::builtins;
use crate::diag::Diagnostic;
use crate::object::Object;
use crate::output::printf::Format;
use crate::output::value::{AggKind, MapDump, Value};
use crate::output::{self, Buffering, Output, OutputFormat};
use crate::sema::layout::MapKind;
use crate::sema::typed::event;
use crate::sema::typed::MapInfo;
use crate::sema::types::TypeTable;
use crate::source::{Source, Span};
use crate::symbols::{Resolver, Symbolizer};
use std::io::{self, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

/// How a run ended badly: a diagnostic on the script, or a plain message.
#[derive(Debug)]
pub enum RunError {
    Diag(Diagnostic),
    Message(String),
}

/// What a run needs besides the compiled object.
pub struct RunConfig {
    pub format: OutputFormat,
    /// `-q`: no `Attaching N probes...` in text.
    pub quiet: bool,
    /// `-p PID`: uprobes filter on it and the run ends when it exits.
    pub pid: Option<i32>,
    /// `-c CMD`: forked before loading (its pid is `cpid`), released once BEGIN has run; the
    /// run ends when it exits.
    pub command: Option<String>,
    /// Where the run's output goes (stdout, or `-o FILE`).
    pub output: Box<dyn Write>,
    /// How often output is written out (`-B`).
    pub buffering: Buffering,
    /// Write `__BPFTRACE_NOTIFY_PROBES_ATTACHED` to stderr once every probe is attached, as
    /// bpftrace does when that variable is set (its test suite waits for the line).
    pub notify_attached: bool,
    /// `--metrics ADDR`: a listening socket whose scrapes get the maps as OpenMetrics text
    /// while the run goes on.
    pub metrics: Option<std::net::TcpListener>,
    /// C++ names in user stacks and symbols are demangled (`BPFTRACE_NO_CPP_DEMANGLE` unset).
    pub demangle: bool,
    /// `--flamegraph FILE`: the stack-keyed maps drawn there at exit.
    pub flamegraph: Option<std::path::PathBuf>,
    /// The script, for the locations of run-time warnings (`-k`'s failed helpers).
    pub source: Option<Source>,
    /// `-v`: programs loaded with the verifier log on; each log is printed on stdout after
    /// `Attaching N probes...`, and a refused program's whole log on stderr.
    pub verbose: bool,
    /// `BPFTRACE_LOG_SIZE`: bytes of the verifier log buffer (bpftrace's 1000000 unless set).
    pub log_size: usize,
    /// `BPFTRACE_PERF_RB_PAGES`: pages per online CPU for the event ring buffer (a power of
    /// two); unset, the ring holds 64 pages per CPU and at least 1 MiB.
    pub perf_rb_pages: Option<u64>,
}

impl RunConfig {
    /// A run writing its output (text) to `output`, with the command line's defaults: no
    /// `-c`, no `-p`, line buffering, C++ names demangled.
    pub fn to(output: Box<dyn Write>) -> RunConfig {
        RunConfig {
            format: OutputFormat::Text,
            quiet: false,
            pid: None,
            command: None,
            output,
            buffering: Buffering::Line,
            notify_attached: false,
            metrics: None,
            demangle: true,
            flamegraph: None,
            source: None,
            verbose: false,
            log_size: super::load::DEFAULT_LOG_SIZE,
            perf_rb_pages: None,
        }
    }
}

/// A run in progress: everything it holds is released (probes detached, programs and maps
/// closed, a command still held before exec killed) when it is dropped.
pub struct Session<'o> {
    /// Declared first so that it drops first: probes are detached before anything else closes.
    programs: Programs,
    reader: EventReader,
    events: Events<'o>,
    sink: Sink,
    child: Option<Child>,
    pid: Option<i32>,
    metrics: Option<std::net::TcpListener>,
    flamegraph: Option<std::path::PathBuf>,
}

/// The object's tables and maps that a run's records are decoded with.
struct Events<'o> {
    object: &'o Object,
    /// Indexed like `Object::maps`; the ring buffer's slot holds a placeholder.
    maps: Vec<KernelMap>,
    /// One parsed format per `Object::printfs` entry, built once at start.
    formats: Vec<Format>,
}

impl Events<'_> {
    fn tables(&self) -> Tables<'_> {
        Tables {
            object: self.object,
            maps: &self.maps,
            formats: &self.formats,
        }
    }
}

/// Where a run's output goes: the format's printer and the text not yet written out.
pub(super) struct Sink {
    pub(super) printer: Box<dyn Output>,
    pub(super) writer: Box<dyn Write>,
    /// Output not yet written.
    pub(super) out: Vec<u8>,
    /// exit() was called.
    pub(super) exit: bool,
    /// Records after the exit() record are dropped (until END fires).
    pub(super) exit_drops: bool,
    args: Vec<Value>,
    pub(super) buffering: Buffering,
    /// Kernel and user symbols, read the first time a stack or symbol is printed.
    pub(super) symbols: Symbolizer,
    /// The script, for the locations of run-time warnings (`-k`'s failed helpers).
    pub(super) source: Option<Source>,
    /// When the output was last written out (line buffering writes at least every
    /// `FLUSH_INTERVAL` while records keep coming).
    last_flush: Instant,
    /// The run's watchpoints, when the script has any (`runtime::watch`).
    pub(super) watch: Option<super::watch::Watches>,
}

/// What decoding one object's records needs: its tables, its maps and its printf formats.
pub(super) struct Tables<'a> {
    pub(super) object: &'a Object,
    pub(super) maps: &'a dyn MapTable,
    pub(super) formats: &'a [Format],
}

impl<'o> Session<'o> {
    /// Sets the run up: maps created, the `-c` command forked and held, relocations applied
    /// (map fds, `cpid`, the start time of `elapsed`), programs loaded, BEGIN fired, the
    /// other probes attached and `Attaching N probes...` printed.
    pub fn start(object: &'o Object, cfg: RunConfig) -> Result<Session<'o>, RunError> {
        signals::install();
        let formats = printf_formats(object)?;
        let child = match &cfg.command {
            Some(cmd) => Some(Child::spawn(cmd).map_err(RunError::Message)?),
            None => None,
        };
        // Uprobe registration starts now (after the fork, so that the held child has none of
        // its events): its first RCU wait overlaps the set-up below.
        let ahead = OpenAhead::start(object.programs.iter().map(|p| &p.attach), cfg.pid);
        let consts = RunConsts {
            cpid: child.as_ref().map_or(0, |c| u64::from(c.pid())),
            start_ns: relocate::monotonic_ns(),
        };
        let ring_bytes = ring_buffer_bytes(cfg.perf_rb_pages, online_cpus(), page_size())
            .map_err(RunError::Message)?;
        let mut maps = create_maps(object, ring_bytes)?;
        let images = object
            .programs
            .iter()
            .map(|p| {
                let insns = relocate::apply(&p.code, relocate::fd_in(&maps), &consts)
                    .map_err(RunError::Message)?;
                Ok(ProgramImage {
                    name: p.code.name.clone(),
                    attach: p.attach.clone(),
                    insns,
                })
            })
            .collect::<Result<Vec<_>, RunError>>()?;
        let load = LoadOptions {
            verbose: cfg.verbose,
            log_size: cfg.log_size,
        };
        let mut programs = Programs::load_ahead(&images, &load, ahead).map_err(|e| {
            if cfg.verbose {
                print_error_log(&e);
            }
            load_error(e, object)
        })?;
        let probes = object.programs.len() - super::watch::deferred(object);

        // The ring buffer's reader takes the map; keep the others for dumps.
        let placeholder = KernelMap::create(&crate::sema::layout::MapDef {
            name: "unused".into(),
            kind: MapKind::Array,
            key_size: 4,
            value_size: 8,
            max_entries: 1,
        })
        .map_err(|e| RunError::Message(format!("cannot create a BPF map: {e}")))?;
        let rb = maps
            .get_mut(object.ringbuf as usize)
            .map(|slot| std::mem::replace(slot, placeholder))
            .ok_or_else(|| RunError::Message("the program has no ring buffer".into()))?;
        let reader =
            EventReader::new(rb).map_err(|e| RunError::Message(format!("ring buffer: {e}")))?;

        let events = Events {
            object,
            maps,
            formats,
        };
        let mut sink = Sink::new(
            output::for_format(cfg.format, cfg.quiet),
            cfg.output,
            cfg.buffering,
            cfg.demangle,
        );
        sink.source = cfg.source;
        // BEGIN runs before the other probes are attached, as in bpftrace, so none of them
        // fires before it; its output waits in the ring buffer. `Attaching N probes...` is
        // printed once they are attached (scripts and tests may take it as the signal).
        programs.run_begin().map_err(|e| load_error(e, object))?;
        programs
            .attach_for(cfg.pid, child.as_ref().map(|c| c.pid() as i32))
            .map_err(|e| load_error(e, object))?;
        let watched = cfg.pid.or(child.as_ref().map(|c| c.pid() as i32));
        sink.watch = super::watch::Watches::start(object, &programs, watched, cfg.pid).map_err(
            |(program, message)| load_error(LoadError::Attach { program, message }, object),
        )?;
        sink.printer.attached(&mut sink.out, probes);
        sink.flush()?;
        print_verifier_logs(programs.verifier_logs());
        if cfg.notify_attached {
            eprintln!("__BPFTRACE_NOTIFY_PROBES_ATTACHED");
        }
        Ok(Session {
            programs,
            reader,
            events,
            sink,
            child,
            pid: cfg.pid,
            metrics: cfg.metrics,
            flamegraph: cfg.flamegraph,
        })
    }

    /// Every user map as it is now, as values (stacks and symbols named): what a program
    /// using rtrace as a library reads while the probes run.
    pub fn maps(&mut self) -> Result<Vec<MapDump>, RunError> {
        let tables = self.events.tables();
        let mut syms = SessionSymbols::new(tables.object, tables.maps, &mut self.sink.symbols);
        session_dumps(&tables, &mut syms)
    }

    /// Runs until the script exits, a signal arrives or the watched process ends; then END,
    /// lost events and the maps. Returns the exit code.
    pub fn run(mut self) -> Result<i32, RunError> {
        let object = self.events.object;
        let watched = match self.child.as_mut() {
            Some(child) => {
                child
                    .release()
                    .map_err(|e| RunError::Message(format!("cannot start the command: {e}")))?;
                Some(child.pidfd())
            }
            None => self.pid.and_then(|p| child::pidfd_open(p).ok()),
        };
        let watched_fd = watched.as_ref().map(|fd: &OwnedFd| fd.as_raw_fd());
        if let Some(listener) = &self.metrics {
            listener
                .set_nonblocking(true)
                .map_err(|e| RunError::Message(format!("--metrics: {e}")))?;
        }
        let metrics_fd = self.metrics.as_ref().map(|l| l.as_raw_fd());

        // Records taken but not handled because a signal stopped the run.
        let mut skipped = 0;
        // A script with an iterator runs it over every object, then ends (as bpftrace 0.17
        // does): no waiting for events.
        let iters = self.programs.iter_links();
        if !iters.is_empty() {
            self.run_iterators(&iters)?;
        }
        while iters.is_empty() {
            skipped +=
                self.sink
                    .drain_until(&mut self.reader, &self.events.tables(), signals::stopped)?;
            if signals::take_print_maps() {
                self.sink.print_maps(&self.events.tables())?;
            }
            if self.sink.buffering != Buffering::Full {
                self.sink.flush()?;
            }
            if self.sink.exit || signals::stopped() {
                break;
            }
            let ended = wait(self.reader.raw_fd(), watched_fd, metrics_fd)?;
            if let Some(listener) = &self.metrics {
                let tables = self.events.tables();
                let symbols = &mut self.sink.symbols;
                super::metrics::serve(listener, || {
                    let mut syms = SessionSymbols::new(tables.object, tables.maps, symbols);
                    session_dumps(&tables, &mut syms).map_err(|e| match e {
                        RunError::Message(m) => m,
                        RunError::Diag(d) => d.message,
                    })
                });
            }
            if ended {
                skipped += self.sink.drain_until(
                    &mut self.reader,
                    &self.events.tables(),
                    signals::stopped,
                )?;
                break;
            }
        }

        // As in bpftrace, every probe is detached before END fires: END and the maps printed
        // at exit see the maps as the probes left them.
        self.programs.detach();
        if self.sink.exit {
            // Records written after the exit() record: not handled, as in bpftrace 0.17.
            self.reader.drain(|_| {});
        }
        // END's records are all handled, even after an exit() of its own.
        self.sink.exit_drops = false;
        if signals::stopped() {
            // A signal (or a closed output) stops the handling of events at once, as in
            // bpftrace 0.17: what the probes wrote before they were detached is dropped, and
            // the count reported, so that END's output follows without waiting for it.
            skipped += self.reader.drain(|_| {});
            self.sink.flush()?;
            // Nobody reads a closed output: no word about it then.
            if skipped > 0 && signals::signalled() {
                eprintln!(
                    "WARNING: {skipped} event{} not handled: a signal stopped the run",
                    if skipped == 1 { " was" } else { "s were" }
                );
            }
        }
        self.programs.run_end().map_err(|e| load_error(e, object))?;
        self.sink.drain(&mut self.reader, &self.events.tables())?;
        let tables = self.events.tables();
        // (Events lost after exit() are not counted: the programs stop counting then.)
        let lost = tables.maps.map(object.lost as usize).map_or(0, lost_events);
        let mut syms = SessionSymbols::new(object, tables.maps, &mut self.sink.symbols);
        let dumps = session_dumps(&tables, &mut syms)?;
        let code = self.sink.finish(lost, &dumps)?;
        if let Some(path) = &self.flamegraph {
            crate::output::flamegraph::write_svg(&dumps, path).map_err(RunError::Message)?;
        }
        Ok(code)
    }
}

impl Session<'_> {
    /// Reads each iterator to its end, handling the records its program writes to the ring
    /// buffer after every read; stops early on exit() or a signal.
    fn run_iterators(&mut self, links: &[std::os::fd::RawFd]) -> Result<(), RunError> {
        for &link in links {
            let mut failed: Option<RunError> = None;
            let (sink, reader, events) = (&mut self.sink, &mut self.reader, &self.events);
            let r = crate::probes::iter::run(link, &mut || {
                if let Err(e) = sink.drain(reader, &events.tables()) {
                    failed = Some(e);
                    return Ok(false);
                }
                if sink.buffering != Buffering::Full {
                    if let Err(e) = sink.flush() {
                        failed = Some(e);
                        return Ok(false);
                    }
                }
                Ok(!sink.exit && !signals::stopped())
            });
            if let Some(e) = failed {
                return Err(e);
            }
            r.map_err(|e| RunError::Message(format!("cannot read the iterator: {e}")))?;
            if self.sink.exit || signals::stopped() {
                break;
            }
        }
        Ok(())
    }
}

/// Every user map of a session's object, read now.
fn session_dumps(tables: &Tables<'_>, syms: &mut dyn Resolver) -> Result<Vec<MapDump>, RunError> {
    let object = tables.object;
    user_map_dumps(
        object
            .maps
            .iter()
            .enumerate()
            .map(|(i, info)| (info, tables.maps.map(i), &object.types)),
        syms,
    )
}

/// The parsed format of every printf and system() call.
pub(super) fn printf_formats(object: &Object) -> Result<Vec<Format>, RunError> {
    object
        .printfs
        .iter()
        .map(|info| {
            // A builtin's own record keeps a parameter, not a printf format.
            let text = if info.kind == event::CALL {
                ""
            } else {
                &info.format
            };
            Format::new(text).map_err(|e| {
                let func = if info.kind == event::SYSTEM {
                    "system"
                } else {
                    "printf"
                };
                RunError::Message(format!("{func}: {e}"))
            })
        })
        .collect()
}

/// Every user map's contents, in the order given.
pub(super) fn user_map_dumps<'a>(
    maps: impl Iterator<Item = (&'a MapInfo, Option<&'a KernelMap>, &'a TypeTable)>,
    syms: &mut dyn Resolver,
) -> Result<Vec<MapDump>, RunError> {
    let mut dumps = Vec::new();
    for (info, map, types) in maps {
        let Some(map) = map.filter(|_| !info.internal) else {
            continue;
        };
        let d = decode::dump(info, map, types, syms)
            .map_err(|e| RunError::Message(format!("cannot read map {}: {e}", info.name)))?;
        dumps.push(d);
    }
    Ok(dumps)
}

/// Creates every map of the object, the event ring buffer with `ring_bytes` bytes.
fn create_maps(object: &Object, ring_bytes: u32) -> Result<Vec<KernelMap>, RunError> {
    object
        .maps
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let mut def = m.def.clone();
            if i == object.ringbuf as usize && def.kind == MapKind::RingBuf {
                def.max_entries = ring_bytes;
            }
            KernelMap::create(&def).map_err(|e| {
                let hint = if m.def.kind == MapKind::StackTrace {
                    stack_map_hint(&e, m.def.value_size / 8)
                } else {
                    permission_hint(&e).to_string()
                };
                RunError::Message(format!("cannot create BPF map '{}': {e}{hint}", m.name))
            })
        })
        .collect()
}

/// The event ring buffer's size in bytes. bpftrace 0.17 gives each online CPU a perf buffer of
/// `BPFTRACE_PERF_RB_PAGES` pages (64 unless set); rtrace's one ring buffer, shared by the
/// CPUs, holds as many pages in all, rounded up to a power of two as the kernel wants. Unset,
/// it is never smaller than 1 MiB (`sema::RINGBUF_BYTES`). The variable's value was checked
/// (a power of two) when the command line was read.
pub(super) fn ring_buffer_bytes(
    pages_per_cpu: Option<u64>,
    cpus: u64,
    page_size: u64,
) -> Result<u32, String> {
    /// The largest ring buffer: `max_entries` is a u32 and a power of two.
    const MAX: u64 = 1 << 31;
    let pages = pages_per_cpu.unwrap_or(DEFAULT_PERF_RB_PAGES);
    let bytes = pages
        .checked_mul(cpus.max(1))
        .and_then(|n| n.checked_mul(page_size))
        .and_then(u64::checked_next_power_of_two)
        .filter(|&n| n <= MAX)
        .ok_or_else(|| {
            format!(
                "BPFTRACE_PERF_RB_PAGES={pages}: {pages} pages on each of {cpus} CPUs make a ring \
                 buffer larger than the kernel's largest ({} GiB)",
                MAX >> 30
            )
        })?;
    let bytes = match pages_per_cpu {
        Some(_) => bytes,
        None => bytes.max(u64::from(crate::sema::RINGBUF_BYTES)),
    };
    Ok(bytes as u32)
}

/// bpftrace 0.17's `BPFTRACE_PERF_RB_PAGES` default: pages per CPU.
const DEFAULT_PERF_RB_PAGES: u64 = 64;

fn online_cpus() -> u64 {
    crate::bpf::sys::online_cpus().map_or(1, |c| c.len().max(1) as u64)
}

fn page_size() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if n > 0 {
        n as u64
    } else {
        4096
    }
}

/// `-v`: each verifier log, as bpftrace 0.17 prints it on stdout once its programs load.
fn print_verifier_logs(logs: &[VerifierLog]) {
    if logs.is_empty() {
        return;
    }
    let mut text = String::new();
    for l in logs {
        if let Some(id) = l.id {
            text.push_str(&format!("\nProgram ID: {id}\n"));
        }
        text.push_str(&format!("\nThe verifier log: \n{}\n", l.log));
    }
    let mut out = io::stdout().lock();
    // A closed stdout ends the run later, when its output is written.
    let _ = out.write_all(text.as_bytes()).and_then(|_| out.flush());
}

/// `-v`: a refused program's whole verifier log, on stderr before the error (as bpftrace's
/// "Error log:").
fn print_error_log(e: &LoadError) {
    if let LoadError::Verifier { log, .. } | LoadError::LogTooSmall { log, .. } = e {
        eprintln!("\nError log: \n{log}");
    }
}

/// Why a stack map of `limit` frames may not be created: the kernel's frame limit
/// (`kernel.perf_event_max_stack`), or memory.
fn stack_map_hint(e: &io::Error, limit: u32) -> String {
    let max = std::fs::read_to_string("/proc/sys/kernel/perf_event_max_stack")
        .ok()
        .and_then(|t| t.trim().parse::<u32>().ok());
    // The error keeps the kind of the kernel's errno (EINVAL, ENOMEM), not the number.
    match (e.kind(), max) {
        (io::ErrorKind::InvalidInput, Some(max)) if limit > max => format!(
            " (the kernel keeps at most {max} frames of a stack, and this script asks for \
             {limit}: ask for fewer, or raise it with sysctl kernel.perf_event_max_stack={limit})"
        ),
        (io::ErrorKind::OutOfMemory, _) => format!(
            " (a stack map holds {} stacks of {limit} frames: ask for fewer frames)",
            crate::sema::STACK_MAP_ENTRIES
        ),
        _ => permission_hint(e).to_string(),
    }
}

fn permission_hint(e: &io::Error) -> &'static str {
    match e.raw_os_error() {
        Some(libc::EPERM) | Some(libc::EACCES) => {
            " (rtrace needs root, or CAP_BPF and CAP_PERFMON)"
        }
        _ => "",
    }
}

/// Turns a loader failure into a diagnostic on the script where possible.
pub(super) fn load_error(err: LoadError, object: &Object) -> RunError {
    match err {
        LoadError::Verifier { program, insn, log } => {
            let span = insn.and_then(|i| {
                object
                    .programs
                    .get(program)
                    .and_then(|p| p.code.spans.get(i))
            });
            let summary = log
                .lines()
                .rev()
                .map(str::trim)
                .find(|l| !is_log_statistics(l))
                .unwrap_or("no reason given")
                .to_string();
            let mut d = match span {
                Some(s) => Diagnostic::error(
                    *s,
                    format!("the kernel's BPF verifier rejected this: {summary}"),
                ),
                None => Diagnostic::spanless(format!(
                    "the kernel's BPF verifier rejected the program: {summary}"
                )),
            };
            let tail: Vec<&str> = log.lines().rev().take(8).collect();
            if !tail.is_empty() {
                let mut note = String::from("the verifier's last lines:\n");
                for l in tail.iter().rev() {
                    note.push_str(l);
                    note.push('\n');
                }
                d = d.with_note(note.trim_end().to_string());
            }
            RunError::Diag(d.with_note(verifier_hint(&summary)))
        }
        LoadError::LogTooSmall { program, size, .. } => {
            let probe = object
                .programs
                .get(program)
                .map_or_else(|| format!("program {program}"), |p| p.attach.to_string());
            RunError::Message(format!(
                "Error loading program: {probe}: the verifier log did not fit in its \
                 {size}-byte buffer; try increasing the BPFTRACE_LOG_SIZE environment variable \
                 beyond the current value of {size} bytes"
            ))
        }
        LoadError::Attach { program, message } => match object.programs.get(program) {
            Some(p) => RunError::Diag(Diagnostic::error(p.attach_span, message)),
            None => RunError::Message(message),
        },
        other => RunError::Message(other.to_string()),
    }
}

/// What a user can do about a verifier verdict.
fn verifier_hint(summary: &str) -> String {
    let hint = if summary.contains("too complex") || summary.contains("too large") {
        "the verifier gave up exploring this program's paths: give `while` loops a bound it can \
         see (compare with a constant), unroll fewer times, or split the work across probes"
    } else if summary.contains("infinite loop") || summary.contains("back-edge") {
        "the verifier could not prove that a loop ends: make its condition compare with a \
         constant and change the variable on every path through the body"
    } else if summary.contains("stack") {
        "the program uses too much stack: fewer or shorter strings and tuples per probe help"
    } else if summary.contains("invalid mem access") || summary.contains("invalid access") {
        "a memory access the verifier could not prove safe: this is likely an rtrace code \
         generation bug; please report it with the output of --dump bpf"
    } else {
        "the kernel refused code rtrace generated for this probe; `rtrace --dump bpf` shows the \
         instructions, each under the source it came from"
    };
    format!("hint: {hint}")
}

/// The statistics lines the verifier prints after its verdict.
fn is_log_statistics(line: &str) -> bool {
    line.is_empty()
        || [
            "processed ",
            "verification time",
            "stack depth",
            "max_states_per_insn",
        ]
        .iter()
        .any(|p| line.starts_with(p))
}

/// Waits for events, a signal, the watched process to end, or a metrics scrape. `Ok(true)`
/// when the watched process ended.
fn wait(ring_fd: i32, watched: Option<i32>, metrics: Option<i32>) -> Result<bool, RunError> {
    let mut fds = [
        libc::pollfd {
            fd: ring_fd,
            events: libc::POLLIN,
            revents: 0,
        },
        // A negative fd is ignored by poll.
        libc::pollfd {
            fd: watched.unwrap_or(-1),
            events: libc::POLLIN,
            revents: 0,
        },
        libc::pollfd {
            fd: metrics.unwrap_or(-1),
            events: libc::POLLIN,
            revents: 0,
        },
    ];
    // SAFETY: `fds` holds 3 valid pollfd entries for the duration of the call.
    let r = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, -1) };
    if r < 0 {
        let e = io::Error::last_os_error();
        if e.raw_os_error() == Some(libc::EINTR) {
            return Ok(false);
        }
        return Err(RunError::Message(format!("poll: {e}")));
    }
    Ok(watched.is_some() && fds[1].revents != 0)
}

/// The number of events the ring buffer had no room for (the one-entry `lost` array).
pub(super) fn lost_events(map: &KernelMap) -> u64 {
    map.lookup(&0u32.to_le_bytes())
        .and_then(|v| {
            v.get(..8)
                .map(|b| u64::from_le_bytes(b.try_into().unwrap_or([0; 8])))
        })
        .unwrap_or(0)
}

/// system(): runs the command through `sh -c` and returns what it printed on stdout.
fn run_command(cmd: &[u8]) -> Vec<u8> {
    use std::os::unix::ffi::OsStrExt;
    std::process::Command::new("/bin/sh")
        .arg("-c")
        .arg(std::ffi::OsStr::from_bytes(cmd))
        .stdin(std::process::Stdio::null())
        .output()
        .map(|o| o.stdout)
        .unwrap_or_default()
}

/// Output is written out at least this often while events are read.
const FLUSH_BYTES: usize = 64 * 1024;
/// With line buffering, output is also written out at least this often while records keep
/// coming (a ring buffer that never empties would otherwise hold it until `FLUSH_BYTES`).
const FLUSH_INTERVAL: Duration = Duration::from_millis(10);

impl Sink {
    pub(super) fn new(
        printer: Box<dyn Output>,
        writer: Box<dyn Write>,
        buffering: Buffering,
        demangle: bool,
    ) -> Sink {
        Sink {
            printer,
            writer,
            out: Vec::with_capacity(1 << 16),
            exit: false,
            exit_drops: true,
            args: Vec::new(),
            buffering,
            symbols: Symbolizer::new(demangle),
            source: None,
            last_flush: Instant::now(),
            watch: None,
        }
    }

    /// Writes out the pending output. A closed pipe (`| head`) ends the run quietly.
    pub(super) fn flush(&mut self) -> Result<(), RunError> {
        self.last_flush = Instant::now();
        if self.out.is_empty() {
            return Ok(());
        }
        let r = self
            .writer
            .write_all(&self.out)
            .and_then(|_| self.writer.flush());
        self.out.clear();
        match r {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                signals::stop();
                Ok(())
            }
            Err(e) => Err(RunError::Message(format!("cannot write output: {e}"))),
        }
    }

    /// Handles every waiting record. Output is written out every `FLUSH_BYTES` (and, line
    /// buffered, every `FLUSH_INTERVAL`), so that a ring buffer that never empties (events
    /// arrive as fast as they are read) cannot pile text up in memory or hold it back.
    pub(super) fn drain(
        &mut self,
        reader: &mut EventReader,
        tables: &Tables<'_>,
    ) -> Result<(), RunError> {
        self.drain_until(reader, tables, || false).map(|_| ())
    }

    /// `drain`, stopping as soon as `stop()` says so, before the next record is handled:
    /// a signal must not wait for a backlog that may never end (each record may run a
    /// command). Returns how many records were taken without being handled (0 or 1; the
    /// caller drops the rest).
    pub(super) fn drain_until(
        &mut self,
        reader: &mut EventReader,
        tables: &Tables<'_>,
        stop: impl Fn() -> bool,
    ) -> Result<usize, RunError> {
        let mut err = None;
        let mut skipped = 0;
        reader.drain_while(|rec| {
            if stop() {
                skipped = 1;
                return false;
            }
            if self.exit && self.exit_drops {
                // After exit(), what the probes wrote later is dropped, as in bpftrace 0.17.
                return false;
            }
            let r = self.handle(rec, tables).and_then(|_| {
                let due = match self.buffering {
                    Buffering::None => true,
                    Buffering::Line => self.last_flush.elapsed() >= FLUSH_INTERVAL,
                    Buffering::Full => false,
                };
                if due || self.out.len() >= FLUSH_BYTES {
                    self.flush()
                } else {
                    Ok(())
                }
            });
            match r {
                Ok(()) => true,
                Err(e) => {
                    err = Some(e);
                    false
                }
            }
        });
        match err {
            Some(e) => Err(e),
            None => Ok(skipped),
        }
    }

    /// SIGUSR1: every user map, each as `print(@m)` prints it.
    fn print_maps(&mut self, tables: &Tables<'_>) -> Result<(), RunError> {
        let mut syms = SessionSymbols::new(tables.object, tables.maps, &mut self.symbols);
        let dumps = session_dumps(tables, &mut syms)?;
        for d in &dumps {
            self.printer.map(&mut self.out, d, 0, 1);
        }
        self.flush()
    }

    /// The end of a run: lost events, then every user map. Returns the exit code.
    pub(super) fn finish(&mut self, lost: u64, dumps: &[MapDump]) -> Result<i32, RunError> {
        if lost > 0 {
            self.printer.lost(&mut self.out, lost);
        }
        self.printer.maps_at_exit(&mut self.out, dumps);
        self.flush()?;
        Ok(0)
    }

    /// A failed helper call (`-k`): bpftrace's warning at the call's location.
    fn helper_error(&mut self, helper: u32, rec: &[u8]) {
        let word = |at: usize, n: usize| {
            let mut w = [0u8; 8];
            if let Some(b) = rec.get(at..at + n) {
                w[..n].copy_from_slice(b);
            }
            u64::from_le_bytes(w)
        };
        let code = word(8, 8) as i64;
        let span = Span {
            start: word(16, 4) as u32,
            end: word(20, 4) as u32,
        };
        let name = crate::codegen::ir::helper::name(helper);
        let msg = if code < 0 {
            let err = std::io::Error::from_raw_os_error(-code as i32);
            format!(
                "Failed to {name}: {} ({code})",
                crate::output::os_error_text(&err)
            )
        } else {
            format!("Failed to {name}: {code}")
        };
        let source = self
            .source
            .clone()
            .unwrap_or_else(|| Source::new("stdin", ""));
        let (line, col) = crate::diag::line_byte_col(&source, span.start);
        let warning = crate::diag::bpftrace_located(&source, span, "WARNING", &msg);
        let e = crate::output::sink::HelperError {
            helper: name,
            code,
            line,
            col,
            warning: &warning,
        };
        self.printer.helper_error(&mut self.out, &e);
    }

    fn handle(&mut self, rec: &[u8], tables: &Tables<'_>) -> Result<(), RunError> {
        if rec.len() < 8 {
            return Ok(());
        }
        let kind = u32::from_le_bytes([rec[0], rec[1], rec[2], rec[3]]);
        let id = u32::from_le_bytes([rec[4], rec[5], rec[6], rec[7]]) as usize;
        let object = tables.object;
        match kind {
            event::PRINTF | event::SYSTEM => {
                let (Some(info), Some(format)) = (object.printfs.get(id), tables.formats.get(id))
                else {
                    return Ok(());
                };
                let mut syms = SessionSymbols::new(object, tables.maps, &mut self.symbols);
                self.args = decode::printf_args(info, rec, &object.types, &mut syms);
                let mut text = Vec::new();
                if kind == event::PRINTF {
                    format
                        .write(&mut text, &self.args)
                        .map_err(|e| RunError::Message(format!("printf: {e}")))?;
                    self.printer.printf(&mut self.out, &text);
                } else {
                    format
                        .write(&mut text, &self.args)
                        .map_err(|e| RunError::Message(format!("system: {e}")))?;
                    let output = run_command(&text);
                    self.printer.system(&mut self.out, &output);
                }
            }
            event::PRINT_MAP_TOP => {
                let Some((m, top, div)) = object.printfs.get(id).and_then(|p| p.map_print) else {
                    return Ok(());
                };
                let (Some(info), Some(map)) =
                    (object.maps.get(m as usize), tables.maps.map(m as usize))
                else {
                    return Ok(());
                };
                let mut syms = SessionSymbols::new(object, tables.maps, &mut self.symbols);
                let d = decode::dump(info, map, &object.types, &mut syms)
                    .map_err(|e| RunError::Message(format!("map {}: {e}", info.name)))?;
                self.printer.map(&mut self.out, &d, top as usize, div);
            }
            event::CALL => {
                let Some(info) = object.printfs.get(id) else {
                    return Ok(());
                };
                if let Some(hook) = info.call.and_then(|b| builtins::get(b).event) {
                    let mut syms = SessionSymbols::new(object, tables.maps, &mut self.symbols);
                    self.args = decode::printf_args(info, rec, &object.types, &mut syms);
                    let e = builtins::Event {
                        param: &info.format,
                        args: &self.args,
                        payload: &rec[event::HEADER as usize..],
                    };
                    match hook(&e) {
                        builtins::Message::Text {
                            kind,
                            text,
                            newline,
                        } => self.printer.message(&mut self.out, kind, &text, newline),
                        builtins::Message::Value(v) => self.printer.value(&mut self.out, &v),
                        builtins::Message::Error(msg) => {
                            // What came before it is printed first.
                            self.flush()?;
                            eprintln!("ERROR: {msg}");
                        }
                        builtins::Message::Failed { error, kind } => {
                            self.flush()?;
                            eprintln!("ERROR: {error}");
                            self.printer.message(&mut self.out, kind, b"", false);
                        }
                    }
                }
            }
            event::EXIT => self.exit = true,
            event::WATCHPOINT | event::UNWATCH => {
                if let Some(w) = self.watch.as_mut() {
                    w.handle(kind, rec, &*self.printer, &mut self.out)
                        .map_err(RunError::Message)?;
                }
            }
            event::HELPER_ERROR => self.helper_error(id as u32, rec),
            event::PRINT_MAP | event::CLEAR_MAP | event::ZERO_MAP => {
                let (Some(info), Some(map)) = (object.maps.get(id), tables.maps.map(id)) else {
                    return Ok(());
                };
                let r = match kind {
                    event::PRINT_MAP => {
                        let mut syms = SessionSymbols::new(object, tables.maps, &mut self.symbols);
                        decode::dump(info, map, &object.types, &mut syms).map(|d| {
                            self.printer.map(&mut self.out, &d, 0, 1);
                        })
                    }
                    // bpftrace 0.17 keeps a cleared key-less count() map as `@m: 0`.
                    event::CLEAR_MAP
                        if info.keys.is_empty() && info.agg_kind() == AggKind::Count =>
                    {
                        map.zero()
                    }
                    event::CLEAR_MAP => map.clear(),
                    _ => map.zero(),
                };
                r.map_err(|e| RunError::Message(format!("map {}: {e}", info.name)))?;
            }
            _ => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::ring_buffer_bytes;

    #[test]
    fn ring_buffer_holds_the_pages_of_every_cpu() {
        // Unset: 64 pages per CPU, at least 1 MiB.
        assert_eq!(ring_buffer_bytes(None, 2, 4096), Ok(1 << 20));
        assert_eq!(ring_buffer_bytes(None, 16, 4096), Ok(4 << 20));
        // Set: exactly as many pages, rounded up to a power of two.
        assert_eq!(ring_buffer_bytes(Some(1), 2, 4096), Ok(8192));
        assert_eq!(ring_buffer_bytes(Some(4), 3, 4096), Ok(64 << 10));
        assert_eq!(ring_buffer_bytes(Some(1 << 19), 1, 4096), Ok(1 << 31));
        let e = ring_buffer_bytes(Some(1 << 19), 2, 4096).unwrap_err();
        assert!(e.contains("BPFTRACE_PERF_RB_PAGES=524288"), "{e}");
        assert!(ring_buffer_bytes(Some(u64::MAX), 4, 4096).is_err());
    }
}
