//! The probe's saved registers: `reg("name")` reads one by name, `sarg0`...`sarg9` read the
//! arguments a function got on the stack. kprobes and uprobes only (their context is
//! `struct pt_regs`); offsets come from `probes::arch`.

use super::api::*;
use crate::ast::ExprKind;
use crate::probes::{arch, Attach};
use crate::sema::typed::{CtxField, TExpr, TExprKind};
use crate::sema::types::Type;
use crate::source::Span;

/// Probes whose context is the traced task's `struct pt_regs`.
const PT_REGS: ProbeRule = (
    |a| matches!(a, Attach::Kprobe { .. } | Attach::Uprobe { .. } | Attach::Usdt { .. }),
    "kprobe, uprobe and usdt probes",
);

/// Probes on a function's entry, where the stack holds its arguments (`sargN`).
const FUNCTION_ENTRY: ProbeRule = (
    |a| matches!(a, Attach::Kprobe { .. } | Attach::Uprobe { .. }),
    "kprobe and uprobe probes",
);

const fn sarg(name: &'static str) -> Builtin {
    Builtin {
        name,
        kind: Kind::Variable,
        probes: Some(FUNCTION_ENTRY),
        check: check_sarg,
        ..Builtin::PLAIN
    }
}

pub const ENTRIES: &[Builtin] = &[
    Builtin {
        name: "reg",
        args: (1, 1),
        probes: Some(PT_REGS),
        check: check_reg,
        ..Builtin::PLAIN
    },
    sarg("sarg0"),
    sarg("sarg1"),
    sarg("sarg2"),
    sarg("sarg3"),
    sarg("sarg4"),
    sarg("sarg5"),
    sarg("sarg6"),
    sarg("sarg7"),
    sarg("sarg8"),
    sarg("sarg9"),
];

/// A register of the context: an 8-byte field of `struct pt_regs`.
fn register(offset: u32, span: Span) -> TExpr {
    TExpr {
        kind: TExprKind::CtxField(CtxField::register(offset)),
        ty: Type::U64,
        span,
    }
}

fn check_reg(cx: &mut dyn CheckCx, call: &Call<'_>) -> Checked {
    let arg = &call.args[0];
    let ExprKind::Str(name) = &arg.kind else {
        cx.error(
            arg.span,
            "reg() takes a register name as a string literal, as in reg(\"ip\")".into(),
        );
        return Checked::Error;
    };
    let name = String::from_utf8_lossy(name);
    match arch::register_offset(&name) {
        Some(off) => Checked::Expr(register(off, call.span)),
        None => {
            cx.error(arg.span, format!("'{name}' is not a register of this machine"));
            Checked::Error
        }
    }
}

/// `sargN`: the word at `sp + 8 * (N + STACK_ARGS_FROM)`, in the memory the probe traces.
fn check_sarg(cx: &mut dyn CheckCx, call: &Call<'_>) -> Checked {
    let n: u32 = call.name.name[4..].parse().unwrap_or(0);
    let at_offset = match cx.attach() {
        Attach::Uprobe { symbol, offset, .. } => symbol.is_none() || *offset != 0,
        Attach::Kprobe { offset, .. } => *offset != 0,
        _ => false,
    };
    if at_offset {
        // The stack pointer moved since the function's entry: bpftrace warns the same.
        cx.warn(
            call.span,
            "Using an address offset with the sargX built-in can lead to unexpected behavior"
                .into(),
        );
    }
    let user = cx.attach().is_user();
    let off = 8 * (n + arch::STACK_ARGS_FROM);
    let sp = register(arch::sp_offset(), call.span);
    let addr = TExpr {
        kind: TExprKind::Binary {
            op: crate::ast::BinOp::Add,
            lhs: Box::new(sp),
            rhs: Box::new(TExpr {
                kind: TExprKind::Int(i64::from(off)),
                ty: Type::I64,
                span: call.span,
            }),
            signed: false,
        },
        ty: Type::U64,
        span: call.span,
    };
    Checked::Expr(TExpr {
        kind: TExprKind::MemRead {
            addr: Box::new(addr),
            user,
        },
        ty: Type::U64,
        span: call.span,
    })
}
