//! Lowering the checked program to IR: one `ir::Function` per probe. Fed by `sema::Checked`.
