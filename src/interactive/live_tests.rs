//! Kernel tests of the live run under the session's script (they need root and skip without
//! it): inputs compiled by `Script` and added to `runtime::Live`, output read from a buffer.
//! Run them under the kernel-test lock: `flock /tmp/rtrace-kernel.lock cargo test --lib
//! interactive::live_tests`.

use super::script::Script;
use crate::bpf::sys;
use crate::compile::CompileEnv;
use crate::output::OutputFormat;
use crate::runtime::{Live, LiveConfig, ProbeId};
use std::io::{self, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Output shared with the test.
#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let Ok(mut v) = self.0.lock() {
            v.extend_from_slice(buf);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Shared {
    fn text(&self) -> String {
        self.0
            .lock()
            .map(|v| String::from_utf8_lossy(&v).into_owned())
            .unwrap_or_default()
    }
}

fn live(out: &Shared) -> Live {
    Live::new(LiveConfig {
        format: OutputFormat::Text,
        pid: None,
        output: Box::new(out.clone()),
        demangle: true,
    })
}

fn add(script: &mut Script, live: &mut Live, text: &str) -> Vec<ProbeId> {
    let p = script.prepare(text).unwrap_or_else(|e| panic!("{e}"));
    let ids = live
        .add(p.object.clone(), &p.groups)
        .unwrap_or_else(|e| panic!("{e:?}"));
    script.accept(p, &ids);
    ids
}

fn root() -> bool {
    if sys::has_bpf_privileges() {
        return true;
    }
    eprintln!("skipped: loading BPF programs needs root");
    false
}

#[test]
fn records_of_each_input_are_read_with_that_input_s_tables() {
    if !root() {
        return;
    }
    let out = Shared::default();
    let mut live = live(&out);
    let mut script = Script::new(CompileEnv::default());
    // Input 1's print(@b) names @b by its index in input 1's object (0).
    let first = add(
        &mut script,
        &mut live,
        "interval:ms:10 { @b = 2; print(@b); }",
    );
    // In input 2's object @a sorts first, so @b is map 1 there, and its printf is id 0.
    add(
        &mut script,
        &mut live,
        "BEGIN { @a = 1; printf(\"two\\n\"); }",
    );
    std::thread::sleep(Duration::from_millis(80));
    live.drain().expect("drain");
    assert!(live.detach(first[0]).expect("detach"));
    assert!(!live.detach(first[0]).expect("detach again"));
    live.finish().expect("finish");
    let text = out.text();
    let (during, end) = text.split_once("\n\n\n").expect("the end's blank lines");
    assert!(during.contains("two\n"), "{text}");
    assert!(during.matches("@b: 2\n").count() >= 2, "{text}");
    assert!(!during.contains("@a"), "{text}");
    assert_eq!(end, "@a: 1\n@b: 2\n", "{text}");
}

#[test]
fn maps_are_printed_and_cleared_on_demand() {
    if !root() {
        return;
    }
    let out = Shared::default();
    let mut live = live(&out);
    let mut script = Script::new(CompileEnv::default());
    add(
        &mut script,
        &mut live,
        "BEGIN { @c = count(); @k[\"x\"] = 5; }",
    );
    assert!(live.print_map("@k").expect("print"));
    assert!(!live.print_map("@nope").expect("print"));
    assert!(live.clear_map("@k").expect("clear"));
    // A key-less count() stays, at zero, as clear() leaves it.
    assert!(live.clear_map("@c").expect("clear"));
    // A later input sees the maps and their types.
    add(&mut script, &mut live, "END { @k[\"y\"] = @c + 7; }");
    live.finish().expect("finish");
    assert_eq!(out.text(), "@k[x]: 5\n\n\n@c: 0\n@k[y]: 7\n");
}
