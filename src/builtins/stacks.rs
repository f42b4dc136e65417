//! `kstack` and `ustack` (variables), `kstack(N)`, `kstack(perf)`, `ustack(perf, N)`, ...:
//! the kernel or user call stack, as `bpf_get_stackid` stores it in a stack map (one map per
//! frame limit). The value is the stack id (for ustack, with the thread id in the high 32 bits,
//! as bpftrace 0.17 keys them, so that userspace knows whose symbols to read); userspace looks
//! the frames up and names them when it prints them.

use super::api::*;
use crate::ast::ExprKind;
use crate::codegen::ir::{helper, AluOp, Base, Inst, MapId, Operand, Size};
use crate::output::value::Value;
use crate::sema::types::{Formatted, Type};
use crate::symbols::Resolver;
use std::sync::Arc;

/// Frames a stack keeps unless the script says (bpftrace 0.17's default).
const DEFAULT_LIMIT: u64 = 127;
/// The most frames a script may ask for (bpftrace 0.17's limit).
const MAX_LIMIT: u64 = 1024;
/// `bpf_get_stackid` flag: the user stack instead of the kernel's.
const BPF_F_USER_STACK: i32 = 1 << 8;
/// The stack id of a context without such a stack (a kernel stack in a uprobe): printed as
/// nothing, without an error.
const EFAULT_ID: i32 = -14;

const fn stack(name: &'static str, kind: Kind, user: bool) -> Builtin {
    Builtin {
        name,
        kind,
        args: if matches!(kind, Kind::Function) {
            (0, 2)
        } else {
            (0, 0)
        },
        check: if user { check_ustack } else { check_kstack },
        lower: Lower::Mem(if user { lower_ustack } else { lower_kstack }),
        format: Some(if user { format_ustack } else { format_kstack }),
        ..Builtin::PLAIN
    }
}

pub const ENTRIES: &[Builtin] = &[
    stack("kstack", Kind::Function, false),
    stack("ustack", Kind::Function, true),
    stack("kstack", Kind::Variable, false),
    stack("ustack", Kind::Variable, true),
];

fn check_kstack(cx: &mut dyn CheckCx, call: &Call<'_>) -> Checked {
    check(cx, call, "kstack")
}

fn check_ustack(cx: &mut dyn CheckCx, call: &Call<'_>) -> Checked {
    check(cx, call, "ustack")
}

/// How a stack is printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// `func+off` a line, indented.
    Bpftrace,
    /// `\tADDR func+off` (user stacks: ` (module)` too), as perf prints stacks.
    Perf,
}

fn check(cx: &mut dyn CheckCx, call: &Call<'_>, name: &'static str) -> Checked {
    let mut mode = Mode::Bpftrace;
    let mut limit = DEFAULT_LIMIT;
    let mode_of = |e: &crate::ast::Expr| match &e.kind {
        ExprKind::Builtin(m) if m == "perf" => Some(Mode::Perf),
        ExprKind::Builtin(m) if m == "bpftrace" => Some(Mode::Bpftrace),
        _ => None,
    };
    let limit_of = |cx: &mut dyn CheckCx, e: &crate::ast::Expr| -> Option<u64> {
        let v = cx.const_int(e);
        if v.is_none() {
            cx.error(
                e.span,
                format!("{name}: the limit must be an integer literal or a positional parameter"),
            );
        }
        v
    };
    match call.args {
        [] => {}
        [a] => match mode_of(a) {
            Some(m) => mode = m,
            None => limit = limit_of(cx, a).unwrap_or(DEFAULT_LIMIT),
        },
        [m, n] => {
            match mode_of(m) {
                Some(m) => mode = m,
                None => cx.error(
                    m.span,
                    format!("{name}: the stack mode is 'bpftrace' or 'perf', as in {name}(perf, 10)"),
                ),
            }
            limit = limit_of(cx, n).unwrap_or(DEFAULT_LIMIT);
        }
        _ => return Checked::Error,
    }
    if limit > MAX_LIMIT {
        cx.error(
            call.span,
            format!("{name}([int limit]): limit shouldn't exceed {MAX_LIMIT}, {limit} given"),
        );
        return Checked::Error;
    }
    if limit == 0 {
        cx.error(
            call.span,
            format!("{name}([int limit]): the limit must be at least 1"),
        );
        return Checked::Error;
    }
    let map = cx.stack_map(limit as u32);
    let mode_name = match mode {
        Mode::Bpftrace => "bpftrace",
        Mode::Perf => "perf",
    };
    // The function's entry prints the variable's values too: `kstack` and `kstack()` are
    // one type.
    let id = super::lookup(name, Kind::Function).map_or(call.id.0, |(id, _)| id.0);
    Checked::Call {
        ty: Type::Formatted(Formatted {
            builtin: id,
            name,
            size: 8,
            param: Some(Arc::from(format!("{mode_name} {limit}"))),
        }),
        args: Vec::new(),
        data: vec![u64::from(map)],
    }
}

fn lower_kstack(cx: &mut dyn LowerCx, call: &TCall<'_>, base: Base, off: i32, size: u32) {
    lower(cx, call, base, off, size, false);
}

fn lower_ustack(cx: &mut dyn LowerCx, call: &TCall<'_>, base: Base, off: i32, size: u32) {
    lower(cx, call, base, off, size, true);
}

/// `id = bpf_get_stackid(ctx, &stack_map, flags)`; for a user stack `id | tid << 32`.
fn lower(cx: &mut dyn LowerCx, call: &TCall<'_>, base: Base, off: i32, size: u32, user: bool) {
    let ctx = cx.ctx();
    let map = cx.reg();
    cx.emit(Inst::LdMapFd {
        dst: map,
        map: MapId(call.data[0] as u32),
    });
    let flags = if user { BPF_F_USER_STACK } else { 0 };
    let id = cx.call(
        helper::GET_STACKID,
        vec![Operand::Reg(ctx), Operand::Reg(map), Operand::Imm(flags)],
    );
    if user {
        let tid = cx.call(helper::GET_CURRENT_PID_TGID, vec![]);
        cx.emit(Inst::Alu64 {
            op: AluOp::Lsh,
            dst: tid,
            src: Operand::Imm(32),
        });
        cx.emit(Inst::Alu64 {
            op: AluOp::Or,
            dst: id,
            src: Operand::Reg(tid),
        });
    }
    cx.emit(Inst::Store {
        base,
        off: off as i16,
        src: Operand::Reg(id),
        size: Size::DW,
    });
    cx.zero(base, off + 8, size.saturating_sub(8));
}

/// The mode and limit a stack type's parameter holds (`"perf 127"`).
fn param(p: Option<&str>) -> (Mode, u32) {
    let (mode, limit) = p.and_then(|p| p.split_once(' ')).unwrap_or(("bpftrace", "127"));
    let mode = if mode == "perf" {
        Mode::Perf
    } else {
        Mode::Bpftrace
    };
    (mode, limit.parse().unwrap_or(DEFAULT_LIMIT as u32))
}

fn format_kstack(bytes: &[u8], p: Option<&str>, syms: &mut dyn Resolver) -> Value {
    let (mode, limit) = param(p);
    let (id, _) = split(bytes);
    let Some(frames) = frames(syms, limit, id, None) else {
        return Value::Str(Vec::new());
    };
    let lines = frames
        .iter()
        .map(|&addr| {
            let sym = match syms.kernel(addr) {
                Some((name, off)) => format!("{name}+{off}"),
                None => unresolved(addr),
            };
            match mode {
                Mode::Bpftrace => sym.into_bytes(),
                Mode::Perf => format!("\t{addr:x} {sym}").into_bytes(),
            }
        })
        .collect();
    Value::Stack {
        lines,
        indent: mode == Mode::Bpftrace,
    }
}

fn format_ustack(bytes: &[u8], p: Option<&str>, syms: &mut dyn Resolver) -> Value {
    let (mode, limit) = param(p);
    let (id, pid) = split(bytes);
    let Some(frames) = frames(syms, limit, id, Some(pid)) else {
        return Value::Str(Vec::new());
    };
    let lines = frames
        .iter()
        .map(|&addr| {
            let sym = syms.user(addr, pid);
            match (mode, sym) {
                (Mode::Bpftrace, Some(s)) => format!("{}+{}", s.name, s.offset),
                (Mode::Bpftrace, None) => unresolved(addr),
                (Mode::Perf, Some(s)) => {
                    format!("\t{addr:x} {}+{} ({})", s.name, s.offset, s.module)
                }
                (Mode::Perf, None) => format!("\t{addr:x} {} ([unknown])", unresolved(addr)),
            }
            .into_bytes()
        })
        .collect();
    Value::Stack {
        lines,
        indent: mode == Mode::Bpftrace,
    }
}

/// The stack id (low 32 bits) and thread id (high 32 bits) of a stack value.
fn split(bytes: &[u8]) -> (i32, u32) {
    let mut w = [0u8; 8];
    let n = bytes.len().min(8);
    w[..n].copy_from_slice(&bytes[..n]);
    let v = u64::from_le_bytes(w);
    (v as u32 as i32, (v >> 32) as u32)
}

/// The frames of a stack; `None` (and, but for a context without such a stack, an error on
/// stderr, as bpftrace 0.17 reports it) when the map has none: `bpf_get_stackid` failed
/// (another stack took its hash bucket, or the map was full).
fn frames(syms: &mut dyn Resolver, limit: u32, id: i32, pid: Option<u32>) -> Option<Vec<u64>> {
    let found = u32::try_from(id).ok().and_then(|id| syms.stack(limit, id));
    if found.is_none() && id != EFAULT_ID {
        let pid = pid.map_or(0, |p| p as i32);
        eprintln!("ERROR: failed to look up stack id {id} (pid {pid}): -2");
    }
    found
}

/// An address without a symbol, as bpftrace 0.17 prints it (C++'s `(void *)addr`: `0` for
/// zero, else `0x` and hex digits).
pub fn unresolved(addr: u64) -> String {
    if addr == 0 {
        "0".into()
    } else {
        format!("{addr:#x}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::symbols::UserSymbol;

    /// Two stacks: id 1 holds two kernel frames, id 2 two user frames.
    struct Fake;

    impl Resolver for Fake {
        fn stack(&mut self, limit: u32, id: u32) -> Option<Vec<u64>> {
            assert_eq!(limit, 127);
            match id {
                1 => Some(vec![0xffff_ffff_8100_0010, 0xffff_ffff_7000_0000]),
                2 => Some(vec![0x40_1000, 0x7f00_0000_0000]),
                _ => None,
            }
        }
        fn kernel(&mut self, addr: u64) -> Option<(String, u64)> {
            (addr >= 0xffff_ffff_8100_0000).then(|| ("vfs_read".into(), addr - 0xffff_ffff_8100_0000))
        }
        fn user(&mut self, addr: u64, pid: u32) -> Option<UserSymbol> {
            assert_eq!(pid, 42);
            (addr == 0x40_1000).then(|| UserSymbol {
                name: "main".into(),
                offset: 0,
                module: "/tmp/prog".into(),
            })
        }
    }

    fn text(v: &Value) -> String {
        crate::output::print::value_text(v)
    }

    #[test]
    fn kernel_stacks_print_in_both_modes() {
        let id = 1u64.to_le_bytes();
        let v = format_kstack(&id, Some("bpftrace 127"), &mut Fake);
        assert_eq!(text(&v), "\n        vfs_read+16\n        0xffffffff70000000\n");
        let v = format_kstack(&id, Some("perf 127"), &mut Fake);
        assert_eq!(
            text(&v),
            "\n\tffffffff81000010 vfs_read+16\n\tffffffff70000000 0xffffffff70000000\n"
        );
    }

    #[test]
    fn user_stacks_name_the_module_in_perf_mode() {
        let v = (2u64 | 42 << 32).to_le_bytes();
        assert_eq!(
            text(&format_ustack(&v, Some("bpftrace 127"), &mut Fake)),
            "\n        main+0\n        0x7f0000000000\n"
        );
        assert_eq!(
            text(&format_ustack(&v, Some("perf 127"), &mut Fake)),
            "\n\t401000 main+0 (/tmp/prog)\n\t7f0000000000 0x7f0000000000 ([unknown])\n"
        );
    }

    #[test]
    fn a_missing_stack_prints_nothing() {
        let efault = (EFAULT_ID as i64 as u64).to_le_bytes();
        assert_eq!(text(&format_kstack(&efault, None, &mut Fake)), "");
        assert_eq!(unresolved(0), "0");
        assert_eq!(unresolved(255), "0xff");
    }

    fn check_src(src: &str) -> Result<crate::sema::typed::Checked, String> {
        let source = crate::source::Source::new("t.bt", src.to_string());
        let prog = crate::parse::parse(&source).map_err(|d| format!("{d:?}"))?;
        crate::sema::check_with(
            &prog,
            &crate::sema::Env::default(),
            &crate::probes::catalogue::Fixture::new(),
        )
        .map_err(|d| format!("{d:?}"))
    }

    #[test]
    fn stack_types_and_maps() {
        let c = check_src(
            "BEGIN { @a[kstack] = count(); @b[kstack()] = count(); @c[ustack(perf, 5)] = count(); @a[kstack(bpftrace, 127)] = count(); }",
        )
        .expect("checks");
        let stacks: Vec<u32> = c
            .maps
            .iter()
            .filter(|m| m.def.kind == crate::sema::layout::MapKind::StackTrace)
            .map(|m| m.def.value_size / 8)
            .collect();
        assert_eq!(stacks, [127, 5]);
        let e = check_src("BEGIN { @[kstack(1025)] = count(); }").expect_err("too deep");
        assert!(e.contains("limit shouldn't exceed 1024, 1025 given"), "{e}");
        let e = check_src("BEGIN { @[kstack(fast, 3)] = count(); }").expect_err("bad mode");
        assert!(e.contains("'bpftrace' or 'perf'"), "{e}");
        // Different limits are different types.
        let e = check_src("BEGIN { @x = kstack(3); @x = kstack(4); }").expect_err("two types");
        assert!(e.contains("kstack"), "{e}");
    }
}
