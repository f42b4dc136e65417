//! The generated scripts' syntax tree and its bpftrace text (every compound expression parenthesised), with the C structs it declares and the memory it reads them from.

use std::fmt::Write;

/// An integer type a cast can name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IntTy {
    pub size: u8,
    pub signed: bool,
}

impl IntTy {
    pub fn name(self) -> String {
        format!("{}int{}", if self.signed { "" } else { "u" }, self.size * 8)
    }
}

/// A C type in a script's struct definitions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CType {
    /// An integer and the C spelling it was declared with (`unsigned short`, `int8_t`).
    Int(IntTy, &'static str),
    /// `char name[N]`: a string of at most N bytes.
    Chars(u32),
    /// `T name[N]` of integers or structs.
    Array(Box<CType>, u32),
    /// `struct S{k}`.
    Struct(usize),
}

impl CType {
    /// Two types are the same C type (an integer's spelling does not matter).
    pub fn same(&self, other: &CType) -> bool {
        match (self, other) {
            (CType::Int(a, _), CType::Int(b, _)) => a == b,
            (CType::Array(a, n), CType::Array(b, m)) => n == m && a.same(b),
            _ => self == other,
        }
    }
}

/// `struct S{k} { members }`, laid out as C lays it out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StructDef {
    pub members: Vec<(String, CType)>,
}

/// `size_of` and `align_of` of a C type.
pub fn c_layout(structs: &[StructDef], t: &CType) -> (u32, u32) {
    match t {
        CType::Int(i, _) => (u32::from(i.size), u32::from(i.size)),
        CType::Chars(n) => (*n, 1),
        CType::Array(e, n) => {
            let (size, align) = c_layout(structs, e);
            (size * n, align)
        }
        CType::Struct(k) => {
            let offsets = member_offsets(structs, *k);
            (offsets.1, offsets.2)
        }
    }
}

/// The members' offsets, the struct's size and its alignment.
pub fn member_offsets(structs: &[StructDef], k: usize) -> (Vec<u32>, u32, u32) {
    let mut offsets = Vec::new();
    let (mut end, mut max_align) = (0u32, 1u32);
    for (_, t) in &structs[k].members {
        let (size, align) = c_layout(structs, t);
        let at = end.div_ceil(align) * align;
        offsets.push(at);
        end = at + size;
        max_align = max_align.max(align);
    }
    (offsets, end.div_ceil(max_align) * max_align, max_align)
}

/// One step from a struct to a part of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// `.name` (`->name` first) by member index.
    Member(usize),
    /// `[i]` of an array member.
    Index(u32),
}

/// Where a read through a pointer lands: its byte offset in the struct and its C type.
pub fn walk(structs: &[StructDef], k: usize, path: &[Step]) -> Option<(u32, CType)> {
    let mut ty = CType::Struct(k);
    let mut at = 0;
    for step in path {
        match (step, &ty) {
            (Step::Member(i), CType::Struct(k)) => {
                let offsets = member_offsets(structs, *k);
                let member = structs[*k].members.get(*i)?.1.clone();
                at += offsets.0[*i];
                ty = member;
            }
            (Step::Index(i), CType::Array(e, n)) if i < n => {
                at += i * c_layout(structs, e).0;
                ty = (**e).clone();
            }
            _ => return None,
        }
    }
    Some((at, ty))
}

fn c_decl(t: &CType, name: &str) -> String {
    match t {
        CType::Int(_, spelling) => format!("{spelling} {name}"),
        CType::Chars(n) => format!("char {name}[{n}]"),
        CType::Array(e, n) => c_decl(e, &format!("{name}[{n}]")),
        CType::Struct(k) => format!("struct S{k} {name}"),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    And,
    Or,
    Xor,
    Shl,
    Shr,
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
    LAnd,
    LOr,
}

impl Op {
    pub fn symbol(self) -> &'static str {
        match self {
            Op::Add => "+",
            Op::Sub => "-",
            Op::Mul => "*",
            Op::Div => "/",
            Op::Mod => "%",
            Op::And => "&",
            Op::Or => "|",
            Op::Xor => "^",
            Op::Shl => "<<",
            Op::Shr => ">>",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Eq => "==",
            Op::Ne => "!=",
            Op::LAnd => "&&",
            Op::LOr => "||",
        }
    }

    pub fn is_compare(self) -> bool {
        matches!(self, Op::Lt | Op::Le | Op::Gt | Op::Ge | Op::Eq | Op::Ne)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Un {
    Neg,
    BitNot,
    Not,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expr {
    Int(u64),
    Str(Vec<u8>),
    /// `$a` .. `$e`.
    Var(usize),
    /// `@mN[keys]`.
    Map(usize, Vec<Expr>),
    Cast(IntTy, Box<Expr>),
    Unary(Un, Box<Expr>),
    /// Arithmetic, comparisons (strings too, for `==` and `!=`), `&&` and `||`.
    Binary(Op, Box<Expr>, Box<Expr>),
    Ternary(Box<Expr>, Box<Expr>, Box<Expr>),
    Tuple(Vec<Expr>),
    /// `x.N` of a tuple.
    Field(Box<Expr>, usize),
    /// `x.name` of a struct value.
    Member(Box<Expr>, String),
    /// `$v++`, `++$v`, `@m[k]--`, ... (target, prefix, increment) on an integer variable or map.
    Incr(Box<Expr>, bool, bool),
    /// A read through `(struct S{k} *)uptr($base + off)`: the struct at byte `off` of the
    /// script's data (`*p` when the path is empty, else `p->a.b[2]`).
    Deref(usize, u32, Vec<Step>),
    /// `str(uptr($base + off))` or `str(uptr($base + off), n)`.
    StrRead(u32, Option<u64>),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stmt {
    Assign(usize, Expr),
    Store(usize, Vec<Expr>, Expr),
    /// `$v op= e`, or `$v++` / `$v--` without `e` (op `+` or `-`).
    VarOp(usize, Op, Option<Expr>),
    /// `@mN[keys] op= e`, or `@mN[keys]++` / `--`.
    MapOp(usize, Vec<Expr>, Op, Option<Expr>),
    If(Expr, Vec<Stmt>, Vec<Stmt>),
    /// The format (with real newlines) and its arguments.
    Printf(String, Vec<Expr>),
    /// `print(e)` of a value (not a map).
    Print(Expr),
    Exit,
}

/// One BEGIN probe; maps are `@m0 .. @m{nmaps-1}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Script {
    pub nmaps: usize,
    /// `struct S0`, `struct S1`, ...; each may hold the ones before it.
    pub structs: Vec<StructDef>,
    /// `BPFTRACE_STRLEN` for the run (`None`: unset, 64).
    pub strlen: Option<u32>,
    /// The script's one positional parameter: non-NUL bytes the script reads as memory. It is
    /// the last of rtrace's arguments, so it ends at `curtask->mm->arg_end` (after its NUL).
    pub data: Vec<u8>,
    pub body: Vec<Stmt>,
}

pub const VAR_NAMES: [&str; 5] = ["a", "b", "c", "d", "e"];

impl Script {
    /// The bpftrace text.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for (k, s) in self.structs.iter().enumerate() {
            let _ = write!(out, "struct S{k} {{");
            for (name, t) in &s.members {
                let _ = write!(out, " {};", c_decl(t, name));
            }
            out.push_str(" }\n");
        }
        out.push_str("BEGIN\n{\n");
        if !self.data.is_empty() {
            let _ = writeln!(
                out,
                "  $base = curtask->mm->arg_end - {};",
                self.data.len() + 1
            );
        }
        block(&mut out, &self.body, 1, &self.structs);
        out.push_str("}\n");
        out
    }

    /// The memory the script reads: its data and the NUL after it.
    pub fn memory(&self) -> Vec<u8> {
        let mut m = self.data.clone();
        m.push(0);
        m
    }
}

fn block(out: &mut String, stmts: &[Stmt], depth: usize, st: &[StructDef]) {
    for s in stmts {
        stmt(out, s, depth, st);
    }
}

fn stmt(out: &mut String, s: &Stmt, depth: usize, st: &[StructDef]) {
    let pad = "  ".repeat(depth);
    match s {
        Stmt::Assign(v, e) => {
            let _ = writeln!(out, "{pad}${} = {};", VAR_NAMES[*v], expr(e, st));
        }
        Stmt::Store(m, keys, e) => {
            let _ = writeln!(out, "{pad}{} = {};", map_ref(*m, keys, st), expr(e, st));
        }
        Stmt::VarOp(v, op, e) => {
            let _ = writeln!(out, "{pad}${}{};", VAR_NAMES[*v], op_assign(*op, e, st));
        }
        Stmt::MapOp(m, keys, op, e) => {
            let _ = writeln!(
                out,
                "{pad}{}{};",
                map_ref(*m, keys, st),
                op_assign(*op, e, st)
            );
        }
        Stmt::If(c, then, els) => {
            let _ = writeln!(out, "{pad}if ({}) {{", expr(c, st));
            block(out, then, depth + 1, st);
            if els.is_empty() {
                let _ = writeln!(out, "{pad}}}");
            } else {
                let _ = writeln!(out, "{pad}}} else {{");
                block(out, els, depth + 1, st);
                let _ = writeln!(out, "{pad}}}");
            }
        }
        Stmt::Printf(fmt, args) => {
            let _ = write!(out, "{pad}printf(\"{}\"", fmt.replace('\n', "\\n"));
            for a in args {
                let _ = write!(out, ", {}", expr(a, st));
            }
            out.push_str(");\n");
        }
        Stmt::Print(e) => {
            let _ = writeln!(out, "{pad}print({});", expr(e, st));
        }
        Stmt::Exit => {
            let _ = writeln!(out, "{pad}exit();");
        }
    }
}

/// ` += e`, or `++` / `--`.
fn op_assign(op: Op, e: &Option<Expr>, st: &[StructDef]) -> String {
    match (op, e) {
        (_, Some(e)) => format!(" {}= {}", op.symbol(), expr(e, st)),
        (Op::Sub, None) => "--".to_string(),
        (_, None) => "++".to_string(),
    }
}

fn map_ref(m: usize, keys: &[Expr], st: &[StructDef]) -> String {
    if keys.is_empty() {
        return format!("@m{m}");
    }
    let keys: Vec<String> = keys.iter().map(|k| expr(k, st)).collect();
    format!("@m{m}[{}]", keys.join(", "))
}

/// An expression's text; compound expressions carry their own parentheses.
pub fn expr(e: &Expr, st: &[StructDef]) -> String {
    match e {
        Expr::Int(v) => {
            if *v > u64::from(u32::MAX) && v % 3 == 0 {
                format!("{v:#x}")
            } else {
                v.to_string()
            }
        }
        Expr::Str(s) => format!("\"{}\"", String::from_utf8_lossy(s)),
        Expr::Var(v) => format!("${}", VAR_NAMES[*v]),
        Expr::Map(m, keys) => map_ref(*m, keys, st),
        Expr::Cast(t, x) => format!("(({}){})", t.name(), expr(x, st)),
        Expr::Unary(op, x) => {
            let sym = match op {
                Un::Neg => "-",
                Un::BitNot => "~",
                Un::Not => "!",
            };
            format!("({sym}{})", expr(x, st))
        }
        Expr::Binary(op, l, r) => format!("({} {} {})", expr(l, st), op.symbol(), expr(r, st)),
        Expr::Ternary(c, t, f) => {
            format!("({} ? {} : {})", expr(c, st), expr(t, st), expr(f, st))
        }
        Expr::Tuple(items) => {
            let items: Vec<String> = items.iter().map(|x| expr(x, st)).collect();
            format!("({})", items.join(", "))
        }
        Expr::Field(x, i) => format!("{}.{i}", expr(x, st)),
        Expr::Member(x, name) => format!("{}.{name}", expr(x, st)),
        Expr::Incr(target, prefix, up) => {
            let op = if *up { "++" } else { "--" };
            if *prefix {
                format!("({op}{})", expr(target, st))
            } else {
                format!("({}{op})", expr(target, st))
            }
        }
        Expr::Deref(k, off, path) => {
            let p = format!("((struct S{k} *)uptr($base + {off}))");
            if path.is_empty() {
                return format!("(*{p})");
            }
            let mut text = p;
            let mut ty = CType::Struct(*k);
            for (n, step) in path.iter().enumerate() {
                match (step, &ty) {
                    (Step::Member(i), CType::Struct(s)) => {
                        let (name, t) = &st[*s].members[*i];
                        text.push_str(if n == 0 { "->" } else { "." });
                        text.push_str(name);
                        ty = t.clone();
                    }
                    (Step::Index(i), CType::Array(e, _)) => {
                        let _ = write!(text, "[{i}]");
                        ty = (**e).clone();
                    }
                    _ => text.push_str(".?"),
                }
            }
            text
        }
        Expr::StrRead(off, None) => format!("str(uptr($base + {off}))"),
        Expr::StrRead(off, Some(n)) => format!("str(uptr($base + {off}), {n})"),
    }
}
