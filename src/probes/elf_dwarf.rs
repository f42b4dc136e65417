//! One ELF file's DWARF (`.debug_info` of the file, else of its separate debug file), read
//! once per file and kept by the catalogue: its functions and its top-level named types
//! (structs, unions, enums, typedefs) are indexed in one walk; a function's parameters are
//! written as bpftrace 0.17's `-lv` writes them (`int argc`, `struct Foo* foo1`), and types
//! become rtrace types only when a script names or reaches them (`elf_dwarf/convert.rs`). Fed
//! by the system catalogue for `-lv 'uprobe:FILE:FUNC'`, `args->NAME` of a uprobe and casts in
//! uprobes.

mod convert;

use super::elf::Elf;
use gimli::{AttributeValue, EndianReader, LittleEndian, Reader as _, Unit, UnitOffset};
use object::{Object, ObjectSection};
use std::collections::HashMap;
use std::ops::Range;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

type Reader = EndianReader<LittleEndian, Bytes>;

/// A DWARF section's bytes: a range of the file's mapping (or of its debug file's), which the
/// `Elf` keeps while any reader lives, or the inflated bytes of a compressed section.
#[derive(Clone)]
enum Bytes {
    Mapped {
        elf: Arc<Elf>,
        debug: bool,
        range: Range<usize>,
    },
    Inflated(Arc<[u8]>),
}

impl std::ops::Deref for Bytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            Bytes::Mapped { elf, debug, range } => {
                let file = if *debug {
                    elf.debug_bytes().unwrap_or_default()
                } else {
                    elf.bytes()
                };
                file.get(range.clone()).unwrap_or_default()
            }
            Bytes::Inflated(bytes) => bytes,
        }
    }
}

impl std::fmt::Debug for Bytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} bytes of DWARF", self.len())
    }
}

// SAFETY: the bytes are in a memory mapping owned by the `Elf` (or in the `Arc`'s heap
// block), which stays where it is when a `Bytes` or its clone moves, and lives until the last
// clone is dropped.
unsafe impl stable_deref_trait::StableDeref for Bytes {}
unsafe impl stable_deref_trait::CloneStableDeref for Bytes {}
type Entry<'a, 'u> = gimli::DebuggingInformationEntry<'a, 'u, Reader>;

/// One parameter of a function as its DWARF describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Param {
    pub name: String,
    /// The type as bpftrace 0.17 writes it (`int`, `char*`, `struct Foo*`).
    pub type_name: String,
    /// Bytes of the value (0 when unknown, such as a struct passed by value).
    pub size: u32,
    pub signed: bool,
    pub pointer: bool,
    /// Where the caller put it, by the C calling convention of the machine rtrace runs on.
    pub place: Place,
}

/// Where a function receives an argument (System V x86-64, or AAPCS64 on aarch64).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Place {
    /// The Nth integer argument register (`arg0`...`arg5`): integers, pointers, enums.
    Register(usize),
    /// A struct or union passed by value in integer registers or in memory.
    ByValue,
    /// A floating point register.
    Float,
    /// The stack: the integer registers are used up.
    Stack,
    /// An earlier argument's place is not known (a small struct of floating point members),
    /// so neither is this one's.
    Unknown,
}

/// Integer registers that carry arguments: rdi, rsi, rdx, rcx, r8, r9 (x86-64); x0-x7
/// (aarch64).
#[cfg(target_arch = "aarch64")]
const ARG_REGISTERS: usize = 8;
#[cfg(not(target_arch = "aarch64"))]
const ARG_REGISTERS: usize = 6;

/// The argument class of a type: how many integer registers it takes, or none.
enum Class {
    Integer(usize),
    Float,
    /// Passed in memory (x86-64 structs over 16 bytes).
    Memory,
    /// A struct with floating point members of up to 16 bytes: classified by its members,
    /// which rtrace does not follow.
    Mixed,
}

impl Param {
    /// `TYPE NAME`, as `-lv` prints it.
    pub fn decl(&self) -> String {
        format!("{} {}", self.type_name, self.name)
    }
}

/// A debugging entry: the unit it is in (an index into `Dwarf::units`) and its offset there.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Die {
    unit: usize,
    offset: UnitOffset,
}

impl Die {
    /// The entry as one number, the type table's key for the types it declares.
    fn key(self) -> u64 {
        ((self.unit as u64) << 32) | self.offset.0 as u64
    }

    fn from_key(key: u64) -> Die {
        Die {
            unit: (key >> 32) as usize,
            offset: UnitOffset((key & 0xffff_ffff) as usize),
        }
    }
}

/// A file's DWARF, parsed once: its units, and its functions and named types by name.
pub struct Dwarf {
    /// This file among the DWARF files read by the process: the type table keys the types
    /// declared from it by this and the entry.
    pub id: u32,
    dwarf: gimli::Dwarf<Reader>,
    units: Vec<Unit<Reader>>,
    /// Each function's first definition, by name.
    functions: HashMap<String, Die>,
    /// Top-level types by name: `struct Foo`, `union U`, `enum E` (definitions, the first of
    /// each name) and typedefs by their plain name.
    types: HashMap<String, Die>,
}

impl std::fmt::Debug for Dwarf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dwarf")
            .field("id", &self.id)
            .field("units", &self.units.len())
            .finish()
    }
}

fn err(e: gimli::Error) -> String {
    format!("DWARF: {e}")
}

impl Dwarf {
    /// The DWARF of `elf` (or of its debug file): `Ok(None)` when it has none (bpftrace then
    /// warns once per file).
    pub fn open(elf: &Arc<Elf>) -> Result<Option<Dwarf>, String> {
        for (debug, bytes) in [(false, Some(elf.bytes())), (true, elf.debug_bytes())] {
            let Some(bytes) = bytes else { continue };
            let Ok(file) = object::File::parse(bytes) else {
                continue;
            };
            if file.section_by_name(".debug_info").is_none() {
                continue;
            }
            return Dwarf::read(elf, debug, bytes, &file).map(Some);
        }
        Ok(None)
    }

    fn read(
        elf: &Arc<Elf>,
        debug: bool,
        bytes: &[u8],
        file: &object::File<'_>,
    ) -> Result<Dwarf, String> {
        // Sections are read in place in the mapping; those compressed with SHF_COMPRESSED
        // (debug files usually are) are inflated once.
        let dwarf = gimli::Dwarf::load(|id| -> Result<Reader, String> {
            let Some(section) = file.section_by_name(id.name()) else {
                return Ok(EndianReader::new(
                    Bytes::Inflated(Arc::from(&[][..])),
                    LittleEndian,
                ));
            };
            let data = section
                .uncompressed_data()
                .map_err(|e| format!("{}: {e}", id.name()))?;
            let bytes = match data {
                std::borrow::Cow::Borrowed(d) => {
                    let start = (d.as_ptr() as usize).wrapping_sub(bytes.as_ptr() as usize);
                    if start
                        .checked_add(d.len())
                        .is_some_and(|end| end <= bytes.len())
                    {
                        Bytes::Mapped {
                            elf: elf.clone(),
                            debug,
                            range: start..start + d.len(),
                        }
                    } else {
                        Bytes::Inflated(d.into())
                    }
                }
                std::borrow::Cow::Owned(d) => Bytes::Inflated(d.into()),
            };
            Ok(EndianReader::new(bytes, LittleEndian))
        })?;
        let mut units = Vec::new();
        let mut headers = dwarf.units();
        while let Some(header) = headers.next().map_err(err)? {
            units.push(dwarf.unit(header).map_err(err)?);
        }
        static NEXT_ID: AtomicU32 = AtomicU32::new(0);
        let mut out = Dwarf {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            dwarf,
            units,
            functions: HashMap::new(),
            types: HashMap::new(),
        };
        out.index()?;
        Ok(out)
    }

    /// One walk over every unit's top-level entries: function definitions (as libdw's
    /// `dwarf_getfuncs` visits them) and named type definitions.
    fn index(&mut self) -> Result<(), String> {
        for (i, unit) in self.units.iter().enumerate() {
            let mut tree = unit.entries_tree(None).map_err(err)?;
            let root = tree.root().map_err(err)?;
            let mut children = root.children();
            while let Some(child) = children.next().map_err(err)? {
                let entry = child.entry();
                let die = Die {
                    unit: i,
                    offset: entry.offset(),
                };
                let declaration = is_declaration(entry);
                let key = match entry.tag() {
                    gimli::DW_TAG_subprogram if !declaration => {
                        if let Some(name) = self.name_in(unit, entry) {
                            self.functions.entry(name).or_insert(die);
                        }
                        continue;
                    }
                    gimli::DW_TAG_structure_type | gimli::DW_TAG_class_type if !declaration => {
                        "struct "
                    }
                    gimli::DW_TAG_union_type if !declaration => "union ",
                    gimli::DW_TAG_enumeration_type if !declaration => "enum ",
                    gimli::DW_TAG_typedef => "",
                    _ => continue,
                };
                if let Some(name) = self.name_in(unit, entry) {
                    self.types.entry(format!("{key}{name}")).or_insert(die);
                }
            }
        }
        Ok(())
    }

    /// The parameters of function `func` (its first definition), with the registers that
    /// carry them; empty when the file does not define it.
    pub fn params(&self, func: &str) -> Vec<Param> {
        let mut next = 0;
        let mut known = true;
        self.param_dies(func)
            .into_iter()
            .map(|(name, ty)| {
                let Some(ty) = ty else {
                    return Param {
                        name,
                        type_name: "<unknown type>".into(),
                        size: 0,
                        signed: false,
                        pointer: false,
                        place: Place::Unknown,
                    };
                };
                let (size, signed, pointer) = self.value_shape(ty);
                let class = self.class(ty);
                let place = match class {
                    _ if !known => Place::Unknown,
                    Class::Float => Place::Float,
                    Class::Mixed => {
                        known = false;
                        Place::Unknown
                    }
                    Class::Memory => Place::ByValue,
                    // An argument that does not fit in the registers left goes on the stack
                    // whole; later ones may still take registers.
                    Class::Integer(n) if next + n > ARG_REGISTERS => Place::Stack,
                    Class::Integer(n) => {
                        next += n;
                        if size == 0 {
                            Place::ByValue
                        } else {
                            Place::Register(next - n)
                        }
                    }
                };
                Param {
                    name,
                    type_name: self.type_name(ty, 0),
                    size,
                    signed,
                    pointer,
                    place,
                }
            })
            .collect()
    }

    /// How an argument of type `die` is passed (System V x86-64 and AAPCS64, simplified:
    /// a struct of up to 16 bytes without floating point members takes one integer register
    /// per 8 bytes; a larger one is passed in memory on x86-64 and by reference on aarch64).
    fn class(&self, mut die: Die) -> Class {
        for _ in 0..32 {
            let Some((_, entry)) = self.entry(die) else {
                break;
            };
            let size = udata(&entry, gimli::DW_AT_byte_size).unwrap_or(0) as usize;
            match entry.tag() {
                gimli::DW_TAG_base_type => {
                    let float = matches!(
                        entry.attr_value(gimli::DW_AT_encoding).ok().flatten(),
                        Some(AttributeValue::Encoding(
                            gimli::DW_ATE_float | gimli::DW_ATE_complex_float
                        ))
                    );
                    return match (float, size) {
                        (true, _) => Class::Float,
                        (false, 0..=8) => Class::Integer(1),
                        (false, _) => Class::Integer(2),
                    };
                }
                gimli::DW_TAG_structure_type
                | gimli::DW_TAG_class_type
                | gimli::DW_TAG_union_type => {
                    return if size > 16 {
                        if cfg!(target_arch = "aarch64") {
                            Class::Integer(1)
                        } else {
                            Class::Memory
                        }
                    } else if self.has_float(die, 0) {
                        Class::Mixed
                    } else {
                        Class::Integer(size.div_ceil(8).max(1))
                    };
                }
                tag if is_transparent(tag) => match self.type_of(die.unit, &entry) {
                    Some(next) => die = next,
                    None => break,
                },
                _ => return Class::Integer(1),
            }
        }
        Class::Integer(1)
    }

    /// Whether a record holds a floating point value, at any depth.
    fn has_float(&self, die: Die, depth: u32) -> bool {
        if depth > 16 {
            return true;
        }
        let mut found = false;
        let walked = self.children(die, |dwarf, m| {
            if !found && m.tag() == gimli::DW_TAG_member {
                found = dwarf
                    .type_of(die.unit, m)
                    .is_some_and(|ty| dwarf.type_has_float(ty, depth));
            }
        });
        found || !walked
    }

    /// Whether a member's type is a float or holds one (through typedefs, qualifiers and
    /// arrays).
    fn type_has_float(&self, mut ty: Die, depth: u32) -> bool {
        for _ in 0..32 {
            let Some((_, e)) = self.entry(ty) else {
                return false;
            };
            match e.tag() {
                tag if is_transparent(tag) || tag == gimli::DW_TAG_array_type => {
                    match self.type_of(ty.unit, &e) {
                        Some(next) => ty = next,
                        None => return false,
                    }
                }
                gimli::DW_TAG_base_type => {
                    return matches!(
                        e.attr_value(gimli::DW_AT_encoding).ok().flatten(),
                        Some(AttributeValue::Encoding(
                            gimli::DW_ATE_float | gimli::DW_ATE_complex_float
                        ))
                    )
                }
                gimli::DW_TAG_structure_type
                | gimli::DW_TAG_class_type
                | gimli::DW_TAG_union_type => return self.has_float(ty, depth + 1),
                _ => return false,
            }
        }
        false
    }

    /// Each parameter of `func`: its name and the entry of its type.
    fn param_dies(&self, func: &str) -> Vec<(String, Option<Die>)> {
        let Some(&die) = self.functions.get(func) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        self.children(die, |dwarf, e| {
            if e.tag() == gimli::DW_TAG_formal_parameter {
                let name = dwarf.name_in(&dwarf.units[die.unit], e).unwrap_or_default();
                out.push((name, dwarf.type_of(die.unit, e)));
            }
        });
        out
    }

    /// Calls `f` with each child entry of `die`; false when its unit or entries cannot be
    /// read.
    fn children(&self, die: Die, mut f: impl FnMut(&Dwarf, &Entry<'_, '_>)) -> bool {
        let Some(unit) = self.units.get(die.unit) else {
            return false;
        };
        let Ok(mut tree) = unit.entries_tree(Some(die.offset)) else {
            return false;
        };
        let Ok(root) = tree.root() else { return false };
        let mut kids = root.children();
        while let Ok(Some(child)) = kids.next() {
            f(self, child.entry());
        }
        true
    }

    /// The entry `die` names.
    fn entry(&self, die: Die) -> Option<(&Unit<Reader>, Entry<'_, '_>)> {
        let unit = self.units.get(die.unit)?;
        let entry = unit.entry(die.offset).ok()?;
        Some((unit, entry))
    }

    /// The entry a reference attribute of `entry` (in unit `unit`) points to, in its unit
    /// or, for `DW_FORM_ref_addr`, in another.
    fn reference(&self, unit: usize, entry: &Entry<'_, '_>, attr: gimli::DwAt) -> Option<Die> {
        match entry.attr_value(attr).ok()?? {
            AttributeValue::UnitRef(offset) => Some(Die { unit, offset }),
            AttributeValue::DebugInfoRef(global) => {
                let at = |u: &Unit<Reader>| u.header.offset().as_debug_info_offset();
                let i = self
                    .units
                    .partition_point(|u| at(u).is_some_and(|o| o <= global))
                    .checked_sub(1)?;
                let offset = global.to_unit_offset(&self.units[i].header)?;
                Some(Die { unit: i, offset })
            }
            _ => None,
        }
    }

    /// The type of `entry` (`DW_AT_type`); `None` for void.
    fn type_of(&self, unit: usize, entry: &Entry<'_, '_>) -> Option<Die> {
        self.reference(unit, entry, gimli::DW_AT_type)
    }

    fn name_in(&self, unit: &Unit<Reader>, entry: &Entry<'_, '_>) -> Option<String> {
        let value = entry.attr_value(gimli::DW_AT_name).ok()??;
        let s = self.dwarf.attr_string(unit, value).ok()?;
        Some(s.to_string_lossy().ok()?.into_owned())
    }

    fn name(&self, die: Die) -> Option<String> {
        let (unit, entry) = self.entry(die)?;
        self.name_in(unit, &entry)
    }

    /// Size, signedness and pointer-ness of a type, through typedefs and qualifiers.
    fn value_shape(&self, mut die: Die) -> (u32, bool, bool) {
        for _ in 0..32 {
            let Some((_, entry)) = self.entry(die) else {
                break;
            };
            match entry.tag() {
                gimli::DW_TAG_pointer_type => return (8, false, true),
                gimli::DW_TAG_base_type | gimli::DW_TAG_enumeration_type => {
                    let size = udata(&entry, gimli::DW_AT_byte_size).unwrap_or(0) as u32;
                    let signed = matches!(
                        entry.attr_value(gimli::DW_AT_encoding).ok().flatten(),
                        Some(AttributeValue::Encoding(
                            gimli::DW_ATE_signed | gimli::DW_ATE_signed_char
                        ))
                    );
                    return (size, signed, false);
                }
                tag if is_transparent(tag) => match self.type_of(die.unit, &entry) {
                    Some(next) => die = next,
                    None => break,
                },
                _ => break,
            }
        }
        (0, false, false)
    }

    /// bpftrace's type names: base types and typedefs by name, `T*`, `struct S`, `const T`,
    /// `T* const`.
    fn type_name(&self, die: Die, depth: u32) -> String {
        let unknown = || "<unknown type>".to_string();
        if depth > 32 {
            return unknown();
        }
        let Some((_, entry)) = self.entry(die) else {
            return unknown();
        };
        let inner = self.type_of(die.unit, &entry);
        let name = || self.name(die);
        match entry.tag() {
            gimli::DW_TAG_base_type | gimli::DW_TAG_typedef => name().unwrap_or_else(unknown),
            gimli::DW_TAG_pointer_type => match inner {
                Some(o) => self.type_name(o, depth + 1) + "*",
                None => "void*".to_string(),
            },
            tag @ (gimli::DW_TAG_structure_type
            | gimli::DW_TAG_union_type
            | gimli::DW_TAG_enumeration_type) => {
                let prefix = match tag {
                    gimli::DW_TAG_structure_type => "struct ",
                    gimli::DW_TAG_union_type => "union ",
                    _ => "enum ",
                };
                format!("{prefix}{}", name().unwrap_or_else(|| "<anonymous>".into()))
            }
            gimli::DW_TAG_const_type => {
                let Some(o) = inner else {
                    // `const void`: bpftrace names the missing type as unknown.
                    return "const <unknown type>".to_string();
                };
                let pointer = self
                    .entry(o)
                    .is_some_and(|(_, e)| e.tag() == gimli::DW_TAG_pointer_type);
                let t = self.type_name(o, depth + 1);
                if pointer {
                    format!("{t} const")
                } else {
                    format!("const {t}")
                }
            }
            _ => unknown(),
        }
    }
}

/// `DW_AT_declaration`: a forward declaration, not a definition.
fn is_declaration(entry: &Entry<'_, '_>) -> bool {
    matches!(
        entry.attr_value(gimli::DW_AT_declaration),
        Ok(Some(AttributeValue::Flag(true)))
    )
}

/// Entries a value's type is read through: typedefs and qualifiers.
fn is_transparent(tag: gimli::DwTag) -> bool {
    matches!(
        tag,
        gimli::DW_TAG_typedef
            | gimli::DW_TAG_const_type
            | gimli::DW_TAG_volatile_type
            | gimli::DW_TAG_restrict_type
            | gimli::DW_TAG_atomic_type
    )
}

/// An unsigned constant attribute.
fn udata(entry: &Entry<'_, '_>, attr: gimli::DwAt) -> Option<u64> {
    entry.attr_value(attr).ok()??.udata_value()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Builds `source` with `cc -g -O0` (and `flags`) into a new temp dir as `name`, when a
    /// C compiler is installed; the path of the program.
    pub(crate) fn build(name: &str, source: &str, flags: &[&str]) -> Option<String> {
        // Tests run in parallel: each build has its own directory.
        static BUILDS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = BUILDS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("rtrace-dwarf-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).ok()?;
        let src = dir.join(format!("{name}.c"));
        std::fs::write(&src, source).ok()?;
        let out = dir.join(name);
        let ok = std::process::Command::new("cc")
            .args(["-g", "-O0"])
            .args(flags)
            .arg("-o")
            .arg(&out)
            .arg(&src)
            .status()
            .ok()?
            .success();
        ok.then(|| out.to_string_lossy().into_owned())
    }

    fn program() -> Option<String> {
        build(
            "p",
            "struct Foo { int a; };\n\
             int f(int *n, char c, struct Foo *foo, const char *s, void *v) { return 0; }\n\
             int main(int argc, char **argv) { return f(0, 0, 0, 0, 0); }\n",
            &["-gdwarf-4"],
        )
    }

    #[test]
    fn parameters_as_bpftrace_writes_them() {
        let Some(path) = program() else {
            return;
        };
        let elf = Arc::new(Elf::read(&path).expect("elf"));
        let dwarf = Dwarf::open(&elf).expect("dwarf").expect("has DWARF");
        let decls = |f: &str| dwarf.params(f).iter().map(Param::decl).collect::<Vec<_>>();
        assert_eq!(decls("main"), ["int argc", "char** argv"]);
        let params = dwarf.params("f");
        let c = &params[1];
        assert_eq!((c.size, c.signed, c.pointer), (1, true, false));
        assert!(params[0].pointer);
        assert_eq!(
            decls("f"),
            [
                "int* n",
                "char c",
                "struct Foo* foo",
                "const char* s",
                "void* v"
            ]
        );
        assert!(dwarf.params("nothing").is_empty());
        let places: Vec<Place> = dwarf.params("f").iter().map(|p| p.place).collect();
        assert_eq!(places, (0..5).map(Place::Register).collect::<Vec<_>>());
        assert!(dwarf.types.contains_key("struct Foo"));
        let bash = Arc::new(Elf::read("/bin/bash").expect("bash"));
        if bash.debug_bytes().is_none() {
            assert!(matches!(Dwarf::open(&bash), Ok(None)));
        }
    }
}
