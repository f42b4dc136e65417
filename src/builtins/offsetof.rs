//! `offsetof(struct NAME, member)`: the byte offset of a member, a compile-time constant.

use super::api::*;
use crate::ast::ExprKind;
use crate::sema::typed::{TExpr, TExprKind};
use crate::sema::types::Type;

pub const ENTRIES: &[Builtin] = &[Builtin {
    name: "offsetof",
    args: (2, 2),
    check,
    ..Builtin::PLAIN
}];

fn check(cx: &mut dyn CheckCx, call: &Call<'_>) -> Checked {
    let (ExprKind::Builtin(ty), ExprKind::Builtin(member)) =
        (&call.args[0].kind, &call.args[1].kind)
    else {
        cx.error(
            call.span,
            "offsetof() takes a struct and a member name, as in offsetof(struct task_struct, pid)"
                .into(),
        );
        return Checked::Error;
    };
    let record = match cx.type_named(ty, call.args[0].span) {
        Some(Type::Record(r)) => r,
        Some(other) => {
            cx.error(
                call.args[0].span,
                format!("offsetof() needs a struct or union, not {other}"),
            );
            return Checked::Error;
        }
        None => return Checked::Error,
    };
    let Some(field) = cx.member(&record, member) else {
        cx.error(
            call.args[1].span,
            format!("{} has no member '{member}'", record.name),
        );
        return Checked::Error;
    };
    Checked::Expr(TExpr {
        kind: TExprKind::Int(i64::from(field.offset)),
        ty: Type::U64,
        span: call.span,
    })
}
