//! Test-only interpreters for IR and for encoded eBPF (stack memory, mock helpers that clobber
//! r1-r5), so compiled code can be checked against its IR without a kernel. Fed by tests.

use super::asm::*;
use super::ir::{AluOp, Base, Cond, Function, Inst, Label, Operand};
use std::collections::HashMap;

/// r10 in the eBPF interpreter; the stack is the 512 bytes below it.
const STACK_TOP: u64 = 0x10_0000;
const STEP_LIMIT: usize = 1_000_000;

/// Mock helper `100 + n` takes `n` arguments (n <= 5).
pub fn mock_arity(helper: u32) -> usize {
    helper.saturating_sub(100).min(5) as usize
}

/// What a mock helper returns: depends on every argument and on their order.
pub fn mock_helper(helper: u32, args: &[u64]) -> u64 {
    args.iter()
        .enumerate()
        .fold(u64::from(helper) * 1_000_003, |acc, (i, a)| {
            acc.wrapping_mul(31)
                .wrapping_add(a.wrapping_mul(i as u64 + 7))
        })
}

pub fn alu(op: AluOp, wide: bool, a: u64, b: u64) -> u64 {
    if wide {
        match op {
            AluOp::Add => a.wrapping_add(b),
            AluOp::Sub => a.wrapping_sub(b),
            AluOp::Mul => a.wrapping_mul(b),
            AluOp::Div => a.checked_div(b).unwrap_or(0),
            AluOp::Mod => a.checked_rem(b).unwrap_or(a),
            AluOp::Or => a | b,
            AluOp::And => a & b,
            AluOp::Xor => a ^ b,
            AluOp::Lsh => a << (b & 63),
            AluOp::Rsh => a >> (b & 63),
            AluOp::Arsh => ((a as i64) >> (b & 63)) as u64,
        }
    } else {
        let (a, b) = (a as u32, b as u32);
        u64::from(match op {
            AluOp::Add => a.wrapping_add(b),
            AluOp::Sub => a.wrapping_sub(b),
            AluOp::Mul => a.wrapping_mul(b),
            AluOp::Div => a.checked_div(b).unwrap_or(0),
            AluOp::Mod => a.checked_rem(b).unwrap_or(a),
            AluOp::Or => a | b,
            AluOp::And => a & b,
            AluOp::Xor => a ^ b,
            AluOp::Lsh => a << (b & 31),
            AluOp::Rsh => a >> (b & 31),
            AluOp::Arsh => ((a as i32) >> (b & 31)) as u32,
        })
    }
}

pub fn cond(c: Cond, a: u64, b: u64) -> bool {
    let (sa, sb) = (a as i64, b as i64);
    match c {
        Cond::Eq => a == b,
        Cond::Ne => a != b,
        Cond::Gt => a > b,
        Cond::Ge => a >= b,
        Cond::Lt => a < b,
        Cond::Le => a <= b,
        Cond::Sgt => sa > sb,
        Cond::Sge => sa >= sb,
        Cond::Slt => sa < sb,
        Cond::Sle => sa <= sb,
        Cond::Set => a & b != 0,
    }
}

/// Runs IR directly (slot bases only; `Base::Reg` and `StackAddr` are not modelled).
pub fn run_ir(f: &Function) -> u64 {
    let mut regs = vec![0u64; f.nregs as usize + 1];
    let mut slots: Vec<Vec<u8>> = f.slots.iter().map(|s| vec![0; s.size as usize]).collect();
    let labels: HashMap<Label, usize> = f
        .insts
        .iter()
        .enumerate()
        .filter_map(|(i, si)| match si.inst {
            Inst::Label(l) => Some((l, i)),
            _ => None,
        })
        .collect();
    let val = |regs: &Vec<u64>, o: Operand| match o {
        Operand::Reg(v) => regs[v.0 as usize],
        Operand::Imm(i) => i as i64 as u64,
    };
    let mut pc = 0;
    for _ in 0..STEP_LIMIT {
        let Some(si) = f.insts.get(pc) else { return 0 };
        pc += 1;
        match &si.inst {
            Inst::Mov { dst, src } => regs[dst.0 as usize] = val(&regs, *src),
            Inst::LdImm64 { dst, imm } => regs[dst.0 as usize] = *imm as u64,
            // The placeholder the encoder leaves before the loader patches it.
            Inst::LdConst { dst, .. } => regs[dst.0 as usize] = 0,
            Inst::Alu64 { op, dst, src } | Inst::Alu32 { op, dst, src } => {
                let wide = matches!(si.inst, Inst::Alu64 { .. });
                let b = match (src, wide) {
                    (Operand::Imm(i), false) => u64::from(*i as u32),
                    _ => val(&regs, *src),
                };
                regs[dst.0 as usize] = alu(*op, wide, regs[dst.0 as usize], b);
            }
            Inst::Neg { dst } => regs[dst.0 as usize] = regs[dst.0 as usize].wrapping_neg(),
            Inst::Load {
                dst,
                base: Base::Slot(s),
                off,
                size,
            } => {
                let o = *off as usize;
                let mut b = [0u8; 8];
                let n = size.bytes() as usize;
                b[..n].copy_from_slice(&slots[s.0 as usize][o..o + n]);
                regs[dst.0 as usize] = u64::from_le_bytes(b);
            }
            Inst::Store {
                base: Base::Slot(s),
                off,
                src,
                size,
            } => {
                let o = *off as usize;
                let n = size.bytes() as usize;
                let v = val(&regs, *src).to_le_bytes();
                slots[s.0 as usize][o..o + n].copy_from_slice(&v[..n]);
            }
            Inst::Call { helper, args, ret } => {
                let a: Vec<u64> = args.iter().map(|o| val(&regs, *o)).collect();
                if let Some(r) = ret {
                    regs[r.0 as usize] = mock_helper(*helper, &a);
                }
            }
            Inst::Jmp { target } => pc = labels[target],
            Inst::JmpIf {
                cond: c,
                a,
                b,
                target,
            } => {
                if cond(*c, regs[a.0 as usize], val(&regs, *b)) {
                    pc = labels[target];
                }
            }
            Inst::Label(_) => {}
            Inst::Exit { ret } => return val(&regs, *ret),
            other => panic!("run_ir does not model {other:?}"),
        }
    }
    panic!("IR step limit")
}

fn alu_of(code: u8) -> AluOp {
    match code & 0xf0 {
        BPF_ADD => AluOp::Add,
        BPF_SUB => AluOp::Sub,
        BPF_MUL => AluOp::Mul,
        BPF_DIV => AluOp::Div,
        BPF_MOD => AluOp::Mod,
        BPF_OR => AluOp::Or,
        BPF_AND => AluOp::And,
        BPF_XOR => AluOp::Xor,
        BPF_LSH => AluOp::Lsh,
        BPF_RSH => AluOp::Rsh,
        BPF_ARSH => AluOp::Arsh,
        c => panic!("alu op {c:#x}"),
    }
}

fn cond_of(code: u8) -> Cond {
    match code & 0xf0 {
        BPF_JEQ => Cond::Eq,
        BPF_JNE => Cond::Ne,
        BPF_JGT => Cond::Gt,
        BPF_JGE => Cond::Ge,
        BPF_JLT => Cond::Lt,
        BPF_JLE => Cond::Le,
        BPF_JSGT => Cond::Sgt,
        BPF_JSGE => Cond::Sge,
        BPF_JSLT => Cond::Slt,
        BPF_JSLE => Cond::Sle,
        BPF_JSET => Cond::Set,
        c => panic!("jump op {c:#x}"),
    }
}

/// Runs encoded eBPF; memory is the 512-byte stack only. Panics on anything it does not model,
/// on reads of registers never written (as the verifier would reject), and on r10 writes.
pub fn run_bpf(insns: &[[u8; 8]]) -> u64 {
    let mut r = [0u64; 11];
    let mut init = [false; 11];
    r[1] = 0xc7c7_0000;
    init[1] = true;
    r[10] = STACK_TOP;
    init[10] = true;
    let mut stack = [0u8; 512];
    let addr = |a: u64, n: usize| -> usize {
        let lo = STACK_TOP - 512;
        assert!(
            a >= lo && a + n as u64 <= STACK_TOP,
            "access {a:#x}+{n} off the stack"
        );
        (a - lo) as usize
    };
    let mut pc = 0usize;
    for _ in 0..STEP_LIMIT {
        let i = Insn::decode(insns[pc]);
        let (d, s) = (i.dst as usize, i.src as usize);
        let size = [4usize, 2, 1, 8][usize::from((i.code & 0x18) >> 3)];
        let here = pc;
        macro_rules! get {
            ($k:expr, $init:expr) => {{
                let k: usize = $k;
                assert!($init[k], "pc {here}: r{k} read before written");
                r[k]
            }};
        }
        pc += 1;
        match i.class() {
            BPF_ALU64 | BPF_ALU => {
                let wide = i.class() == BPF_ALU64;
                let b = if i.code & BPF_X != 0 {
                    get!(s, init)
                } else if wide {
                    i.imm as i64 as u64
                } else {
                    u64::from(i.imm as u32)
                };
                let v = match i.code & 0xf0 {
                    BPF_MOV if wide => b,
                    BPF_MOV => b & 0xffff_ffff,
                    BPF_NEG => get!(d, init).wrapping_neg(),
                    _ => alu(alu_of(i.code), wide, get!(d, init), b),
                };
                assert_ne!(d, 10, "write to r10");
                r[d] = v;
                init[d] = true;
            }
            BPF_LD => {
                let hi = Insn::decode(insns[pc]);
                pc += 1;
                r[d] = (u64::from(hi.imm as u32) << 32) | u64::from(i.imm as u32);
                init[d] = true;
            }
            BPF_LDX => {
                let a = addr(get!(s, init).wrapping_add(i.off as i64 as u64), size);
                let mut b = [0u8; 8];
                b[..size].copy_from_slice(&stack[a..a + size]);
                r[d] = u64::from_le_bytes(b);
                init[d] = true;
            }
            BPF_ST | BPF_STX => {
                let a = addr(get!(d, init).wrapping_add(i.off as i64 as u64), size);
                let v = if i.class() == BPF_ST {
                    i.imm as i64 as u64
                } else {
                    get!(s, init)
                };
                if i.code & 0xe0 == BPF_ATOMIC {
                    let mut b = [0u8; 8];
                    b[..size].copy_from_slice(&stack[a..a + size]);
                    let sum = u64::from_le_bytes(b).wrapping_add(v).to_le_bytes();
                    stack[a..a + size].copy_from_slice(&sum[..size]);
                } else {
                    stack[a..a + size].copy_from_slice(&v.to_le_bytes()[..size]);
                }
            }
            BPF_JMP => match i.code & 0xf0 {
                BPF_EXIT => return get!(0, init),
                BPF_CALL => {
                    let n = mock_arity(i.imm as u32);
                    let args: Vec<u64> = (1..=n).map(|k| get!(k, init)).collect();
                    r[0] = mock_helper(i.imm as u32, &args);
                    init[0] = true;
                    for k in 1..=5 {
                        r[k] = 0xdead_0000 + k as u64;
                        init[k] = false;
                    }
                }
                BPF_JA => pc = (pc as i64 + i64::from(i.off)) as usize,
                _ => {
                    let b = if i.code & BPF_X != 0 {
                        get!(s, init)
                    } else {
                        i.imm as i64 as u64
                    };
                    if cond(cond_of(i.code), get!(d, init), b) {
                        pc = (pc as i64 + i64::from(i.off)) as usize;
                    }
                }
            },
            c => panic!("class {c}"),
        }
    }
    panic!("eBPF step limit")
}
