//! A run that grows while it runs: the interactive session adds compiled objects to it one at
//! a time (their maps shared by name with what is already loaded, each object with its own ring
//! buffer), detaches single probes, prints and clears maps on demand, and ends with END and the
//! maps as a script's run does. Fed by `interactive` with objects from `compile`; records are
//! decoded and printed by the same code as `Session`'s.
//!
//! Each object added keeps its own tables (printf ids and map indices are the object's own) and
//! its own ring buffer, so a record is always decoded with the tables of the object whose code
//! wrote it. Nothing is pinned: dropping a `Live` detaches and closes everything.

use super::decode;
use super::load::{LoadError, ProgramImage, Programs};
use super::relocate::{self, RunConsts};
use super::resolve::{MapTable, SessionSymbols};
use super::run::{self, RunError, Sink, Tables};
use super::signals;
use crate::bpf::maps::KernelMap;
use crate::bpf::ringbuf::EventReader;
use crate::object::Object;
use crate::output::printf::Format;
use crate::output::value::AggKind;
use crate::output::{self, Buffering, OutputFormat};
use crate::sema::layout::MapKind;
use crate::sema::typed::MapInfo;
use std::io::Write;
use std::os::fd::RawFd;

/// A probe of a live run, numbered from 1 in the order added.
pub type ProbeId = usize;

/// What a live run needs.
pub struct LiveConfig {
    pub format: OutputFormat,
    /// `-p PID`: uprobes filter on it.
    pub pid: Option<i32>,
    /// Where the probes' output goes.
    pub output: Box<dyn Write>,
    /// C++ names in user stacks and symbols are demangled.
    pub demangle: bool,
}

/// A run that programs are added to and detached from while it runs.
pub struct Live {
    /// Declared first so that they drop first: probes are detached before the maps close.
    chunks: Vec<Chunk>,
    maps: Vec<LiveMap>,
    sink: Sink,
    consts: RunConsts,
    pid: Option<i32>,
    next_probe: ProbeId,
}

/// One object added to the run, with its own tables and ring buffer.
struct Chunk {
    /// Each probe's programs; `None` once detached. Declared first: detached first.
    probes: Vec<(ProbeId, Option<Programs>)>,
    reader: EventReader,
    object: Object,
    formats: Vec<Format>,
    /// `Object::maps` index -> index into `Live::maps` (`None`: the chunk's ring buffer).
    index: Vec<Option<usize>>,
}

/// A map of the run: created by the first object that named it, shared by later ones.
struct LiveMap {
    info: MapInfo,
    /// The chunk whose object's types decode it.
    chunk: usize,
    map: KernelMap,
}

/// The stack maps among the run's maps, by the frames they keep.
fn stack_maps(maps: &[LiveMap]) -> Vec<(u32, &KernelMap)> {
    maps.iter()
        .filter(|m| m.info.def.kind == MapKind::StackTrace)
        .map(|m| (m.info.def.value_size / 8, &m.map))
        .collect()
}

/// A chunk's maps as its object numbers them.
struct ChunkMaps<'a> {
    index: &'a [Option<usize>],
    maps: &'a [LiveMap],
}

impl MapTable for ChunkMaps<'_> {
    fn map(&self, index: usize) -> Option<&KernelMap> {
        let live = (*self.index.get(index)?)?;
        self.maps.get(live).map(|m| &m.map)
    }
}

impl Live {
    /// The session's signal handlers: SIGTERM and SIGHUP ask the run to stop
    /// (`stop_requested`), SIGINT only interrupts (`take_interrupt`). Installed once, by the
    /// thread that reads the prompt, before its editor first saves and later restores them.
    pub fn install_signals() {
        signals::install_session();
    }

    /// An empty run: nothing is loaded until `add`.
    pub fn new(cfg: LiveConfig) -> Live {
        Live {
            chunks: Vec::new(),
            maps: Vec::new(),
            sink: Sink::new(
                output::for_format(cfg.format, true),
                cfg.output,
                Buffering::Line,
                cfg.demangle,
            ),
            consts: RunConsts {
                cpid: 0,
                start_ns: relocate::monotonic_ns(),
            },
            pid: cfg.pid,
            next_probe: 1,
        }
    }

    /// The type a map of the run has, if it exists.
    pub fn map_info(&self, name: &str) -> Option<&MapInfo> {
        self.maps
            .iter()
            .find(|m| m.info.name == name)
            .map(|m| &m.info)
    }

    /// Loads and attaches the programs of `object` listed in `groups`, one probe per group, then
    /// fires its BEGIN programs. Maps the run already has are reused (they must have the same
    /// type), the others created. Nothing of the object stays loaded when this fails.
    pub fn add(&mut self, object: Object, groups: &[Vec<usize>]) -> Result<Vec<ProbeId>, RunError> {
        if let Some(p) = object.programs.iter().find(|p| {
            matches!(
                p.attach,
                crate::probes::Attach::Watchpoint { .. }
                    | crate::probes::Attach::WatchpointSetup { .. }
            )
        }) {
            // Placing them needs the run loop of a script (`runtime::watch`).
            return Err(RunError::Message(format!(
                "{}: watchpoints are not supported in the interactive session; run the \
                 script with -e or from a file",
                p.attach
            )));
        }
        for info in &object.maps {
            if let Some(have) = self.map_info(&info.name) {
                if !same_type(have, info) {
                    return Err(RunError::Message(format!(
                        "map {} already exists with another type",
                        info.name
                    )));
                }
            }
        }
        let formats = run::printf_formats(&object)?;
        let first_new = self.maps.len();
        let r = self.add_chunk(object, groups, formats);
        if r.is_err() {
            // The maps this object created are used by nothing else.
            self.maps.truncate(first_new);
        }
        r
    }

    fn add_chunk(
        &mut self,
        object: Object,
        groups: &[Vec<usize>],
        formats: Vec<Format>,
    ) -> Result<Vec<ProbeId>, RunError> {
        let chunk_no = self.chunks.len();
        let mut index = Vec::with_capacity(object.maps.len());
        let mut ring = None;
        for (i, info) in object.maps.iter().enumerate() {
            if i == object.ringbuf as usize || info.def.kind == MapKind::RingBuf {
                ring = Some(create(info)?);
                index.push(None);
                continue;
            }
            match self.maps.iter().position(|m| m.info.name == info.name) {
                Some(j) => index.push(Some(j)),
                None => {
                    let map = create(info)?;
                    self.maps.push(LiveMap {
                        info: info.clone(),
                        chunk: chunk_no,
                        map,
                    });
                    index.push(Some(self.maps.len() - 1));
                }
            }
        }
        let ring =
            ring.ok_or_else(|| RunError::Message("the program has no ring buffer".into()))?;
        let mut loaded = Vec::with_capacity(groups.len());
        for group in groups {
            let maps = &self.maps;
            let fd = |id: crate::codegen::ir::MapId| -> Option<i32> {
                match index.get(id.0 as usize)? {
                    Some(j) => maps.get(*j).map(|m| m.map.fd()),
                    None => Some(ring.fd()),
                }
            };
            let images = group
                .iter()
                .map(|&p| {
                    let prog = object.programs.get(p).ok_or_else(|| {
                        RunError::Message(format!("the object has no program {p}"))
                    })?;
                    let insns =
                        relocate::apply(&prog.code, fd, &self.consts).map_err(RunError::Message)?;
                    Ok(ProgramImage {
                        name: prog.code.name.clone(),
                        attach: prog.attach.clone(),
                        insns,
                    })
                })
                .collect::<Result<Vec<_>, RunError>>()?;
            let in_object = |e: LoadError| run::load_error(in_group(e, group), &object);
            let mut programs = Programs::load(&images).map_err(in_object)?;
            programs.attach_for(self.pid, None).map_err(in_object)?;
            loaded.push((group.clone(), programs));
        }
        let reader =
            EventReader::new(ring).map_err(|e| RunError::Message(format!("ring buffer: {e}")))?;
        let mut ids = Vec::with_capacity(loaded.len());
        let mut probes = Vec::with_capacity(loaded.len());
        for (_, programs) in loaded {
            ids.push(self.next_probe);
            probes.push((self.next_probe, Some(programs)));
            self.next_probe += 1;
        }
        self.chunks.push(Chunk {
            probes,
            reader,
            object,
            formats,
            index,
        });
        if let Some(chunk) = self.chunks.last() {
            for (_, programs) in &chunk.probes {
                if let Some(p) = programs {
                    p.run_begin()
                        .map_err(|e| run::load_error(e, &chunk.object))?;
                }
            }
        }
        self.drain()?;
        self.run_iterators()?;
        Ok(ids)
    }

    /// Runs the iterators of the chunk just added (an `iter:task` probe) once, to their end,
    /// printing their records as they come; an interrupt or exit() stops the iteration.
    fn run_iterators(&mut self) -> Result<(), RunError> {
        let links: Vec<RawFd> = self
            .chunks
            .last()
            .map(|c| {
                c.probes
                    .iter()
                    .filter_map(|(_, p)| p.as_ref())
                    .flat_map(Programs::iter_links)
                    .collect()
            })
            .unwrap_or_default();
        for link in links {
            let mut failed = None;
            let r = crate::probes::iter::run(link, &mut || {
                if let Err(e) = self.drain() {
                    failed = Some(e);
                    return Ok(false);
                }
                Ok(!self.exited() && !signals::stopped() && !signals::take_interrupt())
            });
            if let Some(e) = failed {
                return Err(e);
            }
            r.map_err(|e| RunError::Message(format!("cannot read the iterator: {e}")))?;
        }
        Ok(())
    }

    /// Detaches probe `id`; false when there is no such probe attached. Its output until then
    /// is printed first.
    pub fn detach(&mut self, id: ProbeId) -> Result<bool, RunError> {
        self.drain()?;
        let found = self
            .chunks
            .iter_mut()
            .flat_map(|c| c.probes.iter_mut())
            .find(|(p, programs)| *p == id && programs.is_some())
            .and_then(|(_, programs)| programs.take());
        let Some(programs) = found else {
            return Ok(false);
        };
        drop(programs);
        self.drain()?;
        Ok(true)
    }

    /// The fds to poll for records.
    pub fn poll_fds(&self) -> Vec<RawFd> {
        self.chunks.iter().map(|c| c.reader.raw_fd()).collect()
    }

    /// Prints every waiting record.
    pub fn drain(&mut self) -> Result<(), RunError> {
        let maps = &self.maps;
        for c in &mut self.chunks {
            let tables = Tables {
                object: &c.object,
                maps: &ChunkMaps {
                    index: &c.index,
                    maps,
                },
                formats: &c.formats,
            };
            self.sink.drain(&mut c.reader, &tables)?;
        }
        self.sink.flush()
    }

    /// Drops every waiting record and output not yet written (Ctrl-C at the prompt).
    pub fn discard(&mut self) {
        for c in &mut self.chunks {
            c.reader.drain(|_| {});
        }
        self.sink.out.clear();
    }

    /// A probe called exit().
    pub fn exited(&self) -> bool {
        self.sink.exit
    }

    /// SIGTERM or SIGHUP arrived.
    pub fn stop_requested() -> bool {
        signals::stopped()
    }

    /// SIGINT arrived since the last call.
    pub fn take_interrupt() -> bool {
        signals::take_interrupt()
    }

    /// Sends the output somewhere else from now on.
    pub fn set_output(&mut self, output: Box<dyn Write>) {
        self.sink.writer = output;
    }

    /// Prints map `name` now; false when the run has no such map.
    pub fn print_map(&mut self, name: &str) -> Result<bool, RunError> {
        self.drain()?;
        let Some(m) = self.maps.iter().find(|m| m.info.name == name) else {
            return Ok(false);
        };
        let types = match self.chunks.get(m.chunk) {
            Some(c) => &c.object.types,
            None => return Ok(false),
        };
        let mut syms = SessionSymbols::with_stacks(stack_maps(&self.maps), &mut self.sink.symbols);
        let d = decode::dump(&m.info, &m.map, types, &mut syms)
            .map_err(|e| RunError::Message(format!("map {name}: {e}")))?;
        self.sink.printer.map(&mut self.sink.out, &d, 0, 1);
        self.sink.flush()?;
        Ok(true)
    }

    /// Empties map `name` as clear() does; false when the run has no such map.
    pub fn clear_map(&mut self, name: &str) -> Result<bool, RunError> {
        self.drain()?;
        let Some(m) = self.maps.iter().find(|m| m.info.name == name) else {
            return Ok(false);
        };
        // As clear(): a key-less count() stays, at zero.
        let r = if m.info.keys.is_empty() && m.info.agg_kind() == AggKind::Count {
            m.map.zero()
        } else {
            m.map.clear()
        };
        r.map_err(|e| RunError::Message(format!("map {name}: {e}")))?;
        Ok(true)
    }

    /// The end: END programs of the probes still attached fire in the order they were added,
    /// then lost events and every map are printed, as at the end of a script's run.
    pub fn finish(&mut self) -> Result<(), RunError> {
        for c in &self.chunks {
            for p in c.probes.iter().filter_map(|(_, p)| p.as_ref()) {
                p.run_end().map_err(|e| run::load_error(e, &c.object))?;
            }
        }
        self.drain()?;
        let lost: u64 = self
            .maps
            .iter()
            .filter(|m| m.info.internal && m.info.name == "lost")
            .map(|m| run::lost_events(&m.map))
            .sum();
        let mut order: Vec<&LiveMap> = self.maps.iter().filter(|m| !m.info.internal).collect();
        order.sort_by(|a, b| a.info.name.cmp(&b.info.name));
        let chunks = &self.chunks;
        let mut syms = SessionSymbols::with_stacks(stack_maps(&self.maps), &mut self.sink.symbols);
        let dumps = run::user_map_dumps(
            order.into_iter().filter_map(|m| {
                chunks
                    .get(m.chunk)
                    .map(|c| (&m.info, Some(&m.map), &c.object.types))
            }),
            &mut syms,
        )?;
        self.sink.finish(lost, &dumps).map(|_| ())
    }
}

/// Whether a map named by a new object is the one the run has: same keys, value and storage.
pub fn same_type(a: &MapInfo, b: &MapInfo) -> bool {
    a.keys == b.keys && a.value == b.value && a.def == b.def
}

fn create(info: &MapInfo) -> Result<KernelMap, RunError> {
    KernelMap::create(&info.def)
        .map_err(|e| RunError::Message(format!("cannot create BPF map '{}': {e}", info.name)))
}

/// A loader error about program `i` of `group` made about the object's program `group[i]`.
fn in_group(e: LoadError, group: &[usize]) -> LoadError {
    let at = |i: usize| group.get(i).copied().unwrap_or(usize::MAX);
    match e {
        LoadError::Verifier { program, insn, log } => LoadError::Verifier {
            program: at(program),
            insn,
            log,
        },
        LoadError::Attach { program, message } => LoadError::Attach {
            program: at(program),
            message,
        },
        other => other,
    }
}
