//! Command-line flags: argv parsed into `Options`, the script read, diagnostics rendered.
//! Fed by src/main.rs; the driver acts on what it returns.

use crate::diag::{self, Diagnostic};
use crate::source::Source;
use std::io::Read;

/// What to print instead of running.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dump {
    Ast,
    Types,
    Ir,
    Bpf,
}

pub use crate::output::OutputFormat;

/// Where the script comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Script {
    Inline(String),
    File(String),
    Stdin,
}

/// Parsed command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    pub script: Option<Script>,
    /// Positional parameters `$1...`.
    pub params: Vec<String>,
    pub list: Option<Option<String>>,
    pub verbose: bool,
    pub command: Option<String>,
    pub pid: Option<i32>,
    pub quiet: bool,
    pub format: OutputFormat,
    pub dump: Option<Dump>,
    pub compile_only: bool,
    pub unsafe_actions: bool,
    pub output: Option<String>,
}

pub const USAGE: &str = "\
USAGE:
    rtrace [options] filename
    rtrace [options] - <stdin input>
    rtrace [options] -e 'program'

OPTIONS:
    -e 'program'     execute this program
    -l [search]      list probes
    -v               verbose messages (with -l: probe arguments)
    -c 'CMD'         run CMD and enable the cpid builtin; the run ends when CMD exits
    -p PID           enable USDT/uprobe probes on PID; the run ends when PID exits
    -q               keep messages quiet
    -f FORMAT        output format: text (default) or json
    -o FILE          redirect program output to FILE
    --unsafe         allow unsafe builtin functions
    --dump KIND      print a compiler stage instead of running: ast, types, ir, bpf
    --compile-only   check and compile the program without loading it
    -h, --help       show this help message
    -V, --version    rtrace version

EXAMPLES:
rtrace -l '*sleep*'
    list probes containing \"sleep\"
rtrace -e 'BEGIN { printf(\"hello world\\n\"); }'
    print \"hello world\" and wait for Ctrl-C
rtrace -e 'tracepoint:syscalls:sys_enter_openat { printf(\"%s %s\\n\", comm, str(args->filename)); }'
    trace the files opened, with process names
";

/// A command-line mistake: the message, printed with the usage hint, exit 1.
#[derive(Debug, PartialEq, Eq)]
pub struct UsageError(pub String);

/// Parses argv (without the program name).
pub fn parse_args(args: &[String]) -> Result<Options, UsageError> {
    let mut o = Options {
        script: None,
        params: Vec::new(),
        list: None,
        verbose: false,
        command: None,
        pid: None,
        quiet: false,
        format: OutputFormat::Text,
        dump: None,
        compile_only: false,
        unsafe_actions: false,
        output: None,
    };
    let mut i = 0;
    let value = |i: &mut usize, flag: &str| -> Result<String, UsageError> {
        *i += 1;
        args.get(*i)
            .cloned()
            .ok_or_else(|| UsageError(format!("option '{flag}' needs a value")))
    };
    let mut positional = Vec::new();
    let mut only_positional = false;
    while i < args.len() {
        let a = args[i].as_str();
        if only_positional || !a.starts_with('-') || a == "-" {
            positional.push(args[i].clone());
            i += 1;
            continue;
        }
        match a {
            "--" => only_positional = true,
            "-e" => o.script = Some(Script::Inline(value(&mut i, a)?)),
            "-l" | "-lv" | "-vl" => {
                if a != "-l" {
                    o.verbose = true;
                }
                o.list = Some(None);
            }
            "-v" => o.verbose = true,
            "-c" => o.command = Some(value(&mut i, a)?),
            "-p" => {
                let v = value(&mut i, a)?;
                o.pid = Some(
                    v.parse::<i32>()
                        .ok()
                        .filter(|p| *p > 0)
                        .ok_or_else(|| UsageError(format!("pid '{v}' is not a process id")))?,
                );
            }
            "-q" => o.quiet = true,
            "-f" => {
                o.format = match value(&mut i, a)?.as_str() {
                    "text" => OutputFormat::Text,
                    "json" => OutputFormat::Json,
                    other => {
                        return Err(UsageError(format!(
                            "invalid output format '{other}': use text or json"
                        )))
                    }
                }
            }
            "-o" => o.output = Some(value(&mut i, a)?),
            "--unsafe" => o.unsafe_actions = true,
            "--compile-only" => o.compile_only = true,
            "--dump" => {
                o.dump = Some(match value(&mut i, a)?.as_str() {
                    "ast" => Dump::Ast,
                    "types" => Dump::Types,
                    "ir" => Dump::Ir,
                    "bpf" => Dump::Bpf,
                    other => {
                        return Err(UsageError(format!(
                            "unknown dump '{other}': use ast, types, ir or bpf"
                        )))
                    }
                })
            }
            "-h" | "--help" => return Err(UsageError(String::new())),
            "-V" | "--version" => {
                o.list = None;
                o.script = Some(Script::Inline(String::new()));
                o.params = vec!["--version".into()];
                return Ok(o);
            }
            _ => return Err(UsageError(format!("unknown option '{a}'"))),
        }
        i += 1;
    }
    let mut positional = positional.into_iter();
    if o.list.is_some() {
        o.list = Some(positional.next());
        return Ok(o);
    }
    if o.script.is_none() {
        o.script = match positional.next() {
            Some(f) if f == "-" => Some(Script::Stdin),
            Some(f) => Some(Script::File(f)),
            None => {
                return Err(UsageError(
                    "no program given: use -e 'program' or a file".into(),
                ))
            }
        };
    }
    o.params = positional.collect();
    Ok(o)
}

/// Reads the script named by the options into a `Source`.
pub fn read_script(script: &Script) -> Result<Source, String> {
    match script {
        Script::Inline(text) => Ok(Source::new("stdin", text.clone())),
        Script::Stdin => {
            let mut bytes = Vec::new();
            std::io::stdin()
                .read_to_end(&mut bytes)
                .map_err(|e| format!("cannot read the program from stdin: {e}"))?;
            Ok(Source::new(
                "stdin",
                String::from_utf8_lossy(&bytes).into_owned(),
            ))
        }
        Script::File(path) => {
            let bytes = std::fs::read(path).map_err(|e| format!("cannot read '{path}': {e}"))?;
            Ok(Source::new(
                path.clone(),
                String::from_utf8_lossy(&bytes).into_owned(),
            ))
        }
    }
}

/// Prints diagnostics to stderr, rendered against the source.
pub fn report(source: &Source, diags: &[Diagnostic]) {
    eprint!("{}", diag::render(source, diags));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn positional_params_follow_the_program() {
        let o = parse_args(&args(&["-e", "BEGIN{}", "a", "2"])).unwrap();
        assert_eq!(o.script, Some(Script::Inline("BEGIN{}".into())));
        assert_eq!(o.params, vec!["a".to_string(), "2".to_string()]);
        let o = parse_args(&args(&["x.bt", "7"])).unwrap();
        assert_eq!(o.script, Some(Script::File("x.bt".into())));
        assert_eq!(o.params, vec!["7".to_string()]);
    }

    #[test]
    fn list_takes_an_optional_pattern() {
        let o = parse_args(&args(&["-l", "tracepoint:sched:*"])).unwrap();
        assert_eq!(o.list, Some(Some("tracepoint:sched:*".into())));
        let o = parse_args(&args(&["-lv"])).unwrap();
        assert_eq!(o.list, Some(None));
        assert!(o.verbose);
    }

    #[test]
    fn bad_flags_are_usage_errors() {
        assert!(parse_args(&args(&["-f", "xml", "-e", "x"])).is_err());
        assert!(parse_args(&args(&["-p", "abc", "-e", "x"])).is_err());
        assert!(parse_args(&args(&["--bogus"])).is_err());
        assert!(parse_args(&args(&[])).is_err());
    }
}
