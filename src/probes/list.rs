//! `rtrace -l [PATTERN]` and `-lv`: probe listing in bpftrace's format (tracepoints
//! byte-identical to bpftrace 0.17); fed by the CLI's pattern, and by each listable provider's
//! `list`, which asks the catalogue (tracefs, ELF files, the kernel's function list).

use super::catalogue::Catalogue;
use super::{glob_match, has_wildcard, system, Query, PROVIDERS};

/// The listing for `pattern` (every probe when `None`) on this machine: one probe a line;
/// with `verbose`, each tracepoint's fields follow it, indented by four spaces. With `pid`
/// (`-p`), usdt probes come from the files that process maps.
pub fn list(pattern: Option<&str>, verbose: bool, pid: Option<i32>) -> Result<String, String> {
    list_in(pattern, verbose, system::catalogue_for(pid))
}

/// The listing for `pattern` from `cat`. Providers are listed in the order bpftrace prints
/// them (by name).
pub fn list_in(
    pattern: Option<&str>,
    verbose: bool,
    cat: &dyn Catalogue,
) -> Result<String, String> {
    let pattern = pattern
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .unwrap_or("*");
    // `PROVIDER:REST`; a pattern without a provider applies to every provider.
    let (provider, rest, explicit) = match pattern.split_once(':') {
        Some((p, r)) => (p, r, true),
        None => ("*", pattern, false),
    };
    let mut listed: Vec<_> = PROVIDERS.iter().filter(|p| p.list.is_some()).collect();
    listed.sort_by_key(|p| p.name);
    let query = Query {
        rest,
        named: explicit && !has_wildcard(provider),
        verbose,
    };
    let mut out = String::new();
    for p in listed {
        let wanted = p.aliases.contains(&provider) || glob_match(provider, p.name);
        if let (true, Some(list)) = (wanted, p.list) {
            list(&query, cat, &mut out)?;
        }
    }
    Ok(out)
}
