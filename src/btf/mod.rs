//! A reader of BTF, the kernel's type information (`/sys/kernel/btf/vmlinux`): one pass over
//! the bytes records where each type starts; names are indexed on first lookup (`index.rs`) and
//! types are converted into `sema::types` only when asked (`convert.rs`). Fed by the catalogue.

mod convert;
mod index;
#[cfg(test)]
pub(crate) mod tests;

pub use index::{FuncProto, Param};

use index::Indexes;

/// The format's magic number, as written by a machine of the reader's byte order.
const MAGIC: u16 = 0xeb9f;
/// `struct btf_header`'s size in version 1.
const HEADER_LEN: usize = 24;
/// `struct btf_type`: name offset, info, size or type.
const TYPE_LEN: usize = 12;

/// A type's kind, numbered as `BTF_KIND_*` in the kernel's `include/uapi/linux/btf.h`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Type id 0, which no record describes.
    Void,
    Int,
    Ptr,
    Array,
    Struct,
    Union,
    Enum,
    Fwd,
    Typedef,
    Volatile,
    Const,
    Restrict,
    Func,
    FuncProto,
    Var,
    Datasec,
    Float,
    DeclTag,
    TypeTag,
    Enum64,
}

impl Kind {
    fn from_raw(kind: u32) -> Option<Kind> {
        use Kind::*;
        const KINDS: [Kind; 20] = [
            Void, Int, Ptr, Array, Struct, Union, Enum, Fwd, Typedef, Volatile, Const, Restrict,
            Func, FuncProto, Var, Datasec, Float, DeclTag, TypeTag, Enum64,
        ];
        KINDS.get(kind as usize).copied()
    }

    /// Bytes that follow a type's 12-byte record for a type of this kind with `vlen` items.
    fn trailing(self, vlen: usize) -> usize {
        match self {
            Kind::Int | Kind::Var | Kind::DeclTag => 4,
            Kind::Array => 12,
            Kind::Struct | Kind::Union | Kind::Datasec | Kind::Enum64 => 12 * vlen,
            Kind::Enum | Kind::FuncProto => 8 * vlen,
            _ => 0,
        }
    }
}

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

/// Parsed BTF: the bytes, where each type's record starts, and lazily built name indexes.
pub struct Btf {
    data: Vec<u8>,
    /// The file was written on a machine of the other byte order.
    swap: bool,
    /// The string section, as a range of `data`.
    strs: (usize, usize),
    /// Where each type's record starts in `data`, by id (`offsets[0]` is void's, unused).
    offsets: Vec<u32>,
    /// Ids of structs and unions, typedefs, enums (both widths), functions and forward
    /// declarations, the only kinds looked up by name.
    by_kind: index::Buckets,
    indexes: Indexes,
}

impl std::fmt::Debug for Btf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Btf({} bytes, {} types)",
            self.data.len(),
            self.offsets.len()
        )
    }
}

impl Btf {
    /// Reads the header, walks the type section once (checking that each record and what
    /// follows it fit) and keeps the bytes. Nothing is converted or indexed by name yet.
    pub fn parse(data: Vec<u8>) -> Result<Btf, String> {
        let magic = data.get(..2).ok_or("BTF: file too short")?;
        let swap = match [magic[0], magic[1]] {
            m if m == MAGIC.to_le_bytes() => cfg!(target_endian = "big"),
            m if m == MAGIC.to_be_bytes() => cfg!(target_endian = "little"),
            _ => return Err("BTF: bad magic number".into()),
        };
        let mut btf = Btf {
            data,
            swap,
            strs: (0, 0),
            offsets: vec![0],
            by_kind: index::Buckets::default(),
            indexes: Indexes::default(),
        };
        if btf.data.len() < HEADER_LEN {
            return Err("BTF: header too short".into());
        }
        if btf.data[2] != 1 {
            return Err(format!("BTF: version {} is not supported", btf.data[2]));
        }
        let hdr_len = btf.u32_at(4) as usize;
        let section = |off: usize, len: usize| -> Result<(usize, usize), String> {
            let start = hdr_len.checked_add(off).ok_or("BTF: bad section offset")?;
            let end = start.checked_add(len).ok_or("BTF: bad section length")?;
            if hdr_len < HEADER_LEN || end > btf.data.len() {
                return Err("BTF: a section lies outside the file".into());
            }
            Ok((start, end))
        };
        let types = section(btf.u32_at(8) as usize, btf.u32_at(12) as usize)?;
        btf.strs = section(btf.u32_at(16) as usize, btf.u32_at(20) as usize)?;
        btf.walk_types(types)?;
        Ok(btf)
    }

    /// The one pass over the type section.
    fn walk_types(&mut self, (start, end): (usize, usize)) -> Result<(), String> {
        self.offsets.reserve((end - start) / 20);
        let mut at = start;
        while at < end {
            let id = self.offsets.len() as u32;
            if end - at < TYPE_LEN {
                return Err(format!("BTF: type {id} is cut short"));
            }
            let info = self.u32_at(at + 4);
            let kind = Kind::from_raw((info >> 24) & 0x1f)
                .filter(|k| *k != Kind::Void)
                .ok_or_else(|| {
                    format!("BTF: type {id} has unknown kind {}", (info >> 24) & 0x1f)
                })?;
            let next = at + TYPE_LEN + kind.trailing((info & 0xffff) as usize);
            if next > end {
                return Err(format!("BTF: type {id} is cut short"));
            }
            self.offsets.push(at as u32);
            self.by_kind.add(kind, id);
            at = next;
        }
        Ok(())
    }

    pub(crate) fn u32_at(&self, at: usize) -> u32 {
        let b = match self.data.get(at..at + 4) {
            Some(b) => [b[0], b[1], b[2], b[3]],
            None => return 0,
        };
        let v = u32::from_ne_bytes(b);
        if self.swap {
            v.swap_bytes()
        } else {
            v
        }
    }

    /// The string at `off` in the string section ("" when out of range or not UTF-8).
    pub fn str_at(&self, off: u32) -> &str {
        std::str::from_utf8(self.bytes_at(off)).unwrap_or("")
    }

    /// The bytes of the string at `off`, without its NUL.
    fn bytes_at(&self, off: u32) -> &[u8] {
        let (start, end) = self.strs;
        let Some(s) = self.data.get(start + off as usize..end) else {
            return &[];
        };
        let len = s.iter().position(|&b| b == 0).unwrap_or(s.len());
        &s[..len]
    }

    /// How many type ids there are, void included: ids run from 0 to `len() - 1`.
    pub fn len(&self) -> u32 {
        self.offsets.len() as u32
    }

    /// Whether there are no types but void.
    pub fn is_empty(&self) -> bool {
        self.offsets.len() == 1
    }

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
    fn word(&self, id: u32, i: usize) -> u32 {
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

    /// The size in bytes of type `id` in C memory (0 for void, functions and unknown ids).
    pub fn size_of(&self, id: u32) -> u64 {
        let id = self.resolve(id);
        let Some(t) = self.get(id) else { return 0 };
        match t.kind {
            Kind::Int | Kind::Struct | Kind::Union | Kind::Enum | Kind::Enum64 | Kind::Float => {
                u64::from(t.size_or_type)
            }
            Kind::Ptr => 8,
            Kind::Array => {
                let (elem, n) = self.array(id);
                self.size_of(elem).saturating_mul(u64::from(n))
            }
            _ => 0,
        }
    }
}

/// Kinds that only rename or qualify another type.
fn is_alias(kind: Kind) -> bool {
    matches!(
        kind,
        Kind::Typedef | Kind::Const | Kind::Volatile | Kind::Restrict | Kind::TypeTag
    )
}
