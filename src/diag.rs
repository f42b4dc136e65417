//! Diagnostics as plain data, and their rendering: the only importer of codespan-reporting.

use crate::source::{Source, Span};
use codespan_reporting::diagnostic::{Diagnostic as CsDiagnostic, Label};
use codespan_reporting::files::SimpleFile;
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
}

impl Diagnostic {
    pub fn error(span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            message: message.into(),
            span: Some(span),
            label: None,
            notes: Vec::new(),
        }
    }

    pub fn spanless(message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            message: message.into(),
            span: None,
            label: None,
            notes: Vec::new(),
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
}

/// Renders diagnostics as text: `error: msg`, then `┌─ FILE:LINE:COL`, the source line and a caret
/// underline. Plain text (no colour) so that tests and pipes see the same bytes.
pub fn render(source: &Source, diags: &[Diagnostic]) -> String {
    let file = SimpleFile::new(source.name.as_str(), source.text.as_str());
    let mut out = String::new();
    let config = Config::default();
    for d in diags {
        let mut cs = CsDiagnostic::error().with_message(&d.message);
        if let Some(span) = d.span {
            let len = source.text.len();
            let start = (span.start as usize).min(len);
            let end = (span.end as usize).clamp(start, len);
            let mut label = Label::primary((), start..end);
            if let Some(l) = &d.label {
                label = label.with_message(l);
            }
            cs = cs.with_labels(vec![label]);
        }
        cs = cs.with_notes(d.notes.clone());
        if term::emit_to_string(&mut out, &config, &file, &cs).is_err() {
            // Rendering into memory cannot fail for clamped spans; keep the message regardless.
            out.push_str(&format!("error: {}\n", d.message));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert!(out.contains("error: unknown function 'cnt'"), "{out}");
        assert!(out.contains("t.bt:1:9"), "{out}");
        assert!(out.contains("BEGIN { cnt(); }"), "{out}");
        assert!(out.contains("^^^"), "{out}");
    }
}
