//! Differential tests: each tests/diff/NAME.bt runs under rtrace and under bpftrace 0.17, and the two stdouts must be byte-identical.
//!
//! Beside `NAME.bt`, optional files configure the run: `NAME.cmd` holds a `-c` command line,
//! `NAME.args` the positional parameters (split on whitespace) and `NAME.flags` extra flags such
//! as `-f json` or `-q`. bpftrace's stderr is dropped (it warns about RLIMIT_MEMLOCK there).

mod common;

use common::{command, Output};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

const BIN: &str = env!("CARGO_BIN_EXE_rtrace");

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/diff")
}

/// The reference tracer; fails every test with a clear message when it is missing.
fn bpftrace() -> &'static str {
    static CHECKED: OnceLock<Result<(), String>> = OnceLock::new();
    let checked = CHECKED.get_or_init(|| {
        let out = std::process::Command::new("bpftrace")
            .arg("--version")
            .output()
            .map_err(|e| format!("cannot run bpftrace: {e}"))?;
        let version = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if version.starts_with("bpftrace v0.17") {
            Ok(())
        } else {
            Err(format!("found {version:?}, not bpftrace v0.17"))
        }
    });
    if let Err(e) = checked {
        panic!(
            "the differential tests need bpftrace 0.17 as the reference \
             (apt-get install -y bpftrace): {e}"
        );
    }
    "bpftrace"
}

fn words(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .map(|s| s.split_whitespace().map(String::from).collect())
        .unwrap_or_default()
}

/// The command line after the tracer's name: flags, `-c CMD`, the script, its parameters.
fn arguments(name: &str) -> Vec<String> {
    let dir = dir();
    let script = dir.join(format!("{name}.bt"));
    assert!(script.is_file(), "no script {}", script.display());
    let mut args = words(&dir.join(format!("{name}.flags")));
    if let Ok(cmd) = std::fs::read_to_string(dir.join(format!("{name}.cmd"))) {
        args.push("-c".into());
        args.push(cmd.trim().to_string());
    }
    let params = words(&dir.join(format!("{name}.args")));
    if !params.is_empty() {
        // Parameters such as `-3` are not options.
        args.push("--".into());
    }
    args.push(script.display().to_string());
    args.extend(params);
    args
}

fn run(tracer: &str, args: &[String]) -> Output {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    common::run(command(tracer, &args))
}

/// The first line where `a` and `b` differ, 1-based, with both versions.
fn first_difference(a: &str, b: &str) -> String {
    let (mut la, mut lb) = (a.split_inclusive('\n'), b.split_inclusive('\n'));
    for n in 1.. {
        match (la.next(), lb.next()) {
            (None, None) => break,
            (x, y) if x == y => continue,
            (x, y) => return format!("line {n}: bpftrace {x:?}, rtrace {y:?}"),
        }
    }
    "none".into()
}

fn check(name: &str) {
    common::ensure_tracefs();
    let args = arguments(name);
    let expected = run(bpftrace(), &args);
    assert!(
        expected.code == Some(0) && !expected.stdout.is_empty(),
        "bpftrace rejected {name}.bt (fix the script):\n{}\n{}",
        expected.stdout,
        expected.stderr
    );
    let got = run(BIN, &args);
    assert!(
        got.stdout == expected.stdout && got.code == Some(0),
        "{name}.bt: rtrace differs from bpftrace 0.17 (exit code {:?})\nfirst difference: {}\n\
         --- bpftrace stdout:\n{}--- rtrace stdout:\n{}--- rtrace stderr:\n{}",
        got.code,
        first_difference(&expected.stdout, &got.stdout),
        expected.stdout,
        got.stdout,
        got.stderr
    );
}

macro_rules! diff_tests {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                check(stringify!($name));
            }
        )*

        /// Every script in tests/diff has a test above, and every test its script.
        #[test]
        fn every_script_is_listed() {
            let mut listed = vec![$(stringify!($name)),*];
            listed.sort_unstable();
            let mut found: Vec<String> = std::fs::read_dir(dir())
                .expect("tests/diff")
                .flatten()
                .filter_map(|e| {
                    e.file_name().to_str()?.strip_suffix(".bt").map(String::from)
                })
                .collect();
            found.sort_unstable();
            assert_eq!(found, listed, "tests/diff/*.bt and the diff_tests! list differ");
        }
    };
}

diff_tests! {
    avg_stats,
    bitfields,
    bswap,
    btf_task,
    buf_values,
    buf_values_json,
    builtins,
    casts,
    cat_file,
    cat_file_json,
    control_flow,
    count_sorted,
    dd_sizes,
    defines_ternary,
    delete,
    end_probe,
    exec_data_loc,
    formatted_values,
    formatted_values_json,
    helper_errors,
    helper_errors_json,
    hist_values,
    if_else,
    incdec_expr,
    int_suffixes,
    interval_count,
    join_argv,
    join_command_quotes,
    join_json,
    json_maps,
    json_misc,
    json_quiet,
    kaddr_deref,
    keyed_order,
    ksym_aliases,
    lhist_values,
    loops,
    min_max,
    multi_attach,
    multi_keys,
    nested_records,
    net_addrs,
    numaid,
    openat_cat,
    operators,
    pointer_steps,
    positional,
    print_clear_zero,
    print_in_begin,
    print_top_div,
    print_top_div_json,
    print_values,
    print_values_json,
    printf_escapes,
    printf_formats,
    printf_long,
    quiet,
    records_json,
    regs_vars,
    signed_compare,
    sizeof,
    stacks_kernel,
    stacks_kernel_json,
    stacks_user,
    stacks_user_json,
    str_len,
    str_truncate,
    strcmp,
    string_compare,
    struct_ptr,
    struct_values,
    sum_keys,
    ternary_incr,
    time_formats,
    tp_struct_ptr,
    true_exit,
    tuple_layout,
    tuple_layout_widen,
    tuples,
    tuples_nested,
    uint_sort,
    uprobe_malloc,
    uretprobe_getenv,
    vars_maps,
    wildcard,
}
