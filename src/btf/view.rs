//! Reading one BTF type: its 12-byte record and what follows it (an INT's encoding, an
//! array's element, members, enumerators), and following typedefs and qualifiers; used by the
//! lookups (`index.rs`) and the conversion (`convert.rs`).

use super::{Btf, Kind, TYPE_LEN};

/// `BTF_INT_SIGNED`, `BTF_INT_CHAR`, `BTF_INT_BOOL`: an INT's encoding bits.
pub const INT_SIGNED: u8 = 1;
pub const INT_CHAR: u8 = 2;
pub const INT_BOOL: u8 = 4;

/// One type's record, as read: what `info` and the size-or-type word say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TypeRef<'a> {
    pub id: u32,
    pub kind: Kind,
    /// The name, or "" for an anonymous type.
    pub name: &'a str,
    /// Members, parameters, enumerators or variables that follow the record.
    pub vlen: u32,
    /// Bitfield offsets in members (struct, union), signedness (enum), union-ness (fwd).
    pub kind_flag: bool,
    /// The size in bytes (int, struct, union, enum, float, datasec) or the type referred to
    /// (ptr, typedef, qualifiers, func, func_proto's return type, var, tags).
    pub size_or_type: u32,
}

/// A struct or union member as BTF gives it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Member<'a> {
    pub name: &'a str,
    pub ty: u32,
    /// Offset from the start of the record, in bits.
    pub bit_offset: u32,
    /// The bitfield's width in bits, or 0 for a plain member.
    pub bits: u32,
}

impl Btf {
    /// Type `id`'s record; `None` for void and ids past the last type.
    pub fn get(&self, id: u32) -> Option<TypeRef<'_>> {
        let at = *self.offsets.get(id as usize).filter(|_| id > 0)? as usize;
        let info = self.u32_at(at + 4);
        Some(TypeRef {
            id,
            kind: Kind::from_raw((info >> 24) & 0x1f)?,
            name: self.str_at(self.u32_at(at)),
            vlen: info & 0xffff,
            kind_flag: info >> 31 == 1,
            size_or_type: self.u32_at(at + 8),
        })
    }

    /// The kind of type `id` (`Void` for 0 and unknown ids).
    pub fn kind(&self, id: u32) -> Kind {
        self.get(id).map_or(Kind::Void, |t| t.kind)
    }

    /// The `i`th 4-byte word after type `id`'s 12-byte record.
    pub(super) fn word(&self, id: u32, i: usize) -> u32 {
        match self.offsets.get(id as usize) {
            Some(&at) if id > 0 => self.u32_at(at as usize + TYPE_LEN + 4 * i),
            _ => 0,
        }
    }

    /// An INT's encoding (`INT_SIGNED`, `INT_CHAR`, `INT_BOOL`), bit offset and width.
    pub fn int_encoding(&self, id: u32) -> (u8, u8, u8) {
        let w = self.word(id, 0);
        (((w >> 24) & 0xf) as u8, (w >> 16) as u8, w as u8)
    }

    /// An ARRAY's element type and number of elements.
    pub fn array(&self, id: u32) -> (u32, u32) {
        (self.word(id, 0), self.word(id, 2))
    }

    /// A struct's or union's members, in order.
    pub fn members(&self, id: u32) -> impl Iterator<Item = Member<'_>> + '_ {
        let t = self
            .get(id)
            .filter(|t| matches!(t.kind, Kind::Struct | Kind::Union));
        let (n, flag) = t.map_or((0, false), |t| (t.vlen as usize, t.kind_flag));
        (0..n).map(move |i| {
            let off = self.word(id, 3 * i + 2);
            let (bit_offset, bits) = if flag {
                (off & 0xff_ffff, off >> 24)
            } else {
                (off, 0)
            };
            Member {
                name: self.str_at(self.word(id, 3 * i)),
                ty: self.word(id, 3 * i + 1),
                bit_offset,
                bits,
            }
        })
    }

    /// An ENUM's or ENUM64's enumerators, each with its value (ENUM64 values above
    /// `i64::MAX` wrap, as a u64 stored in an i64).
    pub fn enumerators(&self, id: u32) -> impl Iterator<Item = (&str, i64)> + '_ {
        let t = self.get(id);
        let (n, wide, signed) = match t {
            Some(t) if t.kind == Kind::Enum => (t.vlen as usize, false, t.kind_flag),
            Some(t) if t.kind == Kind::Enum64 => (t.vlen as usize, true, t.kind_flag),
            _ => (0, false, false),
        };
        (0..n).map(move |i| {
            if wide {
                let lo = u64::from(self.word(id, 3 * i + 1));
                let hi = u64::from(self.word(id, 3 * i + 2));
                (self.str_at(self.word(id, 3 * i)), (hi << 32 | lo) as i64)
            } else {
                let v = self.word(id, 2 * i + 1);
                let v = if signed {
                    i64::from(v as i32)
                } else {
                    i64::from(v)
                };
                (self.str_at(self.word(id, 2 * i)), v)
            }
        })
    }

    /// Follows typedefs, qualifiers (const, volatile, restrict) and type tags to the type they
    /// name; stops at 0 (void) or after a chain too long to be real.
    pub fn resolve(&self, mut id: u32) -> u32 {
        for _ in 0..64 {
            match self.get(id) {
                Some(t) if is_alias(t.kind) => id = t.size_or_type,
                _ => return id,
            }
        }
        0
    }

    /// The size in bytes of type `id` in C memory (0 for void, functions and unknown ids;
    /// arrays nested deeper than a real file nests them are 0 too).
    pub fn size_of(&self, mut id: u32) -> u64 {
        let mut count: u64 = 1;
        for _ in 0..32 {
            id = self.resolve(id);
            let Some(t) = self.get(id) else { return 0 };
            let size = match t.kind {
                Kind::Int | Kind::Struct | Kind::Union | Kind::Enum | Kind::Enum64 => {
                    t.size_or_type
                }
                Kind::Float => t.size_or_type,
                Kind::Ptr => 8,
                Kind::Array => {
                    let (elem, n) = self.array(id);
                    count = count.saturating_mul(u64::from(n));
                    id = elem;
                    continue;
                }
                _ => 0,
            };
            return count.saturating_mul(u64::from(size));
        }
        0
    }
}

/// Kinds that only rename or qualify another type.
fn is_alias(kind: Kind) -> bool {
    matches!(
        kind,
        Kind::Typedef | Kind::Const | Kind::Volatile | Kind::Restrict | Kind::TypeTag
    )
}
