//! BTF types into rtrace's C type table (`sema::types`): one type at a time, records declared
//! by size and alignment and given their members only when `fill_record` is asked, so the
//! kernel's type graph is never converted whole.

use super::{Btf, Kind, INT_CHAR, INT_SIGNED};
use crate::sema::types::{Enum, Field, RecordRef, Type, TypeTable};
use std::collections::HashMap;

/// Pointers deeper than this (`int ********...`) are taken as pointers to unknown; only a
/// malformed file goes this deep, and the limit keeps a cycle of pointers from recursing.
const MAX_DEPTH: u32 = 32;

impl Btf {
    /// Type `id` as an rtrace type. Typedefs, qualifiers and type tags are looked through;
    /// `char`s and `bool`s are 1-byte integers; arrays of `char` are strings, as bpftrace reads
    /// them; a pointer to void or to a function has no pointee; structs, unions and enums are
    /// declared in `table` once, by BTF id (a record's members come with `fill_record`); a
    /// forward declaration becomes the definition of that name when there is one. Floats and
    /// integers wider than 8 bytes become opaque bytes (`uint8[size]`: see `unsupported`);
    /// void, functions and sections are `Void`.
    pub fn to_type(&self, id: u32, table: &mut TypeTable) -> Type {
        self.convert(id, table, 0)
    }

    /// Why type `id` cannot be used as a value, if it cannot: `to_type` gives these types as
    /// opaque bytes so that the records around them keep their layout.
    pub fn unsupported(&self, id: u32) -> Option<String> {
        let t = self.get(self.resolve(id))?;
        match t.kind {
            Kind::Float => Some(format!("floating point type '{}' is not supported", t.name)),
            Kind::Int if !matches!(t.size_or_type, 1 | 2 | 4 | 8) => Some(format!(
                "{}-byte integer type '{}' is not supported",
                t.size_or_type, t.name
            )),
            _ => None,
        }
    }

    fn convert(&self, id: u32, table: &mut TypeTable, depth: u32) -> Type {
        let id = self.resolve(id);
        let Some(t) = self.get(id) else {
            return Type::Void;
        };
        let size = t.size_or_type;
        match t.kind {
            // bool and char are 1-byte integers like any other.
            Kind::Int => match size {
                1 | 2 | 4 | 8 => Type::Int {
                    size: size as u8,
                    signed: self.int_encoding(id).0 & INT_SIGNED != 0,
                },
                _ => Type::opaque(size),
            },
            Kind::Ptr => {
                let to = self.resolve(size);
                let to = match self.kind(to) {
                    Kind::Void | Kind::Func | Kind::FuncProto => None,
                    _ if depth >= MAX_DEPTH => None,
                    _ => Some(Box::new(self.convert(to, table, depth + 1))),
                };
                Type::Ptr { user: false, to }
            }
            Kind::Array => {
                let (elem, len) = self.array(id);
                if self.is_char(elem) {
                    return Type::Str { size: len };
                }
                let elem = if depth >= MAX_DEPTH {
                    Type::opaque(self.size_of(elem) as u32)
                } else {
                    self.convert(elem, table, depth + 1)
                };
                Type::Array {
                    elem: Box::new(elem),
                    len,
                }
            }
            Kind::Struct | Kind::Union => {
                if let Some(t) = table.declared(id) {
                    return t.clone();
                }
                let union = t.kind == Kind::Union;
                let word = if union { "union" } else { "struct" };
                let name = match t.name {
                    "" => word.to_string(),
                    n => format!("{word} {n}"),
                };
                let align = self.record_align(id, &mut HashMap::new());
                table.declare_record(id, &name, union, size, align)
            }
            Kind::Enum | Kind::Enum64 => {
                if let Some(t) = table.declared(id) {
                    return t.clone();
                }
                let name = match t.name {
                    "" => "enum".to_string(),
                    n => format!("enum {n}"),
                };
                let e = Enum {
                    name: name.into(),
                    size: size.min(8) as u8,
                    signed: t.kind_flag,
                    values: self
                        .enumerators(id)
                        .map(|(n, v)| (n.to_string(), v))
                        .collect(),
                };
                table.declare_enum(id, e)
            }
            Kind::Fwd => {
                let word = if t.kind_flag { "union" } else { "struct" };
                let name = format!("{word} {}", t.name);
                match self.find_record(&name) {
                    Some(def) => self.convert(def, table, depth),
                    None => table.declare_record(id, &name, t.kind_flag, 0, 1),
                }
            }
            Kind::Float => Type::opaque(size),
            Kind::Var if depth < MAX_DEPTH => self.convert(size, table, depth + 1),
            _ => Type::Void,
        }
    }

    /// A `char` as bpftrace sees one in an array: a 1-byte INT named `char` or encoded as a
    /// char, through qualifiers but not typedefs (bpftrace 0.17 reads a `__u8[6]` as integers).
    fn is_char(&self, mut id: u32) -> bool {
        for _ in 0..16 {
            let Some(t) = self.get(id) else { return false };
            match t.kind {
                Kind::Const | Kind::Volatile | Kind::Restrict | Kind::TypeTag => {
                    id = t.size_or_type
                }
                Kind::Int => {
                    return t.size_or_type == 1
                        && (t.name == "char" || self.int_encoding(id).0 & INT_CHAR != 0)
                }
                _ => return false,
            }
        }
        false
    }

    /// The natural alignment of type `id`: integers, enums and floats by their size (at most
    /// 16), pointers 8, arrays by their element, records by `record_align`.
    pub fn align_of(&self, id: u32) -> u32 {
        self.align(id, &mut HashMap::new())
    }

    /// `align_of`, with the records already seen in this call (a record embedded many times
    /// is walked once, and a record that contains itself, only in a malformed file, ends).
    fn align(&self, mut id: u32, seen: &mut HashMap<u32, u32>) -> u32 {
        for _ in 0..MAX_DEPTH {
            id = self.resolve(id);
            let Some(t) = self.get(id) else { return 1 };
            return match t.kind {
                Kind::Int | Kind::Enum | Kind::Enum64 | Kind::Float => {
                    let s = t.size_or_type;
                    if s.is_power_of_two() {
                        s.min(16)
                    } else {
                        1
                    }
                }
                Kind::Ptr => 8,
                Kind::Array => {
                    id = self.array(id).0;
                    continue;
                }
                Kind::Struct | Kind::Union => self.record_align(id, seen),
                _ => 1,
            };
        }
        1
    }

    /// A record's alignment: the largest natural alignment of its members, or 1 when the
    /// record is packed, which BTF does not say but shows: a plain member at an offset that is
    /// not a multiple of its alignment, or a size that is not a multiple of the alignment.
    /// `__aligned(N)` attributes are not in BTF and so are not seen.
    fn record_align(&self, id: u32, seen: &mut HashMap<u32, u32>) -> u32 {
        if let Some(&a) = seen.get(&id) {
            return a;
        }
        seen.insert(id, 1);
        let mut align = 1;
        for m in self.members(id) {
            let a = self.align(m.ty, seen);
            if m.bits == 0 && !m.bit_offset.is_multiple_of(a * 8) {
                align = 1;
                break;
            }
            align = align.max(a);
        }
        let size = self.get(id).map_or(0, |t| t.size_or_type);
        if !size.is_multiple_of(align) {
            align = 1;
        }
        seen.insert(id, align);
        align
    }

    /// Gives a record declared by `to_type` its members, and its anonymous members theirs
    /// (nothing when `r` did not come from this BTF or already has them). A bitfield's offset
    /// is that of its storage unit (the member type's size, aligned down) and `shift` the bits
    /// before it in the unit; a bitfield that crosses its unit (packed records) is read as a
    /// `uint64` from the byte holding its first bit.
    pub fn fill_record(&self, r: &RecordRef, table: &mut TypeTable) {
        if table.record(r).is_none_or(|rec| rec.complete) {
            return;
        }
        let Some(id) = table.source_of(r) else { return };
        let mut fields = Vec::new();
        for m in self.members(id) {
            let (mut bit_offset, mut bits) = (m.bit_offset, m.bits);
            let int = self.resolve(m.ty);
            if bits == 0 && self.kind(int) == Kind::Int {
                // Without kind_flag, a bitfield is an INT whose width is less than its size.
                let (_, int_off, int_bits) = self.int_encoding(int);
                let size_bits = self.size_of(int) * 8;
                if int_off != 0 || u64::from(int_bits) < size_bits {
                    bit_offset += u32::from(int_off);
                    bits = u32::from(int_bits);
                }
            }
            let ty = self.convert(m.ty, table, 0);
            fields.push(Field::placed(m.name.to_string(), ty, bit_offset, bits));
        }
        // Anonymous members' members are the record's own (`TypeTable::field` looks through).
        for inner in table.fill_record(r, fields) {
            self.fill_record(&inner, table);
        }
    }

    /// The struct or union named `name` (see `find_record`) declared in `table`.
    pub fn record_type(&self, name: &str, table: &mut TypeTable) -> Option<Type> {
        Some(self.to_type(self.find_record(name)?, table))
    }
}
