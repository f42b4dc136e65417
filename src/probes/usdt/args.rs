//! USDT argument specs: the `Arguments` text of a `.note.stapsdt` note, in the GNU assembler's
//! operand syntax of the machine (x86-64: `-4@%edi`, `8@$5`, `8@-8(%rbp)`,
//! `8@8(%rax,%rdx,8)`; arm64: `-4@x0`, `4@w1`, `8@5`, `8@[sp, 16]`), parsed into `Arg`s; fed
//! by sema when a usdt probe reads `argN`.

/// One argument of a probe location.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Arg {
    /// Bytes the value takes: 1, 2, 4 or 8.
    pub size: u8,
    /// A negative size in the spec: the value is sign-extended to 64 bits.
    pub signed: bool,
    pub loc: Loc,
}

/// Where the value of an argument is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Loc {
    /// `$IMM`: a constant the compiler knew.
    Const(i64),
    /// `%REG`: a register at the probe's address.
    Reg(Reg),
    /// `DISP(%BASE)` or `DISP(%BASE,%INDEX,SCALE)`: memory of the traced process at
    /// `BASE + DISP + INDEX * SCALE`.
    Mem {
        base: Reg,
        disp: i64,
        index: Option<(Reg, u8)>,
    },
}

/// A register as `struct pt_regs` holds it: the full register's `reg()` name and the byte
/// the operand starts at (1 for `%ah`, `%bh`, `%ch`, `%dh`; 0 otherwise).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reg {
    pub name: &'static str,
    pub byte: u8,
}

/// x86-64 register names (without `%`) and the full register each is part of.
const X86_64_REGS: &[(&str, &str)] = &[
    ("rax", "ax"),
    ("eax", "ax"),
    ("ax", "ax"),
    ("al", "ax"),
    ("rbx", "bx"),
    ("ebx", "bx"),
    ("bx", "bx"),
    ("bl", "bx"),
    ("rcx", "cx"),
    ("ecx", "cx"),
    ("cx", "cx"),
    ("cl", "cx"),
    ("rdx", "dx"),
    ("edx", "dx"),
    ("dx", "dx"),
    ("dl", "dx"),
    ("rsi", "si"),
    ("esi", "si"),
    ("si", "si"),
    ("sil", "si"),
    ("rdi", "di"),
    ("edi", "di"),
    ("di", "di"),
    ("dil", "di"),
    ("rbp", "bp"),
    ("ebp", "bp"),
    ("bp", "bp"),
    ("bpl", "bp"),
    ("rsp", "sp"),
    ("esp", "sp"),
    ("sp", "sp"),
    ("spl", "sp"),
];

/// The high byte registers: byte 1 of the full register.
const X86_64_HIGH: &[(&str, &str)] = &[("ah", "ax"), ("bh", "bx"), ("ch", "cx"), ("dh", "dx")];

/// `r8`...`r15` with their `d`, `w`, `b` (and `l`) sub-registers.
const X86_64_NUMBERED: [&str; 8] = ["r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"];

/// The register an x86-64 operand names (`rax`, `edi`, `r8d`, `ah`).
pub fn x86_64_register(name: &str) -> Option<Reg> {
    if let Some((_, full)) = X86_64_REGS.iter().find(|(n, _)| *n == name) {
        return Some(Reg {
            name: full,
            byte: 0,
        });
    }
    if let Some((_, full)) = X86_64_HIGH.iter().find(|(n, _)| *n == name) {
        return Some(Reg {
            name: full,
            byte: 1,
        });
    }
    X86_64_NUMBERED.iter().find_map(|full| {
        let rest = name.strip_prefix(full)?;
        matches!(rest, "" | "d" | "w" | "b" | "l").then_some(Reg {
            name: full,
            byte: 0,
        })
    })
}

/// Parses the whole `Arguments` text of a note into its arguments (none for an empty text).
pub fn parse_all(text: &str) -> Result<Vec<Arg>, String> {
    text.split_whitespace().map(parse).collect()
}

/// Parses one argument spec of this machine, `[-]SIZE@OPERAND` (an operand alone is 8 bytes,
/// unsigned).
pub fn parse(spec: &str) -> Result<Arg, String> {
    if cfg!(target_arch = "aarch64") {
        parse_for(spec, aarch64_loc)
    } else {
        parse_for(spec, operand_loc)
    }
}

/// An arm64 operand: `xN`/`wN`/`sp`, `[REG]`, `[REG, OFF]`, or a constant.
fn aarch64_loc(op: &str) -> Result<Loc, String> {
    let reg = |r: &str| -> Result<Reg, String> {
        let r = r.trim();
        let name = match r {
            "sp" | "wsp" => "sp",
            _ => ["x", "w"]
                .iter()
                .find_map(|p| {
                    let n: usize = r.strip_prefix(p)?.parse().ok()?;
                    ARM64_X.get(n).copied()
                })
                .ok_or_else(|| format!("'{r}' is not an arm64 general-purpose register"))?,
        };
        Ok(Reg { name, byte: 0 })
    };
    if let Some(inner) = op.strip_prefix('[') {
        let inner = inner
            .strip_suffix(']')
            .ok_or_else(|| "a memory operand must end with ']'".to_string())?;
        let (base, disp) = match inner.split_once(',') {
            Some((b, d)) => {
                let d = d.trim();
                let d = d.strip_prefix('#').unwrap_or(d);
                (
                    b,
                    number(d).ok_or_else(|| format!("'{d}' is not an offset"))?,
                )
            }
            None => (inner, 0),
        };
        return Ok(Loc::Mem {
            base: reg(base)?,
            disp,
            index: None,
        });
    }
    if let Some(v) = number(op.strip_prefix('#').unwrap_or(op)) {
        return Ok(Loc::Const(v));
    }
    reg(op).map(Loc::Reg)
}

/// `x0`...`x30` as `reg()` names them on arm64.
const ARM64_X: [&str; 31] = [
    "x0", "x1", "x2", "x3", "x4", "x5", "x6", "x7", "x8", "x9", "x10", "x11", "x12", "x13", "x14",
    "x15", "x16", "x17", "x18", "x19", "x20", "x21", "x22", "x23", "x24", "x25", "x26", "x27",
    "x28", "x29", "x30",
];

fn parse_for(spec: &str, operand_of: fn(&str) -> Result<Loc, String>) -> Result<Arg, String> {
    let bad = |why: &str| format!("usdt argument '{spec}': {why}");
    let (size, signed, operand) = match spec.split_once('@') {
        Some((size, operand)) => {
            let n: i32 = size.parse().map_err(|_| bad("the size is not a number"))?;
            if !matches!(n.unsigned_abs(), 1 | 2 | 4 | 8) {
                return Err(bad("the size must be 1, 2, 4 or 8 bytes"));
            }
            (n.unsigned_abs() as u8, n < 0, operand)
        }
        None => (8, false, spec),
    };
    let loc = operand_of(operand).map_err(|why| bad(&why))?;
    Ok(Arg { size, signed, loc })
}

fn register(text: &str) -> Result<Reg, String> {
    let name = text
        .strip_prefix('%')
        .ok_or_else(|| format!("'{text}' is not a register"))?;
    x86_64_register(name).ok_or_else(|| match name {
        "rip" | "eip" => {
            "memory addressed from %rip (a global variable) is not supported".to_string()
        }
        _ => format!("'{text}' is not an x86-64 general-purpose register"),
    })
}

fn operand_loc(op: &str) -> Result<Loc, String> {
    if let Some(imm) = op.strip_prefix('$') {
        return number(imm)
            .map(Loc::Const)
            .ok_or_else(|| format!("'{imm}' is not a constant"));
    }
    if op.starts_with('%') {
        return register(op).map(Loc::Reg);
    }
    let Some((disp, rest)) = op.split_once('(') else {
        return Err("an absolute address is not supported".into());
    };
    let inner = rest
        .strip_suffix(')')
        .ok_or_else(|| "a memory operand must end with ')'".to_string())?;
    let mut parts = inner.split(',').map(str::trim);
    let base = register(parts.next().unwrap_or(""))?;
    let disp = if disp.is_empty() {
        0
    } else {
        number(disp).ok_or_else(|| {
            if disp.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
                format!("a displacement from the symbol '{disp}' is not supported")
            } else {
                format!("'{disp}' is not a displacement")
            }
        })?
    };
    let index = match parts.next() {
        None => None,
        Some(ix) => {
            let reg = register(ix)?;
            let scale = match parts.next() {
                None => 1,
                Some(s) => match s.parse::<u8>() {
                    Ok(n @ (1 | 2 | 4 | 8)) => n,
                    _ => return Err(format!("'{s}' is not a scale (1, 2, 4 or 8)")),
                },
            };
            Some((reg, scale))
        }
    };
    if parts.next().is_some() {
        return Err("a memory operand takes at most base, index and scale".into());
    }
    Ok(Loc::Mem { base, disp, index })
}

/// A decimal or `0x` hexadecimal integer, maybe negative. Values past `i64::MAX` (written
/// as unsigned) wrap, as the assembler stores them.
fn number(s: &str) -> Option<i64> {
    let (neg, digits) = match s.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let v = match digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        Some(hex) => u64::from_str_radix(hex, 16).ok()?,
        None => digits.parse::<u64>().ok()?,
    } as i64;
    Some(if neg { v.wrapping_neg() } else { v })
}

/// A constant as the probe's C code sees it: cut to `size` bytes, then sign- or
/// zero-extended to 64 bits.
pub fn const_value(v: i64, size: u8, signed: bool) -> i64 {
    if size >= 8 {
        return v;
    }
    let shift = 64 - 8 * u32::from(size);
    if signed {
        (v << shift) >> shift
    } else {
        ((v as u64) << shift >> shift) as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The x86-64 syntax, whatever machine the tests run on.
    fn parse(spec: &str) -> Result<Arg, String> {
        parse_for(spec, operand_loc)
    }

    fn reg(name: &'static str) -> Reg {
        Reg { name, byte: 0 }
    }

    #[test]
    fn registers_and_sizes() {
        assert_eq!(
            parse("-4@%edi"),
            Ok(Arg {
                size: 4,
                signed: true,
                loc: Loc::Reg(reg("di"))
            })
        );
        assert_eq!(
            parse("8@%rax"),
            Ok(Arg {
                size: 8,
                signed: false,
                loc: Loc::Reg(reg("ax"))
            })
        );
        assert_eq!(
            parse("1@%ah").unwrap().loc,
            Loc::Reg(Reg {
                name: "ax",
                byte: 1
            })
        );
        assert_eq!(parse("-1@%sil").unwrap().loc, Loc::Reg(reg("si")));
        assert_eq!(parse("2@%r8w").unwrap().loc, Loc::Reg(reg("r8")));
        assert_eq!(parse("4@%r15d").unwrap().loc, Loc::Reg(reg("r15")));
        assert_eq!(parse("1@%r10b").unwrap().loc, Loc::Reg(reg("r10")));
        assert_eq!(parse("%rdi").unwrap().size, 8);
        assert!(parse("3@%rax").is_err());
        assert!(parse("x@%rax").is_err());
        assert!(parse("8@%xmm0").is_err());
        assert!(parse("8@%r16").is_err());
    }

    #[test]
    fn constants() {
        assert_eq!(parse("4@$5").unwrap().loc, Loc::Const(5));
        assert_eq!(
            parse("8@$-579005069656919568").unwrap().loc,
            Loc::Const(-579005069656919568)
        );
        assert_eq!(parse("-2@$0x10").unwrap().loc, Loc::Const(16));
        assert!(parse("4@$x").is_err());
        // What the test program's probes hold (usdt_args.c's 0xf7f6f5f4f3f2f1f0).
        let v = -579005069656919568i64;
        assert_eq!(const_value(v, 8, false), v);
        assert_eq!(const_value(-202182160, 4, false), 4092785136);
        assert_eq!(const_value(-202182160, 4, true), -202182160);
        assert_eq!(const_value(-3600, 2, false), 61936);
        assert_eq!(const_value(-3600, 2, true), -3600);
        assert_eq!(const_value(-16, 1, false), 240);
        assert_eq!(const_value(-16, 1, true), -16);
        assert_eq!(const_value(255, 1, true), -1);
    }

    #[test]
    fn memory_operands() {
        assert_eq!(
            parse("8@-8(%rbp)").unwrap().loc,
            Loc::Mem {
                base: reg("bp"),
                disp: -8,
                index: None
            }
        );
        assert_eq!(
            parse("-4@(%rsp)").unwrap().loc,
            Loc::Mem {
                base: reg("sp"),
                disp: 0,
                index: None
            }
        );
        assert_eq!(
            parse("8@8(%rax,%rdx,8)").unwrap().loc,
            Loc::Mem {
                base: reg("ax"),
                disp: 8,
                index: Some((reg("dx"), 8))
            }
        );
        assert_eq!(
            parse("-1@-88(%rsp,%rax)").unwrap().loc,
            Loc::Mem {
                base: reg("sp"),
                disp: -88,
                index: Some((reg("ax"), 1))
            }
        );
        assert_eq!(
            parse("4@0x10(%rdi)").unwrap().loc,
            Loc::Mem {
                base: reg("di"),
                disp: 16,
                index: None
            }
        );
        let sym = parse("4@counter(%rip)").unwrap_err();
        assert!(sym.contains("%rip"), "{sym}");
        assert!(parse("4@8(%rax,%rbx,3)").is_err());
        assert!(parse("4@8(%rax").is_err());
        assert!(parse("4@0x1000").is_err());
    }

    #[test]
    fn arm64_operands() {
        let arm = |s| parse_for(s, aarch64_loc);
        assert_eq!(arm("-4@x0").unwrap().loc, Loc::Reg(reg("x0")));
        assert_eq!(arm("4@w19").unwrap().loc, Loc::Reg(reg("x19")));
        assert_eq!(arm("8@5").unwrap().loc, Loc::Const(5));
        assert_eq!(arm("-8@#-3").unwrap().loc, Loc::Const(-3));
        assert_eq!(
            arm("8@[sp, 16]").unwrap().loc,
            Loc::Mem {
                base: reg("sp"),
                disp: 16,
                index: None
            }
        );
        assert_eq!(
            arm("-4@[x29, -8]").unwrap().loc,
            Loc::Mem {
                base: reg("x29"),
                disp: -8,
                index: None
            }
        );
        assert_eq!(
            arm("2@[x1]").unwrap().loc,
            Loc::Mem {
                base: reg("x1"),
                disp: 0,
                index: None
            }
        );
        assert!(arm("4@x31").is_err());
        assert!(arm("4@[x1, y]").is_err());
        assert!(arm("4@[x1").is_err());
    }

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn whole_notes() {
        let args = parse_all("-8@%rax 8@%rdx").unwrap();
        assert_eq!(args.len(), 2);
        assert!(args[0].signed && !args[1].signed);
        assert_eq!(parse_all("").unwrap(), vec![]);
        assert!(parse_all("-8@%rax 8@%bogus").is_err());
    }
}
