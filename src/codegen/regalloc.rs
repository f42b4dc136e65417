//! Register allocation by linear scan over live intervals, spilling whole vregs to 8-byte stack
//! slots instead of failing. Fed by `liveness::Liveness`; consumed by `emit`.
//!
//! r0 and r5 are not allocated by the scan: they are the scratch registers through which `emit`
//! reloads spilled operands (r0 also breaks cycles of call-argument moves). Values live across a
//! call only get the callee-saved r6-r9, or the stack. Afterwards, a helper's result may stay in
//! r0 where that is safe (`keep_results_in_r0`).

use super::asm::{Reg, R0, R1, R2, R3, R4, R6, R7, R8, R9};
use super::ir::{Inst, Operand, SpannedInst, VReg};
use super::liveness::{use_pos, Interval, Liveness};

/// Registers offered to values that are not live across a call, caller-saved first.
const ANY: [Reg; 8] = [R1, R2, R3, R4, R6, R7, R8, R9];
/// Callee-saved registers: the only ones that survive a helper call.
const CALLEE_SAVED: [Reg; 4] = [R6, R7, R8, R9];

/// Where a vreg lives for its whole lifetime.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Loc {
    Reg(Reg),
    /// Index of an 8-byte spill slot; its offset comes from the frame layout.
    Spill(u32),
}

pub struct Allocation {
    /// Indexed by vreg number; `None` for vregs that never occur.
    pub locs: Vec<Option<Loc>>,
    /// Number of spill slots; spill slot `i` was first needed by `spill_owner[i]`.
    pub spill_owner: Vec<VReg>,
}

impl Allocation {
    pub fn loc(&self, v: VReg) -> Option<Loc> {
        self.locs.get(v.0 as usize).copied().flatten()
    }
}

/// Leaves a helper's result in r0 when nothing can clobber it there: the function has no
/// spills (r0 is then never needed as a reload scratch), the value is dead before the next call,
/// and it is not a call argument (argument moves may use r0 to break cycles). Saves the
/// `rN = r0` after most lookups.
pub fn keep_results_in_r0(alloc: &mut Allocation, lv: &Liveness, insts: &[SpannedInst]) {
    if !alloc.spill_owner.is_empty() {
        return;
    }
    let mut call_args = std::collections::HashSet::new();
    for si in insts {
        if let Inst::Call { args, .. } = &si.inst {
            call_args.extend(args.iter().filter_map(|a| match a {
                Operand::Reg(v) => Some(*v),
                Operand::Imm(_) => None,
            }));
        }
    }
    for si in insts {
        if let Inst::Call { ret: Some(v), .. } = &si.inst {
            let i = v.0 as usize;
            if !lv.crosses_call.get(i).copied().unwrap_or(true) && !call_args.contains(v) {
                if let Some(loc) = alloc.locs.get_mut(i) {
                    *loc = Some(Loc::Reg(R0));
                }
            }
        }
    }
}

struct Active {
    end: u32,
    vreg: VReg,
    reg: Reg,
}

/// Linear scan; `hint` is a vreg that would like a given register (ctx in r1).
pub fn allocate(lv: &Liveness, hint: Option<(VReg, Reg)>) -> Allocation {
    allocate_with(lv, hint, &[])
}

/// For each vreg that dies as argument k (below 4) of a helper call it does not outlive, the
/// register the call wants it in (r1...r4): placed there, it needs no move before the call.
pub fn call_arg_preferences(lv: &Liveness, insts: &[SpannedInst]) -> Vec<Option<Reg>> {
    const ARGS: [Reg; 4] = [R1, R2, R3, R4];
    let mut prefs = vec![None; lv.intervals.len()];
    for (i, si) in insts.iter().enumerate() {
        let Inst::Call { args, .. } = &si.inst else {
            continue;
        };
        for (k, a) in args.iter().enumerate().take(ARGS.len()) {
            let Operand::Reg(v) = a else { continue };
            let n = v.0 as usize;
            let dies_here = lv
                .intervals
                .get(n)
                .copied()
                .flatten()
                .is_some_and(|iv| iv.end == use_pos(i));
            if dies_here && !lv.crosses_call.get(n).copied().unwrap_or(true) {
                if let Some(p) = prefs.get_mut(n) {
                    p.get_or_insert(ARGS[k]);
                }
            }
        }
    }
    prefs
}

/// `allocate` with per-vreg register preferences (see `call_arg_preferences`), taken when the
/// register is free.
pub fn allocate_with(
    lv: &Liveness,
    hint: Option<(VReg, Reg)>,
    prefs: &[Option<Reg>],
) -> Allocation {
    let mut order: Vec<(Interval, VReg)> = lv
        .intervals
        .iter()
        .enumerate()
        .filter_map(|(v, iv)| iv.map(|iv| (iv, VReg(v as u32))))
        .collect();
    // The hinted vreg goes first among those starting together, so its register is still free.
    let hinted_vreg = hint.map(|(v, _)| v);
    order.sort_by_key(|(iv, v)| (iv.start, Some(*v) != hinted_vreg, iv.end, *v));

    let mut locs: Vec<Option<Loc>> = vec![None; lv.intervals.len()];
    let mut spilled: Vec<(Interval, VReg)> = Vec::new();
    let mut active: Vec<Active> = Vec::new();
    for &(iv, v) in &order {
        active.retain(|a| a.end >= iv.start);
        let crosses = lv.crosses_call[v.0 as usize];
        let allowed: &[Reg] = if crosses { &CALLEE_SAVED } else { &ANY };
        let is_free = |r: &Reg| !active.iter().any(|a| a.reg == *r);
        let hinted = hint
            .filter(|(hv, hr)| *hv == v && allowed.contains(hr) && is_free(hr))
            .map(|(_, r)| r);
        let preferred = prefs
            .get(v.0 as usize)
            .copied()
            .flatten()
            .filter(|r| allowed.contains(r) && is_free(r));
        let free = hinted
            .or(preferred)
            .or_else(|| allowed.iter().copied().find(is_free));
        let reg = match free {
            Some(r) => Some(r),
            None => {
                // Evict the occupant of an allowed register that lives longest, if it outlives us.
                let victim = active
                    .iter()
                    .enumerate()
                    .filter(|(_, a)| allowed.contains(&a.reg))
                    .max_by_key(|(_, a)| (a.end, a.vreg))
                    .map(|(i, a)| (i, a.end));
                match victim {
                    Some((i, end)) if end > iv.end => {
                        let a = active.swap_remove(i);
                        if let Some(Some(viv)) = lv.intervals.get(a.vreg.0 as usize) {
                            spilled.push((*viv, a.vreg));
                        }
                        Some(a.reg)
                    }
                    _ => None,
                }
            }
        };
        match reg {
            Some(reg) => {
                locs[v.0 as usize] = Some(Loc::Reg(reg));
                active.push(Active {
                    end: iv.end,
                    vreg: v,
                    reg,
                });
            }
            None => spilled.push((iv, v)),
        }
    }

    // Spill slots: interval colouring, reusing a slot once its last holder is dead.
    spilled.sort_by_key(|(iv, v)| (iv.start, *v));
    let mut slot_end: Vec<u32> = Vec::new();
    let mut spill_owner = Vec::new();
    for (iv, v) in spilled {
        let slot = match slot_end.iter().position(|&e| e < iv.start) {
            Some(s) => s,
            None => {
                slot_end.push(0);
                spill_owner.push(v);
                slot_end.len() - 1
            }
        };
        slot_end[slot] = iv.end;
        locs[v.0 as usize] = Some(Loc::Spill(slot as u32));
    }
    Allocation { locs, spill_owner }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lv(ivs: &[(u32, u32, bool)]) -> Liveness {
        Liveness {
            intervals: ivs
                .iter()
                .map(|&(start, end, _)| Some(Interval { start, end }))
                .collect(),
            crosses_call: ivs.iter().map(|&(_, _, c)| c).collect(),
            entry_live: vec![],
        }
    }

    /// No two vregs whose intervals overlap share a register or a spill slot.
    fn check_no_conflicts(l: &Liveness, a: &Allocation) {
        for (i, x) in l.intervals.iter().enumerate() {
            for (j, y) in l.intervals.iter().enumerate().skip(i + 1) {
                let (Some(x), Some(y)) = (x, y) else { continue };
                if x.start <= y.end && y.start <= x.end {
                    assert_ne!(a.locs[i], a.locs[j], "%{i} and %{j} overlap");
                }
            }
        }
    }

    #[test]
    fn many_live_values_spill_instead_of_failing() {
        let ivs: Vec<(u32, u32, bool)> = (0..40).map(|i| (i, 100 + i, false)).collect();
        let l = lv(&ivs);
        let a = allocate(&l, None);
        check_no_conflicts(&l, &a);
        let in_regs = a
            .locs
            .iter()
            .filter(|l| matches!(l, Some(Loc::Reg(_))))
            .count();
        assert_eq!(in_regs, 8);
        assert_eq!(a.spill_owner.len(), 32);
    }

    #[test]
    fn values_across_calls_get_callee_saved_registers_or_the_stack() {
        let ivs: Vec<(u32, u32, bool)> = (0..6).map(|i| (i, 50, true)).collect();
        let l = lv(&ivs);
        let a = allocate(&l, None);
        check_no_conflicts(&l, &a);
        for loc in a.locs.iter().flatten() {
            match loc {
                Loc::Reg(r) => assert!(CALLEE_SAVED.contains(r), "{r:?}"),
                Loc::Spill(_) => {}
            }
        }
        assert_eq!(a.spill_owner.len(), 2);
    }

    #[test]
    fn registers_and_spill_slots_are_reused_after_death() {
        let mut ivs: Vec<(u32, u32, bool)> = (0..12).map(|i| (i, 20, false)).collect();
        ivs.extend((0..12).map(|i| (30 + i, 60, false)));
        let l = lv(&ivs);
        let a = allocate(&l, None);
        check_no_conflicts(&l, &a);
        assert_eq!(a.spill_owner.len(), 4);
    }

    #[test]
    fn the_longest_lived_value_is_the_one_spilled() {
        let mut ivs: Vec<(u32, u32, bool)> = vec![(0, 1000, false)];
        ivs.extend((1..9).map(|i| (i, 10, false)));
        let l = lv(&ivs);
        let a = allocate(&l, None);
        check_no_conflicts(&l, &a);
        assert_eq!(a.locs[0], Some(Loc::Spill(0)));
        assert!(a.locs[1..].iter().all(|l| matches!(l, Some(Loc::Reg(_)))));
    }

    #[test]
    fn ctx_hint_keeps_r1() {
        let l = lv(&[(0, 10, false), (0, 10, false)]);
        let a = allocate(&l, Some((VReg(1), R1)));
        assert_eq!(a.locs[1], Some(Loc::Reg(R1)));
        assert_ne!(a.locs[0], Some(Loc::Reg(R1)));
    }
}
