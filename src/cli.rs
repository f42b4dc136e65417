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
    /// `--emit-elf FILE`: write the compiled programs and maps as a BPF ELF object, not run.
    pub emit_elf: Option<String>,
    /// `--metrics ADDR`: serve the maps as OpenMetrics on `http://ADDR/metrics` while running.
    pub metrics: Option<String>,
    /// `--flamegraph FILE`: the stack-keyed maps as a flame graph SVG at exit.
    pub flamegraph: Option<String>,
    /// `--generate KIND`: print the man page or a completion script instead of running.
    pub generate: Option<Generate>,
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
    /// C++ names are demangled in user stacks and symbols (`BPFTRACE_NO_CPP_DEMANGLE=1`
    /// turns it off).
    pub cpp_demangle: bool,
    /// `-i`, or no program on a terminal: an interactive session.
    pub interactive: bool,
    /// `BPFTRACE_MAX_BPF_PROGS`: the most BPF programs a script may generate (512 unless set).
    pub max_programs: usize,
    /// `-k` (1) or `-kk` (2): report failed helper calls at run time.
    pub helper_check: u8,
    /// `BPFTRACE_LOG_SIZE`: bytes of the verifier log buffer (1000000 unless set).
    pub log_size: usize,
    /// `BPFTRACE_PERF_RB_PAGES`: pages per CPU for the event ring buffer (a power of two).
    pub perf_rb_pages: Option<u64>,
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
            emit_elf: None,
            metrics: None,
            flamegraph: None,
            generate: None,
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
            cpp_demangle: true,
            interactive: false,
            max_programs: 512,
            helper_check: 0,
            log_size: 1_000_000,
            perf_rb_pages: None,
        }
    }
}

/// One command-line flag: the one definition the parser, `--help`, the man page and the
/// shell completions are made from (`cli_docs.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Flag {
    pub short: Option<char>,
    pub long: Option<&'static str>,
    /// The value's name when the flag takes one (`-e PROGRAM`).
    pub value: Option<&'static str>,
    /// The values the flag accepts, when it is a fixed set (for completions).
    pub choices: &'static [&'static str],
    pub help: &'static str,
}

const fn flag(
    short: Option<char>,
    long: Option<&'static str>,
    value: Option<&'static str>,
    help: &'static str,
) -> Flag {
    Flag {
        short,
        long,
        value,
        choices: &[],
        help,
    }
}

/// Every flag, in the order `--help` lists them.
pub const FLAGS: &[Flag] = &[
    Flag {
        choices: &["full", "line", "none"],
        ..flag(Some('B'), None, Some("MODE"), "output buffering mode ('full', 'line', 'none')")
    },
    flag(Some('e'), None, Some("PROGRAM"), "execute this program"),
    flag(Some('l'), None, None, "list probes (an optional search pattern follows)"),
    flag(
        Some('v'),
        None,
        None,
        "verbose messages: each program's verifier log (with -l: probe arguments)",
    ),
    flag(
        Some('c'),
        None,
        Some("CMD"),
        "run CMD and enable the cpid builtin; the run ends when CMD exits",
    ),
    flag(
        Some('p'),
        None,
        Some("PID"),
        "enable USDT/uprobe probes on PID; the run ends when PID exits",
    ),
    flag(
        None,
        Some("usdt-file-activation"),
        None,
        "activate usdt semaphores in every process mapping the file (always done: the kernel counts them)",
    ),
    flag(Some('q'), None, None, "keep messages quiet"),
    Flag {
        choices: &["text", "json"],
        ..flag(Some('f'), None, Some("FORMAT"), "output format: text (default) or json")
    },
    flag(Some('o'), None, Some("FILE"), "redirect program output to FILE"),
    flag(
        Some('d'),
        None,
        None,
        "print the compiler's stages instead of running (-d: AST and IR; -dd: every stage)",
    ),
    flag(
        Some('k'),
        None,
        None,
        "report helper errors (-k: map updates and deletes, signals; -kk: also memory reads and map lookups that find nothing)",
    ),
    flag(
        Some('I'),
        None,
        Some("DIR"),
        "add DIR to the include search path (types come from the kernel's BTF)",
    ),
    flag(None, Some("include"), Some("FILE"), "read C definitions from FILE before the program"),
    flag(None, Some("unsafe"), None, "allow unsafe builtin functions"),
    flag(None, Some("no-warnings"), None, "do not print warnings"),
    Flag {
        choices: &["ast", "types", "ir", "bpf"],
        ..flag(
            None,
            Some("dump"),
            Some("KIND"),
            "print a compiler stage instead of running: ast, types, ir, bpf",
        )
    },
    flag(
        None,
        Some("compile-only"),
        None,
        "check and compile the program without loading it (what this machine lacks is a warning)",
    ),
    flag(
        None,
        Some("info"),
        None,
        "print what this kernel offers (helpers, map and probe types) and stop",
    ),
    flag(
        None,
        Some("emit-elf"),
        Some("FILE"),
        "write the compiled program as a BPF ELF object (bpftool loads it)",
    ),
    flag(
        None,
        Some("metrics"),
        Some("ADDR"),
        "serve the maps as OpenMetrics on http://ADDR/metrics while running",
    ),
    flag(
        None,
        Some("flamegraph"),
        Some("FILE"),
        "at exit, draw every map keyed by kstack or ustack as a flame graph SVG in FILE",
    ),
    flag(Some('i'), None, None, "interactive session: probes typed at a prompt run at once"),
    Flag {
        choices: &["man", "bash", "zsh", "fish"],
        ..flag(
            None,
            Some("generate"),
            Some("KIND"),
            "print the man page or a shell completion script: man, bash, zsh, fish",
        )
    },
    flag(Some('h'), Some("help"), None, "show this help message"),
    flag(Some('V'), Some("version"), None, "rtrace version"),
];

/// The environment variables rtrace reads, with what they change.
pub const ENVIRONMENT: &[(&str, &str)] = &[
    (
        "BPFTRACE_STRLEN",
        "bytes of string buffers (default 64, at most 200)",
    ),
    (
        "BPFTRACE_MAP_KEYS_MAX",
        "entries of a map with keys (default 4096)",
    ),
    (
        "BPFTRACE_MAX_PROBES",
        "probes a script may attach (default 512)",
    ),
    (
        "BPFTRACE_CAT_BYTES_MAX",
        "bytes cat() prints (default 10240)",
    ),
    (
        "BPFTRACE_BTF",
        "BTF file to read kernel types from (default /sys/kernel/btf/vmlinux)",
    ),
    (
        "BPFTRACE_NO_CPP_DEMANGLE",
        "1: print C++ names in user stacks and symbols as mangled",
    ),
    (
        "BPFTRACE_MAX_BPF_PROGS",
        "BPF programs a script may generate (default 512)",
    ),
    (
        "BPFTRACE_LOG_SIZE",
        "bytes of the verifier log buffer, as -v shows it (default 1000000)",
    ),
    (
        "BPFTRACE_PERF_RB_PAGES",
        "pages per CPU for the event ring buffer, a power of two (default 64)",
    ),
];

/// Examples, as (command line, what it does).
pub const EXAMPLES: &[(&str, &str)] = &[
    ("rtrace -l '*sleep*'", "list probes containing \"sleep\""),
    (
        "rtrace -e 'BEGIN { printf(\"hello world\\n\"); }'",
        "print \"hello world\" and wait for Ctrl-C",
    ),
    (
        "rtrace -e 'tracepoint:syscalls:sys_enter_openat { printf(\"%s %s\\n\", comm, str(args->filename)); }'",
        "trace the files opened, with process names",
    ),
];

/// The flag's names as `--help` shows them: `-e PROGRAM`, `-h, --help`, `--dump KIND`.
pub fn flag_names(f: &Flag) -> String {
    let mut names: Vec<String> = Vec::new();
    if let Some(c) = f.short {
        names.push(format!("-{c}"));
    }
    if let Some(l) = f.long {
        names.push(format!("--{l}"));
    }
    let mut text = names.join(", ");
    if let Some(v) = f.value {
        text.push(' ');
        text.push_str(v);
    }
    text
}

/// `--help`: usage lines, every flag, the environment and examples.
pub fn usage() -> String {
    let mut out = String::from(
        "USAGE:\n    rtrace [options] filename\n    rtrace [options] - <stdin input>\n    \
         rtrace [options] -e 'program'\n    rtrace [options] [-i]          \
         (an interactive session; `.help` inside)\n\nOPTIONS:\n",
    );
    for f in FLAGS {
        let names = flag_names(f);
        let lines = wrap(f.help, 62);
        if names.len() <= 16 {
            out.push_str(&format!("    {names:<16} {}\n", lines[0]));
        } else {
            out.push_str(&format!("    {names}\n                     {}\n", lines[0]));
        }
        for l in &lines[1..] {
            out.push_str(&format!("                     {l}\n"));
        }
    }
    out.push_str("\nENVIRONMENT:\n");
    for (name, help) in ENVIRONMENT {
        out.push_str(&format!("    {name:<24} {help}\n"));
    }
    out.push_str("\nEXAMPLES:\n");
    for (cmd, what) in EXAMPLES {
        out.push_str(&format!("{cmd}\n    {what}\n"));
    }
    out
}

/// `text` in lines of at most `width` characters, broken at spaces.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = vec![String::new()];
    for word in text.split(' ') {
        let last = lines.last_mut().expect("one line");
        if !last.is_empty() && last.len() + 1 + word.len() > width {
            lines.push(word.to_string());
        } else {
            if !last.is_empty() {
                last.push(' ');
            }
            last.push_str(word);
        }
    }
    lines
}

/// The flag of a short name or a long name.
fn find_flag(short: Option<char>, long: Option<&str>) -> Option<&'static Flag> {
    FLAGS
        .iter()
        .find(|f| (short.is_some() && f.short == short) || (long.is_some() && f.long == long))
}

/// What `--generate` prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Generate {
    Man,
    Bash,
    Zsh,
    Fish,
}

fn generate_kind(v: &str) -> Result<Generate, UsageError> {
    Ok(match v {
        "man" => Generate::Man,
        "bash" => Generate::Bash,
        "zsh" => Generate::Zsh,
        "fish" => Generate::Fish,
        _ => {
            return Err(UsageError(format!(
                "--generate takes man, bash, zsh or fish, not '{v}'"
            )))
        }
    })
}

/// A command-line mistake: the message, exit 1.
#[derive(Debug, PartialEq, Eq)]
pub struct UsageError(pub String);

impl UsageError {
    /// An unknown flag (or a mix of flags that cannot go together) is followed by the usage, as
    /// bpftrace does; other mistakes are not.
    pub fn wants_usage(&self) -> bool {
        // Flags that cannot go together (`-idonotexist` reads as -i, -d, -o) show it too.
        self.0.starts_with("unknown option") || self.0.starts_with("-i ")
    }
}

/// Parses argv (without the program name), as getopt does: short flags may be combined
/// (`-qe PROG`, `-lv`, `-dd`) and a value may follow its flag in the same word (`-fjson`).
/// No program is a usage error.
pub fn parse_args(args: &[String]) -> Result<Options, UsageError> {
    parse_args_at(args, false)
}

/// `parse_args` for a command run on a terminal when `terminal` is true: there, no program
/// opens an interactive session (as `-i` does).
pub fn parse_args_at(args: &[String], terminal: bool) -> Result<Options, UsageError> {
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
            if find_flag(None, Some(name)).is_none() {
                return Err(UsageError(format!("unknown option '{a}'")));
            }
            match name {
                "generate" => o.generate = Some(generate_kind(&value()?)?),
                "unsafe" => o.unsafe_actions = true,
                "compile-only" => o.compile_only = true,
                "emit-elf" => o.emit_elf = Some(value()?),
                "metrics" => o.metrics = Some(value()?),
                "flamegraph" => o.flamegraph = Some(value()?),
                "no-warnings" => o.no_warnings = true,
                // usdt semaphores are always activated by the kernel (the uprobe's reference
                // counter) in every process that maps the file: nothing more to do.
                "usdt-file-activation" => {}
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
            let Some(f) = find_flag(Some(c), None) else {
                return Err(UsageError(format!("unknown option '-{c}'")));
            };
            if f.value.is_some() {
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
                'i' => o.interactive = true,
                'k' => o.helper_check = (o.helper_check + 1).min(2),
                _ => return Err(UsageError(format!("unknown option '-{c}'"))),
            }
        }
    }
    if o.version || o.info || o.generate.is_some() {
        return Ok(o);
    }
    let mut positional = positional.into_iter();
    if o.list.is_some() {
        o.list = Some(positional.next());
        return Ok(o);
    }
    if o.interactive || (terminal && o.script.is_none() && positional.len() == 0) {
        return interactive(o, positional.collect());
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

/// Checks the flags of an interactive session: it reads its probes at the prompt.
fn interactive(mut o: Options, positional: Vec<String>) -> Result<Options, UsageError> {
    if o.script.is_some() || !positional.is_empty() {
        return Err(UsageError(
            "-i reads probes at its prompt: give it no program (-e or a file)".into(),
        ));
    }
    if o.command.is_some()
        || o.output.is_some()
        || o.dump.is_some()
        || o.compile_only
        || o.debug > 0
    {
        return Err(UsageError(
            "-i cannot be combined with -c, -o, -d, --dump or --compile-only".into(),
        ));
    }
    o.interactive = true;
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
    if let Some(v) = get("BPFTRACE_NO_CPP_DEMANGLE") {
        o.cpp_demangle = match v {
            "1" => false,
            "0" => true,
            _ => {
                return Err(UsageError(format!(
                    "BPFTRACE_NO_CPP_DEMANGLE must be 0 or 1, not '{v}'"
                )))
            }
        };
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
    if let Some(v) = get("BPFTRACE_LOG_SIZE") {
        let n = number("BPFTRACE_LOG_SIZE", v)?;
        // The kernel refuses a larger buffer (EINVAL).
        let max = u64::from(u32::MAX >> 2);
        if n > max {
            return Err(UsageError(format!(
                "BPFTRACE_LOG_SIZE is {n}, but the kernel takes a verifier log of at most {max} bytes"
            )));
        }
        o.log_size = n as usize;
    }
    if let Some(v) = get("BPFTRACE_PERF_RB_PAGES") {
        let n = number("BPFTRACE_PERF_RB_PAGES", v)?;
        if !n.is_power_of_two() {
            return Err(UsageError(format!(
                "BPFTRACE_PERF_RB_PAGES must be a power of two (pages per CPU for the event ring buffer), not {n}"
            )));
        }
        o.perf_rb_pages = Some(n);
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
    fn usdt_file_activation_is_accepted() {
        let o = parse_args(&args(&["--usdt-file-activation", "-e", "BEGIN{}"])).unwrap();
        assert_eq!(o.script, Some(Script::Inline("BEGIN{}".into())));
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
    fn log_size_and_ring_pages_from_the_environment() {
        let vars = |v: &[(&str, &str)]| -> Vec<(String, String)> {
            v.iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect()
        };
        let mut o = Options::default();
        assert_eq!((o.log_size, o.perf_rb_pages), (1_000_000, None));
        apply_env(
            &mut o,
            &vars(&[("BPFTRACE_LOG_SIZE", "1"), ("BPFTRACE_PERF_RB_PAGES", "8")]),
        )
        .unwrap();
        assert_eq!((o.log_size, o.perf_rb_pages), (1, Some(8)));
        let err = |name: &str, value: &str| {
            let mut o = Options::default();
            match apply_env(&mut o, &vars(&[(name, value)])) {
                Err(UsageError(m)) => m,
                Ok(()) => panic!("{name}={value} accepted"),
            }
        };
        assert!(err("BPFTRACE_LOG_SIZE", "0").contains("positive integer"));
        assert!(err("BPFTRACE_LOG_SIZE", "x").contains("positive integer"));
        assert!(err("BPFTRACE_LOG_SIZE", "1073741824").contains("at most 1073741823"));
        assert!(err("BPFTRACE_PERF_RB_PAGES", "3").contains("power of two"));
        assert!(err("BPFTRACE_PERF_RB_PAGES", "0").contains("positive integer"));
        assert!(err("BPFTRACE_PERF_RB_PAGES", "-1").contains("positive integer"));
    }

    #[test]
    fn bad_flags_are_usage_errors() {
        assert!(parse_args(&args(&["-f", "xml", "-e", "x"])).is_err());
        assert!(parse_args(&args(&["-p", "abc", "-e", "x"])).is_err());
        assert!(parse_args(&args(&["--bogus"])).is_err());
        assert!(parse_args(&args(&[])).is_err());
        assert!(parse_args(&args(&["-i", "-e", "BEGIN{}"])).is_err());
        assert!(parse_args(&args(&["-i", "-c", "ls"])).is_err());
        assert!(parse_args(&args(&["-i", "-o", "out.txt"])).is_err());
    }

    #[test]
    fn interactive_with_i_or_no_program_on_a_terminal() {
        let o = parse_args(&args(&["-i"])).unwrap();
        assert!(o.interactive && o.script.is_none());
        let o = parse_args_at(&args(&["-q"]), true).unwrap();
        assert!(o.interactive);
        // A program given on a terminal runs as a script.
        let o = parse_args_at(&args(&["-e", "BEGIN{}"]), true).unwrap();
        assert!(!o.interactive);
        assert!(parse_args_at(&args(&[]), false).is_err());
    }
}
