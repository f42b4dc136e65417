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
        // Each argument is read on its own: one the machine cannot read (a vector register)
        // does not spoil the others.
        let specs: Vec<&str> = spec.split_whitespace().collect();
        let Some(text) = specs.get(n) else {
            let count = specs.len();
            let plural = if count == 1 { "" } else { "s" };
            self.error(
                span,
                format!("{probe} has {count} argument{plural}: arg{n} does not exist"),
            );
            return zero(span);
        };
        let arg = match args::parse(text) {
            Ok(a) => a,
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
                    end_if_zero: false,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probes::catalogue::Fixture;
    use crate::probes::usdt::{UsdtLocation, UsdtProbe};
    use crate::sema::{check_with, Env};
    use crate::source::Source;

    fn fixture() -> Fixture {
        Fixture::new().usdt(
            "/opt/prog",
            vec![UsdtProbe {
                provider: "p".into(),
                name: "n".into(),
                semaphore: 0,
                locations: vec![UsdtLocation {
                    offset: 0x1000,
                    args: "-4@%edi 8@$-3 -2@-8(%rbp,%rax,4) 1@%ah 4@%xmm0".into(),
                }],
            }],
        )
    }

    /// The diagnostics of checking `script` against the fixture, as text.
    fn errors(script: &str) -> Vec<String> {
        let src = Source::new("t.bt", script);
        let prog = crate::parse::parse(&src).expect("parses");
        match check_with(&prog, &Env::default(), &fixture()) {
            Ok(_) => Vec::new(),
            Err(d) => d.iter().map(|d| d.message.clone()).collect(),
        }
    }

    #[test]
    fn arguments_type_as_uint64() {
        let s = "usdt:/opt/prog:p:n { @a = arg0; @b = arg1; @c = arg2; @d = arg3; }";
        assert_eq!(errors(s), Vec::<String>::new());
        let e = errors("usdt:/opt/prog:p:n { @ = arg5; }");
        assert_eq!(
            e,
            ["usdt:/opt/prog:p:n has 5 arguments: arg5 does not exist"]
        );
        let e = errors("usdt:/opt/prog:p:n { @ = arg4; }");
        assert_eq!(e.len(), 1);
        assert!(
            e[0].contains("cannot read arg4 of usdt:/opt/prog:p:n"),
            "{e:?}"
        );
        assert!(e[0].contains("%xmm0"), "{e:?}");
        let e = errors("usdt:/opt/prog:p:n { @ = retval; }");
        assert!(e[0].contains("retval is only available"), "{e:?}");
    }

    #[test]
    fn each_spec_becomes_its_read() {
        let args = args::parse_all("-4@%edi 8@$-3 -2@-8(%rbp,%rax,4) 1@%ah").unwrap();
        let span = Span::default();
        let di = arch::register_offset("di").unwrap();
        match arg_expr(&args[0], span).unwrap().kind {
            TExprKind::CtxField(f) => {
                assert_eq!((f.offset, f.size, f.signed), (di, 4, true));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(arg_expr(&args[1], span).unwrap().kind, TExprKind::Int(-3));
        match arg_expr(&args[2], span).unwrap() {
            TExpr {
                kind: TExprKind::Cast(read),
                ty: Type::U64,
                ..
            } => {
                assert_eq!(
                    read.ty,
                    Type::Int {
                        size: 2,
                        signed: true
                    }
                );
                assert!(matches!(read.kind, TExprKind::MemRead { user: true, .. }));
            }
            other => panic!("{other:?}"),
        }
        let ax = arch::register_offset("ax").unwrap();
        match arg_expr(&args[3], span).unwrap().kind {
            TExprKind::CtxField(f) => assert_eq!((f.offset, f.size), (ax + 1, 1)),
            other => panic!("{other:?}"),
        }
    }
}
