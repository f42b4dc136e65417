//! The generator: a seeded random BEGIN script over integers of every width and sign, strings of every length, tuples, C structs and arrays read from memory, `++`/`--` in expressions, variables and maps.

use super::rng::Rng;
use super::script::{
    c_layout, member_offsets, CType, Expr, IntTy, Op, Script, Step, Stmt, StructDef, Un,
};

/// What kind of value a variable or map holds (its exact type comes from the reference typer).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cat {
    Int,
    Str,
    Tuple(Vec<Cat>),
    /// `struct S{k}`.
    Rec(usize),
    /// A C array of this type (integers or structs).
    Arr(CType),
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
    structs: Vec<StructDef>,
    /// Bytes of readable memory: the data and its NUL.
    mem_len: u32,
    /// `BPFTRACE_STRLEN`.
    strlen: u32,
    /// Every (struct, path, type) a read through a pointer may take.
    paths: Vec<(usize, Vec<Step>, CType)>,
    /// `++` and `--` may appear in the expression being generated.
    side_ok: bool,
    /// Generating map keys: no long literals (every key of the map would take their size,
    /// and the stack is 512 bytes).
    in_keys: bool,
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

/// Map lookups allowed in one statement (fewer with long strings: keys take their size).
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

/// C spellings of each integer type a struct member may be declared with.
const C_INTS: [(&str, IntTy); 16] = [
    ("char", int_ty(1, true)),
    ("signed char", int_ty(1, true)),
    ("int8_t", int_ty(1, true)),
    ("unsigned char", int_ty(1, false)),
    ("uint8_t", int_ty(1, false)),
    ("short", int_ty(2, true)),
    ("int16_t", int_ty(2, true)),
    ("unsigned short", int_ty(2, false)),
    ("uint16_t", int_ty(2, false)),
    ("int", int_ty(4, true)),
    ("unsigned int", int_ty(4, false)),
    ("uint32_t", int_ty(4, false)),
    ("long", int_ty(8, true)),
    ("long long", int_ty(8, true)),
    ("unsigned long", int_ty(8, false)),
    ("uint64_t", int_ty(8, false)),
];

const fn int_ty(size: u8, signed: bool) -> IntTy {
    IntTy { size, signed }
}

/// `BPFTRACE_STRLEN` for a script: unset (64) or anything from 1 to 200, small ones often.
fn strlen(rng: &mut Rng) -> Option<u32> {
    match rng.below(8) {
        0..=1 => None,
        2 => Some(1 + rng.below(8) as u32),
        3..=4 => Some(1 + rng.below(64) as u32),
        _ => Some(1 + rng.below(200) as u32),
    }
}

/// The data: non-NUL bytes, mostly printable, starting with a letter (never an option).
fn data(rng: &mut Rng) -> Vec<u8> {
    let n = 40 + rng.below(260);
    let mut d = vec![b'a' + rng.below(26) as u8];
    for _ in 1..n {
        d.push(if rng.chance(4, 5) {
            0x20 + rng.below(95) as u8
        } else {
            1 + rng.below(255) as u8
        });
    }
    d
}

/// Up to three structs, each using integers of every spelling, char arrays, integer arrays
/// and the structs before it (also as arrays); none larger than the memory.
fn structs(rng: &mut Rng, mem_len: u32) -> Vec<StructDef> {
    let mut out: Vec<StructDef> = Vec::new();
    for _ in 0..rng.below(4) {
        let mut members = Vec::new();
        for i in 0..1 + rng.below(6) {
            let int = |rng: &mut Rng| {
                let (spelling, t) = *rng.pick(&C_INTS);
                CType::Int(t, spelling)
            };
            let elem = |rng: &mut Rng| {
                let (spelling, t) = *rng.pick(&C_INTS[1..]);
                CType::Int(t, spelling)
            };
            let t = match rng.below(10) {
                0..=3 => int(rng),
                4..=5 => CType::Chars(1 + rng.below(24) as u32),
                // `char x[N]` is a string, not an array.
                6..=7 => CType::Array(Box::new(elem(rng)), 1 + rng.below(4) as u32),
                8 if !out.is_empty() => CType::Struct(rng.below(out.len())),
                9 if !out.is_empty() => CType::Array(
                    Box::new(CType::Struct(rng.below(out.len()))),
                    1 + rng.below(2) as u32,
                ),
                _ => int(rng),
            };
            members.push((format!("f{i}"), t));
            out.push(StructDef {
                members: members.clone(),
            });
            let k = out.len() - 1;
            let too_big = member_offsets(&out, k).1 > mem_len;
            out.pop();
            if too_big {
                members.pop();
                break;
            }
        }
        if members.is_empty() {
            break;
        }
        out.push(StructDef { members });
    }
    out
}

/// Every path into struct `k` (the empty path is the whole struct), with its C type.
fn paths_of(structs: &[StructDef], k: usize) -> Vec<(Vec<Step>, CType)> {
    fn walk_into(
        structs: &[StructDef],
        t: &CType,
        path: Vec<Step>,
        out: &mut Vec<(Vec<Step>, CType)>,
    ) {
        out.push((path.clone(), t.clone()));
        match t {
            CType::Struct(k) => {
                for (i, (_, m)) in structs[*k].members.iter().enumerate() {
                    let mut p = path.clone();
                    p.push(Step::Member(i));
                    walk_into(structs, m, p, out);
                }
            }
            CType::Array(e, n) => {
                for i in 0..*n {
                    let mut p = path.clone();
                    p.push(Step::Index(i));
                    walk_into(structs, e, p, out);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk_into(structs, &CType::Struct(k), Vec::new(), &mut out);
    out
}

/// The script of one seed.
pub fn script(seed: u64) -> Script {
    let mut rng = Rng::new(seed);
    // Half the scripts read memory (C structs and str() of every length): those need the
    // kernel's BTF for `curtask`, which costs each run about 10 ms more.
    let (strlen, data, structs) = if rng.chance(1, 2) {
        let strlen = strlen(&mut rng);
        let data = data(&mut rng);
        let structs = structs(&mut rng, data.len() as u32 + 1);
        (strlen, data, structs)
    } else {
        (None, Vec::new(), Vec::new())
    };
    let mem_len = data.len() as u32 + 1;
    let mut paths = Vec::new();
    for k in 0..structs.len() {
        for (p, t) in paths_of(&structs, k) {
            paths.push((k, p, t));
        }
    }
    let nmaps = 1 + rng.below(4);
    let mut maps = Vec::new();
    for _ in 0..nmaps {
        let nkeys = rng.below(3);
        let keys = (0..nkeys)
            .map(|_| match rng.below(12) {
                0..=7 => Cat::Int,
                8..=10 => Cat::Str,
                // A struct as a key (printed `{.a=1,.b=x}`).
                _ => match mem_cat(&mut rng, &paths) {
                    Some(c @ Cat::Rec(_)) => c,
                    _ => Cat::Str,
                },
            })
            .collect();
        let value = match rng.below(12) {
            0..=5 => Cat::Int,
            6..=7 => Cat::Str,
            8..=9 => tuple_cat(&mut rng, &paths),
            _ => mem_cat(&mut rng, &paths).unwrap_or(Cat::Int),
        };
        maps.push(MapShape {
            keys,
            value,
            stored: false,
        });
    }
    let mut g = Gen {
        rng,
        structs: structs.clone(),
        mem_len,
        strlen: strlen.unwrap_or(64),
        paths,
        side_ok: false,
        in_keys: false,
        vars: Default::default(),
        maps,
        printfs: 0,
        lookups: 0,
        prefer: None,
    };
    // Reads through pointers compile to more instructions: scripts with them are shorter.
    let n = if g.mem_len > 1 {
        6 + g.rng.below(9)
    } else {
        8 + g.rng.below(12)
    };
    let (mut body, _) = g.block(n, 0, 0);
    body.push(Stmt::Exit);
    Script {
        nmaps,
        structs,
        strlen,
        data,
        body,
    }
}

/// A struct or an array type some read can produce.
fn mem_cat(rng: &mut Rng, paths: &[(usize, Vec<Step>, CType)]) -> Option<Cat> {
    let whole: Vec<&CType> = paths
        .iter()
        .map(|(_, _, t)| t)
        .filter(|t| matches!(t, CType::Struct(_) | CType::Array(..)))
        .collect();
    if whole.is_empty() {
        return None;
    }
    Some(match rng.pick(&whole) {
        CType::Struct(k) => Cat::Rec(*k),
        t => Cat::Arr((*t).clone()),
    })
}

/// Whether `e` changes a variable or a map (`++`, `--`).
pub fn has_side_effects(e: &Expr) -> bool {
    match e {
        Expr::Incr(..) => true,
        Expr::Int(_) | Expr::Str(_) | Expr::Var(_) | Expr::Deref(..) | Expr::StrRead(..) => false,
        Expr::Map(_, keys) | Expr::Tuple(keys) => keys.iter().any(has_side_effects),
        Expr::Cast(_, x) | Expr::Unary(_, x) | Expr::Field(x, _) | Expr::Member(x, _) => {
            has_side_effects(x)
        }
        Expr::Binary(_, l, r) => has_side_effects(l) || has_side_effects(r),
        Expr::Ternary(c, t, f) => has_side_effects(c) || has_side_effects(t) || has_side_effects(f),
    }
}

/// A tuple of integers and strings, and, when the script has structs, sometimes a struct or an
/// array.
fn tuple_cat(rng: &mut Rng, paths: &[(usize, Vec<Step>, CType)]) -> Cat {
    let n = 2 + rng.below(2);
    Cat::Tuple(
        (0..n)
            .map(|_| match rng.below(12) {
                0..=7 => Cat::Int,
                8..=10 => Cat::Str,
                _ => mem_cat(rng, paths).unwrap_or(Cat::Int),
            })
            .collect(),
    )
}

impl Gen {
    /// Map lookups one statement may make: each holds its key on the stack until the statement
    /// ends, and keys holding str() take BPFTRACE_STRLEN bytes.
    fn max_lookups(&self) -> usize {
        match self.strlen {
            0..=40 => MAX_LOOKUPS,
            41..=100 => MAX_LOOKUPS - 1,
            _ => MAX_LOOKUPS - 2,
        }
    }

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
        // `++` and `--` go where the order of evaluation is plain left to right: printf
        // arguments, assigned values, conditions; never in keys or compound assignments.
        self.side_ok = true;
        let d = self.stmt_inner(depth, defined, out);
        self.side_ok = false;
        d
    }

    fn stmt_inner(&mut self, depth: usize, defined: u8, out: &mut Vec<Stmt>) -> u8 {
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
                        let c = match self.rng.below(12) {
                            0..=6 => Cat::Int,
                            7..=8 => Cat::Str,
                            9..=10 => tuple_cat(&mut self.rng, &self.paths),
                            _ => match mem_cat(&mut self.rng, &self.paths) {
                                Some(c @ Cat::Rec(_)) => c,
                                _ => Cat::Int,
                            },
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
                let value = self.value(&shape.value, 2, defined);
                // The value's `++` must not change what the keys read.
                let keys = if has_side_effects(&value) {
                    self.literal_keys(&shape.keys)
                } else {
                    self.keys(&shape.keys, defined)
                };
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
        self.side_ok = false;
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
        // print() shows any value: structs and arrays too, alone or in tuples.
        let whole = matches!(cat, Cat::Rec(_) | Cat::Arr(_))
            || matches!(&cat, Cat::Tuple(e) if e.iter().any(|c| matches!(c, Cat::Rec(_) | Cat::Arr(_))));
        if whole || self.rng.chance(1, 6) {
            out.push(Stmt::Print(Expr::Var(v)));
            return;
        }
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
            // Its integer and string members.
            Cat::Rec(k) => {
                let mut convs = Vec::new();
                let mut args = Vec::new();
                for (name, t) in &self.structs[*k].members {
                    let conv = match t {
                        CType::Int(..) => "%ld",
                        CType::Chars(_) => "%s",
                        _ => continue,
                    };
                    convs.push(conv);
                    args.push(Expr::Member(Box::new(Expr::Var(v)), name.clone()));
                }
                if args.is_empty() {
                    return;
                }
                (convs.join(" "), args)
            }
            Cat::Arr(_) => return,
        };
        out.push(Stmt::Printf(format!("v{}: {fmt}\n", self.printfs), args));
        self.printfs += 1;
    }

    /// Keys that read nothing.
    fn literal_keys(&mut self, cats: &[Cat]) -> Vec<Expr> {
        cats.iter()
            .map(|c| match c {
                Cat::Str => Expr::Str(self.rng.pick(&WORDS).as_bytes().to_vec()),
                // A read of memory changes nothing.
                Cat::Rec(_) => self
                    .deref(|t| matches!((t, c), (CType::Struct(a), Cat::Rec(b)) if a == b))
                    .unwrap_or(Expr::Int(0)),
                _ => Expr::Int(self.rng.below(4) as u64),
            })
            .collect()
    }

    fn keys(&mut self, cats: &[Cat], defined: u8) -> Vec<Expr> {
        let side_ok = std::mem::replace(&mut self.side_ok, false);
        let in_keys = std::mem::replace(&mut self.in_keys, true);
        let keys = self.keys_inner(cats, defined);
        self.side_ok = side_ok;
        self.in_keys = in_keys;
        keys
    }

    fn keys_inner(&mut self, cats: &[Cat], defined: u8) -> Vec<Expr> {
        cats.iter()
            .map(|c| match c {
                Cat::Str if self.rng.chance(1, 2) => Expr::Str(
                    self.rng
                        .pick(&["a", "b", "key", "abcdefghij"])
                        .as_bytes()
                        .to_vec(),
                ),
                Cat::Str => self.string(1, defined),
                Cat::Rec(_) => self
                    .deref(|t| matches!((t, c), (CType::Struct(a), Cat::Rec(b)) if a == b))
                    .unwrap_or(Expr::Int(0)),
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
            Cat::Rec(_) | Cat::Arr(_) => self.mem_value(cat, defined),
        }
    }

    /// One time in three, a variable or map entry of category `cat`, if there is one.
    fn held(&mut self, cat: &Cat, defined: u8) -> Option<Expr> {
        if !self.rng.chance(1, 3) {
            return None;
        }
        let vars = self.vars_of(cat, defined);
        let maps = self.maps_of(cat);
        let n = vars.len() + maps.len();
        if n == 0 {
            return None;
        }
        let i = self.rng.below(n);
        if i < vars.len() {
            return Some(Expr::Var(vars[i]));
        }
        self.map_read(maps[i - vars.len()], defined)
    }

    /// A struct or array: read through a pointer, or a variable or map of the same type, or
    /// a ternary of two.
    fn mem_value(&mut self, cat: &Cat, defined: u8) -> Expr {
        if let Some(e) = self.held(cat, defined) {
            return e;
        }
        let want = match cat {
            Cat::Rec(k) => CType::Struct(*k),
            Cat::Arr(t) => t.clone(),
            _ => CType::Chars(1),
        };
        if self.rng.chance(1, 8) {
            let c = self.int(1, defined);
            let t = self.deref(|t| t.same(&want));
            let f = self.deref(|t| t.same(&want));
            if let (Some(t), Some(f)) = (t, f) {
                return Expr::Ternary(Box::new(c), Box::new(t), Box::new(f));
            }
        }
        self.deref(|t| t.same(&want)).unwrap_or(Expr::Int(0))
    }

    /// A read through a pointer to a random struct at a random place in the memory, of a part
    /// whose C type `want` accepts.
    fn deref(&mut self, want: impl Fn(&CType) -> bool) -> Option<Expr> {
        let fits: Vec<usize> = (0..self.paths.len())
            .filter(|&i| want(&self.paths[i].2))
            .collect();
        if fits.is_empty() {
            return None;
        }
        let (k, path, _) = self.paths[*self.rng.pick(&fits)].clone();
        let size = c_layout(&self.structs, &CType::Struct(k)).0;
        let off = self.rng.below((self.mem_len - size + 1) as usize) as u32;
        Some(Expr::Deref(k, off, path))
    }

    /// `x.name` of a struct variable or map, for a member whose C type `want` accepts.
    fn member(&mut self, want: impl Fn(&CType) -> bool, defined: u8) -> Option<Expr> {
        let mut found = Vec::new();
        for v in 0..5 {
            if defined & 1 << v != 0 {
                if let Some(Cat::Rec(k)) = self.vars[v] {
                    found.push((v, false, k));
                }
            }
        }
        for m in 0..self.maps.len() {
            if let (true, Cat::Rec(k)) = (self.maps[m].stored, &self.maps[m].value) {
                found.push((m, true, *k));
            }
        }
        if found.is_empty() {
            return None;
        }
        let (n, is_map, k) = found[self.rng.below(found.len())];
        let names: Vec<String> = self.structs[k]
            .members
            .iter()
            .filter(|(_, t)| want(t))
            .map(|(n, _)| n.clone())
            .collect();
        if names.is_empty() {
            return None;
        }
        let name = self.rng.pick(&names).clone();
        let base = if is_map {
            self.map_read(n, defined)?
        } else {
            Expr::Var(n)
        };
        Some(Expr::Member(Box::new(base), name))
    }

    /// `$v++`, `--@m[k]`, ... of an integer variable or map.
    fn incr(&mut self, defined: u8) -> Option<Expr> {
        let vars = self.vars_of(&Cat::Int, defined);
        let maps: Vec<usize> = (0..self.maps.len())
            .filter(|&m| self.maps[m].value == Cat::Int)
            .collect();
        let target = if !vars.is_empty() && (maps.is_empty() || self.rng.chance(1, 2)) {
            Expr::Var(*self.rng.pick(&vars))
        } else if !maps.is_empty() && self.lookups < self.max_lookups() {
            let m = *self.rng.pick(&maps);
            let e = self.map_read(m, defined)?;
            self.maps[m].stored = true;
            e
        } else {
            return None;
        };
        let prefix = self.rng.chance(1, 2);
        let up = self.rng.chance(2, 3);
        Some(Expr::Incr(Box::new(target), prefix, up))
    }

    fn tuple(&mut self, elems: &[Cat], defined: u8) -> Expr {
        let cat = Cat::Tuple(elems.to_vec());
        if let Some(e) = self.held(&cat, defined) {
            return e;
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
        if self.lookups >= self.max_lookups() {
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
            match self.rng.below(14) {
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
                9 => {
                    if let Some(f) = self.field(&Cat::Int, defined) {
                        return f;
                    }
                }
                10..=11 => {
                    if let Some(e) = self.deref(|t| matches!(t, CType::Int(..))) {
                        return e;
                    }
                }
                12 => {
                    if let Some(e) = self.member(|t| matches!(t, CType::Int(..)), defined) {
                        return e;
                    }
                }
                _ => {
                    if self.side_ok {
                        if let Some(e) = self.incr(defined) {
                            return e;
                        }
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
            match self.rng.below(14) {
                0..=3 => break,
                // A str() takes BPFTRACE_STRLEN bytes wherever it goes (keys, values,
                // variables): the longer, the rarer; those over the 512-byte stack go to
                // scratch space.
                10..=11 if self.mem_len > 1 && self.rng.below(self.strlen as usize) < 96 => {
                    // Every length up to BPFTRACE_STRLEN - 1: from anywhere in the memory,
                    // its NUL included, sometimes cut shorter.
                    let off = self.rng.below(self.mem_len as usize) as u32;
                    let n = if self.rng.chance(1, 3) {
                        Some(self.rng.below(210) as u64)
                    } else {
                        None
                    };
                    return Expr::StrRead(off, n);
                }
                12 => {
                    if let Some(e) = self.deref(|t| matches!(t, CType::Chars(_))) {
                        return e;
                    }
                }
                13 => {
                    if let Some(e) = self.member(|t| matches!(t, CType::Chars(_)), defined) {
                        return e;
                    }
                }
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
                8..=9 if depth > 0 => {
                    let c = self.int(depth - 1, defined);
                    let t = self.string(depth - 1, defined);
                    let f = self.string(depth - 1, defined);
                    return Expr::Ternary(Box::new(c), Box::new(t), Box::new(f));
                }
                _ => {}
            }
        }
        if !self.in_keys && self.rng.chance(1, 16) {
            // A long literal: 16 to 80 letters.
            let n = 16 + self.rng.below(65);
            return Expr::Str((0..n).map(|i| b'a' + (i % 26) as u8).collect());
        }
        Expr::Str(self.rng.pick(&WORDS).as_bytes().to_vec())
    }
}

fn els_empty(s: &Stmt) -> bool {
    matches!(s, Stmt::If(_, _, els) if els.is_empty())
}
