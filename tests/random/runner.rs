//! Runs one script with the rtrace binary and judges it against the reference's expected stdout.

use super::script::Script;
use std::ffi::OsString;
use std::io::Read;
use std::os::unix::ffi::OsStringExt;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_rtrace");

/// How long one small script may run before it counts as hung.
const TIMEOUT: Duration = Duration::from_secs(20);

/// What one run printed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Run {
    pub stdout: String,
    pub stderr: String,
    /// `None`: killed by a signal or by the timeout.
    pub code: Option<i32>,
}

impl Run {
    /// Whether the run is what the reference predicts: exit code 0 and the exact stdout.
    pub fn matches(&self, expected: &str) -> bool {
        self.code == Some(0) && self.stdout == expected
    }

    /// Whether rtrace refused the script at compile time only because it needs more than the
    /// kernel's 512 bytes of stack: every error it printed says so, and it ran nothing. (Keys,
    /// values and strings that do not fit go to scratch space; this remains for a frame whose
    /// spilled registers alone would not fit.)
    pub fn out_of_stack(&self) -> bool {
        let errors = self
            .stderr
            .lines()
            .filter(|l| l.to_ascii_lowercase().contains("error"))
            .count();
        let stack = self
            .stderr
            .lines()
            .filter(|l| l.contains("bytes of stack; the kernel allows"))
            .count();
        self.code == Some(1) && self.stdout.is_empty() && stack > 0 && errors == stack
    }
}

/// Runs `rtrace ARGS` with stdin closed and `BPFTRACE_STRLEN` set (or unset); kills the
/// process (by its id) after the timeout.
pub fn run_args(args: &[OsString], strlen: Option<u32>) -> Run {
    let mut cmd = Command::new(BIN);
    match strlen {
        Some(n) => cmd.env("BPFTRACE_STRLEN", n.to_string()),
        None => cmd.env_remove("BPFTRACE_STRLEN"),
    };
    let mut child = match cmd
        .args(args)
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => {
            return Run {
                stdout: String::new(),
                stderr: format!("cannot start {BIN}: {e}"),
                code: None,
            }
        }
    };
    let pid = child.id();
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let watchdog = std::thread::spawn(move || {
        if done_rx.recv_timeout(TIMEOUT).is_err() {
            // SAFETY: kill(2) on our own child's pid; it is not reaped before `wait` below.
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
        }
    });
    let mut stderr = child.stderr.take();
    let err_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(e) = stderr.as_mut() {
            let _ = e.read_to_end(&mut buf);
        }
        buf
    });
    let mut out = Vec::new();
    if let Some(mut o) = child.stdout.take() {
        let _ = o.read_to_end(&mut out);
    }
    let status = child.wait();
    let _ = done_tx.send(());
    let _ = watchdog.join();
    let err = err_reader.join().unwrap_or_default();
    Run {
        stdout: String::from_utf8_lossy(&out).into_owned(),
        stderr: String::from_utf8_lossy(&err).into_owned(),
        code: status.ok().and_then(|s| s.code()),
    }
}

/// Runs a script: its text with `-e`, its data as the last argument, its `BPFTRACE_STRLEN`.
pub fn run_script(script: &Script) -> Run {
    run_args(&arguments(&script.text(), &script.data), script.strlen)
}

/// `-e TEXT [DATA]`: the data last, so that it ends where `curtask->mm->arg_end` points.
pub fn arguments(text: &str, data: &[u8]) -> Vec<OsString> {
    let mut args = vec![OsString::from("-e"), OsString::from(text)];
    if !data.is_empty() {
        args.push(OsString::from_vec(data.to_vec()));
    }
    args
}
