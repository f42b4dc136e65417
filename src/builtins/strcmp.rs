//! String comparisons as functions: `strncmp(a, b, n)` (0 when the first `n` characters match,
//! else 1) and `strcontains(haystack, "needle")` (1 when the literal occurs in the string).
//! Strings are zero-padded after their NUL, so comparing fixed byte counts is exact.

use super::api::*;
use crate::ast::ExprKind;
use crate::codegen::ir::{Base, Cond, Inst, Label, Operand, Size, SlotId, VReg};
use crate::sema::typed::TExpr;
use crate::sema::types::Type;

pub const ENTRIES: &[Builtin] = &[
    Builtin {
        name: "strncmp",
        args: (3, 3),
        check: check_strncmp,
        lower: Lower::Int(lower_strncmp),
        ..Builtin::PLAIN
    },
    Builtin {
        name: "strcontains",
        args: (2, 2),
        check: check_strcontains,
        lower: Lower::Int(lower_strcontains),
        ..Builtin::PLAIN
    },
];

/// A string argument, or an error on it.
fn string(cx: &mut dyn CheckCx, e: &crate::ast::Expr, func: &str) -> Option<TExpr> {
    let t = cx.expr(e);
    if t.ty.is_str() {
        return Some(t);
    }
    cx.error(
        t.span,
        format!("{func}() compares strings, but this is a {}", t.ty),
    );
    None
}

/// `data[0]` is the number of bytes compared.
fn check_strncmp(cx: &mut dyn CheckCx, call: &Call<'_>) -> Checked {
    let (Some(a), Some(b)) = (
        string(cx, &call.args[0], "strncmp"),
        string(cx, &call.args[1], "strncmp"),
    ) else {
        return Checked::Error;
    };
    let Some(n) = cx.const_int(&call.args[2]) else {
        cx.error(
            call.args[2].span,
            "strncmp()'s length must be an integer constant".into(),
        );
        return Checked::Error;
    };
    let longest = a.ty.layout_size().max(b.ty.layout_size());
    Checked::Call {
        ty: Type::U64,
        args: vec![a, b],
        data: vec![n.min(u64::from(longest))],
    }
}

/// A string evaluated into a zero-padded stack slot of `size` bytes.
fn in_slot(cx: &mut dyn LowerCx, e: &TExpr, size: u32) -> SlotId {
    let slot = cx.slot(size);
    cx.mem_into(e, Base::Slot(slot), 0, size);
    slot
}

/// Jumps to `differ` unless the `n` bytes at `a + a_off` and `b` are equal.
fn compare(cx: &mut dyn LowerCx, a: (SlotId, u32), b: SlotId, n: u32, differ: Label) {
    let (ta, tb) = (cx.reg(), cx.reg());
    let mut pos = 0;
    while pos < n {
        // Stack loads must be aligned: the widest load both offsets allow.
        let width = [8u32, 4, 2, 1]
            .into_iter()
            .find(|w| pos + w <= n && (a.1 + pos).is_multiple_of(*w) && pos.is_multiple_of(*w))
            .unwrap_or(1);
        let size = Size::from_bytes(width).unwrap_or(Size::B);
        cx.emit(Inst::Load {
            dst: ta,
            base: Base::Slot(a.0),
            off: (a.1 + pos) as i16,
            size,
        });
        cx.emit(Inst::Load {
            dst: tb,
            base: Base::Slot(b),
            off: pos as i16,
            size,
        });
        cx.jmp_if(Cond::Ne, ta, Operand::Reg(tb), differ);
        pos += width;
    }
}

fn lower_strncmp(cx: &mut dyn LowerCx, call: &TCall<'_>) -> VReg {
    let n = call.data[0] as u32;
    let size = call.args.iter().map(|a| a.ty.layout_size()).max().unwrap_or(8);
    let a = in_slot(cx, &call.args[0], size);
    let b = in_slot(cx, &call.args[1], size);
    let r = cx.reg();
    cx.mov_imm(r, 1);
    let differ = cx.label();
    compare(cx, (a, 0), b, n, differ);
    cx.mov_imm(r, 0);
    cx.place_label(differ);
    r
}

/// The needle is a literal: `data` holds its length.
fn check_strcontains(cx: &mut dyn CheckCx, call: &Call<'_>) -> Checked {
    let Some(hay) = string(cx, &call.args[0], "strcontains") else {
        return Checked::Error;
    };
    let ExprKind::Str(needle) = &call.args[1].kind else {
        cx.error(
            call.args[1].span,
            "strcontains()'s needle must be a string literal".into(),
        );
        return Checked::Error;
    };
    let len = needle.len() as u64;
    let needle = cx.str_literal(needle.clone(), call.args[1].span);
    Checked::Call {
        ty: Type::U64,
        args: vec![hay, needle],
        data: vec![len],
    }
}

/// Tries every start in the haystack before its NUL: unrolled, as the verifier wants.
fn lower_strcontains(cx: &mut dyn LowerCx, call: &TCall<'_>) -> VReg {
    let n = call.data[0] as u32;
    let r = cx.reg();
    cx.mov_imm(r, 1);
    if n == 0 {
        return r;
    }
    let hay_size = call.args[0].ty.layout_size();
    // Room past the haystack's end so every window can be read: zeros never match a needle
    // without NULs.
    let hay = in_slot(cx, &call.args[0], hay_size + n.div_ceil(8) * 8);
    let needle = in_slot(cx, &call.args[1], n.div_ceil(8) * 8);
    let found = cx.label();
    let not_found = cx.label();
    let t = cx.reg();
    for start in 0..hay_size {
        let next = cx.label();
        cx.emit(Inst::Load {
            dst: t,
            base: Base::Slot(hay),
            off: start as i16,
            size: Size::B,
        });
        cx.jmp_if(Cond::Eq, t, Operand::Imm(0), not_found);
        compare(cx, (hay, start), needle, n, next);
        cx.jmp(found);
        cx.place_label(next);
    }
    cx.place_label(not_found);
    cx.mov_imm(r, 0);
    cx.place_label(found);
    r
}
