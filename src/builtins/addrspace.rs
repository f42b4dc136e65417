//! `kptr(p)` and `uptr(p)`: the same address, marked as kernel or user memory, so that reads
//! through it (`str()`, `*p`, members) use `probe_read_kernel` or `probe_read_user`.

use super::api::*;
use crate::sema::types::Type;

const fn space(name: &'static str) -> Builtin {
    Builtin {
        name,
        args: (1, 1),
        check,
        ..Builtin::PLAIN
    }
}

pub const ENTRIES: &[Builtin] = &[space("kptr"), space("uptr")];

fn check(cx: &mut dyn CheckCx, call: &Call<'_>) -> Checked {
    let e = cx.expr(&call.args[0]);
    let user = call.name.name == "uptr";
    let ty = match &e.ty {
        Type::Ptr { to, .. } => Type::Ptr {
            user,
            to: to.clone(),
        },
        t if t.is_int() => Type::Ptr { user, to: None },
        other => {
            cx.error(
                e.span,
                format!("{}() expects an address, but this is a {other}", call.name.name),
            );
            return Checked::Error;
        }
    };
    Checked::Expr(crate::sema::typed::TExpr { ty, ..e })
}
