//! Encoding of allocated IR into eBPF: operands fetched from registers or spill slots, call
//! arguments placed by a parallel move, labels resolved to relative jumps. Fed by `cfg::Cfg`,
//! `regalloc::Allocation` and `frame::Frame`; its output is `codegen::Encoded`.

use super::asm::{self, Insn, Reg, R0, R1, R10, R5};
use super::frame::Frame;
use super::ir::{AluOp, Base, Inst, Label, Operand, Size, SpannedInst, VReg};
use super::regalloc::{Allocation, Loc};
use super::{RelocKind, Relocation};
use crate::diag::Diagnostic;
use crate::source::Span;
use std::collections::HashMap;

/// Scratch registers (never allocated): spilled operands are reloaded into them.
const S1: Reg = R0;
const S2: Reg = R5;

enum Item {
    One(Insn),
    Wide([Insn; 2]),
    /// An `ld_imm64` whose immediate the loader patches (map fd, map value, run-time constant).
    Patched([Insn; 2], RelocKind),
    /// A jump whose offset is filled in once labels have addresses.
    Jump(Insn, Label),
    Label(Label),
}

pub struct Emitter<'a> {
    alloc: &'a Allocation,
    frame: &'a Frame,
    items: Vec<(Item, Span)>,
    span: Span,
}

fn internal(span: Span, msg: String) -> Diagnostic {
    Diagnostic::error(span, format!("internal compiler error: {msg}"))
        .with_note("this is a bug in rtrace's code generation; please report it")
}

impl<'a> Emitter<'a> {
    pub fn new(alloc: &'a Allocation, frame: &'a Frame) -> Self {
        Emitter {
            alloc,
            frame,
            items: Vec::new(),
            span: Span::default(),
        }
    }

    fn push(&mut self, i: Insn) {
        self.items.push((Item::One(i), self.span));
    }

    fn loc(&self, v: VReg) -> Result<Loc, Diagnostic> {
        self.alloc
            .loc(v)
            .ok_or_else(|| internal(self.span, format!("{v} has no location")))
    }

    fn spill_off(&self, slot: u32) -> Result<i16, Diagnostic> {
        self.frame
            .spill_off
            .get(slot as usize)
            .copied()
            .ok_or_else(|| internal(self.span, format!("spill slot {slot} has no offset")))
    }

    /// The register holding `v`, reloading it into `scratch` if it is spilled.
    fn read(&mut self, v: VReg, scratch: Reg) -> Result<Reg, Diagnostic> {
        match self.loc(v)? {
            Loc::Reg(r) => Ok(r),
            Loc::Spill(s) => {
                let off = self.spill_off(s)?;
                self.push(asm::ldx(Size::DW, scratch, R10, off));
                Ok(scratch)
            }
        }
    }

    /// The register to compute `v` into (`scratch` if it is spilled; see `write_back`).
    fn dest(&self, v: VReg, scratch: Reg) -> Result<Reg, Diagnostic> {
        Ok(match self.loc(v)? {
            Loc::Reg(r) => r,
            Loc::Spill(_) => scratch,
        })
    }

    /// Stores `r` to `v`'s spill slot if `v` is spilled (8-byte store: the verifier keeps
    /// tracking pointers spilled this way).
    fn write_back(&mut self, v: VReg, r: Reg) -> Result<(), Diagnostic> {
        if let Loc::Spill(s) = self.loc(v)? {
            let off = self.spill_off(s)?;
            self.push(asm::stx(Size::DW, R10, off, r));
        }
        Ok(())
    }

    fn slot_off(&self, slot: super::ir::SlotId) -> Result<i16, Diagnostic> {
        self.frame
            .slot_off
            .get(slot.0 as usize)
            .copied()
            .ok_or_else(|| internal(self.span, format!("stack slot {} does not exist", slot.0)))
    }

    /// The base register and offset of a memory access.
    fn base(&mut self, base: Base, off: i16) -> Result<(Reg, i16), Diagnostic> {
        match base {
            Base::Reg(v) => Ok((self.read(v, S2)?, off)),
            Base::Slot(s) => {
                let total = i32::from(self.slot_off(s)?) + i32::from(off);
                let off = i16::try_from(total).map_err(|_| {
                    internal(self.span, format!("stack offset {total} is out of range"))
                })?;
                Ok((R10, off))
            }
        }
    }

    /// Writes an operand into the fixed register `dst`.
    fn set(&mut self, dst: Reg, v: VReg) -> Result<(), Diagnostic> {
        match self.loc(v)? {
            Loc::Reg(r) if r == dst => {}
            Loc::Reg(r) => self.push(asm::mov64_reg(dst, r)),
            Loc::Spill(s) => {
                let off = self.spill_off(s)?;
                self.push(asm::ldx(Size::DW, dst, R10, off));
            }
        }
        Ok(())
    }

    /// Entry code: ctx arrives in r1; vregs read before any write start as 0.
    pub fn prologue(
        &mut self,
        entry_live: &[VReg],
        ctx: VReg,
        span: Span,
    ) -> Result<(), Diagnostic> {
        self.span = span;
        if entry_live.contains(&ctx) {
            match self.loc(ctx)? {
                Loc::Reg(r) if r == R1 => {}
                Loc::Reg(r) => self.push(asm::mov64_reg(r, R1)),
                Loc::Spill(_) => self.write_back(ctx, R1)?,
            }
        }
        for &v in entry_live.iter().filter(|&&v| v != ctx) {
            self.mov_imm(v, 0)?;
        }
        Ok(())
    }

    fn mov_imm(&mut self, dst: VReg, imm: i32) -> Result<(), Diagnostic> {
        match self.loc(dst)? {
            Loc::Reg(d) => self.push(asm::mov64_imm(d, imm)),
            Loc::Spill(s) => {
                let off = self.spill_off(s)?;
                self.push(asm::st(Size::DW, R10, off, imm));
            }
        }
        Ok(())
    }

    fn alu(&mut self, wide: bool, op: AluOp, dst: VReg, src: Operand) -> Result<(), Diagnostic> {
        let bits = if wide { 64 } else { 32 };
        match (op, src) {
            (AluOp::Div | AluOp::Mod, Operand::Imm(0)) => {
                return Err(Diagnostic::error(self.span, "division by zero"))
            }
            (AluOp::Lsh | AluOp::Rsh | AluOp::Arsh, Operand::Imm(n)) if !(0..bits).contains(&n) => {
                return Err(Diagnostic::error(
                    self.span,
                    format!("shift by {n} is out of range for a {bits}-bit value"),
                ))
            }
            _ => {}
        }
        let d = self.read(dst, S1)?;
        let insn = match (src, wide) {
            (Operand::Imm(i), true) => asm::alu64_imm(op, d, i),
            (Operand::Imm(i), false) => asm::alu32_imm(op, d, i),
            (Operand::Reg(v), true) => asm::alu64_reg(op, d, self.read(v, S2)?),
            (Operand::Reg(v), false) => asm::alu32_reg(op, d, self.read(v, S2)?),
        };
        self.push(insn);
        self.write_back(dst, d)
    }

    /// Moves call arguments into r1..r5 as one parallel move.
    fn call_args(&mut self, args: &[Operand]) -> Result<(), Diagnostic> {
        let mut moves: Vec<(Reg, Reg)> = Vec::new();
        let mut late: Vec<(Reg, Operand)> = Vec::new();
        for (k, a) in args.iter().enumerate() {
            let dst = Reg::new(k as u8 + 1).unwrap_or(R5);
            match *a {
                Operand::Reg(v) => match self.loc(v)? {
                    Loc::Reg(r) if r == dst => {}
                    Loc::Reg(r) => moves.push((dst, r)),
                    Loc::Spill(_) => late.push((dst, *a)),
                },
                Operand::Imm(_) => late.push((dst, *a)),
            }
        }
        while !moves.is_empty() {
            let ready = moves
                .iter()
                .position(|&(d, _)| !moves.iter().any(|&(_, s)| s == d));
            match ready {
                Some(i) => {
                    let (d, s) = moves.remove(i);
                    self.push(asm::mov64_reg(d, s));
                }
                None => {
                    // Every destination left is still to be read: a cycle. Park one in r0.
                    let d = moves[0].0;
                    self.push(asm::mov64_reg(R0, d));
                    moves.iter_mut().filter(|m| m.1 == d).for_each(|m| m.1 = R0);
                }
            }
        }
        // Loads and constants read no argument register, so they go last.
        for (dst, a) in late {
            match a {
                Operand::Imm(i) => self.push(asm::mov64_imm(dst, i)),
                Operand::Reg(v) => self.set(dst, v)?,
            }
        }
        Ok(())
    }

    pub fn inst(&mut self, si: &SpannedInst) -> Result<(), Diagnostic> {
        self.span = si.span;
        match si.inst {
            Inst::Mov {
                dst,
                src: Operand::Imm(i),
            } => self.mov_imm(dst, i)?,
            Inst::Mov {
                dst,
                src: Operand::Reg(src),
            } => match self.loc(dst)? {
                Loc::Reg(d) => self.set(d, src)?,
                Loc::Spill(_) => {
                    let s = self.read(src, S1)?;
                    self.write_back(dst, s)?;
                }
            },
            Inst::LdImm64 { dst, imm } => match i32::try_from(imm) {
                Ok(small) => self.mov_imm(dst, small)?,
                Err(_) => {
                    let d = self.dest(dst, S1)?;
                    self.items
                        .push((Item::Wide(asm::ld_imm64(d, imm)), self.span));
                    self.write_back(dst, d)?;
                }
            },
            // The placeholder immediates are what the listings show: the map's index (the
            // loader puts its fd there) and 0 for a run-time constant.
            Inst::LdConst { dst, konst } => {
                let d = self.dest(dst, S1)?;
                self.patched(asm::ld_imm64(d, 0), RelocKind::Const(konst));
                self.write_back(dst, d)?;
            }
            Inst::LdMapFd { dst, map } => {
                let d = self.dest(dst, S1)?;
                self.patched(asm::ld_map_fd(d, map.0 as i32), RelocKind::MapFd(map));
                self.write_back(dst, d)?;
            }
            Inst::LdMapValue { dst, map, off } => {
                let d = self.dest(dst, S1)?;
                let insns = asm::ld_map_value(d, map.0 as i32, off);
                self.patched(insns, RelocKind::MapValue(map));
                self.write_back(dst, d)?;
            }
            Inst::Alu64 { op, dst, src } => self.alu(true, op, dst, src)?,
            Inst::Alu32 { op, dst, src } => self.alu(false, op, dst, src)?,
            Inst::Neg { dst } => {
                let d = self.read(dst, S1)?;
                self.push(asm::neg64(d));
                self.write_back(dst, d)?;
            }
            Inst::Load {
                dst,
                base,
                off,
                size,
            } => {
                let (b, o) = self.base(base, off)?;
                let d = self.dest(dst, S1)?;
                self.push(asm::ldx(size, d, b, o));
                self.write_back(dst, d)?;
            }
            Inst::Store {
                base,
                off,
                src,
                size,
            } => {
                let (b, o) = self.base(base, off)?;
                match src {
                    Operand::Imm(i) => self.push(asm::st(size, b, o, i)),
                    Operand::Reg(v) => {
                        let s = self.read(v, S1)?;
                        self.push(asm::stx(size, b, o, s));
                    }
                }
            }
            Inst::AtomicAdd {
                base,
                off,
                src,
                size,
            } => {
                if !matches!(size, Size::W | Size::DW) {
                    return Err(internal(self.span, format!("atomic add of {size:?}")));
                }
                let (b, o) = self.base(base, off)?;
                let s = self.read(src, S1)?;
                self.push(asm::atomic_add(size, b, o, s));
            }
            Inst::StackAddr { dst, slot, off } => {
                let total = i32::from(self.slot_off(slot)?)
                    .checked_add(off)
                    .ok_or_else(|| internal(self.span, "stack address overflows".into()))?;
                let d = self.dest(dst, S1)?;
                self.push(asm::mov64_reg(d, R10));
                self.push(asm::alu64_imm(AluOp::Add, d, total));
                self.write_back(dst, d)?;
            }
            Inst::Call {
                helper,
                ref args,
                ret,
            } => {
                if args.len() > 5 {
                    return Err(internal(
                        self.span,
                        format!("helper call with {} arguments (at most 5)", args.len()),
                    ));
                }
                self.call_args(args)?;
                self.push(asm::call(helper));
                if let Some(ret) = ret {
                    match self.loc(ret)? {
                        Loc::Reg(d) if d == R0 => {}
                        Loc::Reg(d) => self.push(asm::mov64_reg(d, R0)),
                        Loc::Spill(_) => self.write_back(ret, R0)?,
                    }
                }
            }
            Inst::Jmp { target } => self.items.push((Item::Jump(asm::ja(0), target), self.span)),
            Inst::JmpIf { cond, a, b, target } => {
                let ra = self.read(a, S1)?;
                let insn = match b {
                    Operand::Imm(i) => asm::jmp_imm(cond, ra, i, 0),
                    Operand::Reg(v) => asm::jmp_reg(cond, ra, self.read(v, S2)?, 0),
                };
                self.items.push((Item::Jump(insn, target), self.span));
            }
            Inst::Label(l) => self.items.push((Item::Label(l), self.span)),
            Inst::Exit { ret } => {
                match ret {
                    Operand::Imm(i) => self.push(asm::mov64_imm(R0, i)),
                    Operand::Reg(v) => self.set(R0, v)?,
                }
                self.push(asm::exit());
            }
        }
        Ok(())
    }

    fn patched(&mut self, insns: [Insn; 2], kind: RelocKind) {
        self.items.push((Item::Patched(insns, kind), self.span));
    }

    /// Gives labels addresses, fills in jump offsets and encodes: one span per slot, and the
    /// relocations the loader applies.
    pub fn finish(self) -> Result<Encoding, Diagnostic> {
        let mut at: HashMap<Label, usize> = HashMap::new();
        let mut n = 0usize;
        for (item, _) in &self.items {
            match item {
                Item::Label(l) => {
                    at.insert(*l, n);
                }
                Item::Wide(_) | Item::Patched(..) => n += 2,
                Item::One(_) | Item::Jump(..) => n += 1,
            }
        }
        let mut insns = Vec::with_capacity(n);
        let mut spans = Vec::with_capacity(n);
        let mut relocations = Vec::new();
        for (item, span) in self.items {
            match item {
                Item::Label(_) => {}
                Item::One(i) => {
                    insns.push(i.encode());
                    spans.push(span);
                }
                Item::Wide(pair) => {
                    insns.extend(pair.map(Insn::encode));
                    spans.extend([span, span]);
                }
                Item::Patched(pair, kind) => {
                    relocations.push(Relocation {
                        insn: insns.len(),
                        kind,
                    });
                    insns.extend(pair.map(Insn::encode));
                    spans.extend([span, span]);
                }
                Item::Jump(mut i, target) => {
                    let to = at.get(&target).copied().ok_or_else(|| {
                        internal(span, format!("jump to undefined label {target}"))
                    })?;
                    let delta = to as i64 - insns.len() as i64 - 1;
                    i.off = i16::try_from(delta).map_err(|_| {
                        Diagnostic::error(
                            span,
                            format!("this jump spans {delta} instructions; eBPF jumps reach at most 32767"),
                        )
                        .with_note("split the probe into smaller ones or unroll less")
                    })?;
                    insns.push(i.encode());
                    spans.push(span);
                }
            }
        }
        Ok(Encoding {
            insns,
            spans,
            relocations,
        })
    }
}

/// What `Emitter::finish` produces: the parts of `codegen::Encoded` but the name.
pub struct Encoding {
    pub insns: Vec<[u8; 8]>,
    pub spans: Vec<Span>,
    pub relocations: Vec<Relocation>,
}
