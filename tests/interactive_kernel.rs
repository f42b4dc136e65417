//! Kernel test of the interactive session in a real terminal: tmux runs `rtrace -i`, keys are
//! typed with `send-keys` and the screen is read with `capture-pane`; a tracepoint probe
//! filtered on this test's pid is typed, its output, a map, errors, `.probes`, `.detach`,
//! Ctrl-C and `.quit` are checked, and nothing rtrace loaded is left in the kernel.

mod common;

use common::kernel_test;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_rtrace");
const TMUX: &str = "/usr/bin/tmux";

/// Numbers the tmux servers of this test binary.
static NEXT: AtomicUsize = AtomicUsize::new(0);

/// A tmux server of this test alone (its own socket), killed when dropped.
struct Terminal {
    socket: String,
}

impl Terminal {
    fn tmux(&self, args: &[&str]) -> String {
        let out = Command::new(TMUX)
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("tmux runs");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Starts `rtrace -i` in a 200x50 pane, under a shell that waits for it and then prints
    /// `rtrace exited CODE` (the shell, not tmux, reaps it) and stays.
    fn start(env: &[(&str, &str)]) -> Terminal {
        let t = Terminal {
            // Its own server each time: a server being killed must not take the next session.
            socket: format!(
                "rtrace-test-{}-{}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::SeqCst)
            ),
        };
        let mut args = vec!["new-session", "-d", "-s", "t", "-x", "200", "-y", "50"];
        let vars: Vec<String> = env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        for v in &vars {
            args.push("-e");
            args.push(v);
        }
        args.extend_from_slice(&[
            "/bin/sh",
            "-c",
            "\"$0\" -i; echo \"rtrace exited $?\"; exec sleep 600",
            BIN,
        ]);
        t.tmux(&args);
        t
    }

    /// The pid of rtrace, the pane's shell's child.
    fn rtrace_pid(&self) -> i32 {
        let shell = self.pane("#{pane_pid}");
        let children = format!("/proc/{shell}/task/{shell}/children");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let text = std::fs::read_to_string(&children).unwrap_or_default();
            if let Some(pid) = text.split_whitespace().next().and_then(|p| p.parse().ok()) {
                return pid;
            }
            assert!(
                Instant::now() < deadline,
                "rtrace did not start under {shell}"
            );
            thread::sleep(Duration::from_millis(20));
        }
    }

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "t"];
        args.extend_from_slice(keys);
        self.tmux(&args);
    }

    /// Waits for an empty prompt, then types `text` literally and Enter. (Keys typed before
    /// the editor is reading again can be lost, as in any line editor.)
    fn line(&self, text: &str) {
        self.wait_prompt();
        self.continue_line(text);
    }

    /// Waits until the last line on the screen is an empty prompt.
    fn wait_prompt(&self) {
        self.wait_for("an empty prompt", |s| {
            s.lines().rev().find(|l| !l.trim().is_empty()) == Some("rtrace>")
        });
    }

    /// Types `text` literally and Enter, in the input being edited.
    fn continue_line(&self, text: &str) {
        self.tmux(&["send-keys", "-t", "t", "-l", text]);
        self.keys(&["Enter"]);
    }

    fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-t", "t", "-S", "-500"])
    }

    fn pane(&self, what: &str) -> String {
        self.tmux(&["display-message", "-p", "-t", "t", what])
            .trim()
            .to_string()
    }

    /// rtrace's exit code, once its shell has printed it.
    fn exit_status(&self) -> Option<String> {
        let s = self.screen();
        let at = s.find("rtrace exited ")? + "rtrace exited ".len();
        s[at..].split_whitespace().next().map(str::to_string)
    }

    /// Waits until the screen satisfies `ok`; panics with the screen after 20 s.
    fn wait_for(&self, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let s = self.screen();
            if ok(&s) {
                return s;
            }
            if Instant::now() > deadline {
                panic!("timed out waiting for {what}; the screen:\n{s}");
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    fn wait_text(&self, text: &str) -> String {
        self.wait_for(text, |s| s.contains(text))
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        self.tmux(&["kill-server"]);
    }
}

/// What `bpftool` shows of the programs and maps in `held` (nothing once released); empty
/// without bpftool (the checks by id in `common::assert_released` still ran).
fn bpftool_shows(held: &common::Holdings) -> Vec<String> {
    let show = |what: &str| -> String {
        Command::new("bpftool")
            .args([what, "show"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    };
    let mut left = Vec::new();
    for (what, ids) in [("prog", &held.progs), ("map", &held.maps)] {
        let text = show(what);
        for id in ids {
            let head = format!("{id}: ");
            left.extend(
                text.lines()
                    .filter(|l| l.starts_with(&head))
                    .map(str::to_string),
            );
        }
    }
    left
}

fn count(screen: &str, text: &str) -> usize {
    screen.matches(text).count()
}

fn getppid_times(n: usize) {
    for _ in 0..n {
        // SAFETY: getppid has no arguments and cannot fail.
        unsafe { libc::getppid() };
    }
}

/// Whether tmux is missing (the test is then skipped, saying so).
fn tmux_missing() -> bool {
    let missing = !Path::new(TMUX).exists();
    if missing {
        println!("skipped: {TMUX} is not installed (apt-get install tmux)");
    }
    missing
}

#[test]
fn a_session_in_a_terminal_attaches_prints_detaches_and_leaves_nothing() {
    if tmux_missing() {
        return;
    }
    kernel_test(|| {
        let state = std::env::temp_dir().join(format!("rtrace-state-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&state);
        let term = Terminal::start(&[("XDG_STATE_HOME", state.to_str().unwrap_or("/tmp"))]);
        term.wait_text("rtrace>");
        let rtrace_pid = term.rtrace_pid();
        let me = std::process::id();

        // A probe on this test's own getppid calls: attached at once, its output above the prompt.
        term.line(&format!(
            "tracepoint:syscalls:sys_enter_getppid /pid == {me}/ \
             {{ @calls = count(); printf(\"getppid from %d\\n\", pid); }}"
        ));
        term.wait_text("probe 1: tracepoint:syscalls:sys_enter_getppid");
        let held = common::holdings(rtrace_pid);
        assert!(!held.progs.is_empty(), "rtrace holds no program: {held:?}");
        if Path::new("/usr/sbin/bpftool").exists() {
            assert!(
                !bpftool_shows(&held).is_empty(),
                "bpftool sees none of {held:?}"
            );
        }
        getppid_times(3);
        let line = format!("getppid from {me}");
        term.wait_for("three getppid lines", |s| count(s, &line) == 3);

        // A map name prints the map now.
        term.line("@calls");
        term.wait_text("@calls: 3");

        // A block over two lines.
        term.line("interval:ms:100 {");
        term.continue_line("  @ticks = count(); }");
        term.wait_text("probe 2: interval:ms:100");

        // A type clash with a loaded map is a diagnostic under the line typed.
        term.line("BEGIN { @calls = \"text\"; }");
        let s = term.wait_text("stdin:1:9");
        assert!(s.contains("1 │ BEGIN { @calls = \"text\"; }"), "{s}");

        // Ctrl-C clears the line; the session goes on.
        term.wait_for("an empty prompt", |s| s.trim_end().ends_with("rtrace>"));
        term.tmux(&["send-keys", "-t", "t", "-l", "BEGIN { never"]);
        term.keys(&["C-c"]);
        term.line(".probes");
        let s = term.wait_text("  2  attached");
        assert!(
            s.contains("  1  attached  tracepoint:syscalls:sys_enter_getppid"),
            "{s}"
        );
        // The cleared line was neither compiled nor loaded.
        assert!(s.contains("rtrace> BEGIN { never\nrtrace> .probes"), "{s}");
        assert!(!s.contains("probe 3"), "{s}");

        // Detached: its calls are no longer seen.
        term.line(".detach 1");
        term.wait_text("probe 1 detached");
        getppid_times(2);
        thread::sleep(Duration::from_millis(300));
        term.line("@calls");
        let s = term.wait_for("@calls printed twice", |s| count(s, "@calls: 3") == 2);
        assert_eq!(count(&s, &line), 3, "{s}");

        // .quit prints the maps as a run's end does, and nothing stays loaded.
        term.line(".quit");
        term.wait_for("rtrace to exit", |_| term.exit_status().is_some());
        let s = term.screen();
        assert_eq!(term.exit_status().as_deref(), Some("0"), "{s}");
        let end = &s[s.rfind(".quit").unwrap_or(0)..];
        assert!(end.contains("\n@calls: 3\n@ticks: "), "{s}");
        common::assert_released(&held);
        assert_eq!(bpftool_shows(&held), Vec::<String>::new());
        let history = std::fs::read_to_string(state.join("rtrace/history")).unwrap_or_default();
        assert!(history.contains(".detach 1"), "history: {history}");
        let _ = std::fs::remove_dir_all(&state);
    });
}

/// Starts a session, attaches a probe that is held in the kernel, ends the session with
/// `end`, and checks the screen after it and that nothing of rtrace's stays loaded.
fn session_ends_by(end: impl FnOnce(&Terminal), check: impl FnOnce(&str)) {
    kernel_test(|| {
        let state = std::env::temp_dir().join(format!("rtrace-state-{}", std::process::id()));
        let term = Terminal::start(&[("XDG_STATE_HOME", state.to_str().unwrap_or("/tmp"))]);
        term.wait_text("rtrace>");
        let rtrace_pid = term.rtrace_pid();
        term.line("interval:ms:50 { @ticks = count(); }");
        term.wait_text("probe 1: interval:ms:50");
        let held = common::holdings(rtrace_pid);
        assert!(!held.progs.is_empty(), "rtrace holds no program: {held:?}");
        end(&term);
        term.wait_for("rtrace to exit", |_| term.exit_status().is_some());
        let s = term.screen();
        assert_eq!(term.exit_status().as_deref(), Some("0"), "{s}");
        assert!(s.contains("@ticks: "), "{s}");
        check(&s);
        common::assert_released(&held);
        assert_eq!(bpftool_shows(&held), Vec::<String>::new());
        let _ = std::fs::remove_dir_all(&state);
    });
}

#[test]
fn ctrl_d_ends_the_session_with_the_maps() {
    if tmux_missing() {
        return;
    }
    session_ends_by(
        |t| {
            t.wait_prompt();
            t.keys(&["C-d"]);
        },
        |_| {},
    );
}

#[test]
fn exit_in_a_typed_probe_ends_the_session_with_end_and_the_maps() {
    if tmux_missing() {
        return;
    }
    session_ends_by(
        |t| {
            t.line("END { printf(\"end ran\\n\"); }");
            t.wait_text("probe 2: END");
            t.line("BEGIN { @x = 7; exit(); }");
        },
        |s| {
            assert!(s.contains("end ran"), "{s}");
            assert!(s.contains("@x: 7"), "{s}");
        },
    );
}

#[test]
fn sigterm_ends_the_session_with_the_maps() {
    if tmux_missing() {
        return;
    }
    session_ends_by(
        |t| {
            let pid = t.rtrace_pid();
            // SAFETY: a signal to the session's own process.
            unsafe { libc::kill(pid, libc::SIGTERM) };
        },
        |_| {},
    );
}
