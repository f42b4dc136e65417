//! Diagnostics as plain data, and their rendering: the only importer of codespan-reporting.

use crate::source::{Source, Span};
use codespan_reporting::diagnostic::{Diagnostic as CsDiagnostic, Label};
use codespan_reporting::files::{self, Files, SimpleFile};
use codespan_reporting::term::{self, Config};

/// One problem found in a script, with the span that caused it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub message: String,
    /// Where the problem is; `None` for problems with no place in the source.
    pub span: Option<Span>,
    /// A short text shown under the caret.
    pub label: Option<String>,
    /// Extra lines: hints, the verifier's log tail, ...
    pub notes: Vec<String>,
    /// Found in the script's C definitions: headed `error:` as a C compiler heads it (and
    /// bpftrace, whose C definitions clang reads), not `ERROR:` as bpftrace heads its own.
    pub in_c: bool,
    /// A warning (headed `WARNING:`, as bpftrace heads its warnings), not an error.
    pub warning: bool,
}

impl Diagnostic {
    pub fn error(span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            message: message.into(),
            span: Some(span),
            label: None,
            notes: Vec::new(),
            in_c: false,
            warning: false,
        }
    }

    pub fn spanless(message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            message: message.into(),
            span: None,
            label: None,
            notes: Vec::new(),
            in_c: false,
            warning: false,
        }
    }

    pub fn with_label(mut self, label: impl Into<String>) -> Diagnostic {
        self.label = Some(label.into());
        self
    }

    pub fn with_note(mut self, note: impl Into<String>) -> Diagnostic {
        self.notes.push(note.into());
        self
    }

    /// A warning at `span`: the script runs, but may not do what was meant.
    pub fn warning(span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            warning: true,
            ..Diagnostic::error(span, message)
        }
    }

    /// Marks a problem in the script's C definitions (see `in_c`).
    pub fn in_c_definitions(mut self) -> Diagnostic {
        self.in_c = true;
        self
    }
}

/// Lines longer than this are shown as a window around the problem.
const LONG_LINE: usize = 240;
/// Bytes of context kept on each side of the problem in a long line.
const WINDOW: usize = 80;

/// Renders diagnostics as text: `ERROR: msg` (bpftrace's tag; `error:` for the C definitions'
/// problems, see `Diagnostic::in_c`), then `┌─ FILE:LINE:COL`, the source line and a caret
/// underline. Plain text (no colour) so that tests and pipes see the same bytes. A very long
/// line is cut to a window around the problem, still reported at its true line and column.
pub fn render(source: &Source, diags: &[Diagnostic]) -> String {
    let file = SimpleFile::new(source.name.as_str(), source.text.as_str());
    let mut all = String::new();
    let config = Config::default();
    for d in diags {
        let mut out = String::new();
        let mut cs = if d.warning {
            CsDiagnostic::warning()
        } else {
            CsDiagnostic::error()
        }
        .with_message(&d.message);
        let mut window = None;
        if let Some(span) = d.span {
            let len = source.text.len();
            let start = (span.start as usize).min(len);
            let end = (span.end as usize).clamp(start, len);
            let (w, range) = match Window::around(source, start, end) {
                Some(w) => {
                    let r = w.range.clone();
                    (Some(w), r)
                }
                None => (None, start..end),
            };
            window = w;
            let mut label = Label::primary((), range);
            if let Some(l) = &d.label {
                label = label.with_message(l);
            }
            cs = cs.with_labels(vec![label]);
        }
        cs = cs.with_notes(d.notes.clone());
        let r = match &window {
            Some(w) => term::emit_to_string(&mut out, &config, w, &cs),
            None => term::emit_to_string(&mut out, &config, &file, &cs),
        };
        if r.is_err() {
            // Rendering into memory cannot fail for clamped spans; keep the message regardless.
            out = format!("error: {}\n", d.message);
        }
        // codespan heads every error `error`; bpftrace heads its own `ERROR` (and warnings
        // `WARNING`).
        if !d.in_c {
            if let Some(rest) = out.strip_prefix("error") {
                out = format!("ERROR{rest}");
            } else if let Some(rest) = out.strip_prefix("warning") {
                out = format!("WARNING{rest}");
            }
        }
        all.push_str(&out);
    }
    all
}

/// 1-based line and byte column of `offset`, as bpftrace's locations count them.
pub fn line_byte_col(source: &Source, offset: u32) -> (usize, usize) {
    let text = source.text.as_bytes();
    let off = (offset as usize).min(text.len());
    let line_start = text[..off]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let line = 1 + text[..off].iter().filter(|&&b| b == b'\n').count();
    (line, off - line_start + 1)
}

/// A run-time message at a span in bpftrace 0.17's own form (its warnings about failed
/// helpers): `FILE:LINE:COL-COL: KIND: msg`, the source line (tabs as four spaces) and `~`
/// under the span; a span over several lines gives `FILE:LINE-LINE: KIND: msg` alone.
pub fn bpftrace_located(source: &Source, span: Span, kind: &str, msg: &str) -> String {
    let (l1, c1) = line_byte_col(source, span.start);
    let (l2, c2) = line_byte_col(source, span.end.max(span.start));
    if l1 < l2 {
        return format!("{}:{l1}-{l2}: {kind}: {msg}\n", source.name);
    }
    let mut out = format!("{}:{l1}:{c1}-{c2}: {kind}: {msg}\n", source.name);
    let line = source.text.split('\n').nth(l1 - 1).unwrap_or("");
    if line.is_empty() {
        return out;
    }
    out.push_str(&line.replace('\t', "    "));
    out.push('\n');
    for (x, b) in line.bytes().enumerate().take(c2.saturating_sub(1)) {
        let marker = if x < c1 - 1 { ' ' } else { '~' };
        let n = if b == b'\t' { 4 } else { 1 };
        out.extend(std::iter::repeat_n(marker, n));
    }
    out.push('\n');
    out
}

/// A window of one long source line, reported at its true line and column.
struct Window {
    name: String,
    text: String,
    /// 1-based line number of the line.
    line: usize,
    /// Characters of the line left out before `text` starts (less the `...` marker).
    col_base: usize,
    /// The label's range inside `text`.
    range: std::ops::Range<usize>,
}

impl Window {
    fn around(source: &Source, start: usize, end: usize) -> Option<Window> {
        let text = source.text.as_str();
        let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = text[start..].find('\n').map_or(text.len(), |i| start + i);
        if line_end - line_start <= LONG_LINE {
            return None;
        }
        let floor = |mut i: usize| {
            while !text.is_char_boundary(i) {
                i -= 1;
            }
            i
        };
        let from = floor(start.saturating_sub(WINDOW).max(line_start));
        let to = floor((start + WINDOW).min(line_end));
        let end = floor(end.min(to));
        let (prefix, suffix) = (
            if from > line_start { "..." } else { "" },
            if to < line_end { "..." } else { "" },
        );
        let shown = format!("{prefix}{}{suffix}", &text[from..to]);
        let (line, _) = source.line_col(start as u32);
        let skipped = text[line_start..from].chars().count();
        Some(Window {
            name: source.name.clone(),
            text: shown,
            line,
            col_base: skipped.saturating_sub(prefix.len()),
            range: (start - from + prefix.len())..(end - from + prefix.len()),
        })
    }
}

impl<'a> Files<'a> for Window {
    type FileId = ();
    type Name = &'a str;
    type Source = &'a str;

    fn name(&'a self, _: ()) -> Result<&'a str, files::Error> {
        Ok(&self.name)
    }

    fn source(&'a self, _: ()) -> Result<&'a str, files::Error> {
        Ok(&self.text)
    }

    fn line_index(&'a self, _: (), _: usize) -> Result<usize, files::Error> {
        Ok(0)
    }

    fn line_number(&'a self, _: (), _: usize) -> Result<usize, files::Error> {
        Ok(self.line)
    }

    fn column_number(&'a self, _: (), _: usize, byte: usize) -> Result<usize, files::Error> {
        let b = byte.min(self.text.len());
        let chars = self.text.get(..b).map_or(b, |t| t.chars().count());
        Ok(self.col_base + chars + 1)
    }

    fn line_range(&'a self, _: (), _: usize) -> Result<std::ops::Range<usize>, files::Error> {
        Ok(0..self.text.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bpftrace_locations_count_bytes_and_underline_with_tildes() {
        let src = Source::new("stdin", "i:ms:100 { @[1] = 1; delete(@[2]); exit(); }");
        assert_eq!(
            bpftrace_located(&src, Span::new(21, 33), "WARNING", "Failed to x: 0"),
            "stdin:1:22-34: WARNING: Failed to x: 0\n\
             i:ms:100 { @[1] = 1; delete(@[2]); exit(); }\n                     ~~~~~~~~~~~~\n"
        );
        let two = Source::new("f.bt", "BEGIN {\n\t@x[1] = 2; }\n");
        assert_eq!(line_byte_col(&two, 9), (2, 2));
        assert_eq!(
            bpftrace_located(&two, Span::new(9, 14), "WARNING", "m"),
            "f.bt:2:2-7: WARNING: m\n    @x[1] = 2; }\n    ~~~~~\n"
        );
        assert_eq!(
            bpftrace_located(&two, Span::new(0, 14), "WARNING", "m"),
            "f.bt:1-2: WARNING: m\n"
        );
    }

    #[test]
    fn render_shows_file_line_col_and_source() {
        let src = Source::new("t.bt", "BEGIN { cnt(); }\n");
        let out = render(
            &src,
            &[Diagnostic::error(
                Span::new(8, 11),
                "unknown function 'cnt'",
            )],
        );
        assert!(out.starts_with("ERROR: unknown function 'cnt'"), "{out}");
        assert!(out.contains("t.bt:1:9"), "{out}");
        assert!(out.contains("BEGIN { cnt(); }"), "{out}");
        assert!(out.contains("^^^"), "{out}");
    }

    #[test]
    fn long_lines_show_a_window_at_the_true_column() {
        let mut text = "BEGIN { $x = ".to_string();
        text.push_str(&"1 + ".repeat(500));
        let at = text.len();
        text.push_str("nope; }");
        let src = Source::new("t.bt", text);
        let out = render(&src, &[Diagnostic::error(Span::new(at, at + 4), "unknown")]);
        assert!(out.contains(&format!("t.bt:1:{}", at + 1)), "{out}");
        assert!(out.contains("...1 + 1 +"), "{out}");
        assert!(out.contains("^^^^"), "{out}");
        assert!(out.len() < 1000, "{out}");
    }
}
