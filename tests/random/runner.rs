//! Runs one script with the rtrace binary and judges it against the reference's expected stdout.

use std::io::Read;
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
}

/// Runs `rtrace ARGS` with stdin closed; kills the process (by its id) after the timeout.
pub fn run_args(args: &[&str]) -> Run {
    let mut child = match Command::new(BIN)
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

/// Runs a script given as text.
pub fn run_script(text: &str) -> Run {
    run_args(&["-e", text])
}
