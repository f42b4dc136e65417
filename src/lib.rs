//! rtrace: a bpftrace-compatible tracer that compiles scripts to eBPF itself.
//!
//! The pipeline, one stage a module, each with its own output type:
//! source text -> `lex` tokens -> `parse` [`ast::Program`] -> `sema` [`sema::Checked`]
//! -> `codegen::lower` [`codegen::ir::Function`] per probe -> `codegen` encoded instructions,
//! gathered by [`compile`] into one [`Object`] -> `runtime::Session` (maps created, relocations
//! applied, programs loaded and attached, events read, maps printed through `output::Output`).
//! `interactive` runs the same pipeline one typed probe at a time (`runtime::Live`).

pub mod ast;
pub mod bpf;
pub mod btf;
pub mod builtins;
pub mod cli;
pub mod cli_docs;
pub mod codegen;
mod compile;
pub mod diag;
pub mod driver;
pub mod emit;
pub mod interactive;
pub mod lex;
pub mod object;
pub mod output;
pub mod parse;
pub mod probes;
pub mod runtime;
pub mod sema;
pub mod source;
pub mod symbols;

pub use compile::{compile, CompileEnv};
pub use object::Object;
