//! Turns lalrpop's parse errors (from the grammar) into one plain Diagnostic each: what was
//! unexpected, and the single most helpful expectation instead of the whole expected set.

use crate::diag::Diagnostic;
use crate::lex::Tok;
use crate::source::Span;
use lalrpop_util::ParseError;

pub fn convert(err: ParseError<usize, Tok, Diagnostic>, text_len: usize) -> Diagnostic {
    match err {
        ParseError::InvalidToken { location } => {
            Diagnostic::error(Span::new(location, location), "invalid token")
        }
        ParseError::UnrecognizedEof { location, expected } => {
            let at = location.min(text_len);
            let d = Diagnostic::error(Span::new(at, at), "unexpected end of input");
            match expectation(&expected, true) {
                Some(e) => d.with_label(e),
                None => d,
            }
        }
        ParseError::UnrecognizedToken {
            token: (l, tok, r),
            expected,
        } => {
            let d = Diagnostic::error(Span::new(l, r), format!("unexpected {}", describe(&tok)));
            match expectation(&expected, false) {
                Some(e) => d.with_label(e),
                None => d,
            }
        }
        ParseError::ExtraToken { token: (l, tok, r) } => {
            Diagnostic::error(Span::new(l, r), format!("unexpected {}", describe(&tok)))
        }
        ParseError::User { error } => error,
    }
}

/// How a token is named in a message: `'}'`, `identifier 'foo'`, `string literal`, ...
pub fn describe(tok: &Tok) -> String {
    match tok {
        Tok::Attach(raw) => format!("'{raw}'"),
        Tok::Directive(line) => format!("'{line}' after the first probe"),
        Tok::PredEnd => "'/'".to_string(),
        Tok::CastOpen => "'('".to_string(),
        Tok::Int(n) => format!("integer {n}"),
        Tok::Str(_) => "string literal".to_string(),
        Tok::Ident(name) => format!("identifier '{name}'"),
        Tok::Var(name) => format!("variable '${name}'"),
        Tok::PosParam(n) => format!("'${n}'"),
        Tok::Map(name) => format!("map '@{name}'"),
        other => format!("'{}'", symbol(other)),
    }
}

fn symbol(tok: &Tok) -> &'static str {
    match tok {
        Tok::PosCount => "$#",
        Tok::If => "if",
        Tok::Else => "else",
        Tok::Unroll => "unroll",
        Tok::While => "while",
        Tok::Break => "break",
        Tok::Continue => "continue",
        Tok::Return => "return",
        Tok::Struct => "struct",
        Tok::Union => "union",
        Tok::Enum => "enum",
        Tok::LBrace => "{",
        Tok::RBrace => "}",
        Tok::LParen => "(",
        Tok::RParen => ")",
        Tok::LBracket => "[",
        Tok::RBracket => "]",
        Tok::Semi => ";",
        Tok::Comma => ",",
        Tok::Colon => ":",
        Tok::Question => "?",
        Tok::Dot => ".",
        Tok::Arrow => "->",
        Tok::Plus => "+",
        Tok::Minus => "-",
        Tok::Star => "*",
        Tok::Slash => "/",
        Tok::Percent => "%",
        Tok::Amp => "&",
        Tok::Pipe => "|",
        Tok::Caret => "^",
        Tok::Bang => "!",
        Tok::Tilde => "~",
        Tok::Lt => "<",
        Tok::Gt => ">",
        Tok::Le => "<=",
        Tok::Ge => ">=",
        Tok::EqEq => "==",
        Tok::Ne => "!=",
        Tok::AndAnd => "&&",
        Tok::OrOr => "||",
        Tok::Shl => "<<",
        Tok::Shr => ">>",
        Tok::Assign => "=",
        Tok::AddAssign => "+=",
        Tok::SubAssign => "-=",
        Tok::MulAssign => "*=",
        Tok::DivAssign => "/=",
        Tok::ModAssign => "%=",
        Tok::AndAssign => "&=",
        Tok::OrAssign => "|=",
        Tok::XorAssign => "^=",
        Tok::ShlAssign => "<<=",
        Tok::ShrAssign => ">>=",
        Tok::PlusPlus => "++",
        Tok::MinusMinus => "--",
        _ => "token",
    }
}

/// The one expectation worth showing, chosen from lalrpop's list of terminal names.
fn expectation(expected: &[String], at_eof: bool) -> Option<String> {
    let has = |t: &str| expected.iter().any(|e| e.trim_matches('"') == t);
    let missing = |t: &str| {
        if at_eof {
            format!("missing '{t}'")
        } else {
            format!("expected '{t}'")
        }
    };
    let text = if at_eof && has(")") {
        missing(")")
    } else if at_eof && has("}") && !has("]") {
        missing("}")
    } else if has(";") && has("}") {
        "expected ';' or '}' after a statement".to_string()
    } else if has("end of predicate") {
        "expected '/' to end the predicate".to_string()
    } else if has(")") {
        missing(")")
    } else if has("]") {
        missing("]")
    } else if has("int") && has("var") {
        "expected an expression".to_string()
    } else if has("{") && has(",") && has("/") {
        "expected '{', ',' or a predicate".to_string()
    } else if has("attach") {
        "expected a probe".to_string()
    } else if has("{") {
        missing("{")
    } else if has("}") {
        missing("}")
    } else if has(";") {
        missing(";")
    } else if has("ident") {
        "expected a name".to_string()
    } else {
        return expected.first().map(|e| match e.strip_prefix('"') {
            Some(t) => format!("expected '{}'", t.trim_end_matches('"')),
            None => format!("expected {e}"),
        });
    };
    Some(text)
}
