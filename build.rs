//! Build script: generates the parser from grammar/rtrace.lalrpop, and the list of builtin
//! entry files in src/builtins/, into OUT_DIR.
use std::path::Path;

fn main() {
    println!("cargo:rerun-if-changed=grammar");
    lalrpop::Configuration::new()
        .set_in_dir("grammar")
        .emit_rerun_directives(true)
        .process()
        .expect("grammar/rtrace.lalrpop must generate a parser");
    builtin_entries();
}

/// Every `src/builtins/NAME.rs` but mod.rs and api.rs defines `pub const ENTRIES: &[Builtin]`:
/// adding a builtin is adding a file, with no list to edit.
fn builtin_entries() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/builtins");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("src/builtins must be readable")
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter_map(|n| n.strip_suffix(".rs").map(str::to_string))
        .filter(|n| n != "mod" && n != "api" && !n.ends_with("_tests"))
        .collect();
    names.sort();
    let mut out = String::new();
    for n in &names {
        let path = dir.join(format!("{n}.rs"));
        out.push_str(&format!(
            "#[path = {:?}]\nmod {n};\n",
            path.display().to_string()
        ));
    }
    out.push_str(
        "/// The entry files' builtins, file by file.\nconst FAMILIES: &[&[Builtin]] = &[",
    );
    for n in &names {
        out.push_str(&format!("{n}::ENTRIES, "));
    }
    out.push_str("];\n");
    let dest = Path::new(&std::env::var("OUT_DIR").expect("OUT_DIR is set by cargo"))
        .join("builtin_entries.rs");
    std::fs::write(dest, out).expect("OUT_DIR must be writable");
}
