//! Kernel tests (root, real BPF) for raw syscalls, maps, the ring buffer and probe listing;
//! fed by the runtime's sys/maps/ringbuf modules and `probes::list`.

use rtrace::runtime::sys;
use std::os::fd::AsRawFd;

const BPF_PROG_TYPE_RAW_TRACEPOINT: u32 = 17;

/// Encodes one instruction: opcode, dst, src, offset, immediate.
fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> [u8; 8] {
    let mut b = [0u8; 8];
    b[0] = code;
    b[1] = (src << 4) | (dst & 0xf);
    b[2..4].copy_from_slice(&off.to_le_bytes());
    b[4..8].copy_from_slice(&imm.to_le_bytes());
    b
}

fn program(insns: &[[u8; 8]]) -> Vec<u8> {
    insns.iter().flatten().copied().collect()
}

#[test]
fn prog_test_run_returns_r0() {
    // r0 = 42; exit
    let code = program(&[insn(0xb7, 0, 0, 0, 42), insn(0x95, 0, 0, 0, 0)]);
    let fd = sys::prog_load(BPF_PROG_TYPE_RAW_TRACEPOINT, &code, "rtrace_t_ret").expect("load");
    assert_eq!(sys::prog_test_run(fd.as_raw_fd(), &[]).expect("run"), 42);
    assert_eq!(
        sys::prog_test_run(fd.as_raw_fd(), &[0u8; 16]).expect("run"),
        42
    );
    let progs = sys::loaded_programs();
    assert!(progs.iter().any(|(_, n)| n == "rtrace_t_ret"), "{progs:?}");
    drop(fd);
    let progs = sys::loaded_programs();
    assert!(!progs.iter().any(|(_, n)| n == "rtrace_t_ret"), "{progs:?}");
}
