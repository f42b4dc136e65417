//! `buf(data, length)`: bytes read from memory (or a string or array) that print, with `%r`
//! or as a value or key, as bpftrace 0.17 prints them: printable ASCII as it is, every other
//! byte as `\xNN`. The value is a u64 length, then the bytes.

use super::api::*;
use crate::output::value::Value;
use crate::codegen::ir::{helper, AluOp, Base, Cond, Inst, Operand, Size};
use crate::sema::types::{Formatted, Type};

pub const ENTRIES: &[Builtin] = &[Builtin {
    name: "buf",
    args: (1, 2),
    check,
    lower: Lower::Mem(lower),
    format: Some(|bytes, _, _| Value::Buf(contents(bytes))),
    ..Builtin::PLAIN
}];

/// The most bytes one buffer holds (bpftrace 0.17 takes at most `BPFTRACE_STRLEN` bytes of a
/// length known only at run time).
const MAX_CONST_LEN: u64 = 256;

/// `data` is [capacity, 1 when read from user memory, 1 when the data is an address].
fn check(cx: &mut dyn CheckCx, call: &Call<'_>) -> Checked {
    let data = cx.expr(&call.args[0]);
    let (is_addr, natural) = match &data.ty {
        t if t.is_int() => (true, None),
        Type::Str { .. } | Type::Array { .. } => (false, Some(u64::from(data.ty.c_size()))),
        other => {
            cx.error(
                data.span,
                format!("buf() reads an address, a string or an array, not a {other}"),
            );
            return Checked::Error;
        }
    };
    let user = match (&data.ty, cx.attach()) {
        (Type::Ptr { user, .. }, _) => *user,
        (_, a) if a.is_user() => true,
        _ => false,
    };
    let mut args = vec![data];
    let cap = match call.args.get(1) {
        Some(l) => match cx.const_int(l) {
            Some(n) if n == 0 || n > MAX_CONST_LEN => {
                cx.error(l.span, format!("buf()'s length must be 1 to {MAX_CONST_LEN}"));
                return Checked::Error;
            }
            // A string's buffer is read to its padded end, as bpftrace reads it; no buffer is
            // longer than BPFTRACE_STRLEN.
            Some(n) => {
                let strlen = u64::from(cx.strlen());
                if n > strlen {
                    cx.warn(
                        call.span,
                        format!(
                            "buf() length is too long and will be shortened to {strlen} bytes \
                             (see BPFTRACE_STRLEN)"
                        ),
                    );
                }
                natural.map_or(n, |m| n.min(m.div_ceil(8) * 8)).min(strlen)
            }
            None => {
                let len = cx.expr(l);
                if !len.ty.is_int() {
                    cx.error(len.span, format!("buf()'s length must be an integer, not a {}", len.ty));
                    return Checked::Error;
                }
                args.push(len);
                natural.unwrap_or(u64::from(cx.strlen()))
            }
        },
        None => match natural {
            Some(n) => n,
            None => {
                cx.error(
                    call.span,
                    "buf() of an address needs a length, as in buf(p, 16)".into(),
                );
                return Checked::Error;
            }
        },
    };
    Checked::Call {
        ty: Type::Formatted(Formatted {
            builtin: call.id.0,
            name: "buffer",
            size: 8 + cap as u32,
            param: None,
        }),
        args,
        data: vec![cap, u64::from(user), u64::from(is_addr)],
    }
}

fn lower(cx: &mut dyn LowerCx, call: &TCall<'_>, base: Base, off: i32, size: u32) {
    let cap = call.data[0] as u32;
    cx.zero(base, off, size);
    // The length: the constant, or the run-time one clamped to the capacity.
    let len = cx.reg();
    match call.args.get(1) {
        None => cx.mov_imm(len, i64::from(cap)),
        Some(l) => {
            let v = cx.int(l);
            cx.emit(Inst::Mov {
                dst: len,
                src: Operand::Reg(v),
            });
            let ok = cx.label();
            cx.jmp_if(Cond::Le, len, Operand::Imm(cap as i32), ok);
            cx.mov_imm(len, i64::from(cap));
            cx.place_label(ok);
        }
    }
    cx.emit(Inst::Store {
        base,
        off: off as i16,
        src: Operand::Reg(len),
        size: Size::DW,
    });
    if call.data[2] == 0 {
        // A string or array value: its bytes as they are.
        cx.mem_into(&call.args[0], base, off + 8, size.saturating_sub(8));
        return;
    }
    let src = cx.operand(&call.args[0]);
    let dst = cx.addr(base, off + 8);
    let read = if call.data[1] == 1 {
        helper::PROBE_READ_USER
    } else {
        helper::PROBE_READ_KERNEL
    };
    if call.args.len() == 1 {
        cx.call_void(read, vec![Operand::Reg(dst), Operand::Imm(cap as i32), src]);
        return;
    }
    // A run-time length: the verifier needs it proven within 1..=cap.
    let skip = cx.label();
    cx.jmp_if(Cond::Eq, len, Operand::Imm(0), skip);
    cx.emit(Inst::Alu64 {
        op: AluOp::And,
        dst: len,
        src: Operand::Imm(0xffff),
    });
    cx.call_void(read, vec![Operand::Reg(dst), Operand::Reg(len), src]);
    cx.place_label(skip);
}

/// The bytes of a length-prefixed buffer.
fn contents(bytes: &[u8]) -> Vec<u8> {
    let len = bytes
        .get(..8)
        .map_or(0, |b| u64::from_le_bytes(b.try_into().unwrap_or([0; 8]))) as usize;
    bytes.get(8..).unwrap_or(&[]).iter().take(len).copied().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_what_is_not_printable() {
        let mut v = 5u64.to_le_bytes().to_vec();
        v.extend_from_slice(b"AB\tc\0zz");
        assert_eq!(contents(&v), b"AB\tc\0");
        assert_eq!(crate::output::value::escaped(&contents(&v)), b"AB\\x09c\\x00");
    }
}
