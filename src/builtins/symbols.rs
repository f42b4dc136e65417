//! Symbols: `ksym(addr)` and `usym(addr)` name an address when userspace prints them (usym
//! keeps the process id beside it, to read that process's files), `func` is the probed
//! function (the kernel or user symbol of the probe's instruction pointer), and
//! `uaddr("name")` is the address of a data symbol of the uprobe's binary, resolved when the
//! script is compiled.

use super::api::*;
use super::stacks::unresolved;
use crate::ast::ExprKind;
use crate::codegen::ir::{helper, AluOp, Base, Inst, Operand, Size, VReg};
use crate::output::value::Value;
use crate::probes::{arch, Attach};
use crate::sema::typed::{CtxField, TExpr, TExprKind};
use crate::sema::types::{Formatted, Type};
use crate::symbols::Resolver;

/// kprobes and uprobes: their context is the traced task's registers.
const PT_REGS: ProbeRule = (
    |a| matches!(a, Attach::Kprobe { .. } | Attach::Uprobe { .. }),
    "kprobe and uprobe probes",
);

const UPROBES: ProbeRule = (|a| matches!(a, Attach::Uprobe { .. }), "uprobe probes");

pub const ENTRIES: &[Builtin] = &[
    Builtin {
        name: "ksym",
        args: (1, 1),
        check: |cx, call| address_arg(cx, call, "ksym"),
        lower: Lower::Mem(lower_ksym),
        format: Some(format_ksym),
        ..Builtin::PLAIN
    },
    Builtin {
        name: "usym",
        args: (1, 1),
        check: |cx, call| address_arg(cx, call, "usym"),
        lower: Lower::Mem(lower_usym),
        format: Some(format_usym),
        ..Builtin::PLAIN
    },
    Builtin {
        name: "func",
        kind: Kind::Variable,
        probes: Some(PT_REGS),
        check: check_func,
        lower: Lower::Mem(lower_func),
        ..Builtin::PLAIN
    },
    Builtin {
        name: "uaddr",
        args: (1, 1),
        probes: Some(UPROBES),
        check: check_uaddr,
        ..Builtin::PLAIN
    },
];

/// The type of `ksym(..)` or `usym(..)` values, printed by that function's entry.
fn symbol_type(name: &'static str) -> Type {
    let id = super::lookup(name, Kind::Function).map_or(0, |(id, _)| id.0);
    Type::Formatted(Formatted {
        builtin: id,
        name,
        size: if name == "usym" { 16 } else { 8 },
        param: None,
    })
}

/// `ksym(addr)`, `usym(addr)`: an integer or a pointer.
fn address_arg(cx: &mut dyn CheckCx, call: &Call<'_>, name: &'static str) -> Checked {
    let a = cx.expr(&call.args[0]);
    if !a.ty.is_int() {
        cx.error(
            a.span,
            format!("{name}() expects an integer or pointer argument, but this is a {}", a.ty),
        );
        return Checked::Error;
    }
    Checked::Call {
        ty: symbol_type(name),
        args: vec![a],
        data: Vec::new(),
    }
}

/// The instruction pointer's offset in the probe's `struct pt_regs`.
fn ip_offset() -> u32 {
    arch::register_offset("ip")
        .or_else(|| arch::register_offset("pc"))
        .unwrap_or(0)
}

/// `func`: the symbol of the instruction pointer, kernel or user by the probe.
fn check_func(cx: &mut dyn CheckCx, call: &Call<'_>) -> Checked {
    let (name, ip) = match cx.attach() {
        Attach::Uprobe { .. } => ("usym", ip_register(call)),
        _ => ("ksym", ip_register(call)),
    };
    Checked::Call {
        ty: symbol_type(name),
        args: vec![ip],
        data: Vec::new(),
    }
}

fn ip_register(call: &Call<'_>) -> TExpr {
    TExpr {
        kind: TExprKind::CtxField(CtxField::register(ip_offset())),
        ty: Type::U64,
        span: call.span,
    }
}

fn store(cx: &mut dyn LowerCx, v: VReg, base: Base, off: i32) {
    cx.emit(Inst::Store {
        base,
        off: off as i16,
        src: Operand::Reg(v),
        size: Size::DW,
    });
}

fn lower_ksym(cx: &mut dyn LowerCx, call: &TCall<'_>, base: Base, off: i32, size: u32) {
    let addr = cx.int(&call.args[0]);
    store(cx, addr, base, off);
    cx.zero(base, off + 8, size.saturating_sub(8));
}

/// The address, then the process id (`tgid`) whose files name it.
fn lower_usym(cx: &mut dyn LowerCx, call: &TCall<'_>, base: Base, off: i32, size: u32) {
    let addr = cx.int(&call.args[0]);
    store(cx, addr, base, off);
    let pid = cx.call(helper::GET_CURRENT_PID_TGID, vec![]);
    cx.emit(Inst::Alu64 {
        op: AluOp::Rsh,
        dst: pid,
        src: Operand::Imm(32),
    });
    store(cx, pid, base, off + 8);
    cx.zero(base, off + 16, size.saturating_sub(16));
}

fn lower_func(cx: &mut dyn LowerCx, call: &TCall<'_>, base: Base, off: i32, size: u32) {
    match call.ty {
        Type::Formatted(f) if f.name == "usym" => lower_usym(cx, call, base, off, size),
        _ => lower_ksym(cx, call, base, off, size),
    }
}

fn word(bytes: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    if let Some(src) = bytes.get(at..at + 8) {
        w.copy_from_slice(src);
    }
    u64::from_le_bytes(w)
}

fn format_ksym(bytes: &[u8], _: Option<&str>, syms: &mut dyn Resolver) -> Value {
    let addr = word(bytes, 0);
    Value::Str(
        syms.kernel(addr)
            .map_or_else(|| unresolved(addr), |(name, _)| name)
            .into_bytes(),
    )
}

fn format_usym(bytes: &[u8], _: Option<&str>, syms: &mut dyn Resolver) -> Value {
    let addr = word(bytes, 0);
    let pid = word(bytes, 8) as u32;
    Value::Str(
        syms.user(addr, pid)
            .map_or_else(|| unresolved(addr), |s| s.name)
            .into_bytes(),
    )
}

/// `uaddr("name")`: the symbol's address in the probe's binary, a pointer to an integer of
/// the symbol's size (1, 2, 4 bytes; 8 otherwise), as bpftrace 0.17 types it.
fn check_uaddr(cx: &mut dyn CheckCx, call: &Call<'_>) -> Checked {
    let arg = &call.args[0];
    let ExprKind::Str(name) = &arg.kind else {
        cx.error(
            arg.span,
            "uaddr() takes a symbol name as a string literal, as in uaddr(\"counter\")".into(),
        );
        return Checked::Error;
    };
    let name = String::from_utf8_lossy(name).into_owned();
    let valid = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"./_-".contains(&b));
    if !valid {
        cx.error(
            arg.span,
            format!(
                "uaddr() expects a string that is a valid symbol (^[a-zA-Z0-9./_-]+$) as input (\"{name}\" provided)"
            ),
        );
        return Checked::Error;
    }
    let Attach::Uprobe { path, .. } = cx.attach().clone() else {
        return Checked::Error;
    };
    let (addr, size) = match cx.user_object(&path, &name) {
        Ok(Some(found)) => found,
        Ok(None) => {
            cx.error(
                call.span,
                format!("Could not resolve symbol: {path}:{name}"),
            );
            return Checked::Error;
        }
        Err(e) => {
            cx.error(call.span, e);
            return Checked::Error;
        }
    };
    let pointee = match size {
        1 | 2 | 4 => size as u8,
        _ => 8,
    };
    Checked::Expr(TExpr {
        kind: TExprKind::Int(addr as i64),
        ty: Type::Ptr {
            user: true,
            to: Some(Box::new(Type::Int {
                size: pointee,
                signed: true,
            })),
        },
        span: call.span,
    })
}

#[cfg(test)]
mod tests {
    use crate::probes::catalogue::Fixture;

    fn check_src(src: &str, fixture: &Fixture) -> Result<crate::sema::typed::Checked, String> {
        let source = crate::source::Source::new("t.bt", src.to_string());
        let prog = crate::parse::parse(&source).map_err(|d| format!("{d:?}"))?;
        crate::sema::check_with(&prog, &crate::sema::Env::default(), fixture)
            .map_err(|d| format!("{d:?}"))
    }

    fn fixture() -> Fixture {
        Fixture::new()
            .binary("/bin/prog", &["main"])
            .object("/bin/prog", "counter", 0x4010, 4)
            .object("/bin/prog", "table", 0x4020, 32)
            .tracepoint("sched", "sched_switch", "format:\n")
    }

    #[test]
    fn uaddr_is_a_typed_user_pointer() {
        let c = check_src(
            "uprobe:/bin/prog:main { @a = *uaddr(\"counter\"); @b = uaddr(\"table\"); }",
            &fixture(),
        )
        .expect("checks");
        let text = format!("{:?}", c.probes[0].body);
        assert!(text.contains("16400"), "{text}");
        let e = check_src("uprobe:/bin/prog:main { @ = uaddr(\"nope\"); }", &fixture())
            .expect_err("unknown symbol");
        assert!(e.contains("Could not resolve symbol: /bin/prog:nope"), "{e}");
        let e = check_src("uprobe:/bin/prog:main { @ = uaddr(\"a b\"); }", &fixture())
            .expect_err("bad name");
        assert!(e.contains("valid symbol"), "{e}");
        let e = check_src("BEGIN { @ = uaddr(\"counter\"); }", &fixture()).expect_err("BEGIN");
        assert!(e.contains("uprobe probes"), "{e}");
    }

    #[test]
    fn func_is_a_symbol_of_the_probe() {
        check_src("uprobe:/bin/prog:main { @[func] = count(); }", &fixture()).expect("checks");
        let e = check_src("tracepoint:sched:sched_switch { @[func] = count(); }", &fixture())
            .expect_err("tracepoint");
        assert!(e.contains("kprobe and uprobe probes"), "{e}");
        let e = check_src("BEGIN { @ = ksym(\"x\"); }", &fixture()).expect_err("a string");
        assert!(e.contains("integer or pointer"), "{e}");
        check_src("BEGIN { @a = ksym(1); @b = usym(2); printf(\"%s %s\\n\", @a, @b); }", &fixture())
            .expect("checks");
    }
}
