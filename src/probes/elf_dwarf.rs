//! A function's parameters from an ELF file's DWARF (`.debug_info` of the file, else of its
//! separate debug file), written as bpftrace 0.17's `-lv` writes them (`int argc`,
//! `struct Foo* foo1`), every function's in one walk; fed by the system catalogue for
//! `-lv 'uprobe:FILE:FUNC'`.

use super::elf::Elf;
use gimli::{AttributeValue, EndianSlice, LittleEndian, Unit, UnitOffset};
use object::{Object, ObjectSection};
use std::borrow::Cow;
use std::collections::HashMap;

type Reader<'a> = EndianSlice<'a, LittleEndian>;

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
}

impl Param {
    /// `TYPE NAME`, as `-lv` prints it.
    pub fn decl(&self) -> String {
        format!("{} {}", self.type_name, self.name)
    }
}

/// Every function's parameters as `TYPE NAME` lines, by function name (the first definition
/// of a name): `Ok(None)` when the file has no DWARF (bpftrace then warns once per file). Built
/// in one walk over the units; the catalogue keeps it per file.
pub fn all_function_params(elf: &Elf) -> Result<Option<HashMap<String, Vec<Param>>>, String> {
    for bytes in [Some(elf.bytes()), elf.debug_bytes()].into_iter().flatten() {
        let Ok(file) = object::File::parse(bytes) else {
            continue;
        };
        if file.section_by_name(".debug_info").is_none() {
            continue;
        }
        return params_in(&file).map(Some);
    }
    Ok(None)
}

fn params_in(file: &object::File<'_>) -> Result<HashMap<String, Vec<Param>>, String> {
    // Sections compressed with SHF_COMPRESSED (debug files usually are) are inflated here.
    let sections = gimli::DwarfSections::load(|id| -> Result<Cow<'_, [u8]>, String> {
        match file.section_by_name(id.name()) {
            Some(s) => s
                .uncompressed_data()
                .map_err(|e| format!("{}: {e}", id.name())),
            None => Ok(Cow::Borrowed(&[][..])),
        }
    })?;
    let dwarf = sections.borrow(|data| EndianSlice::new(data, LittleEndian));
    let err = |e: gimli::Error| format!("DWARF: {e}");
    let mut out: HashMap<String, Vec<Param>> = HashMap::new();
    let mut units = dwarf.units();
    while let Some(header) = units.next().map_err(err)? {
        let unit = dwarf.unit(header).map_err(err)?;
        let mut tree = unit.entries_tree(None).map_err(err)?;
        let root = tree.root().map_err(err)?;
        let mut children = root.children();
        while let Some(child) = children.next().map_err(err)? {
            let entry = child.entry();
            // Definitions only, as libdw's dwarf_getfuncs visits them.
            let declaration = matches!(
                entry.attr_value(gimli::DW_AT_declaration),
                Ok(Some(AttributeValue::Flag(true)))
            );
            if entry.tag() != gimli::DW_TAG_subprogram || declaration {
                continue;
            }
            let Some(func) = name_of(&dwarf, &unit, entry) else {
                continue;
            };
            if out.contains_key(&func) {
                continue;
            }
            let mut params = Vec::new();
            let mut kids = child.children();
            while let Some(p) = kids.next().map_err(err)? {
                let e = p.entry();
                if e.tag() != gimli::DW_TAG_formal_parameter {
                    continue;
                }
                let name = name_of(&dwarf, &unit, e).unwrap_or_default();
                let param = match e.attr_value(gimli::DW_AT_type).map_err(err)? {
                    Some(AttributeValue::UnitRef(off)) => {
                        let (size, signed, pointer) = value_shape(&unit, off);
                        Param {
                            name,
                            type_name: type_name(&dwarf, &unit, off, 0),
                            size,
                            signed,
                            pointer,
                        }
                    }
                    _ => Param {
                        name,
                        type_name: "<unknown type>".into(),
                        size: 0,
                        signed: false,
                        pointer: false,
                    },
                };
                params.push(param);
            }
            out.insert(func, params);
        }
    }
    Ok(out)
}

/// Size, signedness and pointer-ness of a type, through typedefs and qualifiers.
fn value_shape(unit: &Unit<Reader<'_>>, mut off: UnitOffset) -> (u32, bool, bool) {
    for _ in 0..32 {
        let Ok(entry) = unit.entry(off) else {
            break;
        };
        let next = match entry.attr_value(gimli::DW_AT_type).ok().flatten() {
            Some(AttributeValue::UnitRef(o)) => Some(o),
            _ => None,
        };
        match entry.tag() {
            gimli::DW_TAG_pointer_type => return (8, false, true),
            gimli::DW_TAG_base_type | gimli::DW_TAG_enumeration_type => {
                let size = entry
                    .attr_value(gimli::DW_AT_byte_size)
                    .ok()
                    .flatten()
                    .and_then(|v| v.udata_value())
                    .unwrap_or(0) as u32;
                let signed = matches!(
                    entry.attr_value(gimli::DW_AT_encoding).ok().flatten(),
                    Some(AttributeValue::Encoding(
                        gimli::DW_ATE_signed | gimli::DW_ATE_signed_char
                    ))
                );
                return (size, signed, false);
            }
            gimli::DW_TAG_typedef
            | gimli::DW_TAG_const_type
            | gimli::DW_TAG_volatile_type
            | gimli::DW_TAG_restrict_type => match next {
                Some(o) => off = o,
                None => break,
            },
            _ => break,
        }
    }
    (0, false, false)
}

fn name_of(
    dwarf: &gimli::Dwarf<Reader<'_>>,
    unit: &Unit<Reader<'_>>,
    entry: &gimli::DebuggingInformationEntry<'_, '_, Reader<'_>>,
) -> Option<String> {
    let value = entry.attr_value(gimli::DW_AT_name).ok()??;
    let s = dwarf.attr_string(unit, value).ok()?;
    Some(s.to_string_lossy().into_owned())
}

/// bpftrace's type names: base types and typedefs by name, `T*`, `struct S`, `const T`,
/// `T* const`.
fn type_name(
    dwarf: &gimli::Dwarf<Reader<'_>>,
    unit: &Unit<Reader<'_>>,
    off: UnitOffset,
    depth: u32,
) -> String {
    let unknown = || "<unknown type>".to_string();
    if depth > 32 {
        return unknown();
    }
    let Ok(entry) = unit.entry(off) else {
        return unknown();
    };
    let inner = || match entry.attr_value(gimli::DW_AT_type).ok().flatten() {
        Some(AttributeValue::UnitRef(o)) => Some(o),
        _ => None,
    };
    let name = || name_of(dwarf, unit, &entry);
    match entry.tag() {
        gimli::DW_TAG_base_type | gimli::DW_TAG_typedef => name().unwrap_or_else(unknown),
        gimli::DW_TAG_pointer_type => match inner() {
            Some(o) => type_name(dwarf, unit, o, depth + 1) + "*",
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
            let Some(o) = inner() else {
                // `const void`: bpftrace names the missing type as unknown.
                return "const <unknown type>".to_string();
            };
            let pointer = unit
                .entry(o)
                .is_ok_and(|e| e.tag() == gimli::DW_TAG_pointer_type);
            let t = type_name(dwarf, unit, o, depth + 1);
            if pointer {
                format!("{t} const")
            } else {
                format!("const {t}")
            }
        }
        _ => unknown(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a small C program with `-g` when a C compiler is installed.
    fn program() -> Option<String> {
        let dir = std::env::temp_dir().join(format!("rtrace-dwarf-{}", std::process::id()));
        std::fs::create_dir_all(&dir).ok()?;
        let src = dir.join("p.c");
        std::fs::write(
            &src,
            "struct Foo { int a; };\n\
             int f(int *n, char c, struct Foo *foo, const char *s, void *v) { return 0; }\n\
             int main(int argc, char **argv) { return f(0, 0, 0, 0, 0); }\n",
        )
        .ok()?;
        let out = dir.join("p");
        let ok = std::process::Command::new("cc")
            .args(["-g", "-O0", "-gdwarf-4", "-o"])
            .arg(&out)
            .arg(&src)
            .status()
            .ok()?
            .success();
        ok.then(|| out.to_string_lossy().into_owned())
    }

    #[test]
    fn parameters_as_bpftrace_writes_them() {
        let Some(path) = program() else {
            return;
        };
        let elf = Elf::read(&path).expect("elf");
        let all = all_function_params(&elf)
            .expect("dwarf")
            .expect("has DWARF");
        let decls = |f: &str| all[f].iter().map(Param::decl).collect::<Vec<_>>();
        assert_eq!(decls("main"), ["int argc", "char** argv"]);
        let c = &all["f"][1];
        assert_eq!((c.size, c.signed, c.pointer), (1, true, false));
        assert!(all["f"][0].pointer);
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
        let bash = Elf::read("/bin/bash").expect("bash");
        if bash.debug_bytes().is_none() {
            assert_eq!(all_function_params(&bash), Ok(None));
        }
    }
}
