//! Disassembler for encoded eBPF, used by `--dump bpf` (kernel-style mnemonics).
