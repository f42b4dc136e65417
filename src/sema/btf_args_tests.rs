//! kfunc/kretfunc arguments and iterator contexts typed from a fixture kernel's BTF
//! (`btf::kernel_fixture`): `args->NAME`, `retval` and `ctx->FIELD` checked against the
//! function's prototype and the context's struct.

use super::typed::{MapValueType, TExprKind, TStmtKind};
use super::types::Type;
use super::{check_with, Env};
use crate::probes::catalogue::Fixture;
use crate::source::Source;

fn fixture() -> Fixture {
    Fixture::new()
        .with_btf(crate::btf::kernel_fixture())
        .with_kfuncs()
        .with_iters()
}

/// Each user map's value type after checking `script`, or the diagnostics.
fn map_types(script: &str) -> Result<Vec<(String, Type)>, Vec<String>> {
    let src = Source::new("t.bt", script);
    let prog = crate::parse::parse(&src).expect("parses");
    match check_with(&prog, &Env::default(), &fixture()) {
        Ok(c) => Ok(c
            .maps
            .iter()
            .filter_map(|m| match &m.value {
                MapValueType::Plain(t) => Some((m.name.clone(), t.clone())),
                _ => None,
            })
            .collect()),
        Err(d) => Err(d.iter().map(|d| d.message.clone()).collect()),
    }
}

fn errors(script: &str) -> Vec<String> {
    map_types(script).err().unwrap_or_default()
}

#[test]
fn kfunc_arguments_and_retval_take_their_prototypes_types() {
    let types = map_types(
        "kretfunc:vfs_read { @count = args->count; @ret = retval; @pos = args->file->f_pos; }",
    )
    .expect("checks");
    let get = |n: &str| types.iter().find(|(m, _)| m == n).map(|(_, t)| t.clone());
    assert_eq!(
        get("@count"),
        Some(Type::Int {
            size: 8,
            signed: false
        })
    );
    assert_eq!(
        get("@ret"),
        Some(Type::Int {
            size: 8,
            signed: true
        })
    );
    assert_eq!(
        get("@pos"),
        Some(Type::Int {
            size: 8,
            signed: true
        })
    );
    // A string from a `char *` argument.
    assert!(map_types("kfunc:vfs_read { @s = str(args->buf); }").is_ok());
}

#[test]
fn kfunc_argument_errors_name_the_prototype() {
    let e = errors("kfunc:vfs_read { @ = args->nope; }");
    assert_eq!(e, ["kfunc:vfs_read has no argument 'nope'"]);
    let e = errors("kfunc:vfs_read { @ = retval; }");
    assert!(e[0].contains("retval is only available"), "{e:?}");
    let e = errors("kretfunc:do_exit { @ = retval; }");
    assert_eq!(
        e,
        ["retval is not available: the kernel's BTF says do_exit returns void"]
    );
}

#[test]
fn iterator_context_fields_read_the_context() {
    let src = Source::new(
        "t.bt",
        "iter:task_file { @fd = ctx->fd; @pid = ctx->task->pid; }",
    );
    let prog = crate::parse::parse(&src).expect("parses");
    let checked = check_with(&prog, &Env::default(), &fixture()).expect("checks");
    let TStmtKind::MapStore { value, .. } = &checked.probes[0].body[0].kind else {
        panic!("not an assignment: {:?}", checked.probes[0].body[0]);
    };
    match &value.kind {
        TExprKind::CtxField(f) => {
            assert_eq!((f.offset, f.size, f.end_if_zero), (16, 4, true));
        }
        other => panic!("ctx->fd is {other:?}"),
    }
}
