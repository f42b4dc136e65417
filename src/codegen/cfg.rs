//! Control flow of one IR function: labels checked, unreachable code dropped (the verifier
//! rejects it), basic blocks and their successors. Fed by `ir::Function`; used by `liveness`.

use super::ir::{Function, Inst, Label, Operand, SpannedInst};
use crate::diag::Diagnostic;
use std::collections::HashMap;

/// The reachable instructions of a function, split into basic blocks.
pub struct Cfg {
    /// Reachable instructions in order; a final `exit 0` is added when control can fall off
    /// the end.
    pub insts: Vec<SpannedInst>,
    pub blocks: Vec<Block>,
}

/// Instructions `start..end` of `Cfg::insts`, entered only at `start`.
pub struct Block {
    pub start: usize,
    pub end: usize,
    pub succs: Vec<usize>,
}

fn label_positions(insts: &[SpannedInst]) -> Result<HashMap<Label, usize>, Diagnostic> {
    let mut pos = HashMap::new();
    for (i, si) in insts.iter().enumerate() {
        if let Inst::Label(l) = si.inst {
            if pos.insert(l, i).is_some() {
                return Err(internal(si, format!("label {l} is defined twice")));
            }
        }
    }
    for si in insts {
        if let Inst::Jmp { target } | Inst::JmpIf { target, .. } = si.inst {
            if !pos.contains_key(&target) {
                return Err(internal(si, format!("jump to undefined label {target}")));
            }
        }
    }
    Ok(pos)
}

fn internal(si: &SpannedInst, msg: String) -> Diagnostic {
    Diagnostic::error(si.span, format!("internal compiler error: {msg}"))
        .with_note("this is a bug in rtrace's code generation; please report it")
}

/// Where control can go after instruction `i`.
fn successors(insts: &[SpannedInst], pos: &HashMap<Label, usize>, i: usize) -> Vec<usize> {
    let next = (i + 1 < insts.len()).then_some(i + 1);
    match &insts[i].inst {
        Inst::Exit { .. } => vec![],
        Inst::Jmp { target } => pos.get(target).copied().into_iter().collect(),
        Inst::JmpIf { target, .. } => next.into_iter().chain(pos.get(target).copied()).collect(),
        _ => next.into_iter().collect(),
    }
}

fn ends_block(inst: &Inst) -> bool {
    matches!(
        inst,
        Inst::Jmp { .. } | Inst::JmpIf { .. } | Inst::Exit { .. }
    )
}

impl Cfg {
    pub fn build(func: &Function) -> Result<Cfg, Diagnostic> {
        let mut all = func.insts.clone();
        let end_span = all.last().map(|si| si.span).unwrap_or_default();
        all.push(SpannedInst {
            inst: Inst::Exit {
                ret: Operand::Imm(0),
            },
            span: end_span,
        });
        let pos = label_positions(&all)?;

        let mut reachable = vec![false; all.len()];
        let mut stack = vec![0usize];
        while let Some(i) = stack.pop() {
            if std::mem::replace(&mut reachable[i], true) {
                continue;
            }
            stack.extend(successors(&all, &pos, i));
        }
        let insts: Vec<SpannedInst> = all
            .into_iter()
            .zip(reachable)
            .filter_map(|(si, r)| r.then_some(si))
            .collect();

        let pos = label_positions(&insts)?;
        let mut leader = vec![false; insts.len() + 1];
        leader[0] = true;
        for (i, si) in insts.iter().enumerate() {
            if matches!(si.inst, Inst::Label(_)) {
                leader[i] = true;
            }
            if ends_block(&si.inst) {
                leader[i + 1] = true;
            }
        }
        let starts: Vec<usize> = (0..insts.len()).filter(|&i| leader[i]).collect();
        let mut block_of = vec![0usize; insts.len()];
        let mut blocks = Vec::with_capacity(starts.len());
        for (b, &start) in starts.iter().enumerate() {
            let end = starts.get(b + 1).copied().unwrap_or(insts.len());
            block_of[start..end].fill(b);
            blocks.push(Block {
                start,
                end,
                succs: vec![],
            });
        }
        for block in &mut blocks {
            let mut succs: Vec<usize> = successors(&insts, &pos, block.end - 1)
                .into_iter()
                .map(|i| block_of[i])
                .collect();
            succs.dedup();
            block.succs = succs;
        }
        Ok(Cfg { insts, blocks })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codegen::ir::{Cond, VReg};
    use crate::source::Span;

    fn si(inst: Inst) -> SpannedInst {
        SpannedInst {
            inst,
            span: Span::default(),
        }
    }

    fn func(insts: Vec<Inst>) -> Function {
        Function {
            insts: insts.into_iter().map(si).collect(),
            ..Function::default()
        }
    }

    #[test]
    fn drops_code_after_exit_and_adds_a_final_exit() {
        let f = func(vec![
            Inst::Exit {
                ret: Operand::Imm(1),
            },
            Inst::Mov {
                dst: VReg(0),
                src: Operand::Imm(2),
            },
        ]);
        let cfg = Cfg::build(&f).unwrap();
        assert_eq!(cfg.insts.len(), 1);

        let f = func(vec![Inst::Mov {
            dst: VReg(0),
            src: Operand::Imm(2),
        }]);
        let cfg = Cfg::build(&f).unwrap();
        assert_eq!(cfg.insts.len(), 2);
        assert!(matches!(cfg.insts[1].inst, Inst::Exit { .. }));
    }

    #[test]
    fn loops_have_back_edges() {
        let f = func(vec![
            Inst::Label(Label(0)),
            Inst::JmpIf {
                cond: Cond::Eq,
                a: VReg(0),
                b: Operand::Imm(0),
                target: Label(1),
            },
            Inst::Jmp { target: Label(0) },
            Inst::Label(Label(1)),
            Inst::Exit {
                ret: Operand::Imm(0),
            },
        ]);
        let cfg = Cfg::build(&f).unwrap();
        assert_eq!(cfg.blocks.len(), 3);
        assert_eq!(cfg.blocks[0].succs, vec![1, 2]);
        assert_eq!(cfg.blocks[1].succs, vec![0]);
    }

    #[test]
    fn bad_labels_are_diagnosed() {
        let f = func(vec![Inst::Jmp { target: Label(7) }]);
        let err = Cfg::build(&f).err().unwrap();
        assert!(
            err.message.contains("undefined label L7"),
            "{}",
            err.message
        );
        let f = func(vec![Inst::Label(Label(1)), Inst::Label(Label(1))]);
        assert!(Cfg::build(&f).is_err());
    }
}
