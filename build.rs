//! Build script: generates the parser from grammar/rtrace.lalrpop into OUT_DIR.
fn main() {
    println!("cargo:rerun-if-changed=grammar");
    lalrpop::Configuration::new()
        .set_in_dir("grammar")
        .emit_rerun_directives(true)
        .process()
        .expect("grammar/rtrace.lalrpop must generate a parser");
}
