//! The pipeline driven end to end for one command line (`cli::Options`): listing, dumps,
//! compile-only, or a run. The script is compiled once, before anything is forked or loaded.

use crate::cli::{self, Dump, Options};
use crate::codegen;
use crate::compile::{compile, CompileEnv};
use crate::object::Object;
use crate::runtime::{RunConfig, RunError, Session};
use crate::sema;
use crate::source::Source;
use std::io::Write;

/// Runs what the options ask for; returns the exit code.
pub fn run(opts: &Options) -> i32 {
    if let Some(pid) = opts.pid {
        // As bpftrace: a process that does not exist is an error before anything else.
        if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            eprintln!("ERROR: pid {pid}: No such process");
            return 1;
        }
        crate::probes::system::catalogue().set_pid(pid);
    }
    if let Some(pattern) = &opts.list {
        return list(pattern.as_deref(), opts.verbose);
    }
    if opts.interactive {
        return match compile_env(opts) {
            Ok(env) => crate::interactive::run(crate::interactive::Settings {
                env,
                format: opts.format,
                pid: opts.pid,
                demangle: opts.cpp_demangle,
                warnings: !opts.no_warnings,
            }),
            Err(e) => {
                if let RunError::Message(m) = e {
                    eprintln!("ERROR: {m}");
                }
                1
            }
        };
    }
    let Some(script) = &opts.script else {
        return 1;
    };
    let source = match cli::read_script(script) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("ERROR: {e}");
            return 1;
        }
    };
    match compile_and_run(opts, &source) {
        Ok(code) => code,
        Err(RunError::Diag(d)) => {
            cli::report(&source, &[d]);
            1
        }
        Err(RunError::Message(m)) => {
            // An empty message: the diagnostics were already printed.
            if !m.is_empty() {
                eprintln!("ERROR: {m}");
            }
            1
        }
    }
}

fn list(pattern: Option<&str>, verbose: bool) -> i32 {
    match crate::probes::list::list(pattern, verbose) {
        Ok(text) => {
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(text.as_bytes());
            let _ = out.flush();
            0
        }
        Err(e) => {
            match e.span {
                // Errors in the pattern point into it, as bpftrace's do (`stdin:1:COL`).
                Some((start, end)) => {
                    let source = Source::new("stdin", pattern.unwrap_or_default());
                    let diag = crate::diag::Diagnostic::error(
                        crate::source::Span::new(start, end),
                        e.message,
                    );
                    cli::report(&source, &[diag]);
                }
                None => eprintln!("ERROR: {}", e.message),
            }
            1
        }
    }
}

/// Diagnostics printed; the run ends with exit code 1.
fn reported(source: &Source, diags: &[crate::diag::Diagnostic]) -> RunError {
    cli::report(source, diags);
    RunError::Message(String::new())
}

/// What compiling needs from the command line and the environment.
pub fn compile_env(opts: &Options) -> Result<CompileEnv, RunError> {
    Ok(CompileEnv {
        params: opts.params.clone(),
        has_command: opts.command.is_some(),
        unsafe_actions: opts.unsafe_actions,
        strlen: opts.strlen,
        map_keys_max: opts.map_keys_max,
        max_probes: opts.max_probes,
        pid: opts.pid,
        max_programs: opts.max_programs,
        helper_check: opts.helper_check,
        includes: opts
            .includes
            .iter()
            .map(|path| match std::fs::read_to_string(path) {
                Ok(text) => Ok((path.clone(), text)),
                // A header name (`errno.h`): included as the script would include it.
                Err(_) if !path.contains('/') => Ok((path.clone(), format!("#include <{path}>\n"))),
                Err(e) => Err(RunError::Message(format!(
                    "cannot read --include {path}: {e}"
                ))),
            })
            .collect::<Result<_, _>>()?,
        session: opts.interactive,
        include_dirs: opts.include_dirs.clone(),
    })
}

fn compile_and_run(opts: &Options, source: &Source) -> Result<i32, RunError> {
    let env = compile_env(opts)?;
    if let Some(cmd) = &opts.command {
        // Function watchpoints are placed in the command's program.
        crate::probes::system::catalogue().set_command(cmd);
    }
    if opts.debug > 0 {
        return debug_dumps(opts, source, &env);
    }
    // The early stages' dumps stop before code generation.
    if matches!(opts.dump, Some(Dump::Ast | Dump::Types)) {
        let program = crate::parse::parse(source).map_err(|d| reported(source, &d))?;
        if opts.dump == Some(Dump::Ast) {
            print!("{}", crate::parse::dump(&program, source));
            return Ok(0);
        }
        let checked = sema::check(&program, &env.sema_env()).map_err(|d| reported(source, &d))?;
        print!("{}", sema::dump::dump(&checked, source));
        return Ok(0);
    }
    let dry = opts.dump.is_some() || opts.compile_only || opts.emit_elf.is_some();
    // Checked before compiling, which reads tracefs: say what is missing, not what failed
    // first. A parse error is still reported first, as before.
    if !dry && !crate::bpf::sys::has_bpf_privileges() {
        crate::parse::parse(source).map_err(|d| reported(source, &d))?;
        return Err(RunError::Message(
            "loading BPF programs needs root, or CAP_BPF and CAP_PERFMON".into(),
        ));
    }
    if opts.compile_only || opts.emit_elf.is_some() {
        // Compiled for a machine that may have what this one lacks.
        crate::probes::system::catalogue().set_compile_only();
    }
    let object = compile(source, &env).map_err(|d| reported(source, &d))?;
    if !opts.no_warnings {
        eprint!("{}", crate::diag::render(source, &object.warnings));
        for note in crate::probes::system::catalogue().take_notes() {
            eprintln!("warning: {note}; compiled anyway, it cannot run on this machine");
        }
    }
    if let Some(path) = &opts.emit_elf {
        let bytes = crate::emit::write(&object).map_err(RunError::Message)?;
        std::fs::write(path, bytes)
            .map_err(|e| RunError::Message(format!("cannot write {path}: {e}")))?;
        return Ok(0);
    }
    if dry {
        print!("{}", listing(&object, opts.dump, source));
        return Ok(0);
    }
    let metrics = match &opts.metrics {
        Some(addr) => {
            let listener = std::net::TcpListener::bind(addr.as_str()).map_err(|e| {
                RunError::Message(format!("--metrics: cannot listen on {addr}: {e}"))
            })?;
            if let Ok(local) = listener.local_addr() {
                eprintln!("Serving metrics on http://{local}/metrics");
            }
            Some(listener)
        }
        None => None,
    };
    let output: Box<dyn Write> = match &opts.output {
        Some(path) => Box::new(open_output(path).map_err(RunError::Message)?),
        None => Box::new(std::io::stdout()),
    };
    let cfg = RunConfig {
        format: opts.format,
        quiet: opts.quiet,
        pid: opts.pid,
        command: opts.command.clone(),
        output,
        buffering: opts.buffering,
        notify_attached: std::env::var_os("__BPFTRACE_NOTIFY_PROBES_ATTACHED").is_some(),
        metrics,
        flamegraph: opts.flamegraph.as_ref().map(std::path::PathBuf::from),
        demangle: opts.cpp_demangle,
        source: Some(source.clone()),
        verbose: opts.verbose,
        log_size: opts.log_size,
        perf_rb_pages: opts.perf_rb_pages,
    };
    Session::start(&object, cfg)?.run()
}

/// `-d`: the AST and the IR; `-dd`: every stage (AST, types, IR, BPF). Nothing runs.
fn debug_dumps(opts: &Options, source: &Source, env: &CompileEnv) -> Result<i32, RunError> {
    let program = crate::parse::parse(source).map_err(|d| reported(source, &d))?;
    let mut out = String::new();
    out.push_str("AST\n-------------------\n");
    out.push_str(&crate::parse::dump(&program, source));
    if opts.debug > 1 {
        let checked = sema::check(&program, &env.sema_env()).map_err(|d| reported(source, &d))?;
        out.push_str("\nTypes\n-------------------\n");
        out.push_str(&sema::dump::dump(&checked, source));
    }
    let object = compile(source, env).map_err(|d| reported(source, &d))?;
    out.push_str("\nIR\n-------------------\n");
    out.push_str(&listing(&object, Some(Dump::Ir), source));
    if opts.debug > 1 {
        out.push_str("\nBPF\n-------------------\n");
        out.push_str(&listing(&object, Some(Dump::Bpf), source));
    }
    print!("{out}");
    Ok(0)
}

/// `--dump ir` or `--dump bpf` of the object (nothing for `--compile-only`).
fn listing(object: &Object, dump: Option<Dump>, source: &Source) -> String {
    let mut text = String::new();
    for p in &object.programs {
        match dump {
            Some(Dump::Ir) => text.push_str(&codegen::dump_ir(&p.ir, source)),
            Some(Dump::Bpf) => text.push_str(&codegen::dump_bpf(&p.code, source)),
            _ => {}
        }
    }
    text
}

/// Opens `-o FILE` for writing without following a symbolic link at its name.
fn open_output(path: &str) -> Result<std::fs::File, String> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .map_err(|e| format!("cannot open output file '{path}': {e}"))
}
