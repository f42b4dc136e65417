//! The lexer: script text -> spanned tokens for the lalrpop grammar in grammar/rtrace.lalrpop.
//!
//! Tokens inside blocks, predicates and struct definitions come from a logos automaton. Between
//! probes the language is context-sensitive (an attach point such as `uprobe:/bin/sh:main` holds
//! `/`, `*` and `:`), so a small mode machine scans attach points and `#` lines by hand and hands
//! each one to the grammar as a single token. That machine is `parse::scan::tokenize`, which
//! drives this automaton: the lexer knows nothing of the parser.

use crate::source::Span;
use logos::Logos;

/// A token. `Attach`, `Directive`, `PredEnd` and `CastOpen` are made by the mode machine and by
/// `parse::tokens`, never by the logos automaton.
#[derive(Logos, Clone, Debug, PartialEq)]
#[logos(error = LexError)]
#[logos(skip r"[ \t\r\n\x0c\x0b]+")]
pub enum Tok {
    /// One attach point as written, e.g. `kprobe:vfs_read`.
    Attach(String),
    /// A whole `#...` line before the probes, e.g. `#include <linux/sched.h>`.
    Directive(String),
    /// The `/` that closes a predicate.
    PredEnd,
    /// A `(` that opens a cast such as `(uint32)` or `(struct task *)`.
    CastOpen,

    #[regex(r"[0-9][0-9A-Za-z_]*", |lex| int_literal(lex.slice()))]
    #[regex(r"'([^'\\\n]|\\[^'\n]{1,3})'", |lex| char_literal(lex.slice()))]
    Int(u64),
    #[token("\"", string_literal)]
    Str(Vec<u8>),
    #[regex(r"[A-Za-z_][A-Za-z0-9_]*", |lex| lex.slice().to_string())]
    Ident(String),
    #[regex(r"\$[A-Za-z_][A-Za-z0-9_]*", |lex| lex.slice()[1..].to_string())]
    Var(String),
    #[regex(r"\$[0-9]+", |lex| lex.slice()[1..].parse::<u32>().map_err(|_| LexError::BadParam))]
    PosParam(u32),
    #[token("$#")]
    PosCount,
    #[regex(r"@[A-Za-z_][A-Za-z0-9_]*", |lex| lex.slice()[1..].to_string())]
    #[token("@", |_| String::new())]
    Map(String),

    #[token("if")]
    If,
    #[token("else")]
    Else,
    #[token("unroll")]
    Unroll,
    #[token("while")]
    While,
    #[token("break")]
    Break,
    #[token("continue")]
    Continue,
    #[token("return")]
    Return,
    #[token("struct")]
    Struct,
    #[token("union")]
    Union,
    #[token("enum")]
    Enum,

    #[token("{")]
    LBrace,
    #[token("}")]
    RBrace,
    #[token("(")]
    LParen,
    #[token(")")]
    RParen,
    #[token("[")]
    LBracket,
    #[token("]")]
    RBracket,
    #[token(";")]
    Semi,
    #[token(",")]
    Comma,
    #[token(":")]
    Colon,
    #[token("?")]
    Question,
    #[token(".")]
    Dot,
    #[token("->")]
    Arrow,
    #[token("+")]
    Plus,
    #[token("-")]
    Minus,
    #[token("*")]
    Star,
    #[token("/")]
    Slash,
    #[token("%")]
    Percent,
    #[token("&")]
    Amp,
    #[token("|")]
    Pipe,
    #[token("^")]
    Caret,
    #[token("!")]
    Bang,
    #[token("~")]
    Tilde,
    #[token("<")]
    Lt,
    #[token(">")]
    Gt,
    #[token("<=")]
    Le,
    #[token(">=")]
    Ge,
    #[token("==")]
    EqEq,
    #[token("!=")]
    Ne,
    #[token("&&")]
    AndAnd,
    #[token("||")]
    OrOr,
    #[token("<<")]
    Shl,
    #[token(">>")]
    Shr,
    #[token("=")]
    Assign,
    #[token("+=")]
    AddAssign,
    #[token("-=")]
    SubAssign,
    #[token("*=")]
    MulAssign,
    #[token("/=")]
    DivAssign,
    #[token("%=")]
    ModAssign,
    #[token("&=")]
    AndAssign,
    #[token("|=")]
    OrAssign,
    #[token("^=")]
    XorAssign,
    #[token("<<=")]
    ShlAssign,
    #[token(">>=")]
    ShrAssign,
    #[token("++")]
    PlusPlus,
    #[token("--")]
    MinusMinus,
}

/// Why a piece of text is not a token. Each variant names a script that triggers it.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum LexError {
    /// `BEGIN { $x = 1 ` followed by a byte such as `\x01`, or a stray `` ` ``.
    #[default]
    InvalidChar,
    /// `BEGIN { printf("hi); }`
    UnterminatedString,
    /// `BEGIN { printf("\q"); }`; `at` is the escape's byte offset from the opening quote.
    InvalidEscape { text: String, at: usize },
    /// `BEGIN { printf("\777"); }`
    OctalOutOfRange { text: String, at: usize },
    /// `BEGIN { $x = 09; }`, `BEGIN { $x = 10ms; }`
    InvalidInt,
    /// `BEGIN { $x = 99999999999999999999; }`
    IntTooLarge,
    /// `BEGIN { $x = $99999999999; }`
    BadParam,
}

impl LexError {
    pub fn message(&self, text: &str) -> String {
        match self {
            LexError::InvalidChar => match text.chars().next() {
                Some(c) if c.is_ascii_graphic() || c == ' ' => format!("invalid character '{c}'"),
                Some(c) => format!("invalid character {:?}", c),
                None => "invalid character".to_string(),
            },
            LexError::UnterminatedString => "unterminated string".to_string(),
            LexError::InvalidEscape { text, .. } => format!("invalid escape '{text}' in string"),
            LexError::OctalOutOfRange { text, .. } => format!("octal escape '{text}' out of range"),
            LexError::InvalidInt => "invalid integer literal".to_string(),
            LexError::IntTooLarge => "integer literal too large".to_string(),
            LexError::BadParam => "positional parameter number too large".to_string(),
        }
    }
}

impl LexError {
    /// Places an escape error at `at` bytes from the opening quote.
    fn at(self, at: usize) -> LexError {
        match self {
            LexError::InvalidEscape { text, .. } => LexError::InvalidEscape { text, at },
            LexError::OctalOutOfRange { text, .. } => LexError::OctalOutOfRange { text, at },
            other => other,
        }
    }

    /// The part of the token `start..end` the error is about.
    pub fn span_within(&self, start: usize, end: usize) -> Span {
        match self {
            LexError::InvalidEscape { text, at } | LexError::OctalOutOfRange { text, at } => {
                let s = (start + at).min(end);
                Span::new(s, (s + text.len()).min(end))
            }
            _ => Span::new(start, end),
        }
    }
}

/// `'a'`, `'\n'`, `'\x41'`: the character's byte value, escapes as in strings.
fn char_literal(text: &str) -> Result<u64, LexError> {
    let inner = &text.as_bytes()[1..text.len() - 1];
    let mut quoted = inner.to_vec();
    quoted.push(b'"');
    match decode_string(&quoted) {
        (_, Ok(bytes)) if bytes.len() == 1 => Ok(u64::from(bytes[0])),
        (_, Err(e)) => Err(e),
        _ => Err(LexError::InvalidChar),
    }
}

/// Decimal (`1_000`, `1e3`), octal (`017`) or hex (`0x1f`) text -> value; a C suffix (`u`,
/// `l`, `ul`, `ll`, `ull`) is accepted and leaves the value as it is.
fn int_literal(text: &str) -> Result<u64, LexError> {
    let lower = text.to_ascii_lowercase();
    let lower = ["ull", "llu", "ul", "lu", "ll", "u", "l"]
        .iter()
        .find_map(|sfx| lower.strip_suffix(sfx))
        .filter(|rest| !rest.is_empty())
        .map_or(lower.clone(), str::to_string);
    if let Some(hex) = lower.strip_prefix("0x") {
        if hex.is_empty() || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(LexError::InvalidInt);
        }
        return u64::from_str_radix(hex, 16).map_err(|_| LexError::IntTooLarge);
    }
    let (mantissa, exponent) = match lower.split_once('e') {
        Some((m, e)) => (m, Some(e)),
        None => (lower.as_str(), None),
    };
    let digits_ok = |s: &str| {
        !s.is_empty() && !s.ends_with('_') && s.bytes().all(|b| b.is_ascii_digit() || b == b'_')
    };
    if !digits_ok(mantissa) || exponent.is_some_and(|e| !digits_ok(e)) {
        return Err(LexError::InvalidInt);
    }
    let mantissa: String = mantissa.chars().filter(|&c| c != '_').collect();
    let mut value = if mantissa.len() > 1 && mantissa.starts_with('0') && exponent.is_none() {
        if !mantissa.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
            return Err(LexError::InvalidInt);
        }
        u64::from_str_radix(&mantissa[1..], 8).map_err(|_| LexError::IntTooLarge)?
    } else {
        mantissa.parse::<u64>().map_err(|_| LexError::IntTooLarge)?
    };
    if let Some(e) = exponent {
        let e: String = e.chars().filter(|&c| c != '_').collect();
        let e: u32 = e.parse().map_err(|_| LexError::IntTooLarge)?;
        let scale = 10u64.checked_pow(e).ok_or(LexError::IntTooLarge)?;
        value = value.checked_mul(scale).ok_or(LexError::IntTooLarge)?;
    }
    Ok(value)
}

/// Called after the opening `"`: decodes escapes up to the closing `"` on the same line.
fn string_literal(lex: &mut logos::Lexer<Tok>) -> Result<Vec<u8>, LexError> {
    let (len, result) = decode_string(lex.remainder().as_bytes());
    lex.bump(len);
    result
}

/// Decodes the body of a string literal; returns the bytes consumed (closing quote included)
/// and the decoded bytes or the first error. Always stops on an ASCII byte or at the end.
pub fn decode_string(bytes: &[u8]) -> (usize, Result<Vec<u8>, LexError>) {
    let mut out = Vec::new();
    let mut err = None;
    let mut i = 0;
    loop {
        match bytes.get(i) {
            None | Some(b'\n') => return (i, Err(LexError::UnterminatedString)),
            Some(b'"') => return (i + 1, err.map_or(Ok(out), Err)),
            Some(b'\\') => {
                let (used, decoded) = decode_escape(&bytes[i + 1..]);
                match decoded {
                    Ok(b) => out.push(b),
                    Err(e) => {
                        err.get_or_insert(e.at(i + 1));
                    }
                }
                i += 1 + used;
            }
            Some(&b) => {
                out.push(b);
                i += 1;
            }
        }
    }
}

/// Decodes one escape after its `\`; returns the bytes used (never splitting a character).
fn decode_escape(rest: &[u8]) -> (usize, Result<u8, LexError>) {
    let simple = match rest.first() {
        Some(b'n') => Some(b'\n'),
        Some(b't') => Some(b'\t'),
        Some(b'r') => Some(b'\r'),
        Some(b'"') => Some(b'"'),
        Some(b'\\') => Some(b'\\'),
        _ => None,
    };
    if let Some(b) = simple {
        return (1, Ok(b));
    }
    let text = |n: usize| format!("\\{}", String::from_utf8_lossy(&rest[..n]));
    let bad = |text: String| LexError::InvalidEscape { text, at: 0 };
    match rest.first() {
        Some(b'0'..=b'7') => {
            let n = rest
                .iter()
                .take(3)
                .take_while(|b| (b'0'..=b'7').contains(b))
                .count();
            let value = rest[..n]
                .iter()
                .fold(0u32, |v, b| v * 8 + u32::from(b - b'0'));
            match u8::try_from(value) {
                Ok(v) => (n, Ok(v)),
                Err(_) => (
                    n,
                    Err(LexError::OctalOutOfRange {
                        text: text(n),
                        at: 0,
                    }),
                ),
            }
        }
        Some(b'x') => {
            let n = rest[1..]
                .iter()
                .take(2)
                .take_while(|b| b.is_ascii_hexdigit())
                .count();
            let digits = std::str::from_utf8(&rest[1..1 + n]).unwrap_or("");
            match u8::from_str_radix(digits, 16) {
                Ok(v) => (1 + n, Ok(v)),
                Err(_) => (1, Err(bad(text(1)))),
            }
        }
        // Newline and end of input are left for the caller to report as unterminated.
        None | Some(b'\n') => (0, Err(bad("\\".to_string()))),
        Some(&b) if b.is_ascii() => (1, Err(bad(text(1)))),
        Some(_) => (0, Err(bad("\\".to_string()))),
    }
}

/// A spanned token: (start byte, token, end byte), the triple lalrpop expects.
pub type Spanned = (usize, Tok, usize);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers() {
        assert_eq!(int_literal("1_000"), Ok(1000));
        assert_eq!(int_literal("0x1F"), Ok(31));
        assert_eq!(int_literal("10u"), Ok(10));
        assert_eq!(int_literal("10ULL"), Ok(10));
        assert_eq!(int_literal("0x10l"), Ok(16));
        assert_eq!(char_literal("'a'"), Ok(97));
        assert_eq!(char_literal("'\\n'"), Ok(10));
        assert_eq!(char_literal("'\\x41'"), Ok(65));
        assert_eq!(int_literal("010"), Ok(8));
        assert_eq!(int_literal("1e3"), Ok(1000));
        assert_eq!(int_literal("0"), Ok(0));
        assert_eq!(int_literal("09"), Err(LexError::InvalidInt));
        assert_eq!(int_literal("1_"), Err(LexError::InvalidInt));
        assert_eq!(int_literal("10ms"), Err(LexError::InvalidInt));
        assert_eq!(int_literal("1e20"), Err(LexError::IntTooLarge));
        assert_eq!(
            int_literal("18446744073709551616"),
            Err(LexError::IntTooLarge)
        );
        assert_eq!(int_literal("0xFFFFFFFFFFFFFFFF"), Ok(u64::MAX));
    }

    #[test]
    fn strings() {
        assert_eq!(
            decode_string(br#"a\n\x41\101\0"x"#),
            (14, Ok(b"a\nAA\0".to_vec()))
        );
        assert_eq!(decode_string(b"abc").1, Err(LexError::UnterminatedString));
        assert_eq!(
            decode_string(br#"\q""#).1,
            Err(LexError::InvalidEscape {
                text: "\\q".into(),
                at: 1
            })
        );
        assert!(matches!(
            decode_string(br#"a\777""#).1,
            Err(LexError::OctalOutOfRange { at: 2, .. })
        ));
        assert_eq!(decode_string("\\é\"".as_bytes()).0, 4);
    }
}
