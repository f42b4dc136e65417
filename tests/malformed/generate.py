#!/usr/bin/env python3
# Writes the malformed scripts of tests/malformed/ (run from anywhere; output is deterministic).
# Every script here must be rejected by `rtrace --compile-only` with a spanned diagnostic; see
# tests/malformed.rs. Regenerate with `python3 tests/malformed/generate.py` and commit the result.
import os
import random

OUT = os.path.dirname(os.path.abspath(__file__))
files = {}


def put(name, text):
    data = text.encode("utf-8") if isinstance(text, str) else text
    assert name not in files, name
    files[name + ".bt"] = data


# Valid scripts whose prefixes are truncated programs.
BASES = {
    "maps": 'kprobe:do_nanosleep /pid > 100/ { @calls[comm, pid] = count(); @last = nsecs; }\n'
            'END { print(@calls); clear(@last); }\n',
    "ifelse": 'BEGIN { $x = 3; if ($x > 2) { printf("big %d\\n", $x); } '
              'else if ($x == 2) { printf("two\\n"); } else { exit(); } }\n',
    "loops": 'interval:s:1 { $i = 0; while ($i < 10) { $i++; if ($i == 5) { continue; } '
             '@h = hist($i); } unroll(3) { @n += 1; } }\n',
    "tracepoint": 'tracepoint:syscalls:sys_enter_openat { @[str(args->filename)] = '
                  'lhist(args->flags, 0, 100, 10); $t = (uint32)-1; @s = (comm, $t ? 1 : 0); }\n',
}


def token_boundaries(text):
    """Offsets where a token ends: before every space and after every punctuation mark."""
    cuts = set()
    for i, ch in enumerate(text):
        if ch.isspace() or not (ch.isalnum() or ch in "_$@"):
            cuts.add(i)
            cuts.add(i + 1)
    return sorted(c for c in cuts if 0 < c < len(text.rstrip()))


def complete(prefix):
    """A prefix that ends a probe at the top level is itself a valid program."""
    depth = 0
    in_str = False
    for i, ch in enumerate(prefix):
        if in_str:
            if ch == "\\":
                continue
            in_str = ch != '"' or prefix[i - 1] == "\\"
        elif ch == '"':
            in_str = True
        elif ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
    return depth == 0 and prefix.rstrip().endswith("}")


for base, text in BASES.items():
    # Every character prefix of the first script, token prefixes of the others.
    cuts = range(1, len(text.rstrip())) if base == "maps" else token_boundaries(text)
    n = 0
    for c in cuts:
        prefix = text[:c]
        if prefix.strip() and not complete(prefix):
            put(f"trunc_{base}_{n:03}", prefix)
            n += 1

# Binary junk, alone and after a valid probe.
rng = random.Random(4)
for i in range(12):
    junk = bytes(rng.randrange(256) for _ in range(rng.choice([1, 7, 64, 512, 4096])))
    put(f"junk_{i:02}", junk)
    put(f"junk_after_probe_{i:02}", b"BEGIN { exit(); }\n" + junk.replace(b"/", b"?") + b" {")
put("junk_nul_bytes", b"BEGIN { \x00\x00\x00 }\n")
put("junk_nul_in_attach", b"kprobe:do_\x00nanosleep { }\n")
put("junk_control_chars", bytes(range(1, 32)) + b"BEGIN { }\n")
put("junk_del_and_high", b"BEGIN { $x = 1 \x7f\xff\xfe; }\n")

# Invalid UTF-8 where code is expected (inside comments and strings it is replaced, not wrong).
BAD = [b"\xff", b"\xc3\x28", b"\xe2\x82", b"\xf0\x28\x8c\xbc", b"\xed\xa0\x80", b"\xc0\xaf"]
for i, b in enumerate(BAD):
    put(f"utf8_ident_{i}", b"BEGIN { $x" + b + b" = 1; }\n")
    put(f"utf8_probe_{i}", b"kprobe:" + b + b" { }\n")
    put(f"utf8_toplevel_{i}", b + b"BEGIN { }\n")
    put(f"utf8_map_{i}", b"BEGIN { @" + b + b" = 1; }\n")
put("utf8_bom_inside", "BEGIN { \ufeff$x = 1; }\n")
put("utf8_nonascii_ident", "BEGIN { $größe = 1; @x = größe; }\n")

# Deep nesting: 10,000 levels of every construct that nests.
D = 10_000
put("deep_parens", "BEGIN { $x = " + "(" * D + "1" + ")" * D + "; }\n")
put("deep_parens_unclosed", "BEGIN { $x = " + "(" * D + "1; }\n")
put("deep_brackets", "BEGIN { @x" + "[@x" * D + "[1" + "]" * (D + 1) + " = 1; }\n")
put("deep_blocks", "BEGIN " + "{ " * D + "}" * D + "\n")
put("deep_if_blocks", "BEGIN { " + "if (1) { " * D + "}" * D + " }\n")
put("deep_while", "BEGIN { " + "while (1) { " * D + "}" * D + " }\n")
put("deep_not", "BEGIN { $x = " + "!" * D + "1; }\n")
put("deep_neg", "BEGIN { $x = " + "- " * D + "1; }\n")
put("deep_tilde", "BEGIN { $x = " + "~" * D + "1; }\n")
put("deep_deref", "BEGIN { $x = " + "*" * D + "1; }\n")
put("deep_addr", "BEGIN { $x = " + "&" * D + "1; }\n")
put("deep_incr", "BEGIN { $x = " + "++" * D + "$y; }\n")
put("deep_casts", "BEGIN { $x = " + "(uint8)" * D + "1; }\n")
put("deep_ternary_right", "BEGIN { $x = " + "1 ? " * D + "1" + " : 0" * D + "; }\n")
put("deep_ternary_left", "BEGIN { $x = " + "1 ? 1 : " * D + "0; }\n")
put("deep_else_if", "BEGIN { if (1) { }" + " else if (1) { }" * D + " }\n")
put("deep_call_str", "BEGIN { $x = " + "str(" * D + "\"a\"" + ")" * D + "; }\n")
put("deep_call_unclosed", "BEGIN { printf(" * 2000 + "\n")
put("deep_sum", "BEGIN { $x = 1" + " + 1" * D + "; }\n")
put("deep_and", "BEGIN { if (1" + " && 1" * D + ") { } }\n")
put("deep_compare", "BEGIN { $x = 1" + " < 1" * D + "; }\n")
put("deep_fields", "tracepoint:syscalls:sys_enter_openat { $x = args" + "->a" * D + "; }\n")
put("deep_tuple_index", "BEGIN { $x = (1, 2)" + ".0" * D + "; }\n")
put("deep_tuples", "BEGIN { $x = " + "(1, " * D + "1" + ")" * D + "; }\n")
put("deep_assign", "BEGIN { " + "$x = " * D + "1; }\n")
put("deep_predicate", "BEGIN /" + "(" * D + "1" + ")" * D + "/ { }\n")

# Integer literals too large for 64 bits, and malformed ones.
for i, lit in enumerate([
    "18446744073709551616", "99999999999999999999999999999", "1" + "0" * 10_000,
    "0x1" + "0" * 16, "0x" + "f" * 1000, "1_000_000_000_000_000_000_000", "0b2", "0xg",
    "0x", "1__", "18446744073709551616u", "-99999999999999999999999",
]):
    put(f"int_{i:02}", f"BEGIN {{ $x = {lit}; }}\n")
put("int_huge_in_attach", "interval:s:99999999999999999999999 { }\n")
put("int_huge_lhist", "BEGIN { @ = lhist(1, 0, 99999999999999999999999, 1); }\n")
put("int_huge_param", "BEGIN { $x = $99999999999999999999; }\n")

# Huge strings: a megabyte, unterminated, as a map key, as a printf format with a bad argument.
MB = 1 << 20
put("huge_string_unterminated", 'BEGIN { $s = "' + "A" * MB + "; }\n")
put("huge_string_then_error", 'BEGIN { $s = "' + "A" * MB + '"; $s = 1; }\n')
KB64 = 1 << 16
put("huge_printf_format", 'BEGIN { printf("' + "%d" * (KB64 // 2) + '\\n", "x"); }\n')
put("huge_identifier", "BEGIN { $" + "a" * KB64 + " = 1; @x = $" + "b" * KB64 + "; }\n")
put("huge_comment_unterminated", "BEGIN { } /*" + "x" * KB64 + "\n")
put("huge_attach_point", "kprobe:" + "f" * KB64 + " { } BEGIN { @x = undefined_fn(); }\n")

# Every keyword and punctuation mark where it cannot go.
TOKENS = {
    "if": "if", "else": "else", "unroll": "unroll", "while": "while", "break": "break",
    "continue": "continue", "return": "return", "struct": "struct", "union": "union",
    "enum": "enum", "lbrace": "{", "rbrace": "}", "lparen": "(", "rparen": ")",
    "lbracket": "[", "rbracket": "]", "semi": ";", "comma": ",", "colon": ":", "question": "?",
    "dot": ".", "arrow": "->", "plus": "+", "minus": "-", "star": "*", "slash": "/",
    "percent": "%", "amp": "&", "pipe": "|", "caret": "^", "bang": "!", "tilde": "~",
    "lt": "<", "gt": ">", "le": "<=", "ge": ">=", "eq": "==", "ne": "!=", "andand": "&&",
    "oror": "||", "shl": "<<", "shr": ">>", "assign": "=", "plus_eq": "+=", "minus_eq": "-=",
    "star_eq": "*=", "slash_eq": "/=", "percent_eq": "%=", "amp_eq": "&=", "pipe_eq": "|=",
    "caret_eq": "^=", "shl_eq": "<<=", "shr_eq": ">>=", "incr": "++", "decr": "--",
    "dollar_hash": "$#", "at": "@", "quote": '"', "hash": "#", "backtick": "`",
    "backslash": "\\",
}
CONTEXTS = {
    "before_probe": "{t} BEGIN {{ }}\n",
    "after_attach": "BEGIN {t} {{ }}\n",
    "as_value": "BEGIN {{ $x = {t}; }}\n",
    "after_value": "BEGIN {{ $x = 1 {t} }}\n",
    "as_key": "BEGIN {{ @x[{t}] = 1; }}\n",
    "in_call": "BEGIN {{ printf({t}); }}\n",
}
# A token that is correct in a context (`BEGIN { $x = 1 ; }`, `- BEGIN` is not) is left out.
FITS = {
    ("after_value", "semi"), ("after_value", "rbrace"), ("after_attach", "comma"),
    ("before_probe", "lbrace"), ("as_value", "dollar_hash"), ("as_key", "dollar_hash"),
    # `# ...` at the top is a preprocessor line; `struct BEGIN { }` a struct definition.
    ("before_probe", "hash"), ("before_probe", "struct"),
}
for ctx, shape in CONTEXTS.items():
    for name, tok in TOKENS.items():
        if (ctx, name) not in FITS:
            put(f"tok_{ctx}_{name}", shape.format(t=tok))

# Semantic errors: unknown names, types, argument counts, attach points.
SEMA = {
    "unknown_function": "BEGIN { frobnicate(1); }",
    "unknown_builtin": "BEGIN { $x = nosuchbuiltin; }",
    "unknown_builtin_as_key": "BEGIN { @x[nosuchbuiltin] = 1; }",
    "unknown_probe_type": "nosuchprobe:foo { }",
    "unknown_probe_type_short": "zz:foo:bar { }",
    "undefined_variable": "BEGIN { printf(\"%d\\n\", $nope); }",
    "undefined_map": "BEGIN { print(@never); }",
    "string_plus_int": "BEGIN { $x = \"a\" + 1; }",
    "string_compare_int": "BEGIN { if (comm == 1) { } }",
    "variable_retyped": "BEGIN { $x = 1; $x = \"s\"; }",
    "map_retyped": "BEGIN { @x = 1; @x = \"s\"; }",
    "map_key_arity": "BEGIN { @x[1] = 1; @x[1, 2] = 1; }",
    "map_key_type": "BEGIN { @x[1] = 1; @x[\"a\"] = 1; }",
    "aggregate_then_int": "BEGIN { @x = count(); @x = 1; }",
    "aggregate_in_variable": "BEGIN { $x = count(); }",
    "aggregate_in_arith": "BEGIN { @x = count() + 1; }",
    "count_with_arg": "BEGIN { @x = count(1); }",
    "sum_no_arg": "BEGIN { @x = sum(); }",
    "sum_string": "BEGIN { @x = sum(comm); }",
    "hist_two_args": "BEGIN { @x = hist(1, 2, 3); }",
    "lhist_missing_args": "BEGIN { @x = lhist(1, 0); }",
    "lhist_variable_bound": "BEGIN { $m = 10; @x = lhist(1, 0, $m, 1); }",
    "lhist_zero_step": "BEGIN { @x = lhist(1, 0, 10, 0); }",
    "lhist_max_below_min": "BEGIN { @x = lhist(1, 10, 0, 1); }",
    "printf_no_args": "BEGIN { printf(); }",
    "printf_format_not_literal": "BEGIN { $f = \"%d\"; printf($f, 1); }",
    "printf_too_few": "BEGIN { printf(\"%d %d\\n\", 1); }",
    "printf_too_many": "BEGIN { printf(\"%d\\n\", 1, 2); }",
    "printf_type": "BEGIN { printf(\"%d\\n\", comm); }",
    "printf_bad_conversion": "BEGIN { printf(\"%q\\n\", 1); }",
    "printf_format_int": "BEGIN { printf(1); }",
    "exit_two_args": "BEGIN { exit(1, 2); }",
    "exit_string": "BEGIN { exit(\"no\"); }",
    "str_no_args": "BEGIN { $s = str(); }",
    "str_three_args": "BEGIN { $s = str(1, 2, 3); }",
    "print_no_args": "BEGIN { print(); }",
    "clear_not_map": "BEGIN { clear(1); }",
    "zero_not_map": "BEGIN { $x = 1; zero($x); }",
    "delete_no_key": "BEGIN { @x[1] = 1; delete(); }",
    "delete_not_map": "BEGIN { delete(1); }",
    "builtin_called": "BEGIN { $x = pid(); }",
    "function_as_value": "BEGIN { $x = printf; }",
    "assign_to_builtin": "BEGIN { pid = 1; }",
    "assign_to_literal": "BEGIN { 1 = 2; }",
    "assign_to_call": "BEGIN { str(1) = 2; }",
    "increment_literal": "BEGIN { 1++; }",
    "break_outside_loop": "BEGIN { break; }",
    "continue_outside_loop": "BEGIN { continue; }",
    "unroll_zero": "BEGIN { unroll(0) { } }",
    "unroll_huge": "BEGIN { unroll(1000000) { } }",
    "unroll_variable": "BEGIN { $n = 2; unroll($n) { } }",
    "cpid_without_command": "BEGIN { printf(\"%d\\n\", cpid); }",
    "system_without_unsafe": "BEGIN { system(\"true\"); }",
    "retval_in_kprobe": "kprobe:do_nanosleep { $r = retval; }",
    "args_in_kprobe": "kprobe:do_nanosleep { $a = args->x; }",
    "args_in_begin": "BEGIN { $a = args->x; }",
    "arg_in_tracepoint": "tracepoint:syscalls:sys_enter_openat { $a = arg0; }",
    "tracepoint_no_field": "tracepoint:syscalls:sys_enter_openat { $a = args->nosuchfield; }",
    "tuple_index_out_of_range": "BEGIN { $t = (1, 2); $x = $t.5; }",
    "tuple_index_int": "BEGIN { $x = 1; $y = $x.0; }",
    "field_of_int": "BEGIN { $x = 1; $y = $x->f; }",
    "ternary_mixed_types": "BEGIN { $x = 1 ? 1 : \"s\"; }",
    "condition_string": "BEGIN { if (\"s\") { } }",
    "predicate_string": "BEGIN /comm/ { }",
    "negate_string": "BEGIN { $x = -comm; }",
    "cast_string": "BEGIN { $x = (uint32)comm; }",
    "cast_unknown_type": "BEGIN { $x = (struct nosuch *)1; $y = $x->f; }",
    "positional_as_string_arith": "BEGIN { $x = str($1) + 1; }",
    "map_as_scalar_and_keyed": "BEGIN { @x = 1; @x[1] = 1; }",
    "stats_twice_args": "BEGIN { @x = stats(1, 2); }",
    "avg_string": "BEGIN { @x = avg(\"s\"); }",
    "min_no_arg": "BEGIN { @x = min(); }",
    "empty_block_only_predicate": "BEGIN / / { }",
    "duplicate_begin_field": "BEGIN { $x = comm.len; }",
    "sizeof_unknown": "BEGIN { $x = sizeof(struct nosuch); }",
    "shift_string": "BEGIN { $x = comm << 1; }",
    "nested_probe": "BEGIN { END { } }",
    "include_after_code": "BEGIN { }\n#include <linux/sched.h>",
    "struct_definition_bad": "struct { int x; } BEGIN { }",
}
for name, text in SEMA.items():
    put(f"sema_{name}", text + "\n")

PROBES = [
    "kprobe:", "kprobe", "kprobe::", "kprobe:do_nanosleep:extra", "kprobe:do_nanosleep+",
    "kretprobe:", "kretprobe:f+8", "uprobe:", "uprobe:/nonexistent/binary:main",
    "uprobe:/bin/sh", "uretprobe:/nonexistent:f", "tracepoint:", "tracepoint:syscalls",
    "tracepoint:nosuchcategory:nosuchevent", "tracepoint:syscalls:nosuchevent",
    "tracepoint:nomatch*:*", "tracepoint:syscalls:sys_enter_openat:extra", "interval:",
    "interval:s", "interval:s:", "interval:s:0", "interval:lightyears:1", "interval:s:abc",
    "interval:s:-1", "profile:", "profile:hz:0", "profile:hz", "profile:parsec:99",
    "software:", "software:nosuchevent:1", "hardware:nosuch:1", "BEGIN:x", "END:1",
    "usdt:", "watchpoint:0x1:8:rwx", "kfunc:", "iter:task", "k:", "t:a", "i:s:x", "*:*",
    "*", ":", "::", "kprobe:do_nanosleep,", ",BEGIN", "BEGIN,,END", "kprobe:a b",
]
for i, ap in enumerate(PROBES):
    put(f"probe_{i:02}", ap + " { exit(); }\n")

# Inputs the fuzz targets (fuzz/) found crashing; each stays as a regression test.
CRASHES = {
    # sema/stmt.rs indexed past its three lhist bounds when given five arguments.
    "lhist_five_args": "BEGIN { @l = lhist(0, 0, 100, 10, 1000); }",
    # sema/stmt.rs computed max - min in i64 and overflowed.
    "lhist_range_overflow": "BEGIN { @l = lhist(1, -1, 0x7fffffffffffffff, 1); }",
    "lhist_range_overflow_signed": "BEGIN { @l = lhist(1, -9223372036854775807, "
                                   "9223372036854775807, 1); }",
}
for name, text in CRASHES.items():
    put(f"crash_{name}", text + "\n")

for name, data in files.items():
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)
print(f"{len(files)} scripts in {OUT}")
