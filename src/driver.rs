//! The pipeline driven end to end for one command line: listing, dumps, compile-only, or a run.

use crate::cli::{self, Dump, Options};
use crate::codegen::{self, lower};
use crate::runtime::child::Child;
use crate::runtime::run::{self, RunConfig, RunError};
use crate::sema;
use crate::source::Source;
use std::io::Write;

/// Runs what the options ask for; returns the exit code.
pub fn run(opts: &Options) -> i32 {
    if let Some(pattern) = &opts.list {
        return list(pattern.as_deref(), opts.verbose);
    }
    let Some(script) = &opts.script else {
        return 1;
    };
    let source = match cli::read_script(script) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("rtrace: {e}");
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
                eprintln!("rtrace: {m}");
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
            eprintln!("rtrace: {e}");
            1
        }
    }
}

/// Monotonic nanoseconds, the clock `nsecs` and `elapsed` use in the kernel.
fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec into `ts`.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

fn compile_and_run(opts: &Options, source: &Source) -> Result<i32, RunError> {
    let program = crate::parse::parse(source).map_err(|diags| {
        cli::report(source, &diags);
        RunError::Message(String::new())
    })?;
    if opts.dump == Some(Dump::Ast) {
        print!("{}", crate::parse::dump(&program, source));
        return Ok(0);
    }
    let dry = opts.dump.is_some() || opts.compile_only;
    // Checked before sema, which reads tracefs: say what is missing, not what failed first.
    if !dry && !crate::bpf::sys::has_bpf_privileges() {
        return Err(RunError::Message(
            "loading BPF programs needs root, or CAP_BPF and CAP_PERFMON".into(),
        ));
    }
    let env = sema::Env {
        params: opts.params.clone(),
        has_command: opts.command.is_some(),
        unsafe_actions: opts.unsafe_actions,
    };
    let checked = sema::check(&program, &env).map_err(|diags| {
        cli::report(source, &diags);
        RunError::Message(String::new())
    })?;
    if opts.dump == Some(Dump::Types) {
        print!("{}", sema::dump::dump(&checked, source));
        return Ok(0);
    }
    let mut child = match (&opts.command, dry) {
        (Some(cmd), false) => Some(Child::spawn(cmd).map_err(RunError::Message)?),
        _ => None,
    };
    let consts = lower::Consts {
        cpid: child.as_ref().map_or(0, |c| c.pid() as u64),
        start_ns: if dry { 0 } else { monotonic_ns() },
    };
    let funcs = lower::lower(&checked, consts);
    if dry {
        let mut text = String::new();
        for f in &funcs {
            let enc = codegen::compile(f, &|m| m.0 as i32).map_err(RunError::Diag)?;
            match opts.dump {
                Some(Dump::Ir) => text.push_str(&codegen::dump_ir(f, source)),
                Some(Dump::Bpf) => text.push_str(&codegen::dump_bpf(&enc, source)),
                _ => {}
            }
        }
        print!("{text}");
        return Ok(0);
    }
    let maps = run::create_maps(&checked)?;
    let images = run::encode(&checked, &funcs, &maps).map_err(RunError::Diag)?;
    let output: Box<dyn Write> = match &opts.output {
        Some(path) => Box::new(open_output(path).map_err(RunError::Message)?),
        None => Box::new(std::io::stdout()),
    };
    let cfg = RunConfig {
        format: opts.format,
        quiet: opts.quiet,
        pid: opts.pid,
        child: child.as_mut(),
        output,
    };
    run::run(&checked, maps, &images, cfg)
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
