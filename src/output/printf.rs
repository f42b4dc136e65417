//! printf-style formatting as bpftrace 0.17 does it (C's rules, arguments are 64-bit); sema
//! checks format strings with `parse`/`check`, the runtime formats decoded event arguments.
//!
//! Conversions: `d i u x X o c s p` and `%%`; flags `- 0 + space #`, width, `.precision`, and
//! the lengths `hh h l ll` on `d i u x X o p`. Without a length, integer conversions use the low
//! 32 bits (`%d` of 5000000000 is 705032704, `%u` of -1 is 4294967295); `h` 16 bits, `hh` 8,
//! `l`/`ll` all 64. Anything else after `%` (`%q`, `%ls`) is printed as it is written, as in
//! 0.17. Unlike 0.17, `%%` is always `%` and `%i` works like `%d`.

use super::value::Value;
use std::ops::Range;

/// What a conversion consumes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArgKind {
    /// `d i u x X o p`: an integer.
    Int,
    /// `s`: a string.
    Str,
    /// `c`: an integer, printed as the character of its low byte.
    Char,
}

/// The type of a supplied argument, as semantic analysis names it in errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArgType<'a> {
    Integer,
    String,
    /// Any other type, by its name in messages (`tuple`, ...).
    Other(&'a str),
}

/// One conversion of a format string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Spec {
    /// Byte offsets of the whole conversion (`%-08lx`) within the format string.
    pub span: Range<usize>,
    /// The conversion character: one of `d i u x X o c s p`.
    pub conv: u8,
    pub kind: ArgKind,
    pub left: bool,
    pub zero: bool,
    pub plus: bool,
    pub space: bool,
    pub alt: bool,
    pub width: usize,
    pub precision: Option<usize>,
    /// Bits of the argument used: 8, 16, 32 or 64.
    pub bits: u32,
    /// The length modifier as written (`""`, `"l"`, `"hh"`, ...).
    pub length: &'static str,
    /// `%r` of a buffer: 0 for printable bytes as they are and `\xNN` for the rest, `b'x'`
    /// (`%rx`) for `\xNN` throughout, `b'h'` (`%rh`) for hex pairs separated by spaces.
    pub raw: u8,
}

/// Widths and precisions above this are refused (they could only exhaust memory).
const MAX_WIDTH: usize = 1 << 16;

/// A parsed format string, ready to format many events without re-parsing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Format {
    text: Vec<u8>,
    pieces: Vec<Piece>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Piece {
    Lit(Range<usize>),
    Conv(Spec),
}

/// The conversions of `fmt`, in order.
pub fn parse(fmt: &str) -> Result<Vec<Spec>, String> {
    Ok(Format::new(fmt)?.specs().cloned().collect())
}

/// Checks the supplied argument types against the conversions; `func` prefixes messages
/// (`printf: Not enough arguments for format string (1 supplied, 2 expected)`).
pub fn check(func: &str, specs: &[Spec], args: &[ArgType]) -> Result<(), String> {
    let (n, m) = (args.len(), specs.len());
    if n < m {
        return Err(format!(
            "{func}: Not enough arguments for format string ({n} supplied, {m} expected)"
        ));
    }
    if n > m {
        return Err(format!(
            "{func}: Too many arguments for format string ({n} supplied, {m} expected)"
        ));
    }
    for (spec, arg) in specs.iter().zip(args) {
        let want = match spec.kind {
            ArgKind::Str => ArgType::String,
            ArgKind::Int | ArgKind::Char => ArgType::Integer,
        };
        if *arg != want {
            let name = |t: &ArgType| match *t {
                ArgType::Integer => "integer".to_string(),
                ArgType::String => "string".to_string(),
                ArgType::Other(s) => s.to_string(),
            };
            return Err(format!(
                "{func}: %{}{} specifier expects a value of type {} ({} supplied)",
                spec.length,
                spec.conv as char,
                name(&want),
                name(arg)
            ));
        }
    }
    Ok(())
}

/// Formats `fmt` with `args` (invalid UTF-8 in strings is replaced).
pub fn format(fmt: &str, args: &[Value]) -> Result<String, String> {
    let mut out = Vec::new();
    format_into(&mut out, fmt, args)?;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// Appends `fmt` formatted with `args` to `out`, bytes exact. Parses `fmt` each call: for a
/// per-event path, keep a `Format` and call `Format::write`.
pub fn format_into(out: &mut Vec<u8>, fmt: &str, args: &[Value]) -> Result<(), String> {
    Format::new(fmt)?.write(out, args)
}

impl Format {
    pub fn new(fmt: &str) -> Result<Format, String> {
        let text = fmt.as_bytes();
        let mut pieces = Vec::new();
        let (mut lit, mut i) = (0, 0);
        while i < text.len() {
            if text[i] != b'%' {
                i += 1;
                continue;
            }
            if text.get(i + 1) == Some(&b'%') {
                push_lit(&mut pieces, lit..i + 1);
                (lit, i) = (i + 2, i + 2);
                continue;
            }
            let (end, spec) = parse_spec(text, i)?;
            if let Some(spec) = spec {
                push_lit(&mut pieces, lit..i);
                pieces.push(Piece::Conv(spec));
                lit = end;
            }
            i = end;
        }
        push_lit(&mut pieces, lit..text.len());
        Ok(Format {
            text: text.to_vec(),
            pieces,
        })
    }

    /// The conversions, in order.
    pub fn specs(&self) -> impl Iterator<Item = &Spec> {
        self.pieces.iter().filter_map(|p| match p {
            Piece::Conv(s) => Some(s),
            Piece::Lit(_) => None,
        })
    }

    /// Appends the formatted text to `out`. Errs when the arguments do not fit the conversions
    /// (semantic analysis rules that out for compiled programs).
    pub fn write(&self, out: &mut Vec<u8>, args: &[Value]) -> Result<(), String> {
        let mut args = args.iter();
        for piece in &self.pieces {
            match piece {
                Piece::Lit(r) => out.extend_from_slice(&self.text[r.clone()]),
                Piece::Conv(spec) => {
                    let arg = args.next().ok_or("missing argument")?;
                    write_conv(out, spec, arg)?;
                }
            }
        }
        Ok(())
    }
}

fn push_lit(pieces: &mut Vec<Piece>, r: Range<usize>) {
    if r.is_empty() {
        return;
    }
    if let Some(Piece::Lit(prev)) = pieces.last_mut() {
        if prev.end == r.start {
            prev.end = r.end;
            return;
        }
    }
    pieces.push(Piece::Lit(r));
}

/// Parses the conversion starting at `text[start] == b'%'`. Returns where it ends and the spec,
/// or `None` for text that is not a conversion (printed as written, `%5%` included).
fn parse_spec(text: &[u8], start: usize) -> Result<(usize, Option<Spec>), String> {
    let mut spec = Spec {
        span: start..start,
        conv: 0,
        kind: ArgKind::Int,
        left: false,
        zero: false,
        plus: false,
        space: false,
        alt: false,
        width: 0,
        precision: None,
        bits: 32,
        length: "",
        raw: 0,
    };
    let mut i = start + 1;
    while let Some(&c) = text.get(i) {
        match c {
            b'-' => spec.left = true,
            b'0' => spec.zero = true,
            b'+' => spec.plus = true,
            b' ' => spec.space = true,
            b'#' => spec.alt = true,
            _ => break,
        }
        i += 1;
    }
    spec.width = number(text, &mut i)?.unwrap_or(0);
    if text.get(i) == Some(&b'.') {
        i += 1;
        spec.precision = Some(number(text, &mut i)?.unwrap_or(0));
    }
    for (len, bits) in [("hh", 8), ("h", 16), ("ll", 64), ("l", 64)] {
        if text[i..].starts_with(len.as_bytes()) {
            (spec.length, spec.bits) = (len, bits);
            i += len.len();
            break;
        }
    }
    let Some(&conv) = text.get(i) else {
        return Ok((text.len(), None));
    };
    spec.kind = match conv {
        b'd' | b'i' | b'u' | b'x' | b'X' | b'o' | b'p' => ArgKind::Int,
        // `%r` prints a buffer (buf()), which arrives already escaped as text.
        b's' | b'r' if spec.length.is_empty() => ArgKind::Str,
        b'c' if spec.length.is_empty() => ArgKind::Char,
        _ => return Ok((i, None)),
    };
    spec.conv = conv;
    let mut end = i + 1;
    if conv == b'r' {
        if let Some(&style @ (b'x' | b'h')) = text.get(end) {
            spec.raw = style;
            end += 1;
        }
    }
    spec.span = start..end;
    Ok((end, Some(spec)))
}

fn number(text: &[u8], i: &mut usize) -> Result<Option<usize>, String> {
    let start = *i;
    while text.get(*i).is_some_and(u8::is_ascii_digit) {
        *i += 1;
    }
    if start == *i {
        return Ok(None);
    }
    let digits = std::str::from_utf8(&text[start..*i]).unwrap_or("");
    match digits.parse::<usize>() {
        Ok(n) if n <= MAX_WIDTH => Ok(Some(n)),
        _ => Err(format!("width or precision {digits} is too large")),
    }
}

fn write_conv(out: &mut Vec<u8>, spec: &Spec, arg: &Value) -> Result<(), String> {
    let bits = match (spec.kind, arg) {
        (ArgKind::Str, Value::Buf(b)) => {
            let text = match spec.raw {
                b'x' => b
                    .iter()
                    .flat_map(|c| format!("\\x{c:02x}").into_bytes())
                    .collect(),
                b'h' => b
                    .iter()
                    .map(|c| format!("{c:02x}"))
                    .collect::<Vec<_>>()
                    .join(" ")
                    .into_bytes(),
                _ => super::value::escaped(b),
            };
            pad(out, spec, &text);
            return Ok(());
        }
        (ArgKind::Str, Value::Stack { lines, indent }) => {
            let s = super::value::stack_text(lines, *indent, super::value::VALUE_INDENT);
            let s = &s[..spec.precision.unwrap_or(s.len()).min(s.len())];
            pad(out, spec, s);
            return Ok(());
        }
        (ArgKind::Str, Value::Str(s)) => {
            let s = &s[..spec.precision.unwrap_or(s.len()).min(s.len())];
            pad(out, spec, s);
            return Ok(());
        }
        (ArgKind::Int | ArgKind::Char, Value::Int(i)) => *i as u64,
        (ArgKind::Int | ArgKind::Char, Value::UInt(u)) => *u,
        _ => return Err(format!("%{} cannot print {arg:?}", spec.conv as char)),
    };
    if spec.kind == ArgKind::Char {
        pad(out, spec, &[bits as u8]);
        return Ok(());
    }
    if spec.conv == b'p' {
        if bits == 0 {
            pad(out, spec, b"(nil)");
        } else {
            write_int(out, spec, b"0x", bits, 16, false);
        }
        return Ok(());
    }
    let shift = 64 - spec.bits;
    let (sign, magnitude): (&[u8], u64) = if matches!(spec.conv, b'd' | b'i') {
        let v = (bits.wrapping_shl(shift) as i64).wrapping_shr(shift);
        let sign: &[u8] = if v < 0 {
            b"-"
        } else if spec.plus {
            b"+"
        } else if spec.space {
            b" "
        } else {
            b""
        };
        (sign, v.unsigned_abs())
    } else {
        (b"", bits.wrapping_shl(shift).wrapping_shr(shift))
    };
    let (base, upper) = match spec.conv {
        b'x' => (16, false),
        b'X' => (16, true),
        b'o' => (8, false),
        _ => (10, false),
    };
    let prefix: &[u8] = match (spec.alt && magnitude != 0, spec.conv) {
        (true, b'x') => b"0x",
        (true, b'X') => b"0X",
        _ => sign,
    };
    write_int(out, spec, prefix, magnitude, base, upper);
    Ok(())
}

/// Digits of `v` in `base` with C's precision rules, then `pad`. Uses no heap memory.
fn write_int(out: &mut Vec<u8>, spec: &Spec, prefix: &[u8], v: u64, base: u64, upper: bool) {
    let digits: &[u8; 16] = if upper {
        b"0123456789ABCDEF"
    } else {
        b"0123456789abcdef"
    };
    let mut buf = [0u8; 64];
    let mut at = buf.len();
    let mut n = v;
    while n > 0 {
        at -= 1;
        buf[at] = digits[(n % base) as usize];
        n /= base;
    }
    let len = buf.len() - at;
    let mut zeros = spec.precision.unwrap_or(1).saturating_sub(len);
    if spec.alt && spec.conv == b'o' && zeros == 0 {
        zeros = 1; // `%#o` starts with a 0 (the digits of a value > 0 never do)
    }
    let body = prefix.len() + zeros + len;
    let fill = spec.width.saturating_sub(body);
    let zero_fill = spec.zero && !spec.left && spec.precision.is_none();
    if !spec.left && !zero_fill {
        out.resize(out.len() + fill, b' ');
    }
    out.extend_from_slice(prefix);
    if zero_fill {
        out.resize(out.len() + fill, b'0');
    }
    out.resize(out.len() + zeros, b'0');
    out.extend_from_slice(&buf[at..]);
    if spec.left {
        out.resize(out.len() + fill, b' ');
    }
}

/// `body` padded with spaces to the width (glibc pads `%05s` with spaces too).
fn pad(out: &mut Vec<u8>, spec: &Spec, body: &[u8]) {
    let fill = spec.width.saturating_sub(body.len());
    if !spec.left {
        out.resize(out.len() + fill, b' ');
    }
    out.extend_from_slice(body);
    if spec.left {
        out.resize(out.len() + fill, b' ');
    }
}

#[cfg(test)]
#[path = "printf_tests.rs"]
mod tests;
