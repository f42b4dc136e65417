//! Builtin variables and functions: the names rtrace knows, their kinds and type rules; used by
//! sema to check calls and by diagnostics to suggest names.

use crate::ast::TypeName;
use crate::output::value::AggKind;
use crate::sema::types::Type;

/// Builtin variables of bpftrace 0.17 (some are not supported by rtrace yet).
pub const VARIABLES: &[&str] = &[
    "pid", "tid", "uid", "gid", "nsecs", "elapsed", "numaid", "cpu", "comm", "kstack", "ustack",
    "arg0", "arg1", "arg2", "arg3", "arg4", "arg5", "arg6", "arg7", "arg8", "arg9", "sarg0",
    "sarg1", "sarg2", "sarg3", "sarg4", "sarg5", "sarg6", "sarg7", "sarg8", "sarg9", "retval",
    "func", "probe", "curtask", "rand", "cgroup", "cpid", "args", "ctx", "username", "jiffies",
];

/// Functions that are statements: they return nothing.
const ACTIONS: &[&str] = &[
    "printf", "exit", "print", "clear", "zero", "delete", "system", "cat", "signal", "time",
    "join", "override", "unwatch",
];

/// Every function name bpftrace 0.17 knows.
const FUNCTIONS: &[&str] = &[
    "str",
    "buf",
    "ksym",
    "usym",
    "kaddr",
    "uaddr",
    "reg",
    "ntop",
    "pton",
    "kstack",
    "ustack",
    "cgroupid",
    "macaddr",
    "strncmp",
    "strcontains",
    "sizeof",
    "offsetof",
    "path",
    "skboutput",
    "strftime",
    "bswap",
    "len",
    "percpu_kaddr",
];

pub fn is_known_variable(name: &str) -> bool {
    VARIABLES.contains(&name)
}

pub fn is_action(name: &str) -> bool {
    ACTIONS.contains(&name)
}

/// Any known function: actions, value functions and map functions.
pub fn is_function(name: &str) -> bool {
    is_action(name) || FUNCTIONS.contains(&name) || agg_function(name).is_some()
}

/// The aggregation a map function computes.
pub fn agg_function(name: &str) -> Option<AggKind> {
    Some(match name {
        "count" => AggKind::Count,
        "sum" => AggKind::Sum,
        "min" => AggKind::Min,
        "max" => AggKind::Max,
        "avg" => AggKind::Avg,
        "stats" => AggKind::Stats,
        "hist" => AggKind::Hist,
        "lhist" => AggKind::Lhist,
        _ => return None,
    })
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
    } else if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        digits.parse::<u64>().ok()?
    } else {
        return None;
    };
    Some(if neg { v.wrapping_neg() } else { v })
}

/// The conversion characters of a printf format (`d`, `s`, `c`, ...), in order; `%%` is skipped.
/// An error names a conversion rtrace cannot print.
pub fn printf_conversions(fmt: &str) -> Result<Vec<char>, String> {
    let mut out = Vec::new();
    let mut chars = fmt.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            continue;
        }
        if chars.peek() == Some(&'%') {
            chars.next();
            continue;
        }
        loop {
            match chars.next() {
                Some('-' | '+' | ' ' | '#' | '0'..='9' | '.' | 'l' | 'h' | 'z' | 'j' | 't') => {}
                Some(conv @ ('d' | 'i' | 'u' | 'x' | 'X' | 'o' | 'c' | 's' | 'p')) => {
                    out.push(conv);
                    break;
                }
                Some(other) => return Err(format!("printf: unknown conversion '%{other}'")),
                None => return Err("printf: the format string ends inside a conversion".into()),
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions_skip_percent_percent() {
        assert_eq!(
            printf_conversions("%d%% %-5s %lu\n"),
            Ok(vec!['d', 's', 'u'])
        );
        assert!(printf_conversions("%q").is_err());
        assert!(printf_conversions("%").is_err());
    }

    #[test]
    fn ints_parse_like_bpftrace_params() {
        assert_eq!(parse_int("42"), Some(42));
        assert_eq!(parse_int("0x10"), Some(16));
        assert_eq!(parse_int("-1"), Some(u64::MAX));
        assert_eq!(parse_int("abc"), None);
        assert_eq!(parse_int(""), None);
    }
}
