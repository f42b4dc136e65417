//! Decoded values of map keys, map values and event records, as the printer receives them.
//! Produced by the runtime decoder from `sema::layout`; consumed by `output::print` and
//! `output::printf`.

/// One decoded scalar, string or tuple.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Value {
    /// A signed integer (printed with its sign).
    Int(i64),
    /// An unsigned integer.
    UInt(u64),
    /// A string's bytes up to (not including) the first NUL.
    Str(Vec<u8>),
    Tuple(Vec<Value>),
    /// A C array, element by element.
    Array(Vec<Value>),
    /// A C struct or union: each member's name and value.
    Record(Vec<(String, Value)>),
    /// Bytes of `buf()`: printed with printable ASCII as it is and `\xNN` for the rest.
    Buf(Vec<u8>),
    /// A stack (`kstack`, `ustack`): its frames' lines, printed after a newline, each followed
    /// by one. `indent`: the lines are indented as bpftrace 0.17 indents its default mode, by 4
    /// spaces in a map key and 8 elsewhere (perf-mode lines start with their own tab).
    Stack {
        lines: Vec<Vec<u8>>,
        indent: bool,
    },
}

/// Spaces before a stack's frames in a map key.
pub const KEY_INDENT: usize = 4;
/// Spaces before a stack's frames in a value, printf and print().
pub const VALUE_INDENT: usize = 8;

/// A stack's text: a newline, then each line (indented by `spaces` when `indent`) and a newline.
pub fn stack_text(lines: &[Vec<u8>], indent: bool, spaces: usize) -> Vec<u8> {
    let mut out = vec![b'\n'];
    for line in lines {
        if indent {
            out.resize(out.len() + spaces, b' ');
        }
        out.extend_from_slice(line);
        out.push(b'\n');
    }
    out
}

/// A buffer's text: printable ASCII as it is, every other byte as `\xNN`.
pub fn escaped(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for &b in bytes {
        if (0x20..0x7f).contains(&b) {
            out.push(b);
        } else {
            out.extend_from_slice(format!("\\x{b:02x}").as_bytes());
        }
    }
    out
}

/// Which function made a map's values; decides printing and sort order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AggKind {
    /// `@m = expr`
    Plain,
    Count,
    Sum,
    Min,
    Max,
    Avg,
    Stats,
    Hist,
    Lhist,
}

/// The value of one map entry, with per-CPU values already combined.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MapValue {
    /// Plain, count, sum, min and max values.
    Scalar(Value),
    Avg {
        count: u64,
        total: i64,
    },
    Stats {
        count: u64,
        total: i64,
    },
    /// Counts indexed by `hist_bucket`; trailing buckets may be missing (count 0).
    Hist(Vec<u64>),
    /// Counts indexed by `lhist_bucket`.
    Lhist {
        min: i64,
        max: i64,
        step: i64,
        counts: Vec<u64>,
    },
}

/// One map as printed at exit or by `print(@m)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapDump {
    /// `@` or `@name`.
    pub name: String,
    pub kind: AggKind,
    /// The key (`None` for a map written without `[...]`) and its value, in any order: the printer
    /// sorts them as bpftrace 0.17 does.
    pub entries: Vec<(Option<Value>, MapValue)>,
}

/// Number of hist buckets: index 0 holds negatives, 1 holds 0, 2 holds 1, and index `k >= 3`
/// holds `[2^(k-2), 2^(k-1))`, up to `[2^62, 2^63)` at 64.
pub const HIST_BUCKETS: usize = 65;

/// The hist bucket of a value (see `HIST_BUCKETS`). Codegen computes the same in the kernel.
pub fn hist_bucket(v: i64) -> usize {
    if v < 0 {
        0
    } else if v == 0 {
        1
    } else {
        2 + (63 - v.leading_zeros() as usize)
    }
}

/// The number of lhist buckets for `min, max, step`: `(max - min) / step` in-range buckets plus
/// one below and one at or above max.
pub fn lhist_buckets(min: i64, max: i64, step: i64) -> usize {
    lhist_steps(min, max, step) as usize + 2
}

/// The number of whole steps in `[min, max)`; the range may span more than `i64` holds.
pub fn lhist_steps(min: i64, max: i64, step: i64) -> i64 {
    ((i128::from(max) - i128::from(min)) / i128::from(step.max(1))) as i64
}

/// The lhist bucket of a value: 0 below min, `1 + (v - min) / step` in range, and the last bucket
/// (`[max, ...)`) at or above max or in a last partial bucket.
pub fn lhist_bucket(v: i64, min: i64, max: i64, step: i64) -> usize {
    let n = lhist_steps(min, max, step) as usize;
    if v < min {
        0
    } else if v >= max {
        n + 1
    } else {
        (((i128::from(v) - i128::from(min)) / i128::from(step)) as usize + 1).min(n + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hist_buckets_follow_powers_of_two() {
        assert_eq!(hist_bucket(-5), 0);
        assert_eq!(hist_bucket(0), 1);
        assert_eq!(hist_bucket(1), 2);
        assert_eq!(hist_bucket(2), 3);
        assert_eq!(hist_bucket(3), 3);
        assert_eq!(hist_bucket(4), 4);
        assert_eq!(hist_bucket(1023), 11);
        assert_eq!(hist_bucket(1024), 12);
        assert_eq!(hist_bucket(i64::MAX), 64);
    }

    #[test]
    fn lhist_buckets_clamp_both_ends() {
        assert_eq!(lhist_buckets(0, 10, 3), 5);
        assert_eq!(lhist_bucket(-1, 0, 10, 3), 0);
        assert_eq!(lhist_bucket(0, 0, 10, 3), 1);
        assert_eq!(lhist_bucket(8, 0, 10, 3), 3);
        assert_eq!(lhist_bucket(9, 0, 10, 3), 4);
        assert_eq!(lhist_bucket(10, 0, 10, 3), 4);
    }

    #[test]
    fn lhist_ranges_wider_than_i64_count_their_steps() {
        let (min, max, step) = (-i64::MAX, i64::MAX, i64::MAX / 4);
        assert_eq!(lhist_buckets(min, max, step), 10);
        assert_eq!(lhist_bucket(0, min, max, step), 5);
        assert_eq!(lhist_bucket(i64::MAX - 1, min, max, step), 9);
    }
}
