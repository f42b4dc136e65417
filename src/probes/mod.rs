//! Probe types (providers): parsing attach points, wildcard expansion, context fields,
//! listing (`-l`). One file per provider; fed by the AST's attach point text.

/// One concrete attach point after parsing and wildcard expansion.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Attach {
    /// `BEGIN`: runs once after every probe is attached (a raw_tracepoint program fired with
    /// BPF_PROG_TEST_RUN).
    Begin,
    /// `END`: runs once when the run ends, before maps are printed (fired like BEGIN).
    End,
    /// `tracepoint:CAT:NAME` / `t:CAT:NAME`.
    Tracepoint { category: String, name: String },
    /// `rawtracepoint:NAME` / `rt:NAME`.
    RawTracepoint { name: String },
    /// `interval:s:N`, `interval:ms:N`, `interval:us:N`, `interval:hz:N`: one CPU.
    Interval { period_ns: u64 },
    /// `profile:hz:N`, `profile:s:N`, ...: every CPU.
    Profile { period_ns: u64 },
    /// `software:EVENT:COUNT` (cpu-clock, task-clock, page-faults, ...).
    Software { event: String, count: u64 },
    /// `uprobe:PATH:SYMBOL`, `uprobe:PATH:0xADDR`, `uretprobe:...`.
    Uprobe {
        path: String,
        symbol: Option<String>,
        offset: u64,
        ret: bool,
    },
    /// `kprobe:FUNC`, `kprobe:FUNC+OFF`, `kretprobe:FUNC`.
    Kprobe { func: String, offset: u64, ret: bool },
    /// `kfunc:FUNC` / `fentry:FUNC`, `kretfunc:` / `fexit:`.
    Fentry { func: String, ret: bool },
}

/// One field of a tracepoint's record, from `events/CAT/NAME/format`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TpField {
    pub name: String,
    /// The C type as the format file writes it (`const char *`, `__data_loc char[]`, `int`).
    pub c_type: String,
    /// Byte offset from the start of the record (the context pointer).
    pub offset: u32,
    pub size: u32,
    pub signed: bool,
    /// `__data_loc` field: a u32 holding `offset | len << 16` of a dynamic array in the record.
    pub data_loc: bool,
    /// `char comm[16]` style fixed arrays: the element count.
    pub array_len: Option<u32>,
    /// The type is a pointer (`const char *`).
    pub pointer: bool,
}

/// A tracepoint's record layout (the `common_*` fields left out).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct TpFormat {
    pub fields: Vec<TpField>,
}
