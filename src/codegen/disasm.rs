//! Disassembler for encoded eBPF (kernel/bpftool-style mnemonics), used by `--dump bpf`. Fed by
//! `codegen::emit`'s encoded slots; decodes with `asm::Insn`, the encoder's own field layout.

use super::asm::*;
use super::ir::helper;

/// One line per instruction (`ld_imm64` is one line covering two slots).
pub fn disassemble(insns: &[[u8; 8]]) -> Vec<String> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < insns.len() {
        let next = insns.get(i + 1).map(|b| Insn::decode(*b));
        let (text, slots) = insn_text(Insn::decode(insns[i]), next);
        out.push(text);
        i += slots;
    }
    out
}

/// The text of the instruction in `insn` (and `next`, for `ld_imm64`) and how many slots it uses.
pub fn insn_text(insn: Insn, next: Option<Insn>) -> (String, usize) {
    let text = match insn.class() {
        BPF_ALU | BPF_ALU64 => alu_text(insn),
        BPF_JMP | BPF_JMP32 => jmp_text(insn),
        BPF_LDX => ldx_text(insn),
        BPF_ST | BPF_STX => store_text(insn),
        _ if insn.code == LD_DW_IMM => return ld_imm64_text(insn, next),
        _ => None,
    };
    (text.unwrap_or_else(|| bad(insn)), 1)
}

fn bad(i: Insn) -> String {
    format!(
        "(bad) code=0x{:02x} dst=r{} src=r{} off={} imm={}",
        i.code, i.dst, i.src, i.off, i.imm
    )
}

fn reg(i: Insn, n: u8) -> String {
    let w = if i.class() == BPF_ALU || i.class() == BPF_JMP32 {
        'w'
    } else {
        'r'
    };
    format!("{w}{n}")
}

fn size_name(code: u8) -> &'static str {
    match code & 0x18 {
        BPF_B => "u8",
        BPF_H => "u16",
        BPF_W => "u32",
        _ => "u64",
    }
}

fn mem(i: Insn, base: u8) -> String {
    format!("*({} *)(r{} {:+})", size_name(i.code), base, i.off)
}

fn alu_text(i: Insn) -> Option<String> {
    let dst = reg(i, i.dst);
    let src = if i.code & BPF_X != 0 {
        reg(i, i.src)
    } else {
        i.imm.to_string()
    };
    let op = match i.code & 0xf0 {
        BPF_MOV if i.off == 0 => return Some(format!("{dst} = {src}")),
        BPF_MOV => return Some(format!("{dst} = (s{}){src}", i.off)),
        BPF_NEG => return Some(format!("{dst} = -{dst}")),
        BPF_END => {
            let kind = match (i.class(), i.code & BPF_X) {
                (BPF_ALU64, _) => "bswap",
                (_, 0) => "le",
                _ => "be",
            };
            return Some(format!("{dst} = {kind}{} {dst}", i.imm));
        }
        BPF_ADD => "+=",
        BPF_SUB => "-=",
        BPF_MUL => "*=",
        BPF_DIV if i.off == 1 => "s/=",
        BPF_DIV => "/=",
        BPF_MOD if i.off == 1 => "s%=",
        BPF_MOD => "%=",
        BPF_OR => "|=",
        BPF_AND => "&=",
        BPF_XOR => "^=",
        BPF_LSH => "<<=",
        BPF_RSH => ">>=",
        BPF_ARSH => "s>>=",
        _ => return None,
    };
    Some(format!("{dst} {op} {src}"))
}

fn jmp_text(i: Insn) -> Option<String> {
    let op = match i.code & 0xf0 {
        BPF_JA if i.class() == BPF_JMP32 => return Some(format!("gotol {:+}", i.imm)),
        BPF_JA => return Some(format!("goto {:+}", i.off)),
        BPF_EXIT => return Some("exit".to_string()),
        BPF_CALL => return Some(call_text(i)),
        BPF_JEQ => "==",
        BPF_JNE => "!=",
        BPF_JGT => ">",
        BPF_JGE => ">=",
        BPF_JLT => "<",
        BPF_JLE => "<=",
        BPF_JSGT => "s>",
        BPF_JSGE => "s>=",
        BPF_JSLT => "s<",
        BPF_JSLE => "s<=",
        BPF_JSET => "&",
        _ => return None,
    };
    let src = if i.code & BPF_X != 0 {
        reg(i, i.src)
    } else {
        format!("0x{:x}", i.imm as u32)
    };
    Some(format!("if {} {op} {src} goto {:+}", reg(i, i.dst), i.off))
}

fn call_text(i: Insn) -> String {
    match i.src {
        0 => match helper::name(i.imm as u32) {
            "unknown" => format!("call #{}", i.imm),
            name => format!("call bpf_{name}#{}", i.imm),
        },
        1 => format!("call pc{:+}", i.imm),
        _ => format!("call kfunc#{}", i.imm),
    }
}

fn ldx_text(i: Insn) -> Option<String> {
    match i.code & 0xe0 {
        BPF_MEM => Some(format!("r{} = {}", i.dst, mem(i, i.src))),
        0x80 => Some(format!(
            "r{} = *(s{} *)(r{} {:+})",
            i.dst,
            &size_name(i.code)[1..],
            i.src,
            i.off
        )),
        _ => None,
    }
}

fn store_text(i: Insn) -> Option<String> {
    let target = mem(i, i.dst);
    match (i.class(), i.code & 0xe0) {
        (BPF_ST, BPF_MEM) => Some(format!("{target} = {}", i.imm)),
        (BPF_STX, BPF_MEM) => Some(format!("{target} = r{}", i.src)),
        (BPF_STX, BPF_ATOMIC) => atomic_text(i, target),
        _ => None,
    }
}

fn atomic_text(i: Insn, target: String) -> Option<String> {
    const FETCH: i32 = 0x01;
    let r = if i.code & 0x18 == BPF_DW { 'r' } else { 'w' };
    let src = format!("{r}{}", i.src);
    let name = |op: u8| match op {
        BPF_ADD => Some(("+=", "add")),
        BPF_OR => Some(("|=", "or")),
        BPF_AND => Some(("&=", "and")),
        BPF_XOR => Some(("^=", "xor")),
        _ => None,
    };
    let ptr = &target[1..];
    match i.imm {
        0xe1 => Some(format!("{src} = xchg({ptr}, {src})")),
        0xf1 => Some(format!("{r}0 = cmpxchg({ptr}, {r}0, {src})")),
        imm if imm & !0xf1 == 0 && imm & FETCH != 0 => {
            let (_, n) = name((imm & 0xf0) as u8)?;
            Some(format!("{src} = atomic_fetch_{n}({ptr}, {src})"))
        }
        imm if (0..=0xf0).contains(&imm) => {
            let (op, _) = name(imm as u8)?;
            Some(format!("lock {target} {op} {src}"))
        }
        _ => None,
    }
}

fn ld_imm64_text(i: Insn, next: Option<Insn>) -> (String, usize) {
    let Some(hi) = next else {
        return (format!("{} (ld_imm64 without its second slot)", bad(i)), 1);
    };
    let value = (i64::from(hi.imm) << 32) | i64::from(i.imm as u32);
    let text = match i.src {
        0 => format!("r{} = 0x{:x} ll", i.dst, value as u64),
        BPF_PSEUDO_MAP_FD => format!("r{} = map[{}]", i.dst, i.imm),
        BPF_PSEUDO_MAP_VALUE => format!("r{} = map_value[{}]+{}", i.dst, i.imm, hi.imm),
        src => format!("r{} = ld_imm64 src={} 0x{:x}", i.dst, src, value as u64),
    };
    (text, 2)
}

#[cfg(test)]
mod tests {
    use super::super::ir::{AluOp, Cond, Size};
    use super::*;
    use std::collections::HashSet;

    fn text(slots: &[Insn]) -> String {
        let bytes: Vec<[u8; 8]> = slots.iter().map(|i| i.encode()).collect();
        let lines = disassemble(&bytes);
        assert_eq!(lines.len(), 1, "{lines:?}");
        lines[0].clone()
    }

    #[test]
    fn kernel_style_mnemonics() {
        assert_eq!(text(&[mov64_reg(R6, R1)]), "r6 = r1");
        assert_eq!(text(&[ldx(Size::W, R1, R6, 8)]), "r1 = *(u32 *)(r6 +8)");
        assert_eq!(text(&[stx(Size::DW, R10, -8, R1)]), "*(u64 *)(r10 -8) = r1");
        assert_eq!(text(&[st(Size::B, R10, -1, 7)]), "*(u8 *)(r10 -1) = 7");
        assert_eq!(text(&[call(1)]), "call bpf_map_lookup_elem#1");
        assert_eq!(text(&[call(9999)]), "call #9999");
        assert_eq!(text(&[jmp_imm(Cond::Eq, R0, 0, 5)]), "if r0 == 0x0 goto +5");
        assert_eq!(
            text(&[jmp_reg(Cond::Slt, R1, R2, -3)]),
            "if r1 s< r2 goto -3"
        );
        assert_eq!(
            text(&[jmp32_imm(Cond::Set, R1, 4, 1)]),
            "if w1 & 0x4 goto +1"
        );
        assert_eq!(text(&[ja(2)]), "goto +2");
        assert_eq!(text(&[alu32_imm(AluOp::Add, R3, -1)]), "w3 += -1");
        assert_eq!(text(&[alu64_reg(AluOp::Arsh, R3, R4)]), "r3 s>>= r4");
        assert_eq!(text(&[neg64(R2)]), "r2 = -r2");
        assert_eq!(text(&ld_imm64(R1, 1 << 40)), "r1 = 0x10000000000 ll");
        assert_eq!(text(&ld_map_fd(R1, 3)), "r1 = map[3]");
        assert_eq!(
            text(&[atomic_add(Size::DW, R1, 0, R2)]),
            "lock *(u64 *)(r1 +0) += r2"
        );
        assert_eq!(text(&[exit()]), "exit");
    }

    #[test]
    fn wide_loads_take_one_line_and_bad_codes_do_not_stop_it() {
        let mut bytes: Vec<[u8; 8]> = ld_imm64(R0, -1).iter().map(|i| i.encode()).collect();
        bytes.push([0xff; 8]);
        bytes.push(exit().encode());
        let lines = disassemble(&bytes);
        assert_eq!(lines[0], "r0 = 0xffffffffffffffff ll");
        assert!(lines[1].starts_with("(bad)"), "{}", lines[1]);
        assert_eq!(lines[2], "exit");
        assert_eq!(lines.len(), 3);
    }

    /// Every instruction the encoder can produce decodes to itself and disassembles to a
    /// distinct line: the listing loses nothing the encoder put in.
    #[test]
    fn round_trips_with_the_encoder() {
        let ops = AluOp::ALL;
        let conds = Cond::ALL;
        let sizes = [Size::B, Size::H, Size::W, Size::DW];
        let regs: Vec<Reg> = (0..=10).filter_map(Reg::new).collect();
        let mut all: Vec<Vec<Insn>> = Vec::new();
        for &a in &regs {
            for &b in &regs {
                all.push(vec![mov64_reg(a, b)]);
                for &op in &ops {
                    all.push(vec![alu64_reg(op, a, b)]);
                    all.push(vec![alu32_reg(op, a, b)]);
                }
                for &c in &conds {
                    all.push(vec![jmp_reg(c, a, b, -7)]);
                    all.push(vec![jmp32_reg(c, a, b, 9)]);
                }
                for &s in &sizes {
                    all.push(vec![ldx(s, a, b, -12)]);
                    all.push(vec![stx(s, a, 300, b)]);
                }
                all.push(vec![atomic_add(Size::W, a, 4, b)]);
                all.push(vec![atomic_add(Size::DW, a, 8, b)]);
            }
            for (k, imm) in [i32::MIN, -1, 0, 1, i32::MAX].into_iter().enumerate() {
                all.push(vec![mov64_imm(a, imm)]);
                all.push(vec![alu64_imm(AluOp::Add, a, imm)]);
                all.push(vec![alu32_imm(AluOp::Xor, a, imm)]);
                all.push(vec![jmp_imm(Cond::Sge, a, imm, 1)]);
                all.push(vec![jmp32_imm(Cond::Le, a, imm, 1)]);
                all.push(vec![st(Size::DW, a, -8, imm)]);
                all.push(ld_imm64(a, i64::from(imm) << 20).to_vec());
                all.push(ld_map_fd(a, k as i32).to_vec());
            }
            all.push(vec![neg64(a)]);
        }
        for off in [i16::MIN, -1, 0, 1, i16::MAX] {
            all.push(vec![ja(off)]);
        }
        all.push(vec![call(5)]);
        all.push(vec![exit()]);

        let mut seen = HashSet::new();
        for insn in &all {
            for slot in insn {
                assert_eq!(Insn::decode(slot.encode()), *slot);
            }
            let line = text(insn);
            assert!(!line.starts_with("(bad)"), "{insn:?} -> {line}");
            assert!(
                seen.insert(line.clone()),
                "two instructions print as {line}"
            );
        }
    }
}
