//! Helpers the kernel allows only in some probes: `path(p)` (`bpf_d_path`: the full path of a
//! `struct path *`, in kfunc/kretfunc and iter probes, where the kernel allows the helper) and
//! `override(rc)` (`bpf_override_return`: the probed function returns `rc` without running,
//! in kprobes, with --unsafe). Elsewhere each is a clear error on its span; a kernel without
//! kprobes or fentry fails at load or attach with the kernel's reason.

use super::api::*;
use crate::codegen::ir::{helper, Base, Operand};
use crate::probes::Attach;
use crate::sema::types::Type;

pub const ENTRIES: &[Builtin] = &[
    Builtin {
        name: "path",
        args: (1, 1),
        probes: Some((
            |a| matches!(a, Attach::Fentry { .. } | Attach::Iter { .. }),
            "kfunc, kretfunc and iter probes (the kernel allows bpf_d_path only there)",
        )),
        check: check_path,
        lower: Lower::Mem(lower_path),
        ..Builtin::PLAIN
    },
    Builtin {
        name: "override",
        args: (1, 1),
        needs_unsafe: Some("changes what a kernel function returns"),
        probes: Some((
            |a| matches!(a, Attach::Kprobe { ret: false, .. }),
            "kprobe probes",
        )),
        check: check_override,
        lower: Lower::Stmt(|cx, call| {
            let ctx = cx.ctx();
            let rc = cx.operand(&call.args[0]);
            cx.call_void(helper::OVERRIDE_RETURN, vec![Operand::Reg(ctx), rc]);
        }),
        ..Builtin::PLAIN
    },
];

fn check_path(cx: &mut dyn CheckCx, call: &Call<'_>) -> Checked {
    let p = cx.expr(&call.args[0]);
    if !p.ty.is_int() {
        cx.error(
            p.span,
            format!(
                "path() expects a pointer to a struct path, but this is a {}",
                p.ty
            ),
        );
        return Checked::Error;
    }
    Checked::Call {
        ty: Type::Str { size: cx.strlen() },
        args: vec![p],
        data: Vec::new(),
    }
}

fn lower_path(cx: &mut dyn LowerCx, call: &TCall<'_>, base: Base, off: i32, size: u32) {
    cx.zero(base, off, size);
    let p = cx.operand(&call.args[0]);
    let buf = cx.addr(base, off);
    let cap = call.ty.c_size().min(size) as i32;
    cx.call_void(helper::D_PATH, vec![p, Operand::Reg(buf), Operand::Imm(cap)]);
}

fn check_override(cx: &mut dyn CheckCx, call: &Call<'_>) -> Checked {
    let rc = cx.expr(&call.args[0]);
    if !rc.ty.is_int() {
        cx.error(
            rc.span,
            format!("override() expects an integer, but this is a {}", rc.ty),
        );
        return Checked::Error;
    }
    Checked::action(vec![rc], Vec::new())
}

#[cfg(test)]
mod tests {
    use crate::probes::catalogue::Fixture;
    use crate::sema;
    use crate::source::Source;

    fn check(text: &str, unsafe_actions: bool) -> Result<(), String> {
        let src = Source::new("t.bt", text);
        let prog = crate::parse::parse(&src).map_err(|d| d[0].message.clone())?;
        let env = sema::Env {
            unsafe_actions,
            ..sema::Env::default()
        };
        sema::check_with(&prog, &env, &Fixture::default())
            .map(drop)
            .map_err(|d| d[0].message.clone())
    }

    #[test]
    fn path_and_override_are_errors_outside_their_probes() {
        let e = check("BEGIN { printf(\"%s\\n\", path(0)); }", false).unwrap_err();
        assert!(e.starts_with("path() is only available in kfunc"), "{e}");
        let e = check("BEGIN { override(-1); }", true).unwrap_err();
        assert_eq!(e, "override() is only available in kprobe probes");
        let e = check("BEGIN { override(-1); }", false).unwrap_err();
        assert!(e.contains("--unsafe"), "{e}");
    }
}
