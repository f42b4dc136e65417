//! Kernel tests of the runtime's one entry (run as root): scripts compiled with
//! `rtrace::compile` and run in-process by `runtime::Session`, checking what relocation,
//! loading, attaching and the output interface do together, and that nothing is left behind.
//! The loader's own tests (hand-encoded programs on every probe type) are unit tests in
//! src/runtime/load_tests.rs.

mod common;

use common::kernel_test;
use rtrace::output::OutputFormat;
use rtrace::runtime::{RunConfig, RunError, Session};
use rtrace::source::{Source, Span};
use rtrace::{compile, CompileEnv, Object};
use std::io::Write;
use std::sync::{Arc, Mutex};

/// A writer whose bytes the test reads back after the run.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
    }
}

fn object(text: &str, env: &CompileEnv) -> Object {
    compile(&Source::new("t.bt", text), env).unwrap_or_else(|d| panic!("{d:?}"))
}

fn config(format: OutputFormat, command: Option<&str>, out: &Captured) -> RunConfig {
    RunConfig {
        format,
        command: command.map(str::to_string),
        ..RunConfig::to(Box::new(out.clone()))
    }
}

/// Runs `obj` to its end; the output, or the error.
fn run(obj: &Object, format: OutputFormat, command: Option<&str>) -> Result<String, RunError> {
    let out = Captured::default();
    let code = Session::start(obj, config(format, command, &out))?.run()?;
    assert_eq!(code, 0);
    Ok(out.text())
}

fn ok(r: Result<String, RunError>) -> String {
    r.unwrap_or_else(|e| panic!("{e:?}"))
}

#[test]
fn begin_and_end_print_through_the_text_output() {
    kernel_test(|| {
        let obj = object(
            "BEGIN { printf(\"hi %d\\n\", 42); @c = count(); @s[7] = sum(5); exit(); } \
             END { printf(\"end\\n\"); }",
            &CompileEnv::default(),
        );
        assert_eq!(
            ok(run(&obj, OutputFormat::Text, None)),
            "Attaching 2 probes...\nhi 42\nend\n\n\n@c: 1\n@s[7]: 5\n"
        );
    });
}

#[test]
fn the_same_object_prints_json() {
    kernel_test(|| {
        let obj = object(
            "BEGIN { printf(\"hi\\n\"); @x = 3; exit(); }",
            &CompileEnv::default(),
        );
        assert_eq!(
            ok(run(&obj, OutputFormat::Json, None)),
            "{\"type\": \"attached_probes\", \"data\": {\"probes\": 1}}\n\
             {\"type\": \"printf\", \"data\": \"hi\\n\"}\n\n\n\
             {\"type\": \"map\", \"data\": {\"@x\": 3}}\n"
        );
    });
}

#[test]
fn elapsed_counts_from_the_start_of_the_run() {
    kernel_test(|| {
        // Unpatched, the start would be 0 and elapsed the machine's uptime.
        let obj = object(
            "BEGIN { printf(\"%d\\n\", elapsed < 5000000000); exit(); }",
            &CompileEnv::default(),
        );
        assert_eq!(
            ok(run(&obj, OutputFormat::Text, None)),
            "Attaching 1 probe...\n1\n\n\n"
        );
    });
}

#[test]
fn cpid_is_the_command_forked_after_compiling() {
    kernel_test(|| {
        let env = CompileEnv {
            has_command: true,
            ..CompileEnv::default()
        };
        let obj = object(
            "tracepoint:syscalls:sys_enter_exit_group /pid == cpid/ \
             { printf(\"%d %d\\n\", cpid, pid); }",
            &env,
        );
        let text = ok(run(&obj, OutputFormat::Text, Some("true")));
        let line = text
            .lines()
            .nth(1)
            .unwrap_or_else(|| panic!("no event:\n{text}"));
        let (cpid, pid) = line.split_once(' ').unwrap_or_else(|| panic!("{text}"));
        assert_eq!(cpid, pid, "{text}");
        assert!(cpid.parse::<u32>().is_ok_and(|p| p > 0), "{text}");
    });
}

#[test]
fn verifier_rejection_points_at_the_instruction_source() {
    kernel_test(|| {
        let mut obj = object("BEGIN { exit(); }", &CompileEnv::default());
        // `r0 = r5; exit`: r5 is read before it is written (R5 !read_ok).
        let p = &mut obj.programs[0];
        p.code.insns = vec![[0xbf, 0x50, 0, 0, 0, 0, 0, 0], [0x95, 0, 0, 0, 0, 0, 0, 0]];
        p.code.spans = vec![Span::new(0, 5), Span::new(8, 15)];
        p.code.relocations.clear();
        match run(&obj, OutputFormat::Text, None) {
            Err(RunError::Diag(d)) => {
                assert_eq!(d.span, Some(Span::new(0, 5)), "{d:?}");
                assert!(d.message.contains("verifier"), "{d:?}");
            }
            other => panic!("{other:?}"),
        }
    });
}

#[test]
fn failed_attach_points_at_the_probe_and_leaves_nothing() {
    kernel_test(|| {
        let text = "BEGIN { } tracepoint:syscalls:sys_enter_getpid { }";
        let mut obj = object(text, &CompileEnv::default());
        let span = obj.programs[1].attach_span;
        obj.programs[1].attach = rtrace::probes::Attach::Tracepoint {
            category: "rtrace_no_such_category".into(),
            name: "nothing".into(),
        };
        match run(&obj, OutputFormat::Text, None) {
            Err(RunError::Diag(d)) => assert_eq!(d.span, Some(span), "{d:?}"),
            other => panic!("{other:?}"),
        }
        // kernel_test checks that BEGIN, loaded and attached first, is gone too.
    });
}
