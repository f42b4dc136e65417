//! A traced run, the runtime's one entry: `Session::start` creates the maps, forks the `-c`
//! command, applies the relocations, loads and attaches the programs of a compiled `Object`;
//! `Session::run` fires BEGIN, prints events until exit()/Ctrl-C/the traced command ends, then
//! fires END and prints the maps, all through an `output::Output`.

use super::child::{self, Child};
use super::decode;
use super::load::{LoadError, ProgramImage, Programs};
use super::relocate::{self, RunConsts};
use super::signals;
use crate::bpf::maps::KernelMap;
use crate::bpf::ringbuf::EventReader;
use crate::builtins;
use crate::diag::Diagnostic;
use crate::object::Object;
use crate::output::printf::Format;
use crate::output::value::{AggKind, Value};
use crate::output::{self, Buffering, Output, OutputFormat};
use crate::sema::layout::MapKind;
use crate::sema::typed::event;
use crate::source::{Source, Span};
use std::io::{self, Write};
use std::os::fd::{AsRawFd, OwnedFd};

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
    /// The script, for the locations of run-time warnings (`-k`'s failed helpers).
    pub source: Option<Source>,
}

/// A run in progress: everything it holds is released (probes detached, programs and maps
/// closed, a command still held before exec killed) when it is dropped.
pub struct Session<'o> {
    /// Declared first so that it drops first: probes are detached before anything else closes.
    programs: Programs,
    reader: EventReader,
    events: Events<'o>,
    child: Option<Child>,
    pid: Option<i32>,
}

/// What handling events needs: the object's tables, the maps, and the output.
struct Events<'o> {
    object: &'o Object,
    /// Indexed like `Object::maps`; the ring buffer's slot holds a placeholder.
    maps: Vec<KernelMap>,
    /// One parsed format per `Object::printfs` entry, built once at start.
    formats: Vec<Format>,
    printer: Box<dyn Output>,
    writer: Box<dyn Write>,
    /// Output not yet written.
    out: Vec<u8>,
    /// exit() was called.
    exit: bool,
    args: Vec<Value>,
    buffering: Buffering,
    source: Option<Source>,
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
        let consts = RunConsts {
            cpid: child.as_ref().map_or(0, |c| u64::from(c.pid())),
            start_ns: relocate::monotonic_ns(),
        };
        let mut maps = create_maps(object)?;
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
        let mut programs = Programs::load(&images).map_err(|e| load_error(e, object))?;
        let probes = object.programs.len();

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

        let mut events = Events {
            object,
            maps,
            formats,
            printer: output::for_format(cfg.format, cfg.quiet),
            writer: cfg.output,
            out: Vec::with_capacity(1 << 16),
            exit: false,
            args: Vec::new(),
            buffering: cfg.buffering,
            source: cfg.source,
        };
        // BEGIN runs before the other probes are attached, as in bpftrace, so none of them
        // fires before it; its output waits in the ring buffer. `Attaching N probes...` is
        // printed once they are attached (scripts and tests may take it as the signal).
        programs.run_begin().map_err(|e| load_error(e, object))?;
        programs
            .attach(cfg.pid)
            .map_err(|e| load_error(e, object))?;
        events.printer.attached(&mut events.out, probes);
        events.flush()?;
        if cfg.notify_attached {
            eprintln!("__BPFTRACE_NOTIFY_PROBES_ATTACHED");
        }
        Ok(Session {
            programs,
            reader,
            events,
            child,
            pid: cfg.pid,
        })
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

        loop {
            self.events.drain(&mut self.reader)?;
            if signals::take_print_maps() {
                self.events.print_maps()?;
            }
            if self.events.buffering != Buffering::Full {
                self.events.flush()?;
            }
            if self.events.exit || signals::stopped() {
                break;
            }
            if wait(self.reader.raw_fd(), watched_fd)? {
                self.events.drain(&mut self.reader)?;
                break;
            }
        }

        self.programs.run_end().map_err(|e| load_error(e, object))?;
        self.events.drain(&mut self.reader)?;
        self.events.finish()?;
        Ok(0)
    }
}

/// The parsed format of every printf and system() call.
fn printf_formats(object: &Object) -> Result<Vec<Format>, RunError> {
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

/// Creates every map of the object.
fn create_maps(object: &Object) -> Result<Vec<KernelMap>, RunError> {
    object
        .maps
        .iter()
        .map(|m| {
            KernelMap::create(&m.def).map_err(|e| {
                RunError::Message(format!(
                    "cannot create BPF map '{}': {e}{}",
                    m.name,
                    permission_hint(&e)
                ))
            })
        })
        .collect()
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
fn load_error(err: LoadError, object: &Object) -> RunError {
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

/// Waits for events, a signal, or the watched process to end. `Ok(true)` when it ended.
fn wait(ring_fd: i32, watched: Option<i32>) -> Result<bool, RunError> {
    let mut fds = [
        libc::pollfd {
            fd: ring_fd,
            events: libc::POLLIN,
            revents: 0,
        },
        libc::pollfd {
            fd: watched.unwrap_or(-1),
            events: libc::POLLIN,
            revents: 0,
        },
    ];
    let n = if watched.is_some() { 2 } else { 1 };
    // SAFETY: `fds` holds `n` valid pollfd entries for the duration of the call.
    let r = unsafe { libc::poll(fds.as_mut_ptr(), n, -1) };
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
fn lost_events(map: &KernelMap) -> u64 {
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

impl Events<'_> {
    /// Writes out the pending output. A closed pipe (`| head`) ends the run quietly.
    fn flush(&mut self) -> Result<(), RunError> {
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

    /// Handles every waiting record. Output is written out every `FLUSH_BYTES`, so that a
    /// ring buffer that never empties (events arrive as fast as they are read) cannot pile
    /// text up in memory.
    fn drain(&mut self, reader: &mut EventReader) -> Result<(), RunError> {
        let mut err = None;
        reader.drain(|rec| {
            if err.is_some() {
                return;
            }
            let r = self.handle(rec).and_then(|_| {
                if self.out.len() >= FLUSH_BYTES || self.buffering == Buffering::None {
                    self.flush()
                } else {
                    Ok(())
                }
            });
            if let Err(e) = r {
                err = Some(e);
            }
        });
        match err {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// SIGUSR1: every user map, each as `print(@m)` prints it.
    fn print_maps(&mut self) -> Result<(), RunError> {
        let object = self.object;
        for (info, map) in object.maps.iter().zip(&self.maps) {
            if info.internal {
                continue;
            }
            let d = decode::dump(info, map, &object.types)
                .map_err(|e| RunError::Message(format!("cannot read map {}: {e}", info.name)))?;
            self.printer.map(&mut self.out, &d, 0, 1);
        }
        self.flush()
    }

    /// The end of a run: lost events, then every user map.
    fn finish(&mut self) -> Result<(), RunError> {
        let object = self.object;
        let lost = self.maps.get(object.lost as usize).map_or(0, lost_events);
        if lost > 0 {
            self.printer.lost(&mut self.out, lost);
        }
        let mut dumps = Vec::new();
        for (info, map) in object.maps.iter().zip(&self.maps) {
            if info.internal {
                continue;
            }
            let d = decode::dump(info, map, &object.types)
                .map_err(|e| RunError::Message(format!("cannot read map {}: {e}", info.name)))?;
            dumps.push(d);
        }
        self.printer.maps_at_exit(&mut self.out, &dumps);
        self.flush()
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

    fn handle(&mut self, rec: &[u8]) -> Result<(), RunError> {
        if rec.len() < 8 {
            return Ok(());
        }
        let kind = u32::from_le_bytes([rec[0], rec[1], rec[2], rec[3]]);
        let id = u32::from_le_bytes([rec[4], rec[5], rec[6], rec[7]]) as usize;
        let object = self.object;
        match kind {
            event::PRINTF | event::SYSTEM => {
                let (Some(info), Some(format)) = (object.printfs.get(id), self.formats.get(id))
                else {
                    return Ok(());
                };
                self.args = decode::printf_args(info, rec, &object.types);
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
                    (object.maps.get(m as usize), self.maps.get(m as usize))
                else {
                    return Ok(());
                };
                let d = decode::dump(info, map, &object.types)
                    .map_err(|e| RunError::Message(format!("map {}: {e}", info.name)))?;
                self.printer.map(&mut self.out, &d, top as usize, div);
            }
            event::CALL => {
                let Some(info) = object.printfs.get(id) else {
                    return Ok(());
                };
                if let Some(hook) = info.call.and_then(|b| builtins::get(b).event) {
                    self.args = decode::printf_args(info, rec, &object.types);
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
                    }
                }
            }
            event::EXIT => self.exit = true,
            event::HELPER_ERROR => self.helper_error(id as u32, rec),
            event::PRINT_MAP | event::CLEAR_MAP | event::ZERO_MAP => {
                let (Some(info), Some(map)) = (object.maps.get(id), self.maps.get(id)) else {
                    return Ok(());
                };
                let r = match kind {
                    event::PRINT_MAP => decode::dump(info, map, &object.types).map(|d| {
                        self.printer.map(&mut self.out, &d, 0, 1);
                    }),
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
