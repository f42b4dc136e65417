//! The runtime: one session runs a compiled `Object` (maps created, relocations applied,
//! programs loaded and attached, events read, maps printed at exit). Fed by `compile`; its
//! public surface is `Session` and its `RunConfig`/`RunError`, and for the interactive session
//! `Live` (a run that probes are added to and detached from while it runs).

mod child;
mod decode;
pub(crate) mod elf;
mod live;
mod load;
#[cfg(test)]
mod load_tests;
mod metrics;
mod relocate;
mod resolve;
mod run;
mod signals;
mod watch;

pub use live::{same_type, Live, LiveConfig, ProbeId};
pub use run::{RunConfig, RunError, Session};
