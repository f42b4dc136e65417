//! Decoding kernel bytes (map keys and values, event records) into `Value`s, following the
//! layouts of `sema::types` and `sema::typed`.

use crate::bpf::maps::KernelMap;
use crate::builtins;
use crate::output::value::{AggKind, MapDump, MapValue, Value, HIST_BUCKETS};
use crate::sema::typed::BuiltinId;
use crate::sema::typed::{MapInfo, MapValueType, PrintfInfo};
use crate::sema::types::{Bitfield, Formatted, Type, TypeTable};
use crate::symbols::Resolver;
use std::collections::BTreeMap;
use std::io;

fn u64_at(bytes: &[u8], off: usize) -> u64 {
    let mut w = [0u8; 8];
    if let Some(src) = bytes.get(off..off + 8) {
        w.copy_from_slice(src);
    }
    u64::from_le_bytes(w)
}

/// Decodes a value of type `ty` laid out at the start of `bytes` (rtrace's layout: integers in
/// 8 bytes; C arrays and records as in C memory).
pub fn value(ty: &Type, bytes: &[u8], types: &TypeTable, syms: &mut dyn Resolver) -> Value {
    match ty {
        Type::Int { .. } | Type::Enum(_) if ty.is_signed() => Value::Int(u64_at(bytes, 0) as i64),
        Type::Int { .. } | Type::Ptr { .. } | Type::Enum(_) | Type::Void => {
            Value::UInt(u64_at(bytes, 0))
        }
        Type::Array { .. } | Type::Record(_) => c_value(ty, bytes, types, syms),
        Type::Formatted(f) => formatted(f, bytes, syms),
        Type::Str { size } => {
            let buf = &bytes[..(*size as usize).min(bytes.len())];
            let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
            Value::Str(buf[..end].to_vec())
        }
        // A tuple holds integers at their own size, as C memory does.
        Type::Tuple(elems) => Value::Tuple(
            elems
                .iter()
                .zip(Type::tuple_offsets(elems))
                .map(|(t, o)| {
                    let at = bytes.get(o as usize..).unwrap_or(&[]);
                    match t {
                        Type::Int { size, signed } => int_at(at, *size, *signed),
                        Type::Enum(e) => int_at(at, e.size, e.signed),
                        _ => value(t, at, types, syms),
                    }
                })
                .collect(),
        ),
    }
}

/// Decodes C memory (an array's elements, a record's members): integers at their own size.
/// Pointers print as signed integers, as bpftrace 0.17 prints them inside records.
fn c_value(ty: &Type, bytes: &[u8], types: &TypeTable, syms: &mut dyn Resolver) -> Value {
    let at = |off: u32| bytes.get(off as usize..).unwrap_or(&[]);
    match ty {
        Type::Int { size, .. } => int_at(bytes, *size, ty.is_signed()),
        Type::Enum(e) => int_at(bytes, e.size, e.signed),
        Type::Ptr { .. } => Value::Int(u64_at(bytes, 0) as i64),
        Type::Array { elem, len } => {
            let step = elem.c_size();
            Value::Array(
                (0..*len)
                    .map(|i| c_value(elem, at(i * step), types, syms))
                    .collect(),
            )
        }
        Type::Record(r) => {
            let fields = types
                .record(r)
                .map(|rec| rec.fields.as_slice())
                .unwrap_or(&[]);
            // An anonymous member's members print as the outer record's, as bpftrace does.
            let mut out = Vec::new();
            for f in fields {
                let v = match f.bitfield {
                    Some(b) => bitfield(at(f.offset), &f.ty, b),
                    None => c_value(&f.ty, at(f.offset), types, syms),
                };
                match v {
                    Value::Record(inner) if f.name.is_empty() => out.extend(inner),
                    v => out.push((f.name.clone(), v)),
                }
            }
            Value::Record(out)
        }
        Type::Str { .. } | Type::Tuple(_) | Type::Formatted(_) | Type::Void => {
            value(ty, bytes, types, syms)
        }
    }
}

/// A value its builtin prints: the builtin's `format` hook turns the bytes into text.
fn formatted(f: &Formatted, bytes: &[u8], syms: &mut dyn Resolver) -> Value {
    let raw = bytes.get(..f.size as usize).unwrap_or(bytes);
    match builtins::get(BuiltinId(f.builtin)).format {
        Some(format) => format(raw, f.param.as_deref(), syms),
        None => Value::Str(Vec::new()),
    }
}

/// An integer of `size` bytes at the start of `bytes`, sign-extended when `signed`.
fn int_at(bytes: &[u8], size: u8, signed: bool) -> Value {
    let n = usize::from(size.min(8));
    let mut w = [0u8; 8];
    let src = bytes.get(..n).unwrap_or(&[]);
    w[..src.len()].copy_from_slice(src);
    let raw = u64::from_le_bytes(w);
    let shift = 64 - 8 * n as u32;
    if signed {
        Value::Int(((raw << shift) as i64) >> shift)
    } else {
        Value::UInt(raw)
    }
}

/// A bitfield's value: `bits` bits `shift` bits into its storage unit.
fn bitfield(bytes: &[u8], ty: &Type, b: Bitfield) -> Value {
    let Value::UInt(unit) = int_at(bytes, ty.c_size().clamp(1, 8) as u8, false) else {
        return Value::UInt(0);
    };
    let v = (unit >> b.shift) & (u64::MAX >> (64 - u32::from(b.bits).clamp(1, 64)));
    if ty.is_signed() && b.bits > 0 && v >> (b.bits - 1) & 1 == 1 {
        Value::Int((v | !(u64::MAX >> (64 - u32::from(b.bits)))) as i64)
    } else if ty.is_signed() {
        Value::Int(v as i64)
    } else {
        Value::UInt(v)
    }
}

/// The printf arguments of one event record.
pub fn printf_args(
    info: &PrintfInfo,
    record: &[u8],
    types: &TypeTable,
    syms: &mut dyn Resolver,
) -> Vec<Value> {
    info.args
        .iter()
        .zip(&info.offsets)
        .map(|(t, &o)| value(t, record.get(o as usize..).unwrap_or(&[]), types, syms))
        .collect()
}

/// The printed key of a map entry: `None` without keys, one value, or a tuple of several.
fn key(info: &MapInfo, bytes: &[u8], types: &TypeTable, syms: &mut dyn Resolver) -> Option<Value> {
    match info.keys.len() {
        0 => None,
        1 => Some(value(&info.keys[0], bytes, types, syms)),
        _ => Some(Value::Tuple(
            info.keys
                .iter()
                .zip(info.key_offsets())
                .map(|(t, o)| value(t, bytes.get(o as usize..).unwrap_or(&[]), types, syms))
                .collect(),
        )),
    }
}

/// Reads a whole map from the kernel, combining per-CPU values.
pub fn dump(
    info: &MapInfo,
    map: &KernelMap,
    types: &TypeTable,
    syms: &mut dyn Resolver,
) -> io::Result<MapDump> {
    let kind = info.agg_kind();
    let mut entries = Vec::new();
    match &info.value {
        MapValueType::Plain(ty) => {
            for (k, v) in map.entries()? {
                let k = key(info, &k, types, syms);
                entries.push((k, MapValue::Scalar(value(ty, &v, types, syms))));
            }
        }
        MapValueType::Agg { kind, signed } => {
            for (k, cpus) in map.percpu_entries()? {
                let v = combine(*kind, *signed, &cpus);
                entries.push((key(info, &k, types, syms), v));
            }
        }
        MapValueType::Hist | MapValueType::Lhist { .. } => {
            let user = info.user_key_size() as usize;
            let mut groups: BTreeMap<Vec<u8>, Vec<u64>> = BTreeMap::new();
            let nbuckets = match info.value {
                MapValueType::Lhist { min, max, step } => {
                    crate::output::value::lhist_buckets(min, max, step)
                }
                _ => HIST_BUCKETS,
            };
            for (k, cpus) in map.percpu_entries()? {
                let bucket = u64_at(&k, user) as usize;
                let count: u64 = cpus.iter().map(|c| u64_at(c, 0)).fold(0, u64::wrapping_add);
                let slot = groups
                    .entry(k[..user.min(k.len())].to_vec())
                    .or_insert_with(|| vec![0; nbuckets]);
                if let Some(c) = slot.get_mut(bucket) {
                    *c += count;
                }
            }
            for (k, counts) in groups {
                let v = match info.value {
                    MapValueType::Lhist { min, max, step } => MapValue::Lhist {
                        min,
                        max,
                        step,
                        counts,
                    },
                    _ => MapValue::Hist(counts),
                };
                entries.push((key(info, &k, types, syms), v));
            }
        }
    }
    Ok(MapDump {
        name: info.name.clone(),
        kind,
        entries,
    })
}

/// Combines one entry's per-CPU values of an aggregation.
fn combine(kind: AggKind, signed: bool, cpus: &[Vec<u8>]) -> MapValue {
    let scalar = |v: u64| {
        if signed {
            Value::Int(v as i64)
        } else {
            Value::UInt(v)
        }
    };
    match kind {
        AggKind::Count | AggKind::Sum => {
            let total = cpus.iter().map(|c| u64_at(c, 0)).fold(0, u64::wrapping_add);
            if kind == AggKind::Count {
                MapValue::Scalar(Value::UInt(total))
            } else {
                MapValue::Scalar(scalar(total))
            }
        }
        AggKind::Min | AggKind::Max => {
            let valid = cpus
                .iter()
                .filter(|c| u64_at(c, 8) != 0)
                .map(|c| u64_at(c, 0));
            let best = if signed {
                let vals = valid.map(|v| v as i64);
                let b = if kind == AggKind::Min {
                    vals.min()
                } else {
                    vals.max()
                };
                b.map(|v| v as u64)
            } else if kind == AggKind::Min {
                valid.min()
            } else {
                valid.max()
            };
            MapValue::Scalar(scalar(best.unwrap_or(0)))
        }
        _ => {
            let count = cpus.iter().map(|c| u64_at(c, 0)).fold(0, u64::wrapping_add);
            let total = cpus.iter().map(|c| u64_at(c, 8)).fold(0, u64::wrapping_add) as i64;
            if kind == AggKind::Stats {
                MapValue::Stats { count, total }
            } else {
                MapValue::Avg { count, total }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::symbols::NoSymbols;

    #[test]
    fn values_decode_by_type() {
        let mut b = (-5i64).to_le_bytes().to_vec();
        assert_eq!(
            value(&Type::I64, &b, &TypeTable::default(), &mut NoSymbols),
            Value::Int(-5)
        );
        assert_eq!(
            value(&Type::U64, &b, &TypeTable::default(), &mut NoSymbols),
            Value::UInt((-5i64) as u64)
        );
        b = b"cat\0\0\0\0\0".to_vec();
        assert_eq!(
            value(
                &Type::Str { size: 8 },
                &b,
                &TypeTable::default(),
                &mut NoSymbols
            ),
            Value::Str(b"cat".to_vec())
        );
        let t = Type::Tuple(vec![Type::I64, Type::Str { size: 4 }]);
        let mut bytes = 7i64.to_le_bytes().to_vec();
        bytes.extend_from_slice(b"ab\0\0\0\0\0\0");
        assert_eq!(
            value(&t, &bytes, &TypeTable::default(), &mut NoSymbols),
            Value::Tuple(vec![Value::Int(7), Value::Str(b"ab".to_vec())])
        );
    }

    #[test]
    fn records_and_arrays_decode_as_c_lays_them_out() {
        use crate::sema::types::FieldDecl;
        let mut t = TypeTable::default();
        let int = |size, signed| Type::Int { size, signed };
        let decl = |name: &str, ty, bits| FieldDecl {
            name: name.into(),
            ty,
            bits,
        };
        // struct r { int a; unsigned f : 3; int g : 5; short arr[2]; void *p; }: 24 bytes.
        let rec = t.define_record(
            "struct r",
            false,
            &[
                decl("a", int(4, true), None),
                decl("f", int(4, false), Some(3)),
                decl("g", int(4, true), Some(5)),
                decl(
                    "arr",
                    Type::Array {
                        elem: Box::new(int(2, true)),
                        len: 2,
                    },
                    None,
                ),
                decl("p", Type::KPTR, None),
            ],
        );
        let mut b = Vec::new();
        b.extend_from_slice(&(-7i32).to_le_bytes());
        // f = 5 (bits 0-2), g = -3 (bits 3-7: 0b11101); arr shares their unit, from byte 6.
        b.extend_from_slice(&[5 | (0b11101 << 3), 0]);
        b.extend_from_slice(&3i16.to_le_bytes());
        b.extend_from_slice(&(-4i16).to_le_bytes());
        b.extend_from_slice(&[0; 6]);
        b.extend_from_slice(&(-16i64).to_le_bytes());
        assert_eq!(rec.c_size(), 24);
        let field = |n: &str, v| (n.to_string(), v);
        assert_eq!(
            value(&rec, &b, &t, &mut NoSymbols),
            Value::Record(vec![
                field("a", Value::Int(-7)),
                field("f", Value::UInt(5)),
                field("g", Value::Int(-3)),
                field("arr", Value::Array(vec![Value::Int(3), Value::Int(-4)])),
                field("p", Value::Int(-16)),
            ])
        );
    }

    #[test]
    fn min_ignores_cpus_that_never_wrote() {
        let cpu = |v: i64, valid: u64| {
            let mut b = v.to_le_bytes().to_vec();
            b.extend_from_slice(&valid.to_le_bytes());
            b
        };
        let cpus = vec![cpu(0, 0), cpu(-3, 1), cpu(4, 1)];
        assert_eq!(
            combine(AggKind::Min, true, &cpus),
            MapValue::Scalar(Value::Int(-3))
        );
        assert_eq!(
            combine(AggKind::Max, true, &cpus),
            MapValue::Scalar(Value::Int(4))
        );
    }
}
