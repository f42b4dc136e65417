//! A reader of BTF, the kernel's type information (`/sys/kernel/btf/vmlinux`): one pass over
//! the bytes records where each type starts; names are indexed on first lookup (`index.rs`) and
//! types are converted into `sema::types` only when asked (`convert.rs`). Fed by the catalogue.

mod convert;
mod data;
mod decl;
mod index;
#[cfg(test)]
pub(crate) mod tests;
mod view;
#[cfg(test)]
pub(crate) mod writer;

#[cfg(test)]
pub(crate) use decl::kernel_fixture;
pub use decl::Field;
pub use index::{FuncProto, Param};
pub use view::{Member, TypeRef, INT_BOOL, INT_CHAR, INT_SIGNED};

use data::{Data, Mapping};
use index::Indexes;
use std::path::Path;

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

/// Parsed BTF: the bytes, where each type's record starts, and lazily built name indexes.
pub struct Btf {
    data: Data,
    /// The file was written on a machine of the other byte order.
    swap: bool,
    /// The string section, as a range of `data`.
    strs: (usize, usize),
    /// Where each type's record starts in `data`, by id (`offsets[0]` is void's, unused).
    offsets: Vec<u32>,
    /// Ids of structs and unions, typedefs, enums (both widths) and functions, the only kinds
    /// looked up by name.
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
        Btf::parse_data(Data::Owned(data))
    }

    /// Reads and parses the BTF file at `path`. The kernel's own files (under `/sys/`) are
    /// mapped, not copied, when the kernel allows it; other files are read.
    pub fn open(path: &Path) -> Result<Btf, String> {
        let mapped = match path.starts_with("/sys/") {
            true => Mapping::open(path),
            false => None,
        };
        let data = match mapped {
            Some(m) => Data::Mapped(m),
            None => Data::Owned(
                std::fs::read(path)
                    .map_err(|e| format!("cannot read BTF {}: {e}", path.display()))?,
            ),
        };
        Btf::parse_data(data).map_err(|e| format!("{}: {e}", path.display()))
    }

    fn parse_data(data: Data) -> Result<Btf, String> {
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

    fn u32_at(&self, at: usize) -> u32 {
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
}
