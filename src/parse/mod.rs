//! Parsing tokens into the spanned AST with the lalrpop grammar in grammar/; also the AST dump.
