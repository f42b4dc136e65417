//! Fuzz target: any bytes through parsing and the semantic check, with the fixture tracefs.
#![no_main]

use libfuzzer_sys::fuzz_target;
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
        ..sema::Env::default()
    };
    let _ = sema::check(&program, &env);
});

/// Tracepoint formats come from the repository's fixture, never from the host's tracefs.
fn point_at_fixture_tracefs() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/tracefs");
        std::env::set_var("RTRACE_TRACEFS", dir);
    });
}
