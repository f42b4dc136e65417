//! USDT probes of one ELF file, read from its `.note.stapsdt` notes (the ones `<sys/sdt.h>`
//! writes): provider, name, semaphore and argument specs of every location, addresses moved
//! by the `.stapsdt.base` adjustment (the file may have been prelinked since it was built) and
//! turned into file offsets for the uprobe PMU; asked by the system catalogue.

use object::{Endianness, Object, ObjectSection, ObjectSegment};

/// One USDT probe: every location of one `provider:name` in a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsdtProbe {
    pub provider: String,
    pub name: String,
    /// File offset of the probe's semaphore (a u16 the kernel increments while the probe is
    /// traced); 0 when it has none.
    pub semaphore: u64,
    /// Each place the marker was compiled to (more than one when it was inlined or
    /// written twice), in note order.
    pub locations: Vec<UsdtLocation>,
}

/// One place of a probe in the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsdtLocation {
    /// File offset of the probe's `nop`: where the uprobe goes.
    pub offset: u64,
    /// The argument specs as written (`-4@%edi 8@-8(%rbp)`).
    pub args: String,
}

/// `NT_STAPSDT`.
const NT_STAPSDT: u32 = 3;

/// One note as written: addresses as the linker left them.
#[derive(Debug, PartialEq, Eq)]
struct Note {
    pc: u64,
    base: u64,
    semaphore: u64,
    provider: String,
    name: String,
    args: String,
}

/// The USDT probes of the ELF file `data`, grouped by provider and name in the order their
/// first note comes; empty when the file has no `.note.stapsdt`.
pub fn read(data: &[u8]) -> Result<Vec<UsdtProbe>, String> {
    let file = object::File::parse(data).map_err(|e| format!("not an ELF file: {e}"))?;
    let Some(section) = file.section_by_name(".note.stapsdt") else {
        return Ok(Vec::new());
    };
    let bytes = section
        .data()
        .map_err(|e| format!("cannot read .note.stapsdt: {e}"))?;
    let little = file.endianness() == Endianness::Little;
    let notes = parse_notes(bytes, little, file.is_64())?;
    // Where `.stapsdt.base` is now; each note says where it was when the note was written.
    let base_now = file.section_by_name(".stapsdt.base").map(|s| s.address());
    let segments: Vec<(u64, u64, u64)> = file
        .segments()
        .map(|s| {
            let (off, len) = s.file_range();
            (s.address(), off, len)
        })
        .collect();
    let to_offset = |addr: u64| -> Result<u64, String> {
        segments
            .iter()
            .find_map(|&(vaddr, off, len)| {
                let rel = addr.checked_sub(vaddr)?;
                (rel < len).then_some(off + rel)
            })
            .ok_or_else(|| format!("address {addr:#x} is not in a loaded segment"))
    };
    let mut probes: Vec<UsdtProbe> = Vec::new();
    for n in notes {
        let adjust = |addr: u64| match base_now {
            Some(now) if n.base != 0 => addr.wrapping_add(now).wrapping_sub(n.base),
            _ => addr,
        };
        let offset = to_offset(adjust(n.pc))
            .map_err(|e| format!("usdt probe {}:{}: {e}", n.provider, n.name))?;
        let semaphore = match n.semaphore {
            0 => 0,
            s => to_offset(adjust(s))
                .map_err(|e| format!("usdt probe {}:{} semaphore: {e}", n.provider, n.name))?,
        };
        let location = UsdtLocation {
            offset,
            args: n.args,
        };
        match probes
            .iter_mut()
            .find(|p| p.provider == n.provider && p.name == n.name)
        {
            Some(p) => p.locations.push(location),
            None => probes.push(UsdtProbe {
                provider: n.provider,
                name: n.name,
                semaphore,
                locations: vec![location],
            }),
        }
    }
    Ok(probes)
}

fn u32_at(b: &[u8], at: usize, little: bool) -> Option<u32> {
    let w: [u8; 4] = b.get(at..at + 4)?.try_into().ok()?;
    Some(if little {
        u32::from_le_bytes(w)
    } else {
        u32::from_be_bytes(w)
    })
}

fn addr_at(b: &[u8], at: usize, little: bool, is64: bool) -> Option<u64> {
    if !is64 {
        return u32_at(b, at, little).map(u64::from);
    }
    let w: [u8; 8] = b.get(at..at + 8)?.try_into().ok()?;
    Some(if little {
        u64::from_le_bytes(w)
    } else {
        u64::from_be_bytes(w)
    })
}

/// `n` rounded up to the notes' 4-byte alignment.
fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// The `stapsdt` notes of a `.note.stapsdt` section: each a note header (name size,
/// descriptor size, type), the name `stapsdt`, and a descriptor holding the probe's address,
/// the `.stapsdt.base` address and the semaphore address (word-sized), then three
/// NUL-terminated strings: provider, name, arguments. Other notes are skipped.
fn parse_notes(b: &[u8], little: bool, is64: bool) -> Result<Vec<Note>, String> {
    let word = if is64 { 8 } else { 4 };
    let bad = |at: usize| format!("malformed .note.stapsdt at byte {at}");
    let mut out = Vec::new();
    let mut at = 0;
    while at < b.len() {
        let namesz = u32_at(b, at, little).ok_or_else(|| bad(at))? as usize;
        let descsz = u32_at(b, at + 4, little).ok_or_else(|| bad(at))? as usize;
        let kind = u32_at(b, at + 8, little).ok_or_else(|| bad(at))?;
        let name_at = at + 12;
        let desc_at = name_at + align4(namesz);
        let end = desc_at
            .checked_add(align4(descsz))
            .filter(|&e| desc_at + descsz <= b.len() && e <= b.len() + 3)
            .ok_or_else(|| bad(at))?;
        let name = &b[name_at..name_at + namesz];
        if kind == NT_STAPSDT && name == b"stapsdt\0" {
            let desc = &b[desc_at..desc_at + descsz];
            let field = |i: usize| addr_at(desc, i * word, little, is64).ok_or_else(|| bad(at));
            let (pc, base, semaphore) = (field(0)?, field(1)?, field(2)?);
            let mut strings = desc
                .get(3 * word..)
                .ok_or_else(|| bad(at))?
                .split(|&c| c == 0)
                .map(|s| String::from_utf8_lossy(s).into_owned());
            let mut next = || strings.next().ok_or_else(|| bad(at));
            let (provider, name, args) = (next()?, next()?, next()?);
            out.push(Note {
                pc,
                base,
                semaphore,
                provider,
                name,
                args,
            });
        }
        at = end;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One `stapsdt` note as the assembler writes it (64-bit, little-endian).
    fn note(pc: u64, base: u64, sem: u64, provider: &str, name: &str, args: &str) -> Vec<u8> {
        let mut desc = Vec::new();
        for w in [pc, base, sem] {
            desc.extend_from_slice(&w.to_le_bytes());
        }
        for s in [provider, name, args] {
            desc.extend_from_slice(s.as_bytes());
            desc.push(0);
        }
        let mut b = Vec::new();
        b.extend_from_slice(&8u32.to_le_bytes());
        b.extend_from_slice(&(desc.len() as u32).to_le_bytes());
        b.extend_from_slice(&NT_STAPSDT.to_le_bytes());
        b.extend_from_slice(b"stapsdt\0");
        b.extend_from_slice(&desc);
        while b.len() % 4 != 0 {
            b.push(0);
        }
        b
    }

    #[test]
    fn notes_in_a_section() {
        let mut sec = note(
            0x401166,
            0x402004,
            0,
            "tracetest",
            "testprobe",
            "-8@%rax -4@%edx",
        );
        sec.extend(note(0x40119b, 0x402004, 0x404028, "p", "\"q\"", ""));
        let notes = parse_notes(&sec, true, true).unwrap();
        assert_eq!(
            notes[0],
            Note {
                pc: 0x401166,
                base: 0x402004,
                semaphore: 0,
                provider: "tracetest".into(),
                name: "testprobe".into(),
                args: "-8@%rax -4@%edx".into(),
            }
        );
        assert_eq!(notes[1].name, "\"q\"");
        assert_eq!(notes[1].semaphore, 0x404028);
        assert_eq!(notes[1].args, "");
        // A cut-off section is an error, not a panic.
        for cut in [3, 13, 30, sec.len() - 40] {
            assert!(
                parse_notes(&sec[..cut], true, true).is_err(),
                "cut at {cut}"
            );
        }
        assert_eq!(parse_notes(&[], true, true).unwrap(), vec![]);
    }

    #[test]
    fn other_notes_are_skipped() {
        let mut sec = Vec::new();
        sec.extend_from_slice(&4u32.to_le_bytes());
        sec.extend_from_slice(&4u32.to_le_bytes());
        sec.extend_from_slice(&1u32.to_le_bytes());
        sec.extend_from_slice(b"GNU\0abcd");
        sec.extend(note(1, 0, 0, "a", "b", "8@%rdi"));
        let notes = parse_notes(&sec, true, true).unwrap();
        assert_eq!(notes.len(), 1);
        assert_eq!(notes[0].provider, "a");
    }

    #[test]
    fn not_elf() {
        assert!(read(b"not an elf file").is_err());
    }
}
