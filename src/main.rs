//! The `rtrace` binary: flags parsed by `rtrace::cli`, the work done by `rtrace::driver`, whose
//! code it exits with.

use rtrace::cli::{self, UsageError};

fn main() {
    let args: Vec<String> = std::env::args_os()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    std::process::exit(run(&args));
}

/// Runs rtrace with these arguments (without the program name); returns the exit code.
fn run(args: &[String]) -> i32 {
    let vars: Vec<(String, String)> = std::env::vars_os()
        .map(|(k, v)| {
            (
                k.to_string_lossy().into_owned(),
                v.to_string_lossy().into_owned(),
            )
        })
        .collect();
    // SAFETY: isatty only reads the state of fds 0 and 1.
    let terminal = unsafe { libc::isatty(0) == 1 && libc::isatty(1) == 1 };
    let opts = match cli::parse_args_at(args, terminal).and_then(|mut o| {
        cli::apply_env(&mut o, &vars)?;
        Ok(o)
    }) {
        Ok(o) => o,
        Err(UsageError(msg)) if msg.is_empty() => {
            print!("{}", cli::usage());
            return 0;
        }
        Err(e) => {
            // As bpftrace: the problem, then the usage after an unknown flag.
            eprintln!("ERROR: {}", e.0);
            if e.wants_usage() {
                eprint!("{}", cli::usage());
            }
            return 1;
        }
    };
    if let Some(kind) = opts.generate {
        print!("{}", rtrace::cli_docs::generate(kind));
        return 0;
    }
    if opts.version {
        println!(
            "rtrace v{} (compatible with bpftrace v0.17.0)",
            env!("CARGO_PKG_VERSION")
        );
        return 0;
    }
    if opts.info {
        print!("{}", rtrace::bpf::features::report());
        return 0;
    }
    rtrace::driver::run(&opts)
}
