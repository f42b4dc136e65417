//! The interactive session (`rtrace -i`, or `rtrace` alone on a terminal): a prompt where a
//! probe typed is compiled (with everything typed before, `script`), loaded and attached at
//! once into a live run (`runtime::Live`, owned by the `engine` thread, whose output appears
//! above the prompt); a map name prints the map; `.` commands list, detach, clear, dump and
//! quit. Fed by the driver with the compile settings of the command line.

mod editor;
mod engine;
mod input;
#[cfg(test)]
mod live_tests;
mod script;

use crate::compile::CompileEnv;
use crate::output::OutputFormat;
use crate::runtime::{Live, RunError};
use editor::Prompt;
use engine::{Engine, Reply, Request, Start};
use input::{Command, Input};
use rustyline::error::ReadlineError;
use rustyline::history::{FileHistory, History};
use rustyline::{CompletionType, Config, Editor, ExternalPrinter};
use script::Script;
use std::io::{self, Write};
use std::path::PathBuf;

/// What the session needs from the command line.
pub struct Settings {
    pub env: CompileEnv,
    pub format: OutputFormat,
    /// `-p PID`: uprobes filter on it.
    pub pid: Option<i32>,
    /// C++ names in user stacks and symbols are demangled.
    pub demangle: bool,
    /// The compiler's warnings about each input are printed (not `--no-warnings`).
    pub warnings: bool,
}

/// Runs the session until `.quit`, Ctrl-D, a probe's exit() or SIGTERM; returns the exit code.
pub fn run(settings: Settings) -> i32 {
    if !crate::bpf::sys::has_bpf_privileges() {
        eprintln!("ERROR: loading BPF programs needs root, or CAP_BPF and CAP_PERFMON");
        return 1;
    }
    // Before the editor: it saves the SIGINT handler while it reads a line and puts the saved
    // one back after, so ours must be in place first.
    Live::install_signals();
    let config = Config::builder()
        .auto_add_history(false)
        // Tab completes what all candidates share; a second Tab lists them, as bash does.
        .completion_type(CompletionType::List)
        .history_ignore_dups(true)
        .and_then(|b| b.max_history_size(1000))
        .map(|b| b.build());
    let editor = config.and_then(Editor::<Prompt, FileHistory>::with_config);
    let mut editor = match editor {
        Ok(e) => e,
        Err(e) => {
            eprintln!("ERROR: cannot start the prompt: {e}");
            return 1;
        }
    };
    editor.set_helper(Some(Prompt::default()));
    let history = history_path();
    if let Some(path) = &history {
        // A first session has no history yet.
        let _ = editor.load_history(path);
    }
    let output: Box<dyn Write + Send> = match editor.create_external_printer() {
        Ok(p) => Box::new(Above {
            printer: p,
            pending: Vec::new(),
        }),
        // Not a terminal (lines piped in): plain stdout.
        Err(_) => Box::new(io::stdout()),
    };
    let engine = match Engine::start(Start {
        format: settings.format,
        pid: settings.pid,
        demangle: settings.demangle,
        output,
        terminal: terminal_settings(),
        // SAFETY: pthread_self has no preconditions.
        prompt: unsafe { libc::pthread_self() },
    }) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("ERROR: cannot start the session: {e}");
            return 1;
        }
    };
    println!(
        "rtrace interactive session: type a probe to attach it, .help for help, Ctrl-D to quit."
    );
    let mut session = Session {
        script: Script::new(settings.env),
        warnings: settings.warnings,
        engine: &engine,
    };
    let mut pending = String::new();
    loop {
        let prompt = if pending.is_empty() {
            "rtrace> "
        } else {
            "... "
        };
        let line = match editor.readline(prompt) {
            Ok(line) => line,
            Err(ReadlineError::Interrupted) => {
                pending.clear();
                engine.send(Request::Discard);
                continue;
            }
            Err(ReadlineError::Eof) => break,
            Err(e) => {
                eprintln!("ERROR: reading the prompt: {e}");
                break;
            }
        };
        pending.push_str(&line);
        pending.push('\n');
        // Lines piped in (no editor validation) continue an open block here.
        if input::open_braces(&pending) > 0 {
            continue;
        }
        let text = std::mem::take(&mut pending);
        let entry = text.trim_end();
        if !entry.is_empty() {
            let _ = editor.history_mut().add(entry);
            if let Some(path) = &history {
                if let Err(e) = editor.save_history(path) {
                    eprintln!(
                        "warning: cannot save the history in {}: {e}",
                        path.display()
                    );
                }
            }
        }
        if !session.input(&text) {
            break;
        }
        if let Some(h) = editor.helper_mut() {
            *h.maps.borrow_mut() = session.script.map_names();
        }
    }
    match engine.quit() {
        Ok(()) => 0,
        Err(e) => {
            print_error(&e);
            1
        }
    }
}

/// The prompt's side of the session.
struct Session<'e> {
    script: Script,
    engine: &'e Engine,
    warnings: bool,
}

impl Session<'_> {
    /// Acts on one input; false when the session ends.
    fn input(&mut self, text: &str) -> bool {
        let input = match input::classify(text) {
            Ok(i) => i,
            Err(e) => {
                eprintln!("ERROR: {e}");
                return true;
            }
        };
        match input {
            Input::Empty => {}
            Input::Probes(text) => self.probes(&text),
            Input::Map(name) => match self.engine.call(Request::Print(name.clone())) {
                Some(Reply::Done(Ok(true))) => {}
                Some(Reply::Done(Ok(false))) => eprintln!("{}", no_map(&name, &self.script)),
                Some(Reply::Done(Err(e))) => print_error(&e),
                _ => return false,
            },
            Input::Command(Command::Quit) => return false,
            Input::Command(Command::Help) => print!("{}", input::help()),
            Input::Command(Command::Probes) => print!("{}", self.script.listing()),
            Input::Command(Command::DumpBpf(n)) => match self.script.dump_bpf(n) {
                Some(text) => print!("{text}"),
                None => eprintln!("ERROR: there is no probe {n} (see .probes)"),
            },
            Input::Command(Command::Detach(n)) => match self.engine.call(Request::Detach(n)) {
                Some(Reply::Done(Ok(true))) => {
                    self.script.detached(n);
                    println!("probe {n} detached");
                }
                Some(Reply::Done(Ok(false))) => {
                    eprintln!("ERROR: no probe {n} is attached (see .probes)")
                }
                Some(Reply::Done(Err(e))) => print_error(&e),
                _ => return false,
            },
            Input::Command(Command::Clear(name)) => {
                match self.engine.call(Request::Clear(name.clone())) {
                    Some(Reply::Done(Ok(true))) => {}
                    Some(Reply::Done(Ok(false))) => {
                        eprintln!("{}", no_map(&name, &self.script))
                    }
                    Some(Reply::Done(Err(e))) => print_error(&e),
                    _ => return false,
                }
            }
        }
        let _ = io::stdout().flush();
        true
    }

    /// Compiles, loads and attaches the probes of `text`.
    fn probes(&mut self, text: &str) {
        let prepared = match self.script.prepare(text) {
            Ok(p) => p,
            Err(rendered) => {
                eprint!("{rendered}");
                return;
            }
        };
        if self.warnings {
            eprint!("{}", prepared.warnings);
        }
        let object = Box::new(prepared.object.clone());
        match self
            .engine
            .call(Request::Add(object, prepared.groups.clone()))
        {
            Some(Reply::Added(Ok(ids))) => print!("{}", self.script.accept(prepared, &ids)),
            Some(Reply::Added(Err(RunError::Diag(d)))) => {
                eprint!("{}", self.script.render_for(&prepared, &[d]))
            }
            Some(Reply::Added(Err(e))) => print_error(&e),
            _ => {}
        }
    }
}

fn no_map(name: &str, script: &Script) -> String {
    let names = script.map_names();
    if names.is_empty() {
        format!("ERROR: there is no map {name}: no probe has made a map yet")
    } else {
        format!(
            "ERROR: there is no map {name}; the maps are {}",
            names.join(", ")
        )
    }
}

fn print_error(e: &RunError) {
    match e {
        RunError::Message(m) => eprintln!("ERROR: {m}"),
        RunError::Diag(d) => eprintln!("ERROR: {}", d.message),
    }
}

/// Where the history is kept: `$XDG_STATE_HOME/rtrace/history`, else `~/.rtrace_history`.
fn history_path() -> Option<PathBuf> {
    if let Some(state) = std::env::var_os("XDG_STATE_HOME").filter(|s| !s.is_empty()) {
        let dir = PathBuf::from(state).join("rtrace");
        if std::fs::create_dir_all(&dir).is_ok() {
            return Some(dir.join("history"));
        }
    }
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(|h| PathBuf::from(h).join(".rtrace_history"))
}

/// The terminal's settings now, when stdin is one.
fn terminal_settings() -> Option<libc::termios> {
    // SAFETY: a zeroed termios is valid, and tcgetattr only writes into it.
    unsafe {
        let mut t: libc::termios = std::mem::zeroed();
        (libc::tcgetattr(0, &mut t) == 0).then_some(t)
    }
}

/// Output written above the prompt through rustyline's external printer, one message per
/// flush.
struct Above<P: ExternalPrinter + Send> {
    printer: P,
    pending: Vec<u8>,
}

impl<P: ExternalPrinter + Send> Write for Above<P> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.pending.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let text = String::from_utf8_lossy(&self.pending).into_owned();
        self.pending.clear();
        self.printer.print(text).map_err(io::Error::other)
    }
}
