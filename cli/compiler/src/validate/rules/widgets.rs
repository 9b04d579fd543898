//! Widget tags must be valid custom-element names, or the browser refuses to define them
//! (HTML Living Standard, "valid custom element name").

use crate::diagnostic::Diagnostic;
use crate::model::DataProduct;
use crate::validate::Doc;

/// Names the HTML standard reserves from SVG and MathML.
const RESERVED: [&str; 8] = [
    "annotation-xml",
    "color-profile",
    "font-face",
    "font-face-src",
    "font-face-uri",
    "font-face-format",
    "font-face-name",
    "missing-glyph",
];

pub(super) fn check(doc: &Doc<DataProduct>, out: &mut Vec<Diagnostic>) {
    for (i, widget) in doc.spec.spec.widgets.iter().enumerate() {
        if let Err(why) = custom_element_name(&widget.tag) {
            let fixed = suggestion(&widget.tag, &doc.spec.metadata.name);
            out.push(
                doc.error(
                    "widget::tag",
                    format!("`{}` is not a valid custom-element name: {why}", widget.tag),
                    &format!("/spec/widgets/{i}/tag"),
                )
                .label("invalid tag")
                .help(format!(
                    "a custom-element name starts with a lower-case letter and contains a hyphen, e.g. `{fixed}`"
                )),
            );
        }
    }
}

pub fn custom_element_name(name: &str) -> Result<(), &'static str> {
    let mut chars = name.chars();
    if !chars.next().is_some_and(|c| c.is_ascii_lowercase()) {
        return Err("it must start with a lower-case ASCII letter");
    }
    if !name.contains('-') {
        return Err("it must contain a hyphen");
    }
    if name.chars().any(|c| c.is_ascii_uppercase()) {
        return Err("it must not contain upper-case letters");
    }
    if !name.chars().all(pcen_char) {
        return Err("it contains a character not allowed in element names");
    }
    if RESERVED.contains(&name) {
        return Err("the name is reserved by SVG and MathML");
    }
    Ok(())
}

/// PCENChar from the HTML standard.
fn pcen_char(c: char) -> bool {
    matches!(c,
        '-' | '.' | '0'..='9' | '_' | 'a'..='z' | '\u{B7}'
        | '\u{C0}'..='\u{D6}' | '\u{D8}'..='\u{F6}' | '\u{F8}'..='\u{37D}'
        | '\u{37F}'..='\u{1FFF}' | '\u{200C}'..='\u{200D}' | '\u{203F}'..='\u{2040}'
        | '\u{2070}'..='\u{218F}' | '\u{2C00}'..='\u{2FEF}' | '\u{3001}'..='\u{D7FF}'
        | '\u{F900}'..='\u{FDCF}' | '\u{FDF0}'..='\u{FFFD}' | '\u{10000}'..='\u{EFFFF}')
}

fn suggestion(tag: &str, product: &str) -> String {
    let cleaned: String = tag
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let cleaned = cleaned.trim_matches('-');
    let candidate =
        if cleaned.contains('-') && cleaned.starts_with(|c: char| c.is_ascii_lowercase()) {
            cleaned.to_owned()
        } else if cleaned.is_empty() {
            format!("{product}-widget")
        } else {
            format!("{product}-{cleaned}")
        };
    if custom_element_name(&candidate).is_ok() {
        candidate
    } else {
        format!("{product}-widget")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_the_html_standard() {
        assert!(custom_element_name("web-analytics-histogram").is_ok());
        assert!(custom_element_name("math-α").is_ok());
        assert!(custom_element_name("histogram").is_err());
        assert!(custom_element_name("Web-chart").is_err());
        assert!(custom_element_name("web-Chart").is_err());
        assert!(custom_element_name("1-chart").is_err());
        assert!(custom_element_name("font-face").is_err());
        assert!(custom_element_name("web chart").is_err());
    }

    #[test]
    fn suggests_a_valid_name() {
        assert_eq!(
            suggestion("Histogram", "web-analytics"),
            "web-analytics-histogram"
        );
        assert_eq!(suggestion("Sales_Chart", "x"), "sales-chart");
    }
}
