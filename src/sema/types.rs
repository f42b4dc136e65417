//! The types of rtrace expressions and their byte layouts in keys, values and event records.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

/// The type of an expression.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Type {
    /// An integer of `size` bytes (1, 2, 4 or 8). In registers it is always held as 64 bits,
    /// sign- or zero-extended; in memory (keys, values, records) it takes 8 bytes, but in a
    /// tuple and in C memory its own size.
    Int { size: u8, signed: bool },
    /// A NUL-terminated string in a zero-padded buffer of `size` bytes (NUL included).
    Str { size: u32 },
    /// A tuple of values, laid out as bpftrace 0.17 lays them out: a C struct of its
    /// elements, each at its own size and alignment (`Type::tuple_offsets`).
    Tuple(Vec<Type>),
    /// A pointer (a kernel or user address), held as a 64-bit integer. `to` is what it points
    /// to when that is known (C types); `user` is the address space it points into, which
    /// decides how memory behind it is read (`probe_read_user` or `probe_read_kernel`).
    Ptr { user: bool, to: Option<Box<Type>> },
    /// A C array of `len` elements, laid out as in C.
    Array { elem: Box<Type>, len: u32 },
    /// A C struct or union; its fields are in the `TypeTable`.
    Record(RecordRef),
    /// A C enum: an integer of `size` bytes whose names are in the `TypeTable`.
    Enum(EnumRef),
    /// Bytes that userspace turns into text when it prints them (a user name from a uid, an
    /// address from `ntop`, a time from `strftime`): the builtin that made them says how.
    Formatted(Formatted),
    /// The type of statements and of calls that return nothing.
    Void,
}

/// A struct or union of the `TypeTable`, with what its layout needs without the table.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RecordRef {
    pub id: u32,
    /// `struct task_struct`, `union bpf_attr`.
    pub name: Arc<str>,
    pub size: u32,
    pub align: u32,
}

/// A value printed by its builtin's `format` hook (see `Type::Formatted`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Formatted {
    /// The builtin's id (`builtins::get`), which prints the bytes.
    pub builtin: u16,
    /// Its name, for messages (`username`, `inet`, `timestamp`).
    pub name: &'static str,
    /// Bytes of the value.
    pub size: u32,
    /// A compile-time parameter of the formatting (strftime's format).
    pub param: Option<Arc<str>>,
}

/// An enum of the `TypeTable`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct EnumRef {
    pub id: u32,
    /// `enum pid_type`.
    pub name: Arc<str>,
    pub size: u8,
    pub signed: bool,
}

/// C struct and union definitions and enums, from BTF or the script. Records refer to each
/// other by id, so a struct may hold a pointer to itself.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TypeTable {
    records: Vec<Record>,
    enums: Vec<Enum>,
    /// Records and enums declared from an outside source (a BTF type id), by that id: each is
    /// declared once, and a record's members are filled in only when a script uses them, so
    /// the kernel's whole type graph is never converted.
    sources: HashMap<u32, Type>,
    /// Records and enums declared from an ELF file's DWARF, by (the file's id, the entry's
    /// key), each once, as for BTF; and the entry each such record came from.
    dwarf_sources: HashMap<(u32, u64), Type>,
    dwarf_records: HashMap<u32, (u32, u64)>,
}

/// A struct or union with its C layout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub name: Arc<str>,
    pub union: bool,
    pub size: u32,
    pub align: u32,
    pub fields: Vec<Field>,
    /// The members are known (a declared record gets them with `fill_record`).
    pub complete: bool,
}

/// A member of a record. Anonymous members (nested anonymous structs and unions) have an
/// empty name; their members are found through them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    pub name: String,
    pub ty: Type,
    /// Byte offset from the start of the record (of the storage unit, for a bitfield).
    pub offset: u32,
    pub bitfield: Option<Bitfield>,
}

impl Type {
    /// A type rtrace cannot use in expressions (floats, 128-bit integers) as BTF or DWARF
    /// describe it, kept as opaque bytes so that the records holding it keep their layout:
    /// `uint8[size]`.
    pub fn opaque(size: u32) -> Type {
        Type::Array {
            elem: Box::new(Type::Int {
                size: 1,
                signed: false,
            }),
            len: size,
        }
    }
}

impl Field {
    /// A member `bit_offset` bits into its record, `bits` wide when a bitfield (0: not one),
    /// placed as C compilers place it: a bitfield is read from the unit of its type's size
    /// that holds it, or, when it straddles two, as 8 bytes from its first byte.
    pub fn placed(name: String, mut ty: Type, bit_offset: u32, bits: u32) -> Field {
        let (offset, bitfield) = if bits == 0 {
            (bit_offset / 8, None)
        } else {
            let unit = ty.c_size().clamp(1, 8) * 8;
            let start = bit_offset - bit_offset % unit;
            if bit_offset - start + bits <= unit {
                (start / 8, Some((bit_offset - start, bits)))
            } else {
                ty = Type::Int {
                    size: 8,
                    signed: ty.is_signed(),
                };
                (bit_offset / 8, Some((bit_offset % 8, bits)))
            }
        };
        Field {
            name,
            ty,
            offset,
            bitfield: bitfield.map(|(shift, bits)| Bitfield {
                shift: shift as u8,
                bits: bits.min(64) as u8,
            }),
        }
    }
}

/// A bitfield: `bits` bits starting `shift` bits into the field's storage unit (little
/// endian: bit 0 is the lowest bit of the first byte).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bitfield {
    pub shift: u8,
    pub bits: u8,
}

/// An enum's names and values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Enum {
    pub name: Arc<str>,
    pub size: u8,
    pub signed: bool,
    pub values: Vec<(String, i64)>,
}

/// A member as written in a C definition, before layout: `int x`, `unsigned flags : 3`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldDecl {
    pub name: String,
    pub ty: Type,
    pub bits: Option<u8>,
}

impl TypeTable {
    /// Adds a record whose layout is known (from BTF); returns the type that names it.
    pub fn add_record(&mut self, record: Record) -> Type {
        let r = RecordRef {
            id: self.records.len() as u32,
            name: record.name.clone(),
            size: record.size,
            align: record.align,
        };
        self.records.push(record);
        Type::Record(r)
    }

    /// Lays out a struct or union as a C compiler for x86-64 and Linux does (bitfields packed
    /// into units of their type without crossing one) and adds it.
    pub fn define_record(&mut self, name: &str, union: bool, decls: &[FieldDecl]) -> Type {
        let (fields, size, align) = layout(union, decls);
        self.add_record(Record {
            name: name.into(),
            union,
            size,
            align,
            fields,
            complete: true,
        })
    }

    /// Lays out a declared record (a script's struct, declared first so that its members may
    /// point to it) and returns its type with the final size.
    pub fn complete_record(&mut self, r: &RecordRef, decls: &[FieldDecl]) -> Type {
        let Some(rec) = self.records.get_mut(r.id as usize) else {
            return Type::Record(r.clone());
        };
        let (fields, size, align) = layout(rec.union, decls);
        rec.fields = fields;
        rec.size = size;
        rec.align = align;
        rec.complete = true;
        self.refresh(&Type::Record(r.clone()))
    }

    /// `ty` with the size and alignment its record has now (a pointer may have been made to a
    /// record before its members were laid out).
    pub fn refresh(&self, ty: &Type) -> Type {
        match ty {
            Type::Record(r) => match self.record(r) {
                Some(rec) => Type::Record(RecordRef {
                    size: rec.size,
                    align: rec.align,
                    ..r.clone()
                }),
                None => ty.clone(),
            },
            Type::Array { elem, len } => Type::Array {
                elem: Box::new(self.refresh(elem)),
                len: *len,
            },
            _ => ty.clone(),
        }
    }

    pub fn record(&self, r: &RecordRef) -> Option<&Record> {
        self.records.get(r.id as usize)
    }

    /// The type declared for outside type `source` (a BTF id), if any.
    pub fn declared(&self, source: u32) -> Option<&Type> {
        self.sources.get(&source)
    }

    /// The outside type (a BTF id) record `r` was declared from, if it was.
    pub fn source_of(&self, r: &RecordRef) -> Option<u32> {
        self.sources.iter().find_map(|(&source, t)| match t {
            Type::Record(d) if d.id == r.id => Some(source),
            _ => None,
        })
    }

    /// Declares a record known by its size and alignment whose members come later
    /// (`fill_record`); declaring the same `source` again gives the same type.
    pub fn declare_record(
        &mut self,
        source: u32,
        name: &str,
        union: bool,
        size: u32,
        align: u32,
    ) -> Type {
        if let Some(t) = self.sources.get(&source) {
            return t.clone();
        }
        let t = self.add_declared(name, union, size, align);
        self.sources.insert(source, t.clone());
        t
    }

    /// A new record without its members yet.
    fn add_declared(&mut self, name: &str, union: bool, size: u32, align: u32) -> Type {
        self.add_record(Record {
            name: name.into(),
            union,
            size,
            align,
            fields: Vec::new(),
            complete: false,
        })
    }

    /// Gives a declared record its members. Returns its anonymous members' records, whose
    /// members are the record's own (`field` looks through them): the caller fills them too.
    pub fn fill_record(&mut self, r: &RecordRef, fields: Vec<Field>) -> Vec<RecordRef> {
        let anonymous = fields
            .iter()
            .filter_map(|f| match &f.ty {
                Type::Record(inner) if f.name.is_empty() => Some(inner.clone()),
                _ => None,
            })
            .collect();
        if let Some(rec) = self.records.get_mut(r.id as usize) {
            rec.fields = fields;
            rec.complete = true;
        }
        anonymous
    }

    /// The type declared for entry `key` of DWARF file `file`, if any.
    pub fn declared_dwarf(&self, file: u32, key: u64) -> Option<&Type> {
        self.dwarf_sources.get(&(file, key))
    }

    /// The DWARF file and entry record `r` was declared from, if it was.
    pub fn dwarf_source_of(&self, r: &RecordRef) -> Option<(u32, u64)> {
        self.dwarf_records.get(&r.id).copied()
    }

    /// Declares a record of DWARF file `file` (entry `key`) whose members come later
    /// (`fill_record`), as `declare_record` does for BTF.
    pub fn declare_dwarf_record(
        &mut self,
        (file, key): (u32, u64),
        name: &str,
        union: bool,
        size: u32,
        align: u32,
    ) -> Type {
        if let Some(t) = self.dwarf_sources.get(&(file, key)) {
            return t.clone();
        }
        let t = self.add_declared(name, union, size, align);
        if let Type::Record(r) = &t {
            self.dwarf_records.insert(r.id, (file, key));
        }
        self.dwarf_sources.insert((file, key), t.clone());
        t
    }

    /// Declares an enum of DWARF file `file` (entry `key`) once.
    pub fn declare_dwarf_enum(&mut self, (file, key): (u32, u64), e: Enum) -> Type {
        if let Some(t) = self.dwarf_sources.get(&(file, key)) {
            return t.clone();
        }
        let t = self.add_enum(e);
        self.dwarf_sources.insert((file, key), t.clone());
        t
    }

    /// Declares an enum from an outside source once (see `declare_record`).
    pub fn declare_enum(&mut self, source: u32, e: Enum) -> Type {
        if let Some(t) = self.sources.get(&source) {
            return t.clone();
        }
        let t = self.add_enum(e);
        self.sources.insert(source, t.clone());
        t
    }

    /// A record's member by name, looking through anonymous members; its offset is from the
    /// start of the outer record.
    pub fn field(&self, r: &RecordRef, name: &str) -> Option<Field> {
        let rec = self.record(r)?;
        for f in &rec.fields {
            if f.name == name {
                return Some(f.clone());
            }
            if let (true, Type::Record(inner)) = (f.name.is_empty(), &f.ty) {
                if let Some(mut found) = self.field(inner, name) {
                    found.offset += f.offset;
                    return Some(found);
                }
            }
        }
        None
    }

    /// Adds an enum; returns the type that names it.
    pub fn add_enum(&mut self, e: Enum) -> Type {
        let r = EnumRef {
            id: self.enums.len() as u32,
            name: e.name.clone(),
            size: e.size,
            signed: e.signed,
        };
        self.enums.push(e);
        Type::Enum(r)
    }

    pub fn enum_def(&self, r: &EnumRef) -> Option<&Enum> {
        self.enums.get(r.id as usize)
    }

    /// The value of an enum constant by name, and its enum.
    pub fn enum_constant(&self, name: &str) -> Option<(i64, Type)> {
        self.enums.iter().enumerate().find_map(|(i, e)| {
            let v = e.values.iter().find(|(n, _)| n == name)?.1;
            let r = EnumRef {
                id: i as u32,
                name: e.name.clone(),
                size: e.size,
                signed: e.signed,
            };
            Some((v, Type::Enum(r)))
        })
    }
}

/// bpftrace's default string buffer size (`BPFTRACE_STRLEN`).
pub const STRLEN: u32 = 64;
/// `comm`'s buffer size (TASK_COMM_LEN).
pub const COMM_LEN: u32 = 16;

/// A tuple's element offsets, size and alignment: each element at its size, aligned by
/// `Type::tuple_align`, the whole padded to its alignment (as bpftrace 0.17's
/// `Struct::CreateTuple`, after LLVM's struct layout).
fn tuple_layout(elems: &[Type]) -> (Vec<u32>, u32, u32) {
    let (mut off, mut align) = (0u32, 1u32);
    let offsets = elems
        .iter()
        .map(|t| {
            let a = t.tuple_align();
            align = align.max(a);
            let o = off.next_multiple_of(a);
            off = o + t.c_size();
            o
        })
        .collect();
    (offsets, off.next_multiple_of(align), align)
}

/// Members' offsets, the size and the alignment of a struct or union laid out as in C.
fn layout(union: bool, decls: &[FieldDecl]) -> (Vec<Field>, u32, u32) {
    let mut fields = Vec::new();
    let (mut bit, mut size, mut align) = (0u64, 0u64, 1u32);
    for d in decls {
        let (fsize, falign) = (u64::from(d.ty.c_size()), d.ty.c_align().max(1));
        align = align.max(falign);
        let start = if union { 0 } else { bit };
        let (offset, bitfield, end) = match d.bits {
            Some(bits) if fsize > 0 => {
                let unit = fsize * 8;
                let mut at = start;
                if at % unit + u64::from(bits) > unit {
                    at = at.div_ceil(unit) * unit;
                }
                let unit_start = at / unit * unit;
                let shift = (at - unit_start) as u8;
                (
                    (unit_start / 8) as u32,
                    Some(Bitfield { shift, bits }),
                    at + u64::from(bits),
                )
            }
            _ => {
                let byte = start.div_ceil(8).next_multiple_of(u64::from(falign));
                (byte as u32, None, (byte + fsize) * 8)
            }
        };
        fields.push(Field {
            name: d.name.clone(),
            ty: d.ty.clone(),
            offset,
            bitfield,
        });
        if union {
            size = size.max(end.div_ceil(8));
        } else {
            bit = end;
            size = bit.div_ceil(8);
        }
    }
    let size = size.next_multiple_of(u64::from(align)) as u32;
    (fields, size, align)
}

impl Type {
    pub const I64: Type = Type::Int {
        size: 8,
        signed: true,
    };
    pub const U64: Type = Type::Int {
        size: 8,
        signed: false,
    };

    /// A kernel pointer of unknown pointee.
    pub const KPTR: Type = Type::Ptr {
        user: false,
        to: None,
    };

    /// Held in a register as a 64-bit integer: integers, pointers and enums.
    pub fn is_int(&self) -> bool {
        matches!(self, Type::Int { .. } | Type::Ptr { .. } | Type::Enum(_))
    }

    pub fn is_signed(&self) -> bool {
        matches!(
            self,
            Type::Int { signed: true, .. } | Type::Enum(EnumRef { signed: true, .. })
        )
    }

    pub fn is_str(&self) -> bool {
        matches!(self, Type::Str { .. })
    }

    /// Bytes this type takes in a key, value or record: integers take 8, strings their buffer
    /// rounded up to 8, tuples, arrays and records their C size rounded up to 8.
    pub fn layout_size(&self) -> u32 {
        match self {
            Type::Int { .. } | Type::Ptr { .. } | Type::Enum(_) => 8,
            Type::Str { size } => size.div_ceil(8) * 8,
            Type::Tuple(_) | Type::Array { .. } | Type::Record(_) | Type::Formatted(_) => {
                self.c_size().div_ceil(8) * 8
            }
            Type::Void => 0,
        }
    }

    /// Bytes the type takes in C memory (kernel structures, arrays read whole).
    pub fn c_size(&self) -> u32 {
        match self {
            Type::Int { size, .. } => u32::from(*size),
            Type::Enum(e) => u32::from(e.size),
            Type::Ptr { .. } => 8,
            Type::Str { size } => *size,
            Type::Array { elem, len } => elem.c_size() * len,
            Type::Record(r) => r.size,
            Type::Formatted(f) => f.size,
            Type::Tuple(elems) => tuple_layout(elems).1,
            Type::Void => 0,
        }
    }

    /// The type's alignment in C memory.
    pub fn c_align(&self) -> u32 {
        match self {
            Type::Int { size, .. } => u32::from(*size),
            Type::Enum(e) => u32::from(e.size),
            Type::Ptr { .. } | Type::Formatted(_) => 8,
            Type::Tuple(elems) => tuple_layout(elems).2,
            Type::Str { .. } | Type::Void => 1,
            Type::Array { elem, .. } => elem.c_align(),
            Type::Record(r) => r.align,
        }
    }

    /// The alignment of a tuple element, by bpftrace 0.17's rule: strings 1, tuples and
    /// records their own, values of up to 2 bytes their size, arrays their element's, other
    /// values of up to 4 bytes 4, the rest 8.
    fn tuple_align(&self) -> u32 {
        match self {
            Type::Str { .. } => 1,
            Type::Tuple(elems) => tuple_layout(elems).2,
            Type::Record(r) => r.align.max(1),
            _ if self.c_size() <= 2 => self.c_size().max(1),
            Type::Array { elem, .. } => elem.tuple_align(),
            _ if self.c_size() <= 4 => 4,
            _ => 8,
        }
    }

    /// Offsets of a tuple's elements inside its layout.
    pub fn tuple_offsets(elems: &[Type]) -> Vec<u32> {
        tuple_layout(elems).0
    }

    /// Offsets of a map's key elements: one after another, each in its `layout_size`.
    pub fn key_offsets(elems: &[Type]) -> Vec<u32> {
        let mut off = 0;
        elems
            .iter()
            .map(|t| {
                let o = off;
                off += t.layout_size();
                o
            })
            .collect()
    }

    /// Whether a value of type `other` can be stored where `self` is expected, and the type that
    /// covers both (strings widen to the larger buffer; integers to 64 bits).
    pub fn unify(&self, other: &Type) -> Option<Type> {
        match (self, other) {
            (a, b) if a == b => Some(a.clone()),
            (a, b) if a.is_int() && b.is_int() => Some(Type::Int {
                size: 8,
                signed: a.is_signed() || b.is_signed(),
            }),
            (Type::Str { size: a }, Type::Str { size: b }) => Some(Type::Str { size: *a.max(b) }),
            (Type::Tuple(a), Type::Tuple(b)) if a.len() == b.len() => a
                .iter()
                .zip(b)
                .map(|(x, y)| x.unify(y))
                .collect::<Option<Vec<_>>>()
                .map(Type::Tuple),
            _ => None,
        }
    }
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Type::Int { size, signed } => {
                write!(f, "{}int{}", if *signed { "" } else { "u" }, size * 8)
            }
            Type::Str { size } => write!(f, "string[{size}]"),
            Type::Tuple(elems) => {
                write!(f, "(")?;
                for (i, e) in elems.iter().enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    write!(f, "{e}")?;
                }
                write!(f, ")")
            }
            Type::Ptr { to: Some(t), .. } => write!(f, "{t} *"),
            Type::Ptr { user: true, .. } => write!(f, "user pointer"),
            Type::Ptr { user: false, .. } => write!(f, "pointer"),
            Type::Array { elem, len } => write!(f, "{elem}[{len}]"),
            Type::Record(r) => write!(f, "{}", r.name),
            Type::Enum(e) => write!(f, "{}", e.name),
            Type::Formatted(v) => write!(f, "{}", v.name),
            Type::Void => write!(f, "none"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_are_eight_byte_units() {
        assert_eq!(Type::I64.layout_size(), 8);
        assert_eq!(Type::Str { size: 16 }.layout_size(), 16);
        assert_eq!(Type::Str { size: 4 }.layout_size(), 8);
        let t = vec![Type::Str { size: 12 }, Type::U64];
        assert_eq!(Type::tuple_offsets(&t), vec![0, 16]);
        assert_eq!(Type::Tuple(t.clone()).layout_size(), 24);
        // Map keys keep each element in its layout size.
        let k = vec![
            Type::Int {
                size: 1,
                signed: true,
            },
            Type::Str { size: 3 },
        ];
        assert_eq!(Type::key_offsets(&k), vec![0, 8]);
    }

    #[test]
    fn tuples_are_laid_out_as_bpftrace_lays_them_out() {
        let i = |size| Type::Int { size, signed: true };
        let s = |size| Type::Str { size };
        // (int8, int16, int32) and (int32, int16, int8): 8 bytes.
        let a = vec![i(1), i(2), i(4)];
        assert_eq!(Type::tuple_offsets(&a), vec![0, 2, 4]);
        assert_eq!(Type::Tuple(a).c_size(), 8);
        let b = vec![i(4), i(2), i(1)];
        assert_eq!(Type::tuple_offsets(&b), vec![0, 4, 6]);
        assert_eq!(Type::Tuple(b).c_size(), 8);
        // Strings align to 1; the whole pads to its largest alignment.
        let c = vec![i(1), i(1), s(7), i(8), i(4), i(8), i(1), i(2), s(4)];
        assert_eq!(
            Type::tuple_offsets(&c),
            vec![0, 1, 2, 16, 24, 32, 40, 42, 44]
        );
        let t = Type::Tuple(c);
        assert_eq!((t.c_size(), t.c_align(), t.layout_size()), (48, 8, 48));
        // An array aligns as its element; a nested tuple as its largest element.
        let arr = Type::Array {
            elem: Box::new(i(4)),
            len: 4,
        };
        assert_eq!(Type::Tuple(vec![i(4), arr]).c_size(), 20);
        let nested = vec![i(1), Type::Tuple(vec![i(1), i(2)])];
        assert_eq!(Type::tuple_offsets(&nested), vec![0, 2]);
        assert_eq!(Type::Tuple(nested).layout_size(), 8);
    }

    fn int(size: u8) -> Type {
        Type::Int { size, signed: true }
    }

    fn decl(name: &str, ty: Type, bits: Option<u8>) -> FieldDecl {
        FieldDecl {
            name: name.into(),
            ty,
            bits,
        }
    }

    #[test]
    fn structs_are_laid_out_as_in_c() {
        let mut t = TypeTable::default();
        // struct s { char c; int i; short s; long l; } is 24 bytes: 0, 4, 8, 16.
        let s = t.define_record(
            "struct s",
            false,
            &[
                decl("c", int(1), None),
                decl("i", int(4), None),
                decl("s", int(2), None),
                decl("l", int(8), None),
            ],
        );
        let Type::Record(r) = &s else { panic!() };
        let offs: Vec<u32> = t
            .record(r)
            .unwrap()
            .fields
            .iter()
            .map(|f| f.offset)
            .collect();
        assert_eq!(offs, vec![0, 4, 8, 16]);
        assert_eq!((s.c_size(), s.c_align(), s.layout_size()), (24, 8, 24));
        // An array of them, and a union of an int and a char[5]: 8 bytes, align 4.
        let a = Type::Array {
            elem: Box::new(s.clone()),
            len: 3,
        };
        assert_eq!((a.c_size(), a.c_align()), (72, 8));
        let u = t.define_record(
            "union u",
            true,
            &[
                decl("i", int(4), None),
                decl(
                    "b",
                    Type::Array {
                        elem: Box::new(int(1)),
                        len: 5,
                    },
                    None,
                ),
            ],
        );
        assert_eq!((u.c_size(), u.c_align(), u.layout_size()), (8, 4, 8));
    }

    #[test]
    fn bitfields_pack_without_crossing_their_unit() {
        let mut t = TypeTable::default();
        let u32t = Type::Int {
            size: 4,
            signed: false,
        };
        // struct b { unsigned a : 3; unsigned b : 30; char c; }: b starts a new unit.
        let s = t.define_record(
            "struct b",
            false,
            &[
                decl("a", u32t.clone(), Some(3)),
                decl("b", u32t.clone(), Some(30)),
                decl("c", int(1), None),
            ],
        );
        let Type::Record(r) = &s else { panic!() };
        let f = |n| t.field(r, n).unwrap();
        assert_eq!(
            (f("a").offset, f("a").bitfield),
            (0, Some(Bitfield { shift: 0, bits: 3 }))
        );
        assert_eq!(
            (f("b").offset, f("b").bitfield),
            (4, Some(Bitfield { shift: 0, bits: 30 }))
        );
        assert_eq!(f("c").offset, 8);
        assert_eq!(s.c_size(), 12);
    }

    #[test]
    fn anonymous_members_are_looked_through() {
        let mut t = TypeTable::default();
        let inner = t.define_record("union", true, &[decl("x", int(4), None)]);
        let outer = t.define_record(
            "struct o",
            false,
            &[decl("a", int(8), None), decl("", inner, None)],
        );
        let Type::Record(r) = &outer else { panic!() };
        assert_eq!(t.field(r, "x").map(|f| f.offset), Some(8));
        assert_eq!(outer.to_string(), "struct o");
    }

    #[test]
    fn declared_records_are_filled_once_used() {
        let mut t = TypeTable::default();
        let a = t.declare_record(7, "struct task_struct", false, 9000, 64);
        assert_eq!(
            t.declare_record(7, "struct task_struct", false, 9000, 64),
            a
        );
        let Type::Record(r) = &a else { panic!() };
        assert!(!t.record(r).unwrap().complete);
        assert_eq!((a.c_size(), a.c_align(), a.layout_size()), (9000, 64, 9000));
        let pid = Field {
            name: "pid".into(),
            ty: int(4),
            offset: 2464,
            bitfield: None,
        };
        t.fill_record(r, vec![pid.clone()]);
        assert!(t.record(r).unwrap().complete);
        assert_eq!(t.field(r, "pid"), Some(pid));
        assert_eq!(t.declared(7), Some(&a));
        assert_eq!(t.source_of(r), Some(7));
        let Type::Record(own) = t.define_record("struct s", false, &[]) else {
            panic!()
        };
        assert_eq!(t.source_of(&own), None);
    }

    #[test]
    fn dwarf_records_are_kept_apart_from_btf_ids() {
        let mut t = TypeTable::default();
        let btf = t.declare_record(7, "struct a", false, 8, 4);
        // The same number from a DWARF file is another type, declared once per file.
        let d = t.declare_dwarf_record((0, 7), "struct a", false, 16, 8);
        assert_ne!(btf, d);
        assert_eq!(t.declare_dwarf_record((0, 7), "struct a", false, 16, 8), d);
        let other = t.declare_dwarf_record((1, 7), "struct a", false, 16, 8);
        assert_ne!(other, d);
        let (Type::Record(rb), Type::Record(rd)) = (&btf, &d) else {
            panic!()
        };
        assert_eq!(
            (t.source_of(rd), t.dwarf_source_of(rd)),
            (None, Some((0, 7)))
        );
        assert_eq!((t.source_of(rb), t.dwarf_source_of(rb)), (Some(7), None));
        assert_eq!(t.declared_dwarf(0, 7), Some(&d));
        let e = Enum {
            name: "enum e".into(),
            size: 4,
            signed: true,
            values: vec![("E_MINUS".into(), -1)],
        };
        let de = t.declare_dwarf_enum((0, 9), e.clone());
        assert_eq!(t.declare_dwarf_enum((0, 9), e), de);
        assert_eq!(t.enum_constant("E_MINUS"), Some((-1, de)));
    }

    #[test]
    fn enums_are_integers_with_names() {
        let mut t = TypeTable::default();
        let e = t.add_enum(Enum {
            name: "enum pid_type".into(),
            size: 4,
            signed: false,
            values: vec![("PIDTYPE_PID".into(), 0), ("PIDTYPE_TGID".into(), 1)],
        });
        assert!(e.is_int());
        assert_eq!(t.enum_constant("PIDTYPE_TGID"), Some((1, e.clone())));
        assert_eq!(e.unify(&Type::I64), Some(Type::I64));
        assert_eq!(e.unify(&e), Some(e));
    }

    #[test]
    fn unify_widens() {
        let s = Type::Str { size: 4 }.unify(&Type::Str { size: 64 });
        assert_eq!(s, Some(Type::Str { size: 64 }));
        assert_eq!(Type::U64.unify(&Type::Str { size: 4 }), None);
        assert_eq!(
            Type::Int {
                size: 4,
                signed: false
            }
            .unify(&Type::I64),
            Some(Type::I64)
        );
    }
}
