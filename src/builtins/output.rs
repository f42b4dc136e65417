//! Actions that send a record to userspace: `printf`, `system`, and `print`, `clear`, `zero`
//! of a whole map (done when userspace reads the event, as in bpftrace).

use super::api::*;
use crate::ast::ExprKind;
use crate::output::printf::{self as fmt, ArgKind, ArgType};
use crate::output::value::AggKind;
use crate::sema::typed::{event, MapValueType, TExpr};
use crate::output::value::Value;
use crate::sema::types::Type;

/// An action that returns nothing, valid in every probe.
const fn action(
    name: &'static str,
    args: (usize, usize),
    needs_unsafe: Option<&'static str>,
    check: fn(&mut dyn CheckCx, &Call<'_>) -> Checked,
    lower: fn(&mut dyn LowerCx, &TCall<'_>),
) -> Builtin {
    Builtin {
        name,
        args,
        needs_unsafe,
        check,
        lower: Lower::Stmt(lower),
        ..Builtin::PLAIN
    }
}

pub const ENTRIES: &[Builtin] = &[
    action(
        "printf",
        (1, 1 + MAX_ARGS),
        None,
        |cx, call| formatted(cx, call, event::PRINTF),
        send_record,
    ),
    action(
        "system",
        (1, 1 + MAX_ARGS),
        Some("runs a command on this machine"),
        |cx, call| formatted(cx, call, event::SYSTEM),
        send_record,
    ),
    Builtin {
        name: "print",
        args: (1, 3),
        check: check_print,
        lower: Lower::Stmt(|cx, call| match call.data[0] as u32 {
            event::CALL => cx.format_record(call.data[1] as u32, call.args),
            kind => cx.event(kind, call.data[1] as u32),
        }),
        event: Some(|e| match e.args.first() {
            Some(v) => Message::Value(v.clone()),
            None => Message::Value(Value::Tuple(Vec::new())),
        }),
        ..Builtin::PLAIN
    },
    action(
        "clear",
        (1, 1),
        None,
        |cx, call| map_event(cx, call, event::CLEAR_MAP),
        send_map_event,
    ),
    action(
        "zero",
        (1, 1),
        None,
        |cx, call| map_event(cx, call, event::ZERO_MAP),
        send_map_event,
    ),
];

/// The most arguments after a format string (bpftrace's limit is far lower in practice).
const MAX_ARGS: usize = 64;

/// printf and system: the format string stays in userspace; `data[0]` is the record's id.
/// Conversions are checked against the argument types here, not at the first event.
fn formatted(cx: &mut dyn CheckCx, call: &Call<'_>, kind: u32) -> Checked {
    let Some((format, args)) = format_args(cx, call) else {
        return Checked::Error;
    };
    let id = cx.format_record(kind, format, &args);
    Checked::action(args, vec![id as u64])
}

/// A printf-style call's format string (a literal) and its checked arguments; conversions
/// are checked against the argument types.
pub(super) fn format_args(cx: &mut dyn CheckCx, call: &Call<'_>) -> Option<(String, Vec<TExpr>)> {
    let func = call.name.name.as_str();
    let first = &call.args[0];
    let ExprKind::Str(text) = &first.kind else {
        cx.error(
            first.span,
            format!("{func}()'s first argument must be a string literal"),
        );
        return None;
    };
    let format = String::from_utf8_lossy(text).into_owned();
    let args: Vec<TExpr> = call.args[1..].iter().map(|a| cx.expr(a)).collect();
    match fmt::parse(&format) {
        Err(msg) => cx.error(first.span, format!("{func}: {msg}")),
        Ok(specs) => {
            let names: Vec<String> = args.iter().map(|a| a.ty.to_string()).collect();
            let types: Vec<ArgType> = args
                .iter()
                .zip(&names)
                .map(|(a, name)| match a.ty {
                    _ if a.ty.is_int() => ArgType::Integer,
                    Type::Str { .. } | Type::Formatted(_) => ArgType::String,
                    _ => ArgType::Other(name),
                })
                .collect();
            if let Err(msg) = fmt::check(func, &specs, &types) {
                // A wrong count is shown on the call, a wrong type on the argument.
                let wrong_type = specs.iter().zip(&types).position(|(s, t)| {
                    let want = match s.kind {
                        ArgKind::Str => ArgType::String,
                        ArgKind::Int | ArgKind::Char => ArgType::Integer,
                    };
                    *t != want
                });
                let span = match wrong_type {
                    Some(i) if specs.len() == args.len() => args[i].span,
                    _ => call.span,
                };
                cx.error(span, msg);
            }
        }
    }
    Some((format, args))
}

fn send_record(cx: &mut dyn LowerCx, call: &TCall<'_>) {
    cx.format_record(call.data[0] as u32, call.args);
}

/// print(@m) prints a whole map when userspace reads the event; print(value) sends the value
/// in a record (`data` = [event::CALL, its id]).
fn check_print(cx: &mut dyn CheckCx, call: &Call<'_>) -> Checked {
    let arg = &call.args[0];
    match &arg.kind {
        ExprKind::Map(m) if m.keys.is_empty() && call.args.len() > 1 => {
            // print(@m, top[, div]): constants, as in bpftrace.
            let mut nums = [0u64, 1];
            for (i, a) in call.args[1..].iter().enumerate() {
                match cx.const_int(a) {
                    Some(v) => nums[i] = v,
                    None => {
                        cx.error(
                            a.span,
                            "print()'s top and divisor must be integer constants".into(),
                        );
                        return Checked::Error;
                    }
                }
            }
            let map = cx.whole_map(m);
            if let Some(MapValueType::Agg {
                kind: AggKind::Stats,
                ..
            }) = cx.map_value(map)
            {
                cx.warn(
                    call.span,
                    "print()'s top and div arguments are ignored when used on stats() maps."
                        .into(),
                );
            }
            warn_in_loop(cx, call);
            let id = cx.map_print_record(map, nums[0], nums[1].max(1));
            Checked::action(Vec::new(), vec![u64::from(event::PRINT_MAP_TOP), u64::from(id)])
        }
        ExprKind::Map(m) if m.keys.is_empty() => {
            warn_in_loop(cx, call);
            map_event(cx, call, event::PRINT_MAP)
        }
        ExprKind::Map(_) => {
            cx.error(
                arg.span,
                "The map passed to print() should not be indexed by a key".into(),
            );
            Checked::Error
        }
        _ if call.args.len() > 1 => {
            cx.error(
                call.args[1].span,
                "only a map is printed with a top and a divisor, as in print(@m, 10, 1000)"
                    .into(),
            );
            Checked::Error
        }
        _ => {
            let v = cx.expr(arg);
            if v.ty == Type::Void {
                cx.error(v.span, "print() needs a value, and this returns none".into());
                return Checked::Error;
            }
            let id = cx.call_record(call.id, String::new(), std::slice::from_ref(&v));
            Checked::action(vec![v], vec![u64::from(event::CALL), u64::from(id)])
        }
    }
}

/// bpftrace's warning for a map printed in a loop: the printing happens later, in user space.
/// (A value printed is copied into its event, so rtrace warns only for maps.)
fn warn_in_loop(cx: &mut dyn CheckCx, call: &Call<'_>) {
    if cx.in_loop() {
        cx.warn(
            call.span,
            "Due to it's asynchronous nature using 'print()' in a loop can lead to unexpected \
             behavior. The map will likely be updated before the runtime can 'print' it."
                .into(),
        );
    }
}

/// print/clear/zero take a whole map: `data` is the event kind and the map's index.
fn map_event(cx: &mut dyn CheckCx, call: &Call<'_>, kind: u32) -> Checked {
    let arg = &call.args[0];
    match &arg.kind {
        ExprKind::Map(m) if m.keys.is_empty() => {
            let map = cx.whole_map(m);
            Checked::action(Vec::new(), vec![kind as u64, map as u64])
        }
        _ => {
            let msg = "expects a whole map, as in clear(@m)";
            cx.error(arg.span, format!("{}: {msg}", call.name.name));
            Checked::Error
        }
    }
}

fn send_map_event(cx: &mut dyn LowerCx, call: &TCall<'_>) {
    cx.event(call.data[0] as u32, call.data[1] as u32);
}
