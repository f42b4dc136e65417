//! The generator: a seeded random BEGIN script over integers of every width and sign, strings, tuples, variables and maps.

use super::rng::Rng;
use super::script::{Expr, IntTy, Op, Script, Stmt, Un};

/// What kind of value a variable or map holds (its exact type comes from the reference typer).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cat {
    Int,
    Str,
    Tuple(Vec<Cat>),
}

#[derive(Clone, Debug)]
struct MapShape {
    keys: Vec<Cat>,
    value: Cat,
    /// A store to it has been generated (reads come only after one).
    stored: bool,
}

struct Gen {
    rng: Rng,
    vars: [Option<Cat>; 5],
    maps: Vec<MapShape>,
    printfs: usize,
    /// Map lookups in the current statement: each holds a key slot until the statement ends,
    /// and the 512-byte stack must hold them all.
    lookups: usize,
    /// While generating a value for this variable, prefer reading it (self-referencing
    /// assignments such as `$d = @m[$d]` stress in-place writes).
    prefer: Option<usize>,
}

/// Map lookups allowed in one statement.
const MAX_LOOKUPS: usize = 4;

const CASTS: [IntTy; 8] = [
    IntTy {
        size: 1,
        signed: true,
    },
    IntTy {
        size: 1,
        signed: false,
    },
    IntTy {
        size: 2,
        signed: true,
    },
    IntTy {
        size: 2,
        signed: false,
    },
    IntTy {
        size: 4,
        signed: true,
    },
    IntTy {
        size: 4,
        signed: false,
    },
    IntTy {
        size: 8,
        signed: true,
    },
    IntTy {
        size: 8,
        signed: false,
    },
];

const ARITH: [Op; 10] = [
    Op::Add,
    Op::Sub,
    Op::Mul,
    Op::Div,
    Op::Mod,
    Op::And,
    Op::Or,
    Op::Xor,
    Op::Shl,
    Op::Shr,
];

const COMPARE: [Op; 6] = [Op::Lt, Op::Le, Op::Gt, Op::Ge, Op::Eq, Op::Ne];

/// Integer conversions: the low 32 bits (`%d %u %x`) or all 64 (`%ld %lu %lx`).
const INT_CONVS: [&str; 7] = ["%ld", "%lu", "%d", "%u", "%x", "%lx", "%lld"];

const WORDS: [&str; 12] = [
    "",
    "a",
    "b",
    "ab",
    "abc",
    "key",
    "hello",
    "hellp",
    "abcdefg",
    "abcdefgh",
    "abcdefghijk",
    "zzzzzzzzzzzzzzz",
];

/// Literals near the edges of every width.
const EDGES: [u64; 34] = [
    0,
    1,
    2,
    3,
    5,
    7,
    8,
    31,
    32,
    63,
    64,
    100,
    127,
    128,
    255,
    256,
    1000,
    32767,
    32768,
    65535,
    65536,
    0x7fff_ffff,
    0x8000_0000,
    0x8000_0001,
    0xffff_ffff,
    0x1_0000_0000,
    0x1_0000_0001,
    5_000_000_000,
    0x7fff_ffff_ffff_ffff,
    0x8000_0000_0000_0000,
    0x8000_0000_0000_0001,
    u64::MAX,
    u64::MAX - 1,
    1_000_000_007,
];

/// The script of one seed.
pub fn script(seed: u64) -> Script {
    let mut rng = Rng::new(seed);
    let nmaps = 1 + rng.below(4);
    let mut maps = Vec::new();
    for _ in 0..nmaps {
        let nkeys = rng.below(3);
        let keys = (0..nkeys)
            .map(|_| if rng.chance(2, 3) { Cat::Int } else { Cat::Str })
            .collect();
        let value = match rng.below(10) {
            0..=5 => Cat::Int,
            6..=7 => Cat::Str,
            _ => tuple_cat(&mut rng),
        };
        maps.push(MapShape {
            keys,
            value,
            stored: false,
        });
    }
    let mut g = Gen {
        rng,
        vars: Default::default(),
        maps,
        printfs: 0,
        lookups: 0,
        prefer: None,
    };
    let n = 8 + g.rng.below(12);
    let (mut body, _) = g.block(n, 0, 0);
    body.push(Stmt::Exit);
    Script { nmaps, body }
}

fn tuple_cat(rng: &mut Rng) -> Cat {
    let n = 2 + rng.below(2);
    Cat::Tuple(
        (0..n)
            .map(|_| if rng.chance(2, 3) { Cat::Int } else { Cat::Str })
            .collect(),
    )
}

impl Gen {
    /// `n` statements; `defined` is the bit set of variables assigned on every path so far.
    fn block(&mut self, n: usize, depth: usize, mut defined: u8) -> (Vec<Stmt>, u8) {
        let mut out = Vec::new();
        for _ in 0..n {
            defined = self.stmt(depth, defined, &mut out);
        }
        (out, defined)
    }

    fn stmt(&mut self, depth: usize, defined: u8, out: &mut Vec<Stmt>) -> u8 {
        self.lookups = 0;
        match self.rng.below(100) {
            0..=29 => {
                let n = 1 + self.rng.below(3);
                let mut fmt = format!("p{}:", self.printfs);
                let mut args = Vec::new();
                for _ in 0..n {
                    fmt.push(' ');
                    let conv = *self.rng.pick(&INT_CONVS);
                    fmt.push_str(conv);
                    args.push(self.int(3, defined));
                }
                fmt.push('\n');
                self.printfs += 1;
                out.push(Stmt::Printf(fmt, args));
                defined
            }
            30..=37 => {
                let fmt = format!("s{}: %s\n", self.printfs);
                self.printfs += 1;
                let s = self.string(2, defined);
                out.push(Stmt::Printf(fmt, vec![s]));
                defined
            }
            38..=55 => {
                let v = self.rng.below(5);
                let cat = match &self.vars[v] {
                    Some(c) => c.clone(),
                    None => {
                        let c = match self.rng.below(10) {
                            0..=6 => Cat::Int,
                            7..=8 => Cat::Str,
                            _ => tuple_cat(&mut self.rng),
                        };
                        self.vars[v] = Some(c.clone());
                        c
                    }
                };
                if self.rng.chance(1, 3) {
                    self.prefer = Some(v);
                }
                let value = self.value(&cat, 3, defined);
                self.prefer = None;
                out.push(Stmt::Assign(v, value));
                let defined = defined | 1 << v;
                if self.rng.chance(1, 2) {
                    self.print_var(v, defined, out);
                }
                defined
            }
            56..=61 => self.op_assign(defined, out),
            62..=79 => {
                let m = self.rng.below(self.maps.len());
                let shape = self.maps[m].clone();
                let keys = self.keys(&shape.keys, defined);
                let value = self.value(&shape.value, 2, defined);
                out.push(Stmt::Store(m, keys, value));
                self.maps[m].stored = true;
                defined
            }
            80..=97 if depth < 2 => {
                let cond = self.int(3, defined);
                let n = 1 + self.rng.below(4);
                let (then, d1) = self.block(n, depth + 1, defined);
                let n = self.rng.below(4);
                let (els, d2) = self.block(n, depth + 1, defined);
                out.push(Stmt::If(cond, then, els));
                if els_empty(&out[out.len() - 1]) {
                    defined
                } else {
                    d1 & d2
                }
            }
            98 if depth > 0 => {
                out.push(Stmt::Exit);
                defined
            }
            _ => {
                let n = 1 + self.rng.below(2);
                let args = (0..n).map(|_| self.int(4, defined)).collect();
                let fmt = format!("q{}:{}\n", self.printfs, " %ld".repeat(n));
                self.printfs += 1;
                out.push(Stmt::Printf(fmt, args));
                defined
            }
        }
    }

    /// `$v op= e`, `$v++`, `@m[k] op= e` or `@m[k]--` on an integer variable or map; the
    /// variable's new value is printed.
    fn op_assign(&mut self, defined: u8, out: &mut Vec<Stmt>) -> u8 {
        let op = *self.rng.pick(&ARITH);
        let rhs = if matches!(op, Op::Add | Op::Sub) && self.rng.chance(1, 3) {
            None
        } else if matches!(op, Op::Shl | Op::Shr) {
            Some(self.shift_count(1, defined))
        } else {
            Some(self.int(2, defined))
        };
        let vars = self.vars_of(&Cat::Int, defined);
        if !vars.is_empty() && self.rng.chance(1, 2) {
            let v = *self.rng.pick(&vars);
            out.push(Stmt::VarOp(v, op, rhs));
            self.print_var(v, defined, out);
            return defined;
        }
        let maps: Vec<usize> = (0..self.maps.len())
            .filter(|&m| self.maps[m].value == Cat::Int)
            .collect();
        if let Some(&m) = maps.get(self.rng.below(maps.len().max(1))) {
            let keys = self.keys(&self.maps[m].keys.clone(), defined);
            out.push(Stmt::MapOp(m, keys, op, rhs));
            self.maps[m].stored = true;
        }
        defined
    }

    /// Prints a variable's value: ints with `%ld`, strings with `%s`, tuples field by field.
    fn print_var(&mut self, v: usize, defined: u8, out: &mut Vec<Stmt>) {
        let Some(cat) = self.vars[v].clone() else {
            return;
        };
        let _ = defined;
        let (fmt, args) = match &cat {
            Cat::Int => ("%ld".to_string(), vec![Expr::Var(v)]),
            Cat::Str => ("%s".to_string(), vec![Expr::Var(v)]),
            Cat::Tuple(elems) => {
                let convs: Vec<&str> = elems
                    .iter()
                    .map(|c| if *c == Cat::Str { "%s" } else { "%lu" })
                    .collect();
                let args = (0..elems.len())
                    .map(|i| Expr::Field(Box::new(Expr::Var(v)), i))
                    .collect();
                (convs.join(" "), args)
            }
        };
        out.push(Stmt::Printf(format!("v{}: {fmt}\n", self.printfs), args));
        self.printfs += 1;
    }

    fn keys(&mut self, cats: &[Cat], defined: u8) -> Vec<Expr> {
        cats.iter()
            .map(|c| match c {
                Cat::Str if self.rng.chance(1, 2) => Expr::Str(
                    self.rng
                        .pick(&["a", "b", "key", "abcdefghij"])
                        .as_bytes()
                        .to_vec(),
                ),
                Cat::Str => self.string(1, defined),
                _ if self.rng.chance(2, 3) => {
                    let v = *self.rng.pick(&[0u64, 1, 2, 3, 0x8000_0000_0000_0000]);
                    if self.rng.chance(1, 4) {
                        Expr::Unary(Un::Neg, Box::new(Expr::Int(v)))
                    } else {
                        Expr::Int(v)
                    }
                }
                _ => self.int(1, defined),
            })
            .collect()
    }

    fn value(&mut self, cat: &Cat, depth: usize, defined: u8) -> Expr {
        match cat {
            Cat::Int => self.int(depth, defined),
            Cat::Str => self.string(depth.min(2), defined),
            Cat::Tuple(elems) => self.tuple(elems, defined),
        }
    }

    fn tuple(&mut self, elems: &[Cat], defined: u8) -> Expr {
        let cat = Cat::Tuple(elems.to_vec());
        if self.rng.chance(1, 3) {
            let vars = self.vars_of(&cat, defined);
            let maps = self.maps_of(&cat);
            let n = vars.len() + maps.len();
            if n > 0 {
                let i = self.rng.below(n);
                if i < vars.len() {
                    return Expr::Var(vars[i]);
                }
                if let Some(e) = self.map_read(maps[i - vars.len()], defined) {
                    return e;
                }
            }
        }
        if self.rng.chance(1, 8) {
            let c = self.int(1, defined);
            let t = self.tuple_literal(elems, defined);
            let f = self.tuple_literal(elems, defined);
            return Expr::Ternary(Box::new(c), Box::new(t), Box::new(f));
        }
        self.tuple_literal(elems, defined)
    }

    /// `@mN[keys]`, unless the statement has used its lookups.
    fn map_read(&mut self, m: usize, defined: u8) -> Option<Expr> {
        if self.lookups >= MAX_LOOKUPS {
            return None;
        }
        self.lookups += 1;
        let keys = self.keys(&self.maps[m].keys.clone(), defined);
        Some(Expr::Map(m, keys))
    }

    fn tuple_literal(&mut self, elems: &[Cat], defined: u8) -> Expr {
        Expr::Tuple(elems.iter().map(|c| self.value(c, 2, defined)).collect())
    }

    fn vars_of(&self, cat: &Cat, defined: u8) -> Vec<usize> {
        let all: Vec<usize> = (0..5)
            .filter(|&v| defined & 1 << v != 0 && self.vars[v].as_ref() == Some(cat))
            .collect();
        match self.prefer {
            Some(p) if all.contains(&p) => vec![p],
            _ => all,
        }
    }

    fn maps_of(&self, cat: &Cat) -> Vec<usize> {
        (0..self.maps.len())
            .filter(|&m| self.maps[m].stored && self.maps[m].value == *cat)
            .collect()
    }

    /// `x.i` for a tuple variable or map with an element of kind `want`.
    fn field(&mut self, want: &Cat, defined: u8) -> Option<Expr> {
        // (variable or map, is a map, element index)
        let mut found = Vec::new();
        for v in 0..5 {
            if defined & 1 << v == 0 {
                continue;
            }
            if let Some(Cat::Tuple(elems)) = &self.vars[v] {
                for (i, c) in elems.iter().enumerate() {
                    if c == want {
                        found.push((v, false, i));
                    }
                }
            }
        }
        for m in 0..self.maps.len() {
            if !self.maps[m].stored {
                continue;
            }
            if let Cat::Tuple(elems) = &self.maps[m].value {
                for (i, c) in elems.iter().enumerate() {
                    if c == want {
                        found.push((m, true, i));
                    }
                }
            }
        }
        if found.is_empty() {
            return None;
        }
        let (n, is_map, idx) = found[self.rng.below(found.len())];
        let base = if is_map {
            self.map_read(n, defined)?
        } else {
            Expr::Var(n)
        };
        Some(Expr::Field(Box::new(base), idx))
    }

    fn literal(&mut self) -> Expr {
        let v = match self.rng.below(10) {
            0..=5 => *self.rng.pick(&EDGES),
            6..=7 => self.rng.below(300) as u64,
            8 => self.rng.next_u64() >> self.rng.below(64),
            _ => self.rng.next_u64(),
        };
        if self.rng.chance(1, 3) {
            Expr::Unary(Un::Neg, Box::new(Expr::Int(v)))
        } else {
            Expr::Int(v)
        }
    }

    fn int_leaf(&mut self, defined: u8) -> Expr {
        for _ in 0..4 {
            match self.rng.below(10) {
                0..=3 => return self.literal(),
                4..=6 => {
                    let vars = self.vars_of(&Cat::Int, defined);
                    if !vars.is_empty() {
                        return Expr::Var(*self.rng.pick(&vars));
                    }
                }
                7..=8 => {
                    let maps = self.maps_of(&Cat::Int);
                    if !maps.is_empty() {
                        let m = *self.rng.pick(&maps);
                        if let Some(e) = self.map_read(m, defined) {
                            return e;
                        }
                    }
                }
                _ => {
                    if let Some(f) = self.field(&Cat::Int, defined) {
                        return f;
                    }
                }
            }
        }
        self.literal()
    }

    fn int(&mut self, depth: usize, defined: u8) -> Expr {
        if depth == 0 || self.rng.chance(1, 5) {
            return self.int_leaf(defined);
        }
        let d = depth - 1;
        match self.rng.below(100) {
            0..=17 => {
                let t = *self.rng.pick(&CASTS);
                Expr::Cast(t, Box::new(self.int(d, defined)))
            }
            18..=27 => {
                let op = *self.rng.pick(&[Un::Neg, Un::BitNot, Un::Not]);
                Expr::Unary(op, Box::new(self.int(d, defined)))
            }
            28..=59 => {
                let op = *self.rng.pick(&ARITH);
                let l = self.int(d, defined);
                let r = if matches!(op, Op::Shl | Op::Shr) {
                    self.shift_count(d, defined)
                } else {
                    self.int(d, defined)
                };
                Expr::Binary(op, Box::new(l), Box::new(r))
            }
            60..=74 => {
                let op = *self.rng.pick(&COMPARE);
                let l = self.int(d, defined);
                let r = self.int(d, defined);
                Expr::Binary(op, Box::new(l), Box::new(r))
            }
            75..=81 => {
                let op = if self.rng.chance(1, 2) {
                    Op::LAnd
                } else {
                    Op::LOr
                };
                let l = self.int(d, defined);
                let r = self.int(d, defined);
                Expr::Binary(op, Box::new(l), Box::new(r))
            }
            82..=89 => {
                let c = self.int(d, defined);
                let t = self.int(d, defined);
                let f = self.int(d, defined);
                Expr::Ternary(Box::new(c), Box::new(t), Box::new(f))
            }
            _ => {
                let op = if self.rng.chance(1, 2) {
                    Op::Eq
                } else {
                    Op::Ne
                };
                let l = self.string(1, defined);
                let r = self.string(1, defined);
                Expr::Binary(op, Box::new(l), Box::new(r))
            }
        }
    }

    /// A shift count in 0..=63: a literal, or an expression masked with `& 63`.
    fn shift_count(&mut self, depth: usize, defined: u8) -> Expr {
        if self.rng.chance(2, 3) {
            Expr::Int(self.rng.below(64) as u64)
        } else {
            let e = self.int(depth, defined);
            Expr::Binary(Op::And, Box::new(e), Box::new(Expr::Int(63)))
        }
    }

    fn string(&mut self, depth: usize, defined: u8) -> Expr {
        for _ in 0..4 {
            match self.rng.below(10) {
                0..=3 => break,
                4..=5 => {
                    let vars = self.vars_of(&Cat::Str, defined);
                    if !vars.is_empty() {
                        return Expr::Var(*self.rng.pick(&vars));
                    }
                }
                6 => {
                    let maps = self.maps_of(&Cat::Str);
                    if !maps.is_empty() {
                        let m = *self.rng.pick(&maps);
                        if let Some(e) = self.map_read(m, defined) {
                            return e;
                        }
                    }
                }
                7 => {
                    if let Some(f) = self.field(&Cat::Str, defined) {
                        return f;
                    }
                }
                _ if depth > 0 => {
                    let c = self.int(depth - 1, defined);
                    let t = self.string(depth - 1, defined);
                    let f = self.string(depth - 1, defined);
                    return Expr::Ternary(Box::new(c), Box::new(t), Box::new(f));
                }
                _ => {}
            }
        }
        Expr::Str(self.rng.pick(&WORDS).as_bytes().to_vec())
    }
}

fn els_empty(s: &Stmt) -> bool {
    matches!(s, Stmt::If(_, _, els) if els.is_empty())
}
