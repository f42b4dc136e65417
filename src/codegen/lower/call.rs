//! Lowering builtin calls through the registry, and the code generator's side of the
//! `LowerCx` contract that each builtin's lowering is written against.

use super::Lowerer;
use crate::builtins::{self, Lower, LowerCx, MapUpdate, TCall};
use crate::codegen::ir::*;
use crate::sema::typed::*;

impl Lowerer<'_> {
    /// The lowering of the builtin a call node names, with its checked parts.
    fn builtin_of(e: &TExpr) -> Option<(Lower, TCall<'_>)> {
        let TExprKind::Call {
            builtin,
            args,
            data,
        } = &e.kind
        else {
            return None;
        };
        let call = TCall {
            args,
            data,
            ty: &e.ty,
            span: e.span,
        };
        Some((builtins::get(*builtin).lower, call))
    }

    /// An integer-valued call.
    pub(super) fn call_int(&mut self, e: &TExpr) -> VReg {
        match Self::builtin_of(e) {
            Some((Lower::Int(f), call)) => f(self, &call),
            // Sema gives integer types only to integer lowerings.
            _ => {
                let r = self.reg();
                self.mov_imm(r, 0);
                r
            }
        }
    }

    /// A call whose value lives in memory (strings), written at `base + off`.
    pub(super) fn call_mem(&mut self, e: &TExpr, base: Base, off: i32, size: u32) {
        match Self::builtin_of(e) {
            Some((Lower::Mem(f), call)) => f(self, &call, base, off, size),
            Some((Lower::Int(f), call)) => {
                let v = f(self, &call);
                self.emit(Inst::Store {
                    base,
                    off: off as i16,
                    src: Operand::Reg(v),
                    size: Size::DW,
                });
                self.zero(base, off + 8, size.saturating_sub(8));
            }
            _ => self.zero(base, off, size),
        }
    }

    /// `@m[k] = f(args)`: the map function's update.
    pub(super) fn map_agg(&mut self, map: MapIdx, keys: &[TExpr], func: BuiltinId, args: &[TExpr]) {
        let info = &self.checked.maps[map as usize];
        let (value, storage) = (info.value.clone(), info.def.kind);
        if let Some(f) = builtins::get(func).map {
            let update = MapUpdate {
                map,
                keys,
                args,
                value: &value,
                storage,
            };
            (f.update)(self, &update);
        }
    }

    /// A value known only when the program is loaded (an `ld_imm64` the runtime patches).
    fn runtime_const(&mut self, konst: RuntimeConst) -> VReg {
        let dst = self.reg();
        self.emit(Inst::LdConst { dst, konst });
        dst
    }

    /// An action used as a statement.
    pub(super) fn call_stmt(&mut self, e: &TExpr) {
        if let Some((Lower::Stmt(f), call)) = Self::builtin_of(e) {
            f(self, &call);
        }
    }
}

impl LowerCx for Lowerer<'_> {
    fn reg(&mut self) -> VReg {
        Lowerer::reg(self)
    }

    fn emit(&mut self, inst: Inst) {
        Lowerer::emit(self, inst);
    }

    fn label(&mut self) -> Label {
        Lowerer::label(self)
    }

    fn place_label(&mut self, l: Label) {
        Lowerer::place_label(self, l);
    }

    fn jmp(&mut self, target: Label) {
        Lowerer::jmp(self, target);
    }

    fn jmp_if(&mut self, cond: Cond, a: VReg, b: Operand, target: Label) {
        Lowerer::jmp_if(self, cond, a, b, target);
    }

    fn mov_imm(&mut self, dst: VReg, v: i64) {
        Lowerer::mov_imm(self, dst, v);
    }

    fn call(&mut self, helper: u32, args: Vec<Operand>) -> VReg {
        Lowerer::call(self, helper, args)
    }

    fn call_void(&mut self, helper: u32, args: Vec<Operand>) {
        Lowerer::call_void(self, helper, args);
    }

    fn ctx(&mut self) -> VReg {
        let r = Lowerer::reg(self);
        let ctx = self.f.ctx;
        Lowerer::emit(
            self,
            Inst::Mov {
                dst: r,
                src: Operand::Reg(ctx),
            },
        );
        r
    }

    fn int(&mut self, e: &TExpr) -> VReg {
        Lowerer::int(self, e)
    }

    fn operand(&mut self, e: &TExpr) -> Operand {
        Lowerer::operand(self, e)
    }

    fn mem_into(&mut self, e: &TExpr, base: Base, off: i32, size: u32) {
        Lowerer::mem_into(self, e, base, off, size);
    }

    fn zero(&mut self, base: Base, off: i32, size: u32) {
        Lowerer::zero(self, base, off, size);
    }

    fn addr(&mut self, base: Base, off: i32) -> VReg {
        Lowerer::addr(self, base, off)
    }

    fn slot(&mut self, size: u32) -> SlotId {
        Lowerer::slot(self, size)
    }

    fn normalize(&mut self, r: VReg, size: u8, signed: bool) {
        Lowerer::normalize(self, r, size, signed);
    }

    fn cpid(&mut self) -> VReg {
        self.runtime_const(RuntimeConst::Cpid)
    }

    fn start_ns(&mut self) -> VReg {
        self.runtime_const(RuntimeConst::StartNs)
    }

    fn format_record(&mut self, id: u32, args: &[TExpr]) {
        Lowerer::printf(self, id, args);
    }

    fn event(&mut self, kind: u32, id: u32) {
        Lowerer::event(self, kind, id);
    }

    fn reserved_record(
        &mut self,
        kind: u32,
        id: u32,
        size: u32,
        fill: &mut dyn FnMut(&mut dyn LowerCx, VReg),
    ) {
        Lowerer::reserved_record(self, kind, id, size, fill);
    }

    fn map_delete(&mut self, map: MapIdx, keys: &[TExpr]) {
        let key = self.key(map, keys, 0);
        let fd = self.map_fd(map);
        let k = self.stack_addr(key, 0);
        Lowerer::call_void(
            self,
            helper::MAP_DELETE_ELEM,
            vec![Operand::Reg(fd), Operand::Reg(k)],
        );
    }

    fn end_program(&mut self) {
        let end = self.end;
        Lowerer::jmp(self, end);
    }

    fn mark_exited(&mut self) {
        Lowerer::mark_exited(self);
    }

    fn map_key(&mut self, map: MapIdx, keys: &[TExpr], extra: u32) -> (SlotId, u32) {
        let user = self.checked.maps[map as usize].user_key_size();
        (self.key(map, keys, extra), user)
    }

    fn map_lookup(&mut self, map: MapIdx, key: SlotId) -> VReg {
        self.lookup_key(map, key)
    }

    fn map_upsert(
        &mut self,
        map: MapIdx,
        key: SlotId,
        init: &[Operand],
        hit: &mut dyn FnMut(&mut dyn LowerCx, VReg),
    ) {
        self.upsert(map, key, init, hit);
    }
}
