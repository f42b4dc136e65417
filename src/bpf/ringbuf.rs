//! Reads event records from the ring buffer map that probes write with bpf_ringbuf_output;
//! fed by a `KernelMap` of kind `RingBuf`, drained by the runtime's event loop.

use crate::bpf::maps::KernelMap;
use aya::maps::{MapData, RingBuf};
use std::io;
use std::os::fd::{AsRawFd, RawFd};

/// The consumer side of a ring buffer; the map's fd closes when it drops.
pub struct EventReader {
    ring: RingBuf<MapData>,
}

impl EventReader {
    /// Maps the ring buffer's pages; `map` must be of kind `MapKind::RingBuf`.
    pub fn new(map: KernelMap) -> io::Result<EventReader> {
        Ok(EventReader {
            ring: map.into_ring_buf()?,
        })
    }

    /// The map's fd: readable (for poll or epoll) when records are waiting.
    pub fn raw_fd(&self) -> RawFd {
        self.ring.as_raw_fd()
    }

    /// Waits up to `timeout_ms` (-1: forever) for records. `Ok(false)` on timeout or when a
    /// signal interrupts the wait.
    pub fn poll(&self, timeout_ms: i32) -> io::Result<bool> {
        let mut pfd = libc::pollfd {
            fd: self.raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: `pfd` is one valid pollfd that outlives the call.
        let r = unsafe { libc::poll(&mut pfd, 1, timeout_ms) };
        if r < 0 {
            let e = io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::EINTR) {
                return Ok(false);
            }
            return Err(e);
        }
        Ok(r > 0 && pfd.revents & libc::POLLIN != 0)
    }

    /// Hands every record available now to `f`, in order, straight from the mapped pages
    /// (no copy, no allocation). Returns how many records it handed over.
    pub fn drain(&mut self, mut f: impl FnMut(&[u8])) -> usize {
        self.drain_while(|rec| {
            f(rec);
            true
        })
    }

    /// `drain`, stopping after the first record for which `f` returns false (that record is
    /// consumed). Returns how many records it handed over.
    pub fn drain_while(&mut self, mut f: impl FnMut(&[u8]) -> bool) -> usize {
        let mut n = 0;
        while let Some(item) = self.ring.next() {
            n += 1;
            if !f(&item) {
                break;
            }
        }
        n
    }
}
