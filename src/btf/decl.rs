//! Function signatures and record fields as text and offsets: a type written as a C
//! declaration (`struct file *`, `const char *`, `size_t`) as bpftrace 0.17's `-lv` prints
//! kfunc parameters, every kernel function with its prototype (for `-l kfunc:GLOB`), and a
//! struct's fields with anonymous members flattened (an iterator's context). Fed by the
//! probes (kfunc and iter) through the catalogue's BTF.

use super::{Btf, Kind, INT_SIGNED};

/// One field of a record, anonymous structs and unions flattened into their parent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    pub name: String,
    /// The field's type id.
    pub ty: u32,
    /// Its C declaration (`struct task_struct *`, `u32`).
    pub c_type: String,
    /// Bytes from the start of the record.
    pub offset: u32,
    /// Its size in bytes.
    pub size: u32,
    /// A signed integer (after typedefs).
    pub signed: bool,
}

/// The name of a raw tracepoint's probe type in BTF: `btf_trace_sched_switch`.
const RAW_TP_PREFIX: &str = "btf_trace_";

/// Deepest chain of pointers, qualifiers and typedefs written out (a real one is short).
const MAX_DEPTH: u32 = 32;

impl Btf {
    /// Type `id` as a C declaration without a name, as libbpf's `btf_dump__emit_type_decl`
    /// writes it: `struct file *`, `char **`, `const char *`, `size_t`, `void`,
    /// `int (*)(void *, int)`.
    pub fn c_decl(&self, id: u32) -> String {
        self.decl_at(id, 0)
    }

    fn decl_at(&self, id: u32, depth: u32) -> String {
        let Some(t) = self.get(id).filter(|_| depth < MAX_DEPTH) else {
            return "void".into();
        };
        let named = |prefix: &str| {
            if t.name.is_empty() {
                format!("{prefix} {{...}}")
            } else {
                format!("{prefix} {}", t.name)
            }
        };
        match t.kind {
            Kind::Struct => named("struct"),
            Kind::Union => named("union"),
            Kind::Enum | Kind::Enum64 => named("enum"),
            Kind::Fwd if t.kind_flag => named("union"),
            Kind::Fwd => named("struct"),
            Kind::Int | Kind::Float | Kind::Typedef => t.name.to_string(),
            Kind::Ptr => {
                let to = t.size_or_type;
                if self.kind(to) == Kind::FuncProto {
                    return self.fn_pointer(to, depth + 1);
                }
                let inner = self.decl_at(to, depth + 1);
                if inner.ends_with('*') {
                    format!("{inner}*")
                } else {
                    format!("{inner} *")
                }
            }
            Kind::Const | Kind::Volatile | Kind::Restrict => {
                let word = match t.kind {
                    Kind::Const => "const",
                    Kind::Volatile => "volatile",
                    _ => "restrict",
                };
                let inner = self.decl_at(t.size_or_type, depth + 1);
                // A qualified pointer is written after the star: `char * const`.
                if inner.ends_with('*') {
                    format!("{inner} {word}")
                } else {
                    format!("{word} {inner}")
                }
            }
            Kind::Array => {
                let (elem, n) = self.array(id);
                format!("{}[{n}]", self.decl_at(elem, depth + 1))
            }
            Kind::TypeTag | Kind::DeclTag => self.decl_at(t.size_or_type, depth + 1),
            Kind::FuncProto => self.fn_pointer(id, depth + 1),
            Kind::Void | Kind::Func | Kind::Var | Kind::Datasec => "void".into(),
        }
    }

    /// A pointer to the FUNC_PROTO `proto`: `int (*)(struct file *, void *)`.
    fn fn_pointer(&self, proto: u32, depth: u32) -> String {
        let Some(p) = self.get(proto) else {
            return "void *".into();
        };
        let params: Vec<String> = (0..p.vlen as usize)
            .map(|i| match self.word(proto, 2 * i + 1) {
                0 => "...".to_string(),
                ty => self.decl_at(ty, depth + 1),
            })
            .collect();
        let params = if params.is_empty() {
            "void".to_string()
        } else {
            params.join(", ")
        };
        format!("{} (*)({params})", self.decl_at(p.size_or_type, depth + 1))
    }

    /// The fields of the struct or union `name` (`bpf_iter__task` or `struct bpf_iter__task`),
    /// the members of anonymous struct and union members lifted into it with their offsets;
    /// bitfields are left out. `None` when BTF has no such record.
    pub fn record_fields(&self, name: &str) -> Option<Vec<Field>> {
        let id = self.find_record(name)?;
        let mut out = Vec::new();
        self.collect_fields(id, 0, 0, &mut out);
        Some(out)
    }

    fn collect_fields(&self, id: u32, base: u32, depth: u32, out: &mut Vec<Field>) {
        if depth >= MAX_DEPTH {
            return;
        }
        for m in self.members(id) {
            if m.bits != 0 || m.bit_offset % 8 != 0 {
                continue;
            }
            let offset = base + m.bit_offset / 8;
            if m.name.is_empty() {
                let inner = self.resolve(m.ty);
                if matches!(self.kind(inner), Kind::Struct | Kind::Union) {
                    self.collect_fields(inner, offset, depth + 1, out);
                }
                continue;
            }
            let resolved = self.resolve(m.ty);
            let signed =
                self.kind(resolved) == Kind::Int && self.int_encoding(resolved).0 & INT_SIGNED != 0;
            out.push(Field {
                name: m.name.to_string(),
                ty: m.ty,
                c_type: self.c_decl(m.ty),
                offset,
                size: u32::try_from(self.size_of(m.ty)).unwrap_or(0),
                signed,
            });
        }
    }

    /// Every function BTF describes (`FUNC` records with a prototype), in id order, with the
    /// number of its parameters.
    pub fn functions(&self) -> impl Iterator<Item = (&str, usize)> + '_ {
        self.by_kind.funcs.iter().filter_map(move |&id| {
            let f = self.get(id)?;
            let p = self
                .get(f.size_or_type)
                .filter(|p| p.kind == Kind::FuncProto)?;
            Some((f.name, p.vlen as usize))
        })
    }

    /// The kernel's raw tracepoints: the `NAME` of every `btf_trace_NAME` typedef (the type
    /// of a raw tracepoint's BPF probe), sorted.
    pub fn raw_tracepoints(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self
            .by_kind
            .typedefs
            .iter()
            .filter_map(|&id| self.get(id)?.name.strip_prefix(RAW_TP_PREFIX))
            .collect();
        names.sort_unstable();
        names.dedup();
        names
    }

    /// The arguments of raw tracepoint `name`, in order: its `btf_trace_NAME` prototype
    /// without the first parameter (the tracepoint's private data). The prototype's
    /// parameters have no names; those of `__bpf_trace_NAME` (the kernel's own probe, same
    /// parameters) are used when BTF has it, else `argN`. `None` when BTF has no such raw
    /// tracepoint.
    pub fn raw_tracepoint_params(&self, name: &str) -> Option<Vec<super::Param>> {
        let typedef = self.find_typedef(&format!("{RAW_TP_PREFIX}{name}"))?;
        let ptr = self.get(typedef)?.size_or_type;
        let proto = self.get(ptr).filter(|p| p.kind == Kind::Ptr)?.size_or_type;
        let p = self.get(proto).filter(|p| p.kind == Kind::FuncProto)?;
        let types: Vec<u32> = (1..p.vlen as usize)
            .map(|i| self.word(proto, 2 * i + 1))
            .collect();
        let named = self
            .func_proto(&format!("__bpf_trace_{name}"))
            .filter(|f| f.params.len() == types.len() + 1);
        Some(
            types
                .iter()
                .enumerate()
                .map(|(i, &ty)| super::Param {
                    name: named
                        .as_ref()
                        .map_or_else(|| format!("arg{i}"), |f| f.params[i + 1].name.clone()),
                    ty,
                })
                .collect(),
        )
    }

    /// `-lv kfunc:FUNC`'s lines for `func`, as bpftrace 0.17 prints them: each parameter as
    /// `TYPE NAME`, then `TYPE retval` unless the function returns void. `None` when BTF
    /// has no such function.
    pub fn signature_lines(&self, func: &str) -> Option<Vec<String>> {
        let proto = self.func_proto(func)?;
        let mut lines: Vec<String> = proto
            .params
            .iter()
            .map(|p| format!("{} {}", self.c_decl(p.ty), p.name))
            .collect();
        if proto.ret != 0 {
            lines.push(format!("{} retval", self.c_decl(proto.ret)));
        }
        Some(lines)
    }
}

/// BTF bytes of a small kernel for tests: `struct file`, `struct task_struct`, the iterator
/// contexts `bpf_iter__task` and `bpf_iter__task_file` laid out as the kernel declares them
/// (each pointer inside an anonymous union), the functions `bpf_iter_task`,
/// `bpf_iter_task_file`, `vfs_read`, `vfs_write`, `do_exit` (void), `call_it` (a function
/// pointer and a `char **`) and `many` (seven parameters); the raw tracepoints `sched_switch`
/// (with the kernel's named `__bpf_trace_sched_switch`) and `sys_enter` (without).
#[cfg(test)]
pub(crate) fn kernel_fixture() -> Vec<u8> {
    use super::writer::Writer;
    let mut w = Writer::new();
    let int = w.int("int", 4, INT_SIGNED);
    let u32_t = w.int("unsigned int", 4, 0);
    let long = w.int("long int", 8, INT_SIGNED);
    let ulong = w.int("long unsigned int", 8, 0);
    let char_ = w.int("char", 1, super::INT_CHAR | INT_SIGNED);
    let size_t = w.refer(8, "size_t", ulong);
    let ssize_t = w.refer(8, "ssize_t", long);
    let loff_t = w.refer(8, "loff_t", long);
    let u32_td = w.refer(8, "u32", u32_t);
    let comm = w.array(char_, int, 16);
    let task = w.record(
        false,
        "task_struct",
        24,
        &[("pid", int, 0, 0), ("comm", comm, 32, 0)],
    );
    let file = w.record(false, "file", 8, &[("f_pos", loff_t, 0, 0)]);
    let meta = w.record(false, "bpf_iter_meta", 8, &[("seq", ulong, 0, 0)]);
    let meta_ptr = w.ptr(meta);
    let task_ptr = w.ptr(task);
    let file_ptr = w.ptr(file);
    let char_ptr = w.ptr(char_);
    let loff_ptr = w.ptr(loff_t);
    let u_meta = w.record(true, "", 8, &[("meta", meta_ptr, 0, 0)]);
    let u_task = w.record(true, "", 8, &[("task", task_ptr, 0, 0)]);
    let u_file = w.record(true, "", 8, &[("file", file_ptr, 0, 0)]);
    w.record(
        false,
        "bpf_iter__task",
        16,
        &[("", u_meta, 0, 0), ("", u_task, 64, 0)],
    );
    w.record(
        false,
        "bpf_iter__task_file",
        32,
        &[
            ("", u_meta, 0, 0),
            ("", u_task, 64, 0),
            ("fd", u32_td, 128, 0),
            ("", u_file, 192, 0),
        ],
    );
    let iter_task = w.func_proto(int, &[("ctx", meta_ptr), ("task", task_ptr)]);
    w.func("bpf_iter_task", iter_task);
    let iter_file = w.func_proto(
        int,
        &[
            ("ctx", meta_ptr),
            ("task", task_ptr),
            ("fd", u32_td),
            ("file", file_ptr),
        ],
    );
    w.func("bpf_iter_task_file", iter_file);
    let rw = w.func_proto(
        ssize_t,
        &[
            ("file", file_ptr),
            ("buf", char_ptr),
            ("count", size_t),
            ("pos", loff_ptr),
        ],
    );
    w.func("vfs_read", rw);
    let const_char = w.refer(10, "", char_);
    let const_char_ptr = w.ptr(const_char);
    let wr = w.func_proto(
        ssize_t,
        &[
            ("file", file_ptr),
            ("buf", const_char_ptr),
            ("count", size_t),
            ("pos", loff_ptr),
        ],
    );
    w.func("vfs_write", wr);
    let exit = w.func_proto(0, &[("code", long)]);
    w.func("do_exit", exit);
    let callback = w.func_proto(int, &[("", task_ptr), ("", int)]);
    let callback_ptr = w.ptr(callback);
    let char_ptr_ptr = w.ptr(char_ptr);
    let const_ptr = w.refer(10, "", char_ptr);
    let call_it = w.func_proto(
        int,
        &[
            ("fn", callback_ptr),
            ("argv", char_ptr_ptr),
            ("name", const_ptr),
        ],
    );
    w.func("call_it", call_it);
    let seven: Vec<(&str, u32)> = ["a", "b", "c", "d", "e", "f", "g"]
        .iter()
        .map(|n| (*n, long))
        .collect();
    let many = w.func_proto(int, &seven);
    w.func("many", many);
    // Raw tracepoints: sched_switch with the kernel's named probe, sys_enter without.
    let void_ptr = w.ptr(0);
    let switch_params = [
        ("", void_ptr),
        ("", int),
        ("", task_ptr),
        ("", task_ptr),
        ("", u32_t),
    ];
    let switch = w.func_proto(0, &switch_params);
    let switch_ptr = w.ptr(switch);
    w.refer(8, "btf_trace_sched_switch", switch_ptr);
    let named = w.func_proto(
        0,
        &[
            ("__data", void_ptr),
            ("preempt", int),
            ("prev", task_ptr),
            ("next", task_ptr),
            ("prev_state", u32_t),
        ],
    );
    w.func("__bpf_trace_sched_switch", named);
    let enter = w.func_proto(0, &[("", void_ptr), ("", file_ptr), ("", long)]);
    let enter_ptr = w.ptr(enter);
    w.refer(8, "btf_trace_sys_enter", enter_ptr);
    w.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture() -> Btf {
        Btf::parse(kernel_fixture()).expect("fixture BTF parses")
    }

    #[test]
    fn declarations_are_written_as_btf_dump_writes_them() {
        let btf = fixture();
        let lines = |f: &str| btf.signature_lines(f).expect(f);
        assert_eq!(
            lines("vfs_read"),
            [
                "struct file * file",
                "char * buf",
                "size_t count",
                "loff_t * pos",
                "ssize_t retval"
            ]
        );
        assert_eq!(lines("vfs_write")[1], "const char * buf");
        // A void function has no retval line.
        assert_eq!(lines("do_exit"), ["long int code"]);
        assert_eq!(
            lines("call_it"),
            [
                "int (*)(struct task_struct *, int) fn",
                "char ** argv",
                "char * const name",
                "int retval"
            ]
        );
        assert_eq!(btf.signature_lines("nothing"), None);
        assert_eq!(btf.c_decl(0), "void");
    }

    #[test]
    fn functions_are_listed_with_their_parameter_counts() {
        let btf = fixture();
        let all: Vec<(&str, usize)> = btf.functions().collect();
        assert!(all.contains(&("vfs_read", 4)));
        assert!(all.contains(&("do_exit", 1)));
        assert!(all.contains(&("many", 7)));
        assert!(all.contains(&("__bpf_trace_sched_switch", 5)));
        assert_eq!(all.len(), 8);
    }

    #[test]
    fn anonymous_members_are_flattened_with_their_offsets() {
        let btf = fixture();
        let fields = btf.record_fields("bpf_iter__task_file").expect("record");
        let got: Vec<(&str, u32, u32, &str)> = fields
            .iter()
            .map(|f| (f.name.as_str(), f.offset, f.size, f.c_type.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("meta", 0, 8, "struct bpf_iter_meta *"),
                ("task", 8, 8, "struct task_struct *"),
                ("fd", 16, 4, "u32"),
                ("file", 24, 8, "struct file *"),
            ]
        );
        assert!(!fields[2].signed);
        assert_eq!(btf.record_fields("struct no_such"), None);
    }

    /// The machine's own BTF, when it has one: `vfs_read` as bpftrace 0.17 lists it, and the
    /// task iterator's context.
    #[test]
    fn vmlinux_signatures() {
        let path = std::path::Path::new("/sys/kernel/btf/vmlinux");
        if !path.exists() {
            eprintln!("skipped: no {}", path.display());
            return;
        }
        let btf = Btf::open(path).expect("vmlinux BTF parses");
        assert_eq!(
            btf.signature_lines("vfs_read").expect("vfs_read"),
            [
                "struct file * file",
                "char * buf",
                "size_t count",
                "loff_t * pos",
                "ssize_t retval"
            ]
        );
        let task = btf.record_fields("bpf_iter__task").expect("bpf_iter__task");
        let names: Vec<(&str, u32)> = task.iter().map(|f| (f.name.as_str(), f.offset)).collect();
        assert_eq!(names, [("meta", 0), ("task", 8)]);
        assert!(btf.functions().count() > 10_000);
    }
}
