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

    /// A `#` line before the probes: `#include <linux/sched.h>`, `#define X 1`, ...
    fn directive(&mut self) {
        let start = self.pos;
        let end = self.text[start..]
            .find('\n')
            .map_or(self.text.len(), |n| start + n);
        let line = self.text[start..end].trim_end().to_string();
        self.pos = end;
        self.out
            .push((start, Tok::Directive(line.clone()), start + line.len()));
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
