//! `kaddr("symbol")`: a kernel symbol's address, resolved from /proc/kallsyms when the script
//! is compiled (the name may be a literal or `str($N)`).

use super::api::*;
use crate::sema::typed::{TExpr, TExprKind};
use crate::sema::types::Type;

pub const ENTRIES: &[Builtin] = &[Builtin {
    name: "kaddr",
    args: (1, 1),
    check,
    ..Builtin::PLAIN
}];

fn check(cx: &mut dyn CheckCx, call: &Call<'_>) -> Checked {
    let arg = &call.args[0];
    let name = super::text_argument(cx, arg);
    let Some(name) = name else {
        cx.error(
            arg.span,
            "kaddr() takes a symbol name as a string literal, as in kaddr(\"avenrun\")".into(),
        );
        return Checked::Error;
    };
    match cx.kernel_symbol(&name) {
        Some(addr) => Checked::Expr(TExpr {
            kind: TExprKind::Int(addr as i64),
            ty: Type::U64,
            span: call.span,
        }),
        None => {
            cx.error(arg.span, format!("Failed to resolve kernel symbol: {name}"));
            Checked::Error
        }
    }
}
