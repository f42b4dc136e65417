//! Tests of `output::print` against bpftrace 0.17's own output, kept in `tests/fixtures/print`.
//!
//! Each `NAME.out` is what `bpftrace NAME.bt` printed (see `regen.sh`); the tests build the maps
//! that program makes by hand and compare the printer's bytes with the file.

use super::*;
use crate::output::value::{hist_bucket, lhist_bucket, lhist_buckets, HIST_BUCKETS};

pub(crate) fn int(i: i64) -> Value {
    Value::Int(i)
}

pub(crate) fn s(text: &str) -> Value {
    Value::Str(text.as_bytes().to_vec())
}

pub(crate) fn keys(items: Vec<Value>) -> Option<Value> {
    Some(Value::Tuple(items))
}

pub(crate) fn dump(name: &str, kind: AggKind, entries: Vec<(Option<Value>, MapValue)>) -> MapDump {
    MapDump {
        name: name.to_string(),
        kind,
        entries,
    }
}

pub(crate) fn scalar(v: Value) -> MapValue {
    MapValue::Scalar(v)
}

pub(crate) fn hist(samples: &[i64]) -> MapValue {
    let mut counts = vec![0; HIST_BUCKETS];
    for &v in samples {
        counts[hist_bucket(v)] += 1;
    }
    MapValue::Hist(counts)
}

pub(crate) fn lhist(samples: &[i64], min: i64, max: i64, step: i64) -> MapValue {
    let mut counts = vec![0; lhist_buckets(min, max, step)];
    for &v in samples {
        counts[lhist_bucket(v, min, max, step)] += 1;
    }
    MapValue::Lhist {
        min,
        max,
        step,
        counts,
    }
}

pub(crate) fn stats(samples: &[i64]) -> MapValue {
    MapValue::Stats {
        count: samples.len() as u64,
        total: samples.iter().sum(),
    }
}

pub(crate) fn avg(samples: &[i64]) -> MapValue {
    MapValue::Avg {
        count: samples.len() as u64,
        total: samples.iter().sum(),
    }
}

/// The maps of `scalars.bt`, entries deliberately out of order.
pub(crate) fn scalars_maps() -> Vec<MapDump> {
    use AggKind::*;
    vec![
        dump(
            "@s",
            Sum,
            vec![
                (Some(s("a")), scalar(int(10))),
                (Some(s("b")), scalar(int(-5))),
                (Some(s("c")), scalar(int(3))),
            ],
        ),
        dump(
            "@c",
            Count,
            vec![
                (Some(int(-1)), scalar(Value::UInt(3))),
                (Some(int(2)), scalar(Value::UInt(2))),
                (Some(int(1)), scalar(Value::UInt(1))),
            ],
        ),
        dump(
            "@p",
            Plain,
            vec![
                (keys(vec![int(0), s("z")]), scalar(int(100))),
                (keys(vec![int(1), s("x")]), scalar(int(7))),
                (keys(vec![int(2), s("y")]), scalar(int(-2))),
            ],
        ),
        dump("@n", Plain, vec![(None, scalar(int(5)))]),
        dump("@neg", Plain, vec![(None, scalar(int(-9)))]),
        dump(
            "@mn",
            Min,
            vec![
                (Some(int(1)), scalar(int(5))),
                (Some(int(3)), scalar(int(4))),
                (Some(int(2)), scalar(int(-3))),
            ],
        ),
        dump(
            "@mx",
            Max,
            vec![
                (Some(int(1)), scalar(int(9))),
                (Some(int(2)), scalar(int(3))),
            ],
        ),
    ]
}

pub(crate) fn keys_maps() -> Vec<MapDump> {
    use AggKind::Plain;
    let pair = |i, t| scalar(Value::Tuple(vec![int(i), s(t)]));
    vec![
        dump(
            "@t",
            Plain,
            vec![
                (Some(int(-1)), pair(3, "c")),
                (Some(int(256)), pair(1, "a")),
                (Some(int(0)), pair(4, "d")),
                (Some(int(1)), pair(2, "b")),
            ],
        ),
        dump(
            "@nest",
            Plain,
            vec![(
                None,
                scalar(Value::Tuple(vec![
                    int(4),
                    Value::Tuple(vec![int(5), s("d")]),
                    int(-6),
                ])),
            )],
        ),
        dump(
            "@str",
            Plain,
            vec![
                (Some(s("beta")), scalar(s("x"))),
                (Some(s("alphabet")), scalar(s("z"))),
                (Some(s("alpha")), scalar(s("y"))),
                (Some(s("")), scalar(s("e"))),
            ],
        ),
        dump(
            "@m",
            Plain,
            vec![
                (keys(vec![int(2), s("a")]), scalar(s("q"))),
                (keys(vec![int(1), s("b")]), scalar(s("r"))),
                (keys(vec![int(1), s("a")]), scalar(s("s"))),
            ],
        ),
    ]
}

pub(crate) fn hist_maps() -> Vec<MapDump> {
    let mut bar = vec![1];
    bar.extend([2; 3]);
    bar.extend([4; 7]);
    bar.extend([8; 13]);
    vec![
        dump(
            "@k",
            AggKind::Hist,
            vec![
                (Some(int(3)), hist(&[2, 2, 2])),
                (Some(int(1)), hist(&[3])),
                (Some(int(2)), hist(&[100, 100])),
            ],
        ),
        dump(
            "@h",
            AggKind::Hist,
            vec![(None, hist(&[-3, 0, 1, 1, 5, 1_000_000, 1_073_741_824]))],
        ),
        dump("@bar", AggKind::Hist, vec![(None, hist(&bar))]),
    ]
}

pub(crate) fn lhist_maps() -> Vec<MapDump> {
    let one = |name: &str, v: MapValue| dump(name, AggKind::Lhist, vec![(None, v)]);
    vec![
        one("@a", lhist(&[-1, 3, 10, 7, 7], 0, 10, 1)),
        one("@b", lhist(&[3000, 9999], 0, 10000, 1000)),
        one("@c", lhist(&[500, 2047], 0, 2048, 512)),
        one("@d", lhist(&[5, 9, 1], 0, 10, 3)),
        one("@e", lhist(&[1, 2_000_000], 1024, 2_097_152, 524_288)),
        one("@f", lhist(&[3_145_728, 5], 0, 4_194_304, 1_048_576)),
        dump(
            "@g",
            AggKind::Lhist,
            vec![
                (Some(int(2)), lhist(&[50, 55], 0, 100, 10)),
                (Some(int(1)), lhist(&[5], 0, 100, 10)),
            ],
        ),
    ]
}

pub(crate) fn stats_maps() -> Vec<MapDump> {
    vec![
        dump("@s", AggKind::Stats, vec![(None, stats(&[-3, -4]))]),
        dump(
            "@t",
            AggKind::Stats,
            vec![
                (Some(int(2)), stats(&[20, 40])),
                (Some(int(1)), stats(&[10])),
                (Some(int(3)), stats(&[5])),
            ],
        ),
        dump("@a", AggKind::Avg, vec![(None, avg(&[7, 8]))]),
        dump(
            "@b",
            AggKind::Avg,
            vec![
                (Some(int(1)), avg(&[-5, -2])),
                (Some(int(2)), avg(&[3])),
                (Some(int(3)), avg(&[-10])),
            ],
        ),
        dump("@c", AggKind::Count, vec![(None, scalar(Value::UInt(1)))]),
    ]
}

/// `empty.bt` after its clear(), delete() and zero() calls, as the runtime reads the maps back.
pub(crate) fn empty_maps() -> Vec<MapDump> {
    use AggKind::*;
    vec![
        dump("@a", Plain, vec![]),
        dump("@b", Count, vec![(None, scalar(Value::UInt(0)))]),
        dump("@h", Hist, vec![]),
        dump("@s", Stats, vec![]),
        dump("@v", Avg, vec![]),
        dump("@z", Hist, vec![(None, hist(&[]))]),
        dump("@y", Lhist, vec![(None, lhist(&[], 0, 10, 1))]),
        dump("@n", Stats, vec![(None, stats(&[]))]),
        dump("@w", Avg, vec![(None, avg(&[]))]),
        dump("@x", Plain, vec![(None, scalar(int(1)))]),
    ]
}

pub(crate) fn names_maps() -> Vec<MapDump> {
    let names = [
        ("@z", 1),
        ("@a", 2),
        ("@", 3),
        ("@_", 4),
        ("@A", 5),
        ("@ab", 6),
        ("@a_b", 7),
        ("@a1", 8),
    ];
    names
        .iter()
        .map(|&(n, v)| dump(n, AggKind::Plain, vec![(None, scalar(int(v)))]))
        .collect()
}

pub(crate) fn print_maps() -> (MapDump, MapDump) {
    let x = dump(
        "@x",
        AggKind::Sum,
        (1..=4)
            .zip([3, 5, 6, 7])
            .map(|(k, v)| (Some(int(k)), scalar(int(v))))
            .collect(),
    );
    let h = dump(
        "@h",
        AggKind::Hist,
        vec![
            (Some(int(3)), hist(&[2, 2, 2])),
            (Some(int(2)), hist(&[1, 1])),
            (Some(int(1)), hist(&[1])),
        ],
    );
    (x, h)
}

fn exit_text(maps: &[MapDump]) -> String {
    attaching(1) + &maps_at_exit(maps)
}

#[test]
fn scalars_sort_by_value() {
    let want = include_str!("../../tests/fixtures/print/scalars.out");
    assert_eq!(exit_text(&scalars_maps()), want);
}

#[test]
fn keys_sort_unsigned_and_by_bytes() {
    let want = include_str!("../../tests/fixtures/print/keys.out");
    assert_eq!(exit_text(&keys_maps()), want);
}

#[test]
fn hist_rows_and_bars() {
    let want = include_str!("../../tests/fixtures/print/hist.out");
    assert_eq!(exit_text(&hist_maps()), want);
}

#[test]
fn lhist_labels() {
    let want = include_str!("../../tests/fixtures/print/lhist.out");
    assert_eq!(exit_text(&lhist_maps()), want);
}

#[test]
fn stats_and_avg_end_with_a_blank_line() {
    let want = include_str!("../../tests/fixtures/print/stats.out");
    assert_eq!(exit_text(&stats_maps()), want);
}

#[test]
fn empty_and_zeroed_maps() {
    let want = include_str!("../../tests/fixtures/print/empty.out");
    assert_eq!(exit_text(&empty_maps()), want);
}

#[test]
fn maps_print_in_name_order() {
    let want = include_str!("../../tests/fixtures/print/names.out");
    assert_eq!(exit_text(&names_maps()), want);
}

#[test]
fn print_with_top_and_div() {
    let (x, h) = print_maps();
    let mut got = attaching(1);
    got += "A\n";
    got += &map_text_top(&x, 2, 1);
    got += "B\n";
    got += &map_text_top(&x, 0, 2);
    got += "C\n";
    got += &map_text_top(&h, 1, 2);
    got += "D\n";
    got += &map_text(&h);
    for v in [
        int(5),
        s("abc"),
        Value::Tuple(vec![int(1), s("a"), int(-2)]),
    ] {
        got += &(value_text(&v) + "\n");
    }
    let cleared = [
        dump("@x", AggKind::Sum, vec![]),
        dump("@h", AggKind::Hist, vec![]),
    ];
    got += &maps_at_exit(&cleared);
    let want = include_str!("../../tests/fixtures/print/print.out");
    assert_eq!(got, want);
}

#[test]
fn escapes_are_raw_in_text() {
    let want = include_str!("../../tests/fixtures/print/escapes.out");
    let maps = [
        dump(
            "@",
            AggKind::Plain,
            vec![(Some(s("q\"\\\t\n")), scalar(int(1)))],
        ),
        dump(
            "@t",
            AggKind::Plain,
            vec![(None, scalar(Value::Tuple(vec![int(1), s("a\"b")])))],
        ),
    ];
    let printf = "a\x01b\rc/d\x7f|\x08\x0c\x1f \"q\" \\ \t\n";
    assert_eq!(attaching(1) + printf + &maps_at_exit(&maps), want);
}

/// 0.17 lumps these into `[2G, 4G)`; later bpftrace and rtrace label them correctly.
#[test]
fn hist_above_two_gig() {
    let m = dump(
        "@",
        AggKind::Hist,
        vec![(None, hist(&[1 << 31, 1 << 40, i64::MAX]))],
    );
    let text = map_text(&m);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[1],
        "[2G, 4G)               1 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|"
    );
    assert!(lines.contains(
        &"[1T, 2T)               1 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|"
    ));
    assert!(lines.contains(
        &"[512P, 1E)             0 |                                                    |"
    ));
    assert_eq!(
        lines[lines.len() - 2],
        "[4E, 8E)               1 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|"
    );
    assert_eq!(lines.len(), 34);
}

#[test]
fn ties_order_by_little_endian_key_bytes() {
    let m = dump(
        "@x",
        AggKind::Count,
        vec![
            (Some(int(1)), scalar(Value::UInt(1))),
            (Some(int(-1)), scalar(Value::UInt(1))),
            (Some(int(512)), scalar(Value::UInt(1))),
            (Some(int(256)), scalar(Value::UInt(1))),
        ],
    );
    assert_eq!(
        map_text(&m),
        "@x[256]: 1\n@x[512]: 1\n@x[1]: 1\n@x[-1]: 1\n"
    );
}

#[test]
fn lost_events_wording() {
    // As printed by bpftrace 0.17 when the perf buffer overflowed.
    assert_eq!(lost_events(1), "Lost 1 events\n");
    assert_eq!(lost_events(144), "Lost 144 events\n");
    assert_eq!(attaching(2), "Attaching 2 probes...\n");
}

/// Malformed dumps (too many hist buckets, a zero lhist step) print something, never panic.
#[test]
fn odd_inputs_do_not_panic() {
    let long = dump(
        "@h",
        AggKind::Hist,
        vec![(None, MapValue::Hist(vec![1; 200]))],
    );
    assert_eq!(map_text(&long).lines().count(), 67);
    let odd = MapValue::Lhist {
        min: i64::MIN,
        max: i64::MAX,
        step: 0,
        counts: vec![1, 1, 1],
    };
    let text = map_text(&dump("@l", AggKind::Lhist, vec![(None, odd.clone())]));
    assert!(text.starts_with("@l: \n(..., -8796093022208M)"));
    let json = crate::output::json::map(&dump("@l", AggKind::Lhist, vec![(None, odd)]));
    assert!(json
        .starts_with("{\"type\": \"hist\", \"data\": {\"@l\": [{\"max\": -9223372036854775809, "));
}

#[test]
fn records_and_arrays_print_as_bpftrace_does() {
    let rec = Value::Record(vec![
        ("weight".into(), Value::UInt(1048576)),
        ("inv_weight".into(), Value::UInt(4194304)),
    ]);
    assert_eq!(
        value_text(&rec),
        "{ .weight = 1048576, .inv_weight = 4194304 }"
    );
    let arr = Value::Array(vec![rec.clone(), Value::Record(Vec::new())]);
    assert_eq!(
        value_text(&arr),
        "[{ .weight = 1048576, .inv_weight = 4194304 },{ }]"
    );
    assert_eq!(
        crate::output::json::value(&rec),
        "{\"type\": \"value\", \"data\": { \"weight\": 1048576, \"inv_weight\": 4194304 }}\n"
    );
}

#[test]
fn struct_and_array_keys_with_equal_values_sort_by_their_bytes() {
    let rec = |a: u64, s: &str| {
        Value::Record(vec![
            ("a".into(), Value::UInt(a)),
            ("s".into(), Value::Str(s.into())),
        ])
    };
    let arr = |a: u64, b: u64| Value::Array(vec![Value::UInt(a), Value::UInt(b)]);
    let one = || MapValue::Scalar(Value::Int(1));
    // In the kernel's hash order (any order): printed by the keys' bytes, little-endian
    // (512 is 00 02 ..., before 1, 01 00 ...).
    let r = dump(
        "@r",
        AggKind::Plain,
        vec![
            (Some(rec(0x200, "a")), one()),
            (Some(rec(1, "b")), one()),
            (Some(rec(1, "a")), one()),
        ],
    );
    let a = dump(
        "@a",
        AggKind::Plain,
        vec![(Some(arr(2, 0)), one()), (Some(arr(1, 5)), one())],
    );
    assert_eq!(
        maps_at_exit(&[a, r]),
        "\n\n@a[[1,5]]: 1\n@a[[2,0]]: 1\n@r[{.a=512,.s=a}]: 1\n@r[{.a=1,.s=a}]: 1\n@r[{.a=1,.s=b}]: 1\n"
    );
}
