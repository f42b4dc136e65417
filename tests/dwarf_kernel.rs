//! Kernel tests of uprobe types from DWARF (root, real uprobes): a program taking structs,
//! unions, enums, typedefs, arrays and bitfields (tests/fixtures/dwarf/structs.c) is built with
//! `cc -g` into a temp dir and traced with `-c`. What bpftrace 0.17 reads from DWARF must print
//! byte for byte what it prints (text and JSON); what it cannot read (bitfields, anonymous
//! members, unions, arrays of arrays, floats, negative enum values) must print the values the
//! program stored.

mod common;

use common::{command, kernel_test, no_panic, Output};
use std::sync::OnceLock;

const BIN: &str = env!("CARGO_BIN_EXE_rtrace");

/// The fixture program, built once per test run.
fn structs() -> &'static str {
    static STRUCTS: OnceLock<String> = OnceLock::new();
    STRUCTS.get_or_init(|| {
        let src = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/dwarf/structs.c"
        );
        let exe = common::build_c(
            "dwarf-kernel",
            std::path::Path::new(src),
            &["-O0", "-g"],
            "the DWARF tests need a C compiler",
        );
        exe.to_string_lossy().into_owned()
    })
}

fn run(tracer: &str, args: &[&str]) -> Output {
    let out = common::run(command(tracer, args));
    if tracer == BIN {
        no_panic(&out);
    }
    out
}

/// Runs `script` on the fixture with rtrace and bpftrace 0.17 (with `flags`) and asserts the
/// same stdout.
fn same_as_bpftrace(script: &str, flags: &[&str]) {
    let bin = structs();
    let mut args: Vec<&str> = flags.to_vec();
    args.extend(["-e", script, "-c", bin]);
    let theirs = run("bpftrace", &args);
    assert!(
        theirs.code == Some(0) && theirs.stdout.contains("first 4 7 7"),
        "bpftrace 0.17 rejected the script:\n{}{}",
        theirs.stdout,
        theirs.stderr
    );
    let ours = run(BIN, &args);
    ours.expect_code(0);
    assert_eq!(
        ours.stdout, theirs.stdout,
        "rtrace stderr:\n{}",
        ours.stderr
    );
}

/// Structs, nested structs, arrays of structs and integers, char arrays, enums and typedefs
/// through arguments, casts and variables: printed, printf'd, stored in maps, as map keys.
const READABLE_BY_BPFTRACE: &str = r#"
uprobe:BIN:take_outer {
  print(*args->o);
  printf("%s %d %d %d\n", args->o->name, args->o->origin.y, args->o->corners[1].x, args->o->raw[2]);
  printf("%s %d %d %d %d\n", args->ch->item->name, args->ch->next->depth,
         args->ch->next->item->count, args->c, args->n);
  print(args->o->corners);
  print(args->o->origin);
  print(args->o->raw);
  @o = *args->o;
  @c[args->o->color] = count();
  @s[args->o->name] = args->o->origin;
  printf("%d %d\n", sizeof(struct outer), sizeof(struct point));
  printf("%d\n", ((struct point *)arg0)->x);
  $p = (struct chain *)arg4;
  printf("%d %s\n", $p->next->depth, $p->item->name);
  exit();
}
"#;

#[test]
fn reads_what_bpftrace_reads_as_bpftrace_prints_it() {
    kernel_test(|| {
        let script = READABLE_BY_BPFTRACE.replace("BIN", structs());
        same_as_bpftrace(&script, &[]);
        same_as_bpftrace(&script, &["-f", "json"]);
    });
}

#[test]
fn bitfields_anonymous_members_unions_and_arrays_of_arrays() {
    kernel_test(|| {
        let bin = structs();
        let script = r#"uprobe:BIN:take_flags {
  printf("%d %d %d %llx %c\n", args->f->a, args->f->b, args->f->neg, args->f->wide, args->f->tail);
  print(*args->f);
  printf("%s %d\n", str(args->label), args->num->i);
  printf("%d %d %d %d %d\n", args->an->before, args->an->inner_a, args->an->inner_b,
         args->an->as_int, args->an->either.low);
  printf("%d %d %d\n", args->an->grid[1][2], args->an->grid[0][1], args->an->sign);
  print(args->an->grid);
  print(args->an->num);
  printf("%d %d\n", sizeof(struct anon), sizeof(struct flags));
  exit();
}"#
        .replace("BIN", bin);
        let out = run(BIN, &["-e", &script, "-c", bin]);
        out.expect_code(0);
        assert_eq!(
            out.stdout,
            "Attaching 1 probe...\n\
             5 100 -7 123456789a z\n\
             { .a = 5, .b = 100, .neg = -7, .wide = 78187493530, .tail = 122 }\n\
             lbl -1\n\
             1 11 -12 13 77\n\
             6 2 -1\n\
             [[1,2,3],[4,5,6]]\n\
             { .i = 1094861636, .bytes = DCBA }\n\
             80 8\n\n\n"
        );
    });
}

#[test]
fn arguments_after_a_struct_or_a_double_are_in_their_registers() {
    kernel_test(|| {
        let bin = structs();
        // take_many(struct point, double, int a, ...): `a` is in the second integer register.
        let script = format!(
            "uprobe:{bin}:take_many {{ printf(\"%d %d %d %d %d\\n\", args->a, args->b, args->c, \
             args->e, args->f); exit(); }}"
        );
        let out = run(BIN, &["-e", &script, "-c", bin]);
        out.expect_code(0);
        assert_eq!(out.stdout, "Attaching 1 probe...\n1 2 3 4 5\n\n\n");
    });
}

#[test]
fn lists_arguments_as_bpftrace_does() {
    let bin = structs();
    let pattern = format!("uprobe:{bin}:take_*");
    let ours = run(BIN, &["-lv", &pattern]);
    ours.expect_code(0);
    let theirs = run("bpftrace", &["-lv", &pattern]);
    assert_eq!(ours.stdout, theirs.stdout);
    assert!(ours
        .stdout
        .contains("    outer_t* same\n    enum color c\n"));
}

#[test]
fn unknown_members_and_types_are_spanned_errors() {
    let bin = structs();
    let script = format!("uprobe:{bin}:take_outer {{ @ = args->o->nothing; }}");
    let out = run(BIN, &["-e", &script]);
    out.expect_code(1);
    assert!(
        out.stderr.contains("struct outer has no member 'nothing'")
            && out
                .stderr
                .contains("its members are: name, origin, corners, color, count, raw"),
        "{}",
        out.stderr
    );
    // A cast in a probe of another program does not find the fixture's types.
    let out = run(
        BIN,
        &[
            "-e",
            "uprobe:/bin/bash:readline { @ = ((struct chain *)arg0)->depth; }",
        ],
    );
    out.expect_code(1);
    assert!(out.stderr.contains("'struct chain'"), "{}", out.stderr);
}
