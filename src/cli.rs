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

pub use crate::output::{Buffering, OutputFormat};

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
    /// `-d`: print the AST and the IR instead of running; `-dd`: every stage.
    pub debug: u8,
    pub compile_only: bool,
    pub unsafe_actions: bool,
    pub output: Option<String>,
    pub buffering: Buffering,
    /// `--include FILE`: files whose C definitions come before the script's.
    pub includes: Vec<String>,
    /// `-I DIR`: where `#include` looks (types come from BTF: kept for compatibility).
    pub include_dirs: Vec<String>,
    /// `--no-warnings`.
    pub no_warnings: bool,
    /// `-V`: print the version and stop.
    pub version: bool,
    /// `--info`: print what this kernel offers and stop.
    pub info: bool,
    /// `BPFTRACE_STRLEN` (64 unless set; at most 200).
    pub strlen: u32,
    /// `BPFTRACE_MAP_KEYS_MAX` (4096 unless set).
    pub map_keys_max: u32,
    /// `BPFTRACE_MAX_PROBES` (or `RTRACE_MAX_PROBES`; 512 unless set).
    pub max_probes: usize,
    /// `BPFTRACE_MAX_BPF_PROGS`: the most BPF programs a script may generate (512 unless set).
    pub max_programs: usize,
    /// `-k` (1) or `-kk` (2): report failed helper calls at run time.
    pub helper_check: u8,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            script: None,
            params: Vec::new(),
            list: None,
            verbose: false,
            command: None,
            pid: None,
            quiet: false,
            format: OutputFormat::Text,
            dump: None,
            debug: 0,
            compile_only: false,
            unsafe_actions: false,
            output: None,
            buffering: Buffering::Line,
            includes: Vec::new(),
            include_dirs: Vec::new(),
            no_warnings: false,
            version: false,
            info: false,
            strlen: 64,
            map_keys_max: 4096,
            max_probes: 512,
            max_programs: 512,
            helper_check: 0,
        }
    }
}

pub const USAGE: &str = "\
USAGE:
    rtrace [options] filename
    rtrace [options] - <stdin input>
    rtrace [options] -e 'program'

OPTIONS:
    -B MODE          output buffering mode ('full', 'line', 'none')
    -e 'program'     execute this program
    -l [search]      list probes
    -v               verbose messages (with -l: probe arguments)
    -c 'CMD'         run CMD and enable the cpid builtin; the run ends when CMD exits
    -p PID           enable USDT/uprobe probes on PID; the run ends when PID exits
    -q               keep messages quiet
    -f FORMAT        output format: text (default) or json
    -o FILE          redirect program output to FILE
    -d, -dd          print the compiler's stages (AST and IR; every stage) instead of running
    -k, -kk          report helper errors (-k: map updates and deletes, signals; -kk: also
                     memory reads and map lookups that find nothing)
    -I DIR           add DIR to the include search path (types come from the kernel's BTF)
    --include FILE   read C definitions from FILE before the program
    --unsafe         allow unsafe builtin functions
    --no-warnings    do not print warnings
    --dump KIND      print a compiler stage instead of running: ast, types, ir, bpf
    --compile-only   check and compile the program without loading it
    --info           print what this kernel offers (helpers, map and probe types) and stop
    -h, --help       show this help message
    -V, --version    rtrace version

ENVIRONMENT:
    BPFTRACE_STRLEN        bytes of string buffers (default 64, at most 200)
    BPFTRACE_MAP_KEYS_MAX  entries of a map with keys (default 4096)
    BPFTRACE_MAX_PROBES    probes a script may attach (default 512)
    BPFTRACE_MAX_BPF_PROGS BPF programs a script may generate, one per attach point (default 512)
    BPFTRACE_CAT_BYTES_MAX bytes cat() prints (default 10240)
    BPFTRACE_BTF           BTF file to read kernel types from (default /sys/kernel/btf/vmlinux)

EXAMPLES:
rtrace -l '*sleep*'
    list probes containing \"sleep\"
rtrace -e 'BEGIN { printf(\"hello world\\n\"); }'
    print \"hello world\" and wait for Ctrl-C
rtrace -e 'tracepoint:syscalls:sys_enter_openat { printf(\"%s %s\\n\", comm, str(args->filename)); }'
    trace the files opened, with process names
";

/// A command-line mistake: the message, exit 1.
#[derive(Debug, PartialEq, Eq)]
pub struct UsageError(pub String);

impl UsageError {
    /// An unknown flag is followed by the usage, as bpftrace does; other mistakes are not.
    pub fn wants_usage(&self) -> bool {
        self.0.starts_with("unknown option")
    }
}

/// Short flags that take a value (`-e PROG`, or glued: `-fjson`).
const WITH_VALUE: &str = "BcefIop";

/// Parses argv (without the program name), as getopt does: short flags may be combined
/// (`-qe PROG`, `-lv`, `-dd`) and a value may follow its flag in the same word (`-fjson`).
pub fn parse_args(args: &[String]) -> Result<Options, UsageError> {
    let mut o = Options::default();
    let mut positional = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        i += 1;
        if a == "--" {
            positional.extend(args[i..].iter().cloned());
            break;
        }
        if let Some(long) = a.strip_prefix("--") {
            let (name, inline) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (long, None),
            };
            let mut value = || -> Result<String, UsageError> {
                if let Some(v) = inline.clone() {
                    return Ok(v);
                }
                i += 1;
                args.get(i - 1)
                    .cloned()
                    .ok_or_else(|| UsageError(format!("option '--{name}' needs a value")))
            };
            match name {
                "unsafe" => o.unsafe_actions = true,
                "compile-only" => o.compile_only = true,
                "no-warnings" => o.no_warnings = true,
                "include" => o.includes.push(value()?),
                "dump" => o.dump = Some(dump_kind(&value()?)?),
                "help" => return Err(UsageError(String::new())),
                "version" => o.version = true,
                "info" => o.info = true,
                _ => return Err(UsageError(format!("unknown option '{a}'"))),
            }
            continue;
        }
        if !a.starts_with('-') || a == "-" {
            positional.push(a.to_string());
            continue;
        }
        let flags = &a[1..];
        for (at, c) in flags.char_indices() {
            if WITH_VALUE.contains(c) {
                let glued = &flags[at + c.len_utf8()..];
                let v = if glued.is_empty() {
                    i += 1;
                    args.get(i - 1)
                        .cloned()
                        .ok_or_else(|| UsageError(format!("option '-{c}' needs a value")))?
                } else {
                    glued.to_string()
                };
                short_value(&mut o, c, v)?;
                break;
            }
            match c {
                'l' => o.list = Some(None),
                'v' => o.verbose = true,
                'q' => o.quiet = true,
                'd' => o.debug += 1,
                'h' => return Err(UsageError(String::new())),
                'V' => o.version = true,
                'k' => o.helper_check = (o.helper_check + 1).min(2),
                _ => return Err(UsageError(format!("unknown option '-{c}'"))),
            }
        }
    }
    if o.version || o.info {
        return Ok(o);
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

/// A short flag with its value.
fn short_value(o: &mut Options, flag: char, v: String) -> Result<(), UsageError> {
    match flag {
        'e' => o.script = Some(Script::Inline(v)),
        'c' => o.command = Some(v),
        'o' => o.output = Some(v),
        'I' => o.include_dirs.push(v),
        'p' => {
            // bpftrace's checks and words.
            let n: u64 = v
                .parse()
                .map_err(|_| UsageError(format!("pid '{v}' is not a valid decimal number")))?;
            if !(1..=4_194_304).contains(&n) {
                return Err(UsageError(format!(
                    "pid '{v}' out of valid pid range [1,4194304]"
                )));
            }
            o.pid = Some(n as i32);
        }
        'f' => {
            o.format = match v.as_str() {
                "text" => OutputFormat::Text,
                "json" => OutputFormat::Json,
                other => {
                    return Err(UsageError(format!(
                        "Invalid output format \"{other}\"\nValid formats: 'text', 'json'"
                    )))
                }
            }
        }
        _ => {
            o.buffering = match v.as_str() {
                "none" => Buffering::None,
                "line" => Buffering::Line,
                "full" => Buffering::Full,
                other => {
                    return Err(UsageError(format!(
                        "invalid buffering mode '{other}': use none, line or full"
                    )))
                }
            }
        }
    }
    Ok(())
}

fn dump_kind(v: &str) -> Result<Dump, UsageError> {
    Ok(match v {
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

/// Applies bpftrace's environment variables (`BPFTRACE_STRLEN`, ...) given as `(name, value)`
/// pairs; a value that makes no sense is a usage error, as in bpftrace.
pub fn apply_env(o: &mut Options, vars: &[(String, String)]) -> Result<(), UsageError> {
    let get = |name: &str| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.trim());
    let number = |name: &str, v: &str| -> Result<u64, UsageError> {
        v.parse::<u64>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| UsageError(format!("{name} must be a positive integer, not '{v}'")))
    };
    if let Some(v) = get("BPFTRACE_STRLEN") {
        let n = number("BPFTRACE_STRLEN", v)?;
        if n > 200 {
            return Err(UsageError(format!(
                "BPFTRACE_STRLEN is {n}, but it can be at most 200 (the kernel's BPF stack is 512 bytes)"
            )));
        }
        o.strlen = n as u32;
    }
    if let Some(v) = get("BPFTRACE_MAP_KEYS_MAX") {
        o.map_keys_max = number("BPFTRACE_MAP_KEYS_MAX", v)?.min(u64::from(u32::MAX)) as u32;
    }
    for name in ["RTRACE_MAX_PROBES", "BPFTRACE_MAX_PROBES"] {
        if let Some(v) = get(name) {
            o.max_probes = number(name, v)? as usize;
            break;
        }
    }
    if let Some(v) = get("BPFTRACE_MAX_BPF_PROGS") {
        o.max_programs = number("BPFTRACE_MAX_BPF_PROGS", v)? as usize;
    }
    Ok(())
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
            let bytes = std::fs::read(path).map_err(|e| {
                format!(
                    "failed to open file '{path}': {}",
                    crate::output::os_error_text(&e)
                )
            })?;
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
    fn short_flags_combine_and_take_glued_values() {
        let o = parse_args(&args(&["-qe", "BEGIN{}", "-fjson", "-dd", "-Bfull"])).unwrap();
        assert!(o.quiet);
        assert_eq!(o.script, Some(Script::Inline("BEGIN{}".into())));
        assert_eq!(o.format, OutputFormat::Json);
        assert_eq!((o.debug, o.buffering), (2, Buffering::Full));
        let o = parse_args(&args(&["-V"])).unwrap();
        assert!(o.version);
        // -k and -kk: how many helper failures are reported.
        let k = |a: &[&str]| parse_args(&args(a)).map(|o| o.helper_check);
        assert_eq!(k(&["-e", "x"]), Ok(0));
        assert_eq!(k(&["-k", "-e", "x"]), Ok(1));
        assert_eq!(k(&["-kk", "-e", "x"]), Ok(2));
        assert_eq!(k(&["-kqk", "-e", "x"]), Ok(2));
        let o = parse_args(&args(&[
            "--include",
            "defs.h",
            "-I",
            "/x",
            "--no-warnings",
            "f.bt",
        ]))
        .unwrap();
        assert_eq!(o.includes, vec!["defs.h".to_string()]);
        assert_eq!(o.include_dirs, vec!["/x".to_string()]);
        assert!(o.no_warnings);
        // `--` ends the flags: what follows are parameters, even when they look like flags.
        let o = parse_args(&args(&["-e", "x", "--", "-3"])).unwrap();
        assert_eq!(o.params, vec!["-3".to_string()]);
    }

    #[test]
    fn environment_settings() {
        let mut o = Options::default();
        let vars = |v: &[(&str, &str)]| -> Vec<(String, String)> {
            v.iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect()
        };
        apply_env(
            &mut o,
            &vars(&[("BPFTRACE_STRLEN", "200"), ("BPFTRACE_MAP_KEYS_MAX", "9")]),
        )
        .unwrap();
        assert_eq!((o.strlen, o.map_keys_max), (200, 9));
        assert!(apply_env(&mut o, &vars(&[("BPFTRACE_STRLEN", "201")])).is_err());
        assert!(apply_env(&mut o, &vars(&[("BPFTRACE_STRLEN", "x")])).is_err());
    }

    #[test]
    fn bad_flags_are_usage_errors() {
        assert!(parse_args(&args(&["-f", "xml", "-e", "x"])).is_err());
        assert!(parse_args(&args(&["-p", "abc", "-e", "x"])).is_err());
        assert!(parse_args(&args(&["--bogus"])).is_err());
        assert!(parse_args(&args(&[])).is_err());
    }
}
