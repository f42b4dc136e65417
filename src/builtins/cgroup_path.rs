//! `cgroup_path(ID[, FILTER])`: the cgroup with id `ID` (`cgroup`, a cgroup2 inode number) as
//! its paths, resolved in userspace when the value is printed, as bpftrace 0.17 does: every
//! cgroup mount of /proc/mounts whose name matches FILTER (a glob, `*` by default; a cgroup2
//! mount is named `unified`, a v1 mount by its directory) is searched for a directory with
//! that inode, and the matches print as `unified:/a/b,cpu:/c`.

use super::api::*;
use crate::ast::ExprKind;
use crate::output::value::Value;
use crate::sema::types::{Formatted, Type};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::Arc;

pub const ENTRIES: &[Builtin] = &[Builtin {
    name: "cgroup_path",
    args: (1, 2),
    check,
    lower: Lower::Mem(|cx, call, base, off, size| {
        let v = cx.int(&call.args[0]);
        super::userspace_values::store(cx, v, base, off, size);
    }),
    format: Some(|bytes, filter, _| {
        let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
        let id = super::userspace_values::word(bytes);
        let text = cgroup_paths(id, filter.unwrap_or("*"), &mounts);
        Value::Str(text.into_bytes())
    }),
    ..Builtin::PLAIN
}];

fn check(cx: &mut dyn CheckCx, call: &Call<'_>) -> Checked {
    let id = cx.expr(&call.args[0]);
    if !id.ty.is_int() {
        cx.error(
            id.span,
            format!(
                "cgroup_path() expects a cgroup id (an integer), but this is a {}",
                id.ty
            ),
        );
        return Checked::Error;
    }
    let filter: Arc<str> = match call.args.get(1).map(|a| (&a.kind, a.span)) {
        None => "*".into(),
        Some((ExprKind::Str(f), _)) => String::from_utf8_lossy(f).into(),
        Some((_, span)) => {
            cx.error(
                span,
                "cgroup_path()'s filter must be a string literal, as in cgroup_path(cgroup, \"unified\")"
                    .into(),
            );
            return Checked::Error;
        }
    };
    Checked::Call {
        ty: Type::Formatted(Formatted {
            builtin: call.id.0,
            name: "cgroup_path",
            size: 8,
            param: Some(filter),
        }),
        args: vec![id],
        data: Vec::new(),
    }
}

/// The cgroup mounts of a /proc/mounts text, as (name, mount point): `unified` for cgroup2,
/// the mount point's last component for a v1 hierarchy.
fn hierarchy_roots(mounts: &str) -> Vec<(String, String)> {
    mounts
        .lines()
        .filter_map(|line| {
            let mut f = line.split_whitespace();
            let (fs, dir) = (f.next()?, f.next()?);
            match fs {
                "cgroup2" => Some(("unified".to_string(), dir.to_string())),
                "cgroup" => {
                    let name = Path::new(dir).file_name()?.to_string_lossy().into_owned();
                    Some((name, dir.to_string()))
                }
                _ => None,
            }
        })
        .collect()
}

/// The path under `root` of the directory whose inode is `id` ("/" for the root itself), if
/// any.
fn path_in_hierarchy(id: u64, root: &Path) -> Option<String> {
    if std::fs::metadata(root).ok()?.ino() == id {
        return Some("/".into());
    }
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let Ok(ft) = e.file_type() else { continue };
            if !ft.is_dir() {
                continue;
            }
            let path = e.path();
            if e.metadata().is_ok_and(|m| m.ino() == id) {
                let rel = path.strip_prefix(root).ok()?;
                return Some(format!("/{}", rel.display()));
            }
            stack.push(path);
        }
    }
    None
}

/// `name:path` for every matching hierarchy that has the cgroup, `unified` first and the
/// others by name, joined with `,`.
fn cgroup_paths(id: u64, filter: &str, mounts: &str) -> String {
    let mut found: Vec<(String, String)> = hierarchy_roots(mounts)
        .into_iter()
        .filter(|(name, _)| crate::probes::glob_match(filter, name))
        .filter_map(|(name, dir)| Some((name, path_in_hierarchy(id, Path::new(&dir))?)))
        .collect();
    found.sort_by(|a, b| match (a.0 == "unified", b.0 == "unified") {
        (true, false) => std::cmp::Ordering::Less,
        (false, true) => std::cmp::Ordering::Greater,
        _ => a.0.cmp(&b.0),
    });
    found
        .iter()
        .map(|(name, path)| format!("{name}:{path}"))
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mounts_name_their_hierarchies() {
        let mounts = "proc /proc proc rw 0 0\n\
                      cgroup2 /sys/fs/cgroup cgroup2 rw,nosuid 0 0\n\
                      cgroup /sys/fs/cgroup/cpu,cpuacct cgroup rw,cpu,cpuacct 0 0\n";
        assert_eq!(
            hierarchy_roots(mounts),
            vec![
                ("unified".to_string(), "/sys/fs/cgroup".to_string()),
                ("cpu,cpuacct".to_string(), "/sys/fs/cgroup/cpu,cpuacct".to_string()),
            ]
        );
    }

    #[test]
    fn a_directory_is_found_by_its_inode() {
        let root = std::env::temp_dir().join(format!("rtrace-cgroup-{}", std::process::id()));
        let inner = root.join("a/b");
        std::fs::create_dir_all(&inner).expect("mkdir");
        let ino = std::fs::metadata(&inner).expect("stat").ino();
        let root_ino = std::fs::metadata(&root).expect("stat").ino();
        let mounts = format!("cgroup2 {} cgroup2 rw 0 0\n", root.display());
        assert_eq!(cgroup_paths(ino, "*", &mounts), "unified:/a/b");
        assert_eq!(cgroup_paths(root_ino, "uni*", &mounts), "unified:/");
        assert_eq!(cgroup_paths(ino, "cpu", &mounts), "");
        assert_eq!(cgroup_paths(u64::MAX, "*", &mounts), "");
        std::fs::remove_dir_all(&root).expect("rm");
    }
}
