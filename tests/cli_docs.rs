//! The man page and shell completions come from the one flag table: the committed copies
//! (docs/rtrace.1, completions/) must equal `rtrace --generate KIND` (UPDATE_GOLDEN=1 rewrites
//! them), the man page must render, bash must load its completion and complete with it, and
//! every flag of the table must be one the parser accepts.

mod common;

use common::command;
use std::path::PathBuf;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_rtrace");

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn committed_copies_are_generated_from_the_flags() {
    for (kind, path) in [
        ("man", "docs/rtrace.1"),
        ("bash", "completions/rtrace.bash"),
        ("zsh", "completions/_rtrace"),
        ("fish", "completions/rtrace.fish"),
    ] {
        let out = common::run(command(BIN, &["--generate", kind]));
        out.expect_code(0);
        let file = root().join(path);
        if std::env::var_os("UPDATE_GOLDEN").is_some() {
            std::fs::write(&file, &out.stdout).expect("write");
            continue;
        }
        let committed = std::fs::read_to_string(&file).unwrap_or_default();
        assert!(
            committed == out.stdout,
            "{path} is not what `rtrace --generate {kind}` prints: rerun with UPDATE_GOLDEN=1"
        );
    }
}

#[test]
fn man_page_renders() {
    let page = root().join("docs/rtrace.1");
    let Ok(out) = Command::new("man")
        .arg("-l")
        .arg(&page)
        .env("MANWIDTH", "80")
        .env("MAN_KEEP_FORMATTING", "0")
        .output()
    else {
        // No man(1): groff renders it the same way.
        let out = Command::new("groff")
            .args(["-man", "-Tutf8", "-ww"])
            .arg(&page)
            .output()
            .expect("man or groff is needed to render docs/rtrace.1");
        assert!(out.status.success());
        return;
    };
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Bold and underline come as overstrikes (`c\x08c`): keep the last character.
    let mut text = String::new();
    for c in String::from_utf8_lossy(&out.stdout).chars() {
        if c == '\u{8}' {
            text.pop();
        } else {
            text.push(c);
        }
    }
    assert!(text.contains("RTRACE(1)"), "{text}");
    assert!(text.contains("--compile-only"), "{text}");
    assert!(!String::from_utf8_lossy(&out.stderr).contains("warning"));
}

#[test]
fn bash_loads_and_completes() {
    let script = root().join("completions/rtrace.bash");
    let complete = |words: &str, cword: usize| -> String {
        let out = Command::new("bash")
            .arg("-c")
            .arg(format!(
                "source '{}' && COMP_WORDS=({words}) && COMP_CWORD={cword} && _rtrace && \
                 echo \"${{COMPREPLY[*]}}\" && complete -p rtrace",
                script.display()
            ))
            .output()
            .expect("bash");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert_eq!(
        complete("rtrace -f ''", 2),
        "text json\ncomplete -F _rtrace rtrace\n"
    );
    assert!(complete("rtrace --comp", 1).starts_with("--compile-only\n"));
    assert!(complete("rtrace -l t", 2).starts_with("tracepoint:\n"));
}

#[test]
fn every_flag_is_accepted() {
    use rtrace::cli::{parse_args, FLAGS};
    for f in FLAGS {
        let names = f
            .short
            .map(|c| format!("-{c}"))
            .into_iter()
            .chain(f.long.map(|l| format!("--{l}")));
        for name in names {
            let mut args = vec![name.clone()];
            if let Some(v) = f.value {
                args.push(match f.choices.first() {
                    Some(c) => c.to_string(),
                    None if v == "PID" => "1".into(),
                    None => "x".into(),
                });
            }
            if f.short != Some('e') {
                args.extend(["-e".to_string(), "BEGIN { exit(); }".to_string()]);
            }
            match parse_args(&args) {
                Ok(_) => {}
                Err(e) => assert!(
                    !e.0.starts_with("unknown option") && !e.0.contains("needs a value"),
                    "{name}: {}",
                    e.0
                ),
            }
        }
    }
    // A flag outside the table is unknown.
    assert!(parse_args(&["-Z".to_string()])
        .unwrap_err()
        .0
        .starts_with("unknown option"));
}
