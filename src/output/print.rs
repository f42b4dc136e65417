//! Text output of maps and records as bpftrace 0.17 prints them; fed by the runtime's map dumps.
//!
//! Every function here produces whole lines ending in `\n`. Strings are written as raw bytes;
//! the `String`-returning wrappers replace invalid UTF-8 lossily, the `write_*` ones are exact.
//!
//! Differences from 0.17 (0.17 prints a wrong value): hist labels at and above 2^31 continue
//! `[2G, 4G)`, `[4G, 8G)`, ..., T, P, E instead of lumping into `[2G, 4G)`; lhist labels are
//! computed in 64 bits (0.17 overflows `int`); the tie order of equal values is the raw key
//! bytes (0.17 uses the kernel's hash order).

use super::value::{
    stack_text, AggKind, MapDump, MapValue, Value, HIST_BUCKETS, KEY_INDENT, VALUE_INDENT,
};
use std::cmp::Ordering;

/// `Attaching N probes...` (singular `probe` for 1).
pub fn attaching(n: usize) -> String {
    let s = if n == 1 { "" } else { "s" };
    format!("Attaching {n} probe{s}...\n")
}

/// What bpftrace prints when the kernel dropped events: `Lost N events` (always plural).
pub fn lost_events(n: u64) -> String {
    format!("Lost {n} events\n")
}

/// The block printed at exit: `\n\n`, then every map in name order.
pub fn maps_at_exit(dumps: &[MapDump]) -> String {
    let mut out = Vec::new();
    write_maps_at_exit(&mut out, dumps);
    String::from_utf8_lossy(&out).into_owned()
}

/// `maps_at_exit` as exact bytes.
pub fn write_maps_at_exit(out: &mut Vec<u8>, dumps: &[MapDump]) {
    out.extend_from_slice(b"\n\n");
    let mut order: Vec<&MapDump> = dumps.iter().collect();
    order.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
    for dump in order {
        write_map(out, dump, 0, 1);
    }
}

/// One map as printed at exit or by `print(@m)`.
pub fn map_text(dump: &MapDump) -> String {
    map_text_top(dump, 0, 1)
}

/// `print(@m, top, div)`: only the last `top` entries of the sorted order (0: all), values
/// divided by `div` (hist bars keep their undivided length). avg and stats maps ignore both.
pub fn map_text_top(dump: &MapDump, top: usize, div: u64) -> String {
    let mut out = Vec::new();
    write_map(&mut out, dump, top, div);
    String::from_utf8_lossy(&out).into_owned()
}

/// `map_text_top` as exact bytes, appended to `out`.
pub fn write_map(out: &mut Vec<u8>, dump: &MapDump, top: usize, div: u64) {
    let stats_like = matches!(dump.kind, AggKind::Avg | AggKind::Stats);
    // bpftrace 0.17 applies top and div to avg() maps but not to stats() maps.
    let (top, div) = if dump.kind == AggKind::Stats {
        (0, 1)
    } else {
        (top, div.max(1))
    };
    let entries = sorted_entries(dump, top);
    if entries.is_empty() {
        out.push(b'\n');
    }
    for (key, value) in entries {
        out.extend_from_slice(dump.name.as_bytes());
        if let Some(k) = key {
            write_key(out, k);
        }
        out.extend_from_slice(b": ");
        match value {
            MapValue::Scalar(v) => {
                write_value(out, &divide(v, div));
                out.push(b'\n');
            }
            MapValue::Avg { count, total } => {
                write_value(out, &divide(&Value::Int(average(*count, *total)), div));
                out.push(b'\n');
            }
            MapValue::Stats { count, total } => {
                let avg = average(*count, *total);
                let line = format!("count {count}, average {avg}, total {total}\n");
                out.extend_from_slice(line.as_bytes());
            }
            MapValue::Hist(counts) => {
                out.push(b'\n');
                let counts = &counts[..counts.len().min(HIST_BUCKETS)];
                write_rows(out, counts, div, hist_label);
                out.push(b'\n');
            }
            MapValue::Lhist {
                min,
                max,
                step,
                counts,
            } => {
                out.push(b'\n');
                write_rows(out, counts, div, |i| lhist_label(i, *min, *max, *step));
                out.push(b'\n');
            }
        }
    }
    if stats_like {
        out.push(b'\n');
    }
}

/// A value as `print(v)` shows it (without the newline): ints in decimal, strings raw,
/// tuples as `(1, abc)`.
pub fn value_text(v: &Value) -> String {
    let mut out = Vec::new();
    write_value(&mut out, v);
    String::from_utf8_lossy(&out).into_owned()
}

/// Appends `value_text(v)` as exact bytes.
pub fn write_value(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::Int(i) => write_num(out, *i),
        Value::UInt(u) => write_num(out, *u),
        Value::Str(s) => out.extend_from_slice(s),
        Value::Buf(b) => out.extend_from_slice(&super::value::escaped(b)),
        Value::Stack { lines, indent } => {
            out.extend_from_slice(&stack_text(lines, *indent, VALUE_INDENT));
        }
        Value::Tuple(items) => {
            out.push(b'(');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.extend_from_slice(b", ");
                }
                write_value(out, item);
            }
            out.push(b')');
        }
        // bpftrace 0.17: `[1,2,3]` and `{ .a = 1, .b = 2 }`.
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(out, item);
            }
            out.push(b']');
        }
        Value::Record(fields) => {
            out.extend_from_slice(b"{ ");
            for (i, (name, item)) in fields.iter().enumerate() {
                if i > 0 {
                    out.extend_from_slice(b", ");
                }
                out.push(b'.');
                out.extend_from_slice(name.as_bytes());
                out.extend_from_slice(b" = ");
                write_value(out, item);
            }
            out.extend_from_slice(if fields.is_empty() { b"}" } else { b" }" });
        }
    }
}

/// `[k]`, or `[k1, k2]` for a multi-key map (whose key is a `Value::Tuple`).
fn write_key(out: &mut Vec<u8>, key: &Value) {
    out.push(b'[');
    match key {
        Value::Tuple(items) => {
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.extend_from_slice(b", ");
                }
                write_key_part(out, item);
            }
        }
        other => write_key_part(out, other),
    }
    out.push(b']');
}

/// A key's part: as a value, except that a struct prints without spaces (`{.m=2,.n=3}`), as
/// bpftrace 0.17 prints struct keys, and a stack's frames are indented by 4 spaces.
fn write_key_part(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::Stack { lines, indent } => {
            out.extend_from_slice(&stack_text(lines, *indent, KEY_INDENT));
        }
        Value::Record(fields) => {
            out.push(b'{');
            for (i, (name, item)) in fields.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                out.push(b'.');
                out.extend_from_slice(name.as_bytes());
                out.push(b'=');
                write_key_part(out, item);
            }
            out.push(b'}');
        }
        other => write_value(out, other),
    }
}

fn write_num(out: &mut Vec<u8>, n: impl std::fmt::Display) {
    use std::io::Write;
    let _ = write!(out, "{n}");
}

/// The integer average, truncated toward zero (0 when there are no samples).
pub(crate) fn average(count: u64, total: i64) -> i64 {
    match i64::try_from(count) {
        Ok(c) if c > 0 => total / c,
        _ => 0,
    }
}

/// A scalar divided by `print`'s `div` argument (signed division for signed values).
pub(crate) fn divide(v: &Value, div: u64) -> Value {
    match v {
        Value::Int(i) if div > 1 => Value::Int(i / i64::try_from(div).unwrap_or(i64::MAX)),
        Value::UInt(u) if div > 1 => Value::UInt(u / div),
        other => other.clone(),
    }
}

/// The entries of a map in bpftrace's order, keeping only the last `top` (0: all).
pub(crate) fn sorted_entries(dump: &MapDump, top: usize) -> Vec<&(Option<Value>, MapValue)> {
    let mut entries: Vec<&(Option<Value>, MapValue)> = dump.entries.iter().collect();
    entries.sort_by(|a, b| compare_entries(a, b));
    if top > 0 && entries.len() > top {
        entries.drain(..entries.len() - top);
    }
    entries
}

fn compare_entries(a: &(Option<Value>, MapValue), b: &(Option<Value>, MapValue)) -> Ordering {
    let primary = match (sort_weight(&a.1), sort_weight(&b.1)) {
        (Some(x), Some(y)) => x.cmp(&y),
        _ => key_order(a.0.as_ref(), b.0.as_ref()),
    };
    primary.then_with(|| raw_key_order(a.0.as_ref(), b.0.as_ref()))
}

/// The number an entry is sorted by (int value, average or total count), or `None` when the
/// map sorts by key (string and tuple values).
fn sort_weight(v: &MapValue) -> Option<i128> {
    match v {
        MapValue::Scalar(Value::Int(i)) => Some(i128::from(*i)),
        MapValue::Scalar(Value::UInt(u)) => Some(i128::from(*u)),
        MapValue::Scalar(_) => None,
        MapValue::Avg { count, total } | MapValue::Stats { count, total } => {
            Some(i128::from(average(*count, *total)))
        }
        MapValue::Hist(c) | MapValue::Lhist { counts: c, .. } => {
            Some(c.iter().map(|&n| i128::from(n)).sum())
        }
    }
}

/// bpftrace's key order: element by element, integers as unsigned, strings by bytes.
fn key_order(a: Option<&Value>, b: Option<&Value>) -> Ordering {
    keys_by(a, b, |x, y| x.cmp(&y))
}

/// The order of the keys' bytes as the kernel stores them (integers little-endian).
fn raw_key_order(a: Option<&Value>, b: Option<&Value>) -> Ordering {
    keys_by(a, b, |x, y| x.to_le_bytes().cmp(&y.to_le_bytes()))
}

/// Orders keys element by element: tuples, structs and arrays in turn, strings by bytes,
/// integers by `ints`.
fn keys_by(a: Option<&Value>, b: Option<&Value>, ints: fn(u64, u64) -> Ordering) -> Ordering {
    fn elem(a: &Value, b: &Value, ints: fn(u64, u64) -> Ordering) -> Ordering {
        match (a, b) {
            (Value::Tuple(x), Value::Tuple(y)) => x
                .iter()
                .zip(y)
                .map(|(p, q)| elem(p, q, ints))
                .find(|o| *o != Ordering::Equal)
                .unwrap_or_else(|| x.len().cmp(&y.len())),
            (Value::Str(x), Value::Str(y)) => x.cmp(y),
            // Structs member by member and arrays element by element: the order of their
            // bytes, as the kernel stores them.
            (Value::Record(x), Value::Record(y)) => x
                .iter()
                .zip(y)
                .map(|((_, p), (_, q))| elem(p, q, ints))
                .find(|o| *o != Ordering::Equal)
                .unwrap_or(Ordering::Equal),
            (Value::Array(x), Value::Array(y)) => x
                .iter()
                .zip(y)
                .map(|(p, q)| elem(p, q, ints))
                .find(|o| *o != Ordering::Equal)
                .unwrap_or_else(|| x.len().cmp(&y.len())),
            _ => match (int_bits(a), int_bits(b)) {
                (Some(x), Some(y)) => ints(x, y),
                _ => Ordering::Equal,
            },
        }
    }
    match (a, b) {
        (Some(x), Some(y)) => elem(x, y, ints),
        _ => Ordering::Equal,
    }
}

fn int_bits(v: &Value) -> Option<u64> {
    match v {
        Value::Int(i) => Some(*i as u64),
        Value::UInt(u) => Some(*u),
        _ => None,
    }
}

/// Histogram rows from the first to the last non-empty bucket: label in 16 columns, count in
/// 8, and a bar of up to 52 `@` scaled to the largest bucket (computed in `f32` as 0.17 does).
fn write_rows(out: &mut Vec<u8>, counts: &[u64], div: u64, label: impl Fn(usize) -> String) {
    let (Some(first), Some(last)) = (
        counts.iter().position(|&c| c > 0),
        counts.iter().rposition(|&c| c > 0),
    ) else {
        return;
    };
    let max = counts.iter().copied().max().unwrap_or(1).max(1);
    for (i, &c) in counts.iter().enumerate().take(last + 1).skip(first) {
        let bar = (c as f32 / max as f32 * 52.0) as usize;
        let row = format!(
            "{:<16}{:>8} |{:<52}|\n",
            label(i),
            c / div,
            "@".repeat(bar.min(52))
        );
        out.extend_from_slice(row.as_bytes());
    }
}

/// The label of hist bucket `i` (see `value::hist_bucket`).
fn hist_label(i: usize) -> String {
    match i {
        0 => "(..., 0)".to_string(),
        1 => "[0]".to_string(),
        2 => "[1]".to_string(),
        _ => format!("[{}, {})", power_label(i - 2), power_label(i - 1)),
    }
}

/// `2^power` with a binary suffix: 512, 1K, 2M, 4G, 8T, 16P, 1E.
fn power_label(power: usize) -> String {
    let suffixes = ["", "K", "M", "G", "T", "P", "E"];
    let unit = (power / 10).min(suffixes.len() - 1);
    let mantissa = 1u64 << (power - unit * 10);
    format!("{mantissa}{}", suffixes[unit])
}

/// The label of lhist bucket `i` (see `value::lhist_bucket`).
fn lhist_label(i: usize, min: i64, max: i64, step: i64) -> String {
    let n = (i128::from(max) - i128::from(min)) / i128::from(step).max(1);
    let (min, i) = (i128::from(min), i as i128);
    if i == 0 {
        format!("(..., {})", lhist_number(min))
    } else if i > n {
        format!("[{}, ...)", lhist_number(i128::from(max)))
    } else {
        let lo = min + (i - 1) * i128::from(step);
        format!(
            "[{}, {})",
            lhist_number(lo),
            lhist_number(lo + i128::from(step))
        )
    }
}

/// An lhist bound: `M` or `K` suffix only on exact multiples of 2^20 or 2^10.
fn lhist_number(n: i128) -> String {
    if n == 0 {
        "0".to_string()
    } else if n % (1 << 20) == 0 {
        format!("{}M", n / (1 << 20))
    } else if n % (1 << 10) == 0 {
        format!("{}K", n / (1 << 10))
    } else {
        n.to_string()
    }
}

#[cfg(test)]
#[path = "print_tests.rs"]
pub(crate) mod tests;
