//! Code generation: checked program -> IR (`lower`) -> registers and frame (`regalloc`) ->
//! encoded eBPF (`emit`), with a disassembler (`disasm`) for `--dump bpf`.

pub mod disasm;
pub mod emit;
pub mod ir;
pub mod lower;
pub mod regalloc;
