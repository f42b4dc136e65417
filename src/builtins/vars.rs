//! Builtin variables about the current task, CPU and time: `pid`, `tid`, `uid`, `gid`,
//! `nsecs`, `elapsed`, `cpu`, `comm`, `cpid`, `rand`, `curtask`, `ctx`, `probe`, `cgroup`,
//! `jiffies`.

use super::api::*;
use crate::codegen::ir::{helper, AluOp, Base, Inst, Operand, VReg};
use crate::sema::types::{Type, COMM_LEN};

/// A variable of type `ty` computed by `lower`, valid in every probe.
const fn var(name: &'static str, ty: fn(&mut dyn CheckCx, &Call<'_>) -> Checked, lower: Lower) -> Builtin {
    Builtin {
        name,
        kind: Kind::Variable,
        args: (0, 0),
        check: ty,
        lower,
        ..Builtin::PLAIN
    }
}

fn u64(_: &mut dyn CheckCx, _: &Call<'_>) -> Checked {
    Checked::of(Type::U64)
}

pub const ENTRIES: &[Builtin] = &[
    var("pid", u64, Lower::Int(|cx, _| pid_tgid_half(cx, true))),
    var("tid", u64, Lower::Int(|cx, _| pid_tgid_half(cx, false))),
    var("uid", u64, Lower::Int(|cx, _| uid_gid_half(cx, false))),
    var("gid", u64, Lower::Int(|cx, _| uid_gid_half(cx, true))),
    var("nsecs", u64, Lower::Int(|cx, _| cx.call(helper::KTIME_GET_NS, vec![]))),
    var("elapsed", u64, Lower::Int(elapsed)),
    var("cpu", u64, Lower::Int(|cx, _| cx.call(helper::GET_SMP_PROCESSOR_ID, vec![]))),
    var(
        "comm",
        |_, _| Checked::of(Type::Str { size: COMM_LEN }),
        Lower::Mem(comm),
    ),
    var("cpid", cpid_type, Lower::Int(|cx, _| cx.cpid())),
    var("rand", u64, Lower::Int(|cx, _| cx.call(helper::GET_PRANDOM_U32, vec![]))),
    var(
        "curtask",
        // A `struct task_struct *` when the kernel's BTF describes it, as in bpftrace.
        |cx, _| Checked::of(cx.kernel_pointer("struct task_struct").unwrap_or(Type::U64)),
        Lower::Int(|cx, _| cx.call(helper::GET_CURRENT_TASK, vec![])),
    ),
    var(
        "ctx",
        |_, _| Checked::of(Type::KPTR),
        Lower::Int(|cx, _| cx.ctx()),
    ),
    var("probe", probe_name, Lower::Int(|cx, _| cx.reg())),
    var(
        "cgroup",
        u64,
        Lower::Int(|cx, _| cx.call(GET_CURRENT_CGROUP_ID, vec![])),
    ),
    var("jiffies", u64, Lower::Int(|cx, _| cx.call(JIFFIES64, vec![]))),
];

/// `bpf_get_current_cgroup_id()`: the cgroup v2 id of the current task (Linux 4.18).
const GET_CURRENT_CGROUP_ID: u32 = 80;
/// `bpf_jiffies64()` (Linux 5.5).
const JIFFIES64: u32 = 118;

/// `pid` is the high half of `get_current_pid_tgid` (the process), `tid` the low half.
fn pid_tgid_half(cx: &mut dyn LowerCx, high: bool) -> VReg {
    let r = cx.call(helper::GET_CURRENT_PID_TGID, vec![]);
    half(cx, r, high)
}

/// `uid` is the low half of `get_current_uid_gid`, `gid` the high half.
fn uid_gid_half(cx: &mut dyn LowerCx, high: bool) -> VReg {
    let r = cx.call(helper::GET_CURRENT_UID_GID, vec![]);
    half(cx, r, high)
}

fn half(cx: &mut dyn LowerCx, r: VReg, high: bool) -> VReg {
    if high {
        cx.emit(Inst::Alu64 {
            op: AluOp::Rsh,
            dst: r,
            src: Operand::Imm(32),
        });
    } else {
        cx.normalize(r, 4, false);
    }
    r
}

/// Nanoseconds since the run started: the start time is filled in when the program loads.
fn elapsed(cx: &mut dyn LowerCx, _: &TCall<'_>) -> VReg {
    let r = cx.call(helper::KTIME_GET_NS, vec![]);
    let start = cx.start_ns();
    cx.emit(Inst::Alu64 {
        op: AluOp::Sub,
        dst: r,
        src: Operand::Reg(start),
    });
    r
}

fn comm(cx: &mut dyn LowerCx, _: &TCall<'_>, base: Base, off: i32, size: u32) {
    // get_current_comm pads the whole buffer with zeros.
    let p = cx.addr(base, off);
    let n = size.min(COMM_LEN) as i32;
    cx.call_void(
        helper::GET_CURRENT_COMM,
        vec![Operand::Reg(p), Operand::Imm(n)],
    );
    cx.zero(base, off + COMM_LEN as i32, size.saturating_sub(COMM_LEN));
}

fn cpid_type(cx: &mut dyn CheckCx, call: &Call<'_>) -> Checked {
    if !cx.has_command() {
        cx.error(call.span, "cpid is only available with -c CMD".into());
    }
    Checked::of(Type::U64)
}

/// `probe` is the attach point's full name, known at compile time.
fn probe_name(cx: &mut dyn CheckCx, call: &Call<'_>) -> Checked {
    let name = cx.probe_name().as_bytes().to_vec();
    Checked::Expr(cx.str_literal(name, call.span))
}
