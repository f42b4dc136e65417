//! The running session's side of printing stacks and symbols: stack ids are looked up in the
//! stack maps the session created, addresses named by the run's `Symbolizer` (read on first
//! use). Handed to the decoder (`decode.rs`) for every record and map it decodes.

use crate::bpf::maps::KernelMap;
use crate::object::Object;
use crate::sema::layout::MapKind;
use crate::symbols::{Resolver, Symbolizer, UserSymbol};

/// The session's maps and symbols, for one decoding.
pub struct SessionSymbols<'a> {
    pub object: &'a Object,
    /// Indexed like `Object::maps`.
    pub maps: &'a [KernelMap],
    pub symbols: &'a mut Symbolizer,
}

impl Resolver for SessionSymbols<'_> {
    fn stack(&mut self, limit: u32, id: u32) -> Option<Vec<u64>> {
        let index = self
            .object
            .maps
            .iter()
            .position(|m| m.def.kind == MapKind::StackTrace && m.def.value_size == 8 * limit)?;
        let bytes = self.maps.get(index)?.lookup(&id.to_le_bytes())?;
        Some(
            bytes
                .chunks_exact(8)
                .map(|c| u64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
                .take_while(|&a| a != 0)
                .collect(),
        )
    }

    fn kernel(&mut self, addr: u64) -> Option<(String, u64)> {
        self.symbols.kernel(addr)
    }

    fn user(&mut self, addr: u64, pid: u32) -> Option<UserSymbol> {
        self.symbols.user(addr, pid)
    }
}
