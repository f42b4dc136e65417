//! The runtime: create maps, load and attach programs, read events, print maps at exit.

pub mod value;
pub mod sys;
