//! The lexer's mode machine: script text -> spanned tokens, fed to `parse::tokens` and the grammar.
//!
//! Between probes it scans attach points and `#` lines by hand; inside predicates, blocks and
//! struct definitions it asks the logos automaton in `crate::lex` for one token at a time.

use crate::diag::Diagnostic;
use crate::lex::{LexError, Spanned, Tok};
use crate::source::Span;
use logos::Logos;

/// Where the scanner is: between probes, in a predicate, in a probe body or in a struct.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Mode {
    Top,
    Pred,
    Body(u32),
    Struct(u32),
}

/// More lexical errors than this and the rest are not worth reading.
const MAX_ERRORS: usize = 20;

/// Splits the whole script into tokens, or returns every lexical error found.
pub fn tokenize(text: &str) -> Result<Vec<Spanned>, Vec<Diagnostic>> {
    let mut scanner = Scanner {
        text,
        pos: 0,
        mode: Mode::Top,
        out: Vec::new(),
        errors: Vec::new(),
        defined: PREDEFINED
            .iter()
            .map(|n| (n.to_string(), "1".into()))
            .collect(),
        conditionals: Vec::new(),
    };
    if text.starts_with("#!") {
        // A `#!/usr/bin/env rtrace` line is for the shell, not for the script.
        scanner.pos = text.find('\n').unwrap_or(text.len());
    }
    while scanner.errors.len() < MAX_ERRORS {
        scanner.pos = scanner.skip_trivia(scanner.pos, true);
        let Some(c) = scanner.text[scanner.pos..].chars().next() else {
            break;
        };
        if scanner.mode == Mode::Top && c == '#' {
            scanner.directive();
        } else if scanner.mode == Mode::Top && starts_attach(c) && !scanner.at_keyword() {
            scanner.attach_point();
        } else {
            scanner.token();
        }
    }
    if let Some(&(open, _)) = scanner.conditionals.last() {
        scanner.errors.push(Diagnostic::error(
            open,
            "unterminated conditional directive",
        ));
    }
    if scanner.errors.is_empty() {
        Ok(scanner.out)
    } else {
        Err(scanner.errors)
    }
}

struct Scanner<'a> {
    text: &'a str,
    pos: usize,
    mode: Mode,
    out: Vec<Spanned>,
    errors: Vec<Diagnostic>,
    /// `#define`d names and their values, for the conditionals.
    defined: std::collections::HashMap<String, String>,
    /// Open conditionals: the `#if` line and whether a group of it was taken.
    conditionals: Vec<(Span, bool)>,
}

/// The names defined before the script's first line. rtrace takes kernel types from BTF, so
/// scripts see `BPFTRACE_HAVE_BTF` as in bpftrace on a kernel with BTF (tools then skip
/// their fallback definitions for kernels without it).
const PREDEFINED: &[&str] = &["BPFTRACE_HAVE_BTF"];

/// `#  ifdef X` -> ("ifdef", "X").
fn split_directive(line: &str) -> (&str, &str) {
    let body = line.strip_prefix('#').unwrap_or("").trim_start();
    let n = body
        .find(|c: char| !c.is_ascii_alphanumeric() && c != '_')
        .unwrap_or(body.len());
    (&body[..n], &body[n..])
}

/// `#if EXPR`: `A || B`, `A && B`, `!A`, `defined(X)`, `defined X`, an integer or a macro
/// name; `None` for anything else.
fn eval_condition(expr: &str, defined: &std::collections::HashMap<String, String>) -> Option<bool> {
    let expr = expr.trim();
    if let Some((a, b)) = expr.split_once("||") {
        return Some(eval_condition(a, defined)? | eval_condition(b, defined)?);
    }
    if let Some((a, b)) = expr.split_once("&&") {
        return Some(eval_condition(a, defined)? & eval_condition(b, defined)?);
    }
    if let Some(inner) = expr.strip_prefix('!') {
        return eval_condition(inner, defined).map(|v| !v);
    }
    if let Some(inner) = expr.strip_prefix('(').and_then(|e| e.strip_suffix(')')) {
        return eval_condition(inner, defined);
    }
    if let Some(name) = expr.strip_prefix("defined") {
        let name = name.trim();
        let name = name
            .strip_prefix('(')
            .and_then(|n| n.strip_suffix(')'))
            .unwrap_or(name)
            .trim();
        let ident = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        return ident.then(|| defined.contains_key(name));
    }
    if let Some(v) = crate::builtins::parse_int(expr) {
        return Some(v != 0);
    }
    if !expr.is_empty() && expr.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Some(match defined.get(expr) {
            Some(v) => crate::builtins::parse_int(v).is_some_and(|v| v != 0),
            None => false,
        });
    }
    None
}

fn starts_attach(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '*' | '?')
}

fn in_attach(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '*' | '?' | '-' | '.' | '+' | '$' | ':')
}

impl Scanner<'_> {
    /// Skips whitespace and comments from `pos`; reports an unterminated `/*` if `report`.
    fn skip_trivia(&mut self, mut pos: usize, report: bool) -> usize {
        let bytes = self.text.as_bytes();
        loop {
            match (bytes.get(pos), bytes.get(pos + 1)) {
                (Some(b), _) if b.is_ascii_whitespace() || *b == 0x0b => pos += 1,
                (Some(b'/'), Some(b'/')) => {
                    pos = self.text[pos..].find('\n').map_or(bytes.len(), |n| pos + n);
                }
                (Some(b'/'), Some(b'*')) => match self.text[pos + 2..].find("*/") {
                    Some(n) => pos += 2 + n + 2,
                    None => {
                        if report {
                            let span = Span::new(pos, pos + 2);
                            self.errors
                                .push(Diagnostic::error(span, "unterminated comment"));
                        }
                        return bytes.len();
                    }
                },
                _ => return pos,
            }
        }
    }

    /// Is the text at `pos` the keyword `struct`, `union` or `enum`?
    fn at_keyword(&self) -> bool {
        let rest = &self.text[self.pos..];
        let word_len = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        matches!(&rest[..word_len], "struct" | "union" | "enum")
    }

    /// A `#` line before the probes: `#include <linux/sched.h>`, `#define X 1`, ... The
    /// conditionals (`#ifdef`, `#ifndef`, `#if`, `#elif`, `#else`, `#endif`) are done here,
    /// as the C preprocessor does them: a group whose condition fails is skipped whole.
    fn directive(&mut self) {
        let start = self.pos;
        let end = self.line_end(start);
        let line = self.text[start..end].trim_end().to_string();
        self.pos = end;
        let span = Span::new(start, start + line.len());
        let (word, rest) = split_directive(&line);
        match word {
            "ifdef" | "ifndef" | "if" => {
                let taken = match self.condition(word, rest, span) {
                    Some(t) => t,
                    None => return,
                };
                self.conditionals.push((span, taken));
                if !taken {
                    self.skip_group(span);
                }
            }
            "elif" | "else" => match self.conditionals.last() {
                // The group before was taken, so this one and those after it are not.
                Some(&(open, true)) => {
                    self.skip_to_endif(open);
                }
                // Reached only by `skip_group` stopping here: the earlier groups were not taken.
                Some(&(open, false)) => {
                    let taken = word == "else" || self.condition("if", rest, span) == Some(true);
                    if let Some(top) = self.conditionals.last_mut() {
                        top.1 = taken;
                    }
                    if !taken {
                        self.skip_group(open);
                    }
                }
                None => self
                    .errors
                    .push(Diagnostic::error(span, format!("#{word} without #if"))),
            },
            "endif" => {
                if self.conditionals.pop().is_none() {
                    self.errors
                        .push(Diagnostic::error(span, "#endif without #if"));
                }
            }
            _ => {
                if word == "define" {
                    let mut parts = rest.trim_start().splitn(2, char::is_whitespace);
                    if let Some(name) = parts.next().filter(|n| !n.is_empty()) {
                        let value = parts.next().unwrap_or("").trim().to_string();
                        self.defined.insert(name.to_string(), value);
                    }
                } else if word == "undef" {
                    self.defined.remove(rest.trim());
                }
                self.out
                    .push((start, Tok::Directive(line.clone()), start + line.len()));
            }
        }
    }

    /// The end of the line at `pos` (its newline, or the end of the text).
    fn line_end(&self, pos: usize) -> usize {
        self.text[pos..]
            .find('\n')
            .map_or(self.text.len(), |n| pos + n)
    }

    /// Whether `#ifdef X`, `#ifndef X` or `#if EXPR` holds. `#if` knows integers, macro names
    /// (their integer value; 0 when undefined), `defined(X)`, `defined X`, `!`, `&&` and `||`.
    fn condition(&mut self, word: &str, rest: &str, span: Span) -> Option<bool> {
        let rest = rest.trim();
        let holds = match word {
            "ifdef" => Some(self.defined.contains_key(rest)),
            "ifndef" => Some(!self.defined.contains_key(rest)),
            _ => eval_condition(rest, &self.defined),
        };
        if holds.is_none() {
            self.errors.push(
                Diagnostic::error(span, format!("cannot evaluate '#{word} {rest}'")).with_note(
                    "rtrace's #if understands integers, macro names, defined(NAME), !, && and ||",
                ),
            );
        }
        holds
    }

    /// Skips the lines of a group whose condition failed, up to the `#elif`, `#else` or
    /// `#endif` that ends it (nested conditionals skipped whole); that line is then read as
    /// any directive. `open` is the `#if` line, for the error when the text ends first.
    fn skip_group(&mut self, open: Span) {
        if let Some(start) = self.find_group_end(open, true) {
            self.pos = start;
            self.directive();
        }
    }

    /// Skips every remaining group of a conditional whose taken group just ended, through
    /// its `#endif`.
    fn skip_to_endif(&mut self, open: Span) {
        if let Some(start) = self.find_group_end(open, false) {
            self.conditionals.pop();
            self.pos = self.line_end(start);
        }
    }

    /// The start of the line after `pos` that ends the current group (`#elif`, `#else` or
    /// `#endif` when `any`, else only `#endif`), nested conditionals passed over; `pos` is
    /// left there. The error on `open` when the text ends first.
    fn find_group_end(&mut self, open: Span, any: bool) -> Option<usize> {
        let mut depth = 0u32;
        while self.pos < self.text.len() {
            let start = self.skip_blanks(self.pos + 1);
            let end = self.line_end(start);
            let line = &self.text[start..end];
            if line.starts_with('#') {
                match split_directive(line).0 {
                    "if" | "ifdef" | "ifndef" => depth += 1,
                    "endif" if depth > 0 => depth -= 1,
                    "endif" => return Some(start),
                    "elif" | "else" if depth == 0 && any => return Some(start),
                    _ => {}
                }
            }
            self.pos = end;
        }
        self.errors.push(Diagnostic::error(
            open,
            "unterminated conditional directive",
        ));
        None
    }

    /// Blanks (not newlines) from `pos`.
    fn skip_blanks(&self, pos: usize) -> usize {
        let pos = pos.min(self.text.len());
        pos + self.text[pos..]
            .find(|c: char| c != ' ' && c != '\t')
            .unwrap_or(self.text.len() - pos)
    }

    /// One attach point such as `uprobe:/bin/bash:readline` or `kprobe : vfs_read`; `/` is part
    /// of it only after the first `:`, and blanks only around a `:` (they are dropped).
    fn attach_point(&mut self) {
        let start = self.pos;
        let mut raw = String::new();
        let mut i = start;
        let mut end = start;
        let mut seen_colon = false;
        while let Some(c) = self.text[i..].chars().next() {
            if in_attach(c) || (c == '/' && seen_colon) {
                seen_colon |= c == ':';
                raw.push(c);
                i += c.len_utf8();
            } else if c == '"' {
                let (len, result) = crate::lex::decode_string(&self.text.as_bytes()[i + 1..]);
                let close = i + 1 + len;
                if result == Err(LexError::UnterminatedString) {
                    let span = Span::new(i, close);
                    self.errors
                        .push(Diagnostic::error(span, "unterminated string"));
                }
                raw.push_str(&self.text[i..close]);
                i = close;
            } else if c == '\\' {
                let Some(next) = self.text[i + 1..].chars().next() else {
                    break;
                };
                raw.push(c);
                raw.push(next);
                i += 1 + next.len_utf8();
            } else if c.is_whitespace() {
                let j = self.skip_trivia(i, false);
                let after = self.text[j..].chars().next();
                let continues = after == Some(':')
                    || (raw.ends_with(':') && after.is_some_and(|a| starts_attach(a) || a == '/'));
                if !continues {
                    break;
                }
                i = j;
            } else {
                break;
            }
            end = i;
        }
        self.pos = end;
        self.out.push((start, Tok::Attach(raw), end));
    }

    /// One token from the logos automaton, then the mode change it causes.
    fn token(&mut self) {
        let start = self.pos;
        let mut lexer = Tok::lexer(&self.text[start..]);
        let Some(result) = lexer.next() else {
            self.pos = self.text.len();
            return;
        };
        let span = lexer.span();
        let (s, mut e) = (start + span.start, start + span.end);
        if e <= s {
            // Always make progress, by one whole character.
            e = s + self.text[s..].chars().next().map_or(1, char::len_utf8);
        }
        self.pos = e;
        match result {
            Ok(tok) => self.push(tok, s, e),
            Err(err) => {
                let message = err.message(self.text.get(s..e).unwrap_or(""));
                let span = err.span_within(s, e);
                self.errors.push(Diagnostic::error(span, message));
            }
        }
    }

    fn push(&mut self, tok: Tok, s: usize, e: usize) {
        let mut tok = tok;
        self.mode = match (self.mode, &tok) {
            (Mode::Top, Tok::Struct | Tok::Union | Tok::Enum) => Mode::Struct(0),
            (Mode::Top, Tok::Slash) => Mode::Pred,
            (Mode::Top | Mode::Pred, Tok::LBrace) => Mode::Body(1),
            (Mode::Pred, Tok::Slash) => {
                let next = self.skip_trivia(e, false);
                if self.text[next..].starts_with('{') {
                    tok = Tok::PredEnd;
                    Mode::Top
                } else {
                    Mode::Pred
                }
            }
            (Mode::Body(d), Tok::LBrace) => Mode::Body(d.saturating_add(1)),
            (Mode::Body(d), Tok::RBrace) if d <= 1 => Mode::Top,
            (Mode::Body(d), Tok::RBrace) => Mode::Body(d - 1),
            (Mode::Struct(d), Tok::LBrace) => Mode::Struct(d.saturating_add(1)),
            (Mode::Struct(d), Tok::RBrace) if d <= 1 => Mode::Top,
            (Mode::Struct(d), Tok::RBrace) => Mode::Struct(d - 1),
            (Mode::Struct(0), Tok::Semi) => Mode::Top,
            (mode, _) => mode,
        };
        self.out.push((s, tok, e));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(text: &str) -> Vec<Tok> {
        match tokenize(text) {
            Ok(v) => v.into_iter().map(|(_, t, _)| t).collect(),
            Err(e) => panic!("{e:?}"),
        }
    }

    fn attach(s: &str) -> Tok {
        Tok::Attach(s.to_string())
    }

    fn directives(text: &str) -> Vec<String> {
        toks(text)
            .into_iter()
            .filter_map(|t| match t {
                Tok::Directive(d) => Some(d),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn conditionals_keep_the_groups_whose_condition_holds() {
        let text = "#ifndef BPFTRACE_HAVE_BTF\n#include <linux/sched.h>\nstruct x { int y; };\n\
                    #else\n#define A 1\n#endif\n\
                    #if !defined(A) || 0\n#define B 2\n#elif A && defined B\n#define B 3\n\
                    #elif A\n#define B 4\n#else\n#define B 5\n#endif\n\
                    #ifdef NOPE\n#if 1\n#define C 1\n#else\n#define C 2\n#endif\n#endif\n\
                    #undef A\n#if A\n#define D 1\n#endif\nBEGIN { }";
        assert_eq!(directives(text), ["#define A 1", "#define B 4", "#undef A"]);
        assert!(!toks(text).iter().any(|t| matches!(t, Tok::Struct)));
    }

    #[test]
    fn broken_conditionals_are_errors_on_their_line() {
        for (text, msg) in [
            ("#ifdef X\nBEGIN { }", "unterminated conditional directive"),
            (
                "#ifndef X\n#define Y 1\nBEGIN { }",
                "unterminated conditional directive",
            ),
            ("#endif\nBEGIN { }", "#endif without #if"),
            ("#else\nBEGIN { }", "#else without #if"),
            ("#if f(1)\n#endif\nBEGIN { }", "cannot evaluate '#if f(1)'"),
        ] {
            let e = tokenize(text).expect_err(text);
            assert_eq!(e[0].message, msg, "{text}");
            assert_eq!(e[0].span.map(|s| s.start), Some(0), "{text}");
        }
    }

    #[test]
    fn attach_points_are_single_tokens() {
        let t = toks("uprobe:/bin/bash:readline /pid == 1/ { }");
        assert_eq!(t[0], attach("uprobe:/bin/bash:readline"));
        assert_eq!(t[1], Tok::Slash);
        assert_eq!(t[5], Tok::PredEnd);
        let t = toks("kprobe : vfs_read,t:syscalls:sys_enter_*\n{}");
        assert_eq!(t[0], attach("kprobe:vfs_read"));
        assert_eq!(t[2], attach("t:syscalls:sys_enter_*"));
        assert_eq!(toks("BEGIN/1/{}")[0], attach("BEGIN"));
        assert_eq!(
            toks("software:cpu-clock:1000{}")[0],
            attach("software:cpu-clock:1000")
        );
        assert_eq!(
            toks(r#"uprobe:"/a b":f {}"#)[0],
            attach(r#"uprobe:"/a b":f"#)
        );
    }

    #[test]
    fn predicate_division_is_not_its_end() {
        let t = toks("BEGIN / $x / 2 / {}");
        assert_eq!(
            t[1..5],
            [Tok::Slash, Tok::Var("x".into()), Tok::Slash, Tok::Int(2)]
        );
        assert_eq!(t[5], Tok::PredEnd);
    }

    #[test]
    fn structs_directives_and_comments() {
        let t = toks("#include <a.h>\nstruct A { int x; } /* c */ BEGIN { } // end");
        assert_eq!(t[0], Tok::Directive("#include <a.h>".into()));
        assert_eq!(t[1], Tok::Struct);
        assert_eq!(t[8], attach("BEGIN"));
        assert!(tokenize("BEGIN { /* open").is_err());
        assert!(tokenize("BEGIN { \u{1} }").is_err());
    }
}
