//! The tracepoint provider: wildcard expansion against tracefs and record layouts read from
//! `events/CAT/NAME/format`; fed by `parse_attach` and by sema for `args->field`.

use super::{glob_match, has_wildcard, tracefs_root, Attach, TpField, TpFormat};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Parses `CAT:NAME` (after `tracepoint:`), expanding `*` and `?` in either part.
pub(crate) fn parse(rest: &str) -> Result<Vec<Attach>, String> {
    let (category, name) = match rest.split_once(':') {
        Some((c, n)) if !c.is_empty() && !n.contains(':') => (c, n),
        _ => return Err("tracepoint probe type requires 2 arguments".into()),
    };
    if name.is_empty() {
        return Err("tracepoint probe must have a target".into());
    }
    let not_found = || format!("no tracepoint matches '{category}:{name}'");
    if !has_wildcard(rest) {
        let path = format_path(category, name)?;
        if cached(&path).is_none() && !path.is_file() {
            return Err(not_found());
        }
        return Ok(vec![Attach::Tracepoint {
            category: category.to_string(),
            name: name.to_string(),
        }]);
    }
    let found: Vec<Attach> = all()?
        .into_iter()
        .filter(|(c, n)| glob_match(category, c) && glob_match(name, n))
        .map(|(category, name)| Attach::Tracepoint { category, name })
        .collect();
    if found.is_empty() {
        return Err(not_found());
    }
    Ok(found)
}

/// Every tracepoint as `(category, name)`, sorted as bpftrace lists them (bytewise on
/// `category:name`). Taken from `available_events`, else from the `events/` directories.
pub fn all() -> Result<Vec<(String, String)>, String> {
    let root = tracefs_root()?;
    let mut out: Vec<(String, String)> =
        match std::fs::read_to_string(root.join("available_events")) {
            Ok(text) => text
                .lines()
                .filter_map(|l| l.trim().split_once(':'))
                .map(|(c, n)| (c.to_string(), n.to_string()))
                .collect(),
            Err(_) => scan_events(&root.join("events"))?,
        };
    out.sort_by_cached_key(|(c, n)| format!("{c}:{n}"));
    out.dedup();
    Ok(out)
}

fn scan_events(events: &Path) -> Result<Vec<(String, String)>, String> {
    let cats = std::fs::read_dir(events)
        .map_err(|e| format!("cannot list tracepoints in {}: {e}", events.display()))?;
    let mut out = Vec::new();
    for cat in cats.flatten() {
        let Ok(names) = std::fs::read_dir(cat.path()) else {
            continue;
        };
        for name in names.flatten() {
            if name.path().join("format").is_file() {
                out.push((
                    cat.file_name().to_string_lossy().into_owned(),
                    name.file_name().to_string_lossy().into_owned(),
                ));
            }
        }
    }
    Ok(out)
}

/// Parsed format files by path, kept for the rest of the process: a script with many probes
/// on one tracepoint reads and parses its format once.
static FORMATS: Mutex<Option<HashMap<PathBuf, TpFormat>>> = Mutex::new(None);

fn cached(path: &Path) -> Option<TpFormat> {
    let guard = FORMATS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    guard.as_ref()?.get(path).cloned()
}

/// The record layout of `CATEGORY:NAME` (without `common_*` fields).
pub fn format(category: &str, name: &str) -> Result<TpFormat, String> {
    let path = format_path(category, name)?;
    if let Some(f) = cached(&path) {
        return Ok(f);
    }
    let text = read_format(&path, category, name)?;
    let f = parse_format(&text).map_err(|e| format!("tracepoint {category}:{name}: {e}"))?;
    let mut guard = FORMATS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    guard
        .get_or_insert_with(HashMap::new)
        .insert(path, f.clone());
    Ok(f)
}

/// The raw `format` file of `CATEGORY:NAME`.
pub(crate) fn format_text(category: &str, name: &str) -> Result<String, String> {
    let path = format_path(category, name)?;
    read_format(&path, category, name)
}

/// `ROOT/events/CATEGORY/NAME/format`, for names that stay inside `events/`.
fn format_path(category: &str, name: &str) -> Result<PathBuf, String> {
    if [category, name]
        .iter()
        .any(|s| s.is_empty() || s.contains('/') || *s == "..")
    {
        return Err(format!("no tracepoint matches '{category}:{name}'"));
    }
    let mut path = tracefs_root()?;
    path.extend(["events", category, name, "format"]);
    Ok(path)
}

fn read_format(path: &Path, category: &str, name: &str) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => format!("no tracepoint matches '{category}:{name}'"),
        _ => format!("cannot read {}: {e}", path.display()),
    })
}

/// The field declarations as the format file writes them (`const char * filename`), common
/// fields left out: what `-lv` prints.
pub(crate) fn field_decls(text: &str) -> Vec<&str> {
    text.lines()
        .filter_map(|l| l.trim_start().strip_prefix("field:"))
        .filter_map(|l| l.split(';').next())
        .filter(|decl| !decl_name(decl).starts_with("common_"))
        .collect()
}

/// The field name in a declaration: the last word, without any `[N]`.
fn decl_name(decl: &str) -> &str {
    let last = decl.rsplit([' ', '\t', '*']).next().unwrap_or(decl);
    last.split('[').next().unwrap_or(last)
}

/// Parses the text of a format file.
pub fn parse_format(text: &str) -> Result<TpFormat, String> {
    let mut fields = Vec::new();
    for line in text.lines() {
        let Some(body) = line.trim_start().strip_prefix("field:") else {
            continue;
        };
        let mut parts = body.split(';').map(str::trim);
        let decl = parts.next().unwrap_or("");
        let mut offset = None;
        let mut size = None;
        let mut signed = false;
        for kv in parts {
            match kv.split_once(':') {
                Some(("offset", v)) => offset = v.trim().parse().ok(),
                Some(("size", v)) => size = v.trim().parse().ok(),
                Some(("signed", v)) => signed = v.trim() == "1",
                _ => {}
            }
        }
        let (Some(offset), Some(size)) = (offset, size) else {
            return Err(format!("malformed field line '{}'", line.trim()));
        };
        let name = decl_name(decl);
        if name.is_empty() {
            return Err(format!("malformed field line '{}'", line.trim()));
        }
        if name.starts_with("common_") {
            continue;
        }
        let name_at = decl.rfind(name).unwrap_or(decl.len());
        let c_type = decl[..name_at].trim_end().to_string();
        let array_len = decl[name_at..]
            .split_once('[')
            .and_then(|(_, r)| r.split_once(']'))
            .and_then(|(n, _)| n.trim().parse().ok());
        let data_loc = c_type.starts_with("__data_loc");
        fields.push(TpField {
            name: name.to_string(),
            pointer: !data_loc && c_type.contains('*'),
            c_type,
            offset,
            size,
            signed,
            data_loc,
            array_len,
        });
    }
    Ok(TpFormat { fields })
}
