//! The whole compiler as one pure function: script text -> parse -> sema -> lower -> encode
//! -> `Object`. Fed by the driver (and the fuzzers); the runtime loads what it returns.

use crate::codegen;
use crate::diag::Diagnostic;
use crate::object::{Object, Program};
use crate::parse;
use crate::probes::Attach;
use crate::sema;
use crate::source::Source;

/// What compiling needs besides the script.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompileEnv {
    /// Positional parameters `$1...`.
    pub params: Vec<String>,
    /// `-c CMD` will be given to the run, so `cpid` has a value.
    pub has_command: bool,
    /// `--unsafe`: allow system() and the other unsafe builtins.
    pub unsafe_actions: bool,
    /// `BPFTRACE_STRLEN`: bytes of the string buffers `str()` reads into.
    pub strlen: u32,
    /// `BPFTRACE_MAP_KEYS_MAX`: entries of a map with keys.
    pub map_keys_max: u32,
    /// `BPFTRACE_MAX_PROBES`: the most probes a script may attach.
    pub max_probes: usize,
    /// `--include FILE`: (name, text) of files whose C definitions precede the script's.
    pub includes: Vec<(String, String)>,
    /// An interactive session (`rtrace -i`): BEGIN and END may appear more than once.
    pub session: bool,
    /// `-p PID`: usdt probes come from the files this process maps.
    pub pid: Option<i32>,
    /// `BPFTRACE_MAX_BPF_PROGS`: the most BPF programs a script may generate.
    pub max_programs: usize,
    /// `-k` (1) / `-kk` (2): which helper failures the programs report (`codegen::lower`).
    pub helper_check: u8,
    /// `-I DIR`: where `#include` looks first.
    pub include_dirs: Vec<String>,
}

impl Default for CompileEnv {
    /// bpftrace 0.17's defaults.
    fn default() -> CompileEnv {
        let s = sema::Env::default();
        CompileEnv {
            params: s.params,
            has_command: s.has_command,
            unsafe_actions: s.unsafe_actions,
            strlen: s.strlen,
            map_keys_max: s.map_keys_max,
            max_probes: s.max_probes,
            max_programs: s.max_programs,
            includes: Vec::new(),
            session: s.session,
            pid: s.pid,
            helper_check: 0,
            include_dirs: Vec::new(),
        }
    }
}

impl CompileEnv {
    /// The checker's view of the environment.
    pub fn sema_env(&self) -> sema::Env {
        sema::Env {
            params: self.params.clone(),
            has_command: self.has_command,
            unsafe_actions: self.unsafe_actions,
            strlen: self.strlen,
            map_keys_max: self.map_keys_max,
            max_probes: self.max_probes,
            session: self.session,
            pid: self.pid,
            max_programs: self.max_programs,
        }
    }
}

/// `#include` lines whose header is nowhere (see `sema::headers::found`): an error each, on
/// the line, as the C preprocessor reports them.
fn missing_headers(
    source: &Source,
    program: &crate::ast::Program,
    dirs: &[String],
) -> Result<(), Vec<Diagnostic>> {
    let missing: Vec<Diagnostic> = program
        .structs
        .iter()
        .filter(|d| d.fields.is_empty() && !d.name.name.starts_with('#'))
        .filter_map(|d| {
            let line = source
                .text
                .get(d.span.start as usize..d.span.end as usize)?;
            let quoted = line.contains('"');
            let path = &d.name.name;
            if sema::headers::found(path, quoted, dirs) {
                return None;
            }
            Some(
                Diagnostic::error(d.span, format!("'{path}' file not found"))
                    .with_note(
                        "rtrace looks in the -I directories, then /usr/local/include and \
                         /usr/include; kernel headers (linux/, net/, asm/, ...) need not be \
                         installed: their types come from the kernel's BTF",
                    )
                    .in_c_definitions(),
            )
        })
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(missing)
    }
}

/// Compiles a script. Pure: no fork, no file descriptor, no clock and no kernel access beyond
/// what checking reads (tracepoint formats, uprobe targets). Maps and run-time constants are
/// left as relocations for the runtime. Every error comes back as diagnostics on `source`.
pub fn compile(source: &Source, env: &CompileEnv) -> Result<Object, Vec<Diagnostic>> {
    let mut program = parse::parse(source)?;
    missing_headers(source, &program, &env.include_dirs)?;
    let mut defs = Vec::new();
    for (name, text) in &env.includes {
        let included = parse::parse(&Source::new(name.clone(), text.clone())).map_err(|d| {
            let what = d.first().map_or(String::new(), |d| d.message.clone());
            vec![Diagnostic::spanless(format!("in --include {name}: {what}"))]
        })?;
        defs.extend(included.structs);
    }
    defs.append(&mut program.structs);
    program.structs = defs;
    let checked = sema::check(&program, &env.sema_env())?;
    let funcs = codegen::lower::lower(&checked, env.helper_check);
    let mut programs = Vec::with_capacity(funcs.len());
    // Programs whose values overflow the stack share one per-CPU scratch map, after the others.
    let scratch = codegen::ir::MapId(checked.maps.len() as u32);
    let mut scratch_bytes = 0;
    for (ir, probe) in funcs.into_iter().zip(&checked.probes) {
        let (code, bytes) = codegen::compile_spilling(&ir, scratch).map_err(|d| vec![d])?;
        scratch_bytes = scratch_bytes.max(bytes);
        programs.push(Program {
            attach: probe.attach.clone(),
            attach_text: probe.attach_text.clone(),
            attach_span: probe.attach_span,
            ir,
            code,
        });
        // A function watchpoint is placed by a uprobe on the function, right after it.
        let watch = programs.len() - 1;
        if let Some(ir) = codegen::lower::watch_setup(&checked, probe, watch) {
            let code = codegen::compile(&ir).map_err(|d| vec![d])?;
            let Attach::Watchpoint {
                target,
                func: Some(func),
                ..
            } = &probe.attach
            else {
                continue;
            };
            let attach = Attach::WatchpointSetup {
                path: target.clone(),
                func: func.clone(),
            };
            programs.push(Program {
                attach_text: attach.to_string(),
                attach,
                attach_span: probe.attach_span,
                ir,
                code,
            });
        }
    }
    let mut maps = checked.maps;
    if scratch_bytes > 0 {
        // Named by size: an interactive session reuses a map of the same name, which must
        // then be as large.
        maps.push(sema::internal_map(
            &format!("scratch{scratch_bytes}"),
            sema::layout::MapKind::PerCpuArray,
            4,
            scratch_bytes,
            1,
        ));
    }
    Ok(Object {
        programs,
        maps,
        printfs: checked.printfs,
        ringbuf: checked.ringbuf,
        lost: checked.lost,
        types: checked.types,
        warnings: checked.warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codegen::ir::{Inst, RuntimeConst};
    use crate::codegen::RelocKind;

    fn object(text: &str, env: &CompileEnv) -> Object {
        compile(&Source::new("t.bt", text), env).unwrap_or_else(|d| panic!("{d:?}"))
    }

    #[test]
    fn run_time_constants_are_relocations() {
        let env = CompileEnv {
            has_command: true,
            ..CompileEnv::default()
        };
        let obj = object(
            "BEGIN { printf(\"%d %d\\n\", cpid, elapsed); exit(); }",
            &env,
        );
        let p = &obj.programs[0];
        let consts: Vec<RuntimeConst> =
            p.ir.insts
                .iter()
                .filter_map(|si| match si.inst {
                    Inst::LdConst { konst, .. } => Some(konst),
                    _ => None,
                })
                .collect();
        assert_eq!(consts, vec![RuntimeConst::Cpid, RuntimeConst::StartNs]);
        let relocated: Vec<RelocKind> = p.code.relocations.iter().map(|r| r.kind).collect();
        assert!(relocated.contains(&RelocKind::Const(RuntimeConst::Cpid)));
        assert!(relocated.contains(&RelocKind::Const(RuntimeConst::StartNs)));
        // Every relocation names the first slot of an ld_imm64.
        for r in &p.code.relocations {
            assert_eq!(p.code.insns[r.insn][0], 0x18, "{r:?}");
        }
    }

    #[test]
    fn errors_come_back_as_diagnostics() {
        let err = compile(
            &Source::new("t.bt", "BEGIN { printf(\"%d\\n\", cpid); }"),
            &CompileEnv::default(),
        )
        .unwrap_err();
        assert!(err[0].message.contains("cpid"), "{err:?}");
        assert!(compile(&Source::new("t.bt", "BEGIN {"), &CompileEnv::default()).is_err());
    }

    #[test]
    fn one_program_per_probe_with_its_attach_point() {
        let obj = object(
            "BEGIN { @x = 1; } END { clear(@x); }",
            &CompileEnv::default(),
        );
        let names: Vec<&str> = obj
            .programs
            .iter()
            .map(|p| p.attach_text.as_str())
            .collect();
        assert_eq!(names, vec!["BEGIN", "END"]);
        assert!(obj.maps.iter().any(|m| m.name == "@x"));
    }

    /// The size `str()` asks its helper for: `BPFTRACE_STRLEN` itself (so it keeps
    /// `BPFTRACE_STRLEN - 1` characters, as bpftrace does), not the buffer rounded up to 8.
    fn str_read_sizes(strlen: u32, text: &str) -> Vec<i32> {
        let env = CompileEnv {
            strlen,
            ..CompileEnv::default()
        };
        object(text, &env).programs[0]
            .ir
            .insts
            .iter()
            .filter_map(|si| match &si.inst {
                Inst::Call { helper, args, .. }
                    if *helper == crate::codegen::ir::helper::PROBE_READ_KERNEL_STR =>
                {
                    match args.get(1) {
                        Some(crate::codegen::ir::Operand::Imm(n)) => Some(*n),
                        _ => Some(-1),
                    }
                }
                _ => None,
            })
            .collect()
    }

    #[test]
    fn str_reads_at_most_strlen_bytes() {
        let text = "BEGIN { printf(\"%s\\n\", str(kptr(0))); exit(); }";
        for strlen in [1, 5, 8, 9, 63, 200] {
            assert_eq!(
                str_read_sizes(strlen, text),
                vec![strlen as i32],
                "{strlen}"
            );
        }
    }

    #[test]
    fn increment_in_an_expression_widens_the_variable() {
        // `$b++` stores 65536 into $b: its type widens to 64 bits, as `$b++;` and `$b += 1`
        // widen it, instead of staying a uint16 that holds a value out of its range.
        let obj = object(
            "BEGIN { $b = (uint16)65535; $c = $b++; @t = ($b, $c); exit(); }",
            &CompileEnv::default(),
        );
        let t = obj.maps.iter().find(|m| m.name == "@t").expect("@t");
        let crate::sema::typed::MapValueType::Plain(ty) = &t.value else {
            panic!("{:?}", t.value);
        };
        assert_eq!(ty.to_string(), "(uint64, uint64)");
    }

    #[test]
    fn statements_share_temporary_stack_slots_of_any_size() {
        // Four printf records of 112 to 264 bytes: 752 bytes if each size had its own slot;
        // the statements run one after another, so one slot of 264 bytes serves them all.
        let lines: Vec<String> = [100, 150, 200, 250]
            .iter()
            .map(|&n| format!("printf(\"%s\\n\", \"{}\");", "x".repeat(n)))
            .collect();
        let text = format!("BEGIN {{ {} exit(); }}", lines.join(" "));
        let obj = object(&text, &CompileEnv::default());
        let total: u32 = obj.programs[0].ir.slots.iter().map(|s| s.size).sum();
        assert!(total <= 272, "{total} bytes of slots");
    }
}
