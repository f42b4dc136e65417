//! The runtime: one session runs a compiled `Object` (maps created, relocations applied,
//! programs loaded and attached, events read, maps printed at exit). Fed by `compile`; its
//! only public surface is `Session` and its `RunConfig`/`RunError`.

mod child;
mod decode;
mod elf;
mod load;
#[cfg(test)]
mod load_tests;
mod metrics;
mod relocate;
mod resolve;
mod run;
mod signals;

pub use run::{RunConfig, RunError, Session};
