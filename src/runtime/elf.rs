//! An in-memory BPF ELF object (one executable section and one global FUNC symbol per program,
//! plus a `license` section) for aya's loader; fed by `runtime::load` with encoded instructions.

use object::write::{Object, SectionId, Symbol, SymbolSection};
use object::{
    Architecture, BinaryFormat, Endianness, SectionKind, SymbolFlags, SymbolKind, SymbolScope,
};

/// One program to place in the object.
pub struct ElfProgram<'a> {
    /// The section name, which tells aya the program type (`tracepoint/syscalls/x`, `raw_tp/x`).
    pub section: String,
    /// The FUNC symbol: aya's name for the program (and the kernel's, cut to 15 bytes).
    pub symbol: &'a str,
    /// Encoded instructions, 8 bytes each.
    pub code: Vec<u8>,
}

/// The license every program is loaded under (bpf_probe_read, bpf_trace_printk need GPL).
pub const LICENSE: &[u8] = b"GPL\0";

/// Writes a relocatable little-endian `EM_BPF` ELF holding `programs`.
pub fn write(programs: &[ElfProgram<'_>]) -> Result<Vec<u8>, String> {
    let mut obj = Object::new(BinaryFormat::Elf, Architecture::Bpf, Endianness::Little);
    for p in programs {
        let id = obj.add_section(Vec::new(), p.section.as_bytes().to_vec(), SectionKind::Text);
        add_code(&mut obj, id, p.symbol, p.code.clone());
    }
    add_license(&mut obj);
    obj.write()
        .map_err(|e| format!("cannot write the BPF object: {e}"))
}

/// Fills a program's section `id` with its instructions and names them with a global FUNC
/// symbol (also for `--emit-elf`'s objects).
pub fn add_code(obj: &mut Object, id: SectionId, symbol: &str, code: Vec<u8>) {
    let size = code.len() as u64;
    obj.set_section_data(id, code, 8);
    obj.add_symbol(Symbol {
        name: symbol.as_bytes().to_vec(),
        value: 0,
        size,
        kind: SymbolKind::Text,
        scope: SymbolScope::Linkage,
        weak: false,
        section: SymbolSection::Section(id),
        flags: SymbolFlags::None,
    });
}

/// The `license` section.
pub fn add_license(obj: &mut Object) {
    let license = obj.add_section(Vec::new(), b"license".to_vec(), SectionKind::Data);
    obj.set_section_data(license, LICENSE.to_vec(), 1);
}

#[cfg(test)]
mod tests {
    use super::*;
    use object::{Object as _, ObjectSection as _, ObjectSymbol as _};

    fn exit0() -> Vec<u8> {
        // r0 = 0; exit
        let mut v = vec![0xb7, 0, 0, 0, 0, 0, 0, 0];
        v.extend_from_slice(&[0x95, 0, 0, 0, 0, 0, 0, 0]);
        v
    }

    #[test]
    fn sections_and_symbols_round_trip() {
        let progs = [
            ElfProgram {
                section: "tracepoint/syscalls/sys_enter_getpid".into(),
                symbol: "tp_0",
                code: exit0(),
            },
            ElfProgram {
                section: "raw_tp/begin_1".into(),
                symbol: "begin_1",
                code: exit0(),
            },
        ];
        let bytes = write(&progs).expect("write");
        let file = object::File::parse(&*bytes).expect("parse");
        assert_eq!(file.architecture(), Architecture::Bpf);
        let text = file
            .section_by_name("raw_tp/begin_1")
            .expect("program section");
        assert_eq!(text.kind(), SectionKind::Text);
        assert_eq!(text.data().expect("data"), &exit0()[..]);
        let lic = file.section_by_name("license").expect("license");
        assert_eq!(lic.data().expect("data"), LICENSE);
        let sym = file
            .symbols()
            .find(|s| s.name() == Ok("tp_0"))
            .expect("symbol");
        assert!(sym.is_global());
        assert_eq!(sym.kind(), SymbolKind::Text);
        assert_eq!(sym.size(), 16);
    }

    #[test]
    fn aya_sees_every_program() {
        let progs = [
            ElfProgram {
                section: "perf_event".into(),
                symbol: "a",
                code: exit0(),
            },
            ElfProgram {
                section: "perf_event".into(),
                symbol: "b",
                code: exit0(),
            },
        ];
        let bytes = write(&progs).expect("write");
        let obj = aya_obj::Object::parse(&bytes).expect("aya parse");
        let mut names: Vec<_> = obj.programs.keys().cloned().collect();
        names.sort();
        assert_eq!(names, ["a", "b"]);
    }
}
