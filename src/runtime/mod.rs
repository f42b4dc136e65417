//! The runtime: create maps, load and attach programs, read events, print maps at exit.

pub mod attach;
pub mod elf;
pub mod load;
pub mod maps;
pub mod ringbuf;
pub mod sys;
pub mod json;
pub mod print;
pub mod printf;
pub mod value;
pub mod child;
pub mod decode;
pub mod run;
pub mod signals;
