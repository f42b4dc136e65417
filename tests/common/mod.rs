//! Shared helpers of the kernel and differential tests: run a binary with a deadline, capture its output, and find BPF objects left behind.

#![allow(dead_code)] // each test crate uses its own subset

use std::collections::BTreeSet;
use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// How long any one run may take before it is killed and the test fails.
pub const TIMEOUT: Duration = Duration::from_secs(20);

/// Tests that load BPF programs take this lock so that the before/after object checks see only
/// their own run.
static SERIAL: Mutex<()> = Mutex::new(());

/// Holds the lock that serialises kernel tests (a panicking test does not poison it for others).
pub fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// A finished run.
#[derive(Debug)]
pub struct Output {
    pub stdout: String,
    pub stderr: String,
    /// `None` when a signal ended the process.
    pub code: Option<i32>,
}

impl Output {
    /// Panics with both streams unless the process exited with `code`.
    pub fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code,
            Some(code),
            "exit code\n--- stdout:\n{}\n--- stderr:\n{}",
            self.stdout,
            self.stderr
        );
        self
    }
}

/// A process whose stdout and stderr are collected by reader threads while it runs.
pub struct Running {
    child: Child,
    what: String,
    stdout: Arc<Mutex<Vec<u8>>>,
    stderr: Arc<Mutex<Vec<u8>>>,
    readers: Vec<JoinHandle<()>>,
}

fn collect(mut from: impl Read + Send + 'static, into: Arc<Mutex<Vec<u8>>>) -> JoinHandle<()> {
    thread::spawn(move || {
        let mut buf = [0u8; 4096];
        loop {
            match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => into
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .extend_from_slice(&buf[..n]),
            }
        }
    })
}

fn text(buf: &Arc<Mutex<Vec<u8>>>) -> String {
    String::from_utf8_lossy(&buf.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
}

impl Running {
    /// Starts `cmd` with stdin closed and stdout/stderr piped.
    pub fn start(mut cmd: Command) -> Running {
        let what = format!("{cmd:?}");
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        Running::spawn(cmd, what)
    }

    /// Starts `cmd` with `input` written to its stdin.
    pub fn start_with_stdin(mut cmd: Command, input: &str) -> Running {
        let what = format!("{cmd:?}");
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut run = Running::spawn(cmd, what);
        let mut stdin = run.child.stdin.take().expect("piped stdin");
        let input = input.to_owned();
        run.readers.push(thread::spawn(move || {
            use std::io::Write;
            let _ = stdin.write_all(input.as_bytes());
        }));
        run
    }

    fn spawn(mut cmd: Command, what: String) -> Running {
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let readers = vec![
            collect(child.stdout.take().expect("piped"), stdout.clone()),
            collect(child.stderr.take().expect("piped"), stderr.clone()),
        ];
        Running {
            child,
            what,
            stdout,
            stderr,
            readers,
        }
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// The stdout collected so far.
    pub fn stdout(&self) -> String {
        text(&self.stdout)
    }

    /// Waits until stdout contains `needle`; kills the process and panics after `TIMEOUT` or if
    /// it exits first.
    pub fn wait_for_stdout(&mut self, needle: &str) {
        let deadline = Instant::now() + TIMEOUT;
        while !self.stdout().contains(needle) {
            let exited = matches!(self.child.try_wait(), Ok(Some(_)));
            if exited || Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "{}: {needle:?} never appeared on stdout (exited: {exited})\n--- stdout:\n{}\n--- stderr:\n{}",
                    self.what,
                    self.stdout(),
                    text(&self.stderr)
                );
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// Whether the process has exited (it is not reaped until `finish`).
    pub fn exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    /// Sends `sig` unless the process has already exited.
    pub fn signal_if_running(&mut self, sig: i32) {
        if !self.exited() {
            self.signal(sig);
        }
    }

    /// Sends `sig` (e.g. `libc::SIGINT`) to the process.
    pub fn signal(&self, sig: i32) {
        // SAFETY: kill(2) on the pid of a child we have not reaped yet.
        let rc = unsafe { libc::kill(self.pid(), sig) };
        assert_eq!(rc, 0, "kill({}, {sig})", self.pid());
    }

    /// Waits for the exit, killing the process and failing the test after `TIMEOUT`.
    pub fn finish(mut self) -> Output {
        let deadline = Instant::now() + TIMEOUT;
        let status = loop {
            match self.child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if Instant::now() > deadline => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    panic!(
                        "{} did not end within {TIMEOUT:?}\n--- stdout:\n{}\n--- stderr:\n{}",
                        self.what,
                        self.stdout(),
                        text(&self.stderr)
                    );
                }
                Ok(None) => thread::sleep(Duration::from_millis(5)),
                Err(e) => panic!("{}: wait: {e}", self.what),
            }
        };
        // The pipes close when the process and any children holding them end; a child left
        // running (a leak in itself) must not hang the test.
        let deadline = Instant::now() + TIMEOUT;
        for reader in self.readers.drain(..) {
            while !reader.is_finished() {
                assert!(
                    Instant::now() < deadline,
                    "{}: stdout/stderr still open {TIMEOUT:?} after the exit (a child left running?)",
                    self.what
                );
                thread::sleep(Duration::from_millis(5));
            }
            let _ = reader.join();
        }
        Output {
            stdout: text(&self.stdout),
            stderr: text(&self.stderr),
            code: status.code(),
        }
    }
}

/// Runs `cmd` to the end with stdin closed (see `Running::finish`).
pub fn run(cmd: Command) -> Output {
    Running::start(cmd).finish()
}

/// `bin` with `args`, in a neutral working directory.
pub fn command(bin: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(bin);
    cmd.args(args).current_dir("/");
    cmd
}

/// The tracefs that tracepoint probes need, mounted if the machine has not done it.
pub fn ensure_tracefs() {
    if !Path::new("/sys/kernel/tracing/events").is_dir() {
        let _ = Command::new("mount")
            .args(["-t", "tracefs", "tracefs", "/sys/kernel/tracing"])
            .status();
    }
}

/// A BPF object as the kernel lists it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Object {
    Prog(u32, String),
    Map(u32, String),
}

/// Whether `name` is one rtrace gives its programs: `p<N>_<attach>` (cut to 15 bytes).
pub fn is_rtrace_prog(name: &str) -> bool {
    let Some(rest) = name.strip_prefix('p') else {
        return false;
    };
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    digits > 0 && rest[digits..].starts_with('_')
}

/// Whether `name` is one rtrace gives its maps: `AT_<name>`, `ringbuf`, `lost`.
pub fn is_rtrace_map(name: &str) -> bool {
    name.starts_with("AT_") || name == "ringbuf" || name == "lost"
}

/// The programs and maps loaded now whose names rtrace uses.
pub fn rtrace_objects() -> BTreeSet<Object> {
    let progs = rtrace::bpf::sys::loaded_programs()
        .into_iter()
        .filter(|(_, n)| is_rtrace_prog(n))
        .map(|(id, n)| Object::Prog(id, n));
    let maps = rtrace::bpf::sys::loaded_maps()
        .into_iter()
        .filter(|(_, n)| is_rtrace_map(n))
        .map(|(id, n)| Object::Map(id, n));
    progs.chain(maps).collect()
}

/// The processes holding an fd of `obj`, from `/proc/*/fdinfo` (`prog_id:` / `map_id:` lines).
fn holders(obj: &Object) -> Vec<i32> {
    let (key, id) = match obj {
        Object::Prog(id, _) => ("prog_id:", *id),
        Object::Map(id, _) => ("map_id:", *id),
    };
    let mut pids = Vec::new();
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return pids;
    };
    for p in procs.flatten() {
        let Some(pid) = p.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        let Ok(fds) = std::fs::read_dir(p.path().join("fdinfo")) else {
            continue;
        };
        let held = fds.flatten().any(|fd| {
            std::fs::read_to_string(fd.path()).is_ok_and(|info| {
                info.lines().any(|l| {
                    l.strip_prefix(key)
                        .is_some_and(|v| v.trim().parse::<u32>() == Ok(id))
                })
            })
        });
        if held {
            pids.push(pid);
        }
    }
    pids
}

fn parent(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // `pid (comm) state ppid ...`: comm may hold spaces and parentheses.
    let after = &stat[stat.rfind(')')? + 1..];
    after.split_whitespace().nth(1)?.parse().ok()
}

/// Whether `pid` is this test process or one of its descendants.
fn is_ours(pid: i32) -> bool {
    let me = std::process::id() as i32;
    let mut p = pid;
    for _ in 0..64 {
        if p == me {
            return true;
        }
        match parent(p) {
            Some(q) if q > 0 && q != p => p = q,
            _ => return false,
        }
    }
    false
}

/// Makes orphaned grandchildren (a `-c` command outliving rtrace) children of this test process,
/// so that BPF fds they inherited count as leaks of ours.
pub fn adopt_orphans() {
    // SAFETY: prctl with integer arguments only.
    unsafe {
        libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    }
}

/// Fails if a program or map with an rtrace name that was not in `before` is still held by a
/// process of this test (rtrace itself or a child that inherited its fds) after a grace period.
/// Objects nobody holds are on their way out (rtrace pins nothing), and objects held by
/// unrelated processes belong to other runs. The teardown tests check the exact ids rtrace held.
pub fn assert_no_leaks(before: &BTreeSet<Object>) {
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let left: Vec<Object> = rtrace_objects()
            .difference(before)
            // Objects no process holds are being freed by the kernel (or belong to runs of other
            // processes that just ended); rtrace pins nothing, so only a holder of ours leaks.
            .filter(|o| holders(o).iter().any(|&p| is_ours(p)))
            .cloned()
            .collect();
        if left.is_empty() {
            return;
        }
        if Instant::now() > deadline {
            let held: Vec<(Object, Vec<i32>)> =
                left.into_iter().map(|o| (o.clone(), holders(&o))).collect();
            panic!("BPF objects left loaded after the run (object, holder pids): {held:?}");
        }
        thread::sleep(Duration::from_millis(50));
    }
}

impl Running {
    /// Starts `cmd` like `start`, but its stdout is not read until `delay` has passed: a slow
    /// consumer, so that rtrace blocks on a full pipe and its ring buffer overflows.
    pub fn start_reading_after(mut cmd: Command, delay: Duration) -> Running {
        let what = format!("{cmd:?}");
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let out = child.stdout.take().expect("piped");
        let into = stdout.clone();
        let readers = vec![
            thread::spawn(move || {
                thread::sleep(delay);
                let _ = collect(out, into).join();
            }),
            collect(child.stderr.take().expect("piped"), stderr.clone()),
        ];
        Running {
            child,
            what,
            stdout,
            stderr,
            readers,
        }
    }

    /// The stderr collected so far.
    pub fn stderr(&self) -> String {
        text(&self.stderr)
    }

    /// SIGKILLs the process and waits for it; its output so far is returned.
    pub fn kill(mut self) -> Output {
        let _ = self.child.kill();
        let status = self.child.wait().expect("wait after SIGKILL");
        for reader in self.readers.drain(..) {
            let deadline = Instant::now() + TIMEOUT;
            while !reader.is_finished() && Instant::now() < deadline {
                thread::sleep(Duration::from_millis(5));
            }
        }
        Output {
            stdout: text(&self.stdout),
            stderr: text(&self.stderr),
            code: status.code(),
        }
    }
}

/// The BPF objects and perf events one process holds open, by kernel id, read from
/// `/proc/PID/fd` (what each fd is) and `/proc/PID/fdinfo` (its id).
#[derive(Clone, Debug, Default)]
pub struct Holdings {
    pub progs: BTreeSet<u32>,
    pub maps: BTreeSet<u32>,
    pub links: BTreeSet<u32>,
    /// `anon_inode:[perf_event]` fds (a perf event attached with a BPF link may be held by the
    /// link alone, so this can be 0 while probes are attached).
    pub perf_events: usize,
}

/// What `pid` holds now (empty once it has exited).
pub fn holdings(pid: i32) -> Holdings {
    let mut h = Holdings::default();
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return h;
    };
    let id_in = |fd: &str, key: &str| -> Option<u32> {
        let info = std::fs::read_to_string(format!("/proc/{pid}/fdinfo/{fd}")).ok()?;
        info.lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.trim().parse().ok())
    };
    for fd in fds.flatten() {
        let Ok(target) = std::fs::read_link(fd.path()) else {
            continue;
        };
        let name = fd.file_name().to_string_lossy().into_owned();
        match target.to_string_lossy().as_ref() {
            "anon_inode:bpf-prog" => h.progs.extend(id_in(&name, "prog_id:")),
            "anon_inode:bpf-map" => h.maps.extend(id_in(&name, "map_id:")),
            "anon_inode:bpf_link" => h.links.extend(id_in(&name, "link_id:")),
            "anon_inode:[perf_event]" => h.perf_events += 1,
            _ => {}
        }
    }
    h
}

/// The ids of `held` the kernel still has, and links still pointing at one of its programs.
fn still_loaded(held: &Holdings) -> Vec<String> {
    let mut left = Vec::new();
    for (id, name) in rtrace::bpf::sys::loaded_programs() {
        if held.progs.contains(&id) {
            left.push(format!("program {id} ({name})"));
        }
    }
    for (id, name) in rtrace::bpf::sys::loaded_maps() {
        if held.maps.contains(&id) {
            left.push(format!("map {id} ({name})"));
        }
    }
    for (id, prog) in rtrace::bpf::sys::loaded_links() {
        if held.links.contains(&id) || held.progs.contains(&prog) {
            left.push(format!("link {id} (program {prog})"));
        }
    }
    left
}

/// Fails unless every program, map and link in `held` (taken while the process ran) is gone
/// from the kernel within a grace period. Perf events need no check of their own: they die
/// with the fds of the process, or with the link that holds them, and a perf event with a
/// program attached would keep that program loaded.
pub fn assert_released(held: &Holdings) {
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let left = still_loaded(held);
        if left.is_empty() {
            return;
        }
        if Instant::now() > deadline {
            panic!("still loaded after the run: {left:?}");
        }
        thread::sleep(Duration::from_millis(50));
    }
}

/// A `-c` command running python: it waits until `gate` exists, then calls getpid() `n` times
/// and exits. The program is written to `GATE.py` (`-c` splits on spaces, with no quoting).
pub fn getpid_workload(gate: &Path, n: u64) -> String {
    let file = gate.with_extension("py");
    std::fs::write(
        &file,
        format!(
            "import os, time\nwhile not os.path.exists(\"{}\"): time.sleep(0.005)\nfor _ in range({n}): os.getpid()\n",
            gate.display()
        ),
    )
    .expect("write the workload");
    format!("/usr/bin/python3 {}", file.display())
}

/// Builds the C program `source` (a file) with `cc FLAGS -o` into a directory of its own in
/// the temp dir, named by `tag` and this process; returns the executable's path. `needs` says
/// what a failure may mean (a missing compiler or header package).
pub fn build_c(tag: &str, source: &Path, flags: &[&str], needs: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("rtrace-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let exe = dir.join(source.file_stem().expect("a source file name"));
    let out = Command::new("cc")
        .args(flags)
        .arg("-o")
        .arg(&exe)
        .arg(source)
        .output()
        .unwrap_or_else(|e| panic!("cc: {e} ({needs})"));
    assert!(
        out.status.success(),
        "building {} failed ({needs}):\n{}",
        source.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    exe
}

/// Writes `text` as `NAME.c` in a directory of the temp dir named by `tag` and this process,
/// and builds it with `build_c`.
pub fn build_c_text(tag: &str, name: &str, text: &str, flags: &[&str]) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("rtrace-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let src = dir.join(format!("{name}.c"));
    std::fs::write(&src, text).expect("write source");
    build_c(tag, &src, flags, "a C compiler (cc)")
}

/// A fresh path in the temp dir, unique to this process and `tag`, removed if it exists.
pub fn temp_path(tag: &str) -> std::path::PathBuf {
    let p = std::env::temp_dir().join(format!("rtrace-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_file(&p);
    p
}

/// Runs `body` alone among its test binary's tests and checks that no rtrace program or map it
/// loaded is still held afterwards.
pub fn kernel_test(body: impl FnOnce()) {
    let _serial = serial();
    ensure_tracefs();
    adopt_orphans();
    let before = rtrace_objects();
    body();
    assert_no_leaks(&before);
}

/// rtrace never panics, whatever it is given.
pub fn no_panic(out: &Output) {
    assert!(
        !out.stderr.contains("panicked") && !out.stdout.contains("panicked"),
        "rtrace panicked:\n{}",
        out.stderr
    );
}
