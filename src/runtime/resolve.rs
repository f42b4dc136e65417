//! The running session's side of printing stacks and symbols: stack ids are looked up in the
//! stack maps the session created, addresses named by the run's `Symbolizer` (read on first
//! use). Handed to the decoder (`decode.rs`) for every record and map it decodes.

use crate::bpf::maps::KernelMap;
use crate::object::Object;
use crate::sema::layout::MapKind;
use crate::symbols::{Resolver, Symbolizer, UserSymbol};

/// The kernel maps that records name by index (`Object::maps` indices).
pub(super) trait MapTable {
    fn map(&self, index: usize) -> Option<&KernelMap>;
}

impl MapTable for Vec<KernelMap> {
    fn map(&self, index: usize) -> Option<&KernelMap> {
        self.get(index)
    }
}

/// The session's stack maps and symbols, for one decoding.
pub struct SessionSymbols<'a> {
    /// The stack maps, by the frames they keep.
    stacks: Vec<(u32, &'a KernelMap)>,
    symbols: &'a mut Symbolizer,
}

impl<'a> SessionSymbols<'a> {
    /// The stack maps of `object`, found in `maps` (indexed like `Object::maps`).
    pub fn new(
        object: &Object,
        maps: &'a dyn MapTable,
        symbols: &'a mut Symbolizer,
    ) -> SessionSymbols<'a> {
        let stacks = object
            .maps
            .iter()
            .enumerate()
            .filter(|(_, m)| m.def.kind == MapKind::StackTrace)
            .filter_map(|(i, m)| Some((m.def.value_size / 8, maps.map(i)?)))
            .collect();
        SessionSymbols { stacks, symbols }
    }

    /// Stack maps given directly (the interactive session's, shared by name).
    pub fn with_stacks(
        stacks: Vec<(u32, &'a KernelMap)>,
        symbols: &'a mut Symbolizer,
    ) -> SessionSymbols<'a> {
        SessionSymbols { stacks, symbols }
    }
}

impl Resolver for SessionSymbols<'_> {
    fn stack(&mut self, limit: u32, id: u32) -> Option<Vec<u64>> {
        let (_, map) = self.stacks.iter().find(|(l, _)| *l == limit)?;
        let bytes = map.lookup(&id.to_le_bytes())?;
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
