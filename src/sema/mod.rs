//! Semantic analysis: names, types, and byte layouts of map keys, values and event records.
//! Fed by `ast::Program`; produces `Checked`, which codegen and the runtime decoder share.

#[cfg(test)]
mod btf_args_tests;
mod call;
mod ctypes;
pub mod dump;
mod expr;
pub(crate) mod headers;
pub mod layout;
mod stmt;
pub mod typed;
pub mod types;
mod usdt;

use crate::ast;
use crate::diag::Diagnostic;
use crate::probes::{self, Attach, Catalogue, TpFormat};
use crate::source::Span;
use layout::{MapDef, MapKind};
use std::collections::{BTreeSet, HashMap};
use typed::*;
use types::{Type, TypeTable};

/// What the checker needs to know beyond the script.
#[derive(Clone, Debug)]
pub struct Env {
    /// Positional parameters `$1...`.
    pub params: Vec<String>,
    /// `-c CMD` was given, so `cpid` has a value.
    pub has_command: bool,
    /// `--unsafe` was given.
    pub unsafe_actions: bool,
    /// The size of string buffers that `str()` and friends read (`BPFTRACE_STRLEN`).
    pub strlen: u32,
    /// Entries a map with keys holds (`BPFTRACE_MAP_KEYS_MAX`).
    pub map_keys_max: u32,
    /// The most probes one script may attach (`BPFTRACE_MAX_PROBES`).
    pub max_probes: usize,
    /// An interactive session: probes typed at different times are checked together, so
    /// BEGIN and END may each appear more than once (each runs once, when it is typed or at
    /// the end).
    pub session: bool,
    /// `-p PID`: usdt probes come from the files this process maps.
    pub pid: Option<i32>,
    /// The most BPF programs one script may generate, one per attach point
    /// (`BPFTRACE_MAX_BPF_PROGS`).
    pub max_programs: usize,
}

impl Default for Env {
    /// bpftrace 0.17's defaults.
    fn default() -> Env {
        Env {
            params: Vec::new(),
            has_command: false,
            unsafe_actions: false,
            strlen: types::STRLEN,
            map_keys_max: MAP_MAX_ENTRIES,
            max_probes: 512,
            session: false,
            pid: None,
            max_programs: 512,
        }
    }
}

/// bpftrace's default for the entries of a map with keys (`BPFTRACE_MAP_KEYS_MAX`).
pub const MAP_MAX_ENTRIES: u32 = 4096;
/// Ring buffer size: a power-of-two multiple of the page size.
pub const RINGBUF_BYTES: u32 = 1 << 20;

/// Checks a parsed program against the environment and this machine (tracepoint formats,
/// symbols: `probes::system::catalogue`); on success every expression is typed and every map,
/// variable and printf record has a layout.
pub fn check(prog: &ast::Program, env: &Env) -> Result<Checked, Vec<Diagnostic>> {
    check_with(prog, env, probes::system::catalogue_for(env.pid))
}

/// `check` with the machine's facts taken from `catalogue` (a fixture in tests): sema itself
/// reads no file and asks no kernel.
pub fn check_with(
    prog: &ast::Program,
    env: &Env,
    catalogue: &dyn Catalogue,
) -> Result<Checked, Vec<Diagnostic>> {
    let mut names = BTreeSet::new();
    collect_map_names(prog, &mut names);
    let mut checker = Checker {
        env,
        catalogue,
        diags: Vec::new(),
        warnings: Vec::new(),
        report: false,
        map_ids: names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.clone(), i as u32))
            .collect(),
        maps: names.iter().map(|n| MapDecl::new(n)).collect(),
        printfs: Vec::new(),
        vars: HashMap::new(),
        var_types: Vec::new(),
        probe_index: 0,
        ctx: ProbeCtx::default(),
        loop_depth: 0,
        in_str: false,
        types: TypeTable::default(),
        structs: HashMap::new(),
        defines: HashMap::new(),
        stack_limits: Vec::new(),
        dwarves: HashMap::new(),
    };
    checker.report = true;
    checker.define_structs(prog);
    // The C definitions come first, as a C compiler reads them: their errors alone.
    if checker.diags.iter().any(|d| d.in_c) {
        return Err(checker.diags);
    }
    checker.report = false;
    if prog.probes.is_empty() {
        let end = prog.span.end as usize;
        return Err(vec![Diagnostic::error(
            Span::new(end, end),
            "the script has no probes",
        )
        .with_note(
            "a probe looks like: BEGIN { printf(\"hello\\n\"); exit(); }",
        )]);
    }
    let targets = expand_attach_points(prog, &env.params, catalogue, env.session)?;
    // BEGIN and END run once each: a second one is an error, as in bpftrace.
    for special in [Attach::Begin, Attach::End] {
        if env.session {
            break;
        }
        let name = if special == Attach::Begin {
            "BEGIN"
        } else {
            "END"
        };
        if let Some(t) = targets.iter().filter(|t| t.1 == special).nth(1) {
            return Err(vec![Diagnostic::error(
                t.4,
                format!("more than one {name} probe is defined"),
            )
            .with_note(format!("put everything {name} does in one {name} probe"))]);
        }
    }
    // rtrace generates one program per attach point (after wildcards); bpftrace checks this
    // limit first, as it generates them.
    if targets.len() > env.max_programs {
        let (n, max) = (targets.len(), env.max_programs);
        return Err(vec![Diagnostic::spanless(format!(
            "Your program is trying to generate {n} BPF programs, which exceeds the current \
             limit of {max}"
        ))
        .with_note(
            "You can increase the limit through the BPFTRACE_MAX_BPF_PROGS environment variable",
        )]);
    }
    let max = env.max_probes;
    if targets.len() > max {
        let ap = prog
            .probes
            .iter()
            .flat_map(|p| &p.attach_points)
            .last()
            .map_or(prog.span, |a| a.span);
        return Err(vec![Diagnostic::error(
            ap,
            format!(
                "this script attaches {} probes, more than the limit of {max}",
                targets.len()
            ),
        )
        .with_note(
            "set RTRACE_MAX_PROBES (or BPFTRACE_MAX_PROBES) to raise the limit",
        )]);
    }
    // Quiet passes learn map and variable types from every assignment until they stop
    // changing (a type learned late can widen another); a last pass checks and reports.
    let mut probes = Vec::new();
    let mut last_state = None;
    for pass in 0..=MAX_TYPE_PASSES {
        let state = checker.type_state();
        let settled = last_state.as_ref() == Some(&state) || pass == MAX_TYPE_PASSES;
        last_state = Some(state);
        checker.report = settled;
        checker.printfs.clear();
        probes.clear();
        for (i, (probe, attach, text, format, ap_span)) in targets.iter().enumerate() {
            checker.begin_probe(i, attach.clone(), text.clone(), format.clone());
            probes.push(checker.probe(probe, attach, text, *ap_span));
        }
        if settled {
            break;
        }
    }
    if !checker.diags.is_empty() {
        return Err(dedup(checker.diags));
    }
    let mut maps = Vec::new();
    for decl in &checker.maps {
        match decl.finish(env.map_keys_max) {
            Ok(m) => maps.push(m),
            Err(d) => checker.diags.push(d),
        }
    }
    if !checker.diags.is_empty() {
        return Err(dedup(checker.diags));
    }
    let ringbuf = maps.len() as u32;
    maps.push(internal_map(
        "ringbuf",
        MapKind::RingBuf,
        0,
        0,
        RINGBUF_BYTES,
    ));
    let lost = maps.len() as u32;
    // The events lost, then whether exit() was called (events lost after it are not).
    maps.push(internal_map("lost", MapKind::Array, 4, 16, 1));
    for &limit in &checker.stack_limits {
        debug_assert_eq!(
            maps.len() as u32,
            stack_map_index(checker.maps.len(), &checker.stack_limits, limit)
        );
        maps.push(internal_map(
            "stack",
            MapKind::StackTrace,
            4,
            8 * limit,
            STACK_MAP_ENTRIES,
        ));
    }
    Ok(Checked {
        probes,
        warnings: checker.warnings,
        maps,
        printfs: checker.printfs,
        ringbuf,
        lost,
        types: checker.types,
    })
}

/// Stacks a stack map holds, as bpftrace 0.17 sizes them: distinct stacks hash into this
/// many buckets, and a stack whose bucket holds another is lost (`bpf_get_stackid` fails).
pub const STACK_MAP_ENTRIES: u32 = 128 << 10;

/// The index in `Checked::maps` of the stack map of `limit` frames: after the user maps, the
/// ring buffer and the lost counter, in first-use order.
fn stack_map_index(user_maps: usize, limits: &[u32], limit: u32) -> u32 {
    let pos = limits
        .iter()
        .position(|&l| l == limit)
        .unwrap_or(limits.len());
    (user_maps + 2 + pos) as u32
}

/// Type-learning passes before the reporting pass, at most (each widening takes one).
const MAX_TYPE_PASSES: usize = 8;

/// A map of rtrace's own (ring buffer, lost counter, stacks, scratch space): never printed.
pub(crate) fn internal_map(
    name: &str,
    kind: MapKind,
    key: u32,
    value: u32,
    entries: u32,
) -> MapInfo {
    MapInfo {
        name: name.to_string(),
        keys: Vec::new(),
        value: MapValueType::Plain(Type::Void),
        def: MapDef {
            name: name.to_string(),
            kind,
            key_size: key,
            value_size: value,
            max_entries: entries,
        },
        internal: true,
    }
}

/// The diagnostics once each, without those that follow from an earlier one: an error on an
/// expression holding a part already reported (`printf("%s", macaddr(x))` with a bad `x` is
/// not also a `%s` of an integer).
fn dedup(diags: Vec<Diagnostic>) -> Vec<Diagnostic> {
    let mut out: Vec<Diagnostic> = Vec::new();
    for d in diags {
        let follows = d.span.is_some_and(|outer| {
            out.iter()
                .filter_map(|e| e.span)
                .any(|inner| outer.start <= inner.start && inner.end <= outer.end)
        });
        if !follows && !out.contains(&d) {
            out.push(d);
        }
    }
    out
}

type TypeState = (
    Vec<(Option<Vec<Type>>, Option<MapValueType>)>,
    Vec<Vec<(String, Type)>>,
);

type Target<'a> = (&'a ast::Probe, Attach, String, Option<TpFormat>, Span);

/// Expands every attach point (wildcards included) into one target each, with the
/// tracepoint formats the catalogue gives.
/// An interactive session (`session`) runs each iterator when its probe is added, so an iter
/// probe may sit beside others there.
fn expand_attach_points<'p>(
    prog: &'p ast::Program,
    params: &[String],
    catalogue: &dyn Catalogue,
    session: bool,
) -> Result<Vec<Target<'p>>, Vec<Diagnostic>> {
    let mut out = Vec::new();
    let mut diags = Vec::new();
    for probe in &prog.probes {
        for ap in &probe.attach_points {
            let raw = match positional_in_attach(&ap.raw, params) {
                Ok(raw) => raw,
                Err(e) => {
                    diags.push(Diagnostic::error(ap.span, e));
                    continue;
                }
            };
            match probes::parse_attach(&raw, catalogue) {
                Ok(list) => {
                    for attach in list {
                        let format = match &attach {
                            Attach::Tracepoint { category, name } => {
                                match catalogue.format(category, name) {
                                    Ok(f) => Some(f),
                                    Err(e) => {
                                        diags.push(Diagnostic::error(ap.span, e));
                                        continue;
                                    }
                                }
                            }
                            // A uprobe's `args` come from the file's DWARF, read when a
                            // script uses them (`Checker::tracepoint_field`).
                            // A kfunc's arguments (and kretfunc's return value) from the
                            // function's BTF prototype.
                            Attach::Fentry { func, ret } => catalogue
                                .btf()
                                .ok()
                                .and_then(|b| probes::kfunc::args_format(b, func, *ret)),
                            // An iterator's context: `struct bpf_iter__NAME` from BTF (parsing
                            // has already said why a kernel without it cannot run one).
                            Attach::Iter { name, .. } => catalogue
                                .btf()
                                .and_then(|b| probes::iter::context_fields(b, name))
                                .ok(),
                            _ => None,
                        };
                        let text = probes::display_name(&attach, &raw);
                        out.push((probe, attach, text, format, ap.span));
                    }
                }
                Err(e) => diags.push(Diagnostic::error(ap.span, e)),
            }
        }
    }
    if !session {
        iter_alone(prog, &out, &mut diags);
    }
    if diags.is_empty() {
        Ok(out)
    } else {
        Err(diags)
    }
}

/// An iter probe runs the iterator once and the run ends: it must be the script's only
/// probe besides BEGIN and END, with one attach point (as bpftrace 0.17 requires).
fn iter_alone(prog: &ast::Program, targets: &[Target<'_>], diags: &mut Vec<Diagnostic>) {
    let Some((iter_probe, _, _, _, iter_span)) =
        targets.iter().find(|t| matches!(t.1, Attach::Iter { .. }))
    else {
        return;
    };
    if iter_probe.attach_points.len() > 1 {
        diags.push(Diagnostic::error(
            *iter_span,
            "Only single iter attach point is allowed.",
        ));
        return;
    }
    for probe in &prog.probes {
        if std::ptr::eq(probe, *iter_probe) {
            continue;
        }
        if let Some((_, attach, _, _, span)) = targets
            .iter()
            .find(|t| std::ptr::eq(t.0, probe) && !matches!(t.1, Attach::Begin | Attach::End))
        {
            diags.push(Diagnostic::error(
                *span,
                format!(
                    "{attach} cannot run beside an iter probe: the run ends once the iterator \
                     has gone over every object, so a script with an iter probe may have no \
                     other probe but BEGIN and END"
                ),
            ));
            return;
        }
    }
}

/// An attach point with its `$N` (outside quotes) replaced by the parameters' text, as
/// bpftrace expands them (`i:ms:$1`, `BEG$1`); a missing parameter is empty.
fn positional_in_attach(raw: &str, params: &[String]) -> Result<String, String> {
    let mut out = String::new();
    let mut in_quotes = false;
    let mut chars = raw.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => in_quotes = !in_quotes,
            '\\' if in_quotes => {
                out.push(c);
                if let Some((_, n)) = chars.next() {
                    out.push(n);
                }
                continue;
            }
            '$' if !in_quotes => {
                let rest = &raw[i + 1..];
                let len = rest.find(['"', ':']).unwrap_or(rest.len());
                let index = &rest[..len];
                let digits =
                    index.len() - index.trim_start_matches(|c: char| c.is_ascii_digit()).len();
                if digits == 0 || digits < index.len() {
                    return Err(format!(
                        "found trailing text '{}' in positional parameter index; try quoting the trailing text",
                        &index[digits..]
                    ));
                }
                let n: usize = index.parse().unwrap_or(0);
                if let Some(p) = n.checked_sub(1).and_then(|k| params.get(k)) {
                    out.push_str(p);
                }
                for _ in 0..len {
                    chars.next();
                }
                continue;
            }
            _ => {}
        }
        out.push(c);
    }
    Ok(out)
}

fn collect_map_names(prog: &ast::Program, names: &mut BTreeSet<String>) {
    fn expr(e: &ast::Expr, names: &mut BTreeSet<String>) {
        if let ast::ExprKind::Map(m) = &e.kind {
            names.insert(format!("@{}", m.name));
        }
        e.children().into_iter().for_each(|c| expr(c, names));
    }
    fn block(b: &ast::Block, names: &mut BTreeSet<String>) {
        for s in &b.stmts {
            if let Some(m) = s.assigned_map() {
                names.insert(format!("@{}", m.name));
                m.keys.iter().for_each(|k| expr(k, names));
            }
            s.exprs().into_iter().for_each(|e| expr(e, names));
            s.blocks().into_iter().for_each(|b| block(b, names));
        }
    }
    for p in &prog.probes {
        if let Some(pred) = &p.predicate {
            expr(pred, names);
        }
        block(&p.body, names);
    }
}

/// What a probe's context offers.
#[derive(Clone, Debug, Default)]
struct ProbeCtx {
    attach: Option<Attach>,
    /// The attach point's full name, for the `probe` builtin.
    text: String,
    format: Option<TpFormat>,
}

/// A map as learned from its uses.
#[derive(Clone, Debug)]
struct MapDecl {
    name: String,
    keys: Option<(Vec<Type>, Span)>,
    value: Option<(MapValueType, Span)>,
    /// First use of any kind, for "used but never assigned".
    first_use: Option<Span>,
}

impl MapDecl {
    fn new(name: &str) -> MapDecl {
        MapDecl {
            name: name.to_string(),
            keys: None,
            value: None,
            first_use: None,
        }
    }

    fn finish(&self, map_keys_max: u32) -> Result<MapInfo, Diagnostic> {
        let keys = self.keys.as_ref().map(|k| k.0.clone()).unwrap_or_default();
        let Some((value, _)) = self.value.clone() else {
            let span = self.first_use.unwrap_or_default();
            return Err(Diagnostic::error(
                span,
                format!("map '{}' is used but never assigned a value", self.name),
            ));
        };
        let user_key = user_key_size(&keys, &value);
        let (kind, key_size, value_size, max_entries) =
            match crate::builtins::map_storage(&value, keys.is_empty()) {
                Some(st) => {
                    let key_size = match st.kind {
                        MapKind::Array | MapKind::PerCpuArray => 4,
                        _ => user_key + if st.bucket { 8 } else { 0 },
                    };
                    // A key-less map holds at most one entry per bucket: sized to that, its
                    // creation does not preallocate thousands of per-CPU elements.
                    let entries = if keys.is_empty() {
                        st.keyless_entries
                    } else {
                        map_keys_max
                    };
                    (st.kind, key_size, st.value_size, entries)
                }
                None => {
                    let size = match &value {
                        MapValueType::Plain(t) => t.layout_size().max(8),
                        _ => 8,
                    };
                    let entries = if keys.is_empty() { 1 } else { map_keys_max };
                    (MapKind::Hash, user_key, size, entries)
                }
            };
        Ok(MapInfo {
            name: self.name.clone(),
            keys,
            value,
            def: MapDef {
                name: self.name.clone(),
                kind,
                key_size,
                value_size,
                max_entries,
            },
            internal: false,
        })
    }
}

/// The checker's state across both passes.
pub(crate) struct Checker<'a> {
    env: &'a Env,
    /// The machine's facts: kernel types come from its BTF.
    catalogue: &'a dyn Catalogue,
    diags: Vec<Diagnostic>,
    /// Warnings of the reporting pass, each once.
    warnings: Vec<Diagnostic>,
    /// Pass 2: report errors. Pass 1 only learns types.
    report: bool,
    map_ids: HashMap<String, u32>,
    maps: Vec<MapDecl>,
    printfs: Vec<PrintfInfo>,
    /// Variables of the current probe: name -> id, and whether assigned yet (in text order).
    vars: HashMap<String, (VarId, bool)>,
    /// Types of the current probe's variables, learned across passes (by probe index).
    var_types: Vec<HashMap<String, Type>>,
    probe_index: usize,
    ctx: ProbeCtx,
    loop_depth: u32,
    /// Checking `str()`'s argument: `$N` there is the address of its text.
    in_str: bool,
    /// The C types the program names (the script's structs, later the kernel's).
    types: TypeTable,
    /// The script's structs by name (`struct NAME`).
    structs: HashMap<String, Type>,
    /// The script's `#define NAME VALUE` lines.
    defines: HashMap<String, String>,
    /// Frames of each stack map kstack and ustack write to, in first-use order: the maps
    /// follow the ring buffer and the lost counter (`stack_map_index`).
    stack_limits: Vec<u32>,
    /// The DWARF files types were read from, by their id: a record declared from one gets
    /// its members from it when it is used, in any probe.
    dwarves: HashMap<u32, std::sync::Arc<probes::elf_dwarf::Dwarf>>,
}

impl Checker<'_> {
    fn error(&mut self, span: Span, msg: impl Into<String>) {
        if self.report {
            self.diags.push(Diagnostic::error(span, msg));
        }
    }

    /// Records a warning (only in the reporting pass, and each once).
    fn warn(&mut self, span: Span, msg: impl Into<String>) {
        let d = Diagnostic::warning(span, msg);
        if self.report && !self.warnings.contains(&d) {
            self.warnings.push(d);
        }
    }

    fn error_diag(&mut self, d: Diagnostic) {
        if self.report {
            self.diags.push(d);
        }
    }

    /// Every map's key and value types and every variable's type, to see when passes settle.
    fn type_state(&self) -> TypeState {
        let maps = self
            .maps
            .iter()
            .map(|m| {
                (
                    m.keys.as_ref().map(|k| k.0.clone()),
                    m.value.as_ref().map(|v| v.0.clone()),
                )
            })
            .collect();
        let vars = self
            .var_types
            .iter()
            .map(|vs| {
                let mut v: Vec<(String, Type)> =
                    vs.iter().map(|(k, t)| (k.clone(), t.clone())).collect();
                v.sort_by(|a, b| a.0.cmp(&b.0));
                v
            })
            .collect();
        (maps, vars)
    }

    fn begin_probe(
        &mut self,
        index: usize,
        attach: Attach,
        text: String,
        format: Option<TpFormat>,
    ) {
        self.probe_index = index;
        if self.var_types.len() <= index {
            self.var_types.resize(index + 1, HashMap::new());
        }
        self.vars.clear();
        self.loop_depth = 0;
        self.ctx = ProbeCtx {
            attach: Some(attach),
            text,
            format,
        };
    }

    fn probe(
        &mut self,
        probe: &ast::Probe,
        attach: &Attach,
        text: &str,
        attach_span: Span,
    ) -> CheckedProbe {
        let predicate = probe.predicate.as_ref().map(|p| {
            let e = self.expr(p);
            self.expect_int(&e, "a predicate");
            e
        });
        let body = self.block(&probe.body);
        let mut var_types = vec![Type::I64; self.vars.len()];
        for (name, (id, _)) in &self.vars {
            if let Some(t) = self.var_types[self.probe_index].get(name) {
                var_types[*id as usize] = t.clone();
            }
        }
        CheckedProbe {
            attach: attach.clone(),
            attach_text: text.to_string(),
            attach_span,
            predicate,
            body,
            var_types,
            span: probe.span,
        }
    }

    fn expect_int(&mut self, e: &TExpr, what: &str) {
        if !e.ty.is_int() {
            self.error(
                e.span,
                format!("{what} must be an integer, but this is a {}", e.ty),
            );
        }
    }

    /// The id of a map by name (`@` included).
    fn map_id(&self, name: &str) -> u32 {
        self.map_ids.get(name).copied().unwrap_or(0)
    }

    /// Records the key types of a use of map `id`; reports a mismatch with earlier uses.
    fn use_map_keys(&mut self, id: u32, keys: &[TExpr], span: Span) {
        let types: Vec<Type> = keys.iter().map(|k| k.ty.clone()).collect();
        for k in keys {
            if matches!(k.ty, Type::Void | Type::Tuple(_)) {
                self.error(k.span, format!("a map key cannot be a {}", k.ty));
            }
        }
        let decl = &mut self.maps[id as usize];
        decl.first_use.get_or_insert(span);
        match &decl.keys {
            None => decl.keys = Some((types, span)),
            Some((old, _)) => {
                let merged = if old.len() == types.len() {
                    old.iter()
                        .zip(&types)
                        .map(|(a, b)| a.unify(b))
                        .collect::<Option<Vec<_>>>()
                } else {
                    None
                };
                match merged {
                    Some(m) => decl.keys = Some((m, span)),
                    None => {
                        let msg = format!(
                            "map '{}' is used with key {} here but with key {} elsewhere",
                            decl.name,
                            describe_keys(&types),
                            describe_keys(old)
                        );
                        self.error(span, msg);
                    }
                }
            }
        }
    }

    /// Records the value type of an assignment to map `id`; reports a conflict.
    fn use_map_value(&mut self, id: u32, value: MapValueType, span: Span) {
        let decl = &mut self.maps[id as usize];
        decl.first_use.get_or_insert(span);
        let merged = match (&decl.value, &value) {
            (None, _) => Some(value.clone()),
            (Some((MapValueType::Plain(a), _)), MapValueType::Plain(b)) => {
                a.unify(b).map(MapValueType::Plain)
            }
            (Some((old, _)), new) if old == new => Some(new.clone()),
            (
                Some((
                    MapValueType::Agg {
                        kind: k1,
                        signed: s1,
                    },
                    _,
                )),
                MapValueType::Agg {
                    kind: k2,
                    signed: s2,
                },
            ) if k1 == k2 => Some(MapValueType::Agg {
                kind: *k1,
                signed: *s1 || *s2,
            }),
            _ => None,
        };
        match merged {
            Some(m) => decl.value = Some((m, span)),
            None => {
                let old = decl.value.as_ref().map(|v| describe_value(&v.0));
                let msg = format!(
                    "map '{}' is assigned {} here but {} elsewhere",
                    decl.name,
                    describe_value(&value),
                    old.unwrap_or_default()
                );
                self.error(span, msg);
            }
        }
    }

    /// The value type of map `id` as learned so far.
    fn map_value(&self, id: u32) -> Option<MapValueType> {
        self.maps
            .get(id as usize)
            .and_then(|d| d.value.as_ref().map(|v| v.0.clone()))
    }
}

fn describe_keys(keys: &[Type]) -> String {
    if keys.is_empty() {
        return "none".into();
    }
    let parts: Vec<String> = keys.iter().map(|t| t.to_string()).collect();
    format!("[{}]", parts.join(", "))
}

fn describe_value(v: &MapValueType) -> String {
    match v {
        MapValueType::Plain(t) => {
            let t = t.to_string();
            let article = if t.starts_with(['a', 'e', 'i', 'o', 'u']) {
                "an"
            } else {
                "a"
            };
            format!("{article} {t}")
        }
        MapValueType::Agg { kind, .. } => format!("{}()", agg_name(*kind)),
        MapValueType::Hist => "hist()".into(),
        MapValueType::Lhist { .. } => "lhist()".into(),
    }
}

pub(crate) use crate::builtins::agg_name;

#[cfg(test)]
mod tests {
    use super::positional_in_attach;

    #[test]
    fn generated_programs_are_limited() {
        let src = crate::source::Source::new("t.bt", "BEGIN { } END { }");
        let prog = crate::parse::parse(&src).expect("parses");
        let env = super::Env {
            max_programs: 1,
            ..super::Env::default()
        };
        let fixture = crate::probes::catalogue::Fixture::default();
        let err = super::check_with(&prog, &env, &fixture).expect_err("over the limit");
        assert!(
            err[0].message.contains("generate 2 BPF programs")
                && err[0]
                    .notes
                    .iter()
                    .any(|n| n.contains("BPFTRACE_MAX_BPF_PROGS")),
            "{err:?}"
        );
        assert!(super::check_with(&prog, &super::Env::default(), &fixture).is_ok());
    }

    /// A uprobe on a file with DWARF: its arguments and casts take the file's types, the
    /// script's own struct first; other probes and files do not see them.
    #[test]
    fn uprobe_types_come_from_the_files_dwarf() {
        use crate::probes::catalogue::Fixture;
        let source = include_str!("../../tests/fixtures/dwarf/structs.c");
        let Some(bin) = crate::probes::elf_dwarf::tests::build("structs", source, &[]) else {
            return;
        };
        let fixture = Fixture::new()
            .dwarf_binary(&bin)
            .expect("built with DWARF")
            .binary("/opt/other", &["f"]);
        let check = |script: &str| {
            let src = crate::source::Source::new("t.bt", script);
            let prog = crate::parse::parse(&src).expect("parses");
            super::check_with(&prog, &super::Env::default(), &fixture)
        };
        let messages = |script: &str| match check(script) {
            Ok(_) => Vec::new(),
            Err(d) => d.into_iter().map(|d| d.message).collect(),
        };
        let ok = check(&format!(
            "uprobe:{bin}:take_outer {{ @o = *args->o; @y = args->o->corners[1].y; \
             @n = args->ch->next->item->name; @d = ((struct chain *)arg4)->depth; \
             @f = ((struct flags *)arg0)->neg; @s = sizeof(struct anon); }}"
        ))
        .expect("checks");
        let value = |name: &str| {
            let m = ok.maps.iter().find(|m| m.name == name).expect("map");
            m.def.value_size
        };
        assert_eq!((value("@o"), value("@n")), (48, 8));
        let e = messages(&format!(
            "uprobe:{bin}:take_outer {{ @ = args->o->nothing; }}"
        ));
        assert_eq!(e, ["struct outer has no member 'nothing'"]);
        // Arguments the DWARF declares that rtrace cannot read say why.
        let e = messages(&format!(
            "uprobe:{bin}:take_many {{ @a = args->by_value; @b = args->d; @c = args->seventh; \
             @d = args->a; }}"
        ));
        assert_eq!(
            e,
            [
                "'by_value' of take_many is a struct point passed by value, which rtrace cannot \
                 read as an argument",
                "'d' of take_many is a double, passed in a floating point register, which rtrace \
                 does not read",
                "'seventh' (int) is argument 8 of take_many, passed on the stack: rtrace reads \
                 the arguments passed in registers"
            ]
        );
        // The script's struct wins over the file's.
        let own = format!(
            "struct outer {{ long only; }} uprobe:{bin}:take_outer {{ @ = ((struct outer *)arg0)->only; }}"
        );
        assert!(messages(&own).is_empty(), "{:?}", messages(&own));
        // Another file's probe does not see these types.
        let e = messages("uprobe:/opt/other:f { @ = ((struct chain *)arg0)->depth; }");
        assert_eq!(
            e.first().map(String::as_str),
            Some("unknown type 'struct chain'")
        );
    }

    #[test]
    fn positional_parameters_expand_in_attach_points() {
        let p = vec!["1".to_string(), "IN".to_string()];
        assert_eq!(positional_in_attach("i:ms:$1", &p), Ok("i:ms:1".into()));
        assert_eq!(positional_in_attach("BEG$2", &p), Ok("BEGIN".into()));
        assert_eq!(positional_in_attach("u:$3:f", &p), Ok("u::f".into()));
        // Quoted text is kept as written.
        assert_eq!(
            positional_in_attach(r#"u:"/a$1\"b":f"#, &p),
            Ok(r#"u:"/a$1\"b":f"#.into())
        );
        assert!(
            positional_in_attach("i:ms:$1x", &p).is_err_and(|e| e.contains("trailing text 'x'"))
        );
    }
}
