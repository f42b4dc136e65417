//! The man page and the bash, zsh and fish completions, written from the one flag table
//! (`cli::FLAGS`, `cli::ENVIRONMENT`, `cli::EXAMPLES`) by `rtrace --generate KIND`. The
//! copies in docs/rtrace.1 and completions/ are checked against these by tests/cli_docs.rs.

use crate::cli::{flag_names, Generate, ENVIRONMENT, EXAMPLES, FLAGS};
use crate::probes::PROVIDERS;

/// The text `--generate KIND` prints.
pub fn generate(kind: Generate) -> String {
    match kind {
        Generate::Man => man_page(),
        Generate::Bash => bash(),
        Generate::Zsh => zsh(),
        Generate::Fish => fish(),
    }
}

/// Text escaped for roff: backslashes, and a leading `.` or `'`.
fn roff(text: &str) -> String {
    let t = text.replace('\\', "\\e").replace('-', "\\-");
    if t.starts_with('.') || t.starts_with('\'') {
        format!("\\&{t}")
    } else {
        t
    }
}

/// rtrace(1).
pub fn man_page() -> String {
    let mut out = String::new();
    out.push_str(&format!(
        ".TH RTRACE 1 \"\" \"rtrace {}\" \"User Commands\"\n",
        env!("CARGO_PKG_VERSION")
    ));
    out.push_str(".SH NAME\nrtrace \\- a bpftrace\\-compatible tracer for Linux, without LLVM\n");
    out.push_str(".SH SYNOPSIS\n");
    for syn in [
        "[\\fIoptions\\fR] \\fIfilename\\fR [\\fIargs\\fR...]",
        "[\\fIoptions\\fR] \\fB\\-e\\fR \\fIprogram\\fR [\\fIargs\\fR...]",
        "[\\fIoptions\\fR] \\fB\\-\\fR",
        "\\fB\\-l\\fR [\\fIsearch\\fR]",
        "[\\fB\\-i\\fR]",
    ] {
        out.push_str(&format!(".B rtrace\n{syn}\n.br\n"));
    }
    out.push_str(
        ".SH DESCRIPTION\n\
         rtrace runs bpftrace's language: probes on tracepoints, uprobes, usdt, timers and \
         other events, each with an optional filter and actions that read the kernel's and \
         programs' data, count into maps and print. It compiles scripts to eBPF itself and \
         prints what bpftrace 0.17 prints. The language reference is docs/reference.md in \
         rtrace's sources.\n",
    );
    out.push_str(".SH OPTIONS\n");
    for f in FLAGS {
        let names = flag_names(f)
            .split(", ")
            .map(|n| match n.split_once(' ') {
                Some((flag, value)) => format!("\\fB{}\\fR \\fI{value}\\fR", roff(flag)),
                None => format!("\\fB{}\\fR", roff(n)),
            })
            .collect::<Vec<_>>()
            .join(", ");
        out.push_str(&format!(".TP\n{names}\n{}\n", roff(f.help)));
    }
    out.push_str(".SH ENVIRONMENT\n");
    for (name, help) in ENVIRONMENT {
        out.push_str(&format!(".TP\n.B {name}\n{}\n", roff(help)));
    }
    out.push_str(".SH EXAMPLES\n");
    for (cmd, what) in EXAMPLES {
        out.push_str(&format!(".TP\n.B {}\n{}\n", roff(cmd), roff(what)));
    }
    out.push_str(
        ".SH EXIT STATUS\n0 when the run ends normally; 1 on an error in the script, the \
         command line, or when the kernel refuses a program.\n\
         .SH SEE ALSO\n\
         .BR bpftrace (8),\n\
         .BR bpftool (8)\n",
    );
    out
}

/// Long and short names of every flag, and the names of the flags that take values.
fn names() -> (Vec<String>, Vec<String>) {
    let mut all = Vec::new();
    let mut valued = Vec::new();
    for f in FLAGS {
        for n in f
            .short
            .map(|c| format!("-{c}"))
            .into_iter()
            .chain(f.long.map(|l| format!("--{l}")))
        {
            if f.value.is_some() {
                valued.push(n.clone());
            }
            all.push(n);
        }
    }
    (all, valued)
}

fn probe_types() -> String {
    PROVIDERS
        .iter()
        .filter(|p| !matches!(p.name, "BEGIN" | "END"))
        .map(|p| format!("{}:", p.name))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A bash completion script (`source` it, or put it in bash-completion's directory).
pub fn bash() -> String {
    let (all, _) = names();
    let mut cases = String::new();
    for f in FLAGS {
        let Some(_) = f.value else { continue };
        let pats: Vec<String> = f
            .short
            .map(|c| format!("-{c}"))
            .into_iter()
            .chain(f.long.map(|l| format!("--{l}")))
            .collect();
        let action = if !f.choices.is_empty() {
            format!(
                "COMPREPLY=($(compgen -W '{}' -- \"$cur\"))",
                f.choices.join(" ")
            )
        } else {
            match f.value {
                Some("FILE") => "COMPREPLY=($(compgen -f -- \"$cur\"))".to_string(),
                Some("DIR") => "COMPREPLY=($(compgen -d -- \"$cur\"))".to_string(),
                Some("PID") => {
                    "COMPREPLY=($(compgen -W \"$(ls /proc | grep -E '^[0-9]+$')\" -- \"$cur\"))"
                        .to_string()
                }
                Some("CMD") => "COMPREPLY=($(compgen -c -- \"$cur\"))".to_string(),
                _ => "COMPREPLY=()".to_string(),
            }
        };
        cases.push_str(&format!(
            "        {})\n            {action}\n            return ;;\n",
            pats.join("|")
        ));
    }
    format!(
        "# bash completion for rtrace (rtrace --generate bash)\n\
         _rtrace() {{\n\
         \x20   local cur prev\n\
         \x20   cur=\"${{COMP_WORDS[COMP_CWORD]}}\"\n\
         \x20   prev=\"${{COMP_WORDS[COMP_CWORD-1]}}\"\n\
         \x20   case \"$prev\" in\n\
         {cases}\
         \x20       -l)\n\
         \x20           COMPREPLY=($(compgen -W '{probes}' -- \"$cur\"))\n\
         \x20           return ;;\n\
         \x20   esac\n\
         \x20   if [[ \"$cur\" == -* ]]; then\n\
         \x20       COMPREPLY=($(compgen -W '{flags}' -- \"$cur\"))\n\
         \x20   else\n\
         \x20       COMPREPLY=($(compgen -f -- \"$cur\"))\n\
         \x20   fi\n\
         }}\n\
         complete -F _rtrace rtrace\n",
        probes = probe_types(),
        flags = all.join(" "),
    )
}

/// Text escaped inside zsh's `[...]` descriptions.
fn zsh_text(t: &str) -> String {
    t.replace('\\', "\\\\")
        .replace('\'', "'\\''")
        .replace('[', "\\[")
        .replace(']', "\\]")
        .replace(':', "\\:")
}

/// A zsh completion function (`_rtrace`, for a directory on `$fpath`).
pub fn zsh() -> String {
    let mut specs = String::new();
    for f in FLAGS {
        let action = match (f.value, f.choices.is_empty()) {
            (None, _) => String::new(),
            (Some(v), false) => format!(":{}:({})", v.to_lowercase(), f.choices.join(" ")),
            (Some("FILE"), _) => ":file:_files".into(),
            (Some("DIR"), _) => ":directory:_files -/".into(),
            (Some("PID"), _) => ":pid:_pids".into(),
            (Some("CMD"), _) => ":command:_command_names -e".into(),
            (Some(v), _) => format!(":{}:", v.to_lowercase()),
        };
        let help = zsh_text(f.help);
        for n in f
            .short
            .map(|c| format!("-{c}"))
            .into_iter()
            .chain(f.long.map(|l| format!("--{l}")))
        {
            // -d and -k repeat (-dd, -kk).
            let repeat = if matches!(n.as_str(), "-d" | "-k") {
                "*"
            } else {
                ""
            };
            specs.push_str(&format!("    '{repeat}{n}[{help}]{action}' \\\n"));
        }
    }
    format!(
        "#compdef rtrace\n# zsh completion for rtrace (rtrace --generate zsh)\n\
         _arguments -s \\\n{specs}    '*:script:_files'\n"
    )
}

/// A fish completion script.
pub fn fish() -> String {
    let mut out = String::from("# fish completion for rtrace (rtrace --generate fish)\n");
    for f in FLAGS {
        let mut line = String::from("complete -c rtrace");
        if let Some(c) = f.short {
            line.push_str(&format!(" -s {c}"));
        }
        if let Some(l) = f.long {
            line.push_str(&format!(" -l {l}"));
        }
        match f.value {
            None => {}
            Some(_) if !f.choices.is_empty() => {
                line.push_str(&format!(" -x -a '{}'", f.choices.join(" ")))
            }
            Some("FILE") | Some("DIR") => line.push_str(" -r -F"),
            Some(_) => line.push_str(" -x"),
        }
        line.push_str(&format!(" -d '{}'", f.help.replace('\'', "\\'")));
        out.push_str(&line);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_flag_is_in_every_output() {
        let (man, b, z, f) = (man_page(), bash(), zsh(), fish());
        for flag in FLAGS {
            if let Some(l) = flag.long {
                assert!(
                    man.contains(&format!("\\-\\-{}", l.replace('-', "\\-"))),
                    "{l}"
                );
                assert!(b.contains(&format!("--{l}")), "{l}");
                assert!(z.contains(&format!("'--{l}[")), "{l}");
                assert!(f.contains(&format!("-l {l}")), "{l}");
            }
            if let Some(c) = flag.short {
                assert!(man.contains(&format!("\\fB\\-{c}\\fR")), "{c}");
                assert!(b.contains(&format!("-{c}")), "{c}");
                assert!(z.contains(&format!("-{c}[")), "{c}");
                assert!(f.contains(&format!("-s {c}")), "{c}");
            }
        }
    }

    #[test]
    fn roff_escapes() {
        assert_eq!(roff("a-b\\c"), "a\\-b\\ec");
        assert_eq!(roff(".x"), "\\&.x");
    }
}
