//! Code generation: checked program -> IR (`lower`) -> control flow and liveness (`cfg`,
//! `liveness`) -> registers (`regalloc`) and frame (`frame`) -> encoded eBPF (`emit`, over the
//! `asm` layer), with a disassembler (`disasm`) and listings (`dump`) for `--dump ir|bpf`.

pub mod asm;
pub mod cfg;
pub mod disasm;
pub mod dump;
pub mod emit;
#[cfg(test)]
mod emit_tests;
pub mod frame;
pub mod ir;
pub mod liveness;
pub mod lower;
pub mod regalloc;
pub mod scratch;
#[cfg(test)]
mod testvm;

pub use disasm::disassemble;
pub use dump::{dump_bpf, dump_ir};

use crate::diag::Diagnostic;
use crate::source::Span;

/// One program's instructions: ready for the kernel once its relocations are applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Encoded {
    pub name: String,
    pub insns: Vec<[u8; 8]>,
    /// One span per 8-byte slot (the two slots of an `ld_imm64` share one).
    pub spans: Vec<Span>,
    /// The `ld_imm64`s whose immediates the loader fills in, in instruction order.
    pub relocations: Vec<Relocation>,
}

/// An `ld_imm64` at slot `insn` (its first slot) whose immediate is known only at load time.
/// Compiling stays pure: no map exists, no process is forked and no clock is read until the
/// runtime applies these.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Relocation {
    pub insn: usize,
    pub kind: RelocKind,
}

/// What goes into a relocated `ld_imm64`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RelocKind {
    /// The map's fd (`BPF_PSEUDO_MAP_FD`); the placeholder is the map's index.
    MapFd(ir::MapId),
    /// The map's fd in a direct value pointer (`BPF_PSEUDO_MAP_VALUE`, the `lost` counter);
    /// the placeholder is the map's index, the second slot keeps the offset.
    MapValue(ir::MapId),
    /// A 64-bit run-time constant; the placeholder is 0.
    Const(ir::RuntimeConst),
}

impl Encoded {
    pub fn bytes(&self) -> Vec<u8> {
        self.insns.concat()
    }
}

/// One past the highest vreg number `func` mentions (its own `nregs` may undercount).
fn vreg_count(func: &ir::Function) -> usize {
    let mut n = func.nregs.max(func.ctx.0 + 1) as usize;
    for si in &func.insts {
        let (uses, def) = liveness::uses_def(&si.inst);
        for v in uses.into_iter().chain(def) {
            n = n.max(v.0 as usize + 1);
        }
    }
    n
}

/// Allocate registers, lay out the frame, resolve labels, encode. Map references and run-time
/// constants become relocations with placeholder immediates (the map's index, 0), which is
/// also what `--dump bpf` shows.
pub fn compile(func: &ir::Function) -> Result<Encoded, Diagnostic> {
    compile_with(func, true)
}

/// Why a function could not be encoded: its frame does not fit the kernel's stack (which
/// scratch space can mend), or anything else.
enum Failure {
    Stack(Diagnostic),
    Other(Diagnostic),
}

impl From<Diagnostic> for Failure {
    fn from(d: Diagnostic) -> Failure {
        Failure::Other(d)
    }
}

impl From<Failure> for Diagnostic {
    fn from(f: Failure) -> Diagnostic {
        match f {
            Failure::Stack(d) | Failure::Other(d) => d,
        }
    }
}

/// `compile`, or when the stack slots do not fit the kernel's 512 bytes, `compile` of the
/// function with its slots moved to the scratch space of map `scratch` (`scratch::move_slots`);
/// also the bytes of scratch space the program needs (0: none).
pub fn compile_spilling(
    func: &ir::Function,
    scratch: ir::MapId,
) -> Result<(Encoded, u32), Diagnostic> {
    match encode(func, true) {
        Err(Failure::Stack(_)) if !func.slots.is_empty() => {
            let (moved, bytes) = scratch::move_slots(func, scratch)?;
            Ok((compile(&moved)?, bytes))
        }
        other => Ok((other?, 0)),
    }
}

/// `compile`, placing call arguments straight into their registers when `call_preferences`
/// (tests turn it off to exercise the moves before a call).
pub(crate) fn compile_with(
    func: &ir::Function,
    call_preferences: bool,
) -> Result<Encoded, Diagnostic> {
    Ok(encode(func, call_preferences)?)
}

fn encode(func: &ir::Function, call_preferences: bool) -> Result<Encoded, Failure> {
    let cfg = cfg::Cfg::build(func)?;
    let live = liveness::Liveness::compute(&cfg, vreg_count(func));
    let prefs = if call_preferences {
        regalloc::call_arg_preferences(&live, &cfg.insts)
    } else {
        Vec::new()
    };
    let mut alloc = regalloc::allocate_with(&live, Some((func.ctx, asm::R1)), &prefs);
    regalloc::keep_results_in_r0(&mut alloc, &live, &cfg.insts);

    // A spill slot that overflows the stack is blamed on the first write of its vreg.
    let first_span = |v: ir::VReg| {
        cfg.insts
            .iter()
            .find(|si| liveness::uses_def(&si.inst).1 == Some(v))
            .or(cfg.insts.first())
            .map(|si| si.span)
            .unwrap_or_default()
    };
    let spill_spans: Vec<Span> = alloc.spill_owner.iter().map(|&v| first_span(v)).collect();
    let frame = frame::layout(&func.slots, &spill_spans).map_err(Failure::Stack)?;

    let mut e = emit::Emitter::new(&alloc, &frame);
    let entry_span = cfg.insts.first().map(|si| si.span).unwrap_or_default();
    e.prologue(&live.entry_live, func.ctx, entry_span)?;
    for si in &cfg.insts {
        e.inst(si)?;
    }
    let enc = e.finish()?;
    Ok(Encoded {
        name: func.name.clone(),
        insns: enc.insns,
        spans: enc.spans,
        relocations: enc.relocations,
    })
}
