//! The runtime: create maps, load and attach programs, read events, print maps at exit.

pub mod child;
pub mod decode;
pub mod elf;
pub mod load;
pub mod run;
pub mod signals;
