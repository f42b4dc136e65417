//! C types in scripts: type names resolved (integers, the script's structs, pointers, arrays),
//! casts to pointers, and memory reached through them: `p->field`, `r.field`, `*p`, `p[i]`,
//! pointer arithmetic. Fed by the checker's expressions; yields `MemRead` and `Bits` nodes.

use super::typed::*;
use super::types::{Field, FieldDecl, RecordRef, Type};
use super::Checker;
use crate::ast::{self, BinOp};
use crate::builtins;
use crate::diag::Diagnostic;
use crate::probes::elf_dwarf::Dwarf;
use crate::probes::Attach;
use crate::source::Span;
use std::sync::Arc;

/// Outside-source ids of the script's own structs (BTF ids are below this).
const SCRIPT_STRUCTS: u32 = 0x8000_0000;

impl Checker<'_> {
    /// Lays out the script's `struct NAME { ... }` definitions, in order; each is declared
    /// first, so its members may point to it. `#include` lines bring nothing: the types they
    /// would declare come from the kernel's BTF.
    pub(super) fn define_structs(&mut self, prog: &ast::Program) {
        for d in &prog.structs {
            let line = d.name.name.trim();
            // An `#include` keeps only its path: the header's macros that rtrace knows.
            if d.fields.is_empty() && !line.starts_with('#') {
                for (name, value) in super::headers::macros(line) {
                    self.defines
                        .entry(name.to_string())
                        .or_insert_with(|| value.to_string());
                }
            }
            if let Some(rest) = line.strip_prefix('#').map(str::trim_start) {
                if let Some(def) = rest.strip_prefix("define") {
                    let mut parts = def.trim().splitn(2, char::is_whitespace);
                    if let (Some(n), Some(v)) = (parts.next(), parts.next()) {
                        self.defines.insert(n.to_string(), v.trim().to_string());
                    }
                }
            }
        }
        let defs: Vec<&ast::StructDef> = prog
            .structs
            .iter()
            .filter(|s| !s.fields.is_empty())
            .collect();
        for (i, def) in defs.iter().enumerate() {
            let name = record_key(def);
            let ty = self
                .types
                .declare_record(SCRIPT_STRUCTS + i as u32, &name, def.union, 0, 1);
            self.structs.insert(name, ty);
        }
        // As in bpftrace 0.17: when the script redefines a struct the kernel's BTF has, BTF
        // gives the script's definitions nothing, so a member held by value must be of a
        // type the script defines (a pointer may still point to a kernel type).
        let btf = if defs.is_empty() {
            None
        } else {
            self.catalogue.btf().ok()
        };
        let redefined = btf.and_then(|btf| {
            defs.iter()
                .map(|d| record_key(d))
                .find(|n| btf.find_record(n).is_some())
        });
        for def in defs {
            let name = record_key(def);
            let mut decls = Vec::new();
            for f in &def.fields {
                if let Some(kernel) = &redefined {
                    if let Some(d) = self.incomplete_member(&f.ty, kernel) {
                        self.error_diag(d);
                        continue;
                    }
                }
                let Some(ty) = self.resolve_type(&f.ty) else {
                    continue;
                };
                decls.push(FieldDecl {
                    name: f.name.name.clone(),
                    ty,
                    bits: f.bits,
                });
            }
            if let Some(Type::Record(r)) = self.structs.get(&name).cloned() {
                let ty = self.types.complete_record(&r, &decls);
                self.structs.insert(name, ty);
            }
        }
    }

    /// The error for a member held by value whose struct the script does not define, while
    /// the script redefines `redefined` (a kernel struct): the C compiler's "incomplete type".
    fn incomplete_member(&self, ty: &ast::TypeName, redefined: &str) -> Option<Diagnostic> {
        let name = ty.name.split_whitespace().collect::<Vec<_>>().join(" ");
        let is_record = name.starts_with("struct ") || name.starts_with("union ");
        if ty.pointer_depth > 0 || !is_record || self.structs.contains_key(&struct_name(&name)) {
            return None;
        }
        Some(
            Diagnostic::error(ty.span, format!("field has incomplete type '{name}'"))
                .with_note(format!(
                    "the script defines {redefined}, which the kernel's BTF also has; as in \
                     bpftrace, its C definitions then take no type from BTF: define {name} \
                     in the script too, or hold it by pointer"
                ))
                .in_c_definitions(),
        )
    }

    /// `#define NAME VALUE` lines of the script: an integer or a string constant by name.
    pub(super) fn defined(&mut self, name: &str, span: Span) -> Option<TExpr> {
        let value = self.defines.get(name)?.clone();
        if let Some(v) = builtins::parse_int(&value) {
            return Some(TExpr {
                kind: TExprKind::Int(v as i64),
                ty: Type::I64,
                span,
            });
        }
        let text = value.strip_prefix('"')?.strip_suffix('"')?;
        Some(self.str_literal(text.as_bytes().to_vec(), span))
    }

    /// The type a C type name names: `uint32`, `struct task_struct *`, `char[16]`. Reports
    /// (on the name's span) a name it does not know.
    pub(super) fn resolve_type(&mut self, ty: &ast::TypeName) -> Option<Type> {
        // Qualifiers change nothing rtrace reads: `const char *` is `char *`.
        let unqualified: Vec<&str> = ty
            .name
            .split_whitespace()
            .filter(|w| !matches!(*w, "const" | "volatile" | "restrict"))
            .collect();
        let ty = &ast::TypeName {
            name: unqualified.join(" "),
            ..ty.clone()
        };
        let plain = ast::TypeName {
            pointer_depth: 0,
            array_len: None,
            array_more: Vec::new(),
            ..ty.clone()
        };
        let base = match builtins::cast_type(&plain) {
            Some(t) => t,
            None if ty.name.trim() == "void" && ty.pointer_depth > 0 => Type::Void,
            None => match self.record_named(&ty.name) {
                Some(t) => t,
                None => {
                    self.error_diag(
                        Diagnostic::error(ty.span, format!("unknown type '{}'", ty.name.trim()))
                            .with_note(
                                "define it in the script (struct NAME { ... };) or use a type \
                                 the kernel's BTF has",
                            ),
                    );
                    return None;
                }
            },
        };
        let base = if base == Type::Void {
            None
        } else {
            Some(self.types.refresh(&base))
        };
        let mut t = match (base, ty.pointer_depth) {
            (Some(b), 0) => b,
            (base, depth) => {
                let mut p = Type::Ptr {
                    user: false,
                    to: base.map(Box::new),
                };
                for _ in 1..depth {
                    p = Type::Ptr {
                        user: false,
                        to: Some(Box::new(p)),
                    };
                }
                p
            }
        };
        // `int y[2][3]` is an array of 2 arrays of 3: the innermost dimension wraps first. A
        // `char` array is a string, as bpftrace reads it; `unsigned char`, `uint8_t` and
        // other byte arrays are arrays of integers.
        let dims: Vec<u64> = ty.array_len.iter().chain(&ty.array_more).copied().collect();
        let chars = ty.name.trim() == "char" && ty.pointer_depth == 0;
        for (i, &len) in dims.iter().enumerate().rev() {
            let innermost = i + 1 == dims.len();
            t = match t {
                Type::Int { size: 1, .. } if innermost && chars => Type::Str { size: len as u32 },
                elem => Type::Array {
                    elem: Box::new(elem),
                    len: len as u32,
                },
            };
        }
        Some(t)
    }

    /// A struct or union by name: the script's own first, as in bpftrace, then in a uprobe
    /// the traced file's from its DWARF (also its typedefs and enums), then the kernel's from
    /// BTF; or a kernel typedef by name (`pid_t`).
    fn record_named(&mut self, name: &str) -> Option<Type> {
        let plain = name.trim();
        let is_record = plain.starts_with("struct ") || plain.starts_with("union ");
        if let Some(t) = self.structs.get(&struct_name(name)) {
            return Some(t.clone());
        }
        if let Some(dwarf) = self.probe_dwarf() {
            if let Some(t) = dwarf.named_type(plain, &mut self.types) {
                return Some(t);
            }
        }
        let btf = self.catalogue.btf().ok()?;
        if !is_record {
            if let Some(id) = btf.find_typedef(plain) {
                return Some(btf.to_type(id, &mut self.types));
            }
        }
        btf.record_type(plain, &mut self.types)
    }

    /// A pointer to a kernel struct by its C name (the script's definition wins, as for
    /// casts), when BTF has it; no error otherwise.
    pub(super) fn kernel_type(&mut self, name: &str) -> Option<Type> {
        let t = match self.structs.get(&struct_name(name)) {
            Some(t) => t.clone(),
            None => self
                .catalogue
                .btf()
                .ok()?
                .record_type(name, &mut self.types)?,
        };
        Some(Type::Ptr {
            user: false,
            to: Some(Box::new(t)),
        })
    }

    /// An enum constant of the kernel's BTF by name (`PIDTYPE_TGID`).
    pub(super) fn enum_constant(&mut self, name: &str) -> Option<i64> {
        let btf = self.catalogue.btf().ok()?;
        btf.find_enum_constant(name).map(|(v, _)| v)
    }

    /// A record or array value read whole (printed, stored): every record inside it needs its
    /// members for the decoder.
    fn complete_deep(&mut self, ty: &Type, depth: u32) {
        match ty {
            Type::Array { elem, .. } if depth < 16 => self.complete_deep(elem, depth + 1),
            Type::Record(r) if depth < 16 => {
                self.complete(r);
                let inner: Vec<Type> = self
                    .types
                    .record(r)
                    .map(|rec| rec.fields.iter().map(|f| f.ty.clone()).collect())
                    .unwrap_or_default();
                for t in inner {
                    self.complete_deep(&t, depth + 1);
                }
            }
            _ => {}
        }
    }

    /// Members of a record from BTF or DWARF are converted the first time the record is
    /// used.
    fn complete(&mut self, r: &RecordRef) {
        if self.types.record(r).is_none_or(|rec| rec.complete) {
            return;
        }
        if let Some((file, _)) = self.types.dwarf_source_of(r) {
            if let Some(dwarf) = self.dwarves.get(&file).cloned() {
                dwarf.fill_record(r, &mut self.types);
            }
        } else if let Ok(btf) = self.catalogue.btf() {
            btf.fill_record(r, &mut self.types);
        }
    }

    /// The DWARF of the file the current probe traces, when it is a uprobe or uretprobe on a
    /// file that has DWARF (as bpftrace 0.17 reads a uprobe's types); kept by id, so that
    /// records declared from it get their members later.
    pub(super) fn probe_dwarf(&mut self) -> Option<Arc<Dwarf>> {
        let Some(Attach::Uprobe { path, .. }) = &self.ctx.attach else {
            return None;
        };
        let dwarf = self.catalogue.dwarf(path)?;
        self.dwarves
            .entry(dwarf.id)
            .or_insert_with(|| dwarf.clone());
        Some(dwarf)
    }

    /// `(TYPE)e` to a pointer type: the value is the same address, now typed.
    pub(super) fn pointer_cast(&mut self, inner: TExpr, ty: Type, span: Span) -> TExpr {
        if !inner.ty.is_int() {
            self.error(
                inner.span,
                format!(
                    "only an integer or a pointer can be cast to {ty}, not a {}",
                    inner.ty
                ),
            );
        }
        // A cast in a uprobe reads user memory, as bpftrace's address space rule says.
        let user = match (&inner.ty, self.ctx.attach.as_ref()) {
            (Type::Ptr { user, .. }, _) => *user,
            (_, Some(a)) if a.is_user() => true,
            _ => false,
        };
        let ty = match ty {
            Type::Ptr { to, .. } => Type::Ptr { user, to },
            other => other,
        };
        TExpr {
            kind: TExprKind::Cast(Box::new(inner)),
            ty,
            span,
        }
    }

    /// `base->field` (`arrow`) or `base.field` on a record.
    pub(super) fn member(
        &mut self,
        base: TExpr,
        field: &ast::Ident,
        arrow: bool,
        span: Span,
    ) -> TExpr {
        let (record, addr, user) = match (base.ty.clone(), arrow) {
            (Type::Ptr { to: Some(t), user }, true) => match self.types.refresh(&t) {
                Type::Record(r) => (r, base, user),
                other => return self.not_a_record(&other, field, span),
            },
            (Type::Record(r), false) => match base.kind {
                // A member of a record in memory is read from its own address.
                TExprKind::MemRead { addr, user } => (r, *addr, user),
                // A record held in a variable or map: its member is a part of the value.
                kind => {
                    let whole = TExpr { kind, ..base };
                    return match self.record_field(&r, &field.name) {
                        Some(f) if f.bitfield.is_none() => TExpr {
                            ty: self.types.refresh(&f.ty),
                            kind: TExprKind::Part {
                                whole: Box::new(whole),
                                offset: f.offset,
                            },
                            span,
                        },
                        Some(_) => {
                            self.error(
                                field.span,
                                "a bitfield of a struct held in a variable or map cannot be read \
                                 yet; read it through the pointer",
                            );
                            builtins::zero(span)
                        }
                        None => {
                            self.error(
                                field.span,
                                format!("{} has no member '{}'", r.name, field.name),
                            );
                            builtins::zero(span)
                        }
                    };
                }
            },
            (Type::Record(_), true) => {
                self.error(
                    field.span,
                    format!(
                        "this is a {}, not a pointer: use '.' to reach its members",
                        base.ty
                    ),
                );
                return builtins::zero(span);
            }
            (Type::Ptr { to: Some(_), .. }, false) => {
                self.error(
                    field.span,
                    format!(
                        "this is a {}: use '->' to reach a member through it",
                        base.ty
                    ),
                );
                return builtins::zero(span);
            }
            (other, _) => return self.not_a_record(&other, field, span),
        };
        let Some(f) = self.record_field(&record, &field.name) else {
            let names = self.field_names(&record);
            self.error_diag(
                Diagnostic::error(
                    field.span,
                    format!("{} has no member '{}'", record.name, field.name),
                )
                .with_note(format!("its members are: {}", names.join(", "))),
            );
            return builtins::zero(span);
        };
        self.read_member(addr, user, &f, span)
    }

    /// The member `f` of the record at `addr`.
    fn read_member(&mut self, addr: TExpr, user: bool, f: &Field, span: Span) -> TExpr {
        let at = offset_by(addr, i64::from(f.offset), span);
        let ty = self.in_space(self.types.refresh(&f.ty), user);
        self.complete_deep(&ty, 0);
        match f.bitfield {
            None => TExpr {
                kind: TExprKind::MemRead {
                    addr: Box::new(at),
                    user,
                },
                ty,
                span,
            },
            Some(b) => {
                let unit = TExpr {
                    kind: TExprKind::MemRead {
                        addr: Box::new(at),
                        user,
                    },
                    ty: ty.clone(),
                    span,
                };
                TExpr {
                    kind: TExprKind::Bits {
                        unit: Box::new(unit),
                        shift: b.shift,
                        bits: b.bits,
                    },
                    ty,
                    span,
                }
            }
        }
    }

    /// `*p`: the value `p` points to; `*n` of an integer reads 8 bytes there, as bpftrace does.
    pub(super) fn deref(&mut self, ptr: TExpr, span: Span) -> TExpr {
        match ptr.ty.clone() {
            Type::Int { .. } => {
                let user = self.ctx.attach.as_ref().is_some_and(Attach::is_user);
                TExpr {
                    kind: TExprKind::MemRead {
                        addr: Box::new(ptr),
                        user,
                    },
                    ty: Type::I64,
                    span,
                }
            }
            Type::Ptr { to: Some(t), user } => {
                let ty = self.in_space(self.types.refresh(&t), user);
                self.complete_deep(&ty, 0);
                TExpr {
                    kind: TExprKind::MemRead {
                        addr: Box::new(ptr),
                        user,
                    },
                    ty,
                    span,
                }
            }
            other => {
                self.error(
                    ptr.span,
                    format!(
                        "'*' needs a pointer to a known type, and this is {other}; cast it, \
                         as in *(uint32 *)p"
                    ),
                );
                builtins::zero(span)
            }
        }
    }

    /// `p[i]` of a pointer, `a[i]` of an array in memory.
    pub(super) fn index(&mut self, base: TExpr, index: TExpr, span: Span) -> TExpr {
        if !index.ty.is_int() {
            self.error(
                index.span,
                format!("an index must be an integer, but this is a {}", index.ty),
            );
            return builtins::zero(span);
        }
        let (elem, addr, user) = match base.ty.clone() {
            Type::Ptr { to: Some(t), user } => (self.types.refresh(&t), base, user),
            Type::Array { elem, len } => {
                if let TExprKind::Int(i) = index.kind {
                    if i < 0 || i as u64 >= u64::from(len) {
                        self.error(
                            span,
                            format!("the index {i} is out of bounds for array of size {len}"),
                        );
                        return builtins::zero(span);
                    }
                }
                match base.kind {
                    TExprKind::MemRead { addr, user } => (*elem, *addr, user),
                    // An array held in a variable or map: a constant index picks its part.
                    kind => {
                        let TExprKind::Int(i) = index.kind else {
                            self.error(
                                index.span,
                                "an array held in a variable or map is indexed with a constant",
                            );
                            return builtins::zero(span);
                        };
                        let offset = i as u32 * elem.c_size();
                        return TExpr {
                            kind: TExprKind::Part {
                                whole: Box::new(TExpr { kind, ..base }),
                                offset,
                            },
                            ty: *elem,
                            span,
                        };
                    }
                }
            }
            other => {
                self.error(
                    base.span,
                    format!("only pointers and arrays can be indexed, not a {other}"),
                );
                return builtins::zero(span);
            }
        };
        let at = self.scaled_add(addr, index, elem.c_size(), BinOp::Add, span);
        let ty = self.in_space(elem, user);
        self.complete_deep(&ty, 0);
        TExpr {
            kind: TExprKind::MemRead {
                addr: Box::new(at),
                user,
            },
            ty,
            span,
        }
    }

    /// `p + n`, `p - n` on a typed pointer: `n` counts elements, as in C.
    pub(super) fn pointer_arith(&mut self, op: BinOp, p: TExpr, n: TExpr, span: Span) -> TExpr {
        let ty = p.ty.clone();
        let size = match &ty {
            Type::Ptr { to: Some(t), .. } => self.types.refresh(t).c_size(),
            _ => 1,
        };
        let mut e = self.scaled_add(p, n, size, op, span);
        e.ty = ty;
        e
    }

    /// What `++` adds to a value of type `ty`: a typed pointer steps by its pointee, as in C.
    pub(super) fn step_of(&mut self, ty: &Type) -> i64 {
        match ty {
            Type::Ptr { to: Some(t), .. } => i64::from(self.types.refresh(t).c_size().max(1)),
            _ => 1,
        }
    }

    /// `base op n * size` as a 64-bit integer.
    fn scaled_add(&mut self, base: TExpr, n: TExpr, size: u32, op: BinOp, span: Span) -> TExpr {
        let scaled = match (n.kind, size) {
            (TExprKind::Int(i), _) => int(i.wrapping_mul(i64::from(size)), n.span),
            (kind, 1) => TExpr { kind, ..n },
            (kind, size) => TExpr {
                kind: TExprKind::Binary {
                    op: BinOp::Mul,
                    lhs: Box::new(TExpr { kind, ..n }),
                    rhs: Box::new(int(i64::from(size), n.span)),
                    signed: false,
                },
                ty: Type::U64,
                span: n.span,
            },
        };
        TExpr {
            kind: TExprKind::Binary {
                op,
                lhs: Box::new(base),
                rhs: Box::new(scaled),
                signed: false,
            },
            ty: Type::U64,
            span,
        }
    }

    /// A pointer read through a user pointer points into user memory too.
    fn in_space(&self, ty: Type, user: bool) -> Type {
        match ty {
            Type::Ptr { to, .. } => Type::Ptr { user, to },
            other => other,
        }
    }

    pub(super) fn record_field(&mut self, r: &RecordRef, name: &str) -> Option<Field> {
        self.complete(r);
        self.types.field(r, name)
    }

    fn field_names(&mut self, r: &RecordRef) -> Vec<String> {
        self.complete(r);
        self.types
            .record(r)
            .map(|rec| rec.fields.iter().map(|f| f.name.clone()).collect())
            .unwrap_or_default()
    }

    fn not_a_record(&mut self, ty: &Type, field: &ast::Ident, span: Span) -> TExpr {
        self.error(
            field.span,
            format!(
                "'{}' is not a member of a struct here: this is a {ty}",
                field.name
            ),
        );
        builtins::zero(span)
    }
}

/// `struct NAME` for `NAME` or `struct NAME` (bpftrace accepts both in casts).
/// The name a script's definition is found by: `struct NAME` or `union NAME`.
fn record_key(def: &ast::StructDef) -> String {
    let keyword = if def.union { "union" } else { "struct" };
    struct_name(&format!("{keyword} {}", def.name.name))
}

fn struct_name(name: &str) -> String {
    let name = name.trim();
    if name.starts_with("struct ") || name.starts_with("union ") {
        name.split_whitespace().collect::<Vec<_>>().join(" ")
    } else {
        format!("struct {name}")
    }
}

fn int(v: i64, span: Span) -> TExpr {
    TExpr {
        kind: TExprKind::Int(v),
        ty: Type::I64,
        span,
    }
}

/// `addr + off` (the address itself when `off` is 0).
fn offset_by(addr: TExpr, off: i64, span: Span) -> TExpr {
    if off == 0 {
        return addr;
    }
    TExpr {
        kind: TExprKind::Binary {
            op: BinOp::Add,
            lhs: Box::new(addr),
            rhs: Box::new(int(off, span)),
            signed: false,
        },
        ty: Type::U64,
        span,
    }
}
