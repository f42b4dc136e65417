//! `numaid`: the NUMA node of the CPU the probe runs on (`bpf_get_numa_node_id`).

use super::api::*;
use crate::sema::types::Type;

/// `bpf_get_numa_node_id()`, helper 42 of the kernel's BPF helpers (Linux 4.10 and later).
const GET_NUMA_NODE_ID: u32 = 42;

pub const ENTRIES: &[Builtin] = &[Builtin {
    name: "numaid",
    kind: Kind::Variable,
    args: (0, 0),
    check: |_, _| Checked::of(Type::U64),
    lower: Lower::Int(|cx, _| cx.call(GET_NUMA_NODE_ID, vec![])),
    ..Builtin::PLAIN
}];

#[cfg(test)]
mod tests {
    use crate::sema::typed::TStmtKind;
    use crate::sema::types::Type;
    use crate::source::Source;

    #[test]
    fn is_an_unsigned_integer_in_every_probe() {
        let src = Source::new("t.bt", "BEGIN { $n = numaid; } END { @[numaid] = count(); }");
        let prog = crate::parse::parse(&src).expect("parses");
        let checked = crate::sema::check(&prog, &crate::sema::Env::default()).expect("checks");
        let TStmtKind::AssignVar { value, .. } = &checked.probes[0].body[0].kind else {
            panic!("expected an assignment");
        };
        assert_eq!(value.ty, Type::U64);
    }

    #[test]
    fn takes_no_arguments() {
        let src = Source::new("t.bt", "BEGIN { $n = numaid(); }");
        let prog = crate::parse::parse(&src).expect("parses");
        let err = crate::sema::check(&prog, &crate::sema::Env::default()).unwrap_err();
        assert!(err[0].message.contains("numaid"), "{}", err[0].message);
    }
}
