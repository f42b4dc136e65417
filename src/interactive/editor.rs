//! The prompt's helper for rustyline: completion of commands, probe types, tracepoint names,
//! builtins, functions and map names; and an input with an unclosed `{` continued on the next
//! line. Fed by the editor as the user types.

use super::input::{open_braces, COMMANDS};
use crate::builtins::{self, Kind};
use crate::probes;
use rustyline::completion::{Completer, Pair};
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::validate::{ValidationContext, ValidationResult, Validator};
use rustyline::{Context, Helper};
use std::cell::RefCell;
use std::sync::OnceLock;

/// The session's editor helper.
#[derive(Default)]
pub struct Prompt {
    /// The session's maps (updated as inputs are loaded).
    pub maps: RefCell<Vec<String>>,
}

impl Helper for Prompt {}
impl Hinter for Prompt {
    type Hint = String;
}
impl Highlighter for Prompt {}

impl Validator for Prompt {
    fn validate(&self, ctx: &mut ValidationContext<'_>) -> rustyline::Result<ValidationResult> {
        Ok(if open_braces(ctx.input()) > 0 {
            ValidationResult::Incomplete
        } else {
            ValidationResult::Valid(None)
        })
    }
}

impl Completer for Prompt {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let maps = self.maps.borrow();
        let (start, words) = candidates(line, pos, &maps, tracepoints);
        let pairs = words
            .into_iter()
            .map(|w| Pair {
                display: w.clone(),
                replacement: w,
            })
            .collect();
        Ok((start, pairs))
    }
}

/// Every tracepoint (`category:name`), read from tracefs once.
fn tracepoints() -> &'static [String] {
    static ALL: OnceLock<Vec<String>> = OnceLock::new();
    ALL.get_or_init(|| {
        probes::list::list(Some("tracepoint:*"), false)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.strip_prefix("tracepoint:"))
            .map(str::to_string)
            .collect()
    })
}

/// Characters that end a word being completed.
const SEPARATORS: &str = " \t\n{}();,/=+-<>!&|[]^%~?\"";

/// Where the word before `pos` starts, and what it may be completed to. `tracepoints` gives
/// `category:name` of every tracepoint (asked only when a tracepoint is being completed).
pub fn candidates<'t>(
    line: &str,
    pos: usize,
    maps: &[String],
    tracepoints: impl FnOnce() -> &'t [String],
) -> (usize, Vec<String>) {
    let before = line.get(..pos).unwrap_or(line);
    let start = before
        .rfind(|c: char| SEPARATORS.contains(c))
        .map_or(0, |i| i + 1);
    let word = &before[start..];
    let mut out: Vec<String> = Vec::new();
    if word.starts_with('.') && before[..start].trim().is_empty() {
        out.extend(COMMANDS.iter().map(|(c, _)| c.to_string()));
    } else if word.starts_with('@') {
        out.extend(maps.iter().cloned());
    } else if let Some((kind, _)) = word.split_once(':') {
        if probes::provider(kind).is_some_and(|p| p.name == "tracepoint") {
            out.extend(tracepoints().iter().map(|t| format!("{kind}:{t}")));
        }
    } else {
        for p in probes::PROVIDERS.iter().filter(|p| p.parse.is_some()) {
            if p.name == "BEGIN" || p.name == "END" {
                out.push(p.name.to_string());
            } else {
                out.push(format!("{}:", p.name));
            }
        }
        out.extend(builtins::all(Kind::Variable).map(|b| b.name.to_string()));
        for kind in [Kind::Function, Kind::MapFunction] {
            out.extend(builtins::all(kind).map(|b| format!("{}(", b.name)));
        }
        out.extend(maps.iter().cloned());
    }
    out.retain(|c| c.starts_with(word) && c != word);
    out.sort();
    out.dedup();
    (start, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn none() -> &'static [String] {
        &[]
    }

    #[test]
    fn completes_commands_maps_probe_types_and_builtins() {
        let maps = vec!["@bytes".to_string(), "@count".to_string()];
        assert_eq!(
            candidates(".det", 4, &maps, none),
            (0, vec![".detach".into()])
        );
        assert_eq!(candidates("@b", 2, &maps, none), (0, vec!["@bytes".into()]));
        let (start, c) = candidates("BEGIN { print(@", 15, &maps, none);
        assert_eq!((start, c.len()), (14, 2));
        let (_, c) = candidates("trace", 5, &maps, none);
        assert!(c.contains(&"tracepoint:".to_string()), "{c:?}");
        let (_, c) = candidates("BEGIN { printf(\"%d\", ti", 23, &maps, none);
        assert!(c.contains(&"tid".to_string()), "{c:?}");
        let (_, c) = candidates("BEGIN { @x = cou", 16, &maps, none);
        assert_eq!(c, vec!["count(".to_string()]);
        let (_, c) = candidates("BEG", 3, &maps, none);
        assert_eq!(c, vec!["BEGIN".to_string()]);
    }

    #[test]
    fn completes_tracepoint_names_with_the_alias_typed() {
        let tps = vec![
            "syscalls:sys_enter_getppid".to_string(),
            "syscalls:sys_exit_getppid".to_string(),
            "sched:sched_switch".to_string(),
        ];
        let (start, c) = candidates("t:syscalls:sys_en", 17, &[], || &tps);
        assert_eq!(start, 0);
        assert_eq!(c, vec!["t:syscalls:sys_enter_getppid".to_string()]);
        let (_, c) = candidates("tracepoint:sch", 14, &[], || &tps);
        assert_eq!(c, vec!["tracepoint:sched:sched_switch".to_string()]);
        // Other probe types ask for no tracepoint.
        let (_, c) = candidates("interval:s", 10, &[], || panic!("not asked"));
        assert!(c.is_empty());
    }
}
