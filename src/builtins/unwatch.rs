//! `unwatch(addr)`: removes every watchpoint placed on `addr` (`runtime::watch`), when
//! userspace reads the record, as bpftrace 0.17 does; an address nothing watches is no error.

use super::api::*;
use crate::codegen::ir::{Base, Inst, Operand, Size};
use crate::sema::typed::event;
use crate::sema::types::Type;

pub const ENTRIES: &[Builtin] = &[Builtin {
    name: "unwatch",
    args: (1, 1),
    check,
    lower: Lower::Stmt(lower),
    ..Builtin::PLAIN
}];

fn check(cx: &mut dyn CheckCx, call: &Call<'_>) -> Checked {
    let addr = cx.expr(&call.args[0]);
    if !matches!(addr.ty, Type::Int { .. }) {
        cx.error(
            addr.span,
            format!(
                "unwatch() expects an integer address, but this is a {}",
                addr.ty
            ),
        );
        return Checked::Error;
    }
    Checked::action(vec![addr], Vec::new())
}

/// The record: the header, then the address as a u64.
fn lower(cx: &mut dyn LowerCx, call: &TCall<'_>) {
    let addr = cx.int(&call.args[0]);
    cx.reserved_record(event::UNWATCH, 0, event::HEADER + 8, &mut |cx, rec| {
        cx.emit(Inst::Store {
            base: Base::Reg(rec),
            off: event::HEADER as i16,
            src: Operand::Reg(addr),
            size: Size::DW,
        });
    });
}

#[cfg(test)]
mod tests {
    use crate::probes::catalogue::Fixture;
    use crate::sema::typed::{TExprKind, TStmtKind};
    use crate::source::Source;

    fn check(text: &str) -> Result<crate::sema::typed::Checked, String> {
        let src = Source::new("t.bt", text);
        let prog = crate::parse::parse(&src).map_err(|d| d[0].message.clone())?;
        crate::sema::check_with(&prog, &crate::sema::Env::default(), &Fixture::new())
            .map_err(|d| d[0].message.clone())
    }

    #[test]
    fn unwatch_takes_an_integer_and_returns_nothing() {
        let c = check("BEGIN { unwatch(0x1000); }").unwrap();
        let TStmtKind::Expr(e) = &c.probes[0].body[0].kind else {
            panic!("not a statement call");
        };
        assert!(matches!(e.kind, TExprKind::Call { .. }));
        let err = check("BEGIN { unwatch(\"x\"); }").unwrap_err();
        assert!(err.contains("unwatch() expects an integer address"), "{err}");
        assert!(check("BEGIN { $x = unwatch(1); }").is_err());
        assert!(check("BEGIN { unwatch(); }").is_err());
    }
}
