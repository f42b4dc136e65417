//! `sizeof(TYPE)` and `sizeof(EXPR)`: the bytes a C type or an expression's type takes, a
//! compile-time constant (`sizeof(struct task_struct)` from the script or the kernel's BTF).

use super::api::*;
use crate::ast::ExprKind;
use crate::sema::typed::{TExpr, TExprKind};
use crate::sema::types::Type;

pub const ENTRIES: &[Builtin] = &[Builtin {
    name: "sizeof",
    args: (1, 1),
    check,
    ..Builtin::PLAIN
}];

fn check(cx: &mut dyn CheckCx, call: &Call<'_>) -> Checked {
    let arg = &call.args[0];
    let ty = match &arg.kind {
        // The parser hands a type name on as an identifier.
        ExprKind::Builtin(text) => match cx.type_named(text, arg.span) {
            Some(t) => t,
            None => cx.expr(arg).ty,
        },
        _ => cx.expr(arg).ty,
    };
    if ty == Type::Void {
        cx.error(arg.span, "sizeof() of something with no value".into());
        return Checked::Error;
    }
    Checked::Expr(TExpr {
        kind: TExprKind::Int(i64::from(ty.c_size())),
        ty: Type::U64,
        span: call.span,
    })
}
