//! Scratch space for programs whose stack slots do not fit the kernel's 512 bytes: the slots
//! move into the one element of a per-CPU array map, found once at the program's start
//! (`bpf_map_lookup_elem`), and every access to them goes through that pointer. Fed by
//! `codegen::compile_spilling` with a function whose frame overflowed.

use super::ir::{helper, SpannedInst, VReg};
use super::ir::{AluOp, Base, Cond, Function, Inst, Label, MapId, Operand, SlotId, SlotInfo};
use crate::diag::Diagnostic;

/// The largest scratch element: the kernel's limit for a per-CPU value (PCPU_MIN_UNIT_SIZE).
pub const MAX_SCRATCH: u32 = 32 * 1024;

/// `func` with every stack slot moved to scratch space in map `map`, and the bytes the map's
/// element needs. Slot `i` lives at `offsets[i]` of the element; a 4-byte stack slot keeps the
/// lookup's key. A program whose lookup fails (it cannot for an array's first element) exits.
pub fn move_slots(func: &Function, map: MapId) -> Result<(Function, u32), Diagnostic> {
    let mut offsets = Vec::with_capacity(func.slots.len());
    let mut size: u32 = 0;
    for s in &func.slots {
        let align = match s.align {
            1 | 2 | 4 | 8 => s.align,
            _ => 8,
        };
        size = size.div_ceil(align) * align;
        offsets.push(size);
        size = size.saturating_add(s.size);
        if size > MAX_SCRATCH {
            return Err(Diagnostic::error(
                s.span,
                format!(
                    "this program needs {size} bytes for its values; the stack holds 512 and \
                     scratch space {MAX_SCRATCH}"
                ),
            )
            .with_label("the space runs out here")
            .with_note("use shorter strings (BPFTRACE_STRLEN) or fewer large values at once"));
        }
    }
    let span = func.insts.first().map(|si| si.span).unwrap_or_default();
    let mut out = Function {
        name: func.name.clone(),
        insts: Vec::with_capacity(func.insts.len() + 8),
        slots: vec![SlotInfo {
            size: 4,
            align: 4,
            span,
        }],
        nregs: func.nregs,
        ctx: func.ctx,
        nlabels: func.nlabels,
    };
    let mut vreg = || {
        out.nregs += 1;
        VReg(out.nregs - 1)
    };
    let (base, map_reg, key) = (vreg(), vreg(), vreg());
    let bail = Label(out.nlabels);
    out.nlabels += 1;
    let key_slot = SlotId(0);
    let at = |inst| SpannedInst { inst, span };
    out.insts.extend([
        at(Inst::Store {
            base: Base::Slot(key_slot),
            off: 0,
            src: Operand::Imm(0),
            size: super::ir::Size::W,
        }),
        at(Inst::LdMapFd { dst: map_reg, map }),
        at(Inst::StackAddr {
            dst: key,
            slot: key_slot,
            off: 0,
        }),
        at(Inst::Call {
            helper: helper::MAP_LOOKUP_ELEM,
            args: vec![Operand::Reg(map_reg), Operand::Reg(key)],
            ret: Some(base),
        }),
        at(Inst::JmpIf {
            cond: Cond::Eq,
            a: base,
            b: Operand::Imm(0),
            target: bail,
        }),
    ]);
    let moved = |b: Base, off: i16| -> Result<(Base, i16), Diagnostic> {
        match b {
            Base::Slot(s) => {
                let total = offsets[s.0 as usize] as i32 + i32::from(off);
                let off = i16::try_from(total).map_err(|_| {
                    Diagnostic::error(span, format!("scratch offset {total} is out of range"))
                })?;
                Ok((Base::Reg(base), off))
            }
            reg => Ok((reg, off)),
        }
    };
    for si in &func.insts {
        let mut inst = si.inst.clone();
        let inst = match &mut inst {
            Inst::Load { base: b, off, .. }
            | Inst::Store { base: b, off, .. }
            | Inst::AtomicAdd { base: b, off, .. } => {
                (*b, *off) = moved(*b, *off)?;
                inst
            }
            Inst::StackAddr { dst, slot, off } => {
                out.insts.push(SpannedInst {
                    inst: Inst::Mov {
                        dst: *dst,
                        src: Operand::Reg(base),
                    },
                    span: si.span,
                });
                Inst::Alu64 {
                    op: AluOp::Add,
                    dst: *dst,
                    src: Operand::Imm(offsets[slot.0 as usize] as i32 + *off),
                }
            }
            _ => inst,
        };
        out.insts.push(SpannedInst {
            inst,
            span: si.span,
        });
    }
    out.insts.push(at(Inst::Label(bail)));
    out.insts.push(at(Inst::Exit {
        ret: Operand::Imm(0),
    }));
    Ok((out, size.max(8).div_ceil(8) * 8))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::Span;

    #[test]
    fn slots_become_offsets_from_the_looked_up_element() {
        let f = Function {
            name: "p".into(),
            insts: vec![
                SpannedInst {
                    inst: Inst::Store {
                        base: Base::Slot(SlotId(1)),
                        off: 4,
                        src: Operand::Imm(7),
                        size: super::super::ir::Size::W,
                    },
                    span: Span::new(3, 4),
                },
                SpannedInst {
                    inst: Inst::StackAddr {
                        dst: VReg(1),
                        slot: SlotId(1),
                        off: 2,
                    },
                    span: Span::new(5, 6),
                },
                SpannedInst {
                    inst: Inst::Exit {
                        ret: Operand::Imm(0),
                    },
                    span: Span::new(7, 8),
                },
            ],
            slots: vec![
                SlotInfo {
                    size: 3,
                    align: 1,
                    span: Span::default(),
                },
                SlotInfo {
                    size: 600,
                    align: 8,
                    span: Span::default(),
                },
            ],
            nregs: 2,
            ctx: VReg(0),
            nlabels: 0,
        };
        let (g, size) = move_slots(&f, MapId(9)).unwrap();
        assert_eq!(size, 608);
        assert_eq!(g.slots.len(), 1, "only the key stays on the stack");
        let base = VReg(2);
        assert!(g.insts.iter().any(|si| si.inst
            == Inst::Store {
                base: Base::Reg(base),
                off: 12,
                src: Operand::Imm(7),
                size: super::super::ir::Size::W,
            }));
        assert!(g.insts.iter().any(|si| si.inst
            == Inst::Alu64 {
                op: AluOp::Add,
                dst: VReg(1),
                src: Operand::Imm(10),
            }));
        assert!(matches!(
            g.insts.last().map(|si| &si.inst),
            Some(Inst::Exit { .. })
        ));
        let too_big = Function {
            slots: vec![
                SlotInfo {
                    size: MAX_SCRATCH,
                    align: 8,
                    span: Span::new(1, 2),
                };
                2
            ],
            ..f
        };
        let err = move_slots(&too_big, MapId(9)).unwrap_err();
        assert_eq!(err.span, Some(Span::new(1, 2)));
    }
}
