//! The checked program: every expression typed, every name resolved, every map and event record
//! laid out. Produced by `sema::check`; consumed by `codegen::lower` and the runtime decoder.

use super::layout::MapDef;
use super::types::{Type, TypeTable};
use crate::ast::BinOp;
use crate::diag::Diagnostic;
use crate::output::value::AggKind;
use crate::probes::Attach;
use crate::source::Span;

/// Index of a user map in `Checked::maps` (the same index as its `ir::MapId`).
pub type MapIdx = u32;

#[derive(Clone, Debug, PartialEq)]
pub struct Checked {
    /// One entry per (probe, attach point) pair, in script order.
    pub probes: Vec<CheckedProbe>,
    /// User maps in name order, then internal maps.
    pub maps: Vec<MapInfo>,
    /// printf calls: format string and argument record layout.
    pub printfs: Vec<PrintfInfo>,
    /// The ring buffer carrying events to userspace.
    pub ringbuf: MapIdx,
    /// A one-entry array holding a u64 that counts events the ring buffer had no room for
    /// (written with an atomic add through a direct map-value pointer).
    pub lost: MapIdx,
    /// The C structs, unions and enums the program's types name.
    pub types: TypeTable,
    /// bpftrace's warnings that apply (printed unless `--no-warnings`).
    pub warnings: Vec<Diagnostic>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct CheckedProbe {
    pub attach: Attach,
    /// The attach point as written (after wildcard expansion), for dumps and errors.
    pub attach_text: String,
    /// The attach point as written in the script, for attach errors.
    pub attach_span: Span,
    pub predicate: Option<TExpr>,
    pub body: Vec<TStmt>,
    /// Types of the probe's scratch variables, indexed by `VarId`.
    pub var_types: Vec<Type>,
    pub span: Span,
}

/// What a map holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MapValueType {
    /// `@m = expr`: a value of this type.
    Plain(Type),
    /// count/sum/min/max/avg/stats; `signed` tells how to print the values.
    Agg {
        kind: AggKind,
        signed: bool,
    },
    Hist,
    Lhist {
        min: i64,
        max: i64,
        step: i64,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub struct MapInfo {
    /// `@name` or `@` for user maps; an internal name otherwise.
    pub name: String,
    /// Key element types (empty for `@m` without `[...]`, which uses one 8-byte zero key).
    pub keys: Vec<Type>,
    pub value: MapValueType,
    pub def: MapDef,
    /// Internal maps (ring buffer, lost counter) are not printed.
    pub internal: bool,
}

impl MapInfo {
    /// Bytes of the user part of the key (before a hist/lhist bucket index).
    pub fn user_key_size(&self) -> u32 {
        user_key_size(&self.keys, &self.value)
    }

    /// Offsets of each key element inside the key.
    pub fn key_offsets(&self) -> Vec<u32> {
        Type::key_offsets(&self.keys)
    }

    pub fn agg_kind(&self) -> AggKind {
        match &self.value {
            MapValueType::Plain(_) => AggKind::Plain,
            MapValueType::Agg { kind, .. } => *kind,
            MapValueType::Hist => AggKind::Hist,
            MapValueType::Lhist { .. } => AggKind::Lhist,
        }
    }
}

/// Bytes of the user part of a map's key: the keys' layouts; for a map without keys, one
/// 8-byte zero, except hist and lhist maps, whose key is then the bucket index alone.
pub fn user_key_size(keys: &[Type], value: &MapValueType) -> u32 {
    match (keys.is_empty(), value) {
        (true, MapValueType::Hist | MapValueType::Lhist { .. }) => 0,
        (true, _) => 8,
        (false, _) => keys.iter().map(Type::layout_size).sum(),
    }
}

/// One printf: the format string stays in userspace; the record carries `[u64 kind|id]` then each
/// argument at `offsets[i]`.
#[derive(Clone, Debug, PartialEq)]
pub struct PrintfInfo {
    /// `event::PRINTF` for printf, `event::SYSTEM` for system().
    pub kind: u32,
    pub format: String,
    pub args: Vec<Type>,
    pub offsets: Vec<u32>,
    /// Total record size in bytes, header included.
    pub size: u32,
    /// For `event::CALL` records: the builtin whose `event` hook prints them (`format` is then
    /// its parameter).
    pub call: Option<BuiltinId>,
    /// For `event::PRINT_MAP_TOP` records: `print(@m, top, div)`'s map, top and divisor.
    pub map_print: Option<(MapIdx, u64, u64)>,
}

/// Event kinds in the first 4 bytes of every ring buffer record (the next 4 hold an id).
pub mod event {
    pub const PRINTF: u32 = 1;
    pub const EXIT: u32 = 2;
    pub const PRINT_MAP: u32 = 3;
    pub const CLEAR_MAP: u32 = 4;
    pub const ZERO_MAP: u32 = 5;
    /// system(): format the command like printf, then run it in userspace (needs --unsafe).
    pub const SYSTEM: u32 = 6;
    /// A builtin's own record (time(), join(), ...): its `event` hook makes the output.
    pub const CALL: u32 = 7;
    /// `print(@m, top, div)`: the id is a `PrintfInfo` holding the map, top and divisor.
    pub const PRINT_MAP_TOP: u32 = 8;
    /// A helper call failed (`-k`, `-kk`): the id is the helper's number; an i64 return
    /// code and the call's span (u32 start, u32 end) follow the header.
    pub const HELPER_ERROR: u32 = 9;
    /// A function watchpoint's setup uprobe ran: the id is the watchpoint's program; the
    /// address to watch (u64) and the pid of the caller (u64) follow the header.
    pub const WATCHPOINT: u32 = 10;
    /// `unwatch(addr)`: the address (u64) follows the header.
    pub const UNWATCH: u32 = 11;
    /// Size of a `HELPER_ERROR` record.
    pub const HELPER_ERROR_SIZE: u32 = 24;
    /// Size of the record header (kind, id).
    pub const HEADER: u32 = 8;
}

/// A scratch variable, numbered per probe.
pub type VarId = u32;

#[derive(Clone, Debug, PartialEq)]
pub struct TStmt {
    pub kind: TStmtKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum TStmtKind {
    /// An expression evaluated for its side effects (its value is dropped).
    Expr(TExpr),
    AssignVar {
        var: VarId,
        value: TExpr,
    },
    /// `@m[k] = v` on a plain map.
    MapStore {
        map: MapIdx,
        keys: Vec<TExpr>,
        value: TExpr,
    },
    /// `@m[k] = f(args)` for a map function `f` (count, hist, ...).
    MapAgg {
        map: MapIdx,
        keys: Vec<TExpr>,
        func: BuiltinId,
        args: Vec<TExpr>,
        /// The call's span (`sum(x)`), where `-k` reports its failures.
        call_span: Span,
    },
    If {
        cond: TExpr,
        then: Vec<TStmt>,
        els: Vec<TStmt>,
    },
    While {
        cond: TExpr,
        body: Vec<TStmt>,
    },
    Break,
    Continue,
    Return,
}

#[derive(Clone, Debug, PartialEq)]
pub struct TExpr {
    pub kind: TExprKind,
    pub ty: Type,
    pub span: Span,
}

/// A builtin variable or function: its index in the builtin registry (`builtins::get`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BuiltinId(pub u16);

impl CtxField {
    /// An 8-byte register of a `struct pt_regs` context (argN, retval, reg(), sp).
    pub fn register(offset: u32) -> CtxField {
        CtxField {
            offset,
            size: 8,
            signed: false,
            data_loc: false,
            inline_array: false,
            end_if_zero: false,
        }
    }
}

/// A tracepoint field read from the context.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CtxField {
    pub offset: u32,
    pub size: u32,
    pub signed: bool,
    /// `__data_loc`: the value is the address `ctx + (u32 & 0xffff)`.
    pub data_loc: bool,
    /// A fixed `char name[N]` array: the value is the address `ctx + offset`.
    pub inline_array: bool,
    /// The probe's body ends (returns 0) when the field reads 0: an iterator's `ctx->task`
    /// is NULL on the iteration's last call, and bpftrace 0.17 skips any zero context field.
    pub end_if_zero: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub enum TExprKind {
    Int(i64),
    /// A string literal's bytes (without NUL); its type's size includes the NUL.
    Str(Vec<u8>),
    /// `$N` inside `str()`'s argument (`str($1 + 2)`): the address of a NUL-terminated copy
    /// of the parameter's text on the probe's stack, as bpftrace gives it; a `char *`.
    StackStr(Vec<u8>),
    /// A builtin variable or function call (actions included, typed `none`): the checked
    /// arguments and the constants its type rule chose (a printf id, a map index).
    Call {
        builtin: BuiltinId,
        args: Vec<TExpr>,
        data: Vec<u64>,
    },
    Var(VarId),
    /// Reading `@m[k]`: 0 (or an empty value) when the key is missing.
    MapRead {
        map: MapIdx,
        keys: Vec<TExpr>,
    },
    /// `args->field` of a tracepoint.
    CtxField(CtxField),
    Unary {
        op: crate::ast::UnOp,
        expr: Box<TExpr>,
    },
    /// Arithmetic, bitwise and comparison operators on integers; `signed` tells whether
    /// division, modulo, `>>` and comparisons are signed.
    Binary {
        op: BinOp,
        lhs: Box<TExpr>,
        rhs: Box<TExpr>,
        signed: bool,
    },
    /// `==` / `!=` on strings (`negate` for `!=`).
    StrEq {
        lhs: Box<TExpr>,
        rhs: Box<TExpr>,
        negate: bool,
    },
    /// Short-circuit `&&` (`and`) or `||`.
    Logical {
        and: bool,
        lhs: Box<TExpr>,
        rhs: Box<TExpr>,
    },
    Ternary {
        cond: Box<TExpr>,
        then: Box<TExpr>,
        els: Box<TExpr>,
    },
    /// Integer cast to the expression's type (pointers included: the value is unchanged).
    Cast(Box<TExpr>),
    /// The value of the expression's type at the address `addr` (a pointer or integer),
    /// read with `probe_read_user` (`user`) or `probe_read_kernel`: a struct member, `*p`,
    /// `p[i]`. Integers are read at their C size; strings, arrays and records into memory.
    MemRead {
        addr: Box<TExpr>,
        user: bool,
    },
    /// `$x++`, `--$x` inside an expression: adds `delta` to the variable; the value is the old
    /// one (`post`) or the new one.
    IncVar {
        var: VarId,
        delta: i64,
        post: bool,
    },
    /// `@m[k]++` and the like inside an expression, on an integer map (a missing entry is 0).
    IncMap {
        map: MapIdx,
        keys: Vec<TExpr>,
        delta: i64,
        post: bool,
    },
    /// A part of a value held in memory (an array element or a struct member of a value in a
    /// variable or map): the expression's type at `offset` bytes into `whole`'s C layout.
    Part {
        whole: Box<TExpr>,
        offset: u32,
    },
    /// A bitfield: `bits` bits, `shift` bits up in the integer `unit` (sign-extended when the
    /// expression's type is signed).
    Bits {
        unit: Box<TExpr>,
        shift: u8,
        bits: u8,
    },
    Tuple(Vec<TExpr>),
    /// `t.N` on a tuple.
    TupleField {
        tuple: Box<TExpr>,
        index: usize,
    },
}

impl TExpr {
    /// The expression's direct subexpressions, in evaluation order. Every pass that walks the
    /// tree goes through here, so a new node kind cannot be skipped silently.
    pub fn children(&self) -> Vec<&TExpr> {
        match &self.kind {
            TExprKind::Int(_)
            | TExprKind::Str(_)
            | TExprKind::StackStr(_)
            | TExprKind::Var(_)
            | TExprKind::IncVar { .. }
            | TExprKind::CtxField(_) => Vec::new(),
            TExprKind::IncMap { keys, .. } => keys.iter().collect(),
            TExprKind::Call { args, .. } | TExprKind::Tuple(args) => args.iter().collect(),
            TExprKind::MapRead { keys, .. } => keys.iter().collect(),
            TExprKind::Unary { expr, .. } | TExprKind::Cast(expr) => vec![expr],
            TExprKind::MemRead { addr: expr, .. }
            | TExprKind::Bits { unit: expr, .. }
            | TExprKind::Part { whole: expr, .. } => vec![expr],
            TExprKind::TupleField { tuple, .. } => vec![tuple],
            TExprKind::Binary { lhs, rhs, .. }
            | TExprKind::StrEq { lhs, rhs, .. }
            | TExprKind::Logical { lhs, rhs, .. } => vec![lhs, rhs],
            TExprKind::Ternary { cond, then, els } => vec![cond, then, els],
        }
    }

    /// Whether `pred` holds for this expression or any expression inside it.
    pub fn any(&self, pred: &mut dyn FnMut(&TExpr) -> bool) -> bool {
        pred(self) || self.children().into_iter().any(|c| c.any(pred))
    }
}

impl TStmt {
    /// The statement's own expressions (not those of nested blocks), in evaluation order.
    pub fn exprs(&self) -> Vec<&TExpr> {
        match &self.kind {
            TStmtKind::Expr(e) | TStmtKind::AssignVar { value: e, .. } => vec![e],
            TStmtKind::MapStore { keys, value, .. } => keys.iter().chain([value]).collect(),
            TStmtKind::MapAgg { keys, args, .. } => keys.iter().chain(args).collect(),
            TStmtKind::If { cond, .. } | TStmtKind::While { cond, .. } => vec![cond],
            TStmtKind::Break | TStmtKind::Continue | TStmtKind::Return => Vec::new(),
        }
    }

    /// The statement's nested blocks (`then` and `else`, a loop body).
    pub fn blocks(&self) -> Vec<&[TStmt]> {
        match &self.kind {
            TStmtKind::If { then, els, .. } => vec![then, els],
            TStmtKind::While { body, .. } => vec![body],
            _ => Vec::new(),
        }
    }
}
