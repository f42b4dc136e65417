//! Liveness of virtual registers over the CFG (loops included) and the live intervals the
//! allocator works on. Fed by `cfg::Cfg`; consumed by `regalloc`.

use super::cfg::Cfg;
use super::ir::{Base, Inst, Operand, VReg};

/// Position of the point where instruction `i` reads its operands.
pub fn use_pos(i: usize) -> u32 {
    2 * i as u32 + 2
}

/// Position of the point where instruction `i` writes its result.
pub fn def_pos(i: usize) -> u32 {
    2 * i as u32 + 3
}

/// Positions covered by a vreg: from its first definition (or the entry, 0) to its last use,
/// extended over every block it is live through, so loops hold their values to the back edge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Interval {
    pub start: u32,
    pub end: u32,
}

pub struct Liveness {
    /// Indexed by vreg number; `None` for vregs that never occur.
    pub intervals: Vec<Option<Interval>>,
    /// Live across some call (live after it and not its result): r0-r5 would be clobbered.
    pub crosses_call: Vec<bool>,
    /// Live on entry: the ctx vreg, and any vreg read on some path before being written.
    pub entry_live: Vec<VReg>,
}

fn op_reg(o: &Operand) -> Option<VReg> {
    match o {
        Operand::Reg(r) => Some(*r),
        Operand::Imm(_) => None,
    }
}

fn base_reg(b: &Base) -> Option<VReg> {
    match b {
        Base::Reg(r) => Some(*r),
        Base::Slot(_) => None,
    }
}

/// The vregs an instruction reads and the one it writes.
pub fn uses_def(inst: &Inst) -> (Vec<VReg>, Option<VReg>) {
    let mut uses = Vec::new();
    let def = for_each_use(inst, |v| uses.push(v));
    (uses, def)
}

/// Calls `f` on every vreg an instruction reads, in `uses_def` order, and returns the one it
/// writes; `uses_def` without allocating.
fn for_each_use(inst: &Inst, mut f: impl FnMut(VReg)) -> Option<VReg> {
    let mut op = |o: &Operand| {
        if let Some(r) = op_reg(o) {
            f(r)
        }
    };
    match inst {
        Inst::Mov { dst, src } => {
            op(src);
            Some(*dst)
        }
        Inst::LdImm64 { dst, .. }
        | Inst::LdConst { dst, .. }
        | Inst::LdMapFd { dst, .. }
        | Inst::LdMapValue { dst, .. }
        | Inst::StackAddr { dst, .. } => Some(*dst),
        Inst::Alu64 { dst, src, .. } | Inst::Alu32 { dst, src, .. } => {
            op(&Operand::Reg(*dst));
            op(src);
            Some(*dst)
        }
        Inst::Neg { dst } => {
            op(&Operand::Reg(*dst));
            Some(*dst)
        }
        Inst::Load { dst, base, .. } => {
            if let Some(r) = base_reg(base) {
                op(&Operand::Reg(r));
            }
            Some(*dst)
        }
        Inst::Store { base, src, .. } => {
            if let Some(r) = base_reg(base) {
                op(&Operand::Reg(r));
            }
            op(src);
            None
        }
        Inst::AtomicAdd { base, src, .. } => {
            if let Some(r) = base_reg(base) {
                op(&Operand::Reg(r));
            }
            op(&Operand::Reg(*src));
            None
        }
        Inst::Call { args, ret, .. } => {
            args.iter().for_each(&mut op);
            *ret
        }
        Inst::JmpIf { a, b, .. } => {
            op(&Operand::Reg(*a));
            op(b);
            None
        }
        Inst::Exit { ret } => {
            op(ret);
            None
        }
        Inst::Jmp { .. } | Inst::Label(_) => None,
    }
}

/// A fixed-size set of vregs.
#[derive(Clone, PartialEq, Eq)]
struct Set(Vec<u64>);

impl Set {
    fn new(n: usize) -> Set {
        Set(vec![0; n.div_ceil(64)])
    }
    fn insert(&mut self, v: VReg) {
        self.0[v.0 as usize / 64] |= 1 << (v.0 % 64);
    }
    fn remove(&mut self, v: VReg) {
        self.0[v.0 as usize / 64] &= !(1 << (v.0 % 64));
    }
    fn contains(&self, v: VReg) -> bool {
        self.0[v.0 as usize / 64] & (1 << (v.0 % 64)) != 0
    }
    fn clear(&mut self) {
        self.0.fill(0);
    }
    fn union_with(&mut self, o: &Set) {
        self.0.iter_mut().zip(&o.0).for_each(|(a, b)| *a |= b);
    }
    fn iter(&self) -> impl Iterator<Item = VReg> + '_ {
        self.0.iter().enumerate().flat_map(|(w, &bits)| {
            (0..64)
                .filter(move |b| bits & (1u64 << b) != 0)
                .map(move |b| VReg((w * 64 + b) as u32))
        })
    }
}

impl Liveness {
    /// `nregs` must exceed every vreg number in `cfg`.
    pub fn compute(cfg: &Cfg, nregs: usize) -> Liveness {
        let nb = cfg.blocks.len();
        // Per block: read before written (gen) and written (kill).
        let mut gen = vec![Set::new(nregs); nb];
        let mut kill = vec![Set::new(nregs); nb];
        for (b, block) in cfg.blocks.iter().enumerate() {
            let (gen_b, kill_b) = (&mut gen[b], &mut kill[b]);
            for si in &cfg.insts[block.start..block.end] {
                let def = for_each_use(&si.inst, |u| {
                    if !kill_b.contains(u) {
                        gen_b.insert(u);
                    }
                });
                if let Some(d) = def {
                    kill_b.insert(d);
                }
            }
        }
        let mut live_in = vec![Set::new(nregs); nb];
        let mut live_out = vec![Set::new(nregs); nb];
        // Scratch sets reused by every step of the fixed point.
        let mut out = Set::new(nregs);
        let mut inn = Set::new(nregs);
        let mut changed = true;
        while changed {
            changed = false;
            for b in (0..nb).rev() {
                out.clear();
                for &s in &cfg.blocks[b].succs {
                    out.union_with(&live_in[s]);
                }
                inn.0.copy_from_slice(&out.0);
                inn.0.iter_mut().zip(&kill[b].0).for_each(|(a, k)| *a &= !k);
                inn.union_with(&gen[b]);
                if inn != live_in[b] || out != live_out[b] {
                    changed = true;
                    live_in[b].0.copy_from_slice(&inn.0);
                    live_out[b].0.copy_from_slice(&out.0);
                }
            }
        }

        let mut lv = Liveness {
            intervals: vec![None; nregs],
            crosses_call: vec![false; nregs],
            entry_live: live_in
                .first()
                .map(|s| s.iter().collect())
                .unwrap_or_default(),
        };
        for i in 0..lv.entry_live.len() {
            lv.touch(lv.entry_live[i], 0);
        }
        let mut live = Set::new(nregs);
        for (b, block) in cfg.blocks.iter().enumerate() {
            live.0.copy_from_slice(&live_out[b].0);
            for v in live.iter() {
                lv.touch(v, def_pos(block.end - 1));
            }
            for i in (block.start..block.end).rev() {
                let inst = &cfg.insts[i].inst;
                let def = for_each_use(inst, |_| {});
                if matches!(inst, Inst::Call { .. }) {
                    for v in live.iter().filter(|&v| Some(v) != def) {
                        lv.crosses_call[v.0 as usize] = true;
                    }
                }
                if let Some(d) = def {
                    lv.touch(d, def_pos(i));
                    live.remove(d);
                }
                for_each_use(inst, |u| {
                    lv.touch(u, use_pos(i));
                    live.insert(u);
                });
            }
            for v in live.iter() {
                lv.touch(v, use_pos(block.start));
            }
        }
        lv
    }

    fn touch(&mut self, v: VReg, pos: u32) {
        let slot = &mut self.intervals[v.0 as usize];
        *slot = Some(match *slot {
            None => Interval {
                start: pos,
                end: pos,
            },
            Some(iv) => Interval {
                start: iv.start.min(pos),
                end: iv.end.max(pos),
            },
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codegen::ir::{AluOp, Cond, Function, Label, SpannedInst};

    fn cfg(insts: Vec<Inst>) -> Cfg {
        let f = Function {
            insts: insts
                .into_iter()
                .map(|inst| SpannedInst {
                    inst,
                    span: Default::default(),
                })
                .collect(),
            ..Function::default()
        };
        Cfg::build(&f).unwrap()
    }

    #[test]
    fn values_used_in_a_loop_live_until_the_back_edge() {
        // %0 = 10; %1 = 0; L0: if %0 == 0 goto L1; %1 += %0; %0 -= 1; goto L0; L1: exit %1
        let c = cfg(vec![
            Inst::Mov {
                dst: VReg(0),
                src: Operand::Imm(10),
            },
            Inst::Mov {
                dst: VReg(1),
                src: Operand::Imm(0),
            },
            Inst::Mov {
                dst: VReg(2),
                src: Operand::Imm(3),
            },
            Inst::Label(Label(0)),
            Inst::JmpIf {
                cond: Cond::Eq,
                a: VReg(0),
                b: Operand::Imm(0),
                target: Label(1),
            },
            Inst::Alu64 {
                op: AluOp::Add,
                dst: VReg(1),
                src: Operand::Reg(VReg(2)),
            },
            Inst::Alu64 {
                op: AluOp::Sub,
                dst: VReg(0),
                src: Operand::Imm(1),
            },
            Inst::Jmp { target: Label(0) },
            Inst::Label(Label(1)),
            Inst::Exit {
                ret: Operand::Reg(VReg(1)),
            },
        ]);
        let lv = Liveness::compute(&c, 3);
        // %2 is last read at instruction 5 but must survive until the jump back (7).
        let iv2 = lv.intervals[2].unwrap();
        assert_eq!(iv2.start, def_pos(2));
        assert!(iv2.end >= def_pos(7), "{iv2:?}");
        assert!(lv.intervals[1].unwrap().end >= use_pos(9));
        assert!(lv.entry_live.is_empty());
    }

    #[test]
    fn call_crossing_excludes_the_result_and_dead_values() {
        let c = cfg(vec![
            Inst::Mov {
                dst: VReg(0),
                src: Operand::Imm(1),
            },
            Inst::Mov {
                dst: VReg(1),
                src: Operand::Imm(2),
            },
            Inst::Call {
                helper: 5,
                args: vec![Operand::Reg(VReg(1))],
                ret: Some(VReg(2)),
            },
            Inst::Alu64 {
                op: AluOp::Add,
                dst: VReg(2),
                src: Operand::Reg(VReg(0)),
            },
            Inst::Exit {
                ret: Operand::Reg(VReg(2)),
            },
        ]);
        let lv = Liveness::compute(&c, 3);
        assert_eq!(lv.crosses_call, vec![true, false, false]);
    }

    #[test]
    fn reads_before_writes_are_live_on_entry() {
        let c = cfg(vec![Inst::Exit {
            ret: Operand::Reg(VReg(4)),
        }]);
        let lv = Liveness::compute(&c, 5);
        assert_eq!(lv.entry_live, vec![VReg(4)]);
        assert_eq!(lv.intervals[4].unwrap().start, 0);
    }
}
