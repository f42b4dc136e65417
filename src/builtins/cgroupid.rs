//! `cgroupid("/sys/fs/cgroup/PATH")`: the id of a cgroup v2 directory, resolved when the
//! script is compiled (the path may be a literal or `str($N)`), to compare with `cgroup`.

use super::api::*;
use crate::sema::typed::{TExpr, TExprKind};
use crate::sema::types::Type;

pub const ENTRIES: &[Builtin] = &[Builtin {
    name: "cgroupid",
    args: (1, 1),
    check,
    ..Builtin::PLAIN
}];

fn check(cx: &mut dyn CheckCx, call: &Call<'_>) -> Checked {
    let arg = &call.args[0];
    let path = super::text_argument(cx, arg);
    let Some(path) = path else {
        cx.error(
            arg.span,
            "cgroupid() takes a cgroup path as a string literal, as in \
             cgroupid(\"/sys/fs/cgroup/system.slice\")"
                .into(),
        );
        return Checked::Error;
    };
    match cx.cgroup_id(&path) {
        Ok(id) => Checked::Expr(TExpr {
            kind: TExprKind::Int(id as i64),
            ty: Type::U64,
            span: call.span,
        }),
        Err(e) => {
            cx.error(arg.span, format!("cgroupid: {e}"));
            Checked::Error
        }
    }
}
