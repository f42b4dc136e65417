//! `argN` of a usdt probe: the location's argument spec (`probes::usdt::args`) turned into a
//! typed expression on the saved registers: a constant, a register cut to the argument's
//! size, or the traced process's memory at a register plus a displacement (and a scaled
//! index register). Every value is sign- or zero-extended to a `uint64`, as bpftrace types it.

use super::typed::{CtxField, TExpr, TExprKind};
use super::types::Type;
use super::Checker;
use crate::ast::BinOp;
use crate::probes::usdt::args::{self, Loc, Reg};
use crate::probes::{arch, Attach};
use crate::source::Span;

impl Checker<'_> {
    /// `argN` of the usdt location being checked.
    pub(super) fn usdt_arg(&mut self, n: usize, span: Span) -> TExpr {
        let Some(Attach::Usdt { args: spec, .. }) = &self.ctx.attach else {
            return zero(span);
        };
        let probe = self.ctx.text.clone();
        let parsed = args::parse_all(spec);
        let arg = match parsed {
            Ok(list) => match list.get(n) {
                Some(a) => a.clone(),
                None => {
                    self.error(
                        span,
                        format!(
                            "{probe} has {} argument{}: arg{n} does not exist",
                            list.len(),
                            if list.len() == 1 { "" } else { "s" }
                        ),
                    );
                    return zero(span);
                }
            },
            Err(e) => {
                self.error(span, format!("cannot read arg{n} of {probe}: {e}"));
                return zero(span);
            }
        };
        match arg_expr(&arg, span) {
            Ok(e) => e,
            Err(e) => {
                self.error(span, format!("cannot read arg{n} of {probe}: {e}"));
                zero(span)
            }
        }
    }
}

fn zero(span: Span) -> TExpr {
    TExpr {
        kind: TExprKind::Int(0),
        ty: Type::I64,
        span,
    }
}

/// The saved register `r` (all 8 bytes).
fn register(r: Reg, span: Span) -> Result<TExpr, String> {
    let offset = arch::register_offset(r.name)
        .ok_or_else(|| format!("register {} is not saved on this machine", r.name))?;
    Ok(TExpr {
        kind: TExprKind::CtxField(CtxField::register(offset)),
        ty: Type::U64,
        span,
    })
}

fn add(lhs: TExpr, rhs: TExpr, op: BinOp, span: Span) -> TExpr {
    TExpr {
        kind: TExprKind::Binary {
            op,
            lhs: Box::new(lhs),
            rhs: Box::new(rhs),
            signed: false,
        },
        ty: Type::U64,
        span,
    }
}

fn int(v: i64, span: Span) -> TExpr {
    TExpr {
        kind: TExprKind::Int(v),
        ty: Type::U64,
        span,
    }
}

/// The expression reading one argument.
fn arg_expr(arg: &args::Arg, span: Span) -> Result<TExpr, String> {
    let (size, signed) = (arg.size, arg.signed);
    Ok(match &arg.loc {
        Loc::Const(v) => int(args::const_value(*v, size, signed), span),
        Loc::Reg(r) => {
            let offset = arch::register_offset(r.name)
                .ok_or_else(|| format!("register {} is not saved on this machine", r.name))?;
            TExpr {
                kind: TExprKind::CtxField(CtxField {
                    offset: offset + u32::from(r.byte),
                    size: u32::from(size),
                    signed,
                    data_loc: false,
                    inline_array: false,
                }),
                ty: Type::U64,
                span,
            }
        }
        Loc::Mem { base, disp, index } => {
            let mut addr = register(*base, span)?;
            if *disp != 0 {
                addr = add(addr, int(*disp, span), BinOp::Add, span);
            }
            if let Some((ix, scale)) = index {
                let mut i = register(*ix, span)?;
                if *scale != 1 {
                    i = add(i, int(i64::from(*scale), span), BinOp::Mul, span);
                }
                addr = add(addr, i, BinOp::Add, span);
            }
            let read = TExpr {
                kind: TExprKind::MemRead {
                    addr: Box::new(addr),
                    user: true,
                },
                ty: Type::Int { size, signed },
                span,
            };
            TExpr {
                kind: TExprKind::Cast(Box::new(read)),
                ty: Type::U64,
                span,
            }
        }
    })
}
