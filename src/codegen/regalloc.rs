//! Register allocation over live ranges, spilling to the stack, and the 512-byte frame layout. Fed by `ir::Function`.
