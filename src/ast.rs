//! The spanned syntax tree the parser (src/parse) produces: syntax only, no types, no kernel facts.

use crate::source::Span;

/// A whole script: C struct definitions, then probes.
#[derive(Clone, Debug, PartialEq)]
pub struct Program {
    pub structs: Vec<StructDef>,
    pub probes: Vec<Probe>,
    pub span: Span,
}

/// `struct name { type field; ... }` (also `#include` lines are kept here as a struct-less
/// definition with an empty field list and `name` holding the included path).
#[derive(Clone, Debug, PartialEq)]
pub struct StructDef {
    /// The name after `struct`/`union`; an anonymous record nested in another gets a name
    /// no script can write (`(anonymous struct at 12)`, the byte offset of its keyword).
    pub name: Ident,
    /// `union NAME { ... }`.
    pub union: bool,
    pub fields: Vec<StructField>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct StructField {
    pub ty: TypeName,
    pub name: Ident,
    /// `unsigned int a : 4`: a bitfield's width.
    pub bits: Option<u8>,
    pub span: Span,
}

/// `attach, attach /predicate/ { body }`
#[derive(Clone, Debug, PartialEq)]
pub struct Probe {
    pub attach_points: Vec<AttachPoint>,
    pub predicate: Option<Expr>,
    pub body: Block,
    pub span: Span,
}

/// One attach point as written (`tracepoint:syscalls:sys_enter_*`, `BEGIN`, `i:s:1`).
/// The text is split on `:` by src/probes, which knows each provider's shape.
#[derive(Clone, Debug, PartialEq)]
pub struct AttachPoint {
    pub raw: String,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Block {
    pub stmts: Vec<Stmt>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Stmt {
    pub kind: StmtKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum StmtKind {
    /// An expression evaluated for its effect: `printf(...)`, `exit()`, `$x++`, `delete(@m[1])`.
    Expr(Expr),
    /// `$x = e` (op `None`) or `$x += e` (op `Some(Add)`), and the other compound forms.
    AssignVar {
        var: Ident,
        op: Option<BinOp>,
        value: Expr,
    },
    /// `@m = e`, `@m[k] = count()`, `@m[k1, k2] += e`.
    AssignMap {
        map: MapRef,
        op: Option<BinOp>,
        value: Expr,
    },
    If {
        cond: Expr,
        then: Block,
        /// `else { }` is a block; `else if` is a block holding one `If` statement.
        els: Option<Block>,
    },
    Unroll {
        count: Expr,
        body: Block,
    },
    While {
        cond: Expr,
        body: Block,
    },
    Break,
    Continue,
    /// `return;` ends the probe body like exit() does without ending the run.
    Return,
}

/// `@name[k1, k2]`; `name` is empty for the anonymous map `@`.
#[derive(Clone, Debug, PartialEq)]
pub struct MapRef {
    pub name: String,
    /// Span of `@name` alone.
    pub name_span: Span,
    pub keys: Vec<Expr>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    /// An integer literal; its value as written (negative numbers are `Unary(Neg, Int)`).
    Int(u64),
    /// A string literal with escapes already decoded (`\n`, `\t`, `\"`, `\\`, `\0NN` octal, `\xNN`).
    Str(Vec<u8>),
    /// A builtin variable: `pid`, `tid`, `comm`, `nsecs`, `args`, `retval`, `arg0`, `cpu`, ...
    Builtin(String),
    /// `$1`, `$2`, ...
    PosParam(u32),
    /// `$#`
    PosParamCount,
    /// A scratch variable `$x` (name without the `$`).
    Var(String),
    Map(MapRef),
    /// `name(args)`: printf, count, hist, str, exit, ...
    Call {
        name: Ident,
        args: Vec<Expr>,
    },
    Unary {
        op: UnOp,
        expr: Box<Expr>,
    },
    Binary {
        op: BinOp,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    Ternary {
        cond: Box<Expr>,
        then: Box<Expr>,
        els: Box<Expr>,
    },
    /// `e->field` (arrow) or `e.field`; also tuple access `t.0` (field "0").
    Field {
        expr: Box<Expr>,
        field: Ident,
        arrow: bool,
    },
    /// `e[i]`
    Index {
        expr: Box<Expr>,
        index: Box<Expr>,
    },
    /// `(a, b, ...)` with two or more elements.
    Tuple(Vec<Expr>),
    /// `(type)e`
    Cast {
        ty: TypeName,
        expr: Box<Expr>,
    },
    /// `x++`, `++x`, `x--`, `--x` on a variable or map.
    IncDec {
        target: Box<Expr>,
        increment: bool,
        prefix: bool,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnOp {
    /// `-e`
    Neg,
    /// `!e`
    Not,
    /// `~e`
    BitNot,
    /// `*e`
    Deref,
    /// `&e`
    AddrOf,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    BitAnd,
    BitOr,
    BitXor,
    Shl,
    Shr,
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
    /// Short-circuit `&&`.
    And,
    /// Short-circuit `||`.
    Or,
}

impl BinOp {
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Mod => "%",
            BinOp::BitAnd => "&",
            BinOp::BitOr => "|",
            BinOp::BitXor => "^",
            BinOp::Shl => "<<",
            BinOp::Shr => ">>",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::And => "&&",
            BinOp::Or => "||",
        }
    }
}

/// A C-like type name as written in casts and struct fields:
/// `uint32`, `int8`, `struct task_struct *`, `char[16]`.
#[derive(Clone, Debug, PartialEq)]
pub struct TypeName {
    /// `uint32`, `struct task_struct`, `unsigned int`, ...
    pub name: String,
    /// Number of `*`.
    pub pointer_depth: u8,
    /// `[N]` after a field name or in a cast.
    pub array_len: Option<u64>,
    /// Further dimensions of a multi-dimensional array field (`int y[2][3]`: `[3]`).
    pub array_more: Vec<u64>,
    pub span: Span,
}

impl Expr {
    /// The expression's direct subexpressions (a map's keys included), in source order. Every
    /// walk over the syntax tree goes through here, so a new node kind cannot be skipped.
    pub fn children(&self) -> Vec<&Expr> {
        match &self.kind {
            ExprKind::Int(_)
            | ExprKind::Str(_)
            | ExprKind::Builtin(_)
            | ExprKind::PosParam(_)
            | ExprKind::PosParamCount
            | ExprKind::Var(_) => Vec::new(),
            ExprKind::Map(m) => m.keys.iter().collect(),
            ExprKind::Call { args, .. } | ExprKind::Tuple(args) => args.iter().collect(),
            ExprKind::Unary { expr, .. }
            | ExprKind::Field { expr, .. }
            | ExprKind::Cast { expr, .. }
            | ExprKind::IncDec { target: expr, .. } => vec![expr],
            ExprKind::Binary { lhs, rhs, .. } => vec![lhs, rhs],
            ExprKind::Index { expr, index } => vec![expr, index],
            ExprKind::Ternary { cond, then, els } => vec![cond, then, els],
        }
    }
}

impl Stmt {
    /// The statement's own expressions (not those of nested blocks, nor the map it assigns
    /// to), in source order.
    pub fn exprs(&self) -> Vec<&Expr> {
        match &self.kind {
            StmtKind::Expr(e)
            | StmtKind::AssignVar { value: e, .. }
            | StmtKind::AssignMap { value: e, .. } => vec![e],
            StmtKind::If { cond, .. } | StmtKind::While { cond, .. } => vec![cond],
            StmtKind::Unroll { count, .. } => vec![count],
            StmtKind::Break | StmtKind::Continue | StmtKind::Return => Vec::new(),
        }
    }

    /// The map an assignment statement writes.
    pub fn assigned_map(&self) -> Option<&MapRef> {
        match &self.kind {
            StmtKind::AssignMap { map, .. } => Some(map),
            _ => None,
        }
    }

    /// The statement's nested blocks.
    pub fn blocks(&self) -> Vec<&Block> {
        match &self.kind {
            StmtKind::If { then, els, .. } => std::iter::once(then).chain(els).collect(),
            StmtKind::Unroll { body, .. } | StmtKind::While { body, .. } => vec![body],
            _ => Vec::new(),
        }
    }
}
