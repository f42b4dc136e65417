//! `--emit-elf FILE.o`: a compiled script as a relocatable BPF ELF object that libbpf-based
//! loaders accept (`bpftool prog loadall FILE.o /sys/fs/bpf/DIR`). Fed by the driver with the
//! `Object` that a run would load; writes nothing to the kernel.
//!
//! Layout, as libbpf expects it:
//! - one executable section per program, named by its program type (`tracepoint/CAT/NAME`,
//!   `raw_tp`, `perf_event`, `kprobe/FUNC`, `uprobe`, `fentry/FUNC`, ...), with a global FUNC
//!   symbol named as rtrace names the program in the kernel;
//! - the maps as BTF-defined maps in `.maps` (one anonymous struct of `type`, `max_entries`,
//!   `key_size`, `value_size` per map, encoded as BTF `int (*)[N]` members), and the counter of
//!   lost events as a `.bss` variable, which libbpf turns into a one-entry array map as rtrace
//!   creates it;
//! - `R_BPF_64_64` relocations on every `ld_imm64` that names a map;
//! - `license` ("GPL") and `.BTF`.
//!
//! What only rtrace's runtime knows is refused with a message: `cpid` and `elapsed` are
//! constants set when rtrace starts the run.

use crate::bpf::maps::kernel_name;
use crate::object::{Object as Compiled, RelocKind};
use crate::probes::perf::{
    BPF_PROG_TYPE_KPROBE, BPF_PROG_TYPE_PERF_EVENT, BPF_PROG_TYPE_RAW_TRACEPOINT,
    BPF_PROG_TYPE_TRACEPOINT,
};
use crate::probes::Attach;
use crate::sema::layout::MapKind;
use object::write::{Object, Relocation, SectionId, Symbol, SymbolId, SymbolSection};
use object::{
    Architecture, BinaryFormat, Endianness, RelocationFlags, SectionKind, SymbolFlags, SymbolKind,
    SymbolScope,
};

/// `R_BPF_64_64`: the 64-bit immediate of an `ld_imm64` names a symbol (a map).
const R_BPF_64_64: u32 = 1;

/// The kernel's `BPF_MAP_TYPE_*` of a map kind.
fn map_type(kind: MapKind) -> u32 {
    match kind {
        MapKind::Hash => 1,
        MapKind::Array => 2,
        MapKind::PerCpuHash => 5,
        MapKind::PerCpuArray => 6,
        MapKind::StackTrace => 7,
        MapKind::RingBuf => 27,
    }
}

/// The section name libbpf reads the program type from.
fn section_name(attach: &Attach) -> String {
    match attach {
        Attach::Tracepoint { category, name } => format!("tracepoint/{category}/{name}"),
        Attach::RawTracepoint { name } => format!("raw_tp/{name}"),
        Attach::Kprobe { func, ret, .. } => {
            format!("{}/{func}", if *ret { "kretprobe" } else { "kprobe" })
        }
        Attach::Fentry { func, ret } => format!("{}/{func}", if *ret { "fexit" } else { "fentry" }),
        Attach::Uprobe { ret, .. } => (if *ret { "uretprobe" } else { "uprobe" }).to_string(),
        Attach::Iter { name, .. } => format!("iter/{name}"),
        other => {
            let provider = other.provider();
            match provider.prog_type {
                Some(BPF_PROG_TYPE_RAW_TRACEPOINT) => "raw_tp".into(),
                Some(BPF_PROG_TYPE_PERF_EVENT) => "perf_event".into(),
                Some(BPF_PROG_TYPE_TRACEPOINT) => "tracepoint".into(),
                // usdt and the other pt_regs programs.
                Some(BPF_PROG_TYPE_KPROBE) if provider.name.starts_with('u') => {
                    provider.name.to_string()
                }
                _ => "kprobe".into(),
            }
        }
    }
}

/// Writes `compiled` as a BPF ELF object.
pub fn write(compiled: &Compiled) -> Result<Vec<u8>, String> {
    if let Some(p) = compiled.programs.iter().find(|p| {
        p.code
            .relocations
            .iter()
            .any(|r| matches!(r.kind, RelocKind::Const(_)))
    }) {
        return Err(format!(
            "--emit-elf: the program of {} uses a value set by rtrace when it starts the run \
             (cpid or elapsed), which a BPF object loaded by another tool cannot have",
            p.attach_text
        ));
    }
    let mut obj = Object::new(BinaryFormat::Elf, Architecture::Bpf, Endianness::Little);
    let mut btf = BtfWriter::new();

    // Maps: the lost-event counter in .bss, every other map in .maps.
    let maps_section = obj.add_section(Vec::new(), b".maps".to_vec(), SectionKind::Data);
    let bss_section = obj.add_section(Vec::new(), b".bss".to_vec(), SectionKind::UninitializedData);
    let mut map_symbols: Vec<SymbolId> = Vec::with_capacity(compiled.maps.len());
    let mut maps_data = Vec::new();
    let mut maps_vars = Vec::new();
    let mut bss_vars = Vec::new();
    let mut bss_size = 0u64;
    for (i, map) in compiled.maps.iter().enumerate() {
        let def = &map.def;
        let name = kernel_name(&def.name);
        if i as u32 == compiled.lost {
            // A direct value pointer into the counter: libbpf's internal .bss map.
            let u64_id = btf.int("unsigned long long", 8, false);
            let var = btf.var(&name, u64_id);
            bss_vars.push((var, bss_size as u32, def.value_size));
            map_symbols.push(add_data_symbol(
                &mut obj,
                &name,
                bss_section,
                bss_size,
                def.value_size as u64,
            ));
            bss_size += def.value_size as u64;
            continue;
        }
        let mut members = vec![
            ("type", map_type(def.kind)),
            ("max_entries", def.max_entries),
        ];
        if def.kind != MapKind::RingBuf {
            members.push(("key_size", def.key_size));
            members.push(("value_size", def.value_size));
        }
        let fields: Vec<(String, u32)> = members
            .iter()
            .map(|(n, v)| (n.to_string(), btf.uint_field(*v)))
            .collect();
        let size = 8 * fields.len() as u32;
        let st = btf.ptr_struct(&fields);
        let var = btf.var(&name, st);
        let offset = maps_data.len() as u64;
        maps_vars.push((var, offset as u32, size));
        maps_data.resize(maps_data.len() + size as usize, 0);
        map_symbols.push(add_data_symbol(
            &mut obj,
            &name,
            maps_section,
            offset,
            size as u64,
        ));
    }
    obj.set_section_data(maps_section, maps_data, 8);
    obj.append_section_bss(bss_section, bss_size.max(8), 8);
    btf.datasec(".maps", &maps_vars);
    if !bss_vars.is_empty() {
        btf.datasec(".bss", &bss_vars);
    }

    for p in &compiled.programs {
        let section = section_name(&p.attach);
        let id = obj.add_section(Vec::new(), section.into_bytes(), SectionKind::Text);
        let mut insns = p.code.insns.clone();
        for r in &p.code.relocations {
            let map = match r.kind {
                RelocKind::MapFd(m) | RelocKind::MapValue(m) => m.0 as usize,
                RelocKind::Const(_) => unreachable!("refused above"),
            };
            // The immediate is the offset into the symbol's data: 0 for a map, and the value
            // pointer's offset is kept in the second slot, where libbpf adds it.
            insns[r.insn][4..8].copy_from_slice(&0i32.to_le_bytes());
            let symbol = *map_symbols
                .get(map)
                .ok_or_else(|| format!("relocation to map {map}, which does not exist"))?;
            obj.add_relocation(
                id,
                Relocation {
                    offset: (r.insn * 8) as u64,
                    symbol,
                    addend: 0,
                    flags: RelocationFlags::Elf {
                        r_type: R_BPF_64_64,
                    },
                },
            )
            .map_err(|e| format!("cannot write a relocation: {e}"))?;
        }
        crate::runtime::elf::add_code(&mut obj, id, &p.code.name, insns.concat());
    }

    crate::runtime::elf::add_license(&mut obj);
    let btf_section = obj.add_section(Vec::new(), b".BTF".to_vec(), SectionKind::Metadata);
    obj.set_section_data(btf_section, btf.finish(), 4);
    obj.write()
        .map_err(|e| format!("cannot write the BPF object: {e}"))
}

fn add_data_symbol(
    obj: &mut Object,
    name: &str,
    section: SectionId,
    value: u64,
    size: u64,
) -> SymbolId {
    obj.add_symbol(Symbol {
        name: name.as_bytes().to_vec(),
        value,
        size,
        kind: SymbolKind::Data,
        scope: SymbolScope::Linkage,
        weak: false,
        section: SymbolSection::Section(section),
        flags: SymbolFlags::None,
    })
}

/// The few BTF kinds a map definition needs, written in the kernel's format
/// (Documentation/bpf/btf.rst): INT, PTR, ARRAY, STRUCT, VAR, DATASEC.
struct BtfWriter {
    types: Vec<u8>,
    strings: Vec<u8>,
    count: u32,
    int_id: Option<u32>,
}

const BTF_KIND_INT: u32 = 1;
const BTF_KIND_PTR: u32 = 2;
const BTF_KIND_ARRAY: u32 = 3;
const BTF_KIND_STRUCT: u32 = 4;
const BTF_KIND_VAR: u32 = 14;
const BTF_KIND_DATASEC: u32 = 15;
/// `BTF_VAR_GLOBAL_ALLOCATED`.
const VAR_GLOBAL: u32 = 1;

impl BtfWriter {
    fn new() -> BtfWriter {
        BtfWriter {
            types: Vec::new(),
            // Offset 0 is the empty name.
            strings: vec![0],
            count: 0,
            int_id: None,
        }
    }

    fn string(&mut self, s: &str) -> u32 {
        if s.is_empty() {
            return 0;
        }
        let off = self.strings.len() as u32;
        self.strings.extend_from_slice(s.as_bytes());
        self.strings.push(0);
        off
    }

    fn words(&mut self, words: &[u32]) {
        for w in words {
            self.types.extend_from_slice(&w.to_le_bytes());
        }
    }

    /// Starts a type: name, kind, vlen and the size-or-type word. Returns its id.
    fn header(&mut self, name: &str, kind: u32, vlen: u32, size_or_type: u32) -> u32 {
        let name = self.string(name);
        self.words(&[name, (kind << 24) | vlen, size_or_type]);
        self.count += 1;
        self.count
    }

    fn int(&mut self, name: &str, size: u32, signed: bool) -> u32 {
        let id = self.header(name, BTF_KIND_INT, 0, size);
        let encoding = if signed { 1 } else { 0 };
        self.words(&[(encoding << 24) | (size * 8)]);
        id
    }

    /// The `int` every `__uint(field, N)` member points at.
    fn c_int(&mut self) -> u32 {
        if let Some(id) = self.int_id {
            return id;
        }
        let id = self.int("int", 4, true);
        self.int_id = Some(id);
        id
    }

    /// `int (*)[value]`: how BTF-defined maps encode a number.
    fn uint_field(&mut self, value: u32) -> u32 {
        let int = self.c_int();
        let array = self.header("", BTF_KIND_ARRAY, 0, 0);
        self.words(&[int, int, value]);
        let _ = array;
        self.header("", BTF_KIND_PTR, 0, array)
    }

    /// An anonymous struct of pointer members, 8 bytes each.
    fn ptr_struct(&mut self, fields: &[(String, u32)]) -> u32 {
        let id = self.header(
            "",
            BTF_KIND_STRUCT,
            fields.len() as u32,
            8 * fields.len() as u32,
        );
        for (i, (name, ty)) in fields.iter().enumerate() {
            let name = self.string(name);
            self.words(&[name, *ty, 64 * i as u32]);
        }
        id
    }

    fn var(&mut self, name: &str, ty: u32) -> u32 {
        let id = self.header(name, BTF_KIND_VAR, 0, ty);
        self.words(&[VAR_GLOBAL]);
        id
    }

    /// A section's variables as (var id, offset, size).
    fn datasec(&mut self, name: &str, vars: &[(u32, u32, u32)]) {
        let size = vars
            .iter()
            .map(|(_, off, size)| off + size)
            .max()
            .unwrap_or(0);
        self.header(name, BTF_KIND_DATASEC, vars.len() as u32, size);
        for (var, off, size) in vars {
            self.words(&[*var, *off, *size]);
        }
    }

    fn finish(self) -> Vec<u8> {
        const HDR_LEN: u32 = 24;
        let mut out = Vec::with_capacity(24 + self.types.len() + self.strings.len());
        out.extend_from_slice(&0xeb9fu16.to_le_bytes());
        out.push(1); // version
        out.push(0); // flags
        for w in [
            HDR_LEN,
            0,
            self.types.len() as u32,
            self.types.len() as u32,
            self.strings.len() as u32,
        ] {
            out.extend_from_slice(&w.to_le_bytes());
        }
        out.extend_from_slice(&self.types);
        out.extend_from_slice(&self.strings);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compile::{compile, CompileEnv};
    use crate::source::Source;
    use object::{Object as _, ObjectSection as _, ObjectSymbol as _};

    fn compiled(text: &str) -> Compiled {
        compile(&Source::new("t.bt", text), &CompileEnv::default())
            .unwrap_or_else(|d| panic!("{d:?}"))
    }

    #[test]
    fn programs_maps_and_relocations() {
        let obj = compiled("BEGIN { @n[1] = count(); printf(\"hi\\n\"); exit(); }");
        let bytes = write(&obj).expect("write");
        let file = object::File::parse(&*bytes).expect("parse");
        assert_eq!(file.architecture(), Architecture::Bpf);
        let prog = file.section_by_name("raw_tp").expect("BEGIN's section");
        assert_eq!(prog.kind(), SectionKind::Text);
        let relocs: Vec<_> = prog.relocations().collect();
        assert!(!relocs.is_empty());
        for (off, r) in &relocs {
            assert_eq!(off % 8, 0);
            assert_eq!(
                r.flags(),
                RelocationFlags::Elf {
                    r_type: R_BPF_64_64
                }
            );
            // Every relocation names an ld_imm64 whose immediate is 0.
            let data = prog.data().unwrap();
            let at = *off as usize;
            assert_eq!(data[at], 0x18);
            assert_eq!(&data[at + 4..at + 8], &[0, 0, 0, 0]);
        }
        let names: Vec<String> = file
            .symbols()
            .filter_map(|s| s.name().ok().map(String::from))
            .collect();
        assert!(names.iter().any(|n| n == "AT_n"), "{names:?}");
        assert!(names.iter().any(|n| n == "lost"), "{names:?}");
        let maps = file.section_by_name(".maps").expect(".maps");
        // @n (hash) is 4 members, the ring buffer 2: 8 bytes each.
        assert_eq!(maps.size(), 8 * 4 + 8 * 2);
        let btf = file.section_by_name(".BTF").expect(".BTF");
        assert_eq!(&btf.data().unwrap()[..2], &0xeb9fu16.to_le_bytes());
        assert_eq!(
            file.section_by_name("license").unwrap().data().unwrap(),
            b"GPL\0"
        );
    }

    #[test]
    fn btf_encodes_numbers_as_array_pointers() {
        let mut b = BtfWriter::new();
        let p = b.uint_field(7);
        // int, array, pointer.
        assert_eq!(p, 3);
        let bytes = b.finish();
        let types = &bytes[24..];
        // The array's third word (nelems) is 7.
        let array = &types[16..];
        assert_eq!(
            u32::from_le_bytes(array[4..8].try_into().unwrap()) >> 24,
            BTF_KIND_ARRAY
        );
        assert_eq!(u32::from_le_bytes(array[20..24].try_into().unwrap()), 7);
    }

    #[test]
    fn runtime_constants_are_refused() {
        let obj = compiled("BEGIN { printf(\"%d\\n\", elapsed); }");
        let err = write(&obj).unwrap_err();
        assert!(err.contains("elapsed"), "{err}");
    }
}
