//! Decoding kernel bytes (map keys and values, event records) into `Value`s, following the
//! layouts of `sema::types` and `sema::typed`.

use crate::bpf::maps::KernelMap;
use crate::output::value::{AggKind, MapDump, MapValue, Value, HIST_BUCKETS};
use crate::sema::typed::{MapInfo, MapValueType, PrintfInfo};
use crate::sema::types::Type;
use std::collections::BTreeMap;
use std::io;

fn u64_at(bytes: &[u8], off: usize) -> u64 {
    let mut w = [0u8; 8];
    if let Some(src) = bytes.get(off..off + 8) {
        w.copy_from_slice(src);
    }
    u64::from_le_bytes(w)
}

/// Decodes a value of type `ty` laid out at the start of `bytes`.
pub fn value(ty: &Type, bytes: &[u8]) -> Value {
    match ty {
        Type::Int { signed: true, .. } => Value::Int(u64_at(bytes, 0) as i64),
        Type::Int { .. } | Type::Ptr { .. } | Type::Void => Value::UInt(u64_at(bytes, 0)),
        Type::Str { size } => {
            let buf = &bytes[..(*size as usize).min(bytes.len())];
            let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
            Value::Str(buf[..end].to_vec())
        }
        Type::Tuple(elems) => Value::Tuple(
            elems
                .iter()
                .zip(Type::tuple_offsets(elems))
                .map(|(t, o)| value(t, bytes.get(o as usize..).unwrap_or(&[])))
                .collect(),
        ),
    }
}

/// The printf arguments of one event record.
pub fn printf_args(info: &PrintfInfo, record: &[u8]) -> Vec<Value> {
    info.args
        .iter()
        .zip(&info.offsets)
        .map(|(t, &o)| value(t, record.get(o as usize..).unwrap_or(&[])))
        .collect()
}

/// The printed key of a map entry: `None` without keys, one value, or a tuple of several.
fn key(info: &MapInfo, bytes: &[u8]) -> Option<Value> {
    match info.keys.len() {
        0 => None,
        1 => Some(value(&info.keys[0], bytes)),
        _ => Some(Value::Tuple(
            info.keys
                .iter()
                .zip(info.key_offsets())
                .map(|(t, o)| value(t, bytes.get(o as usize..).unwrap_or(&[])))
                .collect(),
        )),
    }
}

/// Reads a whole map from the kernel, combining per-CPU values.
pub fn dump(info: &MapInfo, map: &KernelMap) -> io::Result<MapDump> {
    let kind = info.agg_kind();
    let mut entries = Vec::new();
    match &info.value {
        MapValueType::Plain(ty) => {
            for (k, v) in map.entries()? {
                entries.push((key(info, &k), MapValue::Scalar(value(ty, &v))));
            }
        }
        MapValueType::Agg { kind, signed } => {
            for (k, cpus) in map.percpu_entries()? {
                let v = combine(*kind, *signed, &cpus);
                entries.push((key(info, &k), v));
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
                entries.push((key(info, &k), v));
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

    #[test]
    fn values_decode_by_type() {
        let mut b = (-5i64).to_le_bytes().to_vec();
        assert_eq!(value(&Type::I64, &b), Value::Int(-5));
        assert_eq!(value(&Type::U64, &b), Value::UInt((-5i64) as u64));
        b = b"cat\0\0\0\0\0".to_vec();
        assert_eq!(
            value(&Type::Str { size: 8 }, &b),
            Value::Str(b"cat".to_vec())
        );
        let t = Type::Tuple(vec![Type::I64, Type::Str { size: 4 }]);
        let mut bytes = 7i64.to_le_bytes().to_vec();
        bytes.extend_from_slice(b"ab\0\0\0\0\0\0");
        assert_eq!(
            value(&t, &bytes),
            Value::Tuple(vec![Value::Int(7), Value::Str(b"ab".to_vec())])
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
