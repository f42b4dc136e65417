//! bpftrace 0.17's output formats: decoded values, printf formatting, the text and JSON
//! printers of events and maps, and the one `Output` interface over text and JSON. Fed by the
//! runtime's decoder; knows nothing of the kernel.

pub mod flamegraph;
pub mod json;
pub mod metrics;
pub mod print;
pub mod printf;
pub mod sink;
pub mod value;

pub use sink::{for_format, Buffering, JsonOutput, Output, OutputFormat, TextOutput};

/// An I/O error's text as C programs print it (strerror), without Rust's `(os error N)`.
pub fn os_error_text(e: &std::io::Error) -> String {
    let text = e.to_string();
    match text.find(" (os error") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}
