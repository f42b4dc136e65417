//! Builtin variables and functions: one entry per builtin with its type rule; used by sema and codegen::lower.
