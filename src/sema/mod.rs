//! Semantic analysis: names, types, and byte layouts of map keys, values and event records.
//! Fed by `ast::Program`; produces `Checked`, which codegen and the runtime decoder share.

pub mod layout;
