//! `--info`: what this kernel offers, found by asking it (small program loads, map creations,
//! files of sysfs), printed in bpftrace 0.17's layout. Nothing stays loaded.

use super::sys;
use std::fmt::Write;
use std::path::Path;

/// `enum bpf_prog_type` and `enum bpf_attach_type` values used here.
const PROG_KPROBE: u32 = 2;
const PROG_TRACEPOINT: u32 = 5;
const PROG_PERF_EVENT: u32 = 7;
const PROG_RAW_TRACEPOINT: u32 = 17;
const PROG_TRACING: u32 = 26;
const ATTACH_TRACE_FENTRY: u32 = 24;
const ATTACH_TRACE_ITER: u32 = 28;

/// One instruction: opcode, dst, src, offset, immediate.
fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> [u8; 8] {
    let o = off.to_le_bytes();
    let i = imm.to_le_bytes();
    [code, dst | (src << 4), o[0], o[1], i[0], i[1], i[2], i[3]]
}

const EXIT: u8 = 0x95;
const CALL: u8 = 0x85;
const MOV_IMM: u8 = 0xb7;
const MOV_REG: u8 = 0xbf;
const ADD_IMM: u8 = 0x07;
const LDX_DW: u8 = 0x79;
const JLT_IMM: u8 = 0xa5;

fn program(body: &[[u8; 8]]) -> Vec<u8> {
    let mut v: Vec<u8> = body.iter().flatten().copied().collect();
    v.extend(insn(MOV_IMM, 0, 0, 0, 0));
    v.extend(insn(EXIT, 0, 0, 0, 0));
    v
}

fn loads(prog_type: u32, attach: u32, btf_id: u32, body: &[[u8; 8]]) -> bool {
    sys::prog_load_probe(prog_type, attach, btf_id, &program(body)).is_ok()
}

/// A kprobe program calling helper `id` with `args` set up by `setup`.
fn helper(id: i32, setup: &[[u8; 8]]) -> bool {
    let mut body = setup.to_vec();
    body.push(insn(CALL, 0, 0, 0, id));
    loads(PROG_KPROBE, 0, 0, &body)
}

/// `r1 = fp - 8; r2 = 8; r3 = 0`: a read of 8 bytes from address 0 into the stack.
fn read_args() -> Vec<[u8; 8]> {
    vec![
        insn(MOV_REG, 1, 10, 0, 0),
        insn(ADD_IMM, 1, 0, 0, -8),
        insn(MOV_IMM, 2, 0, 0, 8),
        insn(MOV_IMM, 3, 0, 0, 0),
    ]
}

/// The BTF id of kernel function `name`, from the running kernel's BTF.
fn kernel_func(btf: Option<&crate::btf::Btf>, name: &str) -> u32 {
    btf.and_then(|b| b.func_proto(name)).map_or(0, |p| p.func)
}

fn map_type(t: u32, key: u32, value: u32) -> bool {
    sys::map_create(t, key, value, 1).is_ok()
}

fn yes(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

/// The report, section by section as bpftrace 0.17 prints it.
pub fn report() -> String {
    let mut out = String::new();
    // SAFETY: uname fills the zeroed struct it is given.
    let uts = unsafe {
        let mut u: libc::utsname = std::mem::zeroed();
        libc::uname(&mut u);
        u
    };
    let field = |f: &[libc::c_char]| {
        let bytes: Vec<u8> = f
            .iter()
            .take_while(|&&c| c != 0)
            .map(|&c| c as u8)
            .collect();
        String::from_utf8_lossy(&bytes).into_owned()
    };
    let line = |out: &mut String, k: &str, v: &str| {
        let _ = writeln!(out, "  {k}: {v}");
    };
    out.push_str("System\n");
    line(
        &mut out,
        "OS",
        &format!(
            "{} {} {}",
            field(&uts.sysname),
            field(&uts.release),
            field(&uts.version)
        ),
    );
    line(&mut out, "Arch", &field(&uts.machine));

    out.push_str("\nBuild\n");
    line(
        &mut out,
        "version",
        &format!(
            "rtrace {} (bpftrace v0.17.0 language)",
            env!("CARGO_PKG_VERSION")
        ),
    );
    line(&mut out, "LLVM", "none (rtrace generates eBPF itself)");
    line(&mut out, "unsafe uprobe", "no");
    line(&mut out, "bfd", "no");
    line(&mut out, "libdw (DWARF support)", "no");

    let btf = crate::btf::Btf::open(Path::new("/sys/kernel/btf/vmlinux")).ok();
    let read = read_args();
    out.push_str("\nKernel helpers\n");
    for (name, id) in [
        ("probe_read", 4),
        ("probe_read_str", 45),
        ("probe_read_user", 112),
        ("probe_read_user_str", 114),
        ("probe_read_kernel", 113),
        ("probe_read_kernel_str", 115),
    ] {
        line(&mut out, name, yes(helper(id, &read)));
    }
    line(&mut out, "get_current_cgroup_id", yes(helper(80, &[])));
    line(
        &mut out,
        "send_signal",
        yes(helper(109, &[insn(MOV_IMM, 1, 0, 0, 0)])),
    );
    line(
        &mut out,
        "override_return",
        yes(helper(58, &[insn(MOV_IMM, 2, 0, 0, 0)])),
    );
    line(&mut out, "get_boot_ns", yes(helper(125, &[])));
    // d_path: an fentry program of vfs_truncate(const struct path *, ...), where the kernel
    // allows the helper.
    let dpath = {
        let id = kernel_func(btf.as_ref(), "vfs_truncate");
        let mut body = vec![insn(LDX_DW, 1, 1, 0, 0)];
        body.extend([
            insn(MOV_REG, 2, 10, 0, 0),
            insn(ADD_IMM, 2, 0, 0, -8),
            insn(MOV_IMM, 3, 0, 0, 8),
            insn(CALL, 0, 0, 0, 147),
        ]);
        id != 0 && loads(PROG_TRACING, ATTACH_TRACE_FENTRY, id, &body)
    };
    line(&mut out, "dpath", yes(dpath));

    out.push_str("\nKernel features\n");
    let (major, minor) = (
        sys::kernel_version() >> 16,
        (sys::kernel_version() >> 8) & 0xff,
    );
    let big = (major, minor) >= (5, 2);
    line(
        &mut out,
        "Instruction limit",
        if big { "1000000" } else { "4096" },
    );
    // A bounded loop: a back edge the verifier follows to its end.
    let looped = loads(
        PROG_KPROBE,
        0,
        0,
        &[
            insn(MOV_IMM, 0, 0, 0, 0),
            insn(ADD_IMM, 0, 0, 0, 1),
            insn(JLT_IMM, 0, 0, -2, 4),
        ],
    );
    line(&mut out, "Loop support", yes(looped));
    line(&mut out, "btf", yes(btf.is_some()));
    let batch = sys::map_create(1, 8, 8, 1)
        .map(|fd| {
            use std::os::fd::AsRawFd;
            sys::map_batch_supported(fd.as_raw_fd(), 8, 8)
        })
        .unwrap_or(false);
    line(&mut out, "map batch", yes(batch));
    line(
        &mut out,
        "uprobe refcount",
        yes(Path::new("/sys/bus/event_source/devices/uprobe/format/ref_ctr_offset").exists()),
    );

    out.push_str("\nMap types\n");
    for (name, t, key, value) in [
        ("hash", 1, 8, 8),
        ("percpu hash", 5, 8, 8),
        ("array", 2, 4, 8),
        ("percpu array", 6, 4, 8),
        ("stack_trace", 7, 4, 8 * 127),
        ("perf_event_array", 4, 4, 4),
    ] {
        line(&mut out, name, yes(map_type(t, key, value)));
    }
    // rtrace's events go through a ring buffer (bpftrace 0.17 does not list it).
    line(
        &mut out,
        "ringbuf",
        yes(sys::map_create(27, 0, 0, 4096).is_ok()),
    );

    out.push_str("\nProbe types\n");
    line(&mut out, "kprobe", yes(loads(PROG_KPROBE, 0, 0, &[])));
    line(
        &mut out,
        "tracepoint",
        yes(loads(PROG_TRACEPOINT, 0, 0, &[])),
    );
    line(
        &mut out,
        "perf_event",
        yes(loads(PROG_PERF_EVENT, 0, 0, &[])),
    );
    let fentry = kernel_func(btf.as_ref(), "vfs_read");
    line(
        &mut out,
        "kfunc",
        yes(fentry != 0 && loads(PROG_TRACING, ATTACH_TRACE_FENTRY, fentry, &[])),
    );
    for (name, func) in [
        ("iter:task", "bpf_iter_task"),
        ("iter:task_file", "bpf_iter_task_file"),
    ] {
        let id = kernel_func(btf.as_ref(), func);
        line(
            &mut out,
            name,
            yes(id != 0 && loads(PROG_TRACING, ATTACH_TRACE_ITER, id, &[])),
        );
    }
    line(
        &mut out,
        "raw_tp_special",
        yes(loads(PROG_RAW_TRACEPOINT, 0, 0, &[])),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instructions_encode_as_the_kernel_reads_them() {
        assert_eq!(insn(EXIT, 0, 0, 0, 0), [0x95, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(
            insn(ADD_IMM, 1, 0, 0, -8),
            [0x07, 0x01, 0, 0, 0xf8, 0xff, 0xff, 0xff]
        );
        assert_eq!(insn(MOV_REG, 1, 10, 0, 0)[1], 0xa1);
        assert_eq!(insn(JLT_IMM, 0, 0, -2, 4)[2..4], [0xfe, 0xff]);
        assert_eq!(program(&[]).len(), 16);
    }
}
