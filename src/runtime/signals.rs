//! SIGINT, SIGTERM and SIGHUP end a run cleanly: the handler only sets a flag, and the wait in
//! the event loop is interrupted (no SA_RESTART) so the loop sees it at once. SIGUSR1 asks
//! for every map to be printed, as bpftrace does, and the run goes on.

use std::sync::atomic::{AtomicBool, Ordering};

static STOP: AtomicBool = AtomicBool::new(false);
static PRINT_MAPS: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(sig: libc::c_int) {
    if sig == libc::SIGUSR1 {
        PRINT_MAPS.store(true, Ordering::SeqCst);
    } else {
        STOP.store(true, Ordering::SeqCst);
    }
}

/// Installs the handlers (idempotent).
pub fn install() {
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGUSR1] {
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

/// Whether SIGUSR1 asked for the maps since the last call (the request is taken).
pub fn take_print_maps() -> bool {
    PRINT_MAPS.swap(false, Ordering::SeqCst)
}

/// Requests a stop (e.g. when stdout is a closed pipe).
pub fn stop() {
    STOP.store(true, Ordering::SeqCst);
}
