//! Map functions: `count`, `sum`, `min`, `max`, `avg`, `stats`, `hist` and `lhist`. Values are
//! per-CPU (no read-modify-write races); userspace combines the CPUs when it prints.

use super::api::*;
use crate::codegen::ir::{AluOp, Base, Cond, Inst, Operand, Size, VReg};
use crate::output::value::{lhist_buckets, lhist_steps, AggKind, HIST_BUCKETS};
use crate::sema::layout::MapKind;
use crate::sema::typed::{MapValueType, TExpr};

/// A map function of `args` arguments, the first (if any) an integer it aggregates.
const fn agg(
    name: &'static str,
    args: usize,
    value: fn(&mut dyn CheckCx, &Call<'_>, &[TExpr]) -> Option<MapValueType>,
    storage: fn(&MapValueType, bool) -> Storage,
    update: fn(&mut dyn LowerCx, &MapUpdate<'_>),
) -> Builtin {
    Builtin {
        name,
        kind: Kind::MapFunction,
        args: (args, args),
        check: check_args,
        lower: Lower::Stmt(|_, _| {}),
        map: Some(MapFn {
            value,
            storage,
            update,
        }),
        ..Builtin::PLAIN
    }
}

pub const ENTRIES: &[Builtin] = &[
    agg(
        "count",
        0,
        |_, _, _| {
            Some(MapValueType::Agg {
                kind: AggKind::Count,
                signed: false,
            })
        },
        count_storage,
        update_count,
    ),
    agg(
        "sum",
        1,
        |_, _, a| Some(signed_agg(AggKind::Sum, a)),
        |_, _| hashed(8),
        |cx, u| {
            let v = cx.operand(&u.args[0]);
            let (key, _) = cx.map_key(u.map, u.keys, 0);
            add_to(cx, u, key, v);
        },
    ),
    agg(
        "min",
        1,
        |_, _, a| Some(signed_agg(AggKind::Min, a)),
        |_, _| hashed(16),
        |cx, u| update_minmax(cx, u, true),
    ),
    agg(
        "max",
        1,
        |_, _, a| Some(signed_agg(AggKind::Max, a)),
        |_, _| hashed(16),
        |cx, u| update_minmax(cx, u, false),
    ),
    agg(
        "avg",
        1,
        |_, _, a| Some(signed_agg(AggKind::Avg, a)),
        |_, _| hashed(16),
        update_avg,
    ),
    agg(
        "stats",
        1,
        |_, _, a| Some(signed_agg(AggKind::Stats, a)),
        |_, _| hashed(16),
        update_avg,
    ),
    agg(
        "hist",
        1,
        |_, _, _| Some(MapValueType::Hist),
        |_, _| bucketed(HIST_BUCKETS as u32),
        |cx, u| {
            let v = cx.int(&u.args[0]);
            let b = hist_bucket(cx, v);
            add_to_bucket(cx, u, b);
        },
    ),
    agg("lhist", 4, lhist_value, lhist_storage, |cx, u| {
        let MapValueType::Lhist { min, max, step } = *u.value else {
            return;
        };
        let v = cx.int(&u.args[0]);
        let b = lhist_bucket(cx, v, min, max, step);
        add_to_bucket(cx, u, b);
    }),
];

/// Every argument is an integer; only the first is evaluated in the kernel (lhist's bounds
/// are constants the value type keeps).
fn check_args(cx: &mut dyn CheckCx, call: &Call<'_>) -> Checked {
    let Some(first) = call.args.first() else {
        return Checked::action(Vec::new(), Vec::new());
    };
    let a = cx.expr(first);
    if !a.ty.is_int() {
        cx.error(
            a.span,
            format!(
                "{}()'s argument must be an integer, but this is a {}",
                call.name.name, a.ty
            ),
        );
    }
    Checked::action(vec![a], Vec::new())
}

fn signed_agg(kind: AggKind, args: &[TExpr]) -> MapValueType {
    MapValueType::Agg {
        kind,
        signed: args.first().is_some_and(|a| a.ty.is_signed()),
    }
}

/// A per-CPU hash of `value_size`-byte values; a key-less one holds its one entry.
fn hashed(value_size: u32) -> Storage {
    Storage {
        kind: MapKind::PerCpuHash,
        value_size,
        bucket: false,
        keyless_entries: 1,
    }
}

/// A per-CPU hash of counts keyed by (key, bucket); a key-less one holds one entry a bucket.
fn bucketed(buckets: u32) -> Storage {
    Storage {
        kind: MapKind::PerCpuHash,
        value_size: 8,
        bucket: true,
        keyless_entries: buckets,
    }
}

/// A key-less count() is one per-CPU counter: an array lookup is far cheaper than a hash
/// lookup, and the entry always exists (bpftrace prints `@c: 0` when unused).
fn count_storage(_: &MapValueType, keyless: bool) -> Storage {
    if keyless {
        Storage {
            kind: MapKind::PerCpuArray,
            value_size: 8,
            bucket: false,
            keyless_entries: 1,
        }
    } else {
        hashed(8)
    }
}

fn update_count(cx: &mut dyn LowerCx, u: &MapUpdate<'_>) {
    let (key, _) = cx.map_key(u.map, u.keys, 0);
    if u.storage == MapKind::PerCpuArray {
        // The array's one entry always exists: no insert path.
        let found = cx.map_lookup(u.map, key);
        let l_end = cx.label();
        cx.jmp_if(Cond::Eq, found, Operand::Imm(0), l_end);
        add_at(cx, found, 0, Operand::Imm(1));
        cx.place_label(l_end);
    } else {
        add_to(cx, u, key, Operand::Imm(1));
    }
}

/// lhist(x, min, max, step): the bounds are integer constants with min < max and step > 0.
fn lhist_value(cx: &mut dyn CheckCx, call: &Call<'_>, _: &[TExpr]) -> Option<MapValueType> {
    let mut nums = [0i64; 3];
    for (i, e) in call.args[1..].iter().take(3).enumerate() {
        match cx.const_int(e) {
            Some(v) => nums[i] = v as i64,
            None => cx.error(
                e.span,
                "lhist()'s min, max and step must be integer constants".into(),
            ),
        }
    }
    let [lo, hi, step] = nums;
    if cx.reporting() && (step <= 0 || hi <= lo) {
        cx.error(
            call.span,
            "lhist() needs min < max and a step above 0, as in lhist(x, 0, 100, 10)".into(),
        );
    }
    let buckets = if step <= 0 || hi <= lo {
        0
    } else {
        (i128::from(hi) - i128::from(lo)) / i128::from(step)
    };
    if buckets > 1000 {
        cx.error(
            call.span,
            format!("lhist() too many buckets, must be <= 1000 (would need {buckets})"),
        );
    }
    // A rejected lhist still gets a layout; a small one keeps the bucket arithmetic in range.
    let (lo, hi, step) = if step <= 0 || hi <= lo || buckets > 1000 {
        (0, 1, 1)
    } else {
        (lo, hi, step)
    };
    Some(MapValueType::Lhist {
        min: lo,
        max: hi,
        step,
    })
}

fn lhist_storage(value: &MapValueType, _: bool) -> Storage {
    match *value {
        MapValueType::Lhist { min, max, step } => bucketed(lhist_buckets(min, max, step) as u32),
        _ => bucketed(1),
    }
}

/// `*(u64 *)(ptr + off) += delta`. The value is per-CPU, so no other writer races with this one;
/// the atomic add is used because it is the shortest form (one instruction, two for a constant),
/// where load, add and store take three.
fn add_at(cx: &mut dyn LowerCx, ptr: VReg, off: i16, delta: Operand) {
    let src = match delta {
        Operand::Reg(r) => r,
        Operand::Imm(v) => {
            let t = cx.reg();
            cx.mov_imm(t, v.into());
            t
        }
    };
    cx.emit(Inst::AtomicAdd {
        base: Base::Reg(ptr),
        off,
        src,
        size: Size::DW,
    });
}

/// `*value(key) += delta`, creating the entry when missing.
fn add_to(cx: &mut dyn LowerCx, u: &MapUpdate<'_>, key: crate::codegen::ir::SlotId, delta: Operand) {
    cx.map_upsert(u.map, key, &[delta], &mut |cx, found| add_at(cx, found, 0, delta));
}

/// hist/lhist: one more in the entry `(key, bucket)`.
fn add_to_bucket(cx: &mut dyn LowerCx, u: &MapUpdate<'_>, bucket: VReg) {
    let (key, user) = cx.map_key(u.map, u.keys, 8);
    cx.emit(Inst::Store {
        base: Base::Slot(key),
        off: user as i16,
        src: Operand::Reg(bucket),
        size: Size::DW,
    });
    add_to(cx, u, key, Operand::Imm(1));
}

/// avg/stats: `(count, total) += (1, v)`.
fn update_avg(cx: &mut dyn LowerCx, u: &MapUpdate<'_>) {
    let v = cx.int(&u.args[0]);
    let (key, _) = cx.map_key(u.map, u.keys, 0);
    let init = [Operand::Imm(1), Operand::Reg(v)];
    cx.map_upsert(u.map, key, &init, &mut |cx, found| {
        add_at(cx, found, 0, Operand::Imm(1));
        add_at(cx, found, 8, Operand::Reg(v));
    });
}

/// min/max: `(value, valid)`; a CPU's slot that was never written has valid = 0.
fn update_minmax(cx: &mut dyn LowerCx, u: &MapUpdate<'_>, is_min: bool) {
    let signed = matches!(u.value, MapValueType::Agg { signed: true, .. });
    let v = cx.int(&u.args[0]);
    let (key, _) = cx.map_key(u.map, u.keys, 0);
    // Keep the old value unless v beats it.
    let beats = match (is_min, signed) {
        (true, true) => Cond::Slt,
        (true, false) => Cond::Lt,
        (false, true) => Cond::Sgt,
        (false, false) => Cond::Gt,
    };
    let init = [Operand::Reg(v), Operand::Imm(1)];
    cx.map_upsert(u.map, key, &init, &mut |cx, found| {
        let l_store = cx.label();
        let l_done = cx.label();
        let t = cx.load(Base::Reg(found), 8, Size::DW);
        cx.jmp_if(Cond::Eq, t, Operand::Imm(0), l_store);
        cx.emit(Inst::Load {
            dst: t,
            base: Base::Reg(found),
            off: 0,
            size: Size::DW,
        });
        cx.jmp_if(beats, v, Operand::Reg(t), l_store);
        cx.jmp(l_done);
        cx.place_label(l_store);
        for (i, w) in init.iter().enumerate() {
            cx.emit(Inst::Store {
                base: Base::Reg(found),
                off: 8 * i as i16,
                src: *w,
                size: Size::DW,
            });
        }
        cx.place_label(l_done);
    });
}

/// The hist bucket of `v` (see `output::value::hist_bucket`): 0 for negatives, 1 for 0,
/// `2 + floor(log2(v))` otherwise. Clobbers `v`.
fn hist_bucket(cx: &mut dyn LowerCx, v: VReg) -> VReg {
    let b = cx.reg();
    let l_end = cx.label();
    cx.mov_imm(b, 0);
    cx.jmp_if(Cond::Slt, v, Operand::Imm(0), l_end);
    cx.mov_imm(b, 1);
    cx.jmp_if(Cond::Eq, v, Operand::Imm(0), l_end);
    cx.mov_imm(b, 2);
    // Above 2^32 the bound does not fit an immediate: shift and test for zero.
    let t = cx.reg();
    let skip = cx.label();
    cx.emit(Inst::Mov {
        dst: t,
        src: Operand::Reg(v),
    });
    cx.emit(Inst::Alu64 {
        op: AluOp::Rsh,
        dst: t,
        src: Operand::Imm(32),
    });
    cx.jmp_if(Cond::Eq, t, Operand::Imm(0), skip);
    cx.emit(Inst::Alu64 {
        op: AluOp::Add,
        dst: b,
        src: Operand::Imm(32),
    });
    cx.emit(Inst::Mov {
        dst: v,
        src: Operand::Reg(t),
    });
    cx.place_label(skip);
    for shift in [16, 8, 4, 2, 1] {
        let skip = cx.label();
        cx.jmp_if(Cond::Lt, v, Operand::Imm(1 << shift), skip);
        cx.emit(Inst::Alu64 {
            op: AluOp::Add,
            dst: b,
            src: Operand::Imm(shift),
        });
        if shift > 1 {
            cx.emit(Inst::Alu64 {
                op: AluOp::Rsh,
                dst: v,
                src: Operand::Imm(shift),
            });
        }
        cx.place_label(skip);
    }
    cx.place_label(l_end);
    b
}

/// The lhist bucket of `v` (see `output::value::lhist_bucket`).
fn lhist_bucket(cx: &mut dyn LowerCx, v: VReg, min: i64, max: i64, step: i64) -> VReg {
    let n = lhist_steps(min, max, step);
    let b = cx.reg();
    let l_end = cx.label();
    let lo = imm_or_reg(cx, min);
    cx.mov_imm(b, 0);
    cx.jmp_if(Cond::Slt, v, lo, l_end);
    let hi = imm_or_reg(cx, (i128::from(min) + i128::from(n) * i128::from(step)) as i64);
    cx.mov_imm(b, n + 1);
    cx.jmp_if(Cond::Sge, v, hi, l_end);
    cx.emit(Inst::Mov {
        dst: b,
        src: Operand::Reg(v),
    });
    if min != 0 {
        let lo = imm_or_reg(cx, min);
        cx.emit(Inst::Alu64 {
            op: AluOp::Sub,
            dst: b,
            src: lo,
        });
    }
    let st = imm_or_reg(cx, step);
    cx.emit(Inst::Alu64 {
        op: AluOp::Div,
        dst: b,
        src: st,
    });
    cx.emit(Inst::Alu64 {
        op: AluOp::Add,
        dst: b,
        src: Operand::Imm(1),
    });
    cx.place_label(l_end);
    b
}

/// A constant as an immediate when it fits 32 bits, else in a register.
fn imm_or_reg(cx: &mut dyn LowerCx, v: i64) -> Operand {
    match i32::try_from(v) {
        Ok(i) => Operand::Imm(i),
        Err(_) => {
            let r = cx.reg();
            cx.emit(Inst::LdImm64 { dst: r, imm: v });
            Operand::Reg(r)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_follows_keys_and_buckets() {
        let count = MapValueType::Agg {
            kind: AggKind::Count,
            signed: false,
        };
        assert_eq!(count_storage(&count, true).kind, MapKind::PerCpuArray);
        assert_eq!(count_storage(&count, false).kind, MapKind::PerCpuHash);
        let l = MapValueType::Lhist {
            min: 0,
            max: 100,
            step: 10,
        };
        assert_eq!(lhist_storage(&l, true).keyless_entries, 12);
        assert!(lhist_storage(&l, true).bucket);
        assert_eq!(bucketed(HIST_BUCKETS as u32).keyless_entries, 65);
    }
}
