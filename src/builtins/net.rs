//! Network addresses printed by userspace: `ntop([AF,] ADDR)` (an IPv4 or IPv6 address from an
//! integer or a 4- or 16-byte array) and `macaddr(ADDR)` (6 bytes, `AA:BB:CC:DD:EE:FF`).

use super::api::*;
use crate::output::value::Value;
use crate::codegen::ir::{Base, Inst, Operand, Size};
use crate::sema::types::{Formatted, Type};
use std::net::{Ipv4Addr, Ipv6Addr};

/// Address families, as the kernel numbers them.
const AF_INET: u64 = 2;
const AF_INET6: u64 = 10;

pub const ENTRIES: &[Builtin] = &[
    Builtin {
        name: "pton",
        args: (1, 1),
        check: check_pton,
        ..Builtin::PLAIN
    },
    Builtin {
        name: "ntop",
        args: (1, 2),
        check: check_ntop,
        lower: Lower::Mem(lower_ntop),
        format: Some(|bytes, _, _| Value::Str(format_ntop(bytes))),
        ..Builtin::PLAIN
    },
    Builtin {
        name: "macaddr",
        args: (1, 1),
        check: check_macaddr,
        lower: Lower::Mem(|cx, call, base, off, size| {
            cx.zero(base, off, size);
            cx.mem_into(&call.args[0], base, off, 8);
        }),
        format: Some(|bytes, _, _| Value::Str(format_mac(bytes))),
        ..Builtin::PLAIN
    },
];

fn formatted(call: &Call<'_>, name: &'static str, size: u32) -> Type {
    Type::Formatted(Formatted {
        builtin: call.id.0,
        name,
        size,
        param: None,
    })
}

/// The bytes of an address argument: an array of `n` one-byte integers (a `char[n]` reads as a
/// string of `n` bytes).
fn byte_array(ty: &Type) -> Option<u32> {
    match ty {
        Type::Array { elem, len } if elem.c_size() == 1 => Some(*len),
        Type::Str { size } => Some(*size),
        _ => None,
    }
}

/// The value is `u64 family` then 16 address bytes; `data[0]` is the family when it is known
/// at compile time (0 when the first argument gives it), `data[1]` 1 for an integer address.
fn check_ntop(cx: &mut dyn CheckCx, call: &Call<'_>) -> Checked {
    let mut args = Vec::new();
    let addr_arg = if call.args.len() == 2 {
        let af = cx.expr(&call.args[0]);
        if !af.ty.is_int() {
            cx.error(
                af.span,
                format!("ntop()'s address family must be an integer, but this is a {}", af.ty),
            );
            return Checked::Error;
        }
        args.push(af);
        &call.args[1]
    } else {
        &call.args[0]
    };
    let addr = cx.expr(addr_arg);
    let (family, int) = match (byte_array(&addr.ty), &addr.ty) {
        (Some(4), _) => (AF_INET, 0),
        (Some(16), _) => (AF_INET6, 0),
        (None, t) if t.is_int() => (AF_INET, 1),
        _ => {
            cx.error(
                addr.span,
                format!(
                    "ntop() expects an integer or a 4- or 16-byte array, but this is a {}",
                    addr.ty
                ),
            );
            return Checked::Error;
        }
    };
    let family = if args.is_empty() { family } else { 0 };
    args.push(addr);
    Checked::Call {
        ty: formatted(call, "inet", 24),
        args,
        data: vec![family, int],
    }
}

fn lower_ntop(cx: &mut dyn LowerCx, call: &TCall<'_>, base: Base, off: i32, size: u32) {
    cx.zero(base, off, size);
    let af = match call.data[0] {
        0 => cx.operand(&call.args[0]),
        family => Operand::Imm(family as i32),
    };
    cx.emit(Inst::Store {
        base,
        off: off as i16,
        src: af,
        size: Size::DW,
    });
    let Some(addr) = call.args.last() else {
        return;
    };
    if call.data[1] == 1 {
        // An integer holds an IPv4 address as it lies in memory (network byte order).
        let v = cx.operand(addr);
        cx.emit(Inst::Store {
            base,
            off: (off + 8) as i16,
            src: v,
            size: Size::W,
        });
    } else {
        cx.mem_into(addr, base, off + 8, 16);
    }
}

/// `pton("127.0.0.1")`, `pton("::1")`: the address's bytes (4 or 16), known at compile time.
fn check_pton(cx: &mut dyn CheckCx, call: &Call<'_>) -> Checked {
    let arg = &call.args[0];
    let crate::ast::ExprKind::Str(text) = &arg.kind else {
        cx.error(
            arg.span,
            "pton() takes an address as a string literal, as in pton(\"127.0.0.1\")".into(),
        );
        return Checked::Error;
    };
    let text = String::from_utf8_lossy(text);
    let bytes: Vec<u8> = if let Ok(a) = text.parse::<Ipv4Addr>() {
        a.octets().to_vec()
    } else if let Ok(a) = text.parse::<Ipv6Addr>() {
        a.octets().to_vec()
    } else {
        cx.error(arg.span, format!("'{text}' is not an IPv4 or IPv6 address"));
        return Checked::Error;
    };
    let len = bytes.len() as u32;
    Checked::Expr(crate::sema::typed::TExpr {
        kind: crate::sema::typed::TExprKind::Str(bytes),
        ty: Type::Array {
            elem: Box::new(Type::Int {
                size: 1,
                signed: false,
            }),
            len,
        },
        span: call.span,
    })
}

fn format_ntop(bytes: &[u8]) -> Vec<u8> {
    let family = bytes
        .get(..8)
        .map_or(0, |b| u64::from_le_bytes(b.try_into().unwrap_or([0; 8])));
    let addr = bytes.get(8..).unwrap_or(&[]);
    let text = match family {
        AF_INET6 => {
            let mut a = [0u8; 16];
            let n = addr.len().min(16);
            a[..n].copy_from_slice(&addr[..n]);
            Ipv6Addr::from(a).to_string()
        }
        _ => {
            let mut a = [0u8; 4];
            let n = addr.len().min(4);
            a[..n].copy_from_slice(&addr[..n]);
            Ipv4Addr::from(a).to_string()
        }
    };
    text.into_bytes()
}

/// macaddr's argument: a 6-byte array (as `char addr[6]` reads, a string of 6 is one too).
fn check_macaddr(cx: &mut dyn CheckCx, call: &Call<'_>) -> Checked {
    let a = cx.expr(&call.args[0]);
    if byte_array(&a.ty) != Some(6) {
        cx.error(
            a.span,
            format!("macaddr() expects a 6-byte array, but this is a {}", a.ty),
        );
        return Checked::Error;
    }
    Checked::Call {
        ty: formatted(call, "mac_address", 6),
        args: vec![a],
        data: Vec::new(),
    }
}

fn format_mac(bytes: &[u8]) -> Vec<u8> {
    bytes
        .iter()
        .take(6)
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
        .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_print_as_inet_ntop_does() {
        let mut v4 = AF_INET.to_le_bytes().to_vec();
        v4.extend_from_slice(&[127, 0, 0, 1]);
        assert_eq!(format_ntop(&v4), b"127.0.0.1");
        let mut v6 = AF_INET6.to_le_bytes().to_vec();
        v6.extend_from_slice(&[0; 15]);
        v6.push(1);
        assert_eq!(format_ntop(&v6), b"::1");
        assert_eq!(format_mac(&[0x80, 0xb2, 0xe6, 0x0e, 0, 1]), b"80:B2:E6:0E:00:01");
    }
}
