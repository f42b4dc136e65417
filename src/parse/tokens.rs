//! Refines the scanner's tokens before the grammar sees them: marks the `(` that opens a cast
//! and rejects bracket nesting deep enough to threaten later recursive passes.
//!
//! `(uint32)$x` and `(pid)` differ only after the `)`, which an LR(1) grammar cannot see, so the
//! decision is made here by looking ahead, as C compilers do for typedef names.

use crate::diag::Diagnostic;
use crate::lex::{Spanned, Tok};
use crate::source::Span;

/// Deepest nesting of brackets and of expression nodes the parser accepts.
pub const MAX_DEPTH: u32 = 1000;

/// Marks cast parentheses and checks nesting depth.
pub fn refine(tokens: &mut [Spanned]) -> Result<(), Diagnostic> {
    check_nesting(tokens)?;
    for i in 0..tokens.len() {
        if tokens[i].1 == Tok::LParen && opens_cast(tokens, i) {
            tokens[i].1 = Tok::CastOpen;
        }
    }
    Ok(())
}

/// Brackets nest; so does each `else if`, whose `if` becomes a block inside the `else`. An
/// `else if` chain counts until the bracket around it closes. Each kind has its own limit.
fn check_nesting(tokens: &[Spanned]) -> Result<(), Diagnostic> {
    let mut depth = 0u32;
    let mut chain_depth = 0u32;
    // For each open bracket, the `else if` levels added inside it.
    let mut chains: Vec<u32> = vec![0];
    for (k, (s, tok, e)) in tokens.iter().enumerate() {
        let (level, what) = match tok {
            Tok::LParen | Tok::LBracket | Tok::LBrace => {
                chains.push(0);
                depth += 1;
                if *tok == Tok::LBrace {
                    (depth, "blocks nested too deeply")
                } else {
                    (depth, "expression nested too deeply")
                }
            }
            Tok::Else if tokens.get(k + 1).map(|t| &t.1) == Some(&Tok::If) => {
                if let Some(c) = chains.last_mut() {
                    *c += 1;
                }
                chain_depth += 1;
                (chain_depth, "'else if' chain too long")
            }
            Tok::RParen | Tok::RBracket | Tok::RBrace => {
                if chains.len() > 1 {
                    depth -= 1;
                    chain_depth -= chains.pop().unwrap_or(0);
                }
                continue;
            }
            _ => continue,
        };
        if level > MAX_DEPTH {
            return Err(Diagnostic::error(Span::new(*s, *e), what)
                .with_note(format!("the limit is {MAX_DEPTH} levels")));
        }
    }
    Ok(())
}

/// Does the `(` at `i` open a cast? `(struct ...`, `(name *...)` always do; `(name)` does when
/// an operand follows, and for a well-known type name also when `-`, `*`, `&`, `++` or `--`
/// follows (`(uint64)-1` is a cast, `(pid) - 1` a subtraction).
fn opens_cast(tokens: &[Spanned], i: usize) -> bool {
    let tok = |k: usize| tokens.get(k).map(|t| &t.1);
    match tok(i + 1) {
        Some(Tok::Struct | Tok::Union | Tok::Enum) => true,
        Some(Tok::Ident(name)) => {
            let mut j = i + 2;
            while tok(j) == Some(&Tok::Star) {
                j += 1;
            }
            if tok(j) != Some(&Tok::RParen) {
                return false;
            }
            if j > i + 2 {
                return true;
            }
            let next = tok(j + 1);
            starts_operand(next) || (is_type_name(name) && starts_signed_operand(next))
        }
        _ => false,
    }
}

/// Tokens that can begin an operand but never continue an expression after `)`.
fn starts_operand(tok: Option<&Tok>) -> bool {
    matches!(
        tok,
        Some(
            Tok::Int(_)
                | Tok::Str(_)
                | Tok::Ident(_)
                | Tok::Var(_)
                | Tok::PosParam(_)
                | Tok::PosCount
                | Tok::Map(_)
                | Tok::LParen
                | Tok::Bang
                | Tok::Tilde
        )
    )
}

/// Tokens that begin an operand as a prefix but are also binary or postfix operators.
fn starts_signed_operand(tok: Option<&Tok>) -> bool {
    matches!(
        tok,
        Some(Tok::Minus | Tok::Star | Tok::Amp | Tok::PlusPlus | Tok::MinusMinus)
    )
}

/// Integer and C type names that are casts even before a `-` or `*`.
fn is_type_name(name: &str) -> bool {
    let fixed = [
        "bool", "char", "short", "int", "long", "void", "signed", "unsigned", "int8", "int16",
        "int32", "int64", "uint8", "uint16", "uint32", "uint64", "u8", "u16", "u32", "u64", "s8",
        "s16", "s32", "s64",
    ];
    fixed.contains(&name) || name.ends_with("_t")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::scan::tokenize;

    fn casts(text: &str) -> usize {
        let mut t = tokenize(text).unwrap_or_default();
        let _ = refine(&mut t);
        t.iter().filter(|t| t.1 == Tok::CastOpen).count()
    }

    #[test]
    fn cast_or_parenthesis() {
        assert_eq!(casts("BEGIN { $x = (uint32)1; }"), 1);
        assert_eq!(casts("BEGIN { $x = (uint64)-1; }"), 1);
        assert_eq!(casts("BEGIN { $x = (pid) - 1; }"), 0);
        assert_eq!(casts("BEGIN { $x = (struct task_struct *)curtask; }"), 1);
        assert_eq!(casts("BEGIN { $x = (foo **)$p; }"), 1);
        assert_eq!(casts("BEGIN { $x = (a * b); if (pid) { } }"), 0);
        assert_eq!(casts("BEGIN { $x = (pid_t)$y; $z = (int8)*$p; }"), 2);
    }

    #[test]
    fn deep_nesting_is_an_error() {
        let text = format!(
            "BEGIN {{ $x = {}1{}; }}",
            "(".repeat(5000),
            ")".repeat(5000)
        );
        let mut t = tokenize(&text).unwrap_or_default();
        let err = refine(&mut t).err().map(|d| d.message);
        assert_eq!(err.as_deref(), Some("expression nested too deeply"));
    }
}
