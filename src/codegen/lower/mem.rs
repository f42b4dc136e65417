//! Lowering values that live in memory (strings, tuples, keys, records) and map operations.

use super::{Lowerer, VarHome};
use crate::builtins::LowerCx;
use crate::codegen::ir::*;
use crate::sema::typed::*;
use crate::sema::types::Type;

/// `BPF_ANY` for map_update_elem.
const BPF_ANY: i32 = 0;

/// Where a string can be read from for a comparison.
enum StrPlace {
    Mem(Base, i16, u32),
    Literal(Vec<u8>),
}

impl Lowerer<'_> {
    /// Stores zeros over `[off, off + size)` of `base` (size a multiple of 8 rounded up).
    pub(super) fn zero(&mut self, base: Base, off: i32, size: u32) {
        let mut o = 0;
        while o < size {
            self.emit(Inst::Store {
                base,
                off: (off + o as i32) as i16,
                src: Operand::Imm(0),
                size: Size::DW,
            });
            o += 8;
        }
    }

    /// Copies `size` bytes (a multiple of 8) from `src` to `dst`.
    pub(super) fn copy(&mut self, dst: Base, doff: i32, src: Base, soff: i32, size: u32) {
        let t = self.reg();
        let mut o = 0;
        while o + 8 <= size {
            self.emit(Inst::Load {
                dst: t,
                base: src,
                off: (soff + o as i32) as i16,
                size: Size::DW,
            });
            self.emit(Inst::Store {
                base: dst,
                off: (doff + o as i32) as i16,
                src: Operand::Reg(t),
                size: Size::DW,
            });
            o += 8;
        }
    }

    /// Copies `n` bytes (any number) from `src + soff` to `dst + doff`, each access as wide as
    /// both addresses' alignment allows (the verifier wants aligned stack accesses).
    pub(super) fn copy_bytes(&mut self, dst: Base, doff: i32, src: Base, soff: i32, n: u32) {
        let t = self.reg();
        let mut o = 0i32;
        while (o as u32) < n {
            let size = access_size(doff + o, soff + o, n - o as u32);
            self.emit(Inst::Load {
                dst: t,
                base: src,
                off: (soff + o) as i16,
                size,
            });
            self.emit(Inst::Store {
                base: dst,
                off: (doff + o) as i16,
                src: Operand::Reg(t),
                size,
            });
            o += size.bytes() as i32;
        }
    }

    /// Stores the integer `v` in `size` bytes (1, 2, 4 or 8) at `base + off`.
    fn store_int(&mut self, base: Base, off: i32, v: Operand, size: u32) {
        let size = match size {
            1 => Size::B,
            2 => Size::H,
            4 => Size::W,
            _ => Size::DW,
        };
        self.emit(Inst::Store {
            base,
            off: off as i16,
            src: v,
            size,
        });
    }

    /// A stack slot holding the value of `tuple`: a variable's own, or a new one it is
    /// written to.
    pub(super) fn tuple_slot(&mut self, tuple: &TExpr) -> SlotId {
        if let TExprKind::Var(v) = tuple.kind {
            if let VarHome::Slot(slot, _) = self.vars[v as usize] {
                return slot;
            }
        }
        let size = tuple.ty.layout_size();
        let slot = self.slot(size);
        self.mem_into(tuple, Base::Slot(slot), 0, size);
        slot
    }

    /// Writes tuple element `el` laid out as `dt` at `base + off`, which the tuple's layout
    /// aligns for `dt` but not always to 8: integers are stored at their size, other values
    /// off an 8-byte boundary are built in a slot first and moved byte-exact. The bytes
    /// around the element are the caller's (zeroed before).
    fn element_as(&mut self, el: &TExpr, dt: &Type, base: Base, off: i32) {
        if dt.is_int() {
            let v = self.operand(el);
            self.store_int(base, off, v, dt.c_size());
        } else if off % 8 == 0 {
            self.mem_as(el, dt, base, off);
        } else {
            let size = dt.layout_size();
            let tmp = self.slot(size);
            self.mem_as(el, dt, Base::Slot(tmp), 0);
            self.copy_bytes(base, off, Base::Slot(tmp), 0, dt.c_size());
        }
    }

    /// Writes the value of a string/tuple/integer expression into `base + off`, filling exactly
    /// `dst_size` bytes (zero padding after the value).
    pub(super) fn mem_into(&mut self, e: &TExpr, base: Base, off: i32, dst_size: u32) {
        let saved = self.span;
        self.span = e.span;
        self.mem_into_inner(e, base, off, dst_size);
        self.span = saved;
    }

    fn mem_into_inner(&mut self, e: &TExpr, base: Base, off: i32, dst_size: u32) {
        let src_size = e.ty.layout_size().min(dst_size);
        match &e.kind {
            _ if e.ty.is_int() => {
                let v = self.operand(e);
                self.emit(Inst::Store {
                    base,
                    off: off as i16,
                    src: v,
                    size: Size::DW,
                });
                self.zero(base, off + 8, dst_size.saturating_sub(8));
            }
            TExprKind::Str(bytes) => {
                let mut padded = bytes.clone();
                padded.resize(dst_size as usize, 0);
                for (i, chunk) in padded.chunks(8).enumerate() {
                    let mut w = [0u8; 8];
                    w[..chunk.len()].copy_from_slice(chunk);
                    let v = i64::from_le_bytes(w);
                    let src = match i32::try_from(v) {
                        Ok(imm) => Operand::Imm(imm),
                        Err(_) => {
                            let r = self.reg();
                            self.emit(Inst::LdImm64 { dst: r, imm: v });
                            Operand::Reg(r)
                        }
                    };
                    self.emit(Inst::Store {
                        base,
                        off: (off + 8 * i as i32) as i16,
                        src,
                        size: Size::DW,
                    });
                }
            }
            TExprKind::Call { .. } => self.call_mem(e, base, off, dst_size),
            TExprKind::Var(v) => match self.vars[*v as usize] {
                VarHome::Slot(slot, size) => {
                    let n = size.min(dst_size);
                    self.copy(base, off, Base::Slot(slot), 0, n);
                    self.zero(base, off + n as i32, dst_size - n);
                }
                VarHome::Reg(_) => self.zero(base, off, dst_size),
            },
            TExprKind::MapRead { map, keys } => {
                self.zero(base, off, dst_size);
                let found = self.lookup(*map, keys, 0);
                let l_miss = self.label();
                self.jmp_if(Cond::Eq, found, Operand::Imm(0), l_miss);
                self.copy(base, off, Base::Reg(found), 0, src_size);
                self.place_label(l_miss);
            }
            TExprKind::Part { whole, offset } => {
                // The whole value in a slot, then the part's bytes moved byte by byte (a part
                // need not be 8-byte aligned).
                let size = whole.ty.layout_size();
                let slot = self.slot(size);
                self.mem_into(whole, Base::Slot(slot), 0, size);
                self.zero(base, off, dst_size);
                let n = e.ty.c_size().min(dst_size);
                let t = self.reg();
                for i in 0..n {
                    self.emit(Inst::Load {
                        dst: t,
                        base: Base::Slot(slot),
                        off: (*offset + i) as i16,
                        size: Size::B,
                    });
                    self.emit(Inst::Store {
                        base,
                        off: (off + i as i32) as i16,
                        src: Operand::Reg(t),
                        size: Size::B,
                    });
                }
            }
            TExprKind::MemRead { addr, user } => {
                // Strings, arrays and records are read whole into their place.
                self.zero(base, off, dst_size);
                let n = e.ty.c_size().min(dst_size);
                self.read_mem(base, off, n, addr, *user);
            }
            TExprKind::CtxField(f) if f.inline_array => {
                self.zero(base, off, dst_size);
                let src = Operand::Reg(self.int(e));
                let p = self.addr(base, off);
                let n = f.size.min(dst_size.saturating_sub(1)) as i32;
                self.call_void(
                    helper::PROBE_READ_KERNEL,
                    vec![Operand::Reg(p), Operand::Imm(n), src],
                );
            }
            TExprKind::Ternary { cond, then, els } => {
                let l_else = self.label();
                let l_end = self.label();
                self.cond_jump(cond, l_else, false);
                self.mem_as(then, &e.ty, base, off);
                self.jmp(l_end);
                self.place_label(l_else);
                self.mem_as(els, &e.ty, base, off);
                self.place_label(l_end);
                let used = e.ty.layout_size();
                self.zero(base, off + used as i32, dst_size.saturating_sub(used));
            }
            TExprKind::Tuple(elems) => {
                // Padding is zeroed first: tuples compare and hash byte for byte.
                self.zero(base, off, dst_size);
                let Type::Tuple(types) = &e.ty else {
                    return;
                };
                let offsets = Type::tuple_offsets(types);
                for ((el, t), o) in elems.iter().zip(types).zip(offsets) {
                    self.element_as(el, t, base, off + o as i32);
                }
            }
            TExprKind::TupleField { tuple, index } => {
                let Type::Tuple(types) = &tuple.ty else {
                    return self.zero(base, off, dst_size);
                };
                let o = Type::tuple_offsets(types)[*index];
                let slot = self.tuple_slot(tuple);
                self.zero(base, off, dst_size);
                let n = types[*index].c_size().min(dst_size);
                self.copy_bytes(base, off, Base::Slot(slot), o as i32, n);
            }
            _ => self.zero(base, off, dst_size),
        }
    }

    /// Writes `e` laid out as type `dst` (which `e.ty` unifies into: strings may be wider,
    /// tuples laid out with wider elements) at `base + off`, filling `dst.layout_size()` bytes.
    pub(super) fn mem_as(&mut self, e: &TExpr, dst: &Type, base: Base, off: i32) {
        let (Type::Tuple(dts), Type::Tuple(sts)) = (dst, &e.ty) else {
            return self.mem_into(e, base, off, dst.layout_size());
        };
        if dst == &e.ty || dts.len() != sts.len() {
            return self.mem_into(e, base, off, dst.layout_size());
        }
        let doffs = Type::tuple_offsets(dts);
        match &e.kind {
            TExprKind::Tuple(elems) => {
                self.zero(base, off, dst.layout_size());
                for ((el, dt), o) in elems.iter().zip(dts).zip(doffs) {
                    self.element_as(el, dt, base, off + o as i32);
                }
            }
            TExprKind::Ternary { cond, then, els } => {
                let l_else = self.label();
                let l_end = self.label();
                self.cond_jump(cond, l_else, false);
                self.mem_as(then, dst, base, off);
                self.jmp(l_end);
                self.place_label(l_else);
                self.mem_as(els, dst, base, off);
                self.place_label(l_end);
            }
            _ => {
                // Evaluate in the value's own layout, then move each element into place.
                let size = e.ty.layout_size();
                let tmp = self.slot(size);
                self.mem_into(e, Base::Slot(tmp), 0, size);
                self.zero(base, off, dst.layout_size());
                self.copy_as(&e.ty, Base::Slot(tmp), 0, dst, base, off);
            }
        }
    }

    /// Copies a value of type `src` at `sbase + soff` to `dbase + doff` laid out as `dst`
    /// (whose bytes are zeroed before): integers change size, strings widen.
    fn copy_as(&mut self, src: &Type, sbase: Base, soff: i32, dst: &Type, dbase: Base, doff: i32) {
        match (src, dst) {
            (Type::Tuple(sts), Type::Tuple(dts)) if sts.len() == dts.len() => {
                let so = Type::tuple_offsets(sts);
                let dof = Type::tuple_offsets(dts);
                for i in 0..sts.len() {
                    self.copy_as(
                        &sts[i],
                        sbase,
                        soff + so[i] as i32,
                        &dts[i],
                        dbase,
                        doff + dof[i] as i32,
                    );
                }
            }
            (Type::Int { size, signed }, _) if dst.is_int() && src.c_size() != dst.c_size() => {
                let t = self.reg();
                let load = match size {
                    1 => Size::B,
                    2 => Size::H,
                    4 => Size::W,
                    _ => Size::DW,
                };
                self.emit(Inst::Load {
                    dst: t,
                    base: sbase,
                    off: soff as i16,
                    size: load,
                });
                self.normalize(t, *size, *signed);
                self.store_int(dbase, doff, Operand::Reg(t), dst.c_size());
            }
            _ => {
                let n = src.c_size().min(dst.c_size());
                self.copy_bytes(dbase, doff, sbase, soff, n);
            }
        }
    }

    /// `probe_read_{user,kernel}(base + off, size, addr)`: `size` bytes from the address `addr`
    /// evaluates to. A failed read leaves zeros, as the helpers do.
    pub(super) fn read_mem(&mut self, base: Base, off: i32, size: u32, addr: &TExpr, user: bool) {
        let src = self.operand(addr);
        let dst = self.addr(base, off);
        let helper = if user {
            helper::PROBE_READ_USER
        } else if self.no_addr_space {
            helper::PROBE_READ
        } else {
            helper::PROBE_READ_KERNEL
        };
        self.call_void(
            helper,
            vec![Operand::Reg(dst), Operand::Imm(size as i32), src],
        );
    }

    /// The address `base + off` in a register.
    pub(super) fn addr(&mut self, base: Base, off: i32) -> VReg {
        match base {
            Base::Slot(slot) => self.stack_addr(slot, off),
            Base::Reg(r) => {
                let p = self.reg();
                self.emit(Inst::Mov {
                    dst: p,
                    src: Operand::Reg(r),
                });
                if off != 0 {
                    self.emit(Inst::Alu64 {
                        op: AluOp::Add,
                        dst: p,
                        src: Operand::Imm(off),
                    });
                }
                p
            }
        }
    }

    /// Builds the key of `@map[keys]` in a fresh slot with `extra` bytes after it that the
    /// caller writes (hist buckets).
    pub(super) fn key(&mut self, map: MapIdx, keys: &[TExpr], extra: u32) -> SlotId {
        let info = &self.checked.maps[map as usize];
        let user = info.user_key_size();
        let offsets = info.key_offsets();
        let types = info.keys.clone();
        let slot = self.slot(user + extra);
        if keys.is_empty() {
            self.zero(Base::Slot(slot), 0, user);
            return slot;
        }
        for ((k, o), t) in keys.iter().zip(offsets).zip(types) {
            self.mem_into(k, Base::Slot(slot), o as i32, t.layout_size());
        }
        slot
    }

    /// `map_lookup_elem(&map, &key)`: a register holding the value pointer or 0.
    fn lookup(&mut self, map: MapIdx, keys: &[TExpr], extra: u32) -> VReg {
        let key = self.key(map, keys, extra);
        self.lookup_key(map, key)
    }

    pub(super) fn lookup_key(&mut self, map: MapIdx, key: SlotId) -> VReg {
        let fd = self.map_fd(map);
        let k = self.stack_addr(key, 0);
        let found = self.call(
            helper::MAP_LOOKUP_ELEM,
            vec![Operand::Reg(fd), Operand::Reg(k)],
        );
        if self.helper_check >= 2 {
            // -kk: a lookup that finds nothing is reported, with 0 for its code.
            let ok = self.label();
            self.jmp_if(Cond::Ne, found, Operand::Imm(0), ok);
            self.helper_error(helper::MAP_LOOKUP_ELEM, Operand::Imm(0));
            self.place_label(ok);
        }
        found
    }

    fn update(&mut self, map: MapIdx, key: SlotId, value: SlotId) {
        let fd = self.map_fd(map);
        let k = self.stack_addr(key, 0);
        let v = self.stack_addr(value, 0);
        self.call_void(
            helper::MAP_UPDATE_ELEM,
            vec![
                Operand::Reg(fd),
                Operand::Reg(k),
                Operand::Reg(v),
                Operand::Imm(BPF_ANY),
            ],
        );
    }

    pub(super) fn map_read_int(&mut self, map: MapIdx, keys: &[TExpr]) -> VReg {
        let r = self.reg();
        self.mov_imm(r, 0);
        let found = self.lookup(map, keys, 0);
        let l_miss = self.label();
        self.jmp_if(Cond::Eq, found, Operand::Imm(0), l_miss);
        self.emit(Inst::Load {
            dst: r,
            base: Base::Reg(found),
            off: 0,
            size: Size::DW,
        });
        self.place_label(l_miss);
        r
    }

    /// `@m[k] += delta` for its value: the old value (`post`) or the new one.
    pub(super) fn map_inc(&mut self, map: MapIdx, keys: &[TExpr], delta: i64, post: bool) -> VReg {
        let size = self.checked.maps[map as usize].def.value_size;
        let key = self.key(map, keys, 0);
        let old = self.reg();
        self.mov_imm(old, 0);
        let found = self.lookup_key(map, key);
        let l_miss = self.label();
        self.jmp_if(Cond::Eq, found, Operand::Imm(0), l_miss);
        self.emit(Inst::Load {
            dst: old,
            base: Base::Reg(found),
            off: 0,
            size: Size::DW,
        });
        self.place_label(l_miss);
        let new = self.reg();
        self.emit(Inst::Mov {
            dst: new,
            src: Operand::Reg(old),
        });
        self.emit(Inst::Alu64 {
            op: AluOp::Add,
            dst: new,
            src: Operand::Imm(delta as i32),
        });
        let v = self.slot(size);
        self.emit(Inst::Store {
            base: Base::Slot(v),
            off: 0,
            src: Operand::Reg(new),
            size: Size::DW,
        });
        self.zero(Base::Slot(v), 8, size.saturating_sub(8));
        self.update(map, key, v);
        if post {
            old
        } else {
            new
        }
    }

    pub(super) fn map_store(&mut self, map: MapIdx, keys: &[TExpr], value: &TExpr) {
        let info = &self.checked.maps[map as usize];
        let size = info.def.value_size;
        let ty = match &info.value {
            MapValueType::Plain(t) => t.clone(),
            _ => value.ty.clone(),
        };
        let v = self.slot(size);
        self.mem_as(value, &ty, Base::Slot(v), 0);
        let used = ty.layout_size();
        self.zero(Base::Slot(v), used as i32, size.saturating_sub(used));
        let key = self.key(map, keys, 0);
        self.update(map, key, v);
    }

    /// Looks `key` up in `map`: on a hit runs `hit` with the value pointer; on a miss inserts
    /// a value made of the `init` words.
    pub(super) fn upsert(
        &mut self,
        map: MapIdx,
        key: SlotId,
        init: &[Operand],
        hit: &mut dyn FnMut(&mut dyn LowerCx, VReg),
    ) {
        let found = self.lookup_key(map, key);
        let l_miss = self.label();
        let l_end = self.label();
        self.jmp_if(Cond::Eq, found, Operand::Imm(0), l_miss);
        hit(self, found);
        self.jmp(l_end);
        self.place_label(l_miss);
        let value = self.slot(8 * init.len() as u32);
        self.store_words(Base::Slot(value), init);
        self.update(map, key, value);
        self.place_label(l_end);
    }

    /// Stores 8-byte words one after another from `base`.
    fn store_words(&mut self, base: Base, words: &[Operand]) {
        for (i, w) in words.iter().enumerate() {
            self.emit(Inst::Store {
                base,
                off: 8 * i as i16,
                src: *w,
                size: Size::DW,
            });
        }
    }

    pub(super) fn printf(&mut self, id: u32, args: &[TExpr]) {
        let info = &self.checked.printfs[id as usize];
        let size = info.size;
        let offsets = info.offsets.clone();
        let types = info.args.clone();
        let kind = info.kind;
        let rec = self.slot(size);
        self.header(rec, kind, id);
        for ((a, off), t) in args.iter().zip(offsets).zip(types) {
            self.mem_into(a, Base::Slot(rec), off as i32, t.layout_size());
        }
        self.output(rec, size);
    }

    /// A header-only event: exit, print/clear/zero of a map.
    pub(super) fn event(&mut self, kind: u32, id: u32) {
        let rec = self.slot(event::HEADER);
        self.header(rec, kind, id);
        self.output(rec, event::HEADER);
    }

    pub(super) fn header(&mut self, rec: SlotId, kind: u32, id: u32) {
        if id == 0 {
            // One 8-byte store: the immediate is sign-extended, and kind is small.
            self.emit(Inst::Store {
                base: Base::Slot(rec),
                off: 0,
                src: Operand::Imm(kind as i32),
                size: Size::DW,
            });
            return;
        }
        for (off, v) in [(0i16, kind), (4, id)] {
            self.emit(Inst::Store {
                base: Base::Slot(rec),
                off,
                src: Operand::Imm(v as i32),
                size: Size::W,
            });
        }
    }

    /// `ringbuf_output(&ringbuf, rec, size, 0)`; a failure adds one to the lost counter.
    pub(super) fn output(&mut self, rec: SlotId, size: u32) {
        self.output_or(rec, size, |_| {});
    }

    /// `output`, running `lost` after the lost counter when the ring buffer had no room.
    pub(super) fn output_or(&mut self, rec: SlotId, size: u32, lost: impl FnOnce(&mut Self)) {
        let ringbuf = self.checked.ringbuf;
        let fd = self.map_fd(ringbuf);
        let p = self.stack_addr(rec, 0);
        let ret = self.call(
            helper::RINGBUF_OUTPUT,
            vec![
                Operand::Reg(fd),
                Operand::Reg(p),
                Operand::Imm(size as i32),
                Operand::Imm(0),
            ],
        );
        let l_ok = self.label();
        self.jmp_if(Cond::Eq, ret, Operand::Imm(0), l_ok);
        self.count_lost();
        lost(self);
        self.place_label(l_ok);
    }

    /// Adds one, atomically, to the `lost` counter (a direct map-value pointer: no lookup),
    /// unless exit() was called (the second word of the `lost` value is then set).
    fn count_lost(&mut self) {
        let lost = self.checked.lost;
        let counter = self.reg();
        self.emit(Inst::LdMapValue {
            dst: counter,
            map: MapId(lost),
            off: 0,
        });
        let exited = self.load(Base::Reg(counter), 8, Size::DW);
        let l_done = self.label();
        self.jmp_if(Cond::Ne, exited, Operand::Imm(0), l_done);
        let one = self.reg();
        self.mov_imm(one, 1);
        self.emit(Inst::AtomicAdd {
            base: Base::Reg(counter),
            off: 0,
            src: one,
            size: Size::DW,
        });
        self.place_label(l_done);
    }

    /// Sets the second word of the `lost` value: exit() was called.
    pub(super) fn mark_exited(&mut self) {
        let value = self.reg();
        self.emit(Inst::LdMapValue {
            dst: value,
            map: MapId(self.checked.lost),
            off: 0,
        });
        self.emit(Inst::Store {
            base: Base::Reg(value),
            off: 8,
            src: Operand::Imm(1),
            size: Size::DW,
        });
    }

    /// A record written in place in the ring buffer (`ringbuf_reserve`, then `fill` with the
    /// record's address, then `ringbuf_submit`): for records too large for the stack. A full
    /// ring buffer counts a lost event.
    pub(super) fn reserved_record(
        &mut self,
        kind: u32,
        id: u32,
        size: u32,
        fill: &mut dyn FnMut(&mut dyn LowerCx, VReg),
    ) {
        let fd = self.map_fd(self.checked.ringbuf);
        let rec = self.call(
            helper::RINGBUF_RESERVE,
            vec![Operand::Reg(fd), Operand::Imm(size as i32), Operand::Imm(0)],
        );
        let l_lost = self.label();
        let l_end = self.label();
        self.jmp_if(Cond::Eq, rec, Operand::Imm(0), l_lost);
        for (off, v) in [(0i16, kind), (4, id)] {
            self.emit(Inst::Store {
                base: Base::Reg(rec),
                off,
                src: Operand::Imm(v as i32),
                size: Size::W,
            });
        }
        fill(self, rec);
        self.call_void(
            helper::RINGBUF_SUBMIT,
            vec![Operand::Reg(rec), Operand::Imm(0)],
        );
        self.jmp(l_end);
        self.place_label(l_lost);
        self.count_lost();
        self.place_label(l_end);
    }

    /// Jumps to `target` when the strings are equal (`when`) or differ (`!when`).
    pub(super) fn str_eq_jump(&mut self, lhs: &TExpr, rhs: &TExpr, target: Label, when: bool) {
        let a = self.str_place(lhs);
        let b = self.str_place(rhs);
        let (a, b) = match (a, b) {
            (StrPlace::Literal(x), StrPlace::Literal(y)) => {
                if (x == y) == when {
                    self.jmp(target);
                }
                return;
            }
            (lit @ StrPlace::Literal(_), mem) => (mem, lit),
            other => other,
        };
        let StrPlace::Mem(base, off, asize) = a else {
            return;
        };
        // Compare n bytes: the NUL of the shorter buffer is included, and both are zero padded.
        let n = match &b {
            StrPlace::Literal(bytes) => (bytes.len() as u32 + 1).min(asize),
            StrPlace::Mem(_, _, bsize) => asize.min(*bsize),
        };
        let differ = if when { self.label() } else { target };
        let mut pos = 0u32;
        let ta = self.reg();
        let tb = self.reg();
        while pos < n {
            let width = [8u32, 4, 2, 1]
                .into_iter()
                .find(|w| pos + w <= n)
                .unwrap_or(1);
            let size = Size::from_bytes(width).unwrap_or(Size::B);
            self.emit(Inst::Load {
                dst: ta,
                base,
                off: off + pos as i16,
                size,
            });
            let rhs = match &b {
                StrPlace::Literal(bytes) => {
                    let mut w = [0u8; 8];
                    for (i, b) in w.iter_mut().enumerate().take(width as usize) {
                        *b = bytes.get(pos as usize + i).copied().unwrap_or(0);
                    }
                    let v = u64::from_le_bytes(w) as i64;
                    match i32::try_from(v) {
                        Ok(imm) => Operand::Imm(imm),
                        Err(_) => {
                            self.emit(Inst::LdImm64 { dst: tb, imm: v });
                            Operand::Reg(tb)
                        }
                    }
                }
                StrPlace::Mem(bb, boff, _) => {
                    self.emit(Inst::Load {
                        dst: tb,
                        base: *bb,
                        off: boff + pos as i16,
                        size,
                    });
                    Operand::Reg(tb)
                }
            };
            self.jmp_if(Cond::Ne, ta, rhs, differ);
            pos += width;
        }
        if when {
            self.jmp(target);
            self.place_label(differ);
        }
    }

    fn str_place(&mut self, e: &TExpr) -> StrPlace {
        match &e.kind {
            TExprKind::Str(bytes) => StrPlace::Literal(bytes.clone()),
            TExprKind::Var(v) => match self.vars[*v as usize] {
                VarHome::Slot(slot, size) => StrPlace::Mem(Base::Slot(slot), 0, size),
                VarHome::Reg(_) => StrPlace::Literal(Vec::new()),
            },
            _ => {
                let size = e.ty.layout_size();
                let slot = self.slot(size);
                self.mem_into(e, Base::Slot(slot), 0, size);
                let cap = match e.ty {
                    Type::Str { size } => size,
                    _ => size,
                };
                StrPlace::Mem(Base::Slot(slot), 0, cap)
            }
        }
    }
}

/// The widest access (8, 4, 2 or 1 bytes) for both offsets' alignment and `left` bytes.
fn access_size(a: i32, b: i32, left: u32) -> Size {
    [Size::DW, Size::W, Size::H, Size::B]
        .into_iter()
        .find(|s| {
            let w = s.bytes();
            left >= w && a.rem_euclid(w as i32) == 0 && b.rem_euclid(w as i32) == 0
        })
        .unwrap_or(Size::B)
}
