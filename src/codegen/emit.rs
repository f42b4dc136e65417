//! Encoding allocated IR into eBPF instructions through bpf-ins, behind our own assembler layer.
