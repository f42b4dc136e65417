//! Values that userspace turns into text when it prints them (`Type::Formatted`): `username`
//! (a uid, named from /etc/passwd), `strftime(FMT, NSECS)` (a time, formatted by strftime(3)
//! with `%f` for microseconds) and `strerror(ERRNO)` (an errno's message).

use super::api::*;
use crate::output::value::Value;
use crate::ast::ExprKind;
use crate::codegen::ir::{helper, Base, Inst, Operand, Size};
use crate::sema::types::{Formatted, Type};
use std::sync::{Arc, OnceLock};

pub const ENTRIES: &[Builtin] = &[
    Builtin {
        name: "username",
        kind: Kind::Variable,
        check: |_, call| Checked::of(formatted(call, "username", None)),
        lower: Lower::Mem(|cx, _, base, off, size| {
            let r = cx.call(helper::GET_CURRENT_UID_GID, vec![]);
            cx.normalize(r, 4, false);
            store(cx, r, base, off, size);
        }),
        format: Some(|bytes, _, _| Value::Str(user_name(word(bytes)))),
        ..Builtin::PLAIN
    },
    Builtin {
        name: "strftime",
        args: (2, 2),
        check: check_strftime,
        lower: Lower::Mem(store_arg),
        format: Some(|bytes, fmt, _| Value::Str(local_time(fmt.unwrap_or(""), word(bytes)))),
        ..Builtin::PLAIN
    },
    Builtin {
        name: "strerror",
        args: (1, 1),
        check: |cx, call| integer_arg(cx, call, "strerror"),
        lower: Lower::Mem(store_arg),
        format: Some(|bytes, _, _| Value::Str(errno_text(word(bytes) as i64))),
        ..Builtin::PLAIN
    },
];

/// The type of a value of this builtin: 8 bytes its hook formats.
fn formatted(call: &Call<'_>, name: &'static str, param: Option<Arc<str>>) -> Type {
    Type::Formatted(Formatted {
        builtin: call.id.0,
        name,
        size: 8,
        param,
    })
}

/// One integer argument, the value formatted.
fn integer_arg(cx: &mut dyn CheckCx, call: &Call<'_>, name: &'static str) -> Checked {
    let a = cx.expr(&call.args[0]);
    if !a.ty.is_int() {
        cx.error(
            a.span,
            format!("{name}() expects an integer, but this is a {}", a.ty),
        );
        return Checked::Error;
    }
    Checked::Call {
        ty: formatted(call, name, None),
        args: vec![a],
        data: Vec::new(),
    }
}

/// strftime's format is a string literal; the time is nanoseconds since boot (`nsecs`).
fn check_strftime(cx: &mut dyn CheckCx, call: &Call<'_>) -> Checked {
    let ExprKind::Str(fmt) = &call.args[0].kind else {
        cx.error(
            call.args[0].span,
            "strftime()'s format must be a string literal, as in strftime(\"%H:%M:%S\", nsecs)"
                .into(),
        );
        return Checked::Error;
    };
    let fmt: Arc<str> = String::from_utf8_lossy(fmt).into();
    let Checked::Call { args, data, .. } = integer_arg(cx, &skip_first(call), "strftime") else {
        return Checked::Error;
    };
    Checked::Call {
        ty: formatted(call, "timestamp", Some(fmt)),
        args,
        data,
    }
}

/// The call without its first argument (strftime's format).
fn skip_first<'a>(call: &Call<'a>) -> Call<'a> {
    Call {
        id: call.id,
        name: call.name,
        args: &call.args[1..],
        span: call.span,
    }
}

/// Stores the (integer) argument as the value's 8 bytes.
fn store_arg(cx: &mut dyn LowerCx, call: &TCall<'_>, base: Base, off: i32, size: u32) {
    let v = cx.int(&call.args[0]);
    store(cx, v, base, off, size);
}

/// Stores a 64-bit value in a record slot, zeroing the rest of the slot.
pub(super) fn store(cx: &mut dyn LowerCx, v: crate::codegen::ir::VReg, base: Base, off: i32, size: u32) {
    cx.emit(Inst::Store {
        base,
        off: off as i16,
        src: Operand::Reg(v),
        size: Size::DW,
    });
    cx.zero(base, off + 8, size.saturating_sub(8));
}

/// The little-endian 64-bit word at the start of `bytes` (zero-padded).
pub(super) fn word(bytes: &[u8]) -> u64 {
    let mut w = [0u8; 8];
    let n = bytes.len().min(8);
    w[..n].copy_from_slice(&bytes[..n]);
    u64::from_le_bytes(w)
}

/// The name /etc/passwd gives `uid`, or nothing, as bpftrace 0.17 prints it.
fn user_name(uid: u64) -> Vec<u8> {
    static PASSWD: OnceLock<String> = OnceLock::new();
    let passwd = PASSWD.get_or_init(|| std::fs::read_to_string("/etc/passwd").unwrap_or_default());
    let uid = uid.to_string();
    passwd
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.len() >= 3 && f[2] == uid)
        .map(|f| f[0].as_bytes().to_vec())
        .unwrap_or_default()
}

/// Wall-clock time minus time since boot, as (seconds, nanoseconds): nanoseconds since boot
/// plus this is the time of day, as bpftrace computes it.
fn boot_time() -> (i64, i64) {
    static BOOT: OnceLock<(i64, i64)> = OnceLock::new();
    *BOOT.get_or_init(|| {
        let now = |clock| {
            let mut ts = libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            // SAFETY: clock_gettime writes one timespec into `ts`.
            unsafe { libc::clock_gettime(clock, &mut ts) };
            ts.tv_sec as i128 * 1_000_000_000 + ts.tv_nsec as i128
        };
        let boot = now(libc::CLOCK_REALTIME) - now(libc::CLOCK_BOOTTIME);
        ((boot / 1_000_000_000) as i64, (boot % 1_000_000_000) as i64)
    })
}

/// `nsecs` since boot as local time in `fmt` (strftime(3); `%f` is the microseconds).
fn local_time(fmt: &str, nsecs: u64) -> Vec<u8> {
    let (bs, bns) = boot_time();
    let total = i128::from(bs) * 1_000_000_000 + i128::from(bns) + i128::from(nsecs);
    let secs = (total / 1_000_000_000) as libc::time_t;
    let micros = (total % 1_000_000_000) / 1000;
    let fmt = fmt.replace("%f", &format!("{micros:06}"));
    let Ok(cfmt) = std::ffi::CString::new(fmt) else {
        return Vec::new();
    };
    // SAFETY: `tm` is plain data localtime_r fills; strftime writes at most `buf.len()` bytes
    // into `buf` and reads the NUL-terminated `cfmt`.
    unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&secs, &mut tm).is_null() {
            return Vec::new();
        }
        let mut buf = vec![0u8; 512];
        let n = libc::strftime(buf.as_mut_ptr().cast(), buf.len(), cfmt.as_ptr(), &tm);
        buf.truncate(n);
        buf
    }
}

/// strerror(3) of an errno.
fn errno_text(errno: i64) -> Vec<u8> {
    crate::output::os_error_text(&std::io::Error::from_raw_os_error(errno as i32)).into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_userspace_values() {
        assert_eq!(user_name(0), b"root");
        assert_eq!(errno_text(2), b"No such file or directory");
        let t = local_time("%Y|%f", 1_500);
        let text = String::from_utf8_lossy(&t);
        let (year, micros) = text.split_once('|').expect("two parts");
        assert_eq!((year.len(), micros.len()), (4, 6), "{text}");
        assert!(micros.bytes().all(|b| b.is_ascii_digit()));
    }
}
