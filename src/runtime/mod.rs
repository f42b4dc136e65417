//! The runtime: create maps, load and attach programs, read events, print maps at exit.

pub mod attach;
pub mod child;
pub mod decode;
pub mod elf;
pub mod json;
pub mod load;
pub mod maps;
pub mod print;
pub mod printf;
pub mod ringbuf;
pub mod run;
pub mod signals;
pub mod sys;
pub mod value;
