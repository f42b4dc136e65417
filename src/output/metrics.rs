//! Maps as OpenMetrics text (`--metrics ADDR`): what a Prometheus scrape of a running script
//! reads. Fed by the run loop with the same `MapDump`s that are printed at exit.
//!
//! Each map `@name` is the metric family `rtrace_name` (`@` alone is `rtrace_map`):
//! - `count()` is a counter (`rtrace_name_total`); `sum`, `min`, `max` and plain values are
//!   gauges;
//! - `avg()` and `stats()` are summaries (`_count` and `_sum`, no quantiles);
//! - `hist()` and `lhist()` are histograms: cumulative `_bucket{le="..."}` samples whose bounds
//!   are each bucket's largest integer (the values are integers), `+Inf`, and `_count`;
//! - keys are labels: `key` for a single key, `key0`, `key1`, ... for the parts of a tuple,
//!   the value as rtrace prints it, escaped as OpenMetrics requires (`\\`, `\"`, `\n`, and
//!   bytes that are not UTF-8 as `\xNN`), never dropped.

use super::print::value_text;
use super::value::{AggKind, MapDump, MapValue, Value};
use std::fmt::Write as _;

/// The Content-Type of `render`'s text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Every map as one OpenMetrics exposition, ending with `# EOF`.
pub fn render(dumps: &[MapDump]) -> String {
    let mut out = String::new();
    for d in dumps {
        family(&mut out, d);
    }
    out.push_str("# EOF\n");
    out
}

/// `@name` -> `rtrace_name`, every character outside `[A-Za-z0-9_]` as `_`.
pub fn metric_name(map: &str) -> String {
    let rest = map.strip_prefix('@').unwrap_or(map);
    let rest = if rest.is_empty() { "map" } else { rest };
    let mut out = String::from("rtrace_");
    out.extend(rest.chars().map(|c| {
        if c.is_ascii_alphanumeric() || c == '_' {
            c
        } else {
            '_'
        }
    }));
    out
}

/// A label value escaped for OpenMetrics.
pub fn escape_label(bytes: &[u8]) -> String {
    let mut out = String::new();
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '"' => out.push_str("\\\""),
                '\n' => out.push_str("\\n"),
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            // Written as text, so a scrape keeps the key's bytes (`\\x` is a literal backslash).
            let _ = write!(out, "\\\\x{b:02x}");
        }
    }
    out
}

/// `{key="..."}` or `{key0="...",key1="..."}` (empty for a map without keys), with `extra`
/// labels (`le`) after the key's.
fn labels(key: Option<&Value>, extra: Option<(&str, &str)>) -> String {
    let mut parts: Vec<String> = Vec::new();
    match key {
        None => {}
        Some(Value::Tuple(items)) => {
            for (i, v) in items.iter().enumerate() {
                parts.push(format!("key{i}=\"{}\"", label_text(v)));
            }
        }
        Some(v) => parts.push(format!("key=\"{}\"", label_text(v))),
    }
    if let Some((name, value)) = extra {
        parts.push(format!("{name}=\"{value}\""));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!("{{{}}}", parts.join(","))
    }
}

fn label_text(v: &Value) -> String {
    match v {
        Value::Str(bytes) => escape_label(bytes),
        other => escape_label(value_text(other).as_bytes()),
    }
}

fn number(v: &Value) -> String {
    match v {
        Value::Int(n) => n.to_string(),
        Value::UInt(n) => n.to_string(),
        // Strings and records have no number: 1 says the entry exists (an info-style gauge).
        _ => "1".into(),
    }
}

fn family(out: &mut String, d: &MapDump) {
    let name = metric_name(&d.name);
    let kind = match d.kind {
        AggKind::Count => "counter",
        AggKind::Avg | AggKind::Stats => "summary",
        AggKind::Hist | AggKind::Lhist => "histogram",
        AggKind::Plain | AggKind::Sum | AggKind::Min | AggKind::Max => "gauge",
    };
    let _ = writeln!(out, "# TYPE {name} {kind}");
    let _ = writeln!(out, "# HELP {name} map {} of the running script", d.name);
    let mut entries: Vec<&(Option<Value>, MapValue)> = d.entries.iter().collect();
    entries.sort_by_key(|(k, _)| labels(k.as_ref(), None));
    for (key, value) in entries {
        let key = key.as_ref();
        match value {
            MapValue::Scalar(v) => {
                let sample = if d.kind == AggKind::Count {
                    format!("{name}_total")
                } else {
                    name.clone()
                };
                let _ = writeln!(out, "{sample}{} {}", labels(key, None), number(v));
            }
            MapValue::Avg { count, total } | MapValue::Stats { count, total } => {
                let _ = writeln!(out, "{name}_count{} {count}", labels(key, None));
                let _ = writeln!(out, "{name}_sum{} {total}", labels(key, None));
            }
            MapValue::Hist(counts) => {
                let bounds = (0..counts.len()).map(hist_upper);
                buckets(out, &name, key, bounds.zip(counts.iter().copied()));
            }
            MapValue::Lhist {
                min,
                max,
                step,
                counts,
            } => {
                let n = counts.len();
                let bounds = (0..n).map(|i| lhist_upper(i, n, *min, *max, *step));
                buckets(out, &name, key, bounds.zip(counts.iter().copied()));
            }
        }
    }
}

/// The largest integer in hist bucket `i` (see `value::hist_bucket`); `None` for the last,
/// unbounded one.
fn hist_upper(i: usize) -> Option<i128> {
    match i {
        0 => Some(-1),
        1 => Some(0),
        64.. => None,
        k => Some((1i128 << (k - 1)) - 1),
    }
}

/// The largest integer in lhist bucket `i` of `n`: below min, each step, and the open top one.
fn lhist_upper(i: usize, n: usize, min: i64, max: i64, step: i64) -> Option<i128> {
    if i + 1 == n {
        return None;
    }
    let upper = min as i128 + step as i128 * i as i128 - 1;
    Some(upper.min(max as i128 - 1))
}

/// Cumulative buckets, `+Inf` and `_count`.
fn buckets(
    out: &mut String,
    name: &str,
    key: Option<&Value>,
    rows: impl Iterator<Item = (Option<i128>, u64)>,
) {
    let mut total = 0u64;
    for (upper, count) in rows {
        total += count;
        if let Some(upper) = upper {
            let le = upper.to_string();
            let _ = writeln!(
                out,
                "{name}_bucket{} {total}",
                labels(key, Some(("le", &le)))
            );
        }
    }
    let _ = writeln!(
        out,
        "{name}_bucket{} {total}",
        labels(key, Some(("le", "+Inf")))
    );
    let _ = writeln!(out, "{name}_count{} {total}", labels(key, None));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dump(name: &str, kind: AggKind, entries: Vec<(Option<Value>, MapValue)>) -> MapDump {
        MapDump {
            name: name.into(),
            kind,
            entries,
        }
    }

    #[test]
    fn counts_are_counters_with_key_labels() {
        let text = render(&[dump(
            "@opens",
            AggKind::Count,
            vec![
                (
                    Some(Value::Str(b"sh".to_vec())),
                    MapValue::Scalar(Value::UInt(3)),
                ),
                (
                    Some(Value::Str(b"cat".to_vec())),
                    MapValue::Scalar(Value::UInt(7)),
                ),
            ],
        )]);
        assert_eq!(
            text,
            "# TYPE rtrace_opens counter\n\
             # HELP rtrace_opens map @opens of the running script\n\
             rtrace_opens_total{key=\"cat\"} 7\n\
             rtrace_opens_total{key=\"sh\"} 3\n\
             # EOF\n"
        );
    }

    #[test]
    fn tuple_keys_and_escapes() {
        let key = Value::Tuple(vec![Value::Str(b"a\"b\\c\nd\xff".to_vec()), Value::Int(-2)]);
        let text = render(&[dump(
            "@",
            AggKind::Sum,
            vec![(Some(key), MapValue::Scalar(Value::Int(-5)))],
        )]);
        assert!(
            text.contains("rtrace_map{key0=\"a\\\"b\\\\c\\nd\\\\xff\",key1=\"-2\"} -5\n"),
            "{text}"
        );
        assert!(text.starts_with("# TYPE rtrace_map gauge\n"), "{text}");
    }

    #[test]
    fn hist_buckets_are_cumulative_integer_bounds() {
        // Buckets: negatives 1, zero 0, one 2, [2,4) 3.
        let text = render(&[dump(
            "@h",
            AggKind::Hist,
            vec![(None, MapValue::Hist(vec![1, 0, 2, 3]))],
        )]);
        let samples: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(
            samples,
            [
                "rtrace_h_bucket{le=\"-1\"} 1",
                "rtrace_h_bucket{le=\"0\"} 1",
                "rtrace_h_bucket{le=\"1\"} 3",
                "rtrace_h_bucket{le=\"3\"} 6",
                "rtrace_h_bucket{le=\"+Inf\"} 6",
                "rtrace_h_count 6",
            ]
        );
    }

    #[test]
    fn lhist_bounds_follow_the_steps() {
        // lhist(v, 0, 10, 5): below 0, [0,5), [5,10), [10,...).
        let text = render(&[dump(
            "@l",
            AggKind::Lhist,
            vec![(
                None,
                MapValue::Lhist {
                    min: 0,
                    max: 10,
                    step: 5,
                    counts: vec![0, 1, 2, 4],
                },
            )],
        )]);
        let samples: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(
            samples,
            [
                "rtrace_l_bucket{le=\"-1\"} 0",
                "rtrace_l_bucket{le=\"4\"} 1",
                "rtrace_l_bucket{le=\"9\"} 3",
                "rtrace_l_bucket{le=\"+Inf\"} 7",
                "rtrace_l_count 7",
            ]
        );
    }

    #[test]
    fn stats_are_summaries() {
        let text = render(&[dump(
            "@s",
            AggKind::Stats,
            vec![(
                Some(Value::UInt(1)),
                MapValue::Stats {
                    count: 4,
                    total: 10,
                },
            )],
        )]);
        assert!(text.contains("# TYPE rtrace_s summary\n"), "{text}");
        assert!(text.contains("rtrace_s_count{key=\"1\"} 4\nrtrace_s_sum{key=\"1\"} 10\n"));
    }
}
