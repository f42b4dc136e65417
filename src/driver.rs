//! The pipeline driven end to end for one command line: dumps, compile-only, or a real run.

use crate::cli::{self, Dump, Options};

/// Runs what the options ask for; returns the exit code.
pub fn run(opts: &Options) -> i32 {
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
    let program = match crate::parse::parse(&source) {
        Ok(p) => p,
        Err(diags) => {
            cli::report(&source, &diags);
            return 1;
        }
    };
    if opts.dump == Some(Dump::Ast) {
        print!("{}", crate::parse::dump(&program, &source));
        return 0;
    }
    eprintln!("rtrace: this stage is not built yet");
    1
}
