//! String functions: `str(p)` and `str(p, n)` read a NUL-terminated string from memory.

use super::api::*;
use crate::codegen::ir::{helper, AluOp, Base, Cond, Inst, Operand};
use crate::sema::types::Type;

pub const ENTRIES: &[Builtin] = &[Builtin {
    name: "str",
    args: (1, 2),
    check: check_str,
    lower: Lower::Mem(lower_str),
    ..Builtin::PLAIN
}];

/// `data[0]` is 1 when the string is read from user memory.
fn check_str(cx: &mut dyn CheckCx, call: &Call<'_>) -> Checked {
    // str($1) is the parameter's text, numeric or not ("" when it is missing).
    if let (crate::ast::ExprKind::PosParam(n), None) = (&call.args[0].kind, call.args.get(1)) {
        let text = cx.param(*n).unwrap_or_default();
        return Checked::Expr(cx.str_literal(text.into_bytes(), call.span));
    }
    let ptr = cx.str_arg(&call.args[0]);
    let len = call.args.get(1).map(|l| {
        let l = cx.expr(l);
        if !l.ty.is_int() {
            cx.error(
                l.span,
                format!("str()'s length must be an integer, but this is a {}", l.ty),
            );
        }
        l
    });
    match &ptr.ty {
        Type::Str { .. } if len.is_none() => Checked::Expr(ptr),
        Type::Int { .. } | Type::Ptr { .. } => {
            let user = match (&ptr.ty, cx.attach()) {
                (Type::Ptr { user, .. }, _) => *user,
                (_, a) if a.is_user() => true,
                _ => false,
            };
            Checked::Call {
                ty: Type::Str { size: cx.strlen() },
                args: std::iter::once(ptr).chain(len).collect(),
                data: vec![user as u64],
            }
        }
        other => {
            let msg =
                format!("str() expects a pointer or an integer address, but this is a {other}");
            cx.error(ptr.span, msg);
            Checked::Error
        }
    }
}

fn lower_str(cx: &mut dyn LowerCx, call: &TCall<'_>, base: Base, off: i32, size: u32) {
    cx.zero(base, off, size);
    let src = cx.operand(&call.args[0]);
    // The buffer's declared size (BPFTRACE_STRLEN), not its layout rounded up to 8 bytes.
    let cap = call.ty.c_size().min(size) as i32;
    let n = match call.args.get(1) {
        None => Operand::Imm(cap),
        Some(l) => {
            // str(p, n) keeps at most n characters (and the NUL), as bpftrace does.
            let n = cx.int(l);
            cx.emit(Inst::Alu64 {
                op: AluOp::Add,
                dst: n,
                src: Operand::Imm(1),
            });
            let ok = cx.label();
            cx.jmp_if(Cond::Le, n, Operand::Imm(cap), ok);
            cx.mov_imm(n, cap as i64);
            cx.place_label(ok);
            Operand::Reg(n)
        }
    };
    let p = cx.addr(base, off);
    let helper = if call.data.first() == Some(&1) {
        helper::PROBE_READ_USER_STR
    } else {
        helper::PROBE_READ_KERNEL_STR
    };
    cx.call_void(helper, vec![Operand::Reg(p), n, src]);
}
