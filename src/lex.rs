//! The logos lexer: script text -> spanned tokens for the lalrpop grammar.
