//! Applying an encoded program's relocations at load time: map fds into `ld_imm64`s and the
//! run-time constants (`cpid`, the start of `elapsed`). Fed by `codegen::Encoded` and the maps
//! the session created; its output goes to the loader.

use crate::bpf::maps::KernelMap;
use crate::codegen::ir::{MapId, RuntimeConst};
use crate::codegen::{Encoded, RelocKind};

/// The values of the run-time constants for one run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RunConsts {
    /// The `-c` command's pid (0 without one: sema allows `cpid` only with a command).
    pub cpid: u64,
    /// CLOCK_MONOTONIC nanoseconds when the run started.
    pub start_ns: u64,
}

impl RunConsts {
    fn value(&self, konst: RuntimeConst) -> u64 {
        match konst {
            RuntimeConst::Cpid => self.cpid,
            RuntimeConst::StartNs => self.start_ns,
        }
    }
}

/// Monotonic nanoseconds, the clock `nsecs` and `elapsed` read in the kernel.
pub fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec into `ts`.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// The program's instructions with every relocation applied; `map_fd` gives the fd of a map
/// (`None`: no such map, an internal error).
pub fn apply(
    code: &Encoded,
    map_fd: impl Fn(MapId) -> Option<i32>,
    consts: &RunConsts,
) -> Result<Vec<[u8; 8]>, String> {
    let mut insns = code.insns.clone();
    for r in &code.relocations {
        let (lo, hi) = match r.kind {
            RelocKind::MapFd(map) | RelocKind::MapValue(map) => {
                let fd = map_fd(map).ok_or_else(|| {
                    format!(
                        "{}: relocation names map {}, which does not exist",
                        code.name, map.0
                    )
                })?;
                (fd as u32, None)
            }
            RelocKind::Const(k) => {
                let v = consts.value(k);
                (v as u32, Some((v >> 32) as u32))
            }
        };
        set_imm(&mut insns, r.insn, lo)
            .map_err(|()| format!("{}: relocation at {} is out of range", code.name, r.insn))?;
        if let Some(hi) = hi {
            set_imm(&mut insns, r.insn + 1, hi).map_err(|()| {
                format!("{}: relocation at {} has no second slot", code.name, r.insn)
            })?;
        }
    }
    Ok(insns)
}

/// Writes the 32-bit immediate of instruction slot `i`.
fn set_imm(insns: &mut [[u8; 8]], i: usize, imm: u32) -> Result<(), ()> {
    let slot = insns.get_mut(i).ok_or(())?;
    slot[4..8].copy_from_slice(&imm.to_le_bytes());
    Ok(())
}

/// The fd of map `id` among the session's maps.
pub fn fd_in(maps: &[KernelMap]) -> impl Fn(MapId) -> Option<i32> + '_ {
    move |id| maps.get(id.0 as usize).map(KernelMap::fd)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codegen::asm::{self, R1, R2};
    use crate::codegen::{Encoded, Relocation};
    use crate::source::Span;

    #[test]
    fn fds_and_constants_are_written_into_their_ld_imm64() {
        let mut insns: Vec<[u8; 8]> = asm::ld_map_fd(R1, 3).map(asm::Insn::encode).to_vec();
        insns.extend(asm::ld_imm64(R2, 0).map(asm::Insn::encode));
        insns.extend(asm::ld_map_value(R1, 0, 8).map(asm::Insn::encode));
        let code = Encoded {
            name: "p0_begin".into(),
            spans: vec![Span::default(); insns.len()],
            insns,
            relocations: vec![
                Relocation {
                    insn: 0,
                    kind: RelocKind::MapFd(MapId(3)),
                },
                Relocation {
                    insn: 2,
                    kind: RelocKind::Const(RuntimeConst::StartNs),
                },
                Relocation {
                    insn: 4,
                    kind: RelocKind::MapValue(MapId(0)),
                },
            ],
        };
        let consts = RunConsts {
            cpid: 0,
            start_ns: 0x1234_5678_9abc_def0,
        };
        let out = apply(&code, |m| Some(100 + m.0 as i32), &consts).unwrap();
        let imm = |i: usize| u32::from_le_bytes(out[i][4..8].try_into().unwrap());
        assert_eq!(imm(0), 103);
        assert_eq!((imm(2), imm(3)), (0x9abc_def0, 0x1234_5678));
        // The map value's offset stays in the second slot.
        assert_eq!((imm(4), imm(5)), (100, 8));
        // Register fields and opcodes are untouched.
        assert_eq!(out[0][..4], code.insns[0][..4]);
        assert!(apply(&code, |_| None, &consts).is_err());
    }
}
