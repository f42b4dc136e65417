//! The thread that owns the session's live run: it prints the probes' output as it arrives
//! while the prompt waits for a line, and carries out the prompt's requests (load, detach,
//! print, clear, quit). Fed by the session's loop through a channel and a wake-up pipe; a
//! probe's exit(), SIGTERM or SIGHUP end the session from here (the prompt then reads end of
//! file).

use crate::object::Object;
use crate::output::OutputFormat;
use crate::runtime::{Live, LiveConfig, ProbeId, RunError};
use std::io::{self, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
use std::thread::JoinHandle;

/// What the prompt asks of the live run.
pub enum Request {
    /// Load and attach these programs, one probe per group.
    Add(Box<Object>, Vec<Vec<usize>>),
    Detach(ProbeId),
    Print(String),
    Clear(String),
    /// Drop the output not yet shown (Ctrl-C). No reply.
    Discard,
    /// END, the maps, and everything released.
    Quit,
}

/// The live run's answer to a request.
pub enum Reply {
    Added(Result<Vec<ProbeId>, RunError>),
    /// Whether the probe or map named was there.
    Done(Result<bool, RunError>),
}

/// The prompt's end of the live run.
pub struct Engine {
    requests: Sender<Request>,
    replies: Receiver<Reply>,
    wake: OwnedFd,
    thread: Option<JoinHandle<()>>,
}

/// How the live run's thread starts.
pub struct Start {
    pub format: OutputFormat,
    pub pid: Option<i32>,
    pub demangle: bool,
    /// Where the probes' output goes while the session runs (above the prompt).
    pub output: Box<dyn Write + Send>,
    /// The terminal's settings before the editor changed them, restored when the session ends
    /// from this thread (exit(), a signal) while the prompt is reading.
    pub terminal: Option<libc::termios>,
    /// The prompt's thread, woken with SIGINT when the session ends from here.
    pub prompt: libc::pthread_t,
}

impl Engine {
    pub fn start(start: Start) -> io::Result<Engine> {
        let (wake_r, wake_w) = pipe()?;
        let (req_tx, req_rx) = mpsc::channel();
        let (rep_tx, rep_rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("rtrace-session".into())
            .spawn(move || serve(start, wake_r, req_rx, rep_tx))?;
        Ok(Engine {
            requests: req_tx,
            replies: rep_rx,
            wake: wake_w,
            thread: Some(thread),
        })
    }

    /// Sends a request and waits for its reply; `None` when the live run has ended.
    pub fn call(&self, req: Request) -> Option<Reply> {
        self.send(req);
        self.replies.recv().ok()
    }

    /// Sends a request without waiting.
    pub fn send(&self, req: Request) {
        if self.requests.send(req).is_ok() {
            // SAFETY: writes one byte from a valid buffer to the pipe we own.
            unsafe { libc::write(self.wake.as_raw_fd(), b"r".as_ptr().cast(), 1) };
        }
    }

    /// Ends the session: END probes, the maps printed, everything released; waits for it.
    pub fn quit(mut self) -> Result<(), RunError> {
        let r = match self.call(Request::Quit) {
            Some(Reply::Done(r)) => r.map(|_| ()),
            _ => Ok(()),
        };
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        r
    }
}

fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two fds into `fds`, which we then own.
    let r = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both fds were just created and are owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// How often signals and exit() are looked at when nothing arrives.
const TICK_MS: i32 = 100;

fn serve(start: Start, wake: OwnedFd, requests: Receiver<Request>, replies: Sender<Reply>) {
    let mut live = Live::new(LiveConfig {
        format: start.format,
        pid: start.pid,
        output: start.output,
        demangle: start.demangle,
    });
    loop {
        let mut fds = vec![wake.as_raw_fd()];
        fds.extend(live.poll_fds());
        wait(&fds);
        empty_pipe(wake.as_raw_fd());
        loop {
            let req = match requests.try_recv() {
                Ok(r) => r,
                Err(TryRecvError::Empty) => break,
                // The prompt is gone: end as .quit does.
                Err(TryRecvError::Disconnected) => {
                    report(live.finish());
                    return;
                }
            };
            let reply = match req {
                Request::Add(object, groups) => Reply::Added(live.add(*object, &groups)),
                Request::Detach(id) => Reply::Done(live.detach(id)),
                Request::Print(name) => Reply::Done(live.print_map(&name)),
                Request::Clear(name) => Reply::Done(live.clear_map(&name)),
                Request::Discard => {
                    live.discard();
                    continue;
                }
                Request::Quit => {
                    let r = live.finish();
                    // Everything is detached and closed before the prompt hears back.
                    drop(live);
                    let _ = replies.send(Reply::Done(r.map(|_| true)));
                    return;
                }
            };
            let _ = replies.send(reply);
        }
        if Live::take_interrupt() {
            live.discard();
        }
        if let Err(e) = live.drain() {
            report(Err(e));
        }
        if live.exited() || Live::stop_requested() {
            let r = end_here(live, start.terminal, start.prompt);
            // The prompt reads end of file now and asks to quit; anything else it asks
            // before that is answered with the end.
            loop {
                match requests.recv() {
                    Ok(Request::Quit) | Err(_) => {
                        let _ = replies.send(Reply::Done(r.map(|_| true)));
                        return;
                    }
                    Ok(Request::Discard) => {}
                    Ok(Request::Add(..)) => {
                        let _ = replies.send(Reply::Added(Err(ended())));
                    }
                    Ok(_) => {
                        let _ = replies.send(Reply::Done(Err(ended())));
                    }
                }
            }
        }
    }
}

fn ended() -> RunError {
    RunError::Message("the session has ended".into())
}

/// Ends the session from this thread while the prompt may be reading a line: the terminal is
/// put back as it was, END and the maps are printed on stdout, everything is released, and
/// stdin is pointed at /dev/null so that the prompt reads end of file and leaves as Ctrl-D
/// does (the process ends from its main thread, as after `.quit`). SIGINT wakes the prompt
/// from its wait on the terminal, which does not end when fd 0 is replaced under it.
fn end_here(
    mut live: Live,
    terminal: Option<libc::termios>,
    prompt: libc::pthread_t,
) -> Result<(), RunError> {
    if let Some(t) = terminal {
        // SAFETY: restores settings read from fd 0 by tcgetattr.
        unsafe { libc::tcsetattr(0, libc::TCSANOW, &t) };
    }
    println!();
    live.set_output(Box::new(io::stdout()));
    let r = live.finish();
    drop(live);
    let _ = io::stdout().flush();
    if let Ok(null) = std::fs::File::open("/dev/null") {
        // SAFETY: dup2 onto fd 0 of a file we opened; stdin now reads end of file.
        unsafe { libc::dup2(null.as_raw_fd(), 0) };
    }
    // SAFETY: the prompt's thread lives until the session ends; the session's SIGINT handler
    // only sets a flag.
    unsafe { libc::pthread_kill(prompt, libc::SIGINT) };
    r
}

fn report(r: Result<(), RunError>) {
    match r {
        Ok(()) => {}
        Err(RunError::Message(m)) => eprintln!("ERROR: {m}"),
        Err(RunError::Diag(d)) => eprintln!("ERROR: {}", d.message),
    }
}

/// Waits until one of `fds` is readable, a signal arrives or a tick passes.
fn wait(fds: &[RawFd]) {
    let mut polled: Vec<libc::pollfd> = fds
        .iter()
        .map(|&fd| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    // SAFETY: `polled` holds `len` valid pollfd entries for the duration of the call.
    unsafe { libc::poll(polled.as_mut_ptr(), polled.len() as libc::nfds_t, TICK_MS) };
}

fn empty_pipe(fd: RawFd) {
    let mut buf = [0u8; 64];
    // SAFETY: reads into a valid buffer from our non-blocking pipe until it is empty.
    while unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) } > 0 {}
}
