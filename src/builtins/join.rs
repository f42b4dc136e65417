//! `join(ARRAY[, DELIM])`: prints the strings of a NULL-terminated array of string pointers
//! (an `argv`) joined by DELIM (" " by default): at most 16 strings of up to 1024 bytes each,
//! as bpftrace 0.17 reads them. The record is written in place in the ring buffer.

use super::api::*;
use crate::ast::ExprKind;
use crate::codegen::ir::{helper, AluOp, Base, Cond, Inst, Operand, Size};
use crate::sema::typed::event;
use crate::sema::types::Type;

pub const ENTRIES: &[Builtin] = &[Builtin {
    name: "join",
    args: (1, 2),
    check,
    lower: Lower::Stmt(lower),
    event: Some(print_joined),
    ..Builtin::PLAIN
}];

/// Strings read from the array, at most.
const ARGS: u32 = 16;
/// Bytes kept of each string, its NUL included.
const ARG_SIZE: u32 = 1024;

/// `data` is the record's id, then 1 when the array and strings are user memory.
fn check(cx: &mut dyn CheckCx, call: &Call<'_>) -> Checked {
    let arr = cx.expr(&call.args[0]);
    let user = match (&arr.ty, cx.attach()) {
        (Type::Ptr { user, .. }, _) => *user,
        (Type::Int { .. }, a) if a.is_user() => true,
        (Type::Int { .. }, _) => false,
        (other, _) => {
            let msg = format!(
                "join() expects an array of string pointers (as args->argv), but this is a {other}"
            );
            cx.error(arr.span, msg);
            return Checked::Error;
        }
    };
    let delim = match call.args.get(1).map(|d| &d.kind) {
        None => " ".to_string(),
        Some(ExprKind::Str(bytes)) => String::from_utf8_lossy(bytes).into_owned(),
        Some(_) => {
            cx.error(
                call.args[1].span,
                "join()'s delimiter must be a string literal, as in join(args->argv, \",\")"
                    .into(),
            );
            return Checked::Error;
        }
    };
    let id = cx.call_record(call.id, delim, &[]);
    Checked::action(vec![arr], vec![u64::from(id), u64::from(user)])
}

fn lower(cx: &mut dyn LowerCx, call: &TCall<'_>) {
    let (read, read_str) = if call.data[1] == 1 {
        (helper::PROBE_READ_USER, helper::PROBE_READ_USER_STR)
    } else {
        (helper::PROBE_READ_KERNEL, helper::PROBE_READ_KERNEL_STR)
    };
    let arr = cx.int(&call.args[0]);
    let slot = cx.slot(8);
    let size = event::HEADER + ARGS * ARG_SIZE;
    cx.reserved_record(event::CALL, call.data[0] as u32, size, &mut |cx, rec| {
        let done = cx.label();
        for i in 0..ARGS {
            let off = (event::HEADER + i * ARG_SIZE) as i32;
            // An empty string ends the list for userspace, wherever the loop stops.
            cx.emit(Inst::Store {
                base: Base::Reg(rec),
                off: off as i16,
                src: Operand::Imm(0),
                size: Size::B,
            });
            let elem = cx.reg();
            cx.emit(Inst::Mov {
                dst: elem,
                src: Operand::Reg(arr),
            });
            if i > 0 {
                cx.emit(Inst::Alu64 {
                    op: AluOp::Add,
                    dst: elem,
                    src: Operand::Imm(8 * i as i32),
                });
            }
            let tmp = cx.addr(Base::Slot(slot), 0);
            cx.call_void(read, vec![Operand::Reg(tmp), Operand::Imm(8), Operand::Reg(elem)]);
            let ptr = cx.load(Base::Slot(slot), 0, Size::DW);
            cx.jmp_if(Cond::Eq, ptr, Operand::Imm(0), done);
            let dst = cx.addr(Base::Reg(rec), off);
            cx.call_void(
                read_str,
                vec![
                    Operand::Reg(dst),
                    Operand::Imm(ARG_SIZE as i32),
                    Operand::Reg(ptr),
                ],
            );
        }
        cx.place_label(done);
    });
}

fn print_joined(e: &Event<'_>) -> Message {
    Message::Text {
        kind: "join",
        text: joined(e.param, e.payload),
        newline: true,
    }
}

/// The strings up to the first empty one, joined by `delim`.
fn joined(delim: &str, payload: &[u8]) -> Vec<u8> {
    let mut text = Vec::new();
    for (i, arg) in payload.chunks(ARG_SIZE as usize).take(ARGS as usize).enumerate() {
        let end = arg.iter().position(|&b| b == 0).unwrap_or(arg.len());
        if end == 0 {
            break;
        }
        if i > 0 {
            text.extend_from_slice(delim.as_bytes());
        }
        text.extend_from_slice(&arg[..end]);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_up_to_the_first_empty_string() {
        let mut payload = vec![0u8; (ARGS * ARG_SIZE) as usize];
        for (i, s) in [&b"ls"[..], b"-l", b"/tmp"].iter().enumerate() {
            let at = i * ARG_SIZE as usize;
            payload[at..at + s.len()].copy_from_slice(s);
        }
        // A string after the empty one is not printed.
        payload[4 * ARG_SIZE as usize] = b'x';
        assert_eq!(joined(",", &payload), b"ls,-l,/tmp");
        assert_eq!(joined(" ", &[]), b"");
    }
}
