//! `--flamegraph FILE`: every map keyed by a stack (`kstack`, `ustack`, alone or with other
//! keys) drawn as one flame graph SVG at exit, with the inferno crate. Fed by the run's end
//! with the same `MapDump`s it prints.
//!
//! Each entry is one folded stack: the other key parts first (a process name becomes the
//! root frame), then the stack's frames from the outermost to the innermost, each frame's
//! `+offset` and address left out so that calls from one function merge; its weight is the
//! entry's value (a count or sum; the number of values of an avg, stats or histogram).

use super::print::value_text;
use super::value::{MapDump, MapValue, Value};

/// The folded lines (`root;...;leaf WEIGHT`) of every stack-keyed entry of `dumps`, sorted.
pub fn folded(dumps: &[MapDump]) -> Vec<String> {
    let mut lines = Vec::new();
    for d in dumps {
        for (key, value) in &d.entries {
            let Some(key) = key else { continue };
            let parts: Vec<&Value> = match key {
                Value::Tuple(items) => items.iter().collect(),
                v => vec![v],
            };
            if !parts.iter().any(|p| matches!(p, Value::Stack { .. })) {
                continue;
            }
            let weight = weight(value);
            if weight == 0 {
                continue;
            }
            let mut frames: Vec<String> = Vec::new();
            for p in parts {
                match p {
                    // bpftrace lists the innermost frame first.
                    Value::Stack { lines, .. } => {
                        frames.extend(lines.iter().rev().map(|l| frame_name(l)))
                    }
                    other => frames.push(clean(&value_text(other))),
                }
            }
            if frames.is_empty() {
                frames.push("[no frames]".into());
            }
            lines.push(format!("{} {weight}", frames.join(";")));
        }
    }
    lines.sort();
    lines
}

fn weight(v: &MapValue) -> u64 {
    match v {
        MapValue::Scalar(Value::Int(n)) => (*n).max(0) as u64,
        MapValue::Scalar(Value::UInt(n)) => *n,
        MapValue::Scalar(_) => 1,
        MapValue::Avg { count, .. } | MapValue::Stats { count, .. } => *count,
        MapValue::Hist(c) => c.iter().sum(),
        MapValue::Lhist { counts, .. } => counts.iter().sum(),
    }
}

/// A frame's function: `vfs_read+26` -> `vfs_read`; perf's `\tffffffff81234 vfs_read+26
/// ([kernel.kallsyms])` -> `vfs_read`; an unnamed address stays as it is.
fn frame_name(line: &[u8]) -> String {
    let text = String::from_utf8_lossy(line);
    let text = text.trim();
    let mut words = text.split_whitespace();
    let first = words.next().unwrap_or("");
    // perf mode: the address comes first, the symbol second.
    let sym = match words.next() {
        Some(second) if first.chars().all(|c| c.is_ascii_hexdigit()) => second,
        _ => first,
    };
    let name = match sym.rfind('+') {
        Some(i) if i > 0 => &sym[..i],
        _ => sym,
    };
    clean(name)
}

/// A frame name without the characters folded stacks use as separators.
fn clean(s: &str) -> String {
    s.replace([';', '\n'], "_").replace(' ', "_")
}

/// Writes the flame graph of `dumps` to `path`; an error when no map is keyed by a stack.
pub fn write_svg(dumps: &[MapDump], path: &std::path::Path) -> Result<usize, String> {
    let lines = folded(dumps);
    if lines.is_empty() {
        return Err(format!(
            "--flamegraph {}: no map keyed by a kstack or ustack has entries",
            path.display()
        ));
    }
    let file = std::fs::File::create(path)
        .map_err(|e| format!("--flamegraph: cannot create {}: {e}", path.display()))?;
    let mut options = inferno::flamegraph::Options::default();
    options.title = "rtrace".into();
    options.count_name = "samples".into();
    inferno::flamegraph::from_lines(
        &mut options,
        lines.iter().map(String::as_str),
        std::io::BufWriter::new(file),
    )
    .map_err(|e| format!("--flamegraph: {e}"))?;
    Ok(lines.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::value::AggKind;

    fn stack(frames: &[&str]) -> Value {
        Value::Stack {
            lines: frames.iter().map(|f| f.as_bytes().to_vec()).collect(),
            indent: true,
        }
    }

    #[test]
    fn stacks_fold_root_first_without_offsets() {
        let d = MapDump {
            name: "@".into(),
            kind: AggKind::Count,
            entries: vec![
                (
                    Some(stack(&["vfs_read+26", "ksys_read+101", "do_syscall_64+90"])),
                    MapValue::Scalar(Value::UInt(3)),
                ),
                (
                    Some(Value::Tuple(vec![
                        Value::Str(b"my prog".to_vec()),
                        stack(&["\tffffffff81000000 schedule+5 ([kernel.kallsyms])"]),
                    ])),
                    MapValue::Hist(vec![0, 2, 1]),
                ),
                // Not keyed by a stack: left out.
                (Some(Value::UInt(1)), MapValue::Scalar(Value::UInt(9))),
            ],
        };
        assert_eq!(
            folded(&[d]),
            ["do_syscall_64;ksys_read;vfs_read 3", "my_prog;schedule 3",]
        );
    }

    #[test]
    fn svg_names_the_frames() {
        let d = MapDump {
            name: "@".into(),
            kind: AggKind::Count,
            entries: vec![(
                Some(stack(&["leaf_fn+1", "root_fn+2"])),
                MapValue::Scalar(Value::UInt(5)),
            )],
        };
        let path = std::env::temp_dir().join(format!("rtrace-fg-{}.svg", std::process::id()));
        assert_eq!(write_svg(&[d], &path), Ok(1));
        let svg = std::fs::read_to_string(&path).unwrap();
        let _ = std::fs::remove_file(&path);
        assert!(svg.starts_with("<?xml"), "{}", &svg[..100]);
        assert!(svg.contains("leaf_fn") && svg.contains("root_fn"));
    }
}
