//! The human format: miette's graphical reports, with the offending line, a label on the
//! exact node, related places (the first duplicate, the other end of a reference) and help.

use std::fmt;
use std::sync::{Arc, OnceLock};

use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource, SourceSpan};

use super::summary;
use crate::diagnostic::{Diagnostic, Location, Severity};
use crate::source::{hidden, shown as shown_path, visible};
use crate::validate::Report;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HumanOptions {
    pub color: bool,
    pub width: usize,
}

pub(super) fn render(report: &Report, options: HumanOptions, strict: bool) -> String {
    let theme = if options.color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let handler = GraphicalReportHandler::new_themed(theme)
        .with_width(options.width)
        .with_links(false);
    let mut out = String::new();
    let texts = Texts {
        report,
        printable: (0..report.files.len()).map(|_| OnceLock::new()).collect(),
    };
    for diagnostic in &report.diagnostics {
        let shown = Shown::new(&texts, diagnostic);
        if handler.render_report(&mut out, &shown).is_err() {
            // Rendering only fails on a formatter error; fall back to the plain message.
            out.push_str(&visible(&diagnostic.message));
            out.push('\n');
        }
        out.push('\n');
    }
    out.push_str(&summary(report, strict));
    out.push('\n');
    out
}

/// A diagnostic as miette wants it: source code attached, spans as labels.
struct Shown {
    message: String,
    code: &'static str,
    severity: miette::Severity,
    help: Option<String>,
    source: Option<NamedSource<Text>>,
    labels: Vec<LabeledSpan>,
    related: Vec<Shown>,
}

impl Shown {
    fn new(texts: &Texts<'_>, d: &Diagnostic) -> Self {
        let report = texts.report;
        let mut shown = Shown {
            message: visible(&d.message).into_owned(),
            code: d.code,
            severity: match d.severity {
                Severity::Error => miette::Severity::Error,
                Severity::Warning => miette::Severity::Warning,
            },
            help: d.help.as_deref().map(|h| visible(h).into_owned()),
            source: None,
            labels: Vec::new(),
            related: Vec::new(),
        };
        match d.location {
            Some(location) if snippet_fits(report, location) => {
                shown.source = Some(texts.source(location));
                shown.labels.push(LabeledSpan::new_primary_with_span(
                    d.label.as_deref().map(|l| visible(l).into_owned()),
                    span(location),
                ));
            }
            Some(location) => {
                let file = &report.files[location.file];
                let at = file.line_col(location.span.start);
                shown.message = format!(
                    "{} (at {}:{}:{}; the line is too long to show)",
                    shown.message,
                    shown_path(file.path()),
                    at.line,
                    at.column
                );
                return shown;
            }
            None => {}
        }
        for related in d
            .related
            .iter()
            .filter(|r| snippet_fits(report, r.location))
        {
            if Some(related.location.file) == d.location.map(|l| l.file) {
                shown.labels.push(LabeledSpan::new_with_span(
                    Some(visible(&related.label).into_owned()),
                    span(related.location),
                ));
            } else {
                shown.related.push(Shown {
                    message: visible(&related.label).into_owned(),
                    code: d.code,
                    severity: miette::Severity::Advice,
                    help: None,
                    source: Some(texts.source(related.location)),
                    labels: vec![LabeledSpan::new_primary_with_span(
                        None,
                        span(related.location),
                    )],
                    related: Vec::new(),
                });
            }
        }
        shown
    }
}

/// Lines longer than this are not shown: a snippet of a megabyte-long line helps nobody.
const MAX_SNIPPET_LINE: usize = 1000;

fn snippet_fits(report: &Report, location: Location) -> bool {
    report.files[location.file]
        .line_at(location.span.start)
        .len()
        <= MAX_SNIPPET_LINE
}

/// The report's files as miette shows them, each made printable once, when first shown.
struct Texts<'a> {
    report: &'a Report,
    printable: Vec<OnceLock<Arc<str>>>,
}

impl Texts<'_> {
    fn source(&self, location: Location) -> NamedSource<Text> {
        let file = &self.report.files[location.file];
        let text = self.printable[location.file].get_or_init(|| printable(file.text()));
        NamedSource::new(shown_path(file.path()), Text(Arc::clone(text)))
    }
}

/// The text with every control or invisible character but line breaks and tabs replaced by
/// `?`s of the same byte length, so that spans still point where they did: a snippet must
/// not carry a file's escape sequences to the terminal.
fn printable(text: &Arc<str>) -> Arc<str> {
    let unsafe_char = |c: char| hidden(c) && !matches!(c, '\n' | '\t' | '\r');
    if !text.chars().any(unsafe_char) {
        return Arc::clone(text);
    }
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if unsafe_char(c) {
            out.extend(std::iter::repeat_n('?', c.len_utf8()));
        } else {
            out.push(c);
        }
    }
    out.into()
}

/// A file's text for miette, reporting columns in characters as every other format does
/// (miette counts bytes, which disagrees on lines with non-ASCII text).
struct Text(Arc<str>);

impl miette::SourceCode for Text {
    fn read_span<'a>(
        &'a self,
        span: &SourceSpan,
        before: usize,
        after: usize,
    ) -> Result<Box<dyn miette::SpanContents<'a> + 'a>, miette::MietteError> {
        let contents = self.0.read_span(span, before, after)?;
        let start = contents.span().offset();
        let line_start = self.0[..start].rfind('\n').map_or(0, |i| i + 1);
        let column = self.0[line_start..start].chars().count();
        Ok(Box::new(miette::MietteSpanContents::new(
            contents.data(),
            *contents.span(),
            contents.line(),
            column,
            contents.line_count(),
        )))
    }
}

fn span(location: Location) -> SourceSpan {
    SourceSpan::new(location.span.start.into(), location.span.len())
}

impl fmt::Debug for Shown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl fmt::Display for Shown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Shown {}

impl miette::Diagnostic for Shown {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(self.code))
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(self.severity)
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.source.as_ref().map(|s| s as &dyn miette::SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        (!self.labels.is_empty())
            .then(|| Box::new(self.labels.iter().cloned()) as Box<dyn Iterator<Item = LabeledSpan>>)
    }

    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn miette::Diagnostic> + 'a>> {
        (!self.related.is_empty()).then(|| {
            Box::new(self.related.iter().map(|r| r as &dyn miette::Diagnostic))
                as Box<dyn Iterator<Item = &'a dyn miette::Diagnostic>>
        })
    }
}
