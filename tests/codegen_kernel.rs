//! Kernel tests of the codegen backend: hand-built IR is compiled, loaded as a raw_tracepoint
//! program with bpf(BPF_PROG_LOAD) and run with BPF_PROG_TEST_RUN; r0 is checked. Needs root.

use rtrace::codegen::ir::*;
use rtrace::codegen::{compile, disassemble, Encoded, RelocKind};
use rtrace::source::Span;

const BPF_MAP_CREATE: i64 = 0;
const BPF_MAP_LOOKUP_ELEM: i64 = 1;
const BPF_PROG_LOAD: i64 = 5;
const BPF_PROG_TEST_RUN: i64 = 10;
const BPF_PROG_TYPE_RAW_TRACEPOINT: u32 = 17;
const BPF_MAP_TYPE_ARRAY: u32 = 2;

/// A file descriptor closed on drop.
struct Fd(i32);

impl Drop for Fd {
    fn drop(&mut self) {
        unsafe { libc::close(self.0) };
    }
}

fn bpf<T>(cmd: i64, attr: &mut T) -> i64 {
    unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr as *mut T as *mut libc::c_void,
            std::mem::size_of::<T>() as u32,
        )
    }
}

#[repr(C)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
    rest: [u64; 12],
}

#[repr(C)]
struct TestRunAttr {
    prog_fd: u32,
    retval: u32,
    data_size_in: u32,
    data_size_out: u32,
    data_in: u64,
    data_out: u64,
    repeat: u32,
    duration: u32,
    ctx_size_in: u32,
    ctx_size_out: u32,
    ctx_in: u64,
    ctx_out: u64,
    flags: u32,
    cpu: u32,
    batch_size: u32,
    pad: u32,
}

#[repr(C)]
struct MapCreateAttr {
    map_type: u32,
    key_size: u32,
    value_size: u32,
    max_entries: u32,
    rest: [u64; 12],
}

#[repr(C)]
struct MapElemAttr {
    map_fd: u32,
    pad: u32,
    key: u64,
    value: u64,
    flags: u64,
}

/// Loads a compiled program; on failure, the error carries the verifier log and listing.
fn load(enc: &Encoded) -> Result<Fd, String> {
    let license = b"GPL\0";
    let bytes = enc.bytes();
    let mut log = vec![0u8; 1 << 20];
    let attempt = |log_level: u32, log: &mut Vec<u8>| {
        let mut attr = ProgLoadAttr {
            prog_type: BPF_PROG_TYPE_RAW_TRACEPOINT,
            insn_cnt: enc.insns.len() as u32,
            insns: bytes.as_ptr() as u64,
            license: license.as_ptr() as u64,
            log_level,
            log_size: if log_level > 0 { log.len() as u32 } else { 0 },
            log_buf: if log_level > 0 {
                log.as_mut_ptr() as u64
            } else {
                0
            },
            kern_version: 0,
            prog_flags: 0,
            prog_name: [0; 16],
            rest: [0; 12],
        };
        bpf(BPF_PROG_LOAD, &mut attr)
    };
    let fd = attempt(0, &mut log);
    if fd >= 0 {
        return Ok(Fd(fd as i32));
    }
    let err = std::io::Error::last_os_error();
    let fd = attempt(1, &mut log);
    if fd >= 0 {
        // Loads with a log but not without one: keep the program, it is what we asked for.
        return Ok(Fd(fd as i32));
    }
    let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
    Err(format!(
        "BPF_PROG_LOAD failed: {err}\n--- verifier log ---\n{}\n--- program ---\n{}",
        String::from_utf8_lossy(&log[..end]),
        disassemble(&enc.insns).join("\n")
    ))
}

/// Runs the program once on a raw-tracepoint context of eight u64 arguments; returns r0 (the
/// kernel reports its low 32 bits).
fn run(fd: &Fd, args: [u64; 8]) -> u32 {
    let mut attr = TestRunAttr {
        prog_fd: fd.0 as u32,
        retval: 0,
        data_size_in: 0,
        data_size_out: 0,
        data_in: 0,
        data_out: 0,
        repeat: 0,
        duration: 0,
        ctx_size_in: std::mem::size_of_val(&args) as u32,
        ctx_size_out: 0,
        ctx_in: args.as_ptr() as u64,
        ctx_out: 0,
        flags: 0,
        cpu: 0,
        batch_size: 0,
        pad: 0,
    };
    let r = bpf(BPF_PROG_TEST_RUN, &mut attr);
    assert_eq!(
        r,
        0,
        "BPF_PROG_TEST_RUN: {}",
        std::io::Error::last_os_error()
    );
    attr.retval
}

/// Builds IR by hand: fresh vregs and labels, and the instructions in order.
struct Builder {
    f: Function,
}

impl Builder {
    fn new(name: &str) -> Builder {
        let mut f = Function {
            name: name.into(),
            ..Function::default()
        };
        f.ctx = VReg(0);
        f.nregs = 1;
        Builder { f }
    }
    fn v(&mut self) -> VReg {
        self.f.nregs += 1;
        VReg(self.f.nregs - 1)
    }
    fn label(&mut self) -> Label {
        self.f.nlabels += 1;
        Label(self.f.nlabels - 1)
    }
    fn slot(&mut self, size: u32, at: usize) -> SlotId {
        self.f.slots.push(SlotInfo {
            size,
            align: 8,
            span: Span::new(at, at + 1),
        });
        SlotId(self.f.slots.len() as u32 - 1)
    }
    fn push(&mut self, inst: Inst) {
        self.f.insts.push(SpannedInst {
            inst,
            span: Span::default(),
        });
    }
    /// A fresh vreg holding ctx argument `k`.
    fn arg(&mut self, k: i16) -> VReg {
        let dst = self.v();
        let ctx = self.f.ctx;
        self.push(Inst::Load {
            dst,
            base: Base::Reg(ctx),
            off: 8 * k,
            size: Size::DW,
        });
        dst
    }
    fn alu(&mut self, op: AluOp, dst: VReg, src: Operand) {
        self.push(Inst::Alu64 { op, dst, src });
    }
    fn mov(&mut self, src: Operand) -> VReg {
        let dst = self.v();
        self.push(Inst::Mov { dst, src });
        dst
    }
    fn exit(&mut self, ret: Operand) {
        self.push(Inst::Exit { ret });
    }
    fn compile(&self) -> Encoded {
        compile(&self.f).unwrap_or_else(|d| panic!("{d:?}"))
    }
    fn load(&self) -> Fd {
        load(&self.compile()).unwrap_or_else(|e| panic!("{e}"))
    }
}

use Operand::{Imm, Reg};

/// Applies the map relocations as the runtime does: the fd goes into the `ld_imm64`'s
/// immediate (this test's programs use one map).
fn with_map_fd(enc: &mut Encoded, fd: i32) {
    assert!(!enc.relocations.is_empty(), "no map relocation");
    for r in &enc.relocations {
        assert!(matches!(r.kind, RelocKind::MapFd(_)), "{r:?}");
        enc.insns[r.insn][4..8].copy_from_slice(&fd.to_le_bytes());
    }
}

/// `r ^= r >> 32`, so the low 32 bits the kernel reports depend on all 64.
fn fold(b: &mut Builder, r: VReg) {
    let t = b.v();
    b.push(Inst::Mov {
        dst: t,
        src: Reg(r),
    });
    b.alu(AluOp::Rsh, t, Imm(32));
    b.alu(AluOp::Xor, r, Reg(t));
}

fn folded(r: u64) -> u32 {
    (r ^ (r >> 32)) as u32
}

#[test]
fn arithmetic() {
    let mut b = Builder::new("arith");
    let (x, y) = (b.arg(0), b.arg(1));
    let r = b.mov(Reg(x));
    b.alu(AluOp::Add, r, Reg(y)); // x + y
    b.alu(AluOp::Mul, r, Imm(-3)); // * -3
    let q = b.mov(Reg(x));
    b.alu(AluOp::Div, q, Reg(y));
    b.alu(AluOp::Sub, r, Reg(q)); // - x / y
    let m = b.mov(Reg(x));
    b.alu(AluOp::Mod, m, Imm(7));
    b.alu(AluOp::Lsh, m, Imm(40));
    b.alu(AluOp::Xor, r, Reg(m)); // ^ (x % 7) << 40
    b.push(Inst::Neg { dst: r });
    b.alu(AluOp::Arsh, r, Imm(3)); // (-r) s>> 3
    let w = b.mov(Reg(y));
    b.push(Inst::Alu32 {
        op: AluOp::Add,
        dst: w,
        src: Imm(-1),
    }); // (u32)(y - 1)
    b.push(Inst::Alu32 {
        op: AluOp::Or,
        dst: w,
        src: Reg(x),
    });
    b.alu(AluOp::Add, r, Reg(w));
    b.alu(AluOp::And, r, Imm(-2));
    fold(&mut b, r);
    b.exit(Reg(r));
    let fd = b.load();
    for (x, y) in [
        (10u64, 3u64),
        (0, 1),
        (u64::MAX, 7),
        (1 << 40, 12345),
        (99, 1 << 33),
    ] {
        let mut r = x.wrapping_add(y).wrapping_mul(-3i64 as u64);
        r = r.wrapping_sub(x / y);
        r ^= (x % 7) << 40;
        r = ((r.wrapping_neg() as i64) >> 3) as u64;
        let w = u64::from((y as u32).wrapping_sub(1) | x as u32);
        r = r.wrapping_add(w) & !1;
        assert_eq!(run(&fd, [x, y, 0, 0, 0, 0, 0, 0]), folded(r), "x={x} y={y}");
    }
}

#[test]
fn wide_immediates() {
    let mut b = Builder::new("imm64");
    let x = b.arg(0);
    let c = b.v();
    b.push(Inst::LdImm64 {
        dst: c,
        imm: 0x1234_5678_9abc_def0,
    });
    let neg = b.v();
    b.push(Inst::LdImm64 {
        dst: neg,
        imm: -0x7_0000_0001,
    });
    let same = b.label();
    b.push(Inst::JmpIf {
        cond: Cond::Eq,
        a: x,
        b: Reg(c),
        target: same,
    });
    b.alu(AluOp::Add, c, Reg(neg));
    b.alu(AluOp::Rsh, c, Imm(32));
    b.exit(Reg(c));
    b.push(Inst::Label(same));
    b.exit(Imm(1));
    let fd = b.load();
    assert_eq!(run(&fd, [0x1234_5678_9abc_def0, 0, 0, 0, 0, 0, 0, 0]), 1);
    // Only the high halves differ: the jump must compare all 64 bits.
    assert_eq!(run(&fd, [0x9abc_def0, 0, 0, 0, 0, 0, 0, 0]), 0x1234_5671);
}

#[test]
fn signed_and_unsigned_compares() {
    const CONDS: [Cond; 11] = Cond::ALL;
    let mut b = Builder::new("cmp");
    let (x, y) = (b.arg(0), b.arg(1));
    let bits = b.mov(Imm(0));
    for (k, &cond) in CONDS.iter().enumerate() {
        for (shift, rhs) in [(0, Reg(y)), (11, Imm(-5))] {
            let (set, next) = (b.label(), b.label());
            b.push(Inst::JmpIf {
                cond,
                a: x,
                b: rhs,
                target: set,
            });
            b.push(Inst::Jmp { target: next });
            b.push(Inst::Label(set));
            b.alu(AluOp::Or, bits, Imm(1 << (k + shift)));
            b.push(Inst::Label(next));
        }
    }
    b.exit(Reg(bits));
    let fd = b.load();
    let holds = |c: Cond, a: u64, b: u64| match c {
        Cond::Eq => a == b,
        Cond::Ne => a != b,
        Cond::Gt => a > b,
        Cond::Ge => a >= b,
        Cond::Lt => a < b,
        Cond::Le => a <= b,
        Cond::Sgt => (a as i64) > (b as i64),
        Cond::Sge => (a as i64) >= (b as i64),
        Cond::Slt => (a as i64) < (b as i64),
        Cond::Sle => (a as i64) <= (b as i64),
        Cond::Set => a & b != 0,
    };
    let m5 = -5i64 as u64;
    for (x, y) in [
        (1u64, u64::MAX),
        (u64::MAX, 1),
        (5, 5),
        (m5, 0),
        (1 << 63, 3),
        (2, 6),
    ] {
        let mut want = 0u32;
        for (k, &c) in CONDS.iter().enumerate() {
            want |= u32::from(holds(c, x, y)) << k;
            want |= u32::from(holds(c, x, m5)) << (k + 11);
        }
        assert_eq!(
            run(&fd, [x, y, 0, 0, 0, 0, 0, 0]),
            want,
            "x={x:#x} y={y:#x}"
        );
    }
}

#[test]
fn bounded_loop() {
    // n = min(arg0, 50); s = 0; i = 0; while i < n { s += i * i + k; i++ }; return s + n * k
    let mut b = Builder::new("loop");
    let n = b.arg(0);
    let k = b.arg(1);
    let (clamp_done, head, done) = (b.label(), b.label(), b.label());
    b.push(Inst::JmpIf {
        cond: Cond::Le,
        a: n,
        b: Imm(50),
        target: clamp_done,
    });
    b.push(Inst::Mov {
        dst: n,
        src: Imm(50),
    });
    b.push(Inst::Label(clamp_done));
    let s = b.mov(Imm(0));
    let i = b.mov(Imm(0));
    b.push(Inst::Label(head));
    b.push(Inst::JmpIf {
        cond: Cond::Ge,
        a: i,
        b: Reg(n),
        target: done,
    });
    let t = b.mov(Reg(i));
    b.alu(AluOp::Mul, t, Reg(i));
    b.alu(AluOp::Add, s, Reg(t));
    b.alu(AluOp::Add, s, Reg(k));
    b.alu(AluOp::Add, i, Imm(1));
    b.push(Inst::Jmp { target: head });
    b.push(Inst::Label(done));
    b.alu(AluOp::Mul, n, Reg(k));
    b.alu(AluOp::Add, s, Reg(n));
    b.exit(Reg(s));
    let fd = b.load();
    for (n, k) in [(0u64, 5u64), (1, 5), (10, 1000), (50, 3), (1000, 2)] {
        let m = n.min(50);
        let want: u64 = (0..m).map(|i| i * i + k).sum::<u64>() + m * k;
        assert_eq!(u64::from(run(&fd, [n, k, 0, 0, 0, 0, 0, 0])), want, "n={n}");
    }
}

#[test]
fn forty_live_values_spill() {
    let mut b = Builder::new("spill");
    let args: Vec<VReg> = (0..4).map(|k| b.arg(k)).collect();
    let mut vals = Vec::new();
    for k in 0..40 {
        let v = b.mov(Reg(args[k % 4]));
        b.alu(AluOp::Mul, v, Imm(k as i32 + 1));
        b.alu(AluOp::Add, v, Imm(k as i32));
        vals.push(v);
    }
    let acc = b.mov(Imm(1));
    for (k, &v) in vals.iter().enumerate().rev() {
        b.alu(
            if k % 2 == 0 { AluOp::Mul } else { AluOp::Xor },
            acc,
            Reg(v),
        );
        b.alu(AluOp::Add, acc, Imm(1));
    }
    fold(&mut b, acc);
    b.exit(Reg(acc));
    let enc = b.compile();
    let text = disassemble(&enc.insns);
    assert!(
        text.iter().any(|l| l.starts_with("*(u64 *)(r10 -")),
        "40 live values but no spill:\n{}",
        text.join("\n")
    );
    let fd = load(&enc).unwrap_or_else(|e| panic!("{e}"));
    let input = [3u64, 1 << 35, u64::MAX - 9, 77, 0, 0, 0, 0];
    let vals: Vec<u64> = (0..40u64)
        .map(|k| input[(k % 4) as usize].wrapping_mul(k + 1).wrapping_add(k))
        .collect();
    let mut acc = 1u64;
    for (k, v) in vals.iter().enumerate().rev() {
        acc = if k % 2 == 0 {
            acc.wrapping_mul(*v)
        } else {
            acc ^ v
        };
        acc = acc.wrapping_add(1);
    }
    assert_eq!(run(&fd, input), folded(acc));
}

#[test]
fn values_survive_helper_calls() {
    let mut b = Builder::new("calls");
    let vals: Vec<VReg> = (0..6).map(|k| b.arg(k)).collect();
    let (t1, pid, t2) = (b.v(), b.v(), b.v());
    let call = |helper, ret| Inst::Call {
        helper,
        args: vec![],
        ret: Some(ret),
    };
    b.push(call(helper::KTIME_GET_NS, t1));
    b.push(call(helper::GET_CURRENT_PID_TGID, pid));
    b.push(call(helper::KTIME_GET_NS, t2));
    let ok = b.label();
    b.push(Inst::JmpIf {
        cond: Cond::Ge,
        a: t2,
        b: Reg(t1),
        target: ok,
    });
    b.exit(Imm(0xdead));
    b.push(Inst::Label(ok));
    b.push(Inst::Alu32 {
        op: AluOp::Add,
        dst: pid,
        src: Imm(0),
    }); // low 32 bits: the tid
    for (k, &v) in vals.iter().enumerate() {
        b.alu(AluOp::Mul, v, Imm(k as i32 + 1));
        b.alu(AluOp::Add, pid, Reg(v));
    }
    b.exit(Reg(pid));
    let fd = b.load();
    let input = [1u64, 20, 300, 4000, 50000, 600000, 0, 0];
    let sum: u64 = input[..6]
        .iter()
        .enumerate()
        .map(|(k, v)| v * (k as u64 + 1))
        .sum();
    let tid = unsafe { libc::gettid() } as u64;
    assert_eq!(u64::from(run(&fd, input)), tid + sum);
}

#[test]
fn stack_slots_store_and_load() {
    let mut b = Builder::new("slots");
    let (x, y) = (b.arg(0), b.arg(1));
    let s0 = b.slot(16, 0);
    let s1 = b.slot(3, 1);
    let st = |base, off, src, size| Inst::Store {
        base,
        off,
        src,
        size,
    };
    b.push(st(Base::Slot(s0), 0, Reg(x), Size::DW));
    b.push(st(Base::Slot(s0), 8, Imm(-2), Size::W));
    b.push(st(Base::Slot(s0), 12, Imm(0), Size::W));
    b.push(st(Base::Slot(s0), 12, Reg(y), Size::H));
    b.push(st(Base::Slot(s1), 0, Imm(0x7f), Size::B));
    // Read through a pointer into the slot as well as by slot.
    let p = b.v();
    b.push(Inst::StackAddr {
        dst: p,
        slot: s0,
        off: 8,
    });
    let (a, w, c, d) = (b.v(), b.v(), b.v(), b.v());
    b.push(Inst::Load {
        dst: a,
        base: Base::Reg(p),
        off: -8,
        size: Size::DW,
    }); // x
    b.push(Inst::Load {
        dst: w,
        base: Base::Reg(p),
        off: 0,
        size: Size::W,
    }); // -2 as u32
    b.push(Inst::Load {
        dst: c,
        base: Base::Slot(s0),
        off: 12,
        size: Size::W,
    }); // (u16)y
    b.push(Inst::Load {
        dst: d,
        base: Base::Slot(s1),
        off: 0,
        size: Size::B,
    }); // 0x7f
    b.push(Inst::AtomicAdd {
        base: Base::Reg(p),
        off: 4,
        src: d,
        size: Size::W,
    });
    let e = b.v();
    b.push(Inst::Load {
        dst: e,
        base: Base::Slot(s0),
        off: 12,
        size: Size::W,
    });
    b.alu(AluOp::Xor, a, Reg(w));
    b.alu(AluOp::Mul, a, Reg(c));
    b.alu(AluOp::Add, a, Reg(e));
    fold(&mut b, a);
    b.exit(Reg(a));
    let fd = b.load();
    for (x, y) in [(0x1122_3344_5566_7788u64, 0x1_abcdu64), (0, 0xffff_ffff)] {
        let c = y & 0xffff;
        let want = (x ^ 0xffff_fffe).wrapping_mul(c).wrapping_add(c + 0x7f);
        assert_eq!(run(&fd, [x, y, 0, 0, 0, 0, 0, 0]), folded(want), "x={x:#x}");
    }
}

#[test]
fn map_lookup_with_pointer_live_across_calls() {
    let mut attr = MapCreateAttr {
        map_type: BPF_MAP_TYPE_ARRAY,
        key_size: 4,
        value_size: 8,
        max_entries: 4,
        rest: [0; 12],
    };
    let map = bpf(BPF_MAP_CREATE, &mut attr);
    assert!(
        map >= 0,
        "BPF_MAP_CREATE: {}",
        std::io::Error::last_os_error()
    );
    let map = Fd(map as i32);

    let mut b = Builder::new("map");
    let x = b.arg(0);
    // Six more values live across both calls: with four callee-saved registers, something
    // (often the map value pointer) lives on the stack.
    let extra: Vec<VReg> = (1..7).map(|k| b.arg(k)).collect();
    let key = b.slot(4, 0);
    b.push(Inst::Store {
        base: Base::Slot(key),
        off: 0,
        src: Imm(2),
        size: Size::W,
    });
    let (m, kp, val) = (b.v(), b.v(), b.v());
    b.push(Inst::LdMapFd {
        dst: m,
        map: MapId(0),
    });
    b.push(Inst::StackAddr {
        dst: kp,
        slot: key,
        off: 0,
    });
    let lookup = Inst::Call {
        helper: helper::MAP_LOOKUP_ELEM,
        args: vec![Reg(m), Reg(kp)],
        ret: Some(val),
    };
    b.push(lookup.clone());
    let found = b.label();
    b.push(Inst::JmpIf {
        cond: Cond::Ne,
        a: val,
        b: Imm(0),
        target: found,
    });
    b.exit(Imm(0xbad));
    b.push(Inst::Label(found));
    let t = b.v();
    b.push(Inst::Call {
        helper: helper::KTIME_GET_NS,
        args: vec![],
        ret: Some(t),
    });
    let acc = b.mov(Imm(0));
    for &e in &extra {
        b.alu(AluOp::Mul, acc, Imm(3));
        b.alu(AluOp::Add, acc, Reg(e));
    }
    // The map value pointer is used last, so it is the value the allocator puts on the stack.
    b.push(Inst::AtomicAdd {
        base: Base::Reg(val),
        off: 0,
        src: x,
        size: Size::DW,
    });
    let out = b.v();
    b.push(Inst::Load {
        dst: out,
        base: Base::Reg(val),
        off: 0,
        size: Size::DW,
    });
    b.alu(AluOp::Lsh, out, Imm(16));
    b.alu(AluOp::Add, out, Reg(acc));
    b.exit(Reg(out));
    let mut enc = compile(&b.f).unwrap_or_else(|d| panic!("{d:?}"));
    with_map_fd(&mut enc, map.0);
    let text = disassemble(&enc.insns).join("\n");
    let val_reload = text.lines().any(|l| l.starts_with("r5 = *(u64 *)(r10 -"))
        && text.contains("lock *(u64 *)(r5 +0)");
    assert!(val_reload, "the map value pointer is not spilled:\n{text}");
    let fd = load(&enc).unwrap_or_else(|e| panic!("{e}"));
    let with = |stored: u64| {
        let acc = [1u64, 2, 3, 4, 5, 6].iter().fold(0, |acc, e| acc * 3 + e);
        ((stored << 16) + acc) as u32
    };
    assert_eq!(run(&fd, [5, 1, 2, 3, 4, 5, 6, 0]), with(5));
    assert_eq!(run(&fd, [7, 1, 2, 3, 4, 5, 6, 0]), with(12));

    let (k, mut v) = (2u32, 0u64);
    let mut attr = MapElemAttr {
        map_fd: map.0 as u32,
        pad: 0,
        key: &k as *const u32 as u64,
        value: &mut v as *mut u64 as u64,
        flags: 0,
    };
    assert_eq!(bpf(BPF_MAP_LOOKUP_ELEM, &mut attr), 0);
    assert_eq!(v, 12);
}

#[test]
fn more_than_512_bytes_of_stack_is_a_diagnostic() {
    let mut b = Builder::new("big");
    let s0 = b.slot(296, 10);
    let s1 = b.slot(200, 20);
    let s2 = b.slot(64, 30);
    for s in [s0, s1, s2] {
        b.push(Inst::Store {
            base: Base::Slot(s),
            off: 0,
            src: Imm(0),
            size: Size::DW,
        });
    }
    b.exit(Imm(0));
    let err = compile(&b.f).unwrap_err();
    assert_eq!(
        err.message,
        "this program needs 560 bytes of stack; the kernel allows 512"
    );
    assert_eq!(err.span, Some(Span::new(30, 31)));
    assert!(!err.notes.is_empty());

    // One slot less fits, and the kernel agrees.
    b.f.slots.pop();
    b.f.insts.remove(2);
    let fd = b.load();
    assert_eq!(run(&fd, [0; 8]), 0);
}
