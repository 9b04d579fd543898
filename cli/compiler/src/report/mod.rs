//! Renders a validation [`Report`] in the format the user asked for: people read `human`,
//! scripts read `json`, GitHub code scanning reads `sarif`, GitHub Actions reads `github`.

mod github;
mod human;
mod json;
mod sarif;

use std::path::Path;

use crate::diagnostic::{Diagnostic, Location, Severity};
use crate::source::{LineCol, SourceFile};
use crate::validate::Report;

pub use human::HumanOptions;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Human(HumanOptions),
    Json,
    Sarif,
    Github,
}

/// The report as text, ready to print.
pub fn render(report: &Report, format: Format, strict: bool) -> String {
    match format {
        Format::Human(options) => human::render(report, options, strict),
        Format::Json => json::render(report, strict),
        Format::Sarif => sarif::render(report),
        Format::Github => github::render(report, strict),
    }
}

/// A location resolved to the path and one-based line and column range that formats print.
struct Place<'a> {
    /// The path as JSON carries it (JSON's escaping is lossless; readers are programs).
    path: String,
    file: &'a SourceFile,
    offset: usize,
    start: LineCol,
    end: LineCol,
}

impl<'a> Place<'a> {
    fn of(report: &'a Report, location: Location) -> Self {
        let file = &report.files[location.file];
        Place {
            path: display_path(file.path()),
            file,
            offset: location.span.start,
            start: file.line_col(location.span.start),
            end: file.line_col(location.span.end),
        }
    }

    /// The path as a URI reference (SARIF's `artifactLocation.uri`): every byte outside
    /// RFC 3986's unreserved and path characters percent-encoded, a newline included.
    fn uri(&self) -> String {
        let mut out = String::with_capacity(self.path.len());
        for b in self.path.bytes() {
            if b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/".contains(&b) {
                out.push(char::from(b));
            } else {
                out.push_str(&format!("%{b:02X}"));
            }
        }
        out
    }

    fn snippet(&self) -> &'a str {
        let line = self.file.line_at(self.offset);
        let text: &'a str = self.file.text();
        text[line.start..line.end].trim_end_matches('\r')
    }
}

/// Paths as the user wrote them, with `/` separators and no leading `./`.
fn display_path(path: &Path) -> String {
    let text = path.to_string_lossy().replace('\\', "/");
    text.strip_prefix("./").map(str::to_owned).unwrap_or(text)
}

fn summary(report: &Report, strict: bool) -> String {
    let errors = report.count(Severity::Error);
    let warnings = report.count(Severity::Warning);
    let noun = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    let checked = format!(
        "{} in {}",
        noun(report.documents, "document"),
        noun(report.files.len(), "file")
    );
    if report.fails(strict) {
        format!(
            "{} and {} in {checked}{}",
            noun(errors, "error"),
            noun(warnings, "warning"),
            if strict && errors == 0 {
                " (warnings fail with --strict)"
            } else {
                ""
            }
        )
    } else if warnings > 0 {
        format!("valid: {checked}, with {}", noun(warnings, "warning"))
    } else {
        format!("valid: {checked}")
    }
}

fn full_message(d: &Diagnostic) -> String {
    match &d.help {
        Some(help) => format!("{}\nhelp: {help}", d.message),
        None => d.message.clone(),
    }
}

/// [`full_message`] for a reader of a log or an annotation: the message and the help each
/// made [`visible`](crate::source::visible), joined by the one line break that is ours.
fn visible_message(d: &Diagnostic) -> String {
    let message = crate::source::visible(&d.message);
    match &d.help {
        Some(help) => format!("{message}\nhelp: {}", crate::source::visible(help)),
        None => message.into_owned(),
    }
}
