//! The session's script so far: every input that was loaded, the probes typed (numbered), and
//! the maps' types. A new input is compiled through `compile` together with everything loaded
//! before it, so maps keep one type across inputs and a clash is a diagnostic under the line
//! just typed; only the new input's programs are then loaded. Fed by the session's loop; what
//! `prepare` returns goes to the live run.

use crate::codegen::{self, Encoded};
use crate::compile::{compile, CompileEnv};
use crate::diag::{self, Diagnostic};
use crate::object::Object;
use crate::output::value::AggKind;
use crate::parse;
use crate::runtime::{same_type, ProbeId};
use crate::sema::typed::{MapInfo, MapValueType};
use crate::source::{Source, Span};
use std::collections::BTreeMap;
use std::rc::Rc;

/// The name diagnostics give the text typed at the prompt.
pub const INPUT_NAME: &str = "stdin";

/// The session's script: what was loaded, in order.
pub struct Script {
    env: CompileEnv,
    /// Every input loaded, in order; a detached probe's input stays (its maps live on).
    chunks: Vec<String>,
    probes: Vec<Typed>,
    maps: BTreeMap<String, MapInfo>,
    /// Programs compiled from the inputs loaded so far (they count again in every compile).
    loaded_programs: usize,
}

/// A probe typed at the prompt.
struct Typed {
    id: ProbeId,
    /// Its text as typed.
    text: String,
    /// Its attach points (wildcards expanded).
    attach: Vec<String>,
    attached: bool,
    /// Its programs, their spans moved into the input typed.
    code: Vec<Encoded>,
    /// The input it was typed in.
    source: Rc<Source>,
}

/// A new input compiled and checked against the session, ready to be loaded.
#[derive(Debug)]
pub struct Prepared {
    /// Everything loaded before, then the new input: the object's spans point into it.
    source: Rc<Source>,
    /// Where the new input starts in `source`.
    base: usize,
    text: String,
    pub object: Object,
    /// The object's programs of each new probe, in the order typed (never empty).
    pub groups: Vec<Vec<usize>>,
    /// Each new probe's text.
    probe_texts: Vec<String>,
    /// The compiler's warnings about the new input, rendered against it.
    pub warnings: String,
}

impl Script {
    pub fn new(env: CompileEnv) -> Script {
        Script {
            env: CompileEnv {
                session: true,
                ..env
            },
            chunks: Vec::new(),
            probes: Vec::new(),
            maps: BTreeMap::new(),
            loaded_programs: 0,
        }
    }

    /// Compiles `text` after everything loaded so far. `Err` holds the diagnostics, rendered
    /// against the text typed.
    pub fn prepare(&self, text: &str) -> Result<Prepared, String> {
        let mut combined = String::new();
        for c in &self.chunks {
            combined.push_str(c);
            combined.push('\n');
        }
        let base = combined.len();
        combined.push_str(text);
        let source = Rc::new(Source::new(INPUT_NAME, combined));
        let prepared_source = source.clone();
        let render = |diags: &[Diagnostic]| self.render(&source, base, diags);
        // The probe limit is for what one input attaches: earlier inputs are compiled again.
        let env = CompileEnv {
            max_probes: self.env.max_probes.saturating_add(self.loaded_programs),
            ..self.env.clone()
        };
        let object = compile(&source, &env).map_err(|d| render(&d))?;
        let typed = parse::parse(&Source::new(INPUT_NAME, text))
            .map_err(|d| diag::render(&Source::new(INPUT_NAME, text), &d))?;
        let mut groups = vec![Vec::new(); typed.probes.len()];
        for (i, p) in object.programs.iter().enumerate() {
            let Some(local) = (p.attach_span.start as usize).checked_sub(base) else {
                continue;
            };
            if let Some(k) = typed
                .probes
                .iter()
                .position(|pr| pr.span.range().contains(&local))
            {
                groups[k].push(i);
            }
        }
        // A probe that attaches nothing (a wildcard that matched nothing) has no program.
        let (groups, probe_texts): (Vec<Vec<usize>>, Vec<String>) = groups
            .into_iter()
            .zip(&typed.probes)
            .filter(|(g, _)| !g.is_empty())
            .map(|(g, p)| (g, text.get(p.span.range()).unwrap_or("").to_string()))
            .unzip();
        if groups.is_empty() {
            return Err(render(&[Diagnostic::spanless(
                "this input has no probe to attach",
            )
            .with_note("a probe looks like: BEGIN { printf(\"hello\\n\"); }")]));
        }
        let mut clashes = Vec::new();
        for info in object.maps.iter().filter(|m| !m.internal) {
            let Some(have) = self.maps.get(&info.name) else {
                continue;
            };
            if same_type(have, info) {
                continue;
            }
            let msg = format!(
                "map {} holds {} in this session; this would make it {}",
                info.name,
                describe(have),
                describe(info)
            );
            let d = match map_span(text, &info.name) {
                Some(s) => Diagnostic::error(
                    Span::new(base + s.start as usize, base + s.end as usize),
                    msg,
                ),
                None => Diagnostic::spanless(msg),
            };
            clashes.push(
                d.with_note("a map keeps the type it was created with: give this one another name"),
            );
        }
        if !clashes.is_empty() {
            return Err(render(&clashes));
        }
        let new: Vec<Diagnostic> = object
            .warnings
            .iter()
            .filter(|d| d.span.is_some_and(|s| s.start as usize >= base))
            .cloned()
            .collect();
        let warnings = self.render(&prepared_source, base, &new);
        Ok(Prepared {
            warnings,
            source: prepared_source,
            base,
            text: text.to_string(),
            object,
            groups,
            probe_texts,
        })
    }

    /// Diagnostics of `prepared` (the live run's verifier or attach errors), rendered against
    /// the text typed.
    pub fn render_for(&self, prepared: &Prepared, diags: &[Diagnostic]) -> String {
        self.render(&prepared.source, prepared.base, diags)
    }

    /// Records a prepared input as loaded, its probes numbered `ids` (one per group, in
    /// order). Returns the lines that say what was attached.
    pub fn accept(&mut self, prepared: Prepared, ids: &[ProbeId]) -> String {
        let mut said = String::new();
        let typed = Rc::new(Source::new(INPUT_NAME, prepared.text.clone()));
        let base = prepared.base as u32;
        let local = |s: Span| {
            if s.start < base {
                Span::default()
            } else {
                Span {
                    start: s.start - base,
                    end: s.end.saturating_sub(base),
                }
            }
        };
        let groups = prepared.groups.iter().zip(&prepared.probe_texts);
        for ((group, text), id) in groups.zip(ids) {
            let programs: Vec<&crate::object::Program> = group
                .iter()
                .filter_map(|&i| prepared.object.programs.get(i))
                .collect();
            let attach: Vec<String> = programs.iter().map(|p| p.attach_text.clone()).collect();
            said.push_str(&format!("probe {id}: {}\n", summary(&attach)));
            self.probes.push(Typed {
                id: *id,
                text: text.clone(),
                attach,
                attached: true,
                code: programs
                    .iter()
                    .map(|p| {
                        let mut code = p.code.clone();
                        code.spans.iter_mut().for_each(|s| *s = local(*s));
                        code
                    })
                    .collect(),
                source: typed.clone(),
            });
        }
        for info in prepared.object.maps.iter().filter(|m| !m.internal) {
            self.maps
                .entry(info.name.clone())
                .or_insert_with(|| info.clone());
        }
        self.loaded_programs = prepared.object.programs.len();
        self.chunks.push(prepared.text);
        said
    }

    /// Probe `id` was detached.
    pub fn detached(&mut self, id: ProbeId) {
        if let Some(p) = self.probes.iter_mut().find(|p| p.id == id) {
            p.attached = false;
        }
    }

    /// `.probes`: every probe typed, numbered, with its state and text.
    pub fn listing(&self) -> String {
        if self.probes.is_empty() {
            return "no probes yet: type one, e.g. tracepoint:syscalls:sys_enter_openat { @[comm] = count(); }\n".into();
        }
        let mut out = String::new();
        for p in &self.probes {
            let state = if p.attached { "attached" } else { "detached" };
            let text = p.text.split_whitespace().collect::<Vec<_>>().join(" ");
            out.push_str(&format!("{:>3}  {state:<9} {text}\n", p.id));
            if p.attach.len() > 1 {
                out.push_str(&format!(
                    "     {} attach points: {}\n",
                    p.attach.len(),
                    summary(&p.attach)
                ));
            }
        }
        out
    }

    /// `.dump bpf N`: probe N's instructions, each under the source it came from.
    pub fn dump_bpf(&self, id: ProbeId) -> Option<String> {
        let p = self.probes.iter().find(|p| p.id == id)?;
        Some(
            p.code
                .iter()
                .map(|c| codegen::dump_bpf(c, &p.source))
                .collect(),
        )
    }

    /// The maps of the session, for completion.
    pub fn map_names(&self) -> Vec<String> {
        self.maps.keys().cloned().collect()
    }

    /// Diagnostics on `source` (everything loaded, then the new input from `base`) rendered
    /// against the input they point into: the new one, or an earlier one.
    fn render(&self, source: &Source, base: usize, diags: &[Diagnostic]) -> String {
        let mut out = String::new();
        for d in diags {
            let (at, start) = match d.span {
                Some(s) if s.start as usize >= base => (None, base),
                Some(s) => match self.chunk_at(s.start as usize) {
                    Some((k, start)) => (Some(k), start),
                    None => (None, base),
                },
                None => (None, base),
            };
            let text = match at {
                Some(k) => self.chunks[k].as_str(),
                None => source.text.get(base..).unwrap_or(""),
            };
            let mut d = d.clone();
            d.span = d.span.map(|s| {
                let from = (s.start as usize).saturating_sub(start).min(text.len());
                let to = (s.end as usize)
                    .saturating_sub(start)
                    .clamp(from, text.len());
                Span::new(from, to)
            });
            let name = match at {
                Some(k) => format!("input {} of this session", k + 1),
                None => INPUT_NAME.to_string(),
            };
            out.push_str(&diag::render(&Source::new(name, text), &[d]));
        }
        out
    }

    /// The earlier input holding byte `offset` of the combined source, and where it starts.
    fn chunk_at(&self, offset: usize) -> Option<(usize, usize)> {
        let mut start = 0;
        for (k, c) in self.chunks.iter().enumerate() {
            if offset < start + c.len() + 1 {
                return Some((k, start));
            }
            start += c.len() + 1;
        }
        None
    }
}

/// Attach points, shortened when there are many.
fn summary(attach: &[String]) -> String {
    const SHOWN: usize = 3;
    let mut s = attach
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if attach.len() > SHOWN {
        s.push_str(&format!(" and {} more", attach.len() - SHOWN));
    }
    s
}

/// A map's type in words: `int64`, `count()`, `[string[16]] -> hist()`.
fn describe(info: &MapInfo) -> String {
    let value = match &info.value {
        MapValueType::Plain(t) => t.to_string(),
        MapValueType::Agg { kind, .. } => format!("{}()", crate::builtins::agg_name(*kind)),
        MapValueType::Hist => format!("{}()", crate::builtins::agg_name(AggKind::Hist)),
        MapValueType::Lhist { min, max, step } => format!("lhist(_, {min}, {max}, {step})"),
    };
    if info.keys.is_empty() {
        return value;
    }
    let keys: Vec<String> = info.keys.iter().map(|k| k.to_string()).collect();
    format!("[{}] -> {value}", keys.join(", "))
}

/// Where `name` (`@x`, or `@`) is first written in `text`, not inside a longer name.
fn map_span(text: &str, name: &str) -> Option<Span> {
    let is_ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut from = 0;
    while let Some(i) = text.get(from..)?.find(name) {
        let at = from + i;
        let end = at + name.len();
        if !text[end..].starts_with(is_ident) {
            return Some(Span::new(at, end));
        }
        from = end;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn script() -> Script {
        Script::new(CompileEnv::default())
    }

    #[test]
    fn each_probe_of_an_input_is_a_group_of_its_programs() {
        let s = script();
        let p = s
            .prepare("BEGIN { @a = 1; }\ninterval:s:1 { @b = 2; } END { @c = 3; }")
            .unwrap();
        assert_eq!(p.groups, vec![vec![0], vec![1], vec![2]]);
        assert_eq!(p.probe_texts[1], "interval:s:1 { @b = 2; }");
    }

    #[test]
    fn later_inputs_see_the_maps_of_earlier_ones_and_load_only_their_own_probes() {
        let mut s = script();
        let p = s.prepare("BEGIN { @s = \"abc\"; }").unwrap();
        let said = s.accept(p, &[1]);
        assert_eq!(said, "probe 1: BEGIN\n");
        // A second BEGIN is fine in a session; @s is known to be a string.
        let p = s
            .prepare("BEGIN { printf(\"%s\\n\", @s); @n = 1; }")
            .unwrap();
        assert_eq!(p.groups, vec![vec![1]]);
        assert_eq!(p.object.programs[1].attach_text, "BEGIN");
        s.accept(p, &[2]);
        assert_eq!(s.map_names(), vec!["@n".to_string(), "@s".to_string()]);
    }

    #[test]
    fn warnings_are_of_the_new_input_only() {
        let mut s = script();
        let p = s.prepare("BEGIN { debugf(\"x\\n\"); }").unwrap();
        assert!(
            p.warnings.contains("WARNING: The debugf() builtin"),
            "{}",
            p.warnings
        );
        s.accept(p, &[1]);
        let p = s.prepare("BEGIN { @n = 1; }").unwrap();
        assert_eq!(p.warnings, "");
    }

    #[test]
    fn a_type_clash_is_a_diagnostic_under_the_new_input() {
        let mut s = script();
        let p = s.prepare("BEGIN { @x = 1; }").unwrap();
        s.accept(p, &[1]);
        let err = s.prepare("END { @x = \"no\"; }").unwrap_err();
        assert!(err.contains("stdin:1:"), "{err}");
        assert!(err.contains("END { @x = \"no\"; }"), "{err}");
        assert!(!err.contains("BEGIN { @x = 1; }"), "{err}");
    }

    #[test]
    fn widening_a_loaded_map_is_refused() {
        let mut s = script();
        let p = s.prepare("BEGIN { @k[\"ab\"] = 1; }").unwrap();
        s.accept(p, &[1]);
        let err = s
            .prepare("interval:s:1 { @k[\"a much longer key\"] = 2; }")
            .err()
            .unwrap();
        assert!(err.contains("map @k holds"), "{err}");
        assert!(err.contains("another name"), "{err}");
        assert!(err.contains("stdin:1:16"), "{err}");
    }

    #[test]
    fn errors_point_into_the_line_typed() {
        let mut s = script();
        let p = s.prepare("BEGIN { @x = 1; }").unwrap();
        s.accept(p, &[1]);
        let err = s.prepare("BEGIN { nope(); }").unwrap_err();
        assert!(err.contains("stdin:1:9"), "{err}");
        assert!(err.contains("BEGIN { nope(); }"), "{err}");
        let err = s.prepare("// nothing").unwrap_err();
        assert!(!err.is_empty());
    }

    #[test]
    fn listing_and_dump() {
        let mut s = script();
        assert!(s.listing().contains("no probes yet"));
        let p = s.prepare("BEGIN {\n  @x = 1;\n}").unwrap();
        s.accept(p, &[1]);
        s.detached(1);
        assert_eq!(s.listing(), "  1  detached  BEGIN { @x = 1; }\n");
        let dump = s.dump_bpf(1).unwrap();
        assert!(dump.contains("; 2:3: @x = 1"), "{dump}");
        // A later input's instructions are shown under its own lines.
        let p = s
            .prepare(
                "END {
  @y = 2;
}",
            )
            .unwrap();
        s.accept(p, &[2]);
        let dump = s.dump_bpf(2).unwrap();
        assert!(dump.contains("; 2:3: @y = 2"), "{dump}");
        assert!(s.dump_bpf(3).is_none());
    }

    #[test]
    fn the_probe_limit_counts_only_the_new_input() {
        let mut s = Script::new(CompileEnv {
            max_probes: 2,
            ..CompileEnv::default()
        });
        let p = s
            .prepare("interval:s:1 { @a = 1; } interval:s:2 { @b = 1; }")
            .unwrap();
        s.accept(p, &[1, 2]);
        let p = s
            .prepare("interval:s:3 { @c = 1; } interval:s:4 { @d = 1; }")
            .unwrap();
        s.accept(p, &[3, 4]);
        let err = s
            .prepare("interval:s:5 {} interval:s:6 {} interval:s:7 {}")
            .unwrap_err();
        assert!(err.contains("more than the limit"), "{err}");
    }

    #[test]
    fn map_spans_skip_longer_names() {
        assert_eq!(map_span("@xy = 1; @x = 2", "@x"), Some(Span::new(9, 11)));
        assert_eq!(map_span("@x[1] = 2", "@"), None);
        assert_eq!(map_span("@ = 2", "@"), Some(Span::new(0, 1)));
    }
}
