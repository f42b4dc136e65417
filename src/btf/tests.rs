//! The reader's tests, on BTF written by `writer.rs` (so no test needs a kernel file): every
//! kind parsed, lookups, conversion into the type table, and the machine's vmlinux when present.

use super::writer::Writer;
use super::*;
use crate::probes::catalogue::{Catalogue, Fixture};
use crate::sema::types::{Bitfield, Type, TypeTable};

/// The ids of `sample()`'s types that tests look at.
pub(crate) struct Sample {
    pub int: u32,
    pub task: u32,
    pub task_ptr: u32,
    pub fwd_ptr: u32,
    pub void_ptr: u32,
    pub const_char_ptr: u32,
    pub u32_t: u32,
    pub packed: u32,
    pub double: u32,
    pub bytes: u32,
    pub old_bits: u32,
}

/// A small BTF with one of every kind: `struct task_struct { int pid; u32_t flags : 3;
/// unsigned state : 5; char comm[16]; struct task_struct *real_parent; union { long a; int b; };
/// enum kind kind; }` (48 bytes), `union bpf_attr`, a packed struct, enums, a typedef, a
/// function `int do_thing(struct task_struct *task, const char *name, ...)`, a float.
pub(crate) fn sample() -> (Vec<u8>, Sample) {
    let mut w = Writer::new();
    let int = w.int("int", 4, INT_SIGNED);
    let char_ = w.int("char", 1, INT_SIGNED);
    let uint = w.int("unsigned int", 4, 0);
    let long = w.int("long", 8, INT_SIGNED);
    let comm = w.array(char_, int, 16);
    let u32_t = w.refer(8, "u32_t", uint);
    let kind = w.enumeration(
        "kind",
        false,
        true,
        &[("K_A", 0), ("K_B", 5), ("K_NEG", -1)],
    );
    let anon = w.record(true, "", 8, &[("a", long, 0, 0), ("b", int, 0, 0)]);
    let task_ptr = w.ptr(w.next_id() + 1);
    let task = w.record(
        false,
        "task_struct",
        48,
        &[
            ("pid", int, 0, 0),
            ("flags", u32_t, 32, 3),
            ("state", uint, 35, 5),
            ("comm", comm, 64, 0),
            ("real_parent", task_ptr, 192, 0),
            ("", anon, 256, 0),
            ("kind", kind, 320, 0),
        ],
    );
    assert_eq!(w.ptr(0), task + 1);
    let void_ptr = task + 1;
    let const_char = w.refer(10, "", char_);
    let const_char_ptr = w.ptr(const_char);
    let proto = w.func_proto(
        int,
        &[("task", task_ptr), ("name", const_char_ptr), ("", 0)],
    );
    w.func("do_thing", proto);
    w.enumeration("big", true, false, &[("BIG", 1 << 40)]);
    let fwd = w.fwd("task_struct", false);
    let fwd_ptr = w.ptr(fwd);
    let double = w.float("double", 8);
    let var = w.var("jiffies", long);
    w.datasec(".data", 8, &[(var, 0, 8)]);
    w.decl_tag("user", task, 0);
    let volatile = w.refer(9, "", int);
    let tagged = w.refer(18, "rcu", volatile);
    let restrict = w.refer(11, "", tagged);
    w.record(true, "bpf_attr", 8, &[("map_type", restrict, 0, 0)]);
    let packed = w.record(false, "packed", 5, &[("c", char_, 0, 0), ("i", int, 8, 0)]);
    let bytes = w.array(u32_t, int, 4);
    let nibble = w.int_bits("unsigned int", 4, 0, 0, 4);
    let old_bits = w.record(false, "old", 8, &[("x", int, 0, 0), ("n", nibble, 36, 0)]);
    let ids = Sample {
        int,
        task,
        task_ptr,
        fwd_ptr,
        void_ptr,
        const_char_ptr,
        u32_t,
        packed,
        double,
        bytes,
        old_bits,
    };
    (w.finish(), ids)
}

fn parsed() -> (Btf, Sample) {
    let (bytes, ids) = sample();
    (Btf::parse(bytes).expect("sample parses"), ids)
}

fn record(t: &Type) -> &crate::sema::types::RecordRef {
    match t {
        Type::Record(r) => r,
        other => panic!("not a record: {other:?}"),
    }
}

#[test]
fn every_kind_is_walked() {
    let (btf, s) = parsed();
    assert_eq!(btf.len(), s.old_bits + 1);
    let kinds: Vec<Kind> = (1..btf.len()).map(|id| btf.kind(id)).collect();
    for k in [
        Kind::Int,
        Kind::Ptr,
        Kind::Array,
        Kind::Struct,
        Kind::Union,
        Kind::Enum,
        Kind::Fwd,
        Kind::Typedef,
        Kind::Volatile,
        Kind::Const,
        Kind::Restrict,
        Kind::Func,
        Kind::FuncProto,
        Kind::Var,
        Kind::Datasec,
        Kind::Float,
        Kind::DeclTag,
        Kind::TypeTag,
        Kind::Enum64,
    ] {
        assert!(kinds.contains(&k), "{k:?} missing");
    }
    let t = btf.get(s.task).unwrap();
    assert_eq!(
        (t.name, t.vlen, t.kind_flag, t.size_or_type),
        ("task_struct", 7, true, 48)
    );
    assert_eq!(btf.get(0), None);
    assert_eq!(btf.get(btf.len()), None);
}

#[test]
fn malformed_files_are_errors() {
    assert!(Btf::parse(vec![]).is_err());
    assert!(Btf::parse(vec![0x9f, 0xeb, 1, 0]).is_err());
    assert!(Btf::parse(vec![0; 64]).unwrap_err().contains("magic"));
    let (bytes, _) = sample();
    // The type section cut in the middle of a record: its length shortened by 4.
    let mut cut = bytes.clone();
    let tl = u32::from_le_bytes(cut[12..16].try_into().unwrap()) - 4;
    cut[12..16].copy_from_slice(&tl.to_le_bytes());
    cut[16..20].copy_from_slice(&tl.to_le_bytes());
    assert!(Btf::parse(cut).unwrap_err().contains("cut short"));
    // Strings past the end of the file.
    let mut long = bytes;
    long[20..24].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(Btf::parse(long).is_err());
}

#[test]
fn the_other_byte_order_is_read() {
    let mut w = Writer::big_endian();
    let int = w.int("int", 4, INT_SIGNED);
    let s = w.record(false, "be", 8, &[("x", int, 32, 0)]);
    let btf = Btf::parse(w.finish()).unwrap();
    assert_eq!(btf.find_record("struct be"), Some(s));
    let m: Vec<Member> = btf.members(s).collect();
    assert_eq!((m[0].name, m[0].ty, m[0].bit_offset), ("x", int, 32));
}

#[test]
fn names_are_found() {
    let (btf, s) = parsed();
    assert_eq!(btf.find_record("struct task_struct"), Some(s.task));
    assert_eq!(btf.find_record("task_struct"), Some(s.task));
    assert_eq!(btf.find_record("union task_struct"), None);
    let attr = btf.find_record("union bpf_attr").unwrap();
    assert_eq!(btf.kind(attr), Kind::Union);
    assert_eq!(btf.find_record("struct bpf_attr"), None);
    assert_eq!(btf.find_record("nothing"), None);
    assert_eq!(btf.find_typedef("u32_t"), Some(s.u32_t));
    assert_eq!(btf.find_typedef("task_struct"), None);
    let kind = btf.find_enum("enum kind").unwrap();
    assert_eq!(btf.find_enum("kind"), Some(kind));
    assert_eq!(btf.find_enum_constant("K_B"), Some((5, kind)));
    assert_eq!(btf.find_enum_constant("K_NEG"), Some((-1, kind)));
    let big = btf.find_enum("big").unwrap();
    assert_eq!(btf.find_enum_constant("BIG"), Some((1 << 40, big)));
    assert_eq!(btf.find_enum_constant("K_C"), None);
    let f = btf.func_proto("do_thing").unwrap();
    let params: Vec<(&str, u32)> = f.params.iter().map(|p| (p.name.as_str(), p.ty)).collect();
    assert_eq!(params, [("task", s.task_ptr), ("name", s.const_char_ptr)]);
    assert_eq!((f.ret, f.variadic), (s.int, true));
    assert_eq!(btf.kind(f.func), Kind::Func);
    assert_eq!(btf.func_proto("jiffies"), None);
}

#[test]
fn types_convert_into_the_table() {
    let (btf, s) = parsed();
    let mut table = TypeTable::default();
    let task = btf.to_type(s.task, &mut table);
    assert_eq!(task.to_string(), "struct task_struct");
    assert_eq!((task.c_size(), task.c_align()), (48, 8));
    assert_eq!(btf.to_type(s.task, &mut table), task, "declared once");
    let ptr = btf.to_type(s.task_ptr, &mut table);
    assert_eq!(
        ptr,
        Type::Ptr {
            user: false,
            to: Some(Box::new(task.clone()))
        }
    );
    // A pointer to a forward declaration points to the definition.
    assert_eq!(btf.to_type(s.fwd_ptr, &mut table), ptr);
    assert_eq!(btf.to_type(s.void_ptr, &mut table), Type::KPTR);
    let char1 = Type::Int {
        size: 1,
        signed: true,
    };
    let ccp = btf.to_type(s.const_char_ptr, &mut table);
    assert_eq!(
        ccp,
        Type::Ptr {
            user: false,
            to: Some(Box::new(char1))
        }
    );
    let u32t = Type::Int {
        size: 4,
        signed: false,
    };
    assert_eq!(btf.to_type(s.u32_t, &mut table), u32t);
    // Arrays of a typedef are arrays, not strings.
    let arr = Type::Array {
        elem: Box::new(u32t),
        len: 4,
    };
    assert_eq!(btf.to_type(s.bytes, &mut table), arr);
    assert_eq!(btf.to_type(0, &mut table), Type::Void);
    // Floats are opaque bytes, and say so.
    let d = btf.to_type(s.double, &mut table);
    assert_eq!(d.c_size(), 8);
    assert!(btf
        .unsupported(s.double)
        .unwrap()
        .contains("floating point"));
    assert_eq!(btf.unsupported(s.task), None);
    let Type::Record(r) = btf.record_type("union bpf_attr", &mut table).unwrap() else {
        panic!()
    };
    assert_eq!((r.name.as_ref(), r.size, r.align), ("union bpf_attr", 8, 4));
}

#[test]
fn records_fill_with_offsets_bitfields_and_strings() {
    let (btf, s) = parsed();
    let mut table = TypeTable::default();
    let task = btf.to_type(s.task, &mut table);
    let r = record(&task);
    assert!(
        table.field(r, "pid").is_none(),
        "members come only when filled"
    );
    btf.fill_record(r, &mut table);
    let f = |n: &str| table.field(r, n).unwrap_or_else(|| panic!("{n}"));
    assert_eq!(
        (f("pid").ty, f("pid").offset),
        (
            Type::Int {
                size: 4,
                signed: true
            },
            0
        )
    );
    assert_eq!(f("comm").ty, Type::Str { size: 16 });
    assert_eq!(f("comm").offset, 8);
    assert_eq!(f("real_parent").offset, 24);
    assert_eq!(
        f("real_parent").ty,
        Type::Ptr {
            user: false,
            to: Some(Box::new(task.clone()))
        }
    );
    assert_eq!(
        (f("flags").offset, f("flags").bitfield),
        (4, Some(Bitfield { shift: 0, bits: 3 }))
    );
    assert_eq!(
        (f("state").offset, f("state").bitfield),
        (4, Some(Bitfield { shift: 3, bits: 5 }))
    );
    // The anonymous union's members are found through it, at its offset.
    assert_eq!(f("a").offset, 32);
    assert_eq!(
        f("b").ty,
        Type::Int {
            size: 4,
            signed: true
        }
    );
    let Type::Enum(e) = f("kind").ty else {
        panic!()
    };
    assert_eq!(
        (e.name.as_ref(), f("kind").offset, e.signed),
        ("enum kind", 40, true)
    );
    assert_eq!(
        table.enum_def(&e).unwrap().values[2],
        ("K_NEG".to_string(), -1)
    );
    // The anonymous union is declared but filled only when asked.
    let Type::Record(anon) = table.record(r).unwrap().fields[5].ty.clone() else {
        panic!()
    };
    assert_eq!(anon.name.as_ref(), "union");
}

#[test]
fn packed_records_and_old_bitfields() {
    let (btf, s) = parsed();
    let mut table = TypeTable::default();
    let packed = btf.to_type(s.packed, &mut table);
    assert_eq!((packed.c_size(), packed.c_align()), (5, 1));
    btf.fill_record(record(&packed), &mut table);
    assert_eq!(table.field(record(&packed), "i").unwrap().offset, 1);
    let old = btf.to_type(s.old_bits, &mut table);
    btf.fill_record(record(&old), &mut table);
    let n = table.field(record(&old), "n").unwrap();
    assert_eq!(
        (n.offset, n.bitfield),
        (4, Some(Bitfield { shift: 4, bits: 4 }))
    );
}

#[test]
fn a_bitfield_crossing_its_unit_is_read_as_a_u64() {
    let mut w = Writer::new();
    let uint = w.int("unsigned int", 4, 0);
    let s = w.record(false, "cross", 8, &[("x", uint, 30, 6)]);
    let btf = Btf::parse(w.finish()).unwrap();
    let mut table = TypeTable::default();
    let t = btf.to_type(s, &mut table);
    btf.fill_record(record(&t), &mut table);
    let x = table.field(record(&t), "x").unwrap();
    assert_eq!(
        (x.offset, x.bitfield),
        (3, Some(Bitfield { shift: 6, bits: 6 }))
    );
    assert_eq!(x.ty, Type::U64);
}

#[test]
fn the_fixture_catalogue_gives_btf() {
    let (bytes, s) = sample();
    let cat = Fixture::new().with_btf(bytes);
    assert_eq!(cat.btf().unwrap().find_record("task_struct"), Some(s.task));
    assert!(Fixture::new().btf().is_err());
    assert!(Fixture::new().with_btf(vec![1, 2, 3]).btf().is_err());
}

/// The machine's own BTF, when it has one: `struct task_struct` and three members.
#[test]
fn vmlinux_task_struct() {
    let path = std::path::Path::new("/sys/kernel/btf/vmlinux");
    if !path.exists() {
        eprintln!("skipped: no {}", path.display());
        return;
    }
    let start = std::time::Instant::now();
    let btf = Btf::open(path).expect("vmlinux BTF parses");
    let parsed = start.elapsed();
    let mut table = TypeTable::default();
    let task = btf
        .record_type("struct task_struct", &mut table)
        .expect("task_struct");
    let r = record(&task).clone();
    btf.fill_record(&r, &mut table);
    let done = start.elapsed();
    eprintln!(
        "vmlinux: {} types; opened and parsed in {parsed:?}, task_struct found and filled in {:?}",
        btf.len(),
        done - parsed
    );
    let f = |n: &str| {
        table
            .field(&r, n)
            .unwrap_or_else(|| panic!("no member {n}"))
    };
    let inside = |off: u32, size: u32| off > 0 && off + size <= r.size;
    assert_eq!(
        f("pid").ty,
        Type::Int {
            size: 4,
            signed: true
        }
    );
    assert!(inside(f("pid").offset, 4));
    assert_eq!(f("comm").ty, Type::Str { size: 16 });
    assert!(inside(f("comm").offset, 16));
    assert_eq!(
        f("real_parent").ty,
        Type::Ptr {
            user: false,
            to: Some(Box::new(task.clone()))
        }
    );
    assert!(inside(f("real_parent").offset, 8));
    // Every named member, bitfields included, lands where BTF's bit offset says.
    let id = btf.find_record("task_struct").unwrap();
    let mut bitfields = 0;
    for m in btf.members(id).filter(|m| !m.name.is_empty()) {
        let field = table.field(&r, m.name).expect(m.name);
        match field.bitfield {
            Some(b) => {
                bitfields += 1;
                let unit = field.ty.c_size();
                assert_eq!(
                    field.offset * 8 + u32::from(b.shift),
                    m.bit_offset,
                    "{}",
                    m.name
                );
                assert_eq!(
                    (field.offset % unit, u32::from(b.bits)),
                    (0, m.bits),
                    "{}",
                    m.name
                );
                assert!(u32::from(b.shift + b.bits) <= unit * 8, "{}", m.name);
            }
            None => assert_eq!(field.offset * 8, m.bit_offset, "{}", m.name),
        }
    }
    assert!(bitfields > 0, "task_struct has bitfields");
    let attr = btf.find_record("union bpf_attr").expect("union bpf_attr");
    assert_eq!(btf.kind(attr), Kind::Union);
    let pid_t = btf.find_typedef("pid_t").expect("pid_t");
    assert_eq!(
        btf.to_type(pid_t, &mut table),
        Type::Int {
            size: 4,
            signed: true
        }
    );
    let (tgid, e) = btf
        .find_enum_constant("PIDTYPE_TGID")
        .expect("PIDTYPE_TGID");
    assert_eq!((tgid, btf.get(e).map(|t| t.name)), (1, Some("pid_type")));
    let f = btf.func_proto("vfs_read").expect("vfs_read");
    let names: Vec<&str> = f.params.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["file", "buf", "count", "pos"]);
    assert!(!f.variadic);
}

/// Cycles that only a malformed file has end instead of recursing forever.
#[test]
fn cycles_in_a_malformed_file_end() {
    let mut w = Writer::new();
    let arr = w.array(1, 0, 2);
    let t1 = w.refer(8, "a", 3);
    let t2 = w.refer(8, "b", 2);
    let p1 = w.ptr(5);
    let p2 = w.ptr(4);
    let s = w.record(false, "self", 8, &[("me", 6, 0, 0)]);
    let var = w.var("v", 7);
    let btf = Btf::parse(w.finish()).unwrap();
    let mut table = TypeTable::default();
    for id in [arr, t1, t2, p1, p2, s, var] {
        btf.to_type(id, &mut table);
        btf.size_of(id);
        btf.align_of(id);
    }
    assert_eq!(btf.to_type(t1, &mut table), Type::Void);
    let rec = btf.to_type(s, &mut table);
    btf.fill_record(record(&rec), &mut table);
    assert_eq!(table.field(record(&rec), "me").unwrap().ty, rec);
}
