//! Fuzz target: any bytes, read as lossy UTF-8 like a script file, through the lexer and parser.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rtrace::source::Source;

fuzz_target!(|data: &[u8]| {
    let source = Source::new("fuzz.bt", String::from_utf8_lossy(data).into_owned());
    let _ = rtrace::parse::parse(&source);
});
