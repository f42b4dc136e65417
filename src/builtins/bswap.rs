//! `bswap(x)`: the bytes of an integer in reverse order, at the integer's own width
//! (`bswap((uint16)0x1234)` is `0x3412`); the result is unsigned of the same size.

use super::api::*;
use crate::codegen::ir::{AluOp, Inst, Operand, VReg};
use crate::sema::types::Type;

pub const ENTRIES: &[Builtin] = &[Builtin {
    name: "bswap",
    args: (1, 1),
    check,
    lower: Lower::Int(lower),
    ..Builtin::PLAIN
}];

/// `data[0]` is the width in bytes.
fn check(cx: &mut dyn CheckCx, call: &Call<'_>) -> Checked {
    let x = cx.expr(&call.args[0]);
    let size = match x.ty {
        Type::Int { size, .. } => size,
        Type::Ptr { .. } => 8,
        _ => {
            cx.error(
                x.span,
                format!("bswap() expects an integer, but this is a {}", x.ty),
            );
            return Checked::Error;
        }
    };
    Checked::Call {
        ty: Type::Int {
            size,
            signed: false,
        },
        args: vec![x],
        data: vec![u64::from(size)],
    }
}

/// Moves byte `i` to byte `n - 1 - i` with shifts and masks (eBPF's `BPF_END` is not in the IR).
fn lower(cx: &mut dyn LowerCx, call: &TCall<'_>) -> VReg {
    let n = call.data[0] as i32;
    let x = cx.int(&call.args[0]);
    let out = cx.reg();
    cx.mov_imm(out, 0);
    let byte = cx.reg();
    for i in 0..n {
        cx.emit(Inst::Mov {
            dst: byte,
            src: Operand::Reg(x),
        });
        let ops = [
            (AluOp::Rsh, 8 * i),
            (AluOp::And, 0xff),
            (AluOp::Lsh, 8 * (n - 1 - i)),
        ];
        for (op, imm) in ops {
            if imm != 0 || op == AluOp::And {
                cx.emit(Inst::Alu64 {
                    op,
                    dst: byte,
                    src: Operand::Imm(imm),
                });
            }
        }
        cx.emit(Inst::Alu64 {
            op: AluOp::Or,
            dst: out,
            src: Operand::Reg(byte),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use crate::sema::typed::{TExprKind, TStmtKind};
    use crate::sema::types::Type;
    use crate::source::Source;

    /// The type of `$x` after `$x = EXPR` in BEGIN, or the first error.
    fn type_of(expr: &str) -> Result<Type, String> {
        let src = Source::new("t.bt", format!("BEGIN {{ $x = {expr}; }}"));
        let prog = crate::parse::parse(&src).map_err(|d| format!("{d:?}"))?;
        let checked = crate::sema::check(&prog, &crate::sema::Env::default())
            .map_err(|d| d[0].message.clone())?;
        match &checked.probes[0].body[0].kind {
            TStmtKind::AssignVar { value, .. } => {
                assert!(matches!(value.kind, TExprKind::Call { .. }));
                Ok(value.ty.clone())
            }
            other => Err(format!("unexpected statement {other:?}")),
        }
    }

    #[test]
    fn keeps_the_width_and_is_unsigned() {
        let u = |size| Type::Int {
            size,
            signed: false,
        };
        assert_eq!(type_of("bswap((int16)1)"), Ok(u(2)));
        assert_eq!(type_of("bswap((uint32)1)"), Ok(u(4)));
        assert_eq!(type_of("bswap(1)"), Ok(u(8)));
    }

    #[test]
    fn rejects_strings() {
        let err = type_of("bswap(\"ab\")").unwrap_err();
        assert_eq!(err, "bswap() expects an integer, but this is a string[3]");
    }
}
