//! SIGINT, SIGTERM and SIGHUP end a run cleanly: the handler only sets a flag, and the wait in
//! the event loop is interrupted (no SA_RESTART) so the loop sees it at once. SIGUSR1 asks
//! for every map to be printed, as bpftrace does, and the run goes on. In an interactive
//! session SIGINT only interrupts (`take_interrupt`); SIGTERM and SIGHUP still end it.

use std::sync::atomic::{AtomicBool, Ordering};

static STOP: AtomicBool = AtomicBool::new(false);
/// SIGINT, SIGTERM or SIGHUP asked for the stop (not a closed output).
static SIGNALLED: AtomicBool = AtomicBool::new(false);
static INTERRUPT: AtomicBool = AtomicBool::new(false);
static PRINT_MAPS: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(sig: libc::c_int) {
    if sig == libc::SIGUSR1 {
        PRINT_MAPS.store(true, Ordering::SeqCst);
    } else {
        SIGNALLED.store(true, Ordering::SeqCst);
        STOP.store(true, Ordering::SeqCst);
    }
}

extern "C" fn on_interrupt(_sig: libc::c_int) {
    INTERRUPT.store(true, Ordering::SeqCst);
}

/// Installs the handlers (idempotent).
pub fn install() {
    handle(
        &[libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGUSR1],
        on_signal,
    );
}

/// The handlers of an interactive session: SIGINT interrupts, SIGTERM and SIGHUP stop.
pub fn install_session() {
    handle(&[libc::SIGTERM, libc::SIGHUP], on_signal);
    handle(&[libc::SIGINT], on_interrupt);
}

/// Whether SIGINT arrived since the last call.
pub fn take_interrupt() -> bool {
    INTERRUPT.swap(false, Ordering::SeqCst)
}

fn handle(signals: &[libc::c_int], handler: extern "C" fn(libc::c_int)) {
    for &sig in signals {
        // SAFETY: a zeroed sigaction is valid; the handler is async-signal-safe (one atomic
        // store), and sa_flags leaves out SA_RESTART so that poll() returns EINTR.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = handler as *const () as usize;
            libc::sigemptyset(&mut sa.sa_mask);
            sa.sa_flags = 0;
            libc::sigaction(sig, &sa, std::ptr::null_mut());
        }
    }
}

/// Whether a stop was requested.
pub fn stopped() -> bool {
    STOP.load(Ordering::SeqCst)
}

/// Whether the stop came from a signal (SIGINT, SIGTERM, SIGHUP), not from `stop()`.
pub fn signalled() -> bool {
    SIGNALLED.load(Ordering::SeqCst)
}

/// Whether SIGUSR1 asked for the maps since the last call (the request is taken).
pub fn take_print_maps() -> bool {
    PRINT_MAPS.swap(false, Ordering::SeqCst)
}

/// Requests a stop (e.g. when stdout is a closed pipe).
pub fn stop() {
    STOP.store(true, Ordering::SeqCst);
}
