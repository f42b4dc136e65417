//! The setup program of a function watchpoint (`watchpoint:FUNC+argN:LEN:MODE`), a uprobe on
//! FUNC: it stops the calling process (`watchpoint`, not `asyncwatchpoint`) and sends the
//! argument's value, the address to watch, to userspace (`event::WATCHPOINT`), which places
//! the watchpoint and lets the process go on (`runtime::watch`). Fed by `compile` for each
//! function watchpoint of the checked program.

use super::Lowerer;
use crate::codegen::ir::{helper, Base, Function, Inst, Operand, Size};
use crate::probes::{arch, Attach};
use crate::sema::typed::{event, Checked, CheckedProbe};

/// `SIGSTOP` and `SIGCONT`, as `bpf_send_signal` takes them.
const SIGSTOP: i32 = libc::SIGSTOP;
const SIGCONT: i32 = libc::SIGCONT;

/// Bytes of the record: the header (kind, the watchpoint program's index), the address and
/// the process's pid.
pub const RECORD_SIZE: u32 = 24;

/// The setup uprobe of `probe` (a function watchpoint), whose program is number `watch` of
/// the object; `None` for any other probe.
pub fn watch_setup(checked: &Checked, probe: &CheckedProbe, watch: usize) -> Option<Function> {
    let Attach::Watchpoint {
        addr: arg,
        func: Some(func),
        stop,
        ..
    } = &probe.attach
    else {
        return None;
    };
    let off = arch::pt_regs_offset(&format!("arg{arg}"))?;
    let mut l = Lowerer::new(checked, probe, watch);
    l.f.name = setup_name(watch, func);
    let ctx = l.f.ctx;
    if *stop {
        // Before the record: once userspace reads it, it may continue the process at once.
        l.call_void(helper::SEND_SIGNAL, vec![Operand::Imm(SIGSTOP)]);
    }
    let rec = l.slot(RECORD_SIZE);
    l.header(rec, event::WATCHPOINT, watch as u32);
    let addr = l.load(Base::Reg(ctx), off as i16, Size::DW);
    l.emit(Inst::Store {
        base: Base::Slot(rec),
        off: 8,
        src: Operand::Reg(addr),
        size: Size::DW,
    });
    let pid = l.call(helper::GET_CURRENT_PID_TGID, vec![]);
    l.emit(Inst::Alu64 {
        op: crate::codegen::ir::AluOp::Rsh,
        dst: pid,
        src: Operand::Imm(32),
    });
    l.emit(Inst::Store {
        base: Base::Slot(rec),
        off: 16,
        src: Operand::Reg(pid),
        size: Size::DW,
    });
    // No room in the ring buffer: nobody will continue the process, so it is not stopped.
    l.output_or(rec, RECORD_SIZE, |l| {
        if *stop {
            l.call_void(helper::SEND_SIGNAL, vec![Operand::Imm(SIGCONT)]);
        }
    });
    l.emit(Inst::Exit {
        ret: Operand::Imm(0),
    });
    Some(l.f)
}

/// `p{N}_wp_setup_{FUNC}`, truncated as the other names are.
fn setup_name(watch: usize, func: &str) -> String {
    let mut name = format!("p{watch}_wp_setup_");
    name.extend(
        func.chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }),
    );
    name.truncate(60);
    name
}
