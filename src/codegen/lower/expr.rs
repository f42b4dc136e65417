//! Lowering integer expressions into virtual registers, and conditions into jumps.

use super::{Lowerer, VarHome};
use crate::ast::{BinOp, UnOp};
use crate::codegen::ir::*;
use crate::sema::typed::*;
use crate::sema::types::Type;

impl Lowerer<'_> {
    /// An integer operand: an immediate when the expression is a small constant.
    pub(super) fn operand(&mut self, e: &TExpr) -> Operand {
        if let TExprKind::Int(v) = e.kind {
            if let Ok(i) = i32::try_from(v) {
                return Operand::Imm(i);
            }
        }
        Operand::Reg(self.int(e))
    }

    /// Evaluates an integer expression into a fresh register (never a variable's own register).
    pub(super) fn int(&mut self, e: &TExpr) -> VReg {
        let saved = self.span;
        self.span = e.span;
        let r = self.int_inner(e);
        self.span = saved;
        r
    }

    fn int_inner(&mut self, e: &TExpr) -> VReg {
        match &e.kind {
            TExprKind::Int(v) => {
                let r = self.reg();
                self.mov_imm(r, *v);
                r
            }
            TExprKind::Call { .. } => self.call_int(e),
            TExprKind::Var(v) => {
                let r = self.reg();
                if let VarHome::Reg(src) = self.vars[*v as usize] {
                    self.emit(Inst::Mov {
                        dst: r,
                        src: Operand::Reg(src),
                    });
                } else {
                    self.mov_imm(r, 0);
                }
                r
            }
            TExprKind::MapRead { map, keys } => self.map_read_int(*map, keys),
            TExprKind::IncVar { var, delta, post } => {
                let r = self.reg();
                let VarHome::Reg(home) = self.vars[*var as usize] else {
                    self.mov_imm(r, 0);
                    return r;
                };
                let bump = Inst::Alu64 {
                    op: AluOp::Add,
                    dst: home,
                    src: Operand::Imm(*delta as i32),
                };
                let copy = Inst::Mov {
                    dst: r,
                    src: Operand::Reg(home),
                };
                let (first, second) = if *post { (copy, bump) } else { (bump, copy) };
                self.emit(first);
                self.emit(second);
                r
            }
            TExprKind::IncMap {
                map,
                keys,
                delta,
                post,
            } => self.map_inc(*map, keys, *delta, *post),
            TExprKind::CtxField(f) => self.ctx_field(f),
            // `!x` is a condition: lower it once, as jumps.
            TExprKind::Unary { op: UnOp::Not, .. } => self.bool_of(e),
            TExprKind::Unary { op, expr } => {
                let r = self.int(expr);
                match op {
                    UnOp::Neg => self.emit(Inst::Neg { dst: r }),
                    UnOp::BitNot => self.emit(Inst::Alu64 {
                        op: AluOp::Xor,
                        dst: r,
                        src: Operand::Imm(-1),
                    }),
                    UnOp::Not | UnOp::Deref | UnOp::AddrOf => {}
                }
                r
            }
            TExprKind::Binary {
                op,
                lhs,
                rhs,
                signed,
            } => match op {
                BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge | BinOp::Eq | BinOp::Ne => {
                    self.bool_of(e)
                }
                _ => self.arith(*op, lhs, rhs, *signed),
            },
            TExprKind::StrEq { .. } | TExprKind::Logical { .. } => self.bool_of(e),
            TExprKind::Ternary { cond, then, els } => {
                let r = self.reg();
                let l_else = self.label();
                let l_end = self.label();
                self.cond_jump(cond, l_else, false);
                let t = self.operand(then);
                self.emit(Inst::Mov { dst: r, src: t });
                self.jmp(l_end);
                self.place_label(l_else);
                let f = self.operand(els);
                self.emit(Inst::Mov { dst: r, src: f });
                self.place_label(l_end);
                r
            }
            TExprKind::MemRead { addr, user } => {
                let size = e.ty.c_size().clamp(1, 8);
                let slot = self.slot(8);
                self.read_mem(Base::Slot(slot), 0, size, addr, *user);
                let r = self.load(
                    Base::Slot(slot),
                    0,
                    Size::from_bytes(size).unwrap_or(Size::DW),
                );
                if e.ty.is_signed() {
                    self.normalize(r, size as u8, true);
                }
                r
            }
            TExprKind::Part { whole, offset } => {
                let size = whole.ty.layout_size();
                let slot = self.slot(size);
                self.mem_into(whole, Base::Slot(slot), 0, size);
                let n = e.ty.c_size().clamp(1, 8);
                let r = self.load(
                    Base::Slot(slot),
                    *offset as i16,
                    Size::from_bytes(n).unwrap_or(Size::DW),
                );
                if e.ty.is_signed() {
                    self.normalize(r, n as u8, true);
                }
                r
            }
            TExprKind::Bits { unit, shift, bits } => {
                let r = self.int(unit);
                // Move the field to the top, then back down with or without its sign.
                let up = 64 - i32::from(*shift) - i32::from(*bits);
                if up > 0 {
                    self.emit(Inst::Alu64 {
                        op: AluOp::Lsh,
                        dst: r,
                        src: Operand::Imm(up),
                    });
                }
                self.emit(Inst::Alu64 {
                    op: if e.ty.is_signed() {
                        AluOp::Arsh
                    } else {
                        AluOp::Rsh
                    },
                    dst: r,
                    src: Operand::Imm(64 - i32::from(*bits)),
                });
                r
            }
            TExprKind::Cast(inner) => {
                let r = self.int(inner);
                if let Type::Int { size, signed } = e.ty {
                    self.normalize(r, size, signed);
                }
                r
            }
            TExprKind::TupleField { tuple, index } => {
                let Type::Tuple(elems) = &tuple.ty else {
                    return self.int_const(0);
                };
                let off = Type::tuple_offsets(elems)[*index];
                let slot = self.tuple_slot(tuple);
                // A tuple holds an integer at its own size.
                let (width, load) = match e.ty.c_size() {
                    1 => (1, Size::B),
                    2 => (2, Size::H),
                    4 => (4, Size::W),
                    _ => (8, Size::DW),
                };
                let r = self.load(Base::Slot(slot), off as i16, load);
                self.normalize(r, width, e.ty.is_signed());
                r
            }
            // Strings and tuples are not integers; sema never asks for them here.
            TExprKind::StackStr(bytes) => {
                let size = (bytes.len() as u32 + 1).div_ceil(8) * 8;
                let slot = self.slot(size);
                let text = TExpr {
                    kind: TExprKind::Str(bytes.clone()),
                    ty: Type::Str {
                        size: bytes.len() as u32 + 1,
                    },
                    span: e.span,
                };
                self.mem_into(&text, Base::Slot(slot), 0, size);
                self.stack_addr(slot, 0)
            }
            TExprKind::Str(_) | TExprKind::Tuple(_) => self.int_const(0),
        }
    }

    fn int_const(&mut self, v: i64) -> VReg {
        let r = self.reg();
        self.mov_imm(r, v);
        r
    }

    /// Sign- or zero-extends the low `size` bytes of `r` to 64 bits.
    pub(super) fn normalize(&mut self, r: VReg, size: u8, signed: bool) {
        if size >= 8 {
            return;
        }
        if size == 4 && !signed {
            self.emit(Inst::Alu32 {
                op: AluOp::And,
                dst: r,
                src: Operand::Imm(-1),
            });
            return;
        }
        let shift = 64 - 8 * size as i32;
        self.emit(Inst::Alu64 {
            op: AluOp::Lsh,
            dst: r,
            src: Operand::Imm(shift),
        });
        self.emit(Inst::Alu64 {
            op: if signed { AluOp::Arsh } else { AluOp::Rsh },
            dst: r,
            src: Operand::Imm(shift),
        });
    }

    fn ctx_field(&mut self, f: &CtxField) -> VReg {
        let ctx = self.f.ctx;
        let r = self.reg();
        if f.data_loc {
            self.emit(Inst::Load {
                dst: r,
                base: Base::Reg(ctx),
                off: f.offset as i16,
                size: Size::W,
            });
            self.emit(Inst::Alu64 {
                op: AluOp::And,
                dst: r,
                src: Operand::Imm(0xffff),
            });
            self.emit(Inst::Alu64 {
                op: AluOp::Add,
                dst: r,
                src: Operand::Reg(ctx),
            });
            return r;
        }
        if f.inline_array {
            self.emit(Inst::Mov {
                dst: r,
                src: Operand::Reg(ctx),
            });
            self.emit(Inst::Alu64 {
                op: AluOp::Add,
                dst: r,
                src: Operand::Imm(f.offset as i32),
            });
            return r;
        }
        let size = Size::from_bytes(f.size).unwrap_or(Size::DW);
        self.emit(Inst::Load {
            dst: r,
            base: Base::Reg(ctx),
            off: f.offset as i16,
            size,
        });
        if f.signed {
            self.normalize(r, f.size as u8, true);
        }
        if f.end_if_zero {
            let end = self.end;
            self.emit(Inst::JmpIf {
                cond: Cond::Eq,
                a: r,
                b: Operand::Imm(0),
                target: end,
            });
        }
        r
    }

    fn arith(&mut self, op: BinOp, lhs: &TExpr, rhs: &TExpr, signed: bool) -> VReg {
        let a = self.int(lhs);
        let alu = match op {
            BinOp::Add => AluOp::Add,
            BinOp::Sub => AluOp::Sub,
            BinOp::Mul => AluOp::Mul,
            BinOp::BitAnd => AluOp::And,
            BinOp::BitOr => AluOp::Or,
            BinOp::BitXor => AluOp::Xor,
            BinOp::Shl => AluOp::Lsh,
            BinOp::Shr if signed => AluOp::Arsh,
            BinOp::Shr => AluOp::Rsh,
            BinOp::Div | BinOp::Mod => {
                self.divmod(a, rhs, op == BinOp::Div, signed);
                return a;
            }
            _ => AluOp::Add,
        };
        let b = self.operand(rhs);
        self.emit(Inst::Alu64 {
            op: alu,
            dst: a,
            src: b,
        });
        a
    }

    /// `a = a / rhs` or `a = a % rhs`. Signed operands get C's semantics (truncation toward
    /// zero; the remainder takes the dividend's sign) built from unsigned eBPF division. A
    /// power-of-two constant divisor becomes a shift or a mask, which the verifier tracks
    /// precisely (it knows nothing of a division's result).
    fn divmod(&mut self, a: VReg, rhs: &TExpr, div: bool, signed: bool) {
        let pow2 = match rhs.kind {
            TExprKind::Int(c) if c > 0 && (c as u64).is_power_of_two() => Some(c),
            _ => None,
        };
        let (op, src) = match (pow2, div) {
            (Some(c), true) => (AluOp::Rsh, Operand::Imm(c.trailing_zeros() as i32)),
            (Some(c), false) => match i32::try_from(c - 1) {
                Ok(mask) => (AluOp::And, Operand::Imm(mask)),
                Err(_) => {
                    let r = self.reg();
                    self.mov_imm(r, c - 1);
                    (AluOp::And, Operand::Reg(r))
                }
            },
            // A constant zero divisor stays in a register: the verifier rejects `/ 0` as an
            // immediate.
            (None, _) => match rhs.kind {
                TExprKind::Int(c) if c > 0 && i32::try_from(c).is_ok() => {
                    (Self::div_op(div), Operand::Imm(c as i32))
                }
                _ => (Self::div_op(div), Operand::Reg(self.int(rhs))),
            },
        };
        if !signed {
            self.emit(Inst::Alu64 { op, dst: a, src });
            return;
        }
        // Work on |a| and |b|, then fix the sign.
        let neg = self.int_const(0);
        let l1 = self.label();
        self.jmp_if(Cond::Sge, a, Operand::Imm(0), l1);
        self.emit(Inst::Neg { dst: a });
        self.mov_imm(neg, 1);
        self.place_label(l1);
        if let Operand::Reg(b) = src {
            if pow2.is_none() {
                let l2 = self.label();
                self.jmp_if(Cond::Sge, b, Operand::Imm(0), l2);
                self.emit(Inst::Neg { dst: b });
                if div {
                    self.emit(Inst::Alu64 {
                        op: AluOp::Xor,
                        dst: neg,
                        src: Operand::Imm(1),
                    });
                }
                self.place_label(l2);
            }
        }
        self.emit(Inst::Alu64 { op, dst: a, src });
        let l3 = self.label();
        self.jmp_if(Cond::Eq, neg, Operand::Imm(0), l3);
        self.emit(Inst::Neg { dst: a });
        self.place_label(l3);
    }

    fn div_op(div: bool) -> AluOp {
        if div {
            AluOp::Div
        } else {
            AluOp::Mod
        }
    }

    /// Materialises a condition as 0 or 1.
    fn bool_of(&mut self, e: &TExpr) -> VReg {
        let r = self.int_const(1);
        let l_true = self.label();
        self.cond_jump(e, l_true, true);
        self.mov_imm(r, 0);
        self.place_label(l_true);
        r
    }

    /// Jumps to `target` when `e` is true (`when == true`) or false (`when == false`), and
    /// falls through otherwise.
    pub(super) fn cond_jump(&mut self, e: &TExpr, target: Label, when: bool) {
        let saved = self.span;
        self.span = e.span;
        match &e.kind {
            TExprKind::Binary {
                op,
                lhs,
                rhs,
                signed,
            } if is_compare(*op) => {
                let mut cond = compare_cond(*op, *signed);
                if !when {
                    cond = negate(cond);
                }
                let a = self.int(lhs);
                let b = self.operand(rhs);
                self.jmp_if(cond, a, b, target);
            }
            TExprKind::Unary {
                op: UnOp::Not,
                expr,
            } => self.cond_jump(expr, target, !when),
            TExprKind::Logical { and, lhs, rhs } => {
                // a && b: false as soon as a is false; a || b: true as soon as a is true.
                if *and == when {
                    let skip = self.label();
                    self.cond_jump(lhs, skip, !when);
                    self.cond_jump(rhs, target, when);
                    self.place_label(skip);
                } else {
                    self.cond_jump(lhs, target, when);
                    self.cond_jump(rhs, target, when);
                }
            }
            TExprKind::StrEq { lhs, rhs, negate } => {
                self.str_eq_jump(lhs, rhs, target, when != *negate);
            }
            TExprKind::Int(v) => {
                if (*v != 0) == when {
                    self.jmp(target);
                }
            }
            _ => {
                let r = self.int(e);
                let cond = if when { Cond::Ne } else { Cond::Eq };
                self.jmp_if(cond, r, Operand::Imm(0), target);
            }
        }
        self.span = saved;
    }
}

fn is_compare(op: BinOp) -> bool {
    matches!(
        op,
        BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge | BinOp::Eq | BinOp::Ne
    )
}

fn compare_cond(op: BinOp, signed: bool) -> Cond {
    match (op, signed) {
        (BinOp::Eq, _) => Cond::Eq,
        (BinOp::Ne, _) => Cond::Ne,
        (BinOp::Lt, true) => Cond::Slt,
        (BinOp::Le, true) => Cond::Sle,
        (BinOp::Gt, true) => Cond::Sgt,
        (BinOp::Ge, true) => Cond::Sge,
        (BinOp::Lt, false) => Cond::Lt,
        (BinOp::Le, false) => Cond::Le,
        (BinOp::Gt, false) => Cond::Gt,
        _ => Cond::Ge,
    }
}

fn negate(c: Cond) -> Cond {
    match c {
        Cond::Eq => Cond::Ne,
        Cond::Ne => Cond::Eq,
        Cond::Gt => Cond::Le,
        Cond::Ge => Cond::Lt,
        Cond::Lt => Cond::Ge,
        Cond::Le => Cond::Gt,
        Cond::Sgt => Cond::Sle,
        Cond::Sge => Cond::Slt,
        Cond::Slt => Cond::Sge,
        Cond::Sle => Cond::Sgt,
        // JSET has no negation; callers never negate it.
        Cond::Set => Cond::Set,
    }
}
