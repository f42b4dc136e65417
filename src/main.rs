//! The `rtrace` binary: hands the command line to `rtrace::cli` and exits with its code.

fn main() {
    let args: Vec<String> = std::env::args_os()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    std::process::exit(rtrace::cli::main(&args));
}
