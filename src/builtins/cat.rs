//! `cat(FILENAME_FORMAT, ARGS...)`: prints a file's contents when userspace reads the event;
//! the name is formatted like printf. At most `BPFTRACE_CAT_BYTES_MAX` bytes (10240), as in
//! bpftrace 0.17.

use super::api::*;
use crate::output::printf::Format;
use std::io::Read;

pub const ENTRIES: &[Builtin] = &[Builtin {
    name: "cat",
    args: (1, 65),
    check,
    lower: Lower::Stmt(|cx, call| cx.format_record(call.data[0] as u32, call.args)),
    event: Some(print_file),
    ..Builtin::PLAIN
}];

/// bpftrace's default for `BPFTRACE_CAT_BYTES_MAX`.
const CAT_BYTES_MAX: u64 = 10240;

fn check(cx: &mut dyn CheckCx, call: &Call<'_>) -> Checked {
    let Some((format, args)) = super::output::format_args(cx, call) else {
        return Checked::Error;
    };
    let id = cx.call_record(call.id, format, &args);
    Checked::action(args, vec![u64::from(id)])
}

fn print_file(e: &Event<'_>) -> Message {
    let mut name = Vec::new();
    if let Err(msg) = Format::new(e.param).and_then(|f| f.write(&mut name, e.args)) {
        return Message::Error(format!("cat: {msg}"));
    }
    let path = String::from_utf8_lossy(&name);
    match read_file(&path, limit()) {
        Ok(text) => Message::Text {
            kind: "cat",
            text,
            newline: false,
        },
        Err(e) => Message::Failed {
            error: format!(
                "failed to open file '{path}': {}",
                crate::output::os_error_text(&e)
            ),
            kind: "cat",
        },
    }
}

fn limit() -> u64 {
    std::env::var("BPFTRACE_CAT_BYTES_MAX")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(CAT_BYTES_MAX)
}

/// The file's first `max` bytes.
fn read_file(path: &str, max: u64) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    std::fs::File::open(path)?.take(max).read_to_end(&mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_at_most_the_limit() {
        let path = std::env::temp_dir().join(format!("rtrace-cat-{}", std::process::id()));
        std::fs::write(&path, b"hello world\n").expect("write");
        let p = path.display().to_string();
        assert_eq!(read_file(&p, 100).expect("read"), b"hello world\n");
        assert_eq!(read_file(&p, 5).expect("read"), b"hello");
        assert!(read_file("/nonexistent/x", 5).is_err());
        let _ = std::fs::remove_file(&path);
    }
}
