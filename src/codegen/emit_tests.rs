//! Tests of the whole backend against its input: compiled code run by `testvm` must compute
//! what the IR computes (random programs with spills, calls, loops; targeted cases). Fed by tests.

use super::ir::*;
use super::testvm::{run_bpf, run_ir};
use super::{compile, disassemble};
use crate::source::Span;

fn si(inst: Inst) -> SpannedInst {
    SpannedInst {
        inst,
        span: Span::default(),
    }
}

fn function(insts: Vec<Inst>, nregs: u32, slots: Vec<SlotInfo>) -> Function {
    Function {
        name: "t".into(),
        insts: insts.into_iter().map(si).collect(),
        slots,
        nregs,
        ctx: VReg(nregs.saturating_sub(1)),
        nlabels: 64,
    }
}

/// Compiles, runs both interpreters, checks they agree; returns the disassembly.
fn check(f: &Function) -> Vec<String> {
    check_with(f, true)
}

/// `check`, with or without call-argument register preferences.
fn check_with(f: &Function, call_preferences: bool) -> Vec<String> {
    let enc = super::compile_with(f, call_preferences).unwrap_or_else(|d| panic!("{d:?}"));
    let text = disassemble(&enc.insns);
    let want = run_ir(f);
    let got = run_bpf(&enc.insns);
    assert_eq!(
        got,
        want,
        "compiled code differs from the IR:\n{}",
        text.join("\n")
    );
    assert_eq!(enc.spans.len(), enc.insns.len());
    text
}

fn mov(d: u32, i: i32) -> Inst {
    Inst::Mov {
        dst: VReg(d),
        src: Operand::Imm(i),
    }
}
fn alu(op: AluOp, d: u32, s: u32) -> Inst {
    Inst::Alu64 {
        op,
        dst: VReg(d),
        src: Operand::Reg(VReg(s)),
    }
}
fn reg(v: u32) -> Operand {
    Operand::Reg(VReg(v))
}

#[test]
fn forty_live_values_spill_and_survive() {
    let mut insts: Vec<Inst> = (0..40)
        .map(|v| Inst::LdImm64 {
            dst: VReg(v),
            imm: (v as i64 + 1) * 0x1_0000_0001,
        })
        .collect();
    for v in (1..40).rev() {
        insts.push(alu(AluOp::Mul, 0, v));
        insts.push(Inst::Alu64 {
            op: AluOp::Add,
            dst: VReg(0),
            src: Operand::Imm(v as i32),
        });
    }
    insts.push(Inst::Exit { ret: reg(0) });
    let text = check(&function(insts, 41, vec![]));
    assert!(
        text.iter().any(|l| l.starts_with("*(u64 *)(r10 -")),
        "no spill stores"
    );
    assert!(
        text.iter().any(|l| l.contains("= *(u64 *)(r10 -")),
        "no spill reloads"
    );
}

#[test]
fn values_live_across_calls_are_kept() {
    let mut insts: Vec<Inst> = (0..7).map(|v| mov(v, 11 * v as i32 + 3)).collect();
    insts.push(Inst::Call {
        helper: 103,
        args: vec![reg(1), reg(2), Operand::Imm(9)],
        ret: Some(VReg(7)),
    });
    insts.push(Inst::Call {
        helper: 100,
        args: vec![],
        ret: Some(VReg(8)),
    });
    for v in 1..9 {
        insts.push(alu(AluOp::Mul, 0, v));
    }
    insts.push(Inst::Exit { ret: reg(0) });
    check(&function(insts, 10, vec![]));
}

#[test]
fn call_arguments_in_a_cycle_are_moved_in_parallel() {
    // %0, %1, %2 take r1, r2, r3; the call wants them rotated.
    let insts = vec![
        mov(0, 5),
        mov(1, 6),
        mov(2, 7),
        Inst::Call {
            helper: 103,
            args: vec![reg(2), reg(0), reg(1)],
            ret: Some(VReg(3)),
        },
        Inst::Exit { ret: reg(3) },
    ];
    // Without preferences the rotation is a cycle of moves; with them, no move at all.
    let text = check_with(&function(insts.clone(), 4, vec![]), false);
    assert!(
        text.iter().any(|l| l.starts_with("r0 = r")),
        "no cycle break:\n{text:?}"
    );
    let direct = check(&function(insts, 4, vec![]));
    assert!(direct.len() < text.len(), "{direct:?}");
    // Swapped pair plus a spilled and a constant argument.
    let mut insts: Vec<Inst> = (0..12).map(|v| mov(v, v as i32 * 7 + 1)).collect();
    insts.push(Inst::Call {
        helper: 105,
        args: vec![reg(1), reg(0), reg(11), Operand::Imm(-4), reg(0)],
        ret: Some(VReg(12)),
    });
    for v in 0..12 {
        insts.push(alu(AluOp::Xor, 12, v));
    }
    insts.push(Inst::Exit { ret: reg(12) });
    check(&function(insts, 13, vec![]));
}

#[test]
fn loops_keep_values_defined_before_them() {
    // %0 = 10; %1 = 0; %2 = 3; L0: if %0 == 0 goto L1; %1 += %2 * %0 (via call); %0 -= 1; goto L0
    let insts = vec![
        mov(0, 10),
        mov(1, 0),
        mov(2, 3),
        mov(5, 1000),
        mov(6, 7),
        Inst::Label(Label(0)),
        Inst::JmpIf {
            cond: Cond::Eq,
            a: VReg(0),
            b: Operand::Imm(0),
            target: Label(1),
        },
        alu(AluOp::Add, 1, 6),
        mov(7, 100),
        alu(AluOp::Add, 1, 7),
        Inst::Call {
            helper: 102,
            args: vec![reg(2), reg(0)],
            ret: Some(VReg(3)),
        },
        alu(AluOp::Add, 1, 3),
        Inst::Alu64 {
            op: AluOp::Sub,
            dst: VReg(0),
            src: Operand::Imm(1),
        },
        Inst::Jmp { target: Label(0) },
        Inst::Label(Label(1)),
        alu(AluOp::Add, 1, 5),
        Inst::Exit { ret: reg(1) },
    ];
    check(&function(insts, 8, vec![]));

    // Without calls: %3 is read early in the body and %4 is born after that read; %3 must
    // still hold its value when the back edge brings control to the read again.
    let insts = vec![
        mov(0, 4),
        mov(1, 0),
        mov(2, 1000),
        mov(3, 7),
        Inst::Label(Label(0)),
        alu(AluOp::Add, 1, 3),
        mov(4, 100),
        alu(AluOp::Add, 1, 4),
        Inst::Alu64 {
            op: AluOp::Sub,
            dst: VReg(0),
            src: Operand::Imm(1),
        },
        Inst::JmpIf {
            cond: Cond::Ne,
            a: VReg(0),
            b: Operand::Imm(0),
            target: Label(0),
        },
        alu(AluOp::Add, 1, 2),
        Inst::Exit { ret: reg(1) },
    ];
    check(&function(insts, 6, vec![]));
}

#[test]
fn ctx_arrives_in_r1_and_unwritten_vregs_read_zero() {
    // ctx (%3) is needed after a call, so it must leave r1 first.
    let insts = vec![
        Inst::Call {
            helper: 100,
            args: vec![],
            ret: Some(VReg(0)),
        },
        alu(AluOp::Add, 0, 3),
        alu(AluOp::Add, 0, 1),
        Inst::Exit { ret: reg(0) },
    ];
    let f = function(insts, 4, vec![]);
    let enc = compile(&f).unwrap();
    let want = super::testvm::mock_helper(100, &[]).wrapping_add(0xc7c7_0000);
    assert_eq!(run_bpf(&enc.insns), want);
}

#[test]
fn slots_hold_values_at_their_offsets() {
    let slot = |size| SlotInfo {
        size,
        align: 8,
        span: Span::default(),
    };
    let store = |s, off, src, size| Inst::Store {
        base: Base::Slot(SlotId(s)),
        off,
        src,
        size,
    };
    let load = |d, s, off, size| Inst::Load {
        dst: VReg(d),
        base: Base::Slot(SlotId(s)),
        off,
        size,
    };
    let insts = vec![
        mov(0, 0x1234_5678),
        store(0, 0, reg(0), Size::DW),
        store(0, 8, Operand::Imm(-1), Size::W),
        store(1, 2, Operand::Imm(0x55), Size::B),
        load(1, 0, 8, Size::DW),
        load(2, 1, 2, Size::H),
        load(3, 0, 1, Size::B),
        alu(AluOp::Add, 1, 2),
        alu(AluOp::Add, 1, 3),
        Inst::Exit { ret: reg(1) },
    ];
    check(&function(insts, 4, vec![slot(16), slot(4)]));
}

#[test]
fn backend_diagnostics() {
    let f = function(
        vec![Inst::Alu64 {
            op: AluOp::Div,
            dst: VReg(0),
            src: Operand::Imm(0),
        }],
        1,
        vec![],
    );
    assert_eq!(compile(&f).unwrap_err().message, "division by zero");
    let f = function(
        vec![Inst::Alu32 {
            op: AluOp::Lsh,
            dst: VReg(0),
            src: Operand::Imm(32),
        }],
        1,
        vec![],
    );
    assert!(compile(&f).unwrap_err().message.contains("shift by 32"));
    let f = function(
        vec![Inst::Call {
            helper: 1,
            args: vec![Operand::Imm(0); 6],
            ret: None,
        }],
        1,
        vec![],
    );
    assert!(compile(&f).unwrap_err().message.contains("6 arguments"));
    let f = function(vec![Inst::Exit { ret: reg(7) }], 0, vec![]);
    assert!(compile(&f).is_ok(), "vregs beyond nregs are tolerated");
}

/// A small deterministic generator of straight-line code, branches, calls and one loop.
struct Gen {
    seed: u64,
    nv: u32,
    next_label: u32,
    out: Vec<Inst>,
}

impl Gen {
    fn rand(&mut self, n: u64) -> u64 {
        self.seed ^= self.seed << 13;
        self.seed ^= self.seed >> 7;
        self.seed ^= self.seed << 17;
        self.seed % n
    }
    fn v(&mut self) -> VReg {
        VReg(self.rand(u64::from(self.nv)) as u32)
    }
    fn operand(&mut self) -> Operand {
        if self.rand(3) == 0 {
            Operand::Imm(self.rand(200) as i32 - 100)
        } else {
            Operand::Reg(self.v())
        }
    }
    fn op(&mut self, depth: u32) {
        const OPS: [AluOp; 11] = AluOp::ALL;
        const CONDS: [Cond; 11] = Cond::ALL;
        let dst = self.v();
        let inst = match self.rand(10) {
            0..=3 => {
                let op = OPS[self.rand(11) as usize];
                let wide = self.rand(3) != 0;
                let src = match self.operand() {
                    Operand::Imm(i) => {
                        Operand::Imm(i.rem_euclid(if wide { 64 } else { 32 }).max(1))
                    }
                    r => r,
                };
                if wide {
                    Inst::Alu64 { op, dst, src }
                } else {
                    Inst::Alu32 { op, dst, src }
                }
            }
            4 => Inst::Neg { dst },
            5 => {
                let n = self.rand(6);
                let args = (0..n).map(|_| self.operand()).collect();
                let ret = (self.rand(4) != 0).then_some(dst);
                Inst::Call {
                    helper: 100 + n as u32,
                    args,
                    ret,
                }
            }
            6 => {
                let src = self.operand();
                Inst::Store {
                    base: Base::Slot(SlotId(0)),
                    off: 8 * self.rand(4) as i16,
                    src,
                    size: Size::DW,
                }
            }
            7 => Inst::Load {
                dst,
                base: Base::Slot(SlotId(0)),
                off: 4 * self.rand(7) as i16,
                size: Size::W,
            },
            8 if depth < 3 => {
                let target = Label(self.next_label);
                self.next_label += 1;
                let (a, b) = (self.v(), self.operand());
                let cond = CONDS[self.rand(11) as usize];
                self.out.push(Inst::JmpIf { cond, a, b, target });
                for _ in 0..1 + self.rand(3) {
                    self.op(depth + 1);
                }
                Inst::Label(target)
            }
            _ => Inst::Mov {
                dst,
                src: self.operand(),
            },
        };
        self.out.push(inst);
    }
}

fn random_program(seed: u64) -> Function {
    let mut g = Gen {
        seed: seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1,
        nv: 0,
        next_label: 1,
        out: vec![],
    };
    g.nv = 4 + g.rand(40) as u32;
    let counter = VReg(g.nv);
    for v in 0..g.nv {
        let imm = (g.rand(1 << 40) as i64) << g.rand(24);
        g.out.push(Inst::LdImm64 { dst: VReg(v), imm });
    }
    for _ in 0..g.rand(20) {
        g.op(0);
    }
    let trips = 1 + g.rand(4) as i32;
    g.out.push(mov(counter.0, trips));
    g.out.push(Inst::Label(Label(0)));
    for _ in 0..1 + g.rand(20) {
        g.op(0);
    }
    g.out.push(Inst::Alu64 {
        op: AluOp::Sub,
        dst: counter,
        src: Operand::Imm(1),
    });
    g.out.push(Inst::JmpIf {
        cond: Cond::Ne,
        a: counter,
        b: Operand::Imm(0),
        target: Label(0),
    });
    for v in 1..g.nv {
        g.out
            .push(alu(if v % 2 == 0 { AluOp::Xor } else { AluOp::Add }, 0, v));
    }
    g.out.push(Inst::Exit { ret: reg(0) });
    let slots = vec![SlotInfo {
        size: 32,
        align: 8,
        span: Span::default(),
    }];
    function(std::mem::take(&mut g.out), g.nv + 1, slots)
}

#[test]
fn random_programs_compute_what_their_ir_computes() {
    for seed in 0..400 {
        let f = random_program(seed);
        let enc = compile(&f).unwrap_or_else(|d| panic!("seed {seed}: {d:?}"));
        let (want, got) = (run_ir(&f), run_bpf(&enc.insns));
        assert_eq!(
            got,
            want,
            "seed {seed}:\n{}",
            disassemble(&enc.insns).join("\n")
        );
    }
}
