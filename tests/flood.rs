//! Kernel tests of lost events: a printf on each of a million syscalls with a slow reader must overflow the ring buffer, and every event must be either printed or counted in `Lost N events` (text) or a `lost_events` record (JSON).

mod common;

use common::{command, Output, Running};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_rtrace");

/// getpid() calls of the workload.
const CALLS: u64 = 1_000_000;

/// Two processes, each pinned to its own CPU, make the calls under a comm name of their own,
/// so the per-CPU lost counters must be summed. The `-c` command runs the program from a file (`-c` splits on spaces, with no quoting),
/// returned with the command.
fn workload(comm: &str) -> (String, std::path::PathBuf) {
    let code = format!(
        "import os, ctypes
libc = ctypes.CDLL(None)
cpus = sorted(os.sched_getaffinity(0))
kids = []
for i in range(2):
    pid = os.fork()
    if pid == 0:
        os.sched_setaffinity(0, {{cpus[i % len(cpus)]}})
        libc.prctl(15, b\"{comm}\", 0, 0, 0)
        for _ in range({half}): os.getpid()
        os._exit(0)
    kids.append(pid)
for k in kids: os.waitpid(k, 0)
",
        half = CALLS / 2
    );
    let path = common::temp_path(&format!("flood-{comm}.py"));
    std::fs::write(&path, code).expect("write the workload");
    (format!("/usr/bin/python3 {}", path.display()), path)
}

/// Printed events and the count of every event: both in the same probe body, so the count
/// (kept in a map, never lost) is the number of printf records the program tried to send.
fn script(comm: &str) -> String {
    format!(
        "tracepoint:syscalls:sys_enter_getpid /comm == \"{comm}\"/ {{ printf(\"%d %s\\n\", pid, comm); @n = count(); }}"
    )
}

/// Runs the flood with rtrace's stdout unread for two seconds: the pipe fills, rtrace blocks
/// on its write, and the ring buffer overflows.
fn flood(format: &str) -> (Output, String) {
    let _serial = common::serial();
    common::ensure_tracefs();
    common::adopt_orphans();
    let before = common::rtrace_objects();
    let comm = format!("rtfl{}{}", &format[..1], std::process::id());
    let (cmd, file) = workload(&comm);
    let run = Running::start_reading_after(
        command(BIN, &["-f", format, "-e", &script(&comm), "-c", &cmd]),
        Duration::from_secs(2),
    );
    let out = run.finish();
    let _ = std::fs::remove_file(&file);
    common::assert_no_leaks(&before);
    out.expect_code(0);
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    (out, comm)
}

/// Checks that every printed event is `<pid> <comm>` of the workload, and returns their
/// number.
fn printed_events<'a>(lines: impl Iterator<Item = &'a str>, comm: &str) -> u64 {
    let mut n = 0;
    for line in lines {
        let (pid, c) = line
            .split_once(' ')
            .unwrap_or_else(|| panic!("not a printf line: {line:?}"));
        assert!(pid.parse::<u32>().is_ok() && c == comm, "{line:?}");
        n += 1;
    }
    n
}

fn number(s: &str) -> u64 {
    s.parse().unwrap_or_else(|_| panic!("not a number: {s:?}"))
}

#[test]
fn text_every_event_is_printed_or_counted_as_lost() {
    let (out, comm) = flood("text");
    let body = out
        .stdout
        .strip_prefix("Attaching 1 probe...\n")
        .unwrap_or_else(|| panic!("no Attaching line: {:.300}", out.stdout));
    // The end: `Lost N events`, then `\n\n` and the map.
    let (events, tail) = body
        .rsplit_once("\n\n\n@n: ")
        .unwrap_or_else(|| panic!("no @n map at the end: ...{}", tail_of(&out.stdout)));
    let count = number(tail.strip_suffix('\n').unwrap_or(tail));
    let (events, lost_line) = events.rsplit_once('\n').unwrap_or(("", events));
    let lost = number(
        lost_line
            .strip_prefix("Lost ")
            .and_then(|l| l.strip_suffix(" events"))
            .unwrap_or_else(|| {
                panic!(
                    "no `Lost N events` line before the maps: ...{}",
                    tail_of(&out.stdout)
                )
            }),
    );
    let printed = printed_events(events.lines(), &comm);
    assert_eq!(count, CALLS, "@n");
    assert!(lost > 0, "a slow reader must lose events");
    assert!(printed > 0, "some events fit in the ring buffer");
    assert_eq!(
        printed + lost,
        count,
        "printed {printed} + lost {lost} != counted {count}"
    );
}

#[test]
fn json_every_event_is_printed_or_counted_as_lost() {
    let (out, comm) = flood("json");
    let mut lines = out.stdout.lines();
    assert_eq!(
        lines.next(),
        Some("{\"type\": \"attached_probes\", \"data\": {\"probes\": 1}}")
    );
    let mut events = Vec::new();
    let mut lost = None;
    let mut count = None;
    for line in lines {
        if let Some(ev) = line
            .strip_prefix("{\"type\": \"printf\", \"data\": \"")
            .and_then(|l| l.strip_suffix("\\n\"}"))
        {
            assert!(lost.is_none(), "printf after lost_events: {line}");
            events.push(ev);
        } else if let Some(n) = line
            .strip_prefix("{\"type\": \"lost_events\", \"data\": {\"events\": ")
            .and_then(|l| l.strip_suffix("}}"))
        {
            assert!(lost.is_none(), "two lost_events records");
            lost = Some(number(n));
        } else if let Some(n) = line
            .strip_prefix("{\"type\": \"map\", \"data\": {\"@n\": ")
            .and_then(|l| l.strip_suffix("}}"))
        {
            count = Some(number(n));
        } else {
            assert_eq!(line, "", "unexpected line");
        }
    }
    let lost = lost.unwrap_or_else(|| panic!("no lost_events record: ...{}", tail_of(&out.stdout)));
    let count = count.unwrap_or_else(|| panic!("no @n map record: ...{}", tail_of(&out.stdout)));
    let printed = printed_events(events.into_iter(), &comm);
    assert_eq!(count, CALLS, "@n");
    assert!(lost > 0, "a slow reader must lose events");
    assert!(printed > 0, "some events fit in the ring buffer");
    assert_eq!(
        printed + lost,
        count,
        "printed {printed} + lost {lost} != counted {count}"
    );
}

fn tail_of(s: &str) -> &str {
    let mut start = s.len().saturating_sub(300);
    while !s.is_char_boundary(start) {
        start += 1;
    }
    &s[start..]
}
