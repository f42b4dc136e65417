//! What a line typed at the session's prompt is: a command (`.probes`, `.detach N`, ...), a map
//! name to print, or probes to compile; and whether a block is still open (the line continues).
//! Fed by the editor's lines; the session acts on what it returns.

/// One input of the session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    /// Nothing but blanks and comments.
    Empty,
    /// `@` or `@name`: print the map now.
    Map(String),
    /// Probes (and C definitions) to compile, load and attach.
    Probes(String),
    Command(Command),
}

/// A session command (a line starting with `.`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// `.probes`: the probes typed, numbered, and whether they are attached.
    Probes,
    /// `.detach N`.
    Detach(usize),
    /// `.clear @m`.
    Clear(String),
    /// `.dump bpf N`: probe N's instructions under its source.
    DumpBpf(usize),
    /// `.help`.
    Help,
    /// `.quit` (Ctrl-D too): END, the maps, and out.
    Quit,
}

/// The commands, for `.help` and completion.
pub const COMMANDS: &[(&str, &str)] = &[
    (".probes", "list the probes typed, with their numbers"),
    (".detach", "N: detach probe N"),
    (".clear", "@m: empty map @m"),
    (
        ".dump",
        "bpf N: probe N's BPF instructions, each under its source",
    ),
    (".help", "this list"),
    (
        ".quit",
        "run END probes, print the maps and leave (Ctrl-D too)",
    ),
];

/// The help text.
pub fn help() -> String {
    let mut s = String::from(
        "Type a probe to attach it at once, e.g.\n  \
         tracepoint:syscalls:sys_enter_openat { @[comm] = count(); }\n\
         A line with an unclosed `{` continues on the next one. Type a map's name (@, @name) \
         to print it.\nCtrl-C clears the line and drops output not yet shown; Ctrl-D quits.\n\
         Commands:\n",
    );
    for (name, what) in COMMANDS {
        s.push_str(&format!("  {name:<8} {what}\n"));
    }
    s
}

/// What `text` (one or more lines) asks for.
pub fn classify(text: &str) -> Result<Input, String> {
    let t = text.trim();
    if without_comments(t).trim().is_empty() {
        return Ok(Input::Empty);
    }
    if let Some(cmd) = t.strip_prefix('.') {
        return command(cmd).map(Input::Command);
    }
    if is_map_name(t) {
        return Ok(Input::Map(t.to_string()));
    }
    Ok(Input::Probes(text.to_string()))
}

/// `@` or `@` followed by an identifier.
pub fn is_map_name(t: &str) -> bool {
    let Some(rest) = t.strip_prefix('@') else {
        return false;
    };
    rest.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !rest.starts_with(|c: char| c.is_ascii_digit())
}

fn command(text: &str) -> Result<Command, String> {
    let mut words = text.split_whitespace();
    let name = words.next().unwrap_or("");
    let args: Vec<&str> = words.collect();
    let number = |what: &str| -> Result<usize, String> {
        match args.as_slice() {
            [n] => n
                .parse::<usize>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| format!("{what}: '{n}' is not a probe number (see .probes)")),
            _ => Err(format!("{what} takes a probe number (see .probes)")),
        }
    };
    let cmd = match name {
        "probes" if args.is_empty() => Command::Probes,
        "detach" => Command::Detach(number(".detach")?),
        "clear" => match args.as_slice() {
            [m] if is_map_name(m) => Command::Clear(m.to_string()),
            _ => return Err(".clear takes a map name, as in `.clear @bytes`".into()),
        },
        "dump" => match args.as_slice() {
            ["bpf", n] => Command::DumpBpf(
                n.parse::<usize>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| format!(".dump bpf: '{n}' is not a probe number"))?,
            ),
            _ => return Err(".dump takes `bpf N`, as in `.dump bpf 1`".into()),
        },
        "help" if args.is_empty() => Command::Help,
        "quit" | "exit" | "q" if args.is_empty() => Command::Quit,
        "probes" | "help" | "quit" | "exit" | "q" => {
            return Err(format!(".{name} takes no arguments"))
        }
        _ => {
            return Err(format!(
                "unknown command '.{name}': .help lists the commands"
            ))
        }
    };
    Ok(cmd)
}

/// How many `{` are still open at the end of `text`, outside strings, character literals and
/// comments. A line that leaves one open continues on the next.
pub fn open_braces(text: &str) -> usize {
    let mut depth: usize = 0;
    let code = without_comments(text);
    let mut chars = code.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' | '\'' => {
                // Skip the literal, escapes included; an unclosed one ends at the line's end.
                while let Some(d) = chars.next() {
                    if d == '\\' {
                        chars.next();
                    } else if d == c || d == '\n' {
                        break;
                    }
                }
            }
            '{' => depth += 1,
            '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    depth
}

/// `text` with `//` and `/* */` comments blanked (strings kept).
fn without_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    let mut quote: Option<char> = None;
    while let Some(c) = chars.next() {
        if let Some(q) = quote {
            out.push(c);
            if c == '\\' {
                if let Some(d) = chars.next() {
                    out.push(d);
                }
            } else if c == q || c == '\n' {
                quote = None;
            }
            continue;
        }
        match (c, chars.peek()) {
            ('/', Some('/')) => {
                for d in chars.by_ref() {
                    if d == '\n' {
                        out.push('\n');
                        break;
                    }
                }
            }
            ('/', Some('*')) => {
                chars.next();
                let mut last = ' ';
                for d in chars.by_ref() {
                    if last == '*' && d == '/' {
                        break;
                    }
                    if d == '\n' {
                        out.push('\n');
                    }
                    last = d;
                }
                out.push(' ');
            }
            ('"' | '\'', _) => {
                quote = Some(c);
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_commands_maps_or_probes() {
        assert_eq!(classify("  "), Ok(Input::Empty));
        assert_eq!(classify("// just a note"), Ok(Input::Empty));
        assert_eq!(classify("@"), Ok(Input::Map("@".into())));
        assert_eq!(classify(" @bytes "), Ok(Input::Map("@bytes".into())));
        assert_eq!(classify(".probes"), Ok(Input::Command(Command::Probes)));
        assert_eq!(
            classify(".detach 2"),
            Ok(Input::Command(Command::Detach(2)))
        );
        assert_eq!(
            classify(".clear @m"),
            Ok(Input::Command(Command::Clear("@m".into())))
        );
        assert_eq!(
            classify(".dump bpf 3"),
            Ok(Input::Command(Command::DumpBpf(3)))
        );
        assert_eq!(classify(".quit"), Ok(Input::Command(Command::Quit)));
        assert_eq!(classify(".help"), Ok(Input::Command(Command::Help)));
        let p = "BEGIN { @x = 1; }";
        assert_eq!(classify(p), Ok(Input::Probes(p.into())));
        // `@x = 1` alone is not a map name: it goes to the compiler, which says what is wrong.
        assert!(matches!(classify("@x = 1"), Ok(Input::Probes(_))));
    }

    #[test]
    fn bad_commands_say_why() {
        assert!(classify(".detach").unwrap_err().contains("probe number"));
        assert!(classify(".detach x").unwrap_err().contains("'x'"));
        assert!(classify(".detach 0").is_err());
        assert!(classify(".clear m").unwrap_err().contains(".clear @bytes"));
        assert!(classify(".dump ir 1").is_err());
        assert!(classify(".probes 1").unwrap_err().contains("no arguments"));
        assert!(classify(".frob").unwrap_err().contains(".help"));
    }

    #[test]
    fn open_braces_ignore_strings_and_comments() {
        assert_eq!(open_braces("BEGIN {"), 1);
        assert_eq!(open_braces("BEGIN { if (1) {"), 2);
        assert_eq!(open_braces("BEGIN { }"), 0);
        assert_eq!(open_braces("BEGIN { printf(\"{\\\"\"); "), 1);
        assert_eq!(open_braces("BEGIN { // {\n"), 1);
        assert_eq!(open_braces("BEGIN { /* { */ }"), 0);
        assert_eq!(open_braces("BEGIN { $c = '{'; }"), 0);
        assert_eq!(open_braces("}}"), 0);
    }
}
