//! Fuzz target: any bytes through parse, check, lowering and compilation of every function;
//! nothing is loaded into the kernel.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rtrace::codegen::{self, lower};
use rtrace::sema;
use rtrace::source::Source;

fuzz_target!(|data: &[u8]| {
    point_at_fixture_tracefs();
    let source = Source::new("fuzz.bt", String::from_utf8_lossy(data).into_owned());
    let Ok(program) = rtrace::parse::parse(&source) else {
        return;
    };
    let env = sema::Env {
        params: vec!["1".into(), "two".into()],
        has_command: true,
        unsafe_actions: true,
    };
    let Ok(checked) = sema::check(&program, &env) else {
        return;
    };
    for func in lower::lower(&checked, lower::Consts::default()) {
        let _ = codegen::compile(&func, &|m| m.0 as i32);
    }
});

/// Tracepoint formats come from the repository's fixture, never from the host's tracefs.
fn point_at_fixture_tracefs() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/tracefs");
        std::env::set_var("RTRACE_TRACEFS", dir);
    });
}
