//! `debugf(fmt, args...)`: `bpf_trace_printk`, as bpftrace 0.17 has it: the kernel formats the
//! line into its trace buffer (`/sys/kernel/debug/tracing/trace`), nothing reaches rtrace's
//! output. The format is checked like printf's; strings are passed by address.

use super::api::*;
use super::output::format_args;
use crate::codegen::ir::{helper, Base, Inst, Operand, Size};

pub const ENTRIES: &[Builtin] = &[Builtin {
    name: "debugf",
    // bpf_trace_printk takes the format, its size and at most three values.
    args: (1, 1 + MAX_VALUES),
    check,
    lower: Lower::Stmt(lower),
    ..Builtin::PLAIN
}];

/// The most values after the format: bpf_trace_printk's five arguments less two.
const MAX_VALUES: usize = 3;

/// `data` holds the format's length, then its bytes, eight to a word.
fn check(cx: &mut dyn CheckCx, call: &Call<'_>) -> Checked {
    let Some((format, args)) = format_args(cx, call) else {
        return Checked::Error;
    };
    cx.warn(
        call.span,
        "The debugf() builtin is not recommended for production use. For more information see \
         bpf_trace_printk in bpf-helpers(7)."
            .into(),
    );
    let bytes = format.into_bytes();
    let mut data = vec![bytes.len() as u64];
    data.extend(bytes.chunks(8).map(|c| {
        let mut w = [0u8; 8];
        w[..c.len()].copy_from_slice(c);
        u64::from_le_bytes(w)
    }));
    Checked::action(args, data)
}

fn lower(cx: &mut dyn LowerCx, call: &TCall<'_>) {
    let len = call.data.first().copied().unwrap_or(0) as u32;
    // The format with its NUL, on the stack (the helper wants readable memory and its size).
    let size = (len + 1).div_ceil(8) * 8;
    let fmt = cx.slot(size);
    cx.zero(Base::Slot(fmt), 0, size);
    for (i, w) in call.data.iter().skip(1).enumerate() {
        let r = cx.reg();
        cx.mov_imm(r, *w as i64);
        cx.emit(Inst::Store {
            base: Base::Slot(fmt),
            off: 8 * i as i16,
            src: Operand::Reg(r),
            size: Size::DW,
        });
    }
    let mut args = vec![
        Operand::Reg(cx.addr(Base::Slot(fmt), 0)),
        Operand::Imm(len as i32 + 1),
    ];
    for a in call.args {
        if a.ty.is_int() {
            args.push(Operand::Reg(cx.int(a)));
        } else {
            // A string (or other value in memory) is passed by its address, for `%s`.
            let n = a.ty.layout_size().max(8);
            let s = cx.slot(n);
            cx.mem_into(a, Base::Slot(s), 0, n);
            args.push(Operand::Reg(cx.addr(Base::Slot(s), 0)));
        }
    }
    cx.call_void(helper::TRACE_PRINTK, args);
}

#[cfg(test)]
mod tests {
    use crate::probes::catalogue::Fixture;
    use crate::sema;
    use crate::source::Source;

    fn check(text: &str) -> Result<(), String> {
        let src = Source::new("t.bt", text);
        let prog = crate::parse::parse(&src).map_err(|d| d[0].message.clone())?;
        sema::check_with(&prog, &sema::Env::default(), &Fixture::default())
            .map(drop)
            .map_err(|d| d[0].message.clone())
    }

    #[test]
    fn formats_are_checked_and_values_limited_to_three() {
        assert_eq!(
            check(r#"BEGIN { debugf("x %s %d %x", "a", 1, 16); }"#),
            Ok(())
        );
        assert!(check(r#"BEGIN { debugf("%d", "a"); }"#).is_err());
        assert!(check(r#"BEGIN { debugf("%d %d %d %d", 1, 2, 3, 4); }"#).is_err());
        assert!(check(r#"BEGIN { $f = "x"; debugf($f); }"#).is_err());
    }
}
