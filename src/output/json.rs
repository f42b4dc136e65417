//! `-f json` output: one JSON object a line, spaced as bpftrace 0.17 spaces it; fed by the
//! runtime's map dumps and event records.
//!
//! Every function returns whole lines ending in `\n` (an empty map gives no line at all).
//! Strings: `"` `\` `\n` `\t` `\r` are escaped as `\"` `\\` `\n` `\t` `\r`, other bytes below
//! 0x20 as `\u00XX`; 0x7f is written raw, as 0.17 does. Bytes of 0x80 and above differ from 0.17,
//! which prints `\uffffffXX` (a sign-extension bug, not valid JSON): valid UTF-8 sequences are
//! written as they are, and each byte that is not part of one as `\u00XX` (its Latin-1 reading),
//! so the output is always valid UTF-8 JSON.

use super::print::{average, divide, sorted_entries};
use super::value::{
    stack_text, AggKind, MapDump, MapValue, Value, HIST_BUCKETS, KEY_INDENT, VALUE_INDENT,
};
use std::fmt::Write;

/// `{"type": "attached_probes", "data": {"probes": N}}`
pub fn attached_probes(n: usize) -> String {
    format!("{{\"type\": \"attached_probes\", \"data\": {{\"probes\": {n}}}}}\n")
}

/// `{"type": "lost_events", "data": {"events": N}}`
pub fn lost_events(n: u64) -> String {
    format!("{{\"type\": \"lost_events\", \"data\": {{\"events\": {n}}}}}\n")
}

/// `{"type": "printf", "data": "..."}` for one printf's output.
pub fn printf(text: impl AsRef<[u8]>) -> String {
    record("printf", text.as_ref())
}

/// A record whose data is one string: `printf`, `time`, `syscall` (system()), `cat`, `join`.
pub fn record(kind: &str, text: &[u8]) -> String {
    let mut out = format!("{{\"type\": \"{kind}\", \"data\": ");
    write_str(&mut out, text);
    out.push_str("}\n");
    out
}

/// `{"type": "value", "data": V}` for `print(v)` of a non-map value.
pub fn value(v: &Value) -> String {
    let mut out = String::from("{\"type\": \"value\", \"data\": ");
    write_value(&mut out, v);
    out.push_str("}\n");
    out
}

/// The block printed at exit: `\n\n`, then every non-empty map in name order.
pub fn maps_at_exit(dumps: &[MapDump]) -> String {
    let mut order: Vec<&MapDump> = dumps.iter().collect();
    order.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
    let mut out = String::from("\n\n");
    for dump in order {
        out.push_str(&map(dump));
    }
    out
}

/// One map, as at exit or for `print(@m)`; empty for a map without entries.
pub fn map(dump: &MapDump) -> String {
    map_top(dump, 0, 1)
}

/// `print(@m, top, div)`: the last `top` entries (0: all), values divided by `div`; avg and
/// stats maps ignore both.
pub fn map_top(dump: &MapDump, top: usize, div: u64) -> String {
    // bpftrace 0.17 applies top and div to avg() maps but not to stats() maps.
    let (top, div) = if dump.kind == AggKind::Stats {
        (0, 1)
    } else {
        (top, div.max(1))
    };
    let entries = sorted_entries(dump, top);
    if entries.is_empty() {
        return String::new();
    }
    let kind = match dump.kind {
        AggKind::Avg | AggKind::Stats => "stats",
        AggKind::Hist | AggKind::Lhist => "hist",
        _ => "map",
    };
    let mut out = format!("{{\"type\": \"{kind}\", \"data\": {{");
    write_str(&mut out, dump.name.as_bytes());
    out.push_str(": ");
    let keyed = entries.iter().any(|(k, _)| k.is_some());
    if keyed {
        out.push('{');
    }
    for (i, (key, value)) in entries.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        if let Some(k) = key {
            write_str(&mut out, &key_text(k));
            out.push_str(": ");
        }
        write_map_value(&mut out, value, div);
    }
    if keyed {
        out.push('}');
    }
    out.push_str("}}\n");
    out
}

/// A map key as JSON names it: the elements' text joined by `,` (no space); a stack's frames
/// indented as in a text key.
fn key_text(key: &Value) -> Vec<u8> {
    let part = |out: &mut Vec<u8>, v: &Value| match v {
        Value::Stack { lines, indent } => {
            out.extend_from_slice(&stack_text(lines, *indent, KEY_INDENT))
        }
        other => super::print::write_value(out, other),
    };
    let mut out = Vec::new();
    match key {
        Value::Tuple(items) => {
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                part(&mut out, item);
            }
        }
        other => part(&mut out, other),
    }
    out
}

fn write_map_value(out: &mut String, v: &MapValue, div: u64) {
    match v {
        MapValue::Scalar(s) => write_value(out, &divide(s, div)),
        MapValue::Avg { count, total } => {
            write_value(out, &divide(&Value::Int(average(*count, *total)), div));
        }
        MapValue::Stats { count, total } => {
            let avg = average(*count, *total);
            let _ = write!(
                out,
                "{{\"count\": {count}, \"average\": {avg}, \"total\": {total}}}"
            );
        }
        MapValue::Hist(counts) => {
            let counts = &counts[..counts.len().min(HIST_BUCKETS)];
            write_buckets(out, counts, div, hist_bounds)
        }
        MapValue::Lhist {
            min,
            max,
            step,
            counts,
        } => write_buckets(out, counts, div, |i| lhist_bounds(i, *min, *max, *step)),
    }
}

/// `[{"min": lo, "max": hi, "count": n}, ...]` from the first to the last non-empty bucket;
/// the bucket below the range has no `min`, the one above it no `max`.
fn write_buckets(
    out: &mut String,
    counts: &[u64],
    div: u64,
    bounds: impl Fn(usize) -> (Option<i128>, Option<i128>),
) {
    out.push('[');
    let first = counts.iter().position(|&c| c > 0);
    let last = counts.iter().rposition(|&c| c > 0);
    if let (Some(first), Some(last)) = (first, last) {
        for (i, &count) in counts.iter().enumerate().take(last + 1).skip(first) {
            if i > first {
                out.push_str(", ");
            }
            out.push('{');
            let (lo, hi) = bounds(i);
            if let Some(lo) = lo {
                let _ = write!(out, "\"min\": {lo}, ");
            }
            if let Some(hi) = hi {
                let _ = write!(out, "\"max\": {hi}, ");
            }
            let _ = write!(out, "\"count\": {}}}", count / div);
        }
    }
    out.push(']');
}

/// Inclusive bounds of hist bucket `i` (see `value::hist_bucket`).
fn hist_bounds(i: usize) -> (Option<i128>, Option<i128>) {
    match i {
        0 => (None, Some(-1)),
        1 => (Some(0), Some(0)),
        _ => {
            let lo = 1i128 << (i - 2);
            (Some(lo), Some(2 * lo - 1))
        }
    }
}

/// Inclusive bounds of lhist bucket `i` (see `value::lhist_bucket`).
fn lhist_bounds(i: usize, min: i64, max: i64, step: i64) -> (Option<i128>, Option<i128>) {
    let n = (i128::from(max) - i128::from(min)) / i128::from(step).max(1);
    let (min, step) = (i128::from(min), i128::from(step));
    if i == 0 {
        (None, Some(min - 1))
    } else if i as i128 > n {
        (Some(i128::from(max)), None)
    } else {
        let lo = min + (i as i128 - 1) * step;
        (Some(lo), Some(lo + step - 1))
    }
}

/// A value: numbers bare, strings quoted, tuples as `[1,"a"]` (no spaces).
pub fn write_value(out: &mut String, v: &Value) {
    match v {
        Value::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Value::UInt(u) => {
            let _ = write!(out, "{u}");
        }
        Value::Str(s) => write_str(out, s),
        Value::Buf(b) => write_str(out, &super::value::escaped(b)),
        Value::Stack { lines, indent } => {
            write_str(out, &stack_text(lines, *indent, VALUE_INDENT));
        }
        Value::Tuple(items) | Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, item);
            }
            out.push(']');
        }
        // bpftrace 0.17: `{ "a": 1, "b": 2 }`, spaces inside the braces.
        Value::Record(fields) => {
            out.push_str("{ ");
            for (i, (name, item)) in fields.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_str(out, name.as_bytes());
                out.push_str(": ");
                write_value(out, item);
            }
            out.push_str(if fields.is_empty() { "}" } else { " }" });
        }
    }
}

/// A quoted, escaped JSON string (see the module comment for bytes >= 0x80).
pub fn write_str(out: &mut String, bytes: &[u8]) {
    out.push('"');
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\t' => out.push_str("\\t"),
                '\r' => out.push_str("\\r"),
                c if (c as u32) < 0x20 => {
                    let _ = write!(out, "\\u{:04x}", c as u32);
                }
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            let _ = write!(out, "\\u{:04x}", b);
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::print::tests as maps;

    fn exit_json(dumps: &[MapDump]) -> String {
        attached_probes(1) + &maps_at_exit(dumps)
    }

    #[test]
    fn fixtures_match_bpftrace() {
        let cases = [
            (
                maps::scalars_maps(),
                include_str!("../../tests/fixtures/print/scalars.json"),
            ),
            (
                maps::keys_maps(),
                include_str!("../../tests/fixtures/print/keys.json"),
            ),
            (
                maps::hist_maps(),
                include_str!("../../tests/fixtures/print/hist.json"),
            ),
            (
                maps::lhist_maps(),
                include_str!("../../tests/fixtures/print/lhist.json"),
            ),
            (
                maps::stats_maps(),
                include_str!("../../tests/fixtures/print/stats.json"),
            ),
            (
                maps::empty_maps(),
                include_str!("../../tests/fixtures/print/empty.json"),
            ),
            (
                maps::names_maps(),
                include_str!("../../tests/fixtures/print/names.json"),
            ),
        ];
        for (dumps, want) in cases {
            assert_eq!(exit_json(&dumps), want);
        }
    }

    #[test]
    fn print_records() {
        let (x, h) = maps::print_maps();
        let mut got = attached_probes(1);
        got += &printf("A\n");
        got += &map_top(&x, 2, 1);
        got += &printf("B\n");
        got += &map_top(&x, 0, 2);
        got += &printf("C\n");
        got += &map_top(&h, 1, 2);
        got += &printf("D\n");
        got += &map(&h);
        got += &value(&Value::Int(5));
        got += &value(&Value::Str(b"abc".to_vec()));
        let t = Value::Tuple(vec![
            Value::Int(1),
            Value::Str(b"a".to_vec()),
            Value::Int(-2),
        ]);
        got += &value(&t);
        got += &maps_at_exit(&[MapDump {
            name: "@x".into(),
            kind: AggKind::Sum,
            entries: vec![],
        }]);
        assert_eq!(got, include_str!("../../tests/fixtures/print/print.json"));
    }

    #[test]
    fn escapes() {
        let text = b"a\x01b\rc/d\x7f|\x08\x0c\x1f \"q\" \\ \t\n";
        let mut got = attached_probes(1) + &printf(text);
        let key = Value::Str(b"q\"\\\t\n".to_vec());
        let t = Value::Tuple(vec![Value::Int(1), Value::Str(b"a\"b".to_vec())]);
        got += &maps_at_exit(&[
            MapDump {
                name: "@".into(),
                kind: AggKind::Plain,
                entries: vec![(Some(key), MapValue::Scalar(Value::Int(1)))],
            },
            MapDump {
                name: "@t".into(),
                kind: AggKind::Plain,
                entries: vec![(None, MapValue::Scalar(t))],
            },
        ]);
        assert_eq!(got, include_str!("../../tests/fixtures/print/escapes.json"));
    }

    /// Where rtrace deliberately differs from 0.17's `\uffffffc3\uffffffa9`.
    #[test]
    fn high_bytes_stay_valid_utf8() {
        assert_eq!(
            printf("é\n"),
            "{\"type\": \"printf\", \"data\": \"é\\n\"}\n"
        );
        let bad = record("cat", b"\xff\xc3|");
        assert_eq!(bad, "{\"type\": \"cat\", \"data\": \"\\u00ff\\u00c3|\"}\n");
    }

    #[test]
    fn records_as_bpftrace_prints_them() {
        // Lines copied from bpftrace 0.17 -f json output.
        assert_eq!(
            lost_events(1),
            "{\"type\": \"lost_events\", \"data\": {\"events\": 1}}\n"
        );
        assert_eq!(
            record("time", b"2026-\n"),
            "{\"type\": \"time\", \"data\": \"2026-\\n\"}\n"
        );
        assert_eq!(
            record("syscall", b"hi\n"),
            "{\"type\": \"syscall\", \"data\": \"hi\\n\"}\n"
        );
        assert_eq!(
            record("join", b"a,b"),
            "{\"type\": \"join\", \"data\": \"a,b\"}\n"
        );
        assert_eq!(
            value(&Value::Int(-3)),
            "{\"type\": \"value\", \"data\": -3}\n"
        );
    }

    /// 0.17 prints `{"min": -2147483648, "max": 0, ...}` here; the real bounds are printed.
    #[test]
    fn hist_bounds_above_two_gig() {
        let mut counts = vec![0; 65];
        counts[42] = 1; // [2^40, 2^41)
        let m = MapDump {
            name: "@h".into(),
            kind: AggKind::Hist,
            entries: vec![(None, MapValue::Hist(counts))],
        };
        assert_eq!(
            map(&m),
            "{\"type\": \"hist\", \"data\": {\"@h\": [{\"min\": 1099511627776, \
             \"max\": 2199023255551, \"count\": 1}]}}\n"
        );
    }
}
