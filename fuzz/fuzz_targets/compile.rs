//! Fuzz target: any bytes through `rtrace::compile` (parse, check, lowering and encoding of
//! every function, relocations recorded); nothing is loaded into the kernel.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rtrace::source::Source;
use rtrace::CompileEnv;

fuzz_target!(|data: &[u8]| {
    point_at_fixture_tracefs();
    let source = Source::new("fuzz.bt", String::from_utf8_lossy(data).into_owned());
    let env = CompileEnv {
        params: vec!["1".into(), "two".into()],
        has_command: true,
        unsafe_actions: true,
        ..CompileEnv::default()
    };
    if let Ok(object) = rtrace::compile(&source, &env) {
        // Every relocation names the first slot of an ld_imm64 inside its program.
        for p in &object.programs {
            for r in &p.code.relocations {
                assert_eq!(p.code.insns.get(r.insn).map(|i| i[0]), Some(0x18));
                assert!(r.insn + 1 < p.code.insns.len());
            }
        }
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
