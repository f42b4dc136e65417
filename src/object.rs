//! The compiled script: every program encoded with its relocations, the maps to create and
//! the event tables the run loop reads. Produced by `compile` (lib.rs), consumed by the
//! dumps and by `runtime::Session`.

use crate::codegen::{ir, Encoded};
use crate::probes::Attach;
use crate::sema::typed::{MapIdx, MapInfo, PrintfInfo};
use crate::sema::types::TypeTable;
use crate::source::Span;

pub use crate::codegen::ir::RuntimeConst;
pub use crate::codegen::{RelocKind, Relocation};

/// Everything a run needs from the script, computed once and without touching the kernel,
/// the clock or any process: `--dump ir`, `--dump bpf`, `--compile-only` and a real run all
/// read the same one.
#[derive(Clone, Debug, PartialEq)]
pub struct Object {
    /// One program per (probe, attach point), in script order.
    pub programs: Vec<Program>,
    /// The maps to create, indexed by `ir::MapId`: user maps in name order, then internal ones.
    pub maps: Vec<MapInfo>,
    /// printf and system() calls, indexed by the id in their event records.
    pub printfs: Vec<PrintfInfo>,
    /// The ring buffer carrying events to userspace.
    pub ringbuf: MapIdx,
    /// The one-entry array counting events the ring buffer had no room for.
    pub lost: MapIdx,
    /// The C structs, unions and enums of the values above, for decoding them.
    pub types: TypeTable,
    /// The compiler's warnings about the script (printed unless `--no-warnings`).
    pub warnings: Vec<crate::diag::Diagnostic>,
}

/// One probe's program.
#[derive(Clone, Debug, PartialEq)]
pub struct Program {
    pub attach: Attach,
    /// The attach point as written (after wildcard expansion), for messages.
    pub attach_text: String,
    /// Where the attach point is in the script: attach failures point there.
    pub attach_span: Span,
    /// The IR it was encoded from, for `--dump ir`.
    pub ir: ir::Function,
    /// Its instructions, their source spans and relocations; the name is the kernel's.
    pub code: Encoded,
}

impl Program {
    /// The program's name: a C identifier, unique in the object.
    pub fn name(&self) -> &str {
        &self.code.name
    }
}
