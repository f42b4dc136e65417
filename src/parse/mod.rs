//! Parsing: tokens from `crate::lex` -> the spanned AST of `crate::ast`, with the lalrpop
//! grammar in grammar/rtrace.lalrpop; also the `--dump ast` tree printer.
//!
//! Architecture invariant: every input, however malformed or deep, yields either a Program or
//! diagnostics with spans; nothing here panics, and no AST deeper than `tokens::MAX_DEPTH`
//! expression levels is ever built.

pub mod build;
mod dump;
mod error;
pub(crate) mod scan;
pub mod tokens;

lalrpop_util::lalrpop_mod!(
    #[allow(clippy::all, clippy::pedantic, unused)]
    grammar,
    "/rtrace.rs"
);

use crate::ast::Program;
use crate::diag::Diagnostic;
use crate::source::Source;

/// Parses a whole script.
pub fn parse(src: &Source) -> Result<Program, Vec<Diagnostic>> {
    let mut tokens = scan::tokenize(&src.text)?;
    tokens::refine(&mut tokens).map_err(|d| vec![d])?;
    grammar::ProgramParser::new()
        .parse(tokens.into_iter().map(Ok))
        .map_err(|e| vec![error::convert(e, src.text.len())])
}

/// The AST as an indented tree, one node per line with its span; used by `--dump ast`.
pub fn dump(prog: &Program, src: &Source) -> String {
    dump::dump(prog, src)
}

#[cfg(test)]
mod tests;
