//! The bytes a `Btf` reads: a vector, or the kernel's own BTF mapped read-only (Linux 6.16 and
//! later let `/sys/kernel/btf/vmlinux` be mapped privately), which saves copying 5.5 MB
//! through 1,350 page-sized reads of sysfs.

use std::ops::Deref;
use std::path::Path;

/// BTF bytes, owned or mapped.
pub enum Data {
    Owned(Vec<u8>),
    Mapped(Mapping),
}

impl Deref for Data {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            Data::Owned(v) => v,
            Data::Mapped(m) => m.bytes(),
        }
    }
}

/// A private read-only mapping of a whole file, unmapped on drop.
pub struct Mapping {
    ptr: *const u8,
    len: usize,
}

// The mapping is read-only and owned by this value alone: sharing it across threads is as
// safe as sharing a `&[u8]`.
unsafe impl Send for Mapping {}
unsafe impl Sync for Mapping {}

impl Mapping {
    /// Maps the file at `path`; `None` when it cannot be (an older kernel, an empty file).
    /// Only for files that cannot shrink under the mapping (sysfs): a truncated regular file
    /// would fault on access.
    pub fn open(path: &Path) -> Option<Mapping> {
        let file = std::fs::File::open(path).ok()?;
        let len = usize::try_from(file.metadata().ok()?.len()).ok()?;
        if len == 0 {
            return None;
        }
        use std::os::fd::AsRawFd;
        // SAFETY: a fresh private read-only mapping of an open file; the pointer is checked
        // before use and the mapping outlives the fd (mappings hold their own reference).
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_PRIVATE | libc::MAP_POPULATE,
                file.as_raw_fd(),
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return None;
        }
        Some(Mapping {
            ptr: ptr as *const u8,
            len,
        })
    }

    fn bytes(&self) -> &[u8] {
        // SAFETY: `ptr` maps `len` readable bytes until `drop`, and nothing writes them.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping made in `open`, once.
        unsafe {
            libc::munmap(self.ptr as *mut libc::c_void, self.len);
        }
    }
}
