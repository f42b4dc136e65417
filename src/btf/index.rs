//! Finding BTF types by name: the ids of the named kinds are kept while the types are walked,
//! and a hash index over one kind's names is built the first time a name of that kind is
//! asked for, so `struct task_struct` costs a scan of the structs' names, once.

use super::{Btf, Kind};
use std::sync::OnceLock;

/// Ids of the kinds looked up by name, in id order.
#[derive(Default)]
pub(super) struct Buckets {
    records: Vec<u32>,
    pub(super) typedefs: Vec<u32>,
    enums: Vec<u32>,
    pub(super) funcs: Vec<u32>,
}

impl Buckets {
    pub(super) fn add(&mut self, kind: Kind, id: u32) {
        match kind {
            Kind::Struct | Kind::Union => self.records.push(id),
            Kind::Typedef => self.typedefs.push(id),
            Kind::Enum | Kind::Enum64 => self.enums.push(id),
            Kind::Func => self.funcs.push(id),
            _ => {}
        }
    }
}

/// The name indexes, each built on first use.
#[derive(Default)]
pub(super) struct Indexes {
    records: OnceLock<NameIndex>,
    typedefs: OnceLock<NameIndex>,
    enums: OnceLock<NameIndex>,
    enumerators: OnceLock<NameIndex>,
    funcs: OnceLock<NameIndex>,
}

/// An open-addressing hash table over names in the string section: `entries` are
/// `(name offset, type id, member index)`, `slots` hold an entry's index + 1 (0 is empty).
/// Names equal in several entries (a struct and a union, two enums' constants) all stay.
struct NameIndex {
    entries: Vec<(u32, u32, u32)>,
    slots: Vec<u32>,
}

/// FNV-1a: short names, no allocation, good enough spread for a power-of-two table.
fn hash(name: &[u8]) -> usize {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in name {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    (h ^ (h >> 29)) as usize
}

impl NameIndex {
    /// Indexes `entries` by name, leaving out the anonymous ones (never looked up, and they
    /// would all share one hash).
    fn build(btf: &Btf, mut entries: Vec<(u32, u32, u32)>) -> NameIndex {
        let mut hashes = Vec::with_capacity(entries.len());
        entries.retain(|&(name, _, _)| {
            let name = btf.bytes_at(name);
            if !name.is_empty() {
                hashes.push(hash(name));
            }
            !name.is_empty()
        });
        let mask = (entries.len() * 2).next_power_of_two().max(16) - 1;
        let mut slots = vec![0u32; mask + 1];
        for (i, h) in hashes.into_iter().enumerate() {
            let mut s = h & mask;
            while slots[s] != 0 {
                s = (s + 1) & mask;
            }
            slots[s] = i as u32 + 1;
        }
        NameIndex { entries, slots }
    }

    /// Every entry named `name`, as `(type id, member index)`, in the order they were added.
    fn find(&self, btf: &Btf, name: &str) -> Vec<(u32, u32)> {
        let mask = self.slots.len() - 1;
        let mut s = hash(name.as_bytes()) & mask;
        let mut found = Vec::new();
        while self.slots[s] != 0 {
            let (off, id, member) = self.entries[self.slots[s] as usize - 1];
            if btf.bytes_at(off) == name.as_bytes() {
                found.push((id, member));
            }
            s = (s + 1) & mask;
        }
        found.sort_unstable();
        found
    }
}

/// A function's prototype, for the arguments of fentry/kfunc probes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FuncProto {
    /// The FUNC's id, and its FUNC_PROTO's.
    pub func: u32,
    pub proto: u32,
    /// The return type's id (0: void).
    pub ret: u32,
    pub params: Vec<Param>,
    /// The prototype ends with `...`.
    pub variadic: bool,
}

/// A parameter of a `FuncProto`: its name ("" when BTF has none) and type id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Param {
    pub name: String,
    pub ty: u32,
}

impl Btf {
    /// The name offset of type `id`.
    fn name_off(&self, id: u32) -> u32 {
        self.offsets
            .get(id as usize)
            .map_or(0, |&at| self.u32_at(at as usize))
    }

    fn index<'a>(&'a self, cell: &'a OnceLock<NameIndex>, ids: &[u32]) -> &'a NameIndex {
        cell.get_or_init(|| {
            let entries = ids.iter().map(|&id| (self.name_off(id), id, 0)).collect();
            NameIndex::build(self, entries)
        })
    }

    /// A struct or union by name: `struct task_struct`, `union bpf_attr`, or a bare
    /// `task_struct` (either kind, as bpftrace allows). The first of that name in id order.
    pub fn find_record(&self, name: &str) -> Option<u32> {
        let (want, bare) = match name.split_once(' ') {
            Some(("struct", n)) => (Some(Kind::Struct), n.trim()),
            Some(("union", n)) => (Some(Kind::Union), n.trim()),
            _ => (None, name),
        };
        let index = self.index(&self.indexes.records, &self.by_kind.records);
        index
            .find(self, bare)
            .into_iter()
            .map(|(id, _)| id)
            .find(|&id| want.is_none_or(|k| self.kind(id) == k))
    }

    /// A typedef by name (its own id; `to_type` or `resolve` give what it names).
    pub fn find_typedef(&self, name: &str) -> Option<u32> {
        let index = self.index(&self.indexes.typedefs, &self.by_kind.typedefs);
        index.find(self, name).first().map(|&(id, _)| id)
    }

    /// An enum by name: `enum pid_type` or `pid_type`.
    pub fn find_enum(&self, name: &str) -> Option<u32> {
        let bare = name.strip_prefix("enum ").map_or(name, str::trim);
        let index = self.index(&self.indexes.enums, &self.by_kind.enums);
        index.find(self, bare).first().map(|&(id, _)| id)
    }

    /// An enum constant by name: its value and the id of its enum.
    pub fn find_enum_constant(&self, name: &str) -> Option<(i64, u32)> {
        let index = self.indexes.enumerators.get_or_init(|| {
            let mut entries = Vec::new();
            for &id in &self.by_kind.enums {
                let Some(t) = self.get(id) else { continue };
                let stride = if t.kind == Kind::Enum64 { 3 } else { 2 };
                for i in 0..t.vlen {
                    entries.push((self.word(id, (stride * i) as usize), id, i));
                }
            }
            NameIndex::build(self, entries)
        });
        let &(id, i) = index.find(self, name).first()?;
        let (_, value) = self.enumerators(id).nth(i as usize)?;
        Some((value, id))
    }

    /// A function's prototype by name: parameter names and types, return type.
    pub fn func_proto(&self, name: &str) -> Option<FuncProto> {
        let index = self.index(&self.indexes.funcs, &self.by_kind.funcs);
        let &(func, _) = index.find(self, name).first()?;
        let proto = self.get(func)?.size_or_type;
        let p = self.get(proto).filter(|p| p.kind == Kind::FuncProto)?;
        let mut params: Vec<Param> = (0..p.vlen as usize)
            .map(|i| Param {
                name: self.str_at(self.word(proto, 2 * i)).to_string(),
                ty: self.word(proto, 2 * i + 1),
            })
            .collect();
        let variadic = params
            .last()
            .is_some_and(|l| l.ty == 0 && l.name.is_empty());
        if variadic {
            params.pop();
        }
        Some(FuncProto {
            func,
            proto,
            ret: p.size_or_type,
            params,
            variadic,
        })
    }
}
