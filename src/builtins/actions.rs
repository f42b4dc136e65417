//! Actions on the run and the traced task: `exit()`, `signal(SIG)`, and `delete(@m[k])`.

use super::api::*;
use crate::ast::ExprKind;
use crate::codegen::ir::helper;
use crate::sema::typed::{event, MapValueType, TExpr, TExprKind};
use crate::sema::types::Type;

pub const ENTRIES: &[Builtin] = &[
    Builtin {
        name: "exit",
        args: (0, 0),
        check: |_, _| Checked::action(Vec::new(), Vec::new()),
        lower: Lower::Stmt(|cx, _| {
            // Userspace stops reading after this event; the probe ends here.
            cx.mark_exited();
            cx.event(event::EXIT, 0);
            cx.end_program();
        }),
        ..Builtin::PLAIN
    },
    Builtin {
        name: "signal",
        args: (1, 1),
        needs_unsafe: Some("sends a signal to the traced process"),
        check: check_signal,
        lower: Lower::Stmt(|cx, call| {
            let sig = cx.operand(&call.args[0]);
            cx.call_void(helper::SEND_SIGNAL, vec![sig]);
        }),
        ..Builtin::PLAIN
    },
    Builtin {
        name: "delete",
        args: (1, 1),
        check: check_delete,
        lower: Lower::Stmt(|cx, call| {
            if call.data.get(1) == Some(&1) {
                // A key-less map's one entry: zeroed (a count() array entry cannot go away).
                cx.event(event::CLEAR_MAP, call.data[0] as u32);
            } else {
                cx.map_delete(call.data[0] as u32, call.args);
            }
        }),
        ..Builtin::PLAIN
    },
];

/// Signal names in number order (SIGHUP is 1), without the `SIG` prefix.
const SIGNALS: [&str; 31] = [
    "HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "BUS", "FPE", "KILL", "USR1", "SEGV", "USR2",
    "PIPE", "ALRM", "TERM", "STKFLT", "CHLD", "CONT", "STOP", "TSTP", "TTIN", "TTOU", "URG",
    "XCPU", "XFSZ", "VTALRM", "PROF", "WINCH", "IO", "PWR", "SYS",
];

/// signal()'s argument: a signal name (`"SIGUSR1"`, `"KILL"`) or a number from 1 to 64.
fn check_signal(cx: &mut dyn CheckCx, call: &Call<'_>) -> Checked {
    let a = &call.args[0];
    let sig = if let ExprKind::Str(bytes) = &a.kind {
        let name = String::from_utf8_lossy(bytes);
        let bare = name.strip_prefix("SIG").unwrap_or(&name);
        let n = SIGNALS.iter().position(|s| *s == bare).map(|i| i as i64 + 1);
        if n.is_none() {
            cx.error(a.span, format!("unknown signal '{name}'"));
        }
        TExpr {
            kind: TExprKind::Int(n.unwrap_or(0)),
            ty: Type::I64,
            span: a.span,
        }
    } else {
        let e = cx.expr(a);
        if !e.ty.is_int() {
            cx.error(
                e.span,
                format!(
                    "signal()'s argument must be an integer, but this is a {}",
                    e.ty
                ),
            );
        }
        if let TExprKind::Int(n) = e.kind {
            if !(1..=64).contains(&n) {
                cx.error(a.span, format!("{n} is not a signal number (1 to 64)"));
            }
        }
        e
    };
    Checked::action(vec![sig], Vec::new())
}

/// delete(@m[k]): the keys are the call's arguments; `data[0]` is the map.
fn check_delete(cx: &mut dyn CheckCx, call: &Call<'_>) -> Checked {
    let Some(m) = map_ref(&call.args[0]) else {
        cx.error(
            call.args[0].span,
            "delete() expects a map entry, as in delete(@m[key])".into(),
        );
        return Checked::Error;
    };
    let (map, keys) = cx.map_entry(m);
    if matches!(
        cx.map_value(map),
        Some(MapValueType::Hist | MapValueType::Lhist { .. })
    ) {
        cx.error(
            call.span,
            "delete() of a hist or lhist entry is not supported yet: use clear()".into(),
        );
    }
    let keyless = m.keys.is_empty();
    Checked::action(keys, vec![map as u64, u64::from(keyless)])
}
