//! The github format: workflow commands that GitHub Actions turns into annotations on the
//! pull request's diff (docs.github.com, "Workflow commands for GitHub Actions").

use super::{Place, summary, visible_message};
use crate::diagnostic::Severity;
use crate::source::shown;
use crate::validate::Report;

pub(super) fn render(report: &Report, strict: bool) -> String {
    let mut out = String::new();
    for d in &report.diagnostics {
        let command = match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let mut properties = vec![format!("title={}", property(d.code))];
        if let Some(location) = d.location {
            let place = Place::of(report, location);
            properties.insert(0, format!("file={}", property(&shown(place.file.path()))));
            properties.insert(1, format!("line={}", place.start.line));
            properties.insert(2, format!("col={}", place.start.column));
            properties.insert(3, format!("endLine={}", place.end.line));
            properties.insert(4, format!("endColumn={}", place.end.column));
        }
        out.push_str(&format!(
            "::{command} {}::{}\n",
            properties.join(","),
            data(&visible_message(d))
        ));
    }
    out.push_str(&summary(report, strict));
    out.push('\n');
    out
}

fn data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn property(text: &str) -> String {
    data(text).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_as_the_runner_expects() {
        assert_eq!(data("50%\nnext"), "50%25%0Anext");
        assert_eq!(
            property("schema::unknown-key, a"),
            "schema%3A%3Aunknown-key%2C a"
        );
    }
}
