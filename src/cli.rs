//! Command-line flags in, exit code out: the thin layer over the library that src/main.rs calls.
