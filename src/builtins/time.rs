//! `time(FORMAT)`: prints the local time, formatted by strftime(3), when userspace reads the
//! event (`%H:%M:%S\n` by default), as bpftrace 0.17 does.

use super::api::*;
use crate::ast::ExprKind;
use crate::sema::typed::event;

pub const ENTRIES: &[Builtin] = &[Builtin {
    name: "time",
    args: (0, 1),
    check,
    lower: Lower::Stmt(|cx, call| cx.event(event::CALL, call.data[0] as u32)),
    event: Some(print_time),
    ..Builtin::PLAIN
}];

/// bpftrace's default format.
const DEFAULT_FORMAT: &str = "%H:%M:%S\n";

/// The format is a string literal; `data[0]` is the record's id.
fn check(cx: &mut dyn CheckCx, call: &Call<'_>) -> Checked {
    let format = match call.args.first() {
        None => DEFAULT_FORMAT.to_string(),
        Some(a) => match &a.kind {
            ExprKind::Str(bytes) if !bytes.contains(&0) => {
                String::from_utf8_lossy(bytes).into_owned()
            }
            _ => {
                cx.error(
                    a.span,
                    "time()'s format must be a string literal, as in time(\"%H:%M:%S\\n\")".into(),
                );
                return Checked::Error;
            }
        },
    };
    let id = cx.call_record(call.id, format, &[]);
    Checked::action(Vec::new(), vec![u64::from(id)])
}

fn print_time(e: &Event<'_>) -> Message {
    Message::Text {
        kind: "time",
        text: local_time(e.param, now()),
        newline: false,
    }
}

fn now() -> libc::time_t {
    // SAFETY: time() with a null pointer only returns the current time.
    unsafe { libc::time(std::ptr::null_mut()) }
}

/// `t` as local time, formatted by strftime(3); empty when it does not fit 1 KiB.
fn local_time(format: &str, t: libc::time_t) -> Vec<u8> {
    let Ok(fmt) = std::ffi::CString::new(format) else {
        return Vec::new();
    };
    // SAFETY: `tm` is plain data that localtime_r fills; strftime writes at most `buf.len()`
    // bytes into `buf` and reads the NUL-terminated `fmt`.
    unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&t, &mut tm).is_null() {
            return Vec::new();
        }
        let mut buf = vec![0u8; 1024];
        let n = libc::strftime(buf.as_mut_ptr().cast(), buf.len(), fmt.as_ptr(), &tm);
        buf.truncate(n);
        buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_with_strftime() {
        // 2001-09-09 01:46:40 UTC; the hour depends on the zone, the rest does not.
        let text = local_time("%Y-%m %M:%S|%%\n", 1_000_000_000);
        assert_eq!(String::from_utf8_lossy(&text), "2001-09 46:40|%\n");
        assert_eq!(local_time("", 0), b"");
    }
}
