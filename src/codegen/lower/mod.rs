//! Lowering the checked program to IR: one `ir::Function` per probe. Fed by `sema::Checked`.

mod call;
mod expr;
mod mem;
mod watch;

pub use watch::{watch_setup, RECORD_SIZE as WATCH_RECORD_SIZE};

use super::ir::*;
use crate::sema::typed::*;
use crate::sema::types::Type;
use crate::source::Span;

/// Lowers every probe of a checked program. Run-time constants (`cpid`, the start time of
/// `elapsed`) stay symbolic (`Inst::LdConst`): the loader patches them.
/// Lowers every probe. `helper_check` is `-k`'s level: 1 reports failures of helpers whose
/// failure leaves no zero to see (map updates and deletes, get_current_comm, send_signal,
/// get_stackid), 2 also of memory reads and of map lookups that find nothing, as bpftrace
/// 0.17 does.
pub fn lower(checked: &Checked, helper_check: u8) -> Vec<Function> {
    checked
        .probes
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let mut l = Lowerer::new(checked, p, i);
            l.helper_check = helper_check;
            l.run(p)
        })
        .collect()
}

/// Where a scratch variable lives.
#[derive(Clone, Copy, Debug)]
enum VarHome {
    Reg(VReg),
    Slot(SlotId, u32),
}

pub(super) struct Lowerer<'a> {
    checked: &'a Checked,
    f: Function,
    span: Span,
    vars: Vec<VarHome>,
    /// The type of each scratch variable (its storage layout).
    var_types: Vec<Type>,
    /// (continue target, break target) of the enclosing loops.
    loops: Vec<(Label, Label)>,
    /// Jump here to end the program.
    end: Label,
    /// Temporary slots free for reuse: (slot, size).
    free_slots: Vec<(SlotId, u32)>,
    /// Temporary slots taken since the current statement began.
    taken_slots: Vec<(SlotId, u32)>,
    /// `-k` level (see `lower`).
    helper_check: u8,
    /// Where `-k` reports a failure when not at `span` (a map function's call).
    report_span: Option<Span>,
    /// The probe gives pointers no address space (BEGIN, END, interval, profile, software,
    /// raw tracepoints): kernel-side reads use `bpf_probe_read`, which reads user or kernel
    /// memory by the address, as bpftrace reads pointers of no address space.
    no_addr_space: bool,
}

impl<'a> Lowerer<'a> {
    fn new(checked: &'a Checked, p: &CheckedProbe, index: usize) -> Self {
        let mut f = Function {
            name: program_name(index, &p.attach_text),
            ..Function::default()
        };
        f.ctx = VReg(0);
        f.nregs = 1;
        Lowerer {
            checked,
            f,
            span: p.span,
            vars: Vec::new(),
            var_types: p.var_types.clone(),
            loops: Vec::new(),
            end: Label(0),
            free_slots: Vec::new(),
            taken_slots: Vec::new(),
            helper_check: 0,
            report_span: None,
            no_addr_space: matches!(
                p.attach,
                crate::probes::Attach::Begin
                    | crate::probes::Attach::End
                    | crate::probes::Attach::Interval { .. }
                    | crate::probes::Attach::Profile { .. }
                    | crate::probes::Attach::Software { .. }
                    | crate::probes::Attach::Hardware { .. }
                    | crate::probes::Attach::RawTracepoint { .. }
                    | crate::probes::Attach::Watchpoint { .. }
            ),
        }
    }

    fn run(mut self, p: &CheckedProbe) -> Function {
        self.end = self.label();
        if matches!(p.attach, crate::probes::Attach::Iter { .. }) {
            self.iter_marker();
        }
        for ty in &p.var_types {
            // Integers and pointers live in registers; everything else in memory.
            let home = match ty {
                _ if !ty.is_int() => {
                    let size = ty.layout_size();
                    let slot = self.slot_permanent(size);
                    self.zero(Base::Slot(slot), 0, size);
                    VarHome::Slot(slot, size)
                }
                _ => {
                    let r = self.reg();
                    self.emit(Inst::Mov {
                        dst: r,
                        src: Operand::Imm(0),
                    });
                    VarHome::Reg(r)
                }
            };
            self.vars.push(home);
        }
        if let Some(pred) = &p.predicate {
            self.span = pred.span;
            let end = self.end;
            self.cond_jump(pred, end, false);
            self.release_temps();
        }
        self.stmts(&p.body);
        self.place_label(self.end);
        self.emit(Inst::Exit {
            ret: Operand::Imm(0),
        });
        self.f
    }

    /// An iterator program writes one byte to the kernel's sequence file each time it runs
    /// (`bpf_seq_write(ctx->meta->seq, "\0", 1)`): a read of the iterator then returns after
    /// as many objects as it asked bytes for, so the runtime handles the ring buffer between
    /// small batches instead of after every object at once (which would overflow it). The
    /// bytes are markers, never printed.
    fn iter_marker(&mut self) {
        let meta = self.load(Base::Reg(self.f.ctx), 0, Size::DW);
        let seq = self.load(Base::Reg(meta), 0, Size::DW);
        let slot = self.slot(8);
        self.zero(Base::Slot(slot), 0, 8);
        let byte = self.addr(Base::Slot(slot), 0);
        self.emit(Inst::Call {
            helper: helper::SEQ_WRITE,
            args: vec![Operand::Reg(seq), Operand::Reg(byte), Operand::Imm(1)],
            ret: None,
        });
    }

    // ---- building blocks ----

    pub(super) fn emit(&mut self, inst: Inst) {
        self.f.insts.push(SpannedInst {
            inst,
            span: self.span,
        });
    }

    pub(super) fn reg(&mut self) -> VReg {
        let r = VReg(self.f.nregs);
        self.f.nregs += 1;
        r
    }

    pub(super) fn label(&mut self) -> Label {
        let l = Label(self.f.nlabels);
        self.f.nlabels += 1;
        l
    }

    pub(super) fn place_label(&mut self, l: Label) {
        self.emit(Inst::Label(l));
    }

    /// A slot that lives for the whole program (variables).
    fn slot_permanent(&mut self, size: u32) -> SlotId {
        let id = SlotId(self.f.slots.len() as u32);
        self.f.slots.push(SlotInfo {
            size: size.div_ceil(8) * 8,
            align: 8,
            span: self.span,
        });
        id
    }

    /// A slot for the current statement; reused by later statements. A free slot of the same
    /// size is taken first; else one at most twice as large; else the largest smaller one,
    /// grown to `size`. So temporaries of different statements share the stack (as LLVM's
    /// stack colouring makes bpftrace's allocas do) without one slot per distinct size ever
    /// used, and a small temporary never takes a large slot another one will need.
    pub(super) fn slot(&mut self, size: u32) -> SlotId {
        let size = size.div_ceil(8).max(1) * 8;
        let free = |i: usize| self.free_slots[i].1;
        let n = self.free_slots.len();
        let pick = (0..n)
            .find(|&i| free(i) == size)
            .or_else(|| {
                (0..n)
                    .filter(|&i| free(i) > size && free(i) <= 2 * size)
                    .min_by_key(|&i| free(i))
            })
            .or_else(|| (0..n).filter(|&i| free(i) < size).max_by_key(|&i| free(i)));
        if let Some(i) = pick {
            let (id, s) = self.free_slots.swap_remove(i);
            let s = s.max(size);
            let info = &mut self.f.slots[id.0 as usize];
            info.size = info.size.max(s);
            self.taken_slots.push((id, s));
            return id;
        }
        let id = self.slot_permanent(size);
        self.taken_slots.push((id, size));
        id
    }

    fn release_temps(&mut self) {
        let taken = std::mem::take(&mut self.taken_slots);
        self.free_slots.extend(taken);
    }

    pub(super) fn mov_imm(&mut self, dst: VReg, v: i64) {
        if let Ok(i) = i32::try_from(v) {
            self.emit(Inst::Mov {
                dst,
                src: Operand::Imm(i),
            });
        } else {
            self.emit(Inst::LdImm64 { dst, imm: v });
        }
    }

    /// `*(size *)(base + off)` in a fresh register.
    pub(super) fn load(&mut self, base: Base, off: i16, size: Size) -> VReg {
        let dst = self.reg();
        self.emit(Inst::Load {
            dst,
            base,
            off,
            size,
        });
        dst
    }

    pub(super) fn stack_addr(&mut self, slot: SlotId, off: i32) -> VReg {
        let r = self.reg();
        self.emit(Inst::StackAddr { dst: r, slot, off });
        r
    }

    pub(super) fn map_fd(&mut self, map: MapIdx) -> VReg {
        let r = self.reg();
        self.emit(Inst::LdMapFd {
            dst: r,
            map: MapId(map),
        });
        r
    }

    pub(super) fn call(&mut self, helper: u32, args: Vec<Operand>) -> VReg {
        let r = self.reg();
        self.emit(Inst::Call {
            helper,
            args,
            ret: Some(r),
        });
        if self.checks(helper) {
            self.check_helper(helper, r);
        }
        r
    }

    /// A helper call whose result is not used (but for `-k`'s check).
    pub(super) fn call_void(&mut self, helper: u32, args: Vec<Operand>) {
        if self.checks(helper) {
            self.call(helper, args);
            return;
        }
        self.emit(Inst::Call {
            helper,
            args,
            ret: None,
        });
    }

    /// Whether `-k`'s level reports failures of `helper` (a negative return).
    fn checks(&self, helper: u32) -> bool {
        use crate::codegen::ir::helper::*;
        match helper {
            MAP_UPDATE_ELEM | MAP_DELETE_ELEM | GET_CURRENT_COMM | SEND_SIGNAL | GET_STACKID => {
                self.helper_check >= 1
            }
            PROBE_READ
            | PROBE_READ_STR
            | PROBE_READ_USER
            | PROBE_READ_KERNEL
            | PROBE_READ_USER_STR
            | PROBE_READ_KERNEL_STR => self.helper_check >= 2,
            _ => false,
        }
    }

    /// Sends a `HELPER_ERROR` record when `ret`, as a C int, is negative.
    fn check_helper(&mut self, helper: u32, ret: VReg) {
        let code = self.reg();
        self.emit(Inst::Mov {
            dst: code,
            src: Operand::Reg(ret),
        });
        for op in [AluOp::Lsh, AluOp::Arsh] {
            self.emit(Inst::Alu64 {
                op,
                dst: code,
                src: Operand::Imm(32),
            });
        }
        let ok = self.label();
        self.jmp_if(Cond::Sge, code, Operand::Imm(0), ok);
        self.helper_error(helper, Operand::Reg(code));
        self.place_label(ok);
    }

    /// Sends a `HELPER_ERROR` record of `helper` with return code `code` for the current span.
    pub(super) fn helper_error(&mut self, helper: u32, code: Operand) {
        let span = self.report_span.unwrap_or(self.span);
        let rec = self.slot(event::HELPER_ERROR_SIZE);
        self.header(rec, event::HELPER_ERROR, helper);
        self.emit(Inst::Store {
            base: Base::Slot(rec),
            off: 8,
            src: code,
            size: Size::DW,
        });
        for (off, v) in [(16i16, span.start), (20, span.end)] {
            self.emit(Inst::Store {
                base: Base::Slot(rec),
                off,
                src: Operand::Imm(v as i32),
                size: Size::W,
            });
        }
        self.output(rec, event::HELPER_ERROR_SIZE);
    }

    pub(super) fn jmp_if(&mut self, cond: Cond, a: VReg, b: Operand, target: Label) {
        self.emit(Inst::JmpIf { cond, a, b, target });
    }

    pub(super) fn jmp(&mut self, target: Label) {
        self.emit(Inst::Jmp { target });
    }

    // ---- statements ----

    fn stmts(&mut self, stmts: &[TStmt]) {
        for s in stmts {
            self.span = s.span;
            self.stmt(s);
            self.release_temps();
        }
    }

    fn stmt(&mut self, s: &TStmt) {
        match &s.kind {
            TStmtKind::Expr(e) => {
                if e.ty == Type::Void {
                    self.call_stmt(e);
                } else if e.ty.is_int() {
                    self.int(e);
                } else if !matches!(e.ty, Type::Void) {
                    let slot = self.slot(e.ty.layout_size());
                    self.mem_into(e, Base::Slot(slot), 0, e.ty.layout_size());
                }
            }
            TStmtKind::AssignVar { var, value } => match self.vars[*var as usize] {
                VarHome::Reg(r) => {
                    let v = self.int(value);
                    self.emit(Inst::Mov {
                        dst: r,
                        src: Operand::Reg(v),
                    });
                }
                VarHome::Slot(slot, size) => {
                    let ty = self.var_types[*var as usize].clone();
                    if self.writes_self(value, *var) {
                        let tmp = self.slot(size);
                        self.mem_as(value, &ty, Base::Slot(tmp), 0);
                        self.copy(Base::Slot(slot), 0, Base::Slot(tmp), 0, size);
                    } else {
                        self.mem_as(value, &ty, Base::Slot(slot), 0);
                    }
                }
            },
            TStmtKind::MapStore { map, keys, value } => self.map_store(*map, keys, value),
            TStmtKind::MapAgg {
                map,
                keys,
                func,
                args,
                call_span,
            } => {
                self.report_span = Some(*call_span);
                self.map_agg(*map, keys, *func, args);
                self.report_span = None;
            }
            TStmtKind::Return => {
                let end = self.end;
                self.jmp(end);
            }
            TStmtKind::If { cond, then, els } => {
                let l_else = self.label();
                self.cond_jump(cond, l_else, false);
                self.release_temps();
                self.stmts(then);
                if els.is_empty() {
                    self.place_label(l_else);
                } else {
                    let l_end = self.label();
                    self.jmp(l_end);
                    self.place_label(l_else);
                    self.stmts(els);
                    self.place_label(l_end);
                }
            }
            TStmtKind::While { cond, body } => {
                let l_top = self.label();
                let l_end = self.label();
                self.place_label(l_top);
                self.span = cond.span;
                self.cond_jump(cond, l_end, false);
                self.release_temps();
                self.loops.push((l_top, l_end));
                self.stmts(body);
                self.loops.pop();
                self.jmp(l_top);
                self.place_label(l_end);
            }
            TStmtKind::Break | TStmtKind::Continue => {
                if let Some(&(top, end)) = self.loops.last() {
                    let target = if s.kind == TStmtKind::Break { end } else { top };
                    self.jmp(target);
                }
            }
        }
    }

    /// Whether evaluating `value` reads variable `var` (then it must not be written in place).
    fn writes_self(&self, value: &TExpr, var: VarId) -> bool {
        reads_var(value, var)
    }
}

/// Whether evaluating `e` reads scratch variable `var` anywhere (operands, keys, conditions).
fn reads_var(e: &TExpr, var: VarId) -> bool {
    e.any(
        &mut |x| matches!(x.kind, TExprKind::Var(v) | TExprKind::IncVar { var: v, .. } if v == var),
    )
}

/// A C identifier naming the program: `p0_tracepoint_syscalls_sys_enter_openat`.
fn program_name(index: usize, attach: &str) -> String {
    let mut name = format!("p{index}_");
    for c in attach.chars() {
        name.push(if c.is_ascii_alphanumeric() { c } else { '_' });
    }
    name.truncate(60);
    name
}
