//! One interface for everything a run prints: `Output`, with bpftrace 0.17's text format and
//! its `-f json` format behind it. Fed by the runtime's run loop, which never asks which one.

use super::value::{MapDump, Value};
use super::{json, print};

/// `-f text` or `-f json`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputFormat {
    Text,
    Json,
}

/// How often run output is written out (`-B`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Buffering {
    /// `-B none`: after every event.
    None,
    /// `-B line` (the default): after every batch of events read together.
    Line,
    /// `-B full`: when 64 KiB are waiting, and at exit.
    Full,
}

/// What a run prints, appended to a byte buffer the caller writes out (so that a run can
/// batch its output and flush it every so often).
pub trait Output {
    /// The probes are attached: `Attaching N probes...`.
    fn attached(&self, out: &mut Vec<u8>, probes: usize);
    /// One printf's formatted text.
    fn printf(&self, out: &mut Vec<u8>, text: &[u8]);
    /// What a system() command printed on its stdout.
    fn system(&self, out: &mut Vec<u8>, text: &[u8]);
    /// A line a builtin's record makes (`time`, `join`): `{"type": KIND, "data": TEXT}` in
    /// JSON; in text the text, then a newline when `newline` is set.
    fn message(&self, out: &mut Vec<u8>, kind: &str, text: &[u8], newline: bool);
    /// `print(v)` of a value that is not a map: its text and a newline, or
    /// `{"type": "value", "data": V}`.
    fn value(&self, out: &mut Vec<u8>, v: &Value);
    /// The ring buffer had no room for `n` events.
    fn lost(&self, out: &mut Vec<u8>, n: u64);
    /// `print(@m)`, `print(@m, top, div)`: the `top` largest entries (all when 0), values
    /// divided by `div`.
    fn map(&self, out: &mut Vec<u8>, dump: &MapDump, top: usize, div: u64);
    /// Every user map, when the run ends.
    fn maps_at_exit(&self, out: &mut Vec<u8>, dumps: &[MapDump]);
    /// A helper call failed (`-k`): bpftrace's warning in text, a `helper_error` record in
    /// JSON.
    fn helper_error(&self, out: &mut Vec<u8>, e: &HelperError<'_>);
}

/// A failed helper call, as `-k` reports it.
pub struct HelperError<'a> {
    /// The helper's name (`map_delete_elem`).
    pub helper: &'a str,
    /// Its return code (a negative errno, or 0 for a lookup that found nothing).
    pub code: i64,
    /// Where the call is: 1-based line and byte column.
    pub line: usize,
    pub col: usize,
    /// The whole text warning, location and source line included.
    pub warning: &'a str,
}

/// The `Output` for a format; `quiet` (`-q`) leaves out the attach message.
pub fn for_format(format: OutputFormat, quiet: bool) -> Box<dyn Output> {
    match format {
        OutputFormat::Text => Box::new(TextOutput { quiet }),
        OutputFormat::Json => Box::new(JsonOutput { quiet }),
    }
}

/// bpftrace 0.17's plain text.
pub struct TextOutput {
    /// `-q`: no `Attaching N probes...`.
    pub quiet: bool,
}

impl Output for TextOutput {
    fn attached(&self, out: &mut Vec<u8>, probes: usize) {
        if !self.quiet {
            out.extend_from_slice(print::attaching(probes).as_bytes());
        }
    }

    fn printf(&self, out: &mut Vec<u8>, text: &[u8]) {
        out.extend_from_slice(text);
    }

    fn system(&self, out: &mut Vec<u8>, text: &[u8]) {
        out.extend_from_slice(text);
    }

    fn message(&self, out: &mut Vec<u8>, _kind: &str, text: &[u8], newline: bool) {
        out.extend_from_slice(text);
        if newline {
            out.push(b'\n');
        }
    }

    fn value(&self, out: &mut Vec<u8>, v: &Value) {
        print::write_value(out, v);
        out.push(b'\n');
    }

    fn lost(&self, out: &mut Vec<u8>, n: u64) {
        out.extend_from_slice(print::lost_events(n).as_bytes());
    }

    fn map(&self, out: &mut Vec<u8>, dump: &MapDump, top: usize, div: u64) {
        print::write_map(out, dump, top, div);
    }

    fn maps_at_exit(&self, out: &mut Vec<u8>, dumps: &[MapDump]) {
        print::write_maps_at_exit(out, dumps);
    }

    fn helper_error(&self, out: &mut Vec<u8>, e: &HelperError<'_>) {
        out.extend_from_slice(e.warning.as_bytes());
    }
}

/// bpftrace 0.17's `-f json`: one object a line.
pub struct JsonOutput {
    /// `-q`: no `attached_probes` record.
    pub quiet: bool,
}

impl Output for JsonOutput {
    fn attached(&self, out: &mut Vec<u8>, probes: usize) {
        if !self.quiet {
            out.extend_from_slice(json::attached_probes(probes).as_bytes());
        }
    }

    fn printf(&self, out: &mut Vec<u8>, text: &[u8]) {
        out.extend_from_slice(json::printf(text).as_bytes());
    }

    fn system(&self, out: &mut Vec<u8>, text: &[u8]) {
        out.extend_from_slice(json::record("syscall", text).as_bytes());
    }

    fn message(&self, out: &mut Vec<u8>, kind: &str, text: &[u8], _newline: bool) {
        out.extend_from_slice(json::record(kind, text).as_bytes());
    }

    fn value(&self, out: &mut Vec<u8>, v: &Value) {
        out.extend_from_slice(json::value(v).as_bytes());
    }

    fn lost(&self, out: &mut Vec<u8>, n: u64) {
        out.extend_from_slice(json::lost_events(n).as_bytes());
    }

    fn map(&self, out: &mut Vec<u8>, dump: &MapDump, top: usize, div: u64) {
        out.extend_from_slice(json::map_top(dump, top, div).as_bytes());
    }

    fn maps_at_exit(&self, out: &mut Vec<u8>, dumps: &[MapDump]) {
        out.extend_from_slice(json::maps_at_exit(dumps).as_bytes());
    }

    fn helper_error(&self, out: &mut Vec<u8>, e: &HelperError<'_>) {
        let line = format!(
            "{{\"type\": \"helper_error\", \"helper\": \"{}\", \"retcode\": {}, \"line\": {}, \"col\": {}}}\n",
            e.helper, e.code, e.line, e.col
        );
        out.extend_from_slice(line.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attached(format: OutputFormat, quiet: bool) -> String {
        let mut out = Vec::new();
        for_format(format, quiet).attached(&mut out, 2);
        String::from_utf8_lossy(&out).into_owned()
    }

    #[test]
    fn quiet_hides_the_attach_message() {
        assert_eq!(
            attached(OutputFormat::Text, false),
            "Attaching 2 probes...\n"
        );
        assert_eq!(attached(OutputFormat::Text, true), "");
        assert_eq!(
            attached(OutputFormat::Json, false),
            "{\"type\": \"attached_probes\", \"data\": {\"probes\": 2}}\n"
        );
        assert_eq!(attached(OutputFormat::Json, true), "");
    }

    #[test]
    fn printf_and_system_records() {
        let mut out = Vec::new();
        let json = for_format(OutputFormat::Json, false);
        json.printf(&mut out, b"hi\n");
        json.system(&mut out, b"x\n");
        assert_eq!(
            String::from_utf8_lossy(&out),
            "{\"type\": \"printf\", \"data\": \"hi\\n\"}\n{\"type\": \"syscall\", \"data\": \"x\\n\"}\n"
        );
        let mut out = Vec::new();
        let text = for_format(OutputFormat::Text, true);
        text.printf(&mut out, b"hi\n");
        text.lost(&mut out, 3);
        assert_eq!(String::from_utf8_lossy(&out), "hi\nLost 3 events\n");
    }
}
