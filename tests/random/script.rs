//! The generated scripts' syntax tree and its bpftrace text (every compound expression parenthesised).

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
    Exit,
}

/// One BEGIN probe; maps are `@m0 .. @m{nmaps-1}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Script {
    pub nmaps: usize,
    pub body: Vec<Stmt>,
}

pub const VAR_NAMES: [&str; 5] = ["a", "b", "c", "d", "e"];

impl Script {
    /// The bpftrace text.
    pub fn text(&self) -> String {
        let mut out = String::from("BEGIN\n{\n");
        block(&mut out, &self.body, 1);
        out.push_str("}\n");
        out
    }
}

fn block(out: &mut String, stmts: &[Stmt], depth: usize) {
    for s in stmts {
        stmt(out, s, depth);
    }
}

fn stmt(out: &mut String, s: &Stmt, depth: usize) {
    let pad = "  ".repeat(depth);
    match s {
        Stmt::Assign(v, e) => {
            let _ = writeln!(out, "{pad}${} = {};", VAR_NAMES[*v], expr(e));
        }
        Stmt::Store(m, keys, e) => {
            let _ = writeln!(out, "{pad}{} = {};", map_ref(*m, keys), expr(e));
        }
        Stmt::VarOp(v, op, e) => {
            let _ = writeln!(out, "{pad}${}{};", VAR_NAMES[*v], op_assign(*op, e));
        }
        Stmt::MapOp(m, keys, op, e) => {
            let _ = writeln!(out, "{pad}{}{};", map_ref(*m, keys), op_assign(*op, e));
        }
        Stmt::If(c, then, els) => {
            let _ = writeln!(out, "{pad}if ({}) {{", expr(c));
            block(out, then, depth + 1);
            if els.is_empty() {
                let _ = writeln!(out, "{pad}}}");
            } else {
                let _ = writeln!(out, "{pad}}} else {{");
                block(out, els, depth + 1);
                let _ = writeln!(out, "{pad}}}");
            }
        }
        Stmt::Printf(fmt, args) => {
            let _ = write!(out, "{pad}printf(\"{}\"", fmt.replace('\n', "\\n"));
            for a in args {
                let _ = write!(out, ", {}", expr(a));
            }
            out.push_str(");\n");
        }
        Stmt::Exit => {
            let _ = writeln!(out, "{pad}exit();");
        }
    }
}

/// ` += e`, or `++` / `--`.
fn op_assign(op: Op, e: &Option<Expr>) -> String {
    match (op, e) {
        (_, Some(e)) => format!(" {}= {}", op.symbol(), expr(e)),
        (Op::Sub, None) => "--".to_string(),
        (_, None) => "++".to_string(),
    }
}

fn map_ref(m: usize, keys: &[Expr]) -> String {
    if keys.is_empty() {
        return format!("@m{m}");
    }
    let keys: Vec<String> = keys.iter().map(expr).collect();
    format!("@m{m}[{}]", keys.join(", "))
}

/// An expression's text; compound expressions carry their own parentheses.
pub fn expr(e: &Expr) -> String {
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
        Expr::Map(m, keys) => map_ref(*m, keys),
        Expr::Cast(t, x) => format!("(({}){})", t.name(), expr(x)),
        Expr::Unary(op, x) => {
            let sym = match op {
                Un::Neg => "-",
                Un::BitNot => "~",
                Un::Not => "!",
            };
            format!("({sym}{})", expr(x))
        }
        Expr::Binary(op, l, r) => format!("({} {} {})", expr(l), op.symbol(), expr(r)),
        Expr::Ternary(c, t, f) => format!("({} ? {} : {})", expr(c), expr(t), expr(f)),
        Expr::Tuple(items) => {
            let items: Vec<String> = items.iter().map(expr).collect();
            format!("({})", items.join(", "))
        }
        Expr::Field(x, i) => format!("{}.{i}", expr(x)),
    }
}
