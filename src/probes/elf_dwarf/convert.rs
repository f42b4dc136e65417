//! DWARF types into rtrace's C type table (`sema::types`), one type at a time as BTF's are
//! (`btf/convert.rs`): structs, unions and enums are declared once per entry, a record's
//! members are converted only when `fill_record` is asked; typedefs and qualifiers are looked
//! through, arrays of `char` are strings, bitfields keep their bits. Asked by sema for the
//! arguments and casts of uprobes on a file with DWARF.

use crate::probes::elf_dwarf::{is_declaration, is_transparent, udata, Die, Dwarf, Entry};
use crate::sema::types::{Enum, Field, RecordRef, Type, TypeTable};
use gimli::AttributeValue;

/// Pointers and arrays nested deeper than this are taken as unknown: only a malformed file
/// goes this deep, and the limit keeps a cycle of entries from recursing.
const MAX_DEPTH: u32 = 32;

impl Dwarf {
    /// The type of parameter `name` of function `func`, when the function has it.
    pub fn param_type(&self, func: &str, name: &str, table: &mut TypeTable) -> Option<Type> {
        let (_, ty) = self.param_dies(func).into_iter().find(|(n, _)| n == name)?;
        Some(ty.map_or(Type::Void, |d| self.convert(d, table, 0)))
    }

    /// A top-level type by its C name: `struct Foo`, `union U`, `enum E`, a typedef's name,
    /// or a struct by its bare name (as bpftrace 0.17 finds a cast's type).
    pub fn named_type(&self, name: &str, table: &mut TypeTable) -> Option<Type> {
        let name = name.split_whitespace().collect::<Vec<_>>().join(" ");
        let die = match self.types.get(&name) {
            Some(d) => *d,
            None if !name.contains(' ') => *self.types.get(&format!("struct {name}"))?,
            None => return None,
        };
        Some(self.convert(die, table, 0))
    }

    /// Type `die` as an rtrace type: integers by their encoding (booleans and characters are
    /// integers; floats and wider integers opaque bytes), pointers with their pointee (none
    /// for `void *` and function pointers), arrays (of `char`: strings), and records and enums
    /// declared in `table` once per entry; a record's forward declaration becomes the file's
    /// definition of that name when there is one. Anything else is `Void`.
    fn convert(&self, die: Die, table: &mut TypeTable, depth: u32) -> Type {
        let Some((_, entry)) = self.entry(die) else {
            return Type::Void;
        };
        let size = udata(&entry, gimli::DW_AT_byte_size).unwrap_or(0) as u32;
        let inner = self.type_of(die.unit, &entry);
        match entry.tag() {
            gimli::DW_TAG_base_type => match (integer_signedness(&entry), size) {
                (Some(signed), 1 | 2 | 4 | 8) => Type::Int {
                    size: size as u8,
                    signed,
                },
                _ => Type::opaque(size),
            },
            tag if is_transparent(tag) => match inner {
                Some(d) if depth < MAX_DEPTH => self.convert(d, table, depth + 1),
                _ => Type::Void,
            },
            gimli::DW_TAG_pointer_type
            | gimli::DW_TAG_reference_type
            | gimli::DW_TAG_rvalue_reference_type => {
                let to = inner
                    .filter(|_| depth < MAX_DEPTH)
                    .map(|d| self.convert(d, table, depth + 1))
                    .filter(|t| *t != Type::Void)
                    .map(Box::new);
                Type::Ptr { user: false, to }
            }
            gimli::DW_TAG_array_type => {
                let Some(elem) = inner.filter(|_| depth < MAX_DEPTH) else {
                    return Type::opaque(size);
                };
                let chars = self.is_char(elem);
                let mut t = match self.convert(elem, table, depth + 1) {
                    Type::Void => Type::opaque(0),
                    t => t,
                };
                let dims = self.dimensions(die);
                // `int y[2][3]` is an array of 2 arrays of 3: the innermost dimension wraps
                // first, and only it becomes a string.
                for (i, &len) in dims.iter().enumerate().rev() {
                    t = match t {
                        Type::Int { size: 1, .. } if chars && len > 0 && i + 1 == dims.len() => {
                            Type::Str { size: len }
                        }
                        elem => Type::Array {
                            elem: Box::new(elem),
                            len,
                        },
                    };
                }
                t
            }
            tag @ (gimli::DW_TAG_structure_type
            | gimli::DW_TAG_class_type
            | gimli::DW_TAG_union_type) => {
                if let Some(t) = table.declared_dwarf(self.id, die.key()) {
                    return t.clone();
                }
                let union = tag == gimli::DW_TAG_union_type;
                let word = if union { "union" } else { "struct" };
                let name = match self.name(die) {
                    Some(n) => format!("{word} {n}"),
                    None => word.to_string(),
                };
                if let Some(def) = self.canonical(die, &name, &entry, size) {
                    return self.convert(def, table, depth);
                }
                let align = self.align(die, 0);
                table.declare_dwarf_record((self.id, die.key()), &name, union, size, align)
            }
            gimli::DW_TAG_enumeration_type => {
                if let Some(t) = table.declared_dwarf(self.id, die.key()) {
                    return t.clone();
                }
                let name = match self.name(die) {
                    Some(n) => format!("enum {n}"),
                    None => "enum".to_string(),
                };
                if let Some(def) = self.canonical(die, &name, &entry, size) {
                    return self.convert(def, table, depth);
                }
                let e = self.enumeration(die, name, size);
                table.declare_dwarf_enum((self.id, die.key()), e)
            }
            _ => Type::Void,
        }
    }

    /// The entry that stands for a named record or enum of the file: the first definition of
    /// that name (units that include one header each define its types again; they are one
    /// type to a script), for a forward declaration or another definition of the same size.
    fn canonical(&self, die: Die, name: &str, entry: &Entry<'_, '_>, size: u32) -> Option<Die> {
        if !name.contains(' ') {
            return None;
        }
        let def = *self.types.get(name)?;
        if def == die {
            return None;
        }
        let (_, d) = self.entry(def)?;
        let same_size = udata(&d, gimli::DW_AT_byte_size) == Some(u64::from(size));
        (is_declaration(entry) || same_size).then_some(def)
    }

    /// An enum's names and values; signed when its underlying type is (or, without one, when
    /// a value is negative).
    fn enumeration(&self, die: Die, name: String, size: u32) -> Enum {
        let underlying = self
            .entry(die)
            .and_then(|(_, e)| self.type_of(die.unit, &e));
        let mut signed = underlying.is_some_and(|u| self.value_shape(u).1);
        let mut values = Vec::new();
        self.children(die, |dwarf, child| {
            if child.tag() != gimli::DW_TAG_enumerator {
                return;
            }
            let Some(n) = dwarf.name_in(&dwarf.units[die.unit], child) else {
                return;
            };
            let v = match child.attr_value(gimli::DW_AT_const_value).ok().flatten() {
                Some(AttributeValue::Sdata(v)) => {
                    signed |= underlying.is_none() && v < 0;
                    v
                }
                Some(AttributeValue::Data1(v)) => extend(u64::from(v), 1, signed),
                Some(AttributeValue::Data2(v)) => extend(u64::from(v), 2, signed),
                Some(AttributeValue::Data4(v)) => extend(u64::from(v), 4, signed),
                Some(AttributeValue::Data8(v)) => v as i64,
                Some(AttributeValue::Udata(v)) => v as i64,
                _ => return,
            };
            values.push((n, v));
        });
        let size = match size {
            1 | 2 | 4 | 8 => size as u8,
            _ => 4,
        };
        Enum {
            name: name.into(),
            size,
            signed,
            values,
        }
    }

    /// An array's dimensions, outermost first (`DW_AT_count`, or `DW_AT_upper_bound` + 1; a
    /// flexible array has 0 elements).
    fn dimensions(&self, die: Die) -> Vec<u32> {
        let mut dims = Vec::new();
        self.children(die, |_, child| {
            if child.tag() != gimli::DW_TAG_subrange_type {
                return;
            }
            let len = match (
                udata(child, gimli::DW_AT_count),
                udata(child, gimli::DW_AT_upper_bound),
            ) {
                (Some(n), _) => n,
                (None, Some(upper)) => upper.saturating_add(1),
                _ => 0,
            };
            dims.push(u32::try_from(len).unwrap_or(u32::MAX));
        });
        if dims.is_empty() {
            dims.push(0);
        }
        dims
    }

    /// A `char` as an array element, read as bpftrace 0.17 reads DWARF: a 1-byte base type
    /// encoded as a (signed or unsigned) character, through qualifiers but not typedefs.
    fn is_char(&self, mut die: Die) -> bool {
        for _ in 0..8 {
            let Some((_, entry)) = self.entry(die) else {
                return false;
            };
            match entry.tag() {
                gimli::DW_TAG_const_type
                | gimli::DW_TAG_volatile_type
                | gimli::DW_TAG_atomic_type => match self.type_of(die.unit, &entry) {
                    Some(d) => die = d,
                    None => return false,
                },
                gimli::DW_TAG_base_type => {
                    return udata(&entry, gimli::DW_AT_byte_size) == Some(1)
                        && matches!(
                            entry.attr_value(gimli::DW_AT_encoding).ok().flatten(),
                            Some(AttributeValue::Encoding(
                                gimli::DW_ATE_signed_char | gimli::DW_ATE_unsigned_char
                            ))
                        )
                }
                _ => return false,
            }
        }
        false
    }

    /// The natural alignment of type `die`: integers, enums and floats by their size (at
    /// most 16), pointers 8, arrays by their element, records the largest of their members'
    /// (1 when packed: a plain member off its alignment, or a size that is not a multiple of
    /// it), or what `DW_AT_alignment` says.
    fn align(&self, mut die: Die, depth: u32) -> u32 {
        for _ in 0..MAX_DEPTH {
            let Some((_, entry)) = self.entry(die) else {
                return 1;
            };
            if let Some(a) = udata(&entry, gimli::DW_AT_alignment) {
                return a.clamp(1, 4096) as u32;
            }
            let size = udata(&entry, gimli::DW_AT_byte_size).unwrap_or(0);
            match entry.tag() {
                gimli::DW_TAG_base_type | gimli::DW_TAG_enumeration_type => {
                    return if size.is_power_of_two() {
                        size.min(16) as u32
                    } else {
                        1
                    };
                }
                gimli::DW_TAG_pointer_type
                | gimli::DW_TAG_reference_type
                | gimli::DW_TAG_rvalue_reference_type => return 8,
                tag if is_transparent(tag) || tag == gimli::DW_TAG_array_type => {
                    match self.type_of(die.unit, &entry) {
                        Some(d) => die = d,
                        None => return 1,
                    }
                }
                gimli::DW_TAG_structure_type
                | gimli::DW_TAG_class_type
                | gimli::DW_TAG_union_type
                    if depth < MAX_DEPTH =>
                {
                    let mut align = 1u32;
                    let mut packed = false;
                    self.children(die, |dwarf, m| {
                        if m.tag() != gimli::DW_TAG_member || is_declaration(m) {
                            return;
                        }
                        let Some(ty) = dwarf.type_of(die.unit, m) else {
                            return;
                        };
                        let a = dwarf.align(ty, depth + 1);
                        let plain = m.attr_value(gimli::DW_AT_bit_size).ok().flatten().is_none();
                        if plain && !member_bits(m).is_multiple_of(u64::from(a) * 8) {
                            packed = true;
                        }
                        align = align.max(a);
                    });
                    if packed || !size.is_multiple_of(u64::from(align)) {
                        return 1;
                    }
                    return align;
                }
                _ => return 1,
            }
        }
        1
    }

    /// Gives a record declared from this file its members, and its anonymous members theirs
    /// (nothing when `r` came from elsewhere or already has them). A bitfield's offset is that
    /// of its storage unit (the member type's size, aligned down) and `shift` the bits before
    /// it there; one that crosses its unit (packed records) is read as a `uint64` from the
    /// byte holding its first bit.
    pub fn fill_record(&self, r: &RecordRef, table: &mut TypeTable) {
        if table.record(r).is_none_or(|rec| rec.complete) {
            return;
        }
        let Some((file, key)) = table.dwarf_source_of(r) else {
            return;
        };
        if file != self.id {
            return;
        }
        let die = Die::from_key(key);
        let mut members = Vec::new();
        self.children(die, |dwarf, m| {
            // C++ static members are declarations; they take no room.
            if m.tag() != gimli::DW_TAG_member || is_declaration(m) {
                return;
            }
            let name = dwarf.name_in(&dwarf.units[die.unit], m).unwrap_or_default();
            let bits = udata(m, gimli::DW_AT_bit_size).map(|b| b.min(64) as u32);
            let bit_offset = match (bits, m.attr_value(gimli::DW_AT_bit_offset).ok().flatten()) {
                // DWARF 2 and 3: the bits are counted from the most significant bit of a
                // unit of DW_AT_byte_size bytes at the member's location.
                (Some(bits), Some(v)) => {
                    let unit = udata(m, gimli::DW_AT_byte_size).unwrap_or(4) * 8;
                    let from_msb = v.sdata_value().unwrap_or(0);
                    let shift = unit as i64 - from_msb - i64::from(bits);
                    (member_bits(m) as i64 + shift).max(0) as u64
                }
                _ => member_bits(m),
            };
            members.push((name, dwarf.type_of(die.unit, m), bit_offset, bits));
        });
        let mut fields = Vec::new();
        for (name, ty, bit_offset, bits) in members {
            let ty = ty.map_or(Type::Void, |d| self.convert(d, table, 0));
            let bit_offset = u32::try_from(bit_offset).unwrap_or(u32::MAX);
            fields.push(Field::placed(name, ty, bit_offset, bits.unwrap_or(0)));
        }
        // Anonymous members' members are the record's own (`TypeTable::field` looks through).
        for inner in table.fill_record(r, fields) {
            self.fill_record(&inner, table);
        }
    }
}

/// Whether a base type is an integer, and signed: `Some(signed)`, `None` for floats and
/// other encodings.
fn integer_signedness(entry: &Entry<'_, '_>) -> Option<bool> {
    match entry.attr_value(gimli::DW_AT_encoding).ok()?? {
        AttributeValue::Encoding(e) => match e {
            gimli::DW_ATE_signed | gimli::DW_ATE_signed_char => Some(true),
            gimli::DW_ATE_unsigned
            | gimli::DW_ATE_unsigned_char
            | gimli::DW_ATE_boolean
            | gimli::DW_ATE_UTF => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// A member's offset in bits from the start of its record: `DW_AT_data_bit_offset`, else
/// `DW_AT_data_member_location` (a constant, or the `DW_OP_plus_uconst N` older compilers
/// write); 0 without either (union members).
fn member_bits(m: &Entry<'_, '_>) -> u64 {
    if let Some(bits) = udata(m, gimli::DW_AT_data_bit_offset) {
        return bits;
    }
    let bytes = match m
        .attr_value(gimli::DW_AT_data_member_location)
        .ok()
        .flatten()
    {
        Some(AttributeValue::Exprloc(expr)) => {
            use gimli::Reader as _;
            let mut r = expr.0;
            match r.read_u8() {
                Ok(op) if op == gimli::DW_OP_plus_uconst.0 => r.read_uleb128().unwrap_or(0),
                _ => 0,
            }
        }
        Some(v) => v.udata_value().unwrap_or(0),
        None => 0,
    };
    bytes.saturating_mul(8)
}

/// A `size`-byte constant as a signed value, sign-extended when the enum is signed.
fn extend(v: u64, size: u32, signed: bool) -> i64 {
    let shift = 64 - size * 8;
    if signed {
        ((v << shift) as i64) >> shift
    } else {
        v as i64
    }
}

#[cfg(test)]
mod tests {
    use crate::probes::elf::Elf;
    use crate::probes::elf_dwarf::tests::build;
    use crate::probes::elf_dwarf::Dwarf;
    use crate::sema::types::{Bitfield, RecordRef, Type, TypeTable};

    const SOURCE: &str = include_str!("../../../tests/fixtures/dwarf/structs.c");

    /// The fixture built with DWARF `version` (4 and 5 write bitfields differently).
    fn fixture(version: u8) -> Option<Dwarf> {
        let flag = format!("-gdwarf-{version}");
        let path = build(&format!("structs{version}"), SOURCE, &[&flag])?;
        let elf = std::sync::Arc::new(Elf::read(&path).expect("elf"));
        Some(Dwarf::open(&elf).expect("dwarf").expect("has DWARF"))
    }

    fn int(size: u8, signed: bool) -> Type {
        Type::Int { size, signed }
    }

    fn record(t: &Type) -> RecordRef {
        match t {
            Type::Record(r) => r.clone(),
            other => panic!("not a record: {other:?}"),
        }
    }

    /// (offset, type) of member `name` once the record is filled.
    fn member(d: &Dwarf, table: &mut TypeTable, r: &RecordRef, name: &str) -> (u32, Type) {
        d.fill_record(r, table);
        let f = table
            .field(r, name)
            .unwrap_or_else(|| panic!("no member {name}"));
        (f.offset, f.ty)
    }

    #[test]
    fn records_are_laid_out_as_the_compiler_laid_them_out() {
        for version in [4, 5] {
            let Some(d) = fixture(version) else { return };
            let mut t = TypeTable::default();
            let outer = d.named_type("struct outer", &mut t).expect("struct outer");
            assert_eq!((outer.c_size(), outer.c_align()), (44, 4));
            let r = record(&outer);
            // Declared, not yet filled: the members come when asked.
            assert!(!t.record(&r).unwrap().complete);
            assert_eq!(member(&d, &mut t, &r, "name"), (0, Type::Str { size: 8 }));
            let (off, point) = member(&d, &mut t, &r, "origin");
            assert_eq!((off, point.to_string()), (8, "struct point".into()));
            let (off, corners) = member(&d, &mut t, &r, "corners");
            assert_eq!(off, 16);
            assert_eq!(
                corners,
                Type::Array {
                    elem: Box::new(point.clone()),
                    len: 2
                }
            );
            let (off, color) = member(&d, &mut t, &r, "color");
            assert_eq!((off, color.to_string()), (32, "enum color".into()));
            assert_eq!(t.enum_constant("BLUE").map(|(v, _)| v), Some(3));
            assert_eq!(member(&d, &mut t, &r, "count"), (36, int(4, false)));
            // uint8_t is a typedef: its array is integers, not a string (as bpftrace reads).
            let raw = Type::Array {
                elem: Box::new(int(1, false)),
                len: 3,
            };
            assert_eq!(member(&d, &mut t, &r, "raw"), (40, raw));
            // The same entry is declared once; a typedef and a bare name find it too.
            assert_eq!(d.named_type("outer_t", &mut t), Some(outer.clone()));
            assert_eq!(d.named_type("outer", &mut t), Some(outer.clone()));
            assert_eq!(d.named_type("u32_t", &mut t), Some(int(4, false)));
            assert_eq!(d.named_type("struct nothing", &mut t), None);
            // A struct that points to itself.
            let chain = d.named_type("struct chain", &mut t).unwrap();
            let (_, next) = member(&d, &mut t, &record(&chain), "next");
            assert_eq!(
                next,
                Type::Ptr {
                    user: false,
                    to: Some(Box::new(chain.clone()))
                }
            );
        }
    }

    #[test]
    fn bitfields_keep_their_bits() {
        for version in [4, 5] {
            let Some(d) = fixture(version) else { return };
            let mut t = TypeTable::default();
            let flags = d.named_type("struct flags", &mut t).unwrap();
            assert_eq!(flags.c_size(), 8);
            let r = record(&flags);
            d.fill_record(&r, &mut t);
            let f = |n: &str| {
                let f = t.field(&r, n).unwrap();
                (f.offset, f.bitfield, f.ty)
            };
            let bits = |shift, bits| Some(Bitfield { shift, bits });
            assert_eq!(f("a"), (0, bits(0, 3), int(4, false)), "DWARF {version}");
            assert_eq!(f("b"), (0, bits(3, 7), int(4, false)));
            assert_eq!(f("neg"), (0, bits(10, 5), int(4, true)));
            assert_eq!(f("wide"), (0, bits(15, 40), int(8, false)));
            assert_eq!(f("tail"), (7, None, int(1, true)));
        }
    }

    #[test]
    fn anonymous_members_unions_and_the_rest() {
        let Some(d) = fixture(5) else { return };
        let mut t = TypeTable::default();
        let anon = d.named_type("struct anon", &mut t).unwrap();
        assert_eq!((anon.c_size(), anon.c_align()), (80, 8));
        let r = record(&anon);
        assert_eq!(member(&d, &mut t, &r, "inner_b"), (6, int(2, true)));
        assert_eq!(member(&d, &mut t, &r, "as_char"), (8, int(1, true)));
        let (off, either) = member(&d, &mut t, &r, "either");
        assert_eq!((off, either.to_string()), (16, "union".into()));
        // A named member of an unnamed union type is not looked through.
        assert!(t.field(&r, "low").is_none());
        assert_eq!(
            member(&d, &mut t, &record(&either), "low"),
            (0, int(4, true))
        );
        // A double is kept as opaque bytes; a negative enum value is signed.
        let opaque = Type::Array {
            elem: Box::new(int(1, false)),
            len: 8,
        };
        assert_eq!(member(&d, &mut t, &r, "weight"), (24, opaque));
        assert_eq!(
            t.enum_constant("MINUS").map(|(v, e)| (v, e.is_signed())),
            Some((-1, true))
        );
        // int grid[2][3]: 2 arrays of 3.
        let row = Type::Array {
            elem: Box::new(int(4, true)),
            len: 3,
        };
        let grid = Type::Array {
            elem: Box::new(row),
            len: 2,
        };
        assert_eq!(member(&d, &mut t, &r, "grid"), (36, grid));
        // A function pointer points to nothing rtrace reads.
        let callback = Type::Ptr {
            user: false,
            to: None,
        };
        assert_eq!(member(&d, &mut t, &r, "callback"), (64, callback));
        let (off, num) = member(&d, &mut t, &r, "num");
        assert_eq!(
            (off, num.c_size(), num.to_string()),
            (72, 4, "union number".into())
        );
        let n = record(&num);
        assert_eq!(member(&d, &mut t, &n, "bytes"), (0, Type::Str { size: 4 }));
    }

    /// Two units define `struct pair` and `enum two` (as units that include one header do):
    /// to a script they are one type each, whichever unit a function or cast finds them in.
    #[test]
    fn a_type_defined_in_two_units_is_one_type() {
        // A first build tells whether cc works and gives a directory of its own.
        let Some(path) = build("units", "int main(void) { return 0; }\n", &[]) else {
            return;
        };
        let header = "struct pair { int a; int b; }; enum two { ONE = 1, TWO = 2 };\n";
        let dir = std::path::Path::new(&path).parent().unwrap().to_path_buf();
        let one = dir.join("one.c");
        let other = dir.join("other.c");
        std::fs::write(
            &one,
            format!(
                "{header}int second(struct pair *p, enum two t);\n\
                 int first(struct pair *p, enum two t) {{ return p->a + t; }}\n\
                 int main(void) {{ struct pair p = {{ 1, 2 }}; return first(&p, ONE) + second(&p, TWO); }}\n"
            ),
        )
        .unwrap();
        std::fs::write(
            &other,
            format!("{header}int second(struct pair *p, enum two t) {{ return p->b + t; }}\n"),
        )
        .unwrap();
        let exe = dir.join("two-units");
        let built = std::process::Command::new("cc")
            .args(["-g", "-O0", "-o"])
            .arg(&exe)
            .arg(&one)
            .arg(&other)
            .status()
            .is_ok_and(|s| s.success());
        assert!(built, "cc of two units");
        let elf = std::sync::Arc::new(Elf::read(&exe.to_string_lossy()).expect("elf"));
        let d = Dwarf::open(&elf).expect("dwarf").expect("has DWARF");
        assert_eq!(d.units.len(), 2);
        let mut t = TypeTable::default();
        let first = d.param_type("first", "p", &mut t).unwrap();
        let second = d.param_type("second", "p", &mut t).unwrap();
        assert_eq!(first, second);
        let e1 = d.param_type("first", "t", &mut t).unwrap();
        assert_eq!(d.param_type("second", "t", &mut t), Some(e1));
        let pair = d.named_type("struct pair", &mut t).unwrap();
        assert_eq!(
            first,
            Type::Ptr {
                user: false,
                to: Some(Box::new(pair))
            }
        );
    }

    #[test]
    fn parameters_are_typed() {
        let Some(d) = fixture(5) else { return };
        let mut t = TypeTable::default();
        let o = d.param_type("take_outer", "o", &mut t).unwrap();
        let outer = d.named_type("struct outer", &mut t).unwrap();
        assert_eq!(
            o,
            Type::Ptr {
                user: false,
                to: Some(Box::new(outer.clone()))
            }
        );
        assert_eq!(d.param_type("take_outer", "same", &mut t), Some(o));
        assert_eq!(
            d.param_type("take_outer", "c", &mut t)
                .map(|c| c.to_string()),
            Some("enum color".into())
        );
        let label = Type::Ptr {
            user: false,
            to: Some(Box::new(int(1, true))),
        };
        assert_eq!(d.param_type("take_flags", "label", &mut t), Some(label));
        assert_eq!(d.param_type("take_flags", "nothing", &mut t), None);
        assert_eq!(d.param_type("nothing", "o", &mut t), None);
    }
}
