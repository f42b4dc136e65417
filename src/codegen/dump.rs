//! Listings for `--dump ir` and `--dump bpf`: instructions grouped under the source line and
//! snippet they came from. Fed by `ir::Function` and `codegen::Encoded`.

use super::disasm::insn_text;
use super::ir::{helper, AluOp, Base, Cond, Function, Inst, Size};
use super::{asm::Insn, Encoded};
use crate::source::{Source, Span};
use std::fmt::Write;

/// `; LINE:COL: snippet` for a span: its first line, trimmed and shortened.
fn span_comment(src: &Source, span: Span) -> String {
    let (line, col) = src.line_col(span.start);
    let text = src.slice(span).lines().next().unwrap_or("").trim();
    let mut snippet: String = text.chars().take(60).collect();
    if text.chars().count() > 60 {
        snippet.push_str("...");
    }
    format!("; {line}:{col}: {snippet}")
}

fn alu_op(op: AluOp) -> &'static str {
    match op {
        AluOp::Add => "+",
        AluOp::Sub => "-",
        AluOp::Mul => "*",
        AluOp::Div => "/",
        AluOp::Mod => "%",
        AluOp::Or => "|",
        AluOp::And => "&",
        AluOp::Xor => "^",
        AluOp::Lsh => "<<",
        AluOp::Rsh => ">>",
        AluOp::Arsh => "s>>",
    }
}

fn cond_op(c: Cond) -> &'static str {
    match c {
        Cond::Eq => "==",
        Cond::Ne => "!=",
        Cond::Gt => ">",
        Cond::Ge => ">=",
        Cond::Lt => "<",
        Cond::Le => "<=",
        Cond::Sgt => "s>",
        Cond::Sge => "s>=",
        Cond::Slt => "s<",
        Cond::Sle => "s<=",
        Cond::Set => "&",
    }
}

fn mem(size: Size, base: Base, off: i16) -> String {
    let base = match base {
        Base::Reg(v) => v.to_string(),
        Base::Slot(s) => format!("slot{}", s.0),
    };
    format!("*(u{} *)({base} {off:+})", size.bytes() * 8)
}

/// One IR instruction in the style of the disassembly, with vregs (`%3`) for registers.
pub fn inst_text(inst: &Inst) -> String {
    match inst {
        Inst::Mov { dst, src } => format!("{dst} = {src}"),
        Inst::LdImm64 { dst, imm } => format!("{dst} = {imm:#x} ll"),
        Inst::LdConst { dst, konst } => format!("{dst} = const {} ll", konst.name()),
        Inst::LdMapFd { dst, map } => format!("{dst} = map[{}]", map.0),
        Inst::LdMapValue { dst, map, off } => format!("{dst} = map_value[{}]+{off}", map.0),
        Inst::Alu64 { op, dst, src } => format!("{dst} {}= {src}", alu_op(*op)),
        Inst::Alu32 { op, dst, src } => format!("{dst} = (u32)({dst} {} {src})", alu_op(*op)),
        Inst::Neg { dst } => format!("{dst} = -{dst}"),
        Inst::Load {
            dst,
            base,
            off,
            size,
        } => format!("{dst} = {}", mem(*size, *base, *off)),
        Inst::Store {
            base,
            off,
            src,
            size,
        } => format!("{} = {src}", mem(*size, *base, *off)),
        Inst::AtomicAdd {
            base,
            off,
            src,
            size,
        } => format!("lock {} += {src}", mem(*size, *base, *off)),
        Inst::StackAddr { dst, slot, off } => format!("{dst} = &slot{} {off:+}", slot.0),
        Inst::Call {
            helper: h,
            args,
            ret,
        } => {
            let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
            let call = format!("call {}#{h}({})", helper::name(*h), args.join(", "));
            match ret {
                Some(r) => format!("{r} = {call}"),
                None => call,
            }
        }
        Inst::Jmp { target } => format!("goto {target}"),
        Inst::JmpIf { cond, a, b, target } => {
            format!("if {a} {} {b} goto {target}", cond_op(*cond))
        }
        Inst::Label(l) => format!("{l}:"),
        Inst::Exit { ret } => format!("exit {ret}"),
    }
}

/// `--dump ir`: the IR listing, each instruction group under the source span it came from.
pub fn dump_ir(func: &Function, src: &Source) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}: ctx {}, {} vregs, {} labels",
        func.name, func.ctx, func.nregs, func.nlabels
    );
    for (i, s) in func.slots.iter().enumerate() {
        let (line, col) = src.line_col(s.span.start);
        let _ = writeln!(
            out,
            "  slot{i}: {} bytes, align {}  ; {line}:{col}",
            s.size, s.align
        );
    }
    let mut last: Option<Span> = None;
    for si in &func.insts {
        if last != Some(si.span) {
            let _ = writeln!(out, "{}", span_comment(src, si.span));
            last = Some(si.span);
        }
        let indent = if matches!(si.inst, Inst::Label(_)) {
            ""
        } else {
            "    "
        };
        let _ = writeln!(out, "{indent}{}", inst_text(&si.inst));
    }
    out
}

/// `--dump bpf`: numbered disassembly (`  12: (bf) r6 = r1`), grouped under source spans.
pub fn dump_bpf(enc: &Encoded, src: &Source) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}:", enc.name);
    let mut last: Option<Span> = None;
    let mut i = 0;
    while i < enc.insns.len() {
        let span = enc.spans.get(i).copied().unwrap_or_default();
        if last != Some(span) {
            let _ = writeln!(out, "{}", span_comment(src, span));
            last = Some(span);
        }
        let insn = Insn::decode(enc.insns[i]);
        let next = enc.insns.get(i + 1).map(|b| Insn::decode(*b));
        let (text, slots) = insn_text(insn, next);
        let _ = writeln!(out, "{i:4}: ({:02x}) {text}", insn.code);
        i += slots;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codegen::compile;
    use crate::codegen::ir::{MapId, Operand, SpannedInst, VReg};

    fn func(src: &str) -> Function {
        let at = |s: &str| {
            let i = src.find(s).unwrap();
            Span::new(i, i + s.len())
        };
        let mk = |inst, s| SpannedInst { inst, span: at(s) };
        Function {
            name: "p0_begin".into(),
            insts: vec![
                mk(
                    Inst::LdMapFd {
                        dst: VReg(1),
                        map: MapId(2),
                    },
                    "@x",
                ),
                mk(
                    Inst::LdImm64 {
                        dst: VReg(2),
                        imm: 1 << 33,
                    },
                    "8589934592",
                ),
                mk(
                    Inst::Exit {
                        ret: Operand::Reg(VReg(2)),
                    },
                    "exit()",
                ),
            ],
            nregs: 3,
            ..Function::default()
        }
    }

    #[test]
    fn ir_listing_groups_by_source() {
        let text = "BEGIN {\n  @x = 8589934592; exit() }";
        let src = Source::new("t.bt", text);
        let out = dump_ir(&func(text), &src);
        assert!(out.contains("; 2:3: @x\n    %1 = map[2]\n"), "{out}");
        assert!(
            out.contains("; 2:8: 8589934592\n    %2 = 0x200000000 ll\n"),
            "{out}"
        );
        assert!(out.contains("exit %2"), "{out}");
    }

    #[test]
    fn bpf_listing_numbers_slots_and_shows_sources() {
        let text = "BEGIN {\n  @x = 8589934592; exit() }";
        let src = Source::new("t.bt", text);
        let enc = compile(&func(text)).unwrap();
        let out = dump_bpf(&enc, &src);
        let want = "p0_begin:\n; 2:3: @x\n   0: (18) r1 = map[2]\n\
                    ; 2:8: 8589934592\n   2: (18) r1 = 0x200000000 ll\n\
                    ; 2:20: exit()\n   4: (bf) r0 = r1\n   5: (95) exit\n";
        assert_eq!(out, want);
        assert_eq!(
            enc.relocations,
            vec![crate::codegen::Relocation {
                insn: 0,
                kind: crate::codegen::RelocKind::MapFd(MapId(2)),
            }]
        );
    }
}
