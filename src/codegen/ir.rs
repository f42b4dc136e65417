//! The codegen IR: eBPF-shaped instructions over virtual registers, labels, stack slots and
//! symbolic map references. Fed by `codegen::lower` (from the checked program); consumed by
//! `codegen::regalloc` and `codegen::emit`, which turn it into real instructions.

use crate::source::Span;
use std::fmt;

/// A virtual register: any number of them; the allocator maps them to r0-r9 or spills them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VReg(pub u32);

/// A jump target inside one function.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Label(pub u32);

/// A stack slot of the function's frame; its offset from r10 is chosen by the frame layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SlotId(pub u32);

/// A map of the program (index into `Checked::maps` / the runtime's map table); becomes an
/// `ld_imm64 src=BPF_PSEUDO_MAP_FD` with the map's fd only at encoding time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MapId(pub u32);

/// A value known only when the programs are loaded: the encoder leaves a placeholder
/// `ld_imm64` and records a relocation, so compiling needs no process, clock or kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RuntimeConst {
    /// `cpid`: the pid of the `-c` command, known once it is forked.
    Cpid,
    /// CLOCK_MONOTONIC nanoseconds when the run starts, the zero of `elapsed`.
    StartNs,
}

impl RuntimeConst {
    /// The name in `--dump ir` listings.
    pub fn name(self) -> &'static str {
        match self {
            RuntimeConst::Cpid => "cpid",
            RuntimeConst::StartNs => "start_ns",
        }
    }
}

/// A register or a 32-bit signed immediate (what eBPF instructions accept).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operand {
    Reg(VReg),
    Imm(i32),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AluOp {
    Add,
    Sub,
    Mul,
    /// Unsigned division (BPF_DIV).
    Div,
    /// Unsigned modulo (BPF_MOD).
    Mod,
    Or,
    And,
    Xor,
    Lsh,
    /// Logical right shift.
    Rsh,
    /// Arithmetic right shift.
    Arsh,
}

impl AluOp {
    /// Every operation, for tests that cover them all.
    pub const ALL: [AluOp; 11] = [
        AluOp::Add,
        AluOp::Sub,
        AluOp::Mul,
        AluOp::Div,
        AluOp::Mod,
        AluOp::Or,
        AluOp::And,
        AluOp::Xor,
        AluOp::Lsh,
        AluOp::Rsh,
        AluOp::Arsh,
    ];
}

/// Jump conditions, named as the kernel names them (BPF_JEQ, BPF_JGT, BPF_JSGT, ...).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cond {
    Eq,
    Ne,
    /// Unsigned >.
    Gt,
    Ge,
    Lt,
    Le,
    /// Signed >.
    Sgt,
    Sge,
    Slt,
    Sle,
    /// `a & b != 0` (BPF_JSET).
    Set,
}

impl Cond {
    /// Every condition, for tests that cover them all.
    pub const ALL: [Cond; 11] = [
        Cond::Eq,
        Cond::Ne,
        Cond::Gt,
        Cond::Ge,
        Cond::Lt,
        Cond::Le,
        Cond::Sgt,
        Cond::Sge,
        Cond::Slt,
        Cond::Sle,
        Cond::Set,
    ];
}

/// Memory access width.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Size {
    B,
    H,
    W,
    DW,
}

impl Size {
    pub fn bytes(self) -> u32 {
        match self {
            Size::B => 1,
            Size::H => 2,
            Size::W => 4,
            Size::DW => 8,
        }
    }

    pub fn from_bytes(n: u32) -> Option<Size> {
        match n {
            1 => Some(Size::B),
            2 => Some(Size::H),
            4 => Some(Size::W),
            8 => Some(Size::DW),
            _ => None,
        }
    }
}

/// The base of a memory access.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Base {
    /// A pointer held in a register (ctx, map value, stack address...).
    Reg(VReg),
    /// A stack slot: the access is `r10 + slot_offset + off`.
    Slot(SlotId),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Inst {
    /// `dst = src` (64-bit).
    Mov { dst: VReg, src: Operand },
    /// `dst = imm` for any 64-bit constant (`ld_imm64`).
    LdImm64 { dst: VReg, imm: i64 },
    /// `dst = konst`: an `ld_imm64` whose immediate is patched when the program is loaded.
    LdConst { dst: VReg, konst: RuntimeConst },
    /// `dst = &map` (`ld_imm64` with `src_reg = BPF_PSEUDO_MAP_FD`, patched with the fd at encoding).
    LdMapFd { dst: VReg, map: MapId },
    /// `dst = &map_value[0] + off` of a one-entry array map (`ld_imm64` with
    /// `src_reg = BPF_PSEUDO_MAP_VALUE`): a direct pointer, no lookup call.
    LdMapValue { dst: VReg, map: MapId, off: i32 },
    /// `dst = dst op src`, 64-bit (BPF_ALU64).
    Alu64 { op: AluOp, dst: VReg, src: Operand },
    /// `dst = (u32)dst op (u32)src`, zero-extended to 64 bits (BPF_ALU).
    Alu32 { op: AluOp, dst: VReg, src: Operand },
    /// `dst = -dst` (64-bit).
    Neg { dst: VReg },
    /// `dst = *(size *)(base + off)` zero-extended.
    Load {
        dst: VReg,
        base: Base,
        off: i16,
        size: Size,
    },
    /// `*(size *)(base + off) = src` (BPF_STX for a register, BPF_ST for an immediate).
    Store {
        base: Base,
        off: i16,
        src: Operand,
        size: Size,
    },
    /// `lock *(size *)(base + off) += src` (BPF_STX | BPF_ATOMIC, imm = BPF_ADD); size W or DW.
    AtomicAdd {
        base: Base,
        off: i16,
        src: VReg,
        size: Size,
    },
    /// `dst = r10 + slot_offset(slot) + off`: the address of (part of) a stack slot.
    StackAddr { dst: VReg, slot: SlotId, off: i32 },
    /// Call helper number `helper` with up to five arguments placed in r1..r5; the result (r0)
    /// goes to `ret`. r1-r5 are clobbered by the call, as in the kernel's ABI.
    Call {
        helper: u32,
        args: Vec<Operand>,
        ret: Option<VReg>,
    },
    /// Unconditional jump.
    Jmp { target: Label },
    /// `if a cond b goto target` (64-bit compare).
    JmpIf {
        cond: Cond,
        a: VReg,
        b: Operand,
        target: Label,
    },
    /// A jump target.
    Label(Label),
    /// `r0 = ret; exit`.
    Exit { ret: Operand },
}

/// A stack slot's needs; `span` is the source that asked for it (for the 512-byte diagnostic).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlotInfo {
    pub size: u32,
    /// 1, 2, 4 or 8.
    pub align: u32,
    pub span: Span,
}

/// One instruction with the source span it was lowered from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpannedInst {
    pub inst: Inst,
    pub span: Span,
}

/// One eBPF program (one probe) in IR form.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Function {
    /// Program name, also used for the ELF section symbol (`p0_tracepoint_syscalls_...`).
    pub name: String,
    pub insts: Vec<SpannedInst>,
    pub slots: Vec<SlotInfo>,
    /// Number of virtual registers used (`VReg(0)..VReg(nregs)`).
    pub nregs: u32,
    /// The register that holds the context pointer (r1) on entry.
    pub ctx: VReg,
    /// Number of labels allocated.
    pub nlabels: u32,
}

/// Kernel helper function numbers (include/uapi/linux/bpf.h, `enum bpf_func_id`).
pub mod helper {
    pub const MAP_LOOKUP_ELEM: u32 = 1;
    pub const MAP_UPDATE_ELEM: u32 = 2;
    pub const MAP_DELETE_ELEM: u32 = 3;
    pub const PROBE_READ: u32 = 4;
    pub const KTIME_GET_NS: u32 = 5;
    pub const TRACE_PRINTK: u32 = 6;
    pub const GET_PRANDOM_U32: u32 = 7;
    pub const GET_SMP_PROCESSOR_ID: u32 = 8;
    pub const GET_CURRENT_PID_TGID: u32 = 14;
    pub const GET_CURRENT_UID_GID: u32 = 15;
    pub const GET_CURRENT_COMM: u32 = 16;
    pub const PERF_EVENT_OUTPUT: u32 = 25;
    pub const GET_STACKID: u32 = 27;
    pub const GET_CURRENT_TASK: u32 = 35;
    pub const PROBE_READ_STR: u32 = 45;
    pub const SEND_SIGNAL: u32 = 109;
    pub const PROBE_READ_USER: u32 = 112;
    pub const PROBE_READ_KERNEL: u32 = 113;
    pub const PROBE_READ_USER_STR: u32 = 114;
    pub const PROBE_READ_KERNEL_STR: u32 = 115;
    pub const RINGBUF_OUTPUT: u32 = 130;
    pub const RINGBUF_RESERVE: u32 = 131;
    pub const RINGBUF_SUBMIT: u32 = 132;
    pub const KTIME_GET_BOOT_NS: u32 = 125;
    pub const GET_FUNC_IP: u32 = 173;
    pub const OVERRIDE_RETURN: u32 = 58;
    pub const D_PATH: u32 = 147;
    pub const SEQ_WRITE: u32 = 127;

    /// The kernel's name for a helper, for disassembly (`call bpf_map_lookup_elem#1`).
    pub fn name(n: u32) -> &'static str {
        match n {
            MAP_LOOKUP_ELEM => "map_lookup_elem",
            MAP_UPDATE_ELEM => "map_update_elem",
            MAP_DELETE_ELEM => "map_delete_elem",
            PROBE_READ => "probe_read",
            KTIME_GET_NS => "ktime_get_ns",
            TRACE_PRINTK => "trace_printk",
            GET_PRANDOM_U32 => "get_prandom_u32",
            GET_SMP_PROCESSOR_ID => "get_smp_processor_id",
            GET_CURRENT_PID_TGID => "get_current_pid_tgid",
            GET_CURRENT_UID_GID => "get_current_uid_gid",
            GET_CURRENT_COMM => "get_current_comm",
            OVERRIDE_RETURN => "override_return",
            D_PATH => "d_path",
            SEQ_WRITE => "seq_write",
            PERF_EVENT_OUTPUT => "perf_event_output",
            GET_STACKID => "get_stackid",
            GET_CURRENT_TASK => "get_current_task",
            PROBE_READ_STR => "probe_read_str",
            SEND_SIGNAL => "send_signal",
            PROBE_READ_USER => "probe_read_user",
            PROBE_READ_KERNEL => "probe_read_kernel",
            PROBE_READ_USER_STR => "probe_read_user_str",
            PROBE_READ_KERNEL_STR => "probe_read_kernel_str",
            RINGBUF_OUTPUT => "ringbuf_output",
            RINGBUF_RESERVE => "ringbuf_reserve",
            RINGBUF_SUBMIT => "ringbuf_submit",
            KTIME_GET_BOOT_NS => "ktime_get_boot_ns",
            GET_FUNC_IP => "get_func_ip",
            _ => "unknown",
        }
    }
}

impl fmt::Display for VReg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "%{}", self.0)
    }
}

impl fmt::Display for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "L{}", self.0)
    }
}

impl fmt::Display for Operand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Operand::Reg(r) => write!(f, "{r}"),
            Operand::Imm(i) => write!(f, "{i}"),
        }
    }
}
