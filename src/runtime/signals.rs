//! SIGINT, SIGTERM and SIGHUP end a run cleanly: the handler only sets a flag, and the wait in
//! the event loop is interrupted (no SA_RESTART) so the loop sees it at once.

use std::sync::atomic::{AtomicBool, Ordering};

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_sig: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

/// Installs the handlers (idempotent).
pub fn install() {
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        // SAFETY: a zeroed sigaction is valid; the handler is async-signal-safe (one atomic
        // store), and sa_flags leaves out SA_RESTART so that poll() returns EINTR.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_signal as *const () as usize;
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

/// Requests a stop (e.g. when stdout is a closed pipe).
pub fn stop() {
    STOP.store(true, Ordering::SeqCst);
}
