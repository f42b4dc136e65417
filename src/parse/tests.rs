//! Unit tests of the frontend: scripts in, AST dumps or diagnostics out.

use super::{dump, parse};
use crate::ast::*;
use crate::source::Source;

fn ok(text: &str) -> Program {
    let src = Source::new("t.bt", text);
    match parse(&src) {
        Ok(p) => p,
        Err(e) => panic!("{text}\n{}", crate::diag::render(&src, &e)),
    }
}

fn err(text: &str) -> String {
    let src = Source::new("t.bt", text);
    match parse(&src) {
        Ok(p) => panic!("parsed: {text}\n{}", dump(&p, &src)),
        Err(e) => {
            let d = &e[0];
            match &d.label {
                Some(l) => format!("{}: {l}", d.message),
                None => d.message.clone(),
            }
        }
    }
}

fn tree(text: &str) -> String {
    let src = Source::new("t.bt", text);
    let p = ok(text);
    dump(&p, &src)
        .lines()
        .map(|l| l.rsplit_once(" @").map_or(l, |p| p.0).trim().to_string())
        .collect::<Vec<_>>()
        .join("|")
}

/// The dump of the first statement's expression in `BEGIN { $z = EXPR; }`.
fn expr(text: &str) -> String {
    let t = tree(&format!("BEGIN {{ $z = {text}; }}"));
    t.split("AssignVar $z =|").nth(1).unwrap_or("").to_string()
}

#[test]
fn precedence_and_associativity() {
    assert_eq!(expr("1 + 2 * 3"), "Binary +|Int 1|Binary *|Int 2|Int 3");
    assert_eq!(expr("1 - 2 - 3"), "Binary -|Binary -|Int 1|Int 2|Int 3");
    assert_eq!(
        expr("a || b && c"),
        "Binary |||Builtin a|Binary &&|Builtin b|Builtin c"
    );
    assert_eq!(
        expr("1 ? 2 : 3 ? 4 : 5"),
        "Ternary|Int 1|Int 2|Ternary|Int 3|Int 4|Int 5"
    );
    assert_eq!(expr("1 << 2 + 3"), "Binary <<|Int 1|Binary +|Int 2|Int 3");
    assert_eq!(expr("1 & 2 == 3"), "Binary &|Int 1|Binary ==|Int 2|Int 3");
    assert_eq!(expr("-1"), "Unary -|Int 1");
    assert_eq!(expr("!~*$p"), "Unary !|Unary ~|Unary *|Var $p");
}

#[test]
fn postfix_and_primary() {
    assert_eq!(
        expr("args->x[1].y"),
        "Field .y|Index|Field ->x|Builtin args|Int 1"
    );
    assert_eq!(expr("$t.0"), "Field .0|Var $t");
    assert_eq!(expr("@m[1, 2]"), "Map @m|Int 1|Int 2");
    assert_eq!(expr("@[1]"), "Map @|Int 1");
    assert_eq!(expr("@m[1][2]"), "Index|Map @m|Int 1|Int 2");
    assert_eq!(expr("(1, \"a\")"), "Tuple|Int 1|Str \"a\"");
    assert_eq!(expr("((1))"), "Int 1");
    assert_eq!(expr("$1 + $#"), "Binary +|PosParam $1|PosParamCount $#");
    assert_eq!(expr("str(arg0, 8)"), "Call str|Builtin arg0|Int 8");
    assert_eq!(expr("$x++"), "IncDec ++ postfix|Var $x");
    assert_eq!(expr("--@x"), "IncDec -- prefix|Map @x");
}

#[test]
fn casts() {
    assert_eq!(expr("(uint32)1"), "Cast (uint32)|Int 1");
    assert_eq!(expr("(uint64)-1"), "Cast (uint64)|Unary -|Int 1");
    assert_eq!(expr("(pid) - 1"), "Binary -|Builtin pid|Int 1");
    assert_eq!(
        expr("(struct task_struct *)curtask->mm"),
        "Cast (struct task_struct *)|Field ->mm|Builtin curtask"
    );
    assert_eq!(expr("sizeof(struct foo)"), "Call sizeof|Builtin struct foo");
    assert_eq!(expr("sizeof(uint32)"), "Call sizeof|Builtin uint32");
}

#[test]
fn statements() {
    let t = tree("BEGIN { $x += 1; @m[pid] <<= 2; if (1) { } else if (2) { } else { return } }");
    assert!(t.contains("AssignVar $x +="), "{t}");
    assert!(t.contains("AssignMap <<=|Map @m|Builtin pid|Int 2"), "{t}");
    assert!(t.contains("Else|If|Int 2|Then|Else|Return"), "{t}");
    let t = tree("BEGIN { ;; unroll(3) { break; } while ($i < 3) { continue } exit(); }");
    assert!(t.contains("Unroll|Int 3|Body|Break|While"), "{t}");
    assert!(t.ends_with("Continue|ExprStmt|Call exit"), "{t}");
    ok("BEGIN { if (1) { } $x = 1 }");
    ok("BEGIN {}");
}

#[test]
fn program_level() {
    let text = "#include <linux/sched.h>\n#define X 1\n\
                struct Foo { int x; char name[16]; struct Bar *p; unsigned long **q; };\n\
                kprobe:a, kretprobe:b /pid == 1/ { } i:s:1 { }";
    let t = tree(text);
    assert!(
        t.starts_with("Program|Include \"linux/sched.h\"|Directive \"#define X 1\""),
        "{t}"
    );
    assert!(
        t.contains("Field x: int|Field name: char[16]|Field p: struct Bar *"),
        "{t}"
    );
    assert!(t.contains("Field q: unsigned long **"), "{t}");
    assert!(
        t.contains("AttachPoint kprobe:a|AttachPoint kretprobe:b|Predicate"),
        "{t}"
    );
}

#[test]
fn spans_are_lines_and_columns() {
    let src = Source::new("t.bt", "BEGIN {\n  $x = 1;\n}");
    let p = ok(&src.text);
    let d = dump(&p, &src);
    assert!(d.contains("    AssignVar $x = @2:3-2:9\n"), "{d}");
    assert!(d.starts_with("Program @1:1-3:2\n"), "{d}");
}

#[test]
fn errors_are_plain() {
    assert_eq!(
        err("BEGIN { $x = 1 $y = 2 }"),
        "unexpected variable '$y': expected ';' or '}' after a statement"
    );
    assert_eq!(
        err("BEGIN { printf(\"a\" }"),
        "unexpected '}': expected ')'"
    );
    assert_eq!(
        err("BEGIN { $x = ; }"),
        "unexpected ';': expected an expression"
    );
    assert_eq!(err("BEGIN { printf(\"a); }"), "unterminated string");
    assert_eq!(
        err("BEGIN { $x = 99999999999999999999; }"),
        "integer literal too large"
    );
    assert_eq!(err("BEGIN { $x = 09; }"), "invalid integer literal");
    assert_eq!(
        err("BEGIN { $x = 1;"),
        "unexpected end of input: missing '}'"
    );
    assert_eq!(err("BEGIN { } }"), "unexpected '}': expected a probe");
}

#[test]
fn deep_input_is_rejected_not_overflowed() {
    for text in [
        format!("BEGIN {{ $x = {}1; }}", "-".repeat(10_000)),
        format!("BEGIN {{ $x = 1{}; }}", " + 1".repeat(10_000)),
        format!(
            "BEGIN {{ $x = {}1{}; }}",
            "(".repeat(10_000),
            ")".repeat(10_000)
        ),
        format!("BEGIN {}{}", "{ if (1) ".repeat(10_000), "}".repeat(10_000)),
        format!("BEGIN {{ $x = @a{}; }}", "[1]".repeat(10_000)),
        format!(
            "BEGIN {{ if (1) {{ }} {}}}",
            "else if (1) { } ".repeat(10_000)
        ),
    ] {
        let m = err(&text);
        assert!(m.contains("too deeply") || m.contains("too long"), "{m}");
    }
    ok(&format!("BEGIN {{ $x = {}1; }}", "-".repeat(500)));
    ok(&format!(
        "BEGIN {{ if (1) {{ }} {}}}",
        "else if (1) { } ".repeat(500)
    ));
}

#[test]
fn junk_never_panics() {
    let mut seed = 0x1234_5678u32;
    let alphabet = "{}()[];,:?.-+*/%&|^!~<>=@$#\"\\ \n\tab01x_/*";
    let chars: Vec<char> = alphabet.chars().chain(['\u{1}', 'é']).collect();
    for _ in 0..3000 {
        let mut s = String::from("BEGIN { ");
        for _ in 0..(seed % 40) {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
            s.push(chars[(seed >> 16) as usize % chars.len()]);
        }
        let src = Source::new("j.bt", s);
        if let Ok(p) = parse(&src) {
            let _ = dump(&p, &src);
        }
    }
}

#[test]
fn bundled_tools_parse() {
    let Ok(dir) = std::fs::read_dir("/usr/sbin") else {
        return;
    };
    for entry in dir.flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "bt") {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            let src = Source::new(path.display().to_string(), text);
            if let Err(e) = parse(&src) {
                panic!("{}", crate::diag::render(&src, &e));
            }
        }
    }
}

#[test]
fn nested_records_are_defined_before_their_holder() {
    let t = tree(
        "struct Foo { struct { int m[1] } y; union U { int a; long b; } *u; \
         struct { int n; }; } BEGIN { }",
    );
    assert!(
        t.starts_with(
            "Program|Struct (anonymous struct at 13)|Field m: int[1]|Union U|Field a: int|\
             Field b: long|Struct (anonymous struct at 67)|Field n: int|Struct Foo|\
             Field y: struct (anonymous struct at 13)|Field u: union U *|\
             Field : struct (anonymous struct at 67)"
        ),
        "{t}"
    );
    assert!(tree("union V { int a; char c; } BEGIN { }").contains("Union V|Field a: int"));
}
