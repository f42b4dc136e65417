//! Tracepoint format files (`events/CAT/NAME/format`): the record layout (`TpFormat`) and the
//! field declarations `-lv` prints; fed by the catalogue's format text.

use super::{TpField, TpFormat};

/// The field declarations as the format file writes them (`const char * filename`), common
/// fields left out: what `-lv` prints.
pub fn field_decls(text: &str) -> Vec<&str> {
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
