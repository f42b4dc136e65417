//! The iter provider (`iter:task`, `iter:task_file`, BPF iterators): `-l` lists bpftrace 0.17's
//! iterators (with `-lv`, their fields); a script using one gets a clear error while parsing.
//! Fed by `parse_attach` and `-l`.

use super::catalogue::Catalogue;
use super::{glob_match, Attach, Context, Provider, Query};
use std::fmt::Write as _;

pub static PROVIDER: Provider = Provider {
    name: "iter",
    aliases: &["it"],
    parse: Some(parse),
    prog_type: None,
    context: Context::NONE,
    attach: None,
    list: Some(list),
};

/// bpftrace 0.17's iterators and the fields `-lv` shows for each.
const ITERS: [(&str, &[&str]); 2] = [
    ("task", &["struct task_struct * task"]),
    (
        "task_file",
        &["struct task_struct * task", "int fd", "struct file * file"],
    ),
];

/// `iter:NAME[:PIN]`: the iterator is checked, then refused with the reason (iterators are
/// BTF-attached tracing programs, which this kernel may not load either).
fn parse(rest: &str, cat: &dyn Catalogue) -> Result<Vec<Attach>, String> {
    let name = rest.split(':').next().unwrap_or(rest);
    if rest.is_empty() || rest.split(':').count() > 2 {
        return Err("iter probe type takes 2 arguments (1 optional)".into());
    }
    if name.contains('*') {
        return Err("iter probe type does not support wildcards".into());
    }
    if !ITERS.iter().any(|(n, _)| *n == name) {
        return Err(format!("iter probe type does not support {name} iterator"));
    }
    if cat.kfuncs_available() {
        Err("iter probes are not supported by rtrace yet".into())
    } else {
        Err(
            "iter probes are not available on this kernel: it does not load BTF-attached \
             tracing programs (fentry/fexit and iterators)"
                .into(),
        )
    }
}

/// `-l iter:PATTERN`.
fn list(q: &Query<'_>, _: &dyn Catalogue, out: &mut String) -> Result<(), String> {
    for (name, fields) in ITERS {
        if glob_match(q.rest, name) {
            let _ = writeln!(out, "iter:{name}");
            if q.verbose {
                for f in fields {
                    let _ = writeln!(out, "    {f}");
                }
            }
        }
    }
    Ok(())
}
