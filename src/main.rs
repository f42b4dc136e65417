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
    let opts = match cli::parse_args(args).and_then(|mut o| {
        cli::apply_env(&mut o, &vars)?;
        Ok(o)
    }) {
        Ok(o) => o,
        Err(UsageError(msg)) if msg.is_empty() => {
            print!("{}", cli::USAGE);
            return 0;
        }
        Err(e) => {
            // As bpftrace: the problem, then the usage after an unknown flag.
            eprintln!("ERROR: {}", e.0);
            if e.wants_usage() {
                eprint!("{}", cli::USAGE);
            }
            return 1;
        }
    };
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
