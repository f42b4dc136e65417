//! A traced run: maps created, programs loaded and attached, BEGIN fired, events read and
//! printed until exit()/Ctrl-C/the traced command ends, then END, and the maps printed.

use super::decode;
use super::load::{LoadError, ProgramImage, Session};
use super::signals;
use crate::bpf::maps::KernelMap;
use crate::bpf::ringbuf::EventReader;
use crate::cli::OutputFormat;
use crate::codegen::{self, ir};
use crate::diag::Diagnostic;
use crate::output::value::{AggKind, Value};
use crate::output::{json, print, printf};
use crate::sema::layout::MapKind;
use crate::sema::typed::{event, Checked};
use std::io::{self, Write};
use std::os::fd::{AsRawFd, OwnedFd};

/// How a run ended badly: a diagnostic on the script, or a plain message.
pub enum RunError {
    Diag(Diagnostic),
    Message(String),
}

/// What the run needs besides the checked program.
pub struct RunConfig<'a> {
    pub format: OutputFormat,
    pub quiet: bool,
    /// `-p PID`: uprobes filter on it and the run ends when it exits.
    pub pid: Option<i32>,
    /// The `-c` command, started paused; released once BEGIN has run.
    pub child: Option<&'a mut super::child::Child>,
    pub output: Box<dyn Write + 'a>,
}

/// Creates every map of the program.
pub fn create_maps(checked: &Checked) -> Result<Vec<KernelMap>, RunError> {
    checked
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

pub fn permission_hint(e: &io::Error) -> &'static str {
    match e.raw_os_error() {
        Some(libc::EPERM) | Some(libc::EACCES) => {
            " (rtrace needs root, or CAP_BPF and CAP_PERFMON)"
        }
        _ => "",
    }
}

/// Encodes every lowered function with the real map fds.
pub fn encode(
    checked: &Checked,
    funcs: &[ir::Function],
    maps: &[KernelMap],
) -> Result<Vec<ProgramImage>, Diagnostic> {
    let fd_of = |id: ir::MapId| maps.get(id.0 as usize).map_or(-1, |m| m.fd());
    funcs
        .iter()
        .zip(&checked.probes)
        .map(|(f, p)| {
            let enc = codegen::compile(f, &fd_of)?;
            Ok(ProgramImage {
                name: enc.name,
                attach: p.attach.clone(),
                insns: enc.insns,
                spans: enc.spans,
            })
        })
        .collect()
}

/// Turns a loader failure into a diagnostic on the script where possible.
pub fn load_error(err: LoadError, images: &[ProgramImage], checked: &Checked) -> RunError {
    match err {
        LoadError::Verifier { program, insn, log } => {
            let span = insn.and_then(|i| images.get(program).and_then(|p| p.spans.get(i)));
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
        LoadError::Attach { program, message } => match checked.probes.get(program) {
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

/// Runs the loaded session until it ends; returns the exit code.
pub fn run(
    checked: &Checked,
    mut maps: Vec<KernelMap>,
    images: &[ProgramImage],
    mut cfg: RunConfig<'_>,
) -> Result<i32, RunError> {
    signals::install();
    let mut session = Session::load(images).map_err(|e| load_error(e, images, checked))?;
    let probes = session
        .attach(cfg.pid)
        .map_err(|e| load_error(e, images, checked))?;

    // The ring buffer's reader takes the map; keep the others for dumps.
    let rb_index = checked.ringbuf as usize;
    let placeholder = KernelMap::create(&crate::sema::layout::MapDef {
        name: "unused".into(),
        kind: MapKind::Array,
        key_size: 4,
        value_size: 8,
        max_entries: 1,
    })
    .map_err(|e| RunError::Message(format!("cannot create a BPF map: {e}")))?;
    let rb = std::mem::replace(&mut maps[rb_index], placeholder);
    let mut reader =
        EventReader::new(rb).map_err(|e| RunError::Message(format!("ring buffer: {e}")))?;

    let mut out = Vec::with_capacity(1 << 16);
    let json = cfg.format == OutputFormat::Json;
    if !cfg.quiet || json {
        if json {
            out.extend_from_slice(json::attached_probes(probes).as_bytes());
        } else if !cfg.quiet {
            out.extend_from_slice(print::attaching(probes).as_bytes());
        }
    }
    flush(&mut cfg.output, &mut out)?;

    session
        .run_begin()
        .map_err(|e| load_error(e, images, checked))?;
    let watched = match cfg.child.as_mut() {
        Some(child) => {
            child
                .release()
                .map_err(|e| RunError::Message(format!("cannot start the command: {e}")))?;
            Some(child.pidfd())
        }
        None => cfg.pid.and_then(|p| super::child::pidfd_open(p).ok()),
    };
    let watched_fd = watched.as_ref().map(|fd: &OwnedFd| fd.as_raw_fd());

    let mut state = EventState {
        checked,
        maps: &maps,
        exit: false,
        json,
        args: Vec::new(),
    };
    let mut ended_by_process = false;
    loop {
        state.drain(&mut reader, &mut out, &mut cfg.output)?;
        flush(&mut cfg.output, &mut out)?;
        if state.exit || signals::stopped() {
            break;
        }
        if wait(reader.raw_fd(), watched_fd)? {
            ended_by_process = true;
            state.drain(&mut reader, &mut out, &mut cfg.output)?;
            break;
        }
    }
    let _ = ended_by_process;

    session
        .run_end()
        .map_err(|e| load_error(e, images, checked))?;
    state.drain(&mut reader, &mut out, &mut cfg.output)?;

    let lost = lost_events(&maps[checked.lost as usize]);
    if lost > 0 {
        if json {
            out.extend_from_slice(json::lost_events(lost).as_bytes());
        } else {
            out.extend_from_slice(print::lost_events(lost).as_bytes());
        }
    }
    let mut dumps = Vec::new();
    for (info, map) in checked.maps.iter().zip(&maps) {
        if info.internal {
            continue;
        }
        let d = decode::dump(info, map)
            .map_err(|e| RunError::Message(format!("cannot read map {}: {e}", info.name)))?;
        dumps.push(d);
    }
    if json {
        out.extend_from_slice(json::maps_at_exit(&dumps).as_bytes());
    } else {
        print::write_maps_at_exit(&mut out, &dumps);
    }
    flush(&mut cfg.output, &mut out)?;
    drop(session);
    Ok(0)
}

fn flush(w: &mut Box<dyn Write + '_>, out: &mut Vec<u8>) -> Result<(), RunError> {
    if out.is_empty() {
        return Ok(());
    }
    let r = w.write_all(out).and_then(|_| w.flush());
    out.clear();
    match r {
        Ok(()) => Ok(()),
        // A closed pipe (| head) ends the run quietly.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
            signals::stop();
            Ok(())
        }
        Err(e) => Err(RunError::Message(format!("cannot write output: {e}"))),
    }
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

/// Handles event records as they arrive.
struct EventState<'a> {
    checked: &'a Checked,
    maps: &'a [KernelMap],
    exit: bool,
    json: bool,
    args: Vec<Value>,
}

impl EventState<'_> {
    /// Handles every waiting record. Output is written out every `FLUSH_BYTES`, so that a
    /// ring buffer that never empties (events arrive as fast as they are read) cannot pile
    /// text up in memory.
    fn drain(
        &mut self,
        reader: &mut EventReader,
        out: &mut Vec<u8>,
        w: &mut Box<dyn Write + '_>,
    ) -> Result<(), RunError> {
        let mut err = None;
        reader.drain(|rec| {
            if err.is_some() {
                return;
            }
            let r = self.handle(rec, out).and_then(|_| {
                if out.len() >= FLUSH_BYTES {
                    flush(w, out)
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

    fn handle(&mut self, rec: &[u8], out: &mut Vec<u8>) -> Result<(), RunError> {
        if rec.len() < 8 {
            return Ok(());
        }
        let kind = u32::from_le_bytes([rec[0], rec[1], rec[2], rec[3]]);
        let id = u32::from_le_bytes([rec[4], rec[5], rec[6], rec[7]]) as usize;
        match kind {
            event::PRINTF => {
                let Some(info) = self.checked.printfs.get(id) else {
                    return Ok(());
                };
                self.args = decode::printf_args(info, rec);
                let mut text = Vec::new();
                if let Err(e) = printf::format_into(&mut text, &info.format, &self.args) {
                    return Err(RunError::Message(format!("printf: {e}")));
                }
                if self.json {
                    out.extend_from_slice(json::printf(&text).as_bytes());
                } else {
                    out.extend_from_slice(&text);
                }
            }
            event::SYSTEM => {
                let Some(info) = self.checked.printfs.get(id) else {
                    return Ok(());
                };
                self.args = decode::printf_args(info, rec);
                let mut cmd = Vec::new();
                if let Err(e) = printf::format_into(&mut cmd, &info.format, &self.args) {
                    return Err(RunError::Message(format!("system: {e}")));
                }
                let output = run_command(&cmd);
                if self.json {
                    out.extend_from_slice(json::record("syscall", &output).as_bytes());
                } else {
                    out.extend_from_slice(&output);
                }
            }
            event::EXIT => self.exit = true,
            event::PRINT_MAP | event::CLEAR_MAP | event::ZERO_MAP => {
                let (Some(info), Some(map)) = (self.checked.maps.get(id), self.maps.get(id)) else {
                    return Ok(());
                };
                let r = match kind {
                    event::PRINT_MAP => decode::dump(info, map).map(|d| {
                        if self.json {
                            out.extend_from_slice(json::map(&d).as_bytes());
                        } else {
                            print::write_map(out, &d, 0, 1);
                        }
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
