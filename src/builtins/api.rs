//! The contract between the compiler and a builtin: what an entry declares, and the checking and
//! lowering contexts its hooks are handed. Sema implements `CheckCx`, codegen `LowerCx`.

use crate::ast;
use crate::codegen::ir::{Base, Cond, Inst, Label, Operand, Size, SlotId, VReg};
use crate::diag::Diagnostic;
use crate::output::value::Value;
use crate::probes::Attach;
use crate::sema::layout::MapKind;
use crate::sema::typed::{BuiltinId, MapIdx, MapValueType, TExpr, TExprKind};
use crate::sema::types::{Field, RecordRef, Type};
use crate::source::Span;
use crate::symbols::Resolver;

/// What a name is used as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A builtin variable: `pid`, `comm`, `numaid` (no parentheses, no arguments).
    Variable,
    /// A function: `str(p)`, `bswap(x)`, and actions that return nothing: `printf(...)`.
    Function,
    /// A map function, assigned to a map entry: `@m[k] = count()`.
    MapFunction,
}

/// One builtin variable or function: its rules and its code, in one place.
pub struct Builtin {
    pub name: &'static str,
    pub kind: Kind,
    /// Fewest and most arguments (0, 0 for variables).
    pub args: (usize, usize),
    /// `Some(what it does)` when it needs `--unsafe` (`"runs a command on this machine"`).
    pub needs_unsafe: Option<&'static str>,
    /// The probe types it is valid in: `None` for every probe; otherwise a test and the
    /// phrase an error uses (`"uprobe and kprobe probes"`).
    pub probes: Option<ProbeRule>,
    /// The type rule: checks the call and gives its type, checked arguments and constants.
    pub check: fn(&mut dyn CheckCx, &Call<'_>) -> Checked,
    /// The code (map functions: `Lower::Stmt`, unused; their code is `MapFn::update`).
    pub lower: Lower,
    /// What a map function adds: its map's value type, storage and update.
    pub map: Option<MapFn>,
    /// What userspace makes of the records the builtin sends (`CheckCx::call_record`).
    pub event: Option<EventFn>,
    /// How userspace prints the bytes of a `Type::Formatted` value this builtin makes, given
    /// the type's parameter.
    pub format: Option<FormatFn>,
}

/// Turns a `Type::Formatted` value's bytes into the value bpftrace prints for it (text, as a
/// `Value::Str`, for most); stacks and symbols ask the session's `Resolver`.
pub type FormatFn = fn(bytes: &[u8], param: Option<&str>, symbols: &mut dyn Resolver) -> Value;

impl Builtin {
    /// What most builtins leave as it is: a function of no arguments, valid in every probe,
    /// safe, no map function, no userspace part. Entries name what differs and end with
    /// `..Builtin::PLAIN`.
    pub const PLAIN: Builtin = Builtin {
        name: "",
        kind: Kind::Function,
        args: (0, 0),
        needs_unsafe: None,
        probes: None,
        check: |_, _| Checked::Error,
        lower: Lower::Stmt(|_, _| {}),
        map: None,
        event: None,
        format: None,
    };
}

/// Turns one of a builtin's records into output.
pub type EventFn = fn(&Event<'_>) -> Message;

/// One of a builtin's records as userspace reads it.
pub struct Event<'a> {
    /// The parameter `CheckCx::call_record` registered (a time format, a delimiter).
    pub param: &'a str,
    /// The record's arguments, decoded by the types `call_record` registered.
    pub args: &'a [Value],
    /// The record's bytes after the 8-byte header.
    pub payload: &'a [u8],
}

/// What a builtin's record prints.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    /// `{"type": KIND, "data": TEXT}` in JSON; in text the text, followed by a newline when
    /// `newline` is set.
    Text {
        kind: &'static str,
        text: Vec<u8>,
        newline: bool,
    },
    /// A value, as `print(v)` prints it: `{"type": "value", "data": V}` in JSON, its text and a
    /// newline otherwise.
    Value(Value),
    /// A problem for the user, on stderr as `ERROR: ...` (the run goes on).
    Error(String),
    /// `Error`, then the record of `kind` with no text: `{"type": KIND, "data": ""}` in JSON,
    /// nothing in text (bpftrace 0.17's `cat` of a file it cannot open).
    Failed { error: String, kind: &'static str },
}

/// A map function's rules: the value type its calls give the map, how the kernel stores it,
/// and how one call updates an entry. Userspace combines per-CPU values and prints them by
/// the map's `MapValueType` (output/).
#[derive(Clone, Copy)]
pub struct MapFn {
    /// The map's value type for a call whose arguments were checked (`Checked::Call`'s args).
    pub value: fn(&mut dyn CheckCx, &Call<'_>, &[TExpr]) -> Option<MapValueType>,
    /// How the map is stored, given its value type and whether it has keys.
    pub storage: fn(&MapValueType, keyless: bool) -> Storage,
    /// One call's update of the entry at `keys`.
    pub update: fn(&mut dyn LowerCx, &MapUpdate<'_>),
}

/// A map's kernel storage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Storage {
    pub kind: MapKind,
    /// Bytes of one (per-CPU) value.
    pub value_size: u32,
    /// The key ends with an 8-byte bucket index after the user's key.
    pub bucket: bool,
    /// Entries of a key-less map (a map with keys holds `MAP_MAX_ENTRIES`).
    pub keyless_entries: u32,
}

/// One map-function call to lower.
pub struct MapUpdate<'a> {
    pub map: MapIdx,
    pub keys: &'a [TExpr],
    pub args: &'a [TExpr],
    pub value: &'a MapValueType,
    pub storage: MapKind,
}

/// Where a builtin is valid: a test on the probe, and the phrase an error uses for the probe
/// types that pass it (`"uprobe and kprobe probes"`).
pub type ProbeRule = (fn(&Attach) -> bool, &'static str);

/// A use of a builtin as the checker sees it.
pub struct Call<'a> {
    /// The builtin's own id (for `CheckCx::call_record`).
    pub id: BuiltinId,
    pub name: &'a ast::Ident,
    /// The arguments as written (empty for variables).
    pub args: &'a [ast::Expr],
    /// The whole call or variable.
    pub span: Span,
}

/// What a type rule decides.
pub enum Checked {
    /// A call node of this type, with checked arguments and compile-time constants (a printf
    /// id, a map index) that the lowering reads back from `TCall::data`.
    Call {
        ty: Type,
        args: Vec<TExpr>,
        data: Vec<u64>,
    },
    /// Another expression stands for the call (`probe` is its name as a string literal).
    Expr(TExpr),
    /// The rule reported an error; an `int64` zero stands in.
    Error,
}

impl Checked {
    /// A call without arguments or constants.
    pub fn of(ty: Type) -> Checked {
        Checked::Call {
            ty,
            args: Vec::new(),
            data: Vec::new(),
        }
    }

    /// A call returning nothing (an action used as a statement).
    pub fn action(args: Vec<TExpr>, data: Vec<u64>) -> Checked {
        Checked::Call {
            ty: Type::Void,
            args,
            data,
        }
    }
}

/// A checked call as lowering sees it.
pub struct TCall<'a> {
    pub args: &'a [TExpr],
    pub data: &'a [u64],
    pub ty: &'a Type,
    pub span: Span,
}

/// How a builtin is lowered, by the kind of value it produces.
#[derive(Clone, Copy)]
pub enum Lower {
    /// An integer or pointer in a fresh register.
    Int(fn(&mut dyn LowerCx, &TCall<'_>) -> VReg),
    /// A string or other in-memory value written at `base + off`, filling exactly `size` bytes
    /// (zero padding after the value).
    Mem(fn(&mut dyn LowerCx, &TCall<'_>, Base, i32, u32)),
    /// An action that returns nothing.
    Stmt(fn(&mut dyn LowerCx, &TCall<'_>)),
}

/// What a type rule may ask of the checker.
pub trait CheckCx {
    /// Types an argument expression (errors are recorded; a zero stands in).
    fn expr(&mut self, e: &ast::Expr) -> TExpr;
    /// Types `str()`'s address argument, where `$N` is the address of the parameter's text
    /// (as bpftrace reads `str($1 + 1)`).
    fn str_arg(&mut self, e: &ast::Expr) -> TExpr;
    /// Records an error (only in the reporting pass).
    fn error(&mut self, span: Span, msg: String);
    fn diag(&mut self, d: Diagnostic);
    /// Records one of bpftrace's warnings (only in the reporting pass, each once).
    fn warn(&mut self, span: Span, msg: String);
    /// Whether the call is inside a `while` loop.
    fn in_loop(&self) -> bool;
    /// Whether this is the reporting pass (earlier passes only learn types).
    fn reporting(&self) -> bool;
    /// The probe being checked.
    fn attach(&self) -> &Attach;
    /// Its full name, as the `probe` builtin gives it.
    fn probe_name(&self) -> &str;
    /// `-c CMD` was given.
    fn has_command(&self) -> bool;
    /// The size of the string buffers that reads of strings fill (`BPFTRACE_STRLEN`).
    fn strlen(&self) -> u32;
    /// The text of positional parameter `$n` (1-based), if given.
    fn param(&self, n: u32) -> Option<String>;
    /// The address of a kernel symbol, from the machine's catalogue.
    fn kernel_symbol(&self, name: &str) -> Option<u64>;
    /// The id of the cgroup at `path`, from the machine's catalogue.
    fn cgroup_id(&self, path: &str) -> Result<u64, String>;
    /// The value of an integer constant expression (literal, negation, `$1`).
    fn const_int(&mut self, e: &ast::Expr) -> Option<u64>;
    /// A string literal expression (checked for length).
    fn str_literal(&mut self, bytes: Vec<u8>, span: Span) -> TExpr;
    /// Registers a formatted event record (printf, system, ...) and returns its id.
    fn format_record(&mut self, kind: u32, format: String, args: &[TExpr]) -> u32;
    /// Registers a `print(@m, top, div)` record; returns its id.
    fn map_print_record(&mut self, map: MapIdx, top: u64, div: u64) -> u32;
    /// Registers a record of builtin `id` that its `event` hook turns into output, with a
    /// compile-time parameter (a time format, a delimiter) and arguments laid out as printf's
    /// (sent with `LowerCx::format_record`); returns the record's id.
    fn call_record(&mut self, id: BuiltinId, param: String, args: &[TExpr]) -> u32;
    /// `@m` naming a whole map (print, clear, zero): its index.
    fn whole_map(&mut self, m: &ast::MapRef) -> MapIdx;
    /// `@m[k...]` naming one entry (delete): its index and checked keys.
    fn map_entry(&mut self, m: &ast::MapRef) -> (MapIdx, Vec<TExpr>);
    /// A map's value type as learned so far.
    fn map_value(&self, map: MapIdx) -> Option<MapValueType>;
    /// The type a C type name names (`uint16`, `struct task_struct`, `struct foo *`), or
    /// `None` when the text is not a type name (an identifier that is not one is no error).
    fn type_named(&mut self, text: &str, span: Span) -> Option<Type>;
    /// A struct's or union's member by name (looking through anonymous members).
    fn member(&mut self, record: &RecordRef, name: &str) -> Option<Field>;
    /// A pointer to the kernel's `struct NAME` when BTF has it (`None`, quietly, otherwise).
    fn kernel_pointer(&mut self, record: &str) -> Option<Type>;
    /// The stack map that stacks of `limit` frames are stored in (`bpf_get_stackid`).
    fn stack_map(&mut self, limit: u32) -> MapIdx;
    /// The address and size of a data symbol of the ELF file at `path`, from the catalogue.
    fn user_object(&self, path: &str, name: &str) -> Result<Option<(u64, u64)>, String>;
}

/// What a lowering may ask of the code generator. Registers are virtual; slots are stack
/// space that lives until the end of the statement.
pub trait LowerCx {
    fn reg(&mut self) -> VReg;
    fn emit(&mut self, inst: Inst);
    fn label(&mut self) -> Label;
    fn place_label(&mut self, l: Label);
    fn jmp(&mut self, target: Label);
    fn jmp_if(&mut self, cond: Cond, a: VReg, b: Operand, target: Label);
    /// `dst = v` for any 64-bit value.
    fn mov_imm(&mut self, dst: VReg, v: i64);
    /// `*(size *)(base + off)` in a fresh register.
    fn load(&mut self, base: Base, off: i16, size: Size) -> VReg {
        let dst = self.reg();
        self.emit(Inst::Load {
            dst,
            base,
            off,
            size,
        });
        dst
    }
    /// Calls a helper; its result in a fresh register.
    fn call(&mut self, helper: u32, args: Vec<Operand>) -> VReg;
    fn call_void(&mut self, helper: u32, args: Vec<Operand>);
    /// The probe's context pointer (a copy).
    fn ctx(&mut self) -> VReg;
    /// An integer expression in a fresh register.
    fn int(&mut self, e: &TExpr) -> VReg;
    /// An integer expression as an operand (an immediate when it is a small constant).
    fn operand(&mut self, e: &TExpr) -> Operand;
    /// Writes an expression's value at `base + off`, filling exactly `size` bytes.
    fn mem_into(&mut self, e: &TExpr, base: Base, off: i32, size: u32);
    /// Zeroes `size` bytes (rounded up to 8) at `base + off`.
    fn zero(&mut self, base: Base, off: i32, size: u32);
    /// The address `base + off` in a register.
    fn addr(&mut self, base: Base, off: i32) -> VReg;
    /// A stack slot of `size` bytes for the current statement.
    fn slot(&mut self, size: u32) -> SlotId;
    /// Sign- or zero-extends the low `size` bytes of `r`.
    fn normalize(&mut self, r: VReg, size: u8, signed: bool);
    /// The `-c` command's pid, filled in when the programs are loaded.
    fn cpid(&mut self) -> VReg;
    /// CLOCK_MONOTONIC nanoseconds when the run started, filled in at load.
    fn start_ns(&mut self) -> VReg;
    /// Sends the formatted record `id` (its arguments laid out as registered).
    fn format_record(&mut self, id: u32, args: &[TExpr]);
    /// Sends a header-only event (`kind`, `id`) to userspace.
    fn event(&mut self, kind: u32, id: u32);
    /// Sends a record of `size` bytes (the 8-byte header included) written in place in the
    /// ring buffer: `fill` gets its address and writes what follows the header. For records
    /// too large for the stack.
    fn reserved_record(
        &mut self,
        kind: u32,
        id: u32,
        size: u32,
        fill: &mut dyn FnMut(&mut dyn LowerCx, VReg),
    );
    /// Deletes one map entry.
    fn map_delete(&mut self, map: MapIdx, keys: &[TExpr]);
    /// Ends the program (after the current statement's side effects).
    fn end_program(&mut self);
    /// exit(): marks the run as ended, so that events lost from now on are not counted
    /// (user space drops every later event anyway).
    fn mark_exited(&mut self);
    /// Builds the key of `@map[keys]` in a fresh slot, with `extra` bytes after it for the
    /// caller to write (a bucket index); returns the slot and the user key's size.
    fn map_key(&mut self, map: MapIdx, keys: &[TExpr], extra: u32) -> (SlotId, u32);
    /// `map_lookup_elem`: the value pointer, or 0.
    fn map_lookup(&mut self, map: MapIdx, key: SlotId) -> VReg;
    /// Looks `key` up: on a hit runs `hit` with the value pointer; on a miss inserts a value
    /// made of the `init` words.
    fn map_upsert(
        &mut self,
        map: MapIdx,
        key: SlotId,
        init: &[Operand],
        hit: &mut dyn FnMut(&mut dyn LowerCx, VReg),
    );
}

/// The zero that stands in for an expression with an error.
pub fn zero(span: Span) -> TExpr {
    TExpr {
        kind: TExprKind::Int(0),
        ty: Type::I64,
        span,
    }
}

/// The map an argument names, when it is `@m` or `@m[k...]`.
pub fn map_ref(e: &ast::Expr) -> Option<&ast::MapRef> {
    match &e.kind {
        ast::ExprKind::Map(m) => Some(m),
        _ => None,
    }
}
