//! Tests of `output::printf`: expectations are bpftrace 0.17's output for the same printf
//! (regenerate with a BEGIN probe of one printf each), or C's printf for flags 0.17 lacks.

use super::*;

fn s(text: &str) -> Value {
    Value::Str(text.as_bytes().to_vec())
}

fn run(fmt: &str, args: &[Value]) -> String {
    match format(fmt, args) {
        Ok(text) => text,
        Err(e) => format!("error: {e}"),
    }
}

/// Each format, its arguments, and the line bpftrace 0.17 printed for it.
#[test]
fn matches_bpftrace() {
    let cases: Vec<(&str, Vec<Value>, &str)> = vec![
        ("%d", vec![Value::Int(5000000000)], "705032704"),
        ("%d", vec![Value::Int(-7)], "-7"),
        ("%d", vec![Value::Int(2147483648)], "-2147483648"),
        ("%u", vec![Value::Int(-1)], "4294967295"),
        ("%u", vec![Value::Int(5000000000)], "705032704"),
        ("%x", vec![Value::Int(-1)], "ffffffff"),
        ("%X", vec![Value::Int(255)], "FF"),
        ("%o", vec![Value::Int(8)], "10"),
        ("%ld", vec![Value::Int(5000000000)], "5000000000"),
        ("%lu", vec![Value::Int(-1)], "18446744073709551615"),
        ("%lx", vec![Value::Int(-1)], "ffffffffffffffff"),
        ("%lld", vec![Value::Int(-5)], "-5"),
        ("%llu", vec![Value::Int(-1)], "18446744073709551615"),
        ("%llx", vec![Value::Int(5000000000)], "12a05f200"),
        ("%hd", vec![Value::Int(70000)], "4464"),
        ("%hhd", vec![Value::Int(300)], "44"),
        ("%hu", vec![Value::Int(-1)], "65535"),
        ("%hhx", vec![Value::Int(-1)], "ff"),
        ("%hhu", vec![Value::Int(255)], "255"),
        ("%hhd", vec![Value::Int(255)], "-1"),
        ("%hx", vec![Value::Int(-1)], "ffff"),
        ("%lX", vec![Value::Int(48879)], "BEEF"),
        ("%lo", vec![Value::Int(-1)], "1777777777777777777777"),
        ("%llo", vec![Value::Int(8)], "10"),
        ("[%5d]", vec![Value::Int(42)], "[   42]"),
        ("[%-5d]", vec![Value::Int(42)], "[42   ]"),
        ("[%05d]", vec![Value::Int(42)], "[00042]"),
        ("[%-3d]", vec![Value::Int(-5)], "[-5 ]"),
        ("[%03d]", vec![Value::Int(-5)], "[-05]"),
        ("[%5.3d]", vec![Value::Int(7)], "[  007]"),
        ("[%-08d]", vec![Value::Int(7)], "[7       ]"),
        ("[%.5d]", vec![Value::Int(7)], "[00007]"),
        ("[%.3d]", vec![Value::Int(-5)], "[-005]"),
        ("[%.0d]", vec![Value::Int(0)], "[]"),
        ("[%5.0d]", vec![Value::Int(0)], "[     ]"),
        ("[%10.4x]", vec![Value::Int(255)], "[      00ff]"),
        ("[%8.3x]", vec![Value::Int(-1)], "[ffffffff]"),
        ("[%-10s]", vec![s("ab")], "[ab        ]"),
        ("[%10s]", vec![s("ab")], "[        ab]"),
        ("[%.3s]", vec![s("abcdef")], "[abc]"),
        ("[%8.3s]", vec![s("abcdef")], "[     abc]"),
        ("[%05s]", vec![s("ab")], "[   ab]"),
        ("[%.2s]", vec![s("abc")], "[ab]"),
        ("[%1s]", vec![s("abc")], "[abc]"),
        ("[%s]", vec![s("")], "[]"),
        ("[%5s]", vec![s("")], "[     ]"),
        ("[%c]", vec![Value::Int(65)], "[A]"),
        ("[%5c]", vec![Value::Int(66)], "[    B]"),
        ("[%c]", vec![Value::Int(321)], "[A]"),
        ("[%-3c]", vec![Value::Int(67)], "[C  ]"),
        ("[%05c]", vec![Value::Int(65)], "[    A]"),
        ("[%p]", vec![Value::Int(4096)], "[0x1000]"),
        ("[%p]", vec![Value::Int(0)], "[(nil)]"),
        ("[%10p]", vec![Value::Int(4096)], "[    0x1000]"),
        ("[%-10p]", vec![Value::Int(4096)], "[0x1000    ]"),
        ("[%010p]", vec![Value::Int(4096)], "[0x00001000]"),
        ("[%.3p]", vec![Value::Int(4096)], "[0x1000]"),
        ("[%10p]", vec![Value::Int(0)], "[     (nil)]"),
        ("[%p]", vec![Value::Int(-1)], "[0xffffffffffffffff]"),
        ("[%lp]", vec![Value::Int(-1)], "[0xffffffffffffffff]"),
        ("[%x]", vec![Value::Int(2147483648)], "[80000000]"),
        ("[%lx]", vec![Value::Int(-2147483648)], "[ffffffff80000000]"),
        ("[%d]", vec![Value::Int(2147483648)], "[-2147483648]"),
        ("[%ld]", vec![Value::Int(2147483648)], "[2147483648]"),
        ("100%% %s", vec![s("x")], "100% x"),
        ("a%%b%dc", vec![Value::Int(1)], "a%b1c"),
        ("[%d %q]", vec![Value::Int(1)], "[1 %q]"),
        ("[%ls]", vec![], "[%ls]"),
        ("[%5%]", vec![], "[%5%]"),
        ("%s and %s", vec![s("a"), s("b")], "a and b"),
        (
            "%d-%s-%x",
            vec![Value::Int(10), s("mid"), Value::Int(255)],
            "10-mid-ff",
        ),
        ("tail %", vec![], "tail %"),
        ("%-", vec![], "%-"),
    ];
    for (fmt, args, want) in cases {
        assert_eq!(run(fmt, &args), want, "format {fmt:?}");
    }
}

/// Flags bpftrace 0.17's parser does not accept (it prints them wrongly); the expectations are
/// coreutils `printf`'s output, which follows C.
#[test]
fn c_flags() {
    let cases = [
        ("[%+d]", 42, "[+42]"),
        ("[%+d]", -42, "[-42]"),
        ("[% d]", 42, "[ 42]"),
        ("[% 5d]", 42, "[   42]"),
        ("[%+05d]", 42, "[+0042]"),
        ("[%#x]", 255, "[0xff]"),
        ("[%#X]", 255, "[0XFF]"),
        ("[%#o]", 8, "[010]"),
        ("[%#x]", 0, "[0]"),
        ("[%#o]", 0, "[0]"),
        ("[%#08x]", 255, "[0x0000ff]"),
        ("[%#.5o]", 8, "[00010]"),
        ("[%-+5d]", 3, "[+3   ]"),
        ("[%#.0o]", 0, "[0]"),
        ("[% +d]", 7, "[+7]"),
        ("[%+u]", 7, "[7]"),
    ];
    for (fmt, arg, want) in cases {
        assert_eq!(run(fmt, &[Value::Int(arg)]), want, "format {fmt:?}");
    }
}

/// 0.17 prints `%%` as `%%` when printf has no arguments and does not know `%i`.
#[test]
fn fixed_in_rtrace() {
    assert_eq!(run("100%%", &[]), "100%");
    assert_eq!(
        run(
            "%i|%5i|%li",
            &[Value::Int(-7), Value::Int(3), Value::Int(-1)]
        ),
        "-7|    3|-1"
    );
    assert_eq!(run("%u", &[Value::UInt(u64::MAX)]), "4294967295");
}

#[test]
fn parse_reports_kinds_and_spans() {
    let specs = parse("a %-08lx %s%c %%d %q %5.2hhu").unwrap_or_default();
    let got: Vec<(Range<usize>, ArgKind, &str, u32)> = specs
        .iter()
        .map(|s| (s.span.clone(), s.kind, s.length, s.bits))
        .collect();
    assert_eq!(
        got,
        vec![
            (2..8, ArgKind::Int, "l", 64),
            (9..11, ArgKind::Str, "", 32),
            (11..13, ArgKind::Char, "", 32),
            (21..28, ArgKind::Int, "hh", 8),
        ]
    );
    let first = &specs[0];
    assert!(first.left && first.zero && !first.plus && first.width == 8);
    assert_eq!(specs[3].precision, Some(2));
    assert!(parse("%99999999999d").is_err());
}

/// Messages as bpftrace 0.17 words them (after `stdin:L:C-C: ERROR: `).
#[test]
fn check_messages() {
    let specs = |f: &str| parse(f).unwrap_or_default();
    let int = ArgType::Integer;
    let string = ArgType::String;
    let cases = [
        (
            "%-5s\n",
            vec![int],
            "printf: %s specifier expects a value of type string (integer supplied)",
        ),
        (
            "%d\n",
            vec![string],
            "printf: %d specifier expects a value of type integer (string supplied)",
        ),
        (
            "%c\n",
            vec![string],
            "printf: %c specifier expects a value of type integer (string supplied)",
        ),
        (
            "%s %d\n",
            vec![int],
            "printf: Not enough arguments for format string (1 supplied, 2 expected)",
        ),
        (
            "%lx %5.2lu\n",
            vec![string, string],
            "printf: %lx specifier expects a value of type integer (string supplied)",
        ),
        (
            "[%ls][%lc][%5%][%hhs]\n",
            vec![string, int, string],
            "printf: Too many arguments for format string (3 supplied, 0 expected)",
        ),
        (
            "[%d][%s]\n",
            vec![ArgType::Other("tuple"), int],
            "printf: %d specifier expects a value of type integer (tuple supplied)",
        ),
    ];
    for (fmt, args, want) in cases {
        assert_eq!(
            check("printf", &specs(fmt), &args),
            Err(want.to_string()),
            "{fmt}"
        );
    }
    assert_eq!(
        check("printf", &specs("%d %s %c"), &[int, string, int]),
        Ok(())
    );
}

#[test]
fn format_writes_raw_bytes_into_a_reused_buffer() {
    let f = Format::new("<%s>").unwrap_or_else(|_| unreachable!());
    let mut out = Vec::new();
    assert_eq!(f.write(&mut out, &[Value::Str(vec![0xff, b'a'])]), Ok(()));
    assert_eq!(out, b"<\xffa>");
    out.clear();
    assert!(f.write(&mut out, &[Value::Int(1)]).is_err());
    assert!(f.write(&mut out, &[]).is_err());
}
