//! The builtin registry: one entry per builtin variable and function (type rule and lowering
//! together, see `api.rs`), found by name by sema and by id by codegen; casts and constants.

mod api;

pub use api::*;

use crate::ast::TypeName;
use crate::output::value::AggKind;
use crate::sema::typed::{BuiltinId, MapValueType};
use crate::sema::types::Type;
use std::sync::OnceLock;

// Every file of this folder but mod.rs and api.rs is a builtin entry file defining
// `pub const ENTRIES: &[Builtin]`; build.rs lists them in FAMILIES.
include!(concat!(env!("OUT_DIR"), "/builtin_entries.rs"));

/// Every builtin, in a fixed order (entry files by name, entries as written): a `BuiltinId`
/// is an index into it.
fn registry() -> &'static [&'static Builtin] {
    static ALL: OnceLock<Vec<&'static Builtin>> = OnceLock::new();
    ALL.get_or_init(|| FAMILIES.iter().flat_map(|f| f.iter()).collect())
}

/// The builtin a checked call names.
pub fn get(id: BuiltinId) -> &'static Builtin {
    registry()[id.0 as usize]
}

/// The builtin of this name and kind.
pub fn lookup(name: &str, kind: Kind) -> Option<(BuiltinId, &'static Builtin)> {
    registry()
        .iter()
        .position(|b| b.name == name && b.kind == kind)
        .map(|i| (BuiltinId(i as u16), registry()[i]))
}

/// Every builtin of a kind, for suggestions and listings.
pub fn all(kind: Kind) -> impl Iterator<Item = &'static Builtin> {
    registry().iter().copied().filter(move |b| b.kind == kind)
}

/// Builtin variables of bpftrace 0.17 that rtrace does not offer yet (they get "not supported
/// yet" rather than "unknown identifier").
const PLANNED_VARIABLES: &[&str] = &["arg6", "arg7", "arg8", "arg9"];

/// Functions of bpftrace 0.17 that rtrace does not offer yet.
const PLANNED_FUNCTIONS: &[&str] = &[
    "path",
    "skboutput",
    "len",
    "percpu_kaddr",
    "override",
    "unwatch",
];

/// A bpftrace variable rtrace knows of (offered or planned).
pub fn is_known_variable(name: &str) -> bool {
    PLANNED_VARIABLES.contains(&name) || lookup(name, Kind::Variable).is_some()
}

/// Any bpftrace function rtrace knows of: offered, planned, or a map function.
pub fn is_function(name: &str) -> bool {
    PLANNED_FUNCTIONS.contains(&name)
        || lookup(name, Kind::Function).is_some()
        || lookup(name, Kind::MapFunction).is_some()
}

/// How a map whose values a map function makes is stored (`None` for plain values).
pub fn map_storage(value: &MapValueType, keyless: bool) -> Option<Storage> {
    let name = match value {
        MapValueType::Plain(_) => return None,
        MapValueType::Agg { kind, .. } => agg_name(*kind),
        MapValueType::Hist => "hist",
        MapValueType::Lhist { .. } => "lhist",
    };
    let (_, b) = lookup(name, Kind::MapFunction)?;
    Some((b.map?.storage)(value, keyless))
}

/// The map function that makes values of this kind.
pub fn agg_name(kind: AggKind) -> &'static str {
    match kind {
        AggKind::Plain => "a value",
        AggKind::Count => "count",
        AggKind::Sum => "sum",
        AggKind::Min => "min",
        AggKind::Max => "max",
        AggKind::Avg => "avg",
        AggKind::Stats => "stats",
        AggKind::Hist => "hist",
        AggKind::Lhist => "lhist",
    }
}

/// The integer type a cast names (`uint32`, `int8`, `unsigned int`, ...); `None` for others.
pub fn cast_type(ty: &TypeName) -> Option<Type> {
    if ty.pointer_depth > 0 || ty.array_len.is_some() {
        return None;
    }
    let (size, signed) = match ty.name.trim() {
        "int8" | "char" | "signed char" | "int8_t" | "s8" => (1, true),
        "uint8" | "unsigned char" | "uint8_t" | "u8" | "bool" => (1, false),
        "int16" | "short" | "int16_t" | "s16" => (2, true),
        "uint16" | "unsigned short" | "uint16_t" | "u16" => (2, false),
        "int32" | "int" | "int32_t" | "s32" => (4, true),
        "uint32" | "unsigned int" | "unsigned" | "uint32_t" | "u32" => (4, false),
        "int64" | "long" | "long long" | "int64_t" | "s64" => (8, true),
        "uint64" | "unsigned long" | "unsigned long long" | "uint64_t" | "u64" | "size_t" => {
            (8, false)
        }
        _ => return None,
    };
    Some(Type::Int { size, signed })
}

/// Parses an integer as bpftrace reads positional parameters and constants: decimal or `0x` hex,
/// optionally negative.
pub fn parse_int(s: &str) -> Option<u64> {
    let s = s.trim();
    let (neg, digits) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let v = if let Some(hex) = digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        u64::from_str_radix(hex, 16).ok()?
    } else if digits.len() > 1
        && digits.starts_with('0')
        && digits.bytes().all(|b| (b'0'..=b'7').contains(&b))
    {
        // `0775`: octal, as C and bpftrace read it.
        u64::from_str_radix(&digits[1..], 8).ok()?
    } else if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        digits.parse::<u64>().ok()?
    } else {
        return None;
    };
    Some(if neg { v.wrapping_neg() } else { v })
}

/// The text of an argument that must be known when the script is compiled: a string literal,
/// or `str($N)` of a positional parameter (`kaddr("sym")`, `cgroupid(str($1))`).
pub fn text_argument(cx: &mut dyn CheckCx, arg: &crate::ast::Expr) -> Option<String> {
    use crate::ast::ExprKind;
    match &arg.kind {
        ExprKind::Str(bytes) => Some(String::from_utf8_lossy(bytes).into_owned()),
        // str($1): the parameter's text.
        ExprKind::Call { name, args } if name.name == "str" && args.len() == 1 => {
            match args[0].kind {
                ExprKind::PosParam(n) => cx.param(n),
                _ => None,
            }
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ints_parse_like_bpftrace_params() {
        assert_eq!(parse_int("42"), Some(42));
        assert_eq!(parse_int("0x10"), Some(16));
        assert_eq!(parse_int("0775"), Some(509));
        assert_eq!(parse_int("0"), Some(0));
        assert_eq!(parse_int("-1"), Some(u64::MAX));
        assert_eq!(parse_int("abc"), None);
        assert_eq!(parse_int(""), None);
    }
}
