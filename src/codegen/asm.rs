//! The assembler layer: eBPF opcodes named as the kernel names them and `Insn` builders that
//! encode through bpf-ins where it can and directly where it cannot. Fed by `codegen::emit`.

use super::ir::{AluOp, Cond, Size};
use bpf_ins::{
    ArithmeticOperation, Instruction, JumpOperation, MemoryOpLoadType, MemoryOpSize, Register,
};

// Instruction classes: the low three bits of the opcode.
pub const BPF_LD: u8 = 0x00;
pub const BPF_LDX: u8 = 0x01;
pub const BPF_ST: u8 = 0x02;
pub const BPF_STX: u8 = 0x03;
pub const BPF_ALU: u8 = 0x04;
pub const BPF_JMP: u8 = 0x05;
pub const BPF_JMP32: u8 = 0x06;
pub const BPF_ALU64: u8 = 0x07;

// Memory access sizes.
pub const BPF_W: u8 = 0x00;
pub const BPF_H: u8 = 0x08;
pub const BPF_B: u8 = 0x10;
pub const BPF_DW: u8 = 0x18;

// Memory access modes.
pub const BPF_IMM: u8 = 0x00;
pub const BPF_MEM: u8 = 0x60;
pub const BPF_ATOMIC: u8 = 0xc0;

// Operand source of ALU and jump instructions.
pub const BPF_K: u8 = 0x00;
pub const BPF_X: u8 = 0x08;

// ALU operations.
pub const BPF_ADD: u8 = 0x00;
pub const BPF_SUB: u8 = 0x10;
pub const BPF_MUL: u8 = 0x20;
pub const BPF_DIV: u8 = 0x30;
pub const BPF_OR: u8 = 0x40;
pub const BPF_AND: u8 = 0x50;
pub const BPF_LSH: u8 = 0x60;
pub const BPF_RSH: u8 = 0x70;
pub const BPF_NEG: u8 = 0x80;
pub const BPF_MOD: u8 = 0x90;
pub const BPF_XOR: u8 = 0xa0;
pub const BPF_MOV: u8 = 0xb0;
pub const BPF_ARSH: u8 = 0xc0;
pub const BPF_END: u8 = 0xd0;

// Jump operations.
pub const BPF_JA: u8 = 0x00;
pub const BPF_JEQ: u8 = 0x10;
pub const BPF_JGT: u8 = 0x20;
pub const BPF_JGE: u8 = 0x30;
pub const BPF_JSET: u8 = 0x40;
pub const BPF_JNE: u8 = 0x50;
pub const BPF_JSGT: u8 = 0x60;
pub const BPF_JSGE: u8 = 0x70;
pub const BPF_CALL: u8 = 0x80;
pub const BPF_EXIT: u8 = 0x90;
pub const BPF_JLT: u8 = 0xa0;
pub const BPF_JLE: u8 = 0xb0;
pub const BPF_JSLT: u8 = 0xc0;
pub const BPF_JSLE: u8 = 0xd0;

/// `src_reg` of an `ld_imm64` whose immediate is a map fd.
pub const BPF_PSEUDO_MAP_FD: u8 = 1;
pub const BPF_PSEUDO_MAP_VALUE: u8 = 2;
/// The 64-bit immediate load (two instruction slots).
pub const LD_DW_IMM: u8 = BPF_LD | BPF_DW | BPF_IMM;

/// A machine register r0-r10.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Reg(u8);

pub const R0: Reg = Reg(0);
pub const R1: Reg = Reg(1);
pub const R2: Reg = Reg(2);
pub const R3: Reg = Reg(3);
pub const R4: Reg = Reg(4);
pub const R5: Reg = Reg(5);
pub const R6: Reg = Reg(6);
pub const R7: Reg = Reg(7);
pub const R8: Reg = Reg(8);
pub const R9: Reg = Reg(9);
/// The read-only frame pointer.
pub const R10: Reg = Reg(10);

impl Reg {
    pub fn new(n: u8) -> Option<Reg> {
        (n <= 10).then_some(Reg(n))
    }

    pub fn num(self) -> u8 {
        self.0
    }

    fn ins(self) -> Register {
        match self.0 {
            0 => Register::R0,
            1 => Register::R1,
            2 => Register::R2,
            3 => Register::R3,
            4 => Register::R4,
            5 => Register::R5,
            6 => Register::R6,
            7 => Register::R7,
            8 => Register::R8,
            9 => Register::R9,
            _ => Register::R10,
        }
    }
}

/// One 8-byte instruction slot, field by field (the second slot of `ld_imm64` has code 0).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Insn {
    pub code: u8,
    pub dst: u8,
    pub src: u8,
    pub off: i16,
    pub imm: i32,
}

impl Insn {
    /// The kernel's byte layout (little-endian fields, dst in the low nibble).
    pub fn encode(self) -> [u8; 8] {
        let mut b = [0u8; 8];
        b[0] = self.code;
        b[1] = (self.dst & 0xf) | ((self.src & 0xf) << 4);
        b[2..4].copy_from_slice(&self.off.to_le_bytes());
        b[4..8].copy_from_slice(&self.imm.to_le_bytes());
        b
    }

    pub fn decode(b: [u8; 8]) -> Insn {
        Insn {
            code: b[0],
            dst: b[1] & 0xf,
            src: b[1] >> 4,
            off: i16::from_le_bytes([b[2], b[3]]),
            imm: i32::from_le_bytes([b[4], b[5], b[6], b[7]]),
        }
    }

    fn from_raw(raw: u64) -> Insn {
        Insn::decode(raw.to_le_bytes())
    }

    pub fn class(self) -> u8 {
        self.code & 0x07
    }
}

/// One bpf-ins instruction as one slot.
fn one(i: Instruction) -> Insn {
    Insn::from_raw(i.encode().0)
}

/// One wide bpf-ins instruction as its two slots.
fn wide(i: Instruction) -> [Insn; 2] {
    let (lo, hi) = i.encode();
    [Insn::from_raw(lo), Insn::from_raw(hi.unwrap_or(0))]
}

fn alu_op(op: AluOp) -> ArithmeticOperation {
    match op {
        AluOp::Add => ArithmeticOperation::Add,
        AluOp::Sub => ArithmeticOperation::Sub,
        AluOp::Mul => ArithmeticOperation::Mul,
        AluOp::Div => ArithmeticOperation::Div,
        AluOp::Mod => ArithmeticOperation::Mod,
        AluOp::Or => ArithmeticOperation::Or,
        AluOp::And => ArithmeticOperation::And,
        AluOp::Xor => ArithmeticOperation::Xor,
        AluOp::Lsh => ArithmeticOperation::Lhs,
        AluOp::Rsh => ArithmeticOperation::Rhs,
        AluOp::Arsh => ArithmeticOperation::Ash,
    }
}

/// The kernel's jump operation for a condition (BPF_JEQ, ...).
pub fn jmp_code(cond: Cond) -> u8 {
    match cond {
        Cond::Eq => BPF_JEQ,
        Cond::Ne => BPF_JNE,
        Cond::Gt => BPF_JGT,
        Cond::Ge => BPF_JGE,
        Cond::Lt => BPF_JLT,
        Cond::Le => BPF_JLE,
        Cond::Sgt => BPF_JSGT,
        Cond::Sge => BPF_JSGE,
        Cond::Slt => BPF_JSLT,
        Cond::Sle => BPF_JSLE,
        Cond::Set => BPF_JSET,
    }
}

fn jmp_op(cond: Cond) -> JumpOperation {
    match cond {
        Cond::Eq => JumpOperation::IfEqual,
        Cond::Ne => JumpOperation::IfNotEqual,
        Cond::Gt => JumpOperation::IfGreater,
        Cond::Ge => JumpOperation::IfGreaterOrEqual,
        Cond::Lt => JumpOperation::IfLessThan,
        Cond::Le => JumpOperation::IfLessThanOrEqual,
        Cond::Sgt => JumpOperation::IfSignedGreater,
        Cond::Sge => JumpOperation::IfSignedGreaterOrEqual,
        Cond::Slt => JumpOperation::IfSignedLessThan,
        Cond::Sle => JumpOperation::IfSignedLessThanOrEqual,
        Cond::Set => JumpOperation::IfAnd,
    }
}

fn mem_size(size: Size) -> MemoryOpSize {
    match size {
        Size::B => MemoryOpSize::Byte,
        Size::H => MemoryOpSize::HalfWord,
        Size::W => MemoryOpSize::Word,
        Size::DW => MemoryOpSize::DoubleWord,
    }
}

/// The kernel's size bits (BPF_W, ...).
pub fn size_code(size: Size) -> u8 {
    match size {
        Size::B => BPF_B,
        Size::H => BPF_H,
        Size::W => BPF_W,
        Size::DW => BPF_DW,
    }
}

/// `dst op= imm` (64-bit, imm sign-extended).
pub fn alu64_imm(op: AluOp, dst: Reg, imm: i32) -> Insn {
    one(Instruction::alu64(dst.ins(), imm, alu_op(op)))
}

/// `dst op= src` (64-bit).
pub fn alu64_reg(op: AluOp, dst: Reg, src: Reg) -> Insn {
    one(Instruction::alux64(dst.ins(), src.ins(), alu_op(op)))
}

/// `wdst op= imm` (32-bit, zero-extends the result).
pub fn alu32_imm(op: AluOp, dst: Reg, imm: i32) -> Insn {
    one(Instruction::alu32(dst.ins(), imm, alu_op(op)))
}

/// `wdst op= wsrc` (32-bit, zero-extends the result).
pub fn alu32_reg(op: AluOp, dst: Reg, src: Reg) -> Insn {
    one(Instruction::alux32(dst.ins(), src.ins(), alu_op(op)))
}

/// `dst = imm` (sign-extended to 64 bits).
pub fn mov64_imm(dst: Reg, imm: i32) -> Insn {
    one(Instruction::mov64(dst.ins(), imm))
}

/// `dst = src`.
pub fn mov64_reg(dst: Reg, src: Reg) -> Insn {
    one(Instruction::movx64(dst.ins(), src.ins()))
}

/// `dst = -dst` (64-bit).
pub fn neg64(dst: Reg) -> Insn {
    one(Instruction::alu64(dst.ins(), 0, ArithmeticOperation::Neg))
}

/// `dst = imm ll`: any 64-bit constant, two slots.
pub fn ld_imm64(dst: Reg, imm: i64) -> [Insn; 2] {
    wide(Instruction::load(dst.ins(), imm, MemoryOpSize::DoubleWord))
}

/// `dst = map[fd]`: `ld_imm64` with `src_reg = BPF_PSEUDO_MAP_FD`, two slots.
pub fn ld_map_fd(dst: Reg, fd: i32) -> [Insn; 2] {
    wide(Instruction::loadtype(
        dst.ins(),
        i64::from(fd as u32),
        MemoryOpLoadType::Map,
    ))
}

/// `dst = &map_value[fd] + off`: `ld_imm64` with `src_reg = BPF_PSEUDO_MAP_VALUE`, two slots.
pub fn ld_map_value(dst: Reg, fd: i32, off: i32) -> [Insn; 2] {
    let [mut lo, mut hi] = ld_map_fd(dst, fd);
    lo.src = BPF_PSEUDO_MAP_VALUE;
    hi.imm = off;
    [lo, hi]
}

/// `dst = *(size *)(src + off)`.
pub fn ldx(size: Size, dst: Reg, src: Reg, off: i16) -> Insn {
    one(Instruction::loadx(
        dst.ins(),
        src.ins(),
        off,
        mem_size(size),
    ))
}

/// `*(size *)(dst + off) = imm` (BPF_ST; a DW store sign-extends imm).
pub fn st(size: Size, dst: Reg, off: i16, imm: i32) -> Insn {
    one(Instruction::store(
        dst.ins(),
        off,
        i64::from(imm),
        mem_size(size),
    ))
}

/// `*(size *)(dst + off) = src` (BPF_STX).
pub fn stx(size: Size, dst: Reg, off: i16, src: Reg) -> Insn {
    one(Instruction::storex(
        dst.ins(),
        off,
        src.ins(),
        mem_size(size),
    ))
}

/// `lock *(size *)(dst + off) += src`: bpf-ins has no atomics, so encoded here.
pub fn atomic_add(size: Size, dst: Reg, off: i16, src: Reg) -> Insn {
    Insn {
        code: BPF_STX | size_code(size) | BPF_ATOMIC,
        dst: dst.0,
        src: src.0,
        off,
        imm: i32::from(BPF_ADD),
    }
}

/// `goto +off`.
pub fn ja(off: i16) -> Insn {
    one(Instruction::jmp_abs(off))
}

/// `if dst cond imm goto +off` (64-bit compare, imm sign-extended).
pub fn jmp_imm(cond: Cond, dst: Reg, imm: i32, off: i16) -> Insn {
    one(Instruction::jmp_if(
        dst.ins(),
        jmp_op(cond),
        i64::from(imm),
        off,
    ))
}

/// `if dst cond src goto +off` (64-bit compare).
pub fn jmp_reg(cond: Cond, dst: Reg, src: Reg, off: i16) -> Insn {
    one(Instruction::jmp_ifx(
        dst.ins(),
        jmp_op(cond),
        src.ins(),
        off,
    ))
}

/// `if wdst cond imm goto +off`: bpf-ins has no JMP32, so encoded here.
pub fn jmp32_imm(cond: Cond, dst: Reg, imm: i32, off: i16) -> Insn {
    Insn {
        code: BPF_JMP32 | jmp_code(cond) | BPF_K,
        dst: dst.0,
        src: 0,
        off,
        imm,
    }
}

/// `if wdst cond wsrc goto +off`.
pub fn jmp32_reg(cond: Cond, dst: Reg, src: Reg, off: i16) -> Insn {
    Insn {
        code: BPF_JMP32 | jmp_code(cond) | BPF_X,
        dst: dst.0,
        src: src.0,
        off,
        imm: 0,
    }
}

/// `call helper`.
pub fn call(helper: u32) -> Insn {
    one(Instruction::call(helper))
}

pub fn exit() -> Insn {
    one(Instruction::exit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opcodes_match_the_kernel() {
        assert_eq!(mov64_reg(R6, R1).code, 0xbf);
        assert_eq!(mov64_imm(R0, 0).code, 0xb7);
        assert_eq!(alu32_imm(AluOp::Add, R1, 1).code, 0x04);
        assert_eq!(ldx(Size::W, R1, R6, 8).code, 0x61);
        assert_eq!(stx(Size::DW, R10, -8, R1).code, 0x7b);
        assert_eq!(st(Size::DW, R10, -8, 0).code, 0x7a);
        assert_eq!(atomic_add(Size::DW, R1, 0, R2).code, 0xdb);
        assert_eq!(atomic_add(Size::W, R1, 0, R2).code, 0xc3);
        assert_eq!(call(1).code, 0x85);
        assert_eq!(exit().code, 0x95);
        assert_eq!(neg64(R3).code, 0x87);
        assert_eq!(jmp_imm(Cond::Eq, R0, 0, 5).code, 0x15);
        assert_eq!(ld_imm64(R1, 0)[0].code, LD_DW_IMM);
    }

    #[test]
    fn fields_land_where_the_kernel_reads_them() {
        let b = ldx(Size::W, R1, R6, 8).encode();
        assert_eq!(b, [0x61, 0x61, 8, 0, 0, 0, 0, 0]);
        let b = jmp_imm(Cond::Sgt, R2, -1, -3).encode();
        assert_eq!(b, [0x65, 0x02, 0xfd, 0xff, 0xff, 0xff, 0xff, 0xff]);
        let b = st(Size::DW, R10, -16, -2).encode();
        assert_eq!(b, [0x7a, 0x0a, 0xf0, 0xff, 0xfe, 0xff, 0xff, 0xff]);
    }

    #[test]
    fn ld_imm64_keeps_all_64_bits() {
        let [lo, hi] = ld_imm64(R3, 0x1234_5678_9abc_def0);
        assert_eq!((lo.dst, lo.imm as u32), (3, 0x9abc_def0));
        assert_eq!((hi.code, hi.imm as u32), (0, 0x1234_5678));
        let [lo, hi] = ld_imm64(R0, -1);
        assert_eq!((lo.imm, hi.imm), (-1, -1));
        let [lo, hi] = ld_map_fd(R1, 7);
        assert_eq!((lo.src, lo.imm, hi.imm), (BPF_PSEUDO_MAP_FD, 7, 0));
    }

    #[test]
    fn decode_inverts_encode() {
        let i = Insn {
            code: 0xdb,
            dst: 9,
            src: 10,
            off: -32768,
            imm: i32::MIN,
        };
        assert_eq!(Insn::decode(i.encode()), i);
    }
}
