//! rtrace: a bpftrace-compatible tracer that compiles scripts to eBPF itself.
//!
//! The pipeline, one stage a module, each with its own output type:
//! source text -> `lex` tokens -> `parse` [`ast::Program`] -> `sema` [`sema::Checked`]
//! -> `codegen::lower` [`codegen::ir::Function`] per probe -> `codegen` encoded instructions,
//! gathered by [`compile`] into one [`Object`] -> `runtime::Session` (maps created, relocations
//! applied, programs loaded and attached, events read, maps printed through `output::Output`).
//! `interactive` runs the same pipeline one typed probe at a time (`runtime::Live`).
//!
//! As a library, rtrace compiles and runs a script from Rust, as BCC's `BPF(text=...)` does
//! from Python: [`compile`] a [`source::Source`], start a [`runtime::Session`] (BEGIN has run
//! when `start` returns), read its maps as values with `maps()` while the probes run, and
//! `run()` it to the end, its events written to any `Write` (as root):
//!
//! ```
//! use rtrace::output::value::{MapValue, Value};
//! use rtrace::runtime::{RunConfig, Session};
//! use rtrace::{compile, source::Source, CompileEnv};
//! use std::sync::{Arc, Mutex};
//!
//! # if !rtrace::bpf::sys::has_bpf_privileges() { return; }
//! let script = Source::new("example.bt", r#"
//!     BEGIN { @answer = 6 * 7; @hits["begin"] = count(); printf("started\n"); exit(); }
//! "#);
//! let object = compile(&script, &CompileEnv::default()).expect("the script compiles");
//!
//! // Events (printf, print, maps at exit) go to any writer; here, a shared buffer.
//! #[derive(Clone, Default)]
//! struct Buf(Arc<Mutex<Vec<u8>>>);
//! impl std::io::Write for Buf {
//!     fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
//!         self.0.lock().unwrap().extend_from_slice(b);
//!         Ok(b.len())
//!     }
//!     fn flush(&mut self) -> std::io::Result<()> { Ok(()) }
//! }
//! let out = Buf::default();
//! let mut session = Session::start(&object, RunConfig::to(Box::new(out.clone())))
//!     .map_err(|e| format!("{e:?}")).expect("loaded and attached");
//!
//! // Maps as values, read while the session runs.
//! let maps = session.maps().expect("maps read");
//! let answer = maps.iter().find(|m| m.name == "@answer").expect("@answer");
//! assert_eq!(answer.entries, [(None, MapValue::Scalar(Value::Int(42)))]);
//! let hits = maps.iter().find(|m| m.name == "@hits").expect("@hits");
//! assert_eq!(hits.entries[0].0, Some(Value::Str(b"begin".to_vec())));
//!
//! // exit() was called: run() reads the events, runs END and prints the maps.
//! assert_eq!(session.run().map_err(|e| format!("{e:?}")), Ok(0));
//! let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
//! assert!(text.starts_with("Attaching 1 probe...\nstarted\n"), "{text}");
//! assert!(text.ends_with("\n@answer: 42\n@hits[begin]: 1\n"), "{text}");
//! ```

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
