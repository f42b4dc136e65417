//! The reference: types a script as rtrace's checker does (passes until the types settle) and evaluates it with rtrace's integer rules, C struct layouts and string reads into the exact expected stdout.

use super::script::{c_layout, walk, CType, Expr, Op, Script, Stmt, StructDef, Un, VAR_NAMES};
use rtrace::output::print;
use rtrace::output::printf;
use rtrace::output::value::{AggKind, MapDump, MapValue, Value};
use std::collections::BTreeMap;

/// An expression's type, as rtrace's checker computes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ty {
    Int {
        size: u8,
        signed: bool,
    },
    Str(u32),
    Tuple(Vec<Ty>),
    /// `struct S{k}`.
    Record(usize),
    Array(Box<Ty>, u32),
}

const I64: Ty = Ty::Int {
    size: 8,
    signed: true,
};
const U64: Ty = Ty::Int {
    size: 8,
    signed: false,
};

impl Ty {
    fn signed(&self) -> bool {
        matches!(self, Ty::Int { signed: true, .. })
    }

    fn is_int(&self) -> bool {
        matches!(self, Ty::Int { .. })
    }

    /// The type covering both: integers widen to 64 bits (signed if either is), strings to the
    /// larger buffer, tuples element by element.
    fn unify(&self, other: &Ty) -> Option<Ty> {
        match (self, other) {
            (Ty::Int { .. }, Ty::Int { .. }) => Some(Ty::Int {
                size: 8,
                signed: self.signed() || other.signed(),
            }),
            (Ty::Str(a), Ty::Str(b)) => Some(Ty::Str(*a.max(b))),
            (Ty::Tuple(a), Ty::Tuple(b)) if a.len() == b.len() => a
                .iter()
                .zip(b)
                .map(|(x, y)| x.unify(y))
                .collect::<Option<Vec<_>>>()
                .map(Ty::Tuple),
            (Ty::Record(_), _) | (Ty::Array(..), _) if self == other => Some(self.clone()),
            _ => None,
        }
    }
}

/// The type rtrace gives a value of C type `t` (char arrays are strings).
fn c_ty(t: &CType) -> Ty {
    match t {
        CType::Int(i, _) => Ty::Int {
            size: i.size,
            signed: i.signed,
        },
        CType::Chars(n) => Ty::Str(*n),
        CType::Array(e, n) => Ty::Array(Box::new(c_ty(e)), *n),
        CType::Struct(k) => Ty::Record(*k),
    }
}

/// The buffer size of a string type.
fn str_size(t: &Ty) -> u32 {
    match t {
        Ty::Str(n) => *n,
        _ => 0,
    }
}

/// A typed expression.
#[derive(Clone, Debug)]
struct TE {
    kind: TK,
    ty: Ty,
}

#[derive(Clone, Debug)]
enum TK {
    Int(u64),
    Str(Vec<u8>),
    Var(usize),
    Map(usize, Vec<TE>),
    Cast(Box<TE>),
    Unary(Un, Box<TE>),
    /// Arithmetic or comparison; `signed` when both operands are signed.
    Binary(Op, bool, Box<TE>, Box<TE>),
    StrEq(bool, Box<TE>, Box<TE>),
    Ternary(Box<TE>, Box<TE>, Box<TE>),
    Tuple(Vec<TE>),
    Field(Box<TE>, usize),
    /// Member `i` of a struct value.
    Member(Box<TE>, usize),
    /// (variable, prefix, increment)
    IncVar(usize, bool, bool),
    /// (map, keys, prefix, increment)
    IncMap(usize, Vec<TE>, bool, bool),
    /// A value of this C type at this offset of the script's memory.
    Mem(u32, CType),
    /// `str()` of the memory at this offset, with at most this many characters.
    StrRead(u32, usize),
}

#[derive(Clone, Debug)]
enum TS {
    Assign(usize, TE),
    Store(usize, Vec<TE>, TE),
    If(TE, Vec<TS>, Vec<TS>),
    Printf(String, Vec<TE>),
    Print(TE),
    Exit,
}

/// What the checker learns across its two passes.
#[derive(Default)]
struct Typer {
    structs: Vec<StructDef>,
    /// `BPFTRACE_STRLEN`.
    strlen: u32,
    vars: [Option<Ty>; 5],
    map_keys: BTreeMap<usize, Vec<Ty>>,
    map_vals: BTreeMap<usize, Ty>,
}

type Res<T> = Result<T, String>;

impl Typer {
    fn block(&mut self, stmts: &[Stmt], mut defined: u8) -> Res<(Vec<TS>, u8)> {
        let mut out = Vec::new();
        for s in stmts {
            let (t, d) = self.stmt(s, defined)?;
            defined = d;
            out.push(t);
        }
        Ok((out, defined))
    }

    fn stmt(&mut self, s: &Stmt, defined: u8) -> Res<(TS, u8)> {
        Ok(match s {
            Stmt::Assign(v, e) => {
                let te = self.expr(e, defined)?;
                return self.stmt_typed_assign(*v, te, defined);
            }
            Stmt::Store(m, keys, e) => {
                let keys = self.keys(*m, keys, defined)?;
                let te = self.expr(e, defined)?;
                self.map_value(*m, &te.ty)?;
                (TS::Store(*m, keys, te), defined)
            }
            Stmt::VarOp(v, op, e) => {
                // The checker types the operand first, then reads the variable.
                let rhs = match e {
                    Some(e) => self.int(e, defined)?,
                    None => TE {
                        kind: TK::Int(1),
                        ty: I64,
                    },
                };
                let cur = self.expr(&Expr::Var(*v), defined)?;
                let value = binary(*op, cur, rhs)?;
                return self.stmt_typed_assign(*v, value, defined);
            }
            Stmt::MapOp(m, keys, op, e) => {
                let keys = self.keys(*m, keys, defined)?;
                let rhs = match e {
                    Some(e) => self.int(e, defined)?,
                    None => TE {
                        kind: TK::Int(1),
                        ty: I64,
                    },
                };
                // The current value is read as an int64 whatever the map holds.
                let cur = TE {
                    kind: TK::Map(*m, keys.clone()),
                    ty: I64,
                };
                let value = binary(*op, cur, rhs)?;
                self.map_value(*m, &value.ty)?;
                (TS::Store(*m, keys, value), defined)
            }
            Stmt::If(c, then, els) => {
                let c = self.int(c, defined)?;
                let (t, d1) = self.block(then, defined)?;
                let (f, d2) = self.block(els, defined)?;
                let d = if els.is_empty() { defined } else { d1 & d2 };
                (TS::If(c, t, f), d)
            }
            Stmt::Printf(fmt, args) => {
                let args = args
                    .iter()
                    .map(|a| self.expr(a, defined))
                    .collect::<Res<Vec<_>>>()?;
                for a in &args {
                    if matches!(a.ty, Ty::Tuple(_)) {
                        return Err("printf of a tuple".into());
                    }
                }
                (TS::Printf(fmt.clone(), args), defined)
            }
            Stmt::Print(e) => (TS::Print(self.expr(e, defined)?), defined),
            Stmt::Exit => (TS::Exit, defined),
        })
    }

    /// Records an assignment of `te` to variable `v`.
    fn stmt_typed_assign(&mut self, v: usize, te: TE, defined: u8) -> Res<(TS, u8)> {
        let ty = match &self.vars[v] {
            None => te.ty.clone(),
            Some(old) => old
                .unify(&te.ty)
                .ok_or(format!("${} changes type", VAR_NAMES[v]))?,
        };
        self.vars[v] = Some(ty);
        Ok((TS::Assign(v, te), defined | 1 << v))
    }

    /// Records a store of a value of type `ty` into map `m`.
    fn map_value(&mut self, m: usize, ty: &Ty) -> Res<()> {
        let ty = match self.map_vals.get(&m) {
            None => ty.clone(),
            Some(old) => old.unify(ty).ok_or(format!("@m{m} changes value type"))?,
        };
        self.map_vals.insert(m, ty);
        Ok(())
    }

    fn keys(&mut self, m: usize, keys: &[Expr], defined: u8) -> Res<Vec<TE>> {
        let keys = keys
            .iter()
            .map(|k| self.expr(k, defined))
            .collect::<Res<Vec<_>>>()?;
        let tys: Vec<Ty> = keys.iter().map(|k| k.ty.clone()).collect();
        if tys.iter().any(|t| matches!(t, Ty::Tuple(_))) {
            return Err("tuple key".into());
        }
        let merged = match self.map_keys.get(&m) {
            None => tys,
            Some(old) if old.len() == tys.len() => old
                .iter()
                .zip(&tys)
                .map(|(a, b)| a.unify(b))
                .collect::<Option<Vec<_>>>()
                .ok_or(format!("@m{m} changes key type"))?,
            Some(_) => return Err(format!("@m{m} changes key count")),
        };
        self.map_keys.insert(m, merged);
        Ok(keys)
    }

    fn int(&mut self, e: &Expr, defined: u8) -> Res<TE> {
        let t = self.expr(e, defined)?;
        if t.ty.is_int() {
            Ok(t)
        } else {
            Err(format!(
                "not an integer: {}",
                super::script::expr(e, &self.structs)
            ))
        }
    }

    fn expr(&mut self, e: &Expr, defined: u8) -> Res<TE> {
        let mk = |kind, ty| Ok(TE { kind, ty });
        match e {
            Expr::Int(v) => mk(TK::Int(*v), if *v > i64::MAX as u64 { U64 } else { I64 }),
            Expr::Str(s) => mk(TK::Str(s.clone()), Ty::Str(s.len() as u32 + 1)),
            Expr::Var(v) => {
                if defined & 1 << v == 0 {
                    return Err(format!("${} may be unassigned", VAR_NAMES[*v]));
                }
                let ty = self.vars[*v].clone().unwrap_or(I64);
                mk(TK::Var(*v), ty)
            }
            Expr::Map(m, keys) => {
                let keys = self.keys(*m, keys, defined)?;
                let ty = self.map_vals.get(m).cloned().unwrap_or(I64);
                mk(TK::Map(*m, keys), ty)
            }
            Expr::Cast(t, x) => {
                let x = self.int(x, defined)?;
                mk(
                    TK::Cast(Box::new(x)),
                    Ty::Int {
                        size: t.size,
                        signed: t.signed,
                    },
                )
            }
            Expr::Unary(op, x) => {
                let x = self.int(x, defined)?;
                let ty = match op {
                    Un::Neg => I64,
                    Un::Not => U64,
                    Un::BitNot => Ty::Int {
                        size: 8,
                        signed: x.ty.signed(),
                    },
                };
                mk(TK::Unary(*op, Box::new(x)), ty)
            }
            Expr::Binary(op, l, r) => {
                let l = self.expr(l, defined)?;
                let r = self.expr(r, defined)?;
                if matches!(l.ty, Ty::Str(_)) && matches!(r.ty, Ty::Str(_)) {
                    return match op {
                        Op::Eq | Op::Ne => {
                            mk(TK::StrEq(*op == Op::Ne, Box::new(l), Box::new(r)), U64)
                        }
                        _ => Err("string operator".into()),
                    };
                }
                if !l.ty.is_int() || !r.ty.is_int() {
                    return Err("operands are not integers".into());
                }
                let signed = l.ty.signed() && r.ty.signed();
                let ty = if op.is_compare() || matches!(op, Op::LAnd | Op::LOr) {
                    U64
                } else {
                    Ty::Int { size: 8, signed }
                };
                mk(TK::Binary(*op, signed, Box::new(l), Box::new(r)), ty)
            }
            Expr::Ternary(c, t, f) => {
                let c = self.int(c, defined)?;
                let t = self.expr(t, defined)?;
                let f = self.expr(f, defined)?;
                let ty = t.ty.unify(&f.ty).ok_or("ternary branches differ")?;
                mk(TK::Ternary(Box::new(c), Box::new(t), Box::new(f)), ty)
            }
            Expr::Tuple(items) => {
                let items = items
                    .iter()
                    .map(|x| self.expr(x, defined))
                    .collect::<Res<Vec<_>>>()?;
                let ty = Ty::Tuple(items.iter().map(|x| x.ty.clone()).collect());
                mk(TK::Tuple(items), ty)
            }
            Expr::Field(x, i) => {
                let x = self.expr(x, defined)?;
                let ty = match &x.ty {
                    Ty::Tuple(elems) if *i < elems.len() => elems[*i].clone(),
                    _ => return Err("bad tuple field".into()),
                };
                mk(TK::Field(Box::new(x), *i), ty)
            }
            Expr::Member(x, name) => {
                let x = self.expr(x, defined)?;
                let Ty::Record(k) = x.ty else {
                    return Err("member of a non-struct".into());
                };
                let members = &self.structs[k].members;
                let i = members
                    .iter()
                    .position(|(n, _)| n == name)
                    .ok_or("no such member")?;
                let ty = c_ty(&members[i].1);
                mk(TK::Member(Box::new(x), i), ty)
            }
            Expr::Incr(target, prefix, up) => match &**target {
                Expr::Var(v) => {
                    // As `$v = $v + 1` would: the variable widens, and the value has its type.
                    let cur = self.int(target, defined)?;
                    let one = TE {
                        kind: TK::Int(1),
                        ty: I64,
                    };
                    let sum = binary(Op::Add, cur, one)?;
                    self.stmt_typed_assign(*v, sum, defined)?;
                    let ty = self.vars[*v].clone().unwrap_or(I64);
                    mk(TK::IncVar(*v, *prefix, *up), ty)
                }
                Expr::Map(m, keys) => {
                    let keys = self.keys(*m, keys, defined)?;
                    self.map_value(*m, &I64)?;
                    let ty = self.map_vals.get(m).cloned().unwrap_or(I64);
                    if !ty.is_int() {
                        return Err("++ of a non-integer map".into());
                    }
                    mk(TK::IncMap(*m, keys, *prefix, *up), ty)
                }
                _ => Err("++ of something else".into()),
            },
            Expr::Deref(k, off, path) => {
                let (at, t) = walk(&self.structs, *k, path).ok_or("bad path")?;
                mk(TK::Mem(off + at, t.clone()), c_ty(&t))
            }
            Expr::StrRead(off, n) => {
                // str() keeps at most n characters, and at most BPFTRACE_STRLEN - 1.
                let cap = (self.strlen as usize).saturating_sub(1);
                let chars = n.map_or(cap, |n| (n as usize).min(cap));
                mk(TK::StrRead(*off, chars), Ty::Str(self.strlen))
            }
        }
    }
}

/// A binary operator's typed node: strings compare with `==` and `!=`; arithmetic is signed
/// only when both operands are; comparisons and `&&` `||` give uint64 0 or 1.
fn binary(op: Op, l: TE, r: TE) -> Res<TE> {
    if matches!(l.ty, Ty::Str(_)) && matches!(r.ty, Ty::Str(_)) {
        return match op {
            Op::Eq | Op::Ne => Ok(TE {
                kind: TK::StrEq(op == Op::Ne, Box::new(l), Box::new(r)),
                ty: U64,
            }),
            _ => Err("string operator".into()),
        };
    }
    if !l.ty.is_int() || !r.ty.is_int() {
        return Err("operands are not integers".into());
    }
    let signed = l.ty.signed() && r.ty.signed();
    let ty = if op.is_compare() || matches!(op, Op::LAnd | Op::LOr) {
        U64
    } else {
        Ty::Int { size: 8, signed }
    };
    Ok(TE {
        kind: TK::Binary(op, signed, Box::new(l), Box::new(r)),
        ty,
    })
}

/// A run-time value.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum V {
    Int(u64),
    Str(Vec<u8>),
    Tuple(Vec<V>),
    /// A struct's members or an array's elements.
    Seq(Vec<V>),
}

impl V {
    fn int(&self) -> u64 {
        match self {
            V::Int(v) => *v,
            _ => 0,
        }
    }
}

fn zero_of(ty: &Ty, structs: &[StructDef]) -> V {
    match ty {
        Ty::Int { .. } => V::Int(0),
        Ty::Str(_) => V::Str(Vec::new()),
        Ty::Tuple(elems) => V::Tuple(elems.iter().map(|t| zero_of(t, structs)).collect()),
        Ty::Record(k) => V::Seq(
            structs[*k]
                .members
                .iter()
                .map(|(_, t)| zero_of(&c_ty(t), structs))
                .collect(),
        ),
        Ty::Array(e, n) => V::Seq((0..*n).map(|_| zero_of(e, structs)).collect()),
    }
}

/// The value of C type `t` at `at` in `mem` (little-endian; strings end at a NUL).
fn read_c(mem: &[u8], at: u32, t: &CType, structs: &[StructDef]) -> V {
    let at = at as usize;
    let byte = |i: usize| mem.get(i).copied().unwrap_or(0);
    match t {
        CType::Int(i, _) => {
            let raw =
                (0..usize::from(i.size)).fold(0u64, |v, b| v | u64::from(byte(at + b)) << (8 * b));
            V::Int(cast(raw, i.size, i.signed))
        }
        CType::Chars(n) => V::Str(
            (at..at + *n as usize)
                .map(byte)
                .take_while(|&b| b != 0)
                .collect(),
        ),
        CType::Array(e, n) => {
            let size = c_layout(structs, e).0;
            V::Seq(
                (0..*n)
                    .map(|i| read_c(mem, at as u32 + i * size, e, structs))
                    .collect(),
            )
        }
        CType::Struct(k) => {
            let offsets = super::script::member_offsets(structs, *k).0;
            V::Seq(
                structs[*k]
                    .members
                    .iter()
                    .zip(offsets)
                    .map(|((_, t), o)| read_c(mem, at as u32 + o, t, structs))
                    .collect(),
            )
        }
    }
}

fn to_value(v: &V, ty: &Ty, structs: &[StructDef]) -> Value {
    match (v, ty) {
        (V::Int(x), Ty::Int { signed: true, .. }) => Value::Int(*x as i64),
        (V::Int(x), _) => Value::UInt(*x),
        (V::Str(s), _) => Value::Str(s.clone()),
        (V::Tuple(items), Ty::Tuple(tys)) => Value::Tuple(
            items
                .iter()
                .zip(tys)
                .map(|(v, t)| to_value(v, t, structs))
                .collect(),
        ),
        (V::Tuple(items), _) => {
            Value::Tuple(items.iter().map(|v| to_value(v, &U64, structs)).collect())
        }
        (V::Seq(items), Ty::Record(k)) => Value::Record(
            items
                .iter()
                .zip(&structs[*k].members)
                .map(|(v, (name, t))| (name.clone(), to_value(v, &c_ty(t), structs)))
                .collect(),
        ),
        (V::Seq(items), Ty::Array(e, _)) => {
            Value::Array(items.iter().map(|v| to_value(v, e, structs)).collect())
        }
        (V::Seq(items), _) => {
            Value::Array(items.iter().map(|v| to_value(v, &U64, structs)).collect())
        }
    }
}

struct Machine<'s> {
    structs: &'s [StructDef],
    /// The script's data and its NUL.
    mem: Vec<u8>,
    vars: [V; 5],
    maps: BTreeMap<usize, BTreeMap<Vec<V>, V>>,
    out: Vec<u8>,
}

/// Truncates `v` to `size` bytes and sign- or zero-extends it back to 64 bits.
fn cast(v: u64, size: u8, signed: bool) -> u64 {
    if size >= 8 {
        return v;
    }
    let shift = 64 - 8 * u32::from(size);
    if signed {
        (((v << shift) as i64) >> shift) as u64
    } else {
        (v << shift) >> shift
    }
}

/// `/` and `%` as rtrace computes them: eBPF's unsigned rules (x / 0 = 0, x % 0 = x), and for
/// signed operands C's truncation toward zero built on the magnitudes.
fn divmod(a: u64, b: u64, div: bool, signed: bool) -> u64 {
    let op = |x: u64, y: u64| match (div, y) {
        (true, 0) => 0,
        (true, _) => x / y,
        (false, 0) => x,
        (false, _) => x % y,
    };
    if !signed {
        return op(a, b);
    }
    let (sa, sb) = (a as i64, b as i64);
    let r = op(sa.unsigned_abs(), sb.unsigned_abs());
    let negate = if div { (sa < 0) != (sb < 0) } else { sa < 0 };
    if negate {
        r.wrapping_neg()
    } else {
        r
    }
}

fn arith(op: Op, a: u64, b: u64, signed: bool) -> u64 {
    let (sa, sb) = (a as i64, b as i64);
    let bool_of = |x: bool| u64::from(x);
    match op {
        Op::Add => a.wrapping_add(b),
        Op::Sub => a.wrapping_sub(b),
        Op::Mul => a.wrapping_mul(b),
        Op::Div => divmod(a, b, true, signed),
        Op::Mod => divmod(a, b, false, signed),
        Op::And => a & b,
        Op::Or => a | b,
        Op::Xor => a ^ b,
        Op::Shl => a.wrapping_shl(b as u32),
        Op::Shr if signed => sa.wrapping_shr(b as u32) as u64,
        Op::Shr => a.wrapping_shr(b as u32),
        Op::Lt if signed => bool_of(sa < sb),
        Op::Le if signed => bool_of(sa <= sb),
        Op::Gt if signed => bool_of(sa > sb),
        Op::Ge if signed => bool_of(sa >= sb),
        Op::Lt => bool_of(a < b),
        Op::Le => bool_of(a <= b),
        Op::Gt => bool_of(a > b),
        Op::Ge => bool_of(a >= b),
        Op::Eq => bool_of(a == b),
        Op::Ne => bool_of(a != b),
        Op::LAnd => bool_of(a != 0 && b != 0),
        Op::LOr => bool_of(a != 0 || b != 0),
    }
}

impl Machine<'_> {
    /// Runs statements; false once `exit()` ran.
    fn block(&mut self, stmts: &[TS]) -> Result<bool, String> {
        for s in stmts {
            match s {
                TS::Assign(v, e) => self.vars[*v] = self.eval(e),
                TS::Store(m, keys, e) => {
                    let k: Vec<V> = keys.iter().map(|k| self.eval(k)).collect();
                    let v = self.eval(e);
                    self.maps.entry(*m).or_default().insert(k, v);
                }
                TS::If(c, t, f) => {
                    let taken = if self.eval(c).int() != 0 { t } else { f };
                    if !self.block(taken)? {
                        return Ok(false);
                    }
                }
                TS::Printf(fmt, args) => {
                    let mut vals = Vec::new();
                    for a in args {
                        let v = self.eval(a);
                        vals.push(to_value(&v, &a.ty, self.structs));
                    }
                    printf::format_into(&mut self.out, fmt, &vals)?;
                }
                TS::Print(e) => {
                    let v = self.eval(e);
                    print::write_value(&mut self.out, &to_value(&v, &e.ty, self.structs));
                    self.out.push(b'\n');
                }
                TS::Exit => return Ok(false),
            }
        }
        Ok(true)
    }

    /// An expression's value; operands are evaluated left to right, `&&`, `||` and `?:`
    /// evaluate only what they need (`++` and `--` change variables and maps on the way).
    fn eval(&mut self, e: &TE) -> V {
        match &e.kind {
            TK::Int(v) => V::Int(*v),
            TK::Str(s) => V::Str(s.clone()),
            TK::Var(v) => self.vars[*v].clone(),
            TK::Map(m, keys) => {
                let k: Vec<V> = keys.iter().map(|k| self.eval(k)).collect();
                self.maps
                    .get(m)
                    .and_then(|entries| entries.get(&k))
                    .cloned()
                    .unwrap_or_else(|| zero_of(&e.ty, self.structs))
            }
            TK::Cast(x) => {
                let Ty::Int { size, signed } = e.ty else {
                    return V::Int(0);
                };
                V::Int(cast(self.eval(x).int(), size, signed))
            }
            TK::Unary(op, x) => {
                let v = self.eval(x).int();
                V::Int(match op {
                    Un::Neg => v.wrapping_neg(),
                    Un::BitNot => !v,
                    Un::Not => u64::from(v == 0),
                })
            }
            TK::Binary(op @ (Op::LAnd | Op::LOr), _, l, r) => {
                let a = self.eval(l).int() != 0;
                let b = if a == (*op == Op::LAnd) {
                    self.eval(r).int() != 0
                } else {
                    a
                };
                V::Int(u64::from(b))
            }
            TK::Binary(op, signed, l, r) => {
                let a = self.eval(l).int();
                let b = self.eval(r).int();
                V::Int(arith(*op, a, b, *signed))
            }
            TK::StrEq(negate, l, r) => {
                // As bpftrace 0.17 (and rtrace) compare: the first min(size) bytes of the two
                // zero-padded buffers, so a `char[5]` without a NUL equals any longer string
                // that starts with its 5 bytes.
                let n = str_size(&l.ty).min(str_size(&r.ty)) as usize;
                let (a, b) = (self.eval(l), self.eval(r));
                let padded = |v: &V| match v {
                    V::Str(s) => (0..n).map(|i| s.get(i).copied().unwrap_or(0)).collect(),
                    _ => Vec::new(),
                };
                let eq = padded(&a) == padded(&b);
                V::Int(u64::from(eq != *negate))
            }
            TK::Ternary(c, t, f) => {
                if self.eval(c).int() != 0 {
                    self.eval(t)
                } else {
                    self.eval(f)
                }
            }
            TK::Tuple(items) => V::Tuple(items.iter().map(|x| self.eval(x)).collect()),
            TK::Field(x, i) => match self.eval(x) {
                V::Tuple(mut items) if *i < items.len() => items.swap_remove(*i),
                _ => V::Int(0),
            },
            TK::Member(x, i) => match self.eval(x) {
                V::Seq(mut items) if *i < items.len() => items.swap_remove(*i),
                _ => V::Int(0),
            },
            TK::IncVar(v, prefix, up) => {
                let old = self.vars[*v].int();
                let new = if *up {
                    old.wrapping_add(1)
                } else {
                    old.wrapping_sub(1)
                };
                self.vars[*v] = V::Int(new);
                V::Int(if *prefix { new } else { old })
            }
            TK::IncMap(m, keys, prefix, up) => {
                let k: Vec<V> = keys.iter().map(|k| self.eval(k)).collect();
                let entries = self.maps.entry(*m).or_default();
                let old = entries.get(&k).map_or(0, V::int);
                let new = if *up {
                    old.wrapping_add(1)
                } else {
                    old.wrapping_sub(1)
                };
                entries.insert(k, V::Int(new));
                V::Int(if *prefix { new } else { old })
            }
            TK::Mem(at, t) => read_c(&self.mem, *at, t, self.structs),
            TK::StrRead(off, chars) => V::Str(
                self.mem
                    .iter()
                    .skip(*off as usize)
                    .take(*chars)
                    .take_while(|&&b| b != 0)
                    .copied()
                    .collect(),
            ),
        }
    }
}

/// Checks that `script` is one the generator may produce (well typed, every variable assigned
/// on every path before use) and returns its exact expected stdout.
pub fn expected(script: &Script) -> Result<String, String> {
    let mut typer = Typer {
        structs: script.structs.clone(),
        strlen: script.strlen.unwrap_or(64),
        ..Typer::default()
    };
    // Passes until no variable or map type widens any more, as the checker makes them; the
    // last one types the program with the settled types.
    let mut typed = typer.block(&script.body, 0)?.0;
    for _ in 0..16 {
        let before = (
            typer.vars.clone(),
            typer.map_keys.clone(),
            typer.map_vals.clone(),
        );
        typed = typer.block(&script.body, 0)?.0;
        if before
            == (
                typer.vars.clone(),
                typer.map_keys.clone(),
                typer.map_vals.clone(),
            )
        {
            break;
        }
    }
    let mut m = Machine {
        structs: &script.structs,
        mem: script.memory(),
        vars: [V::Int(0), V::Int(0), V::Int(0), V::Int(0), V::Int(0)],
        maps: BTreeMap::new(),
        out: Vec::new(),
    };
    m.block(&typed)?;
    let mut dumps = Vec::new();
    for (id, vty) in &typer.map_vals {
        let kty = typer.map_keys.get(id).cloned().unwrap_or_default();
        let entries = m
            .maps
            .get(id)
            .map(|entries| {
                entries
                    .iter()
                    .map(|(k, v)| {
                        let key = match kty.len() {
                            0 => None,
                            1 => Some(to_value(&k[0], &kty[0], &script.structs)),
                            _ => Some(Value::Tuple(
                                k.iter()
                                    .zip(&kty)
                                    .map(|(v, t)| to_value(v, t, &script.structs))
                                    .collect(),
                            )),
                        };
                        (key, MapValue::Scalar(to_value(v, vty, &script.structs)))
                    })
                    .collect()
            })
            .unwrap_or_default();
        dumps.push(MapDump {
            name: format!("@m{id}"),
            kind: AggKind::Plain,
            entries,
        });
    }
    let mut out = print::attaching(1).into_bytes();
    out.extend_from_slice(&m.out);
    print::write_maps_at_exit(&mut out, &dumps);
    Ok(String::from_utf8_lossy(&out).into_owned())
}
