//! Widgets must be what the registry accepts, or the product validates, renders and syncs
//! and its widget never appears: the tag a valid custom-element name (HTML Living Standard,
//! restricted to ASCII) and each prop an attribute the dashboard may set. The rules are
//! `registry_api::widget`'s, the ones the registry and the dashboard apply.

use registry_api::widget::{MAX_ATTRIBUTES, check_attribute, check_tag};

use crate::diagnostic::Diagnostic;
use crate::model::DataProduct;
use crate::validate::Doc;

pub(super) fn check(doc: &Doc<DataProduct>, out: &mut Vec<Diagnostic>) {
    for (i, widget) in doc.spec.spec.widgets.iter().enumerate() {
        if let Err(why) = check_tag(&widget.tag) {
            let fixed = suggestion(&widget.tag, &doc.spec.metadata.name);
            out.push(
                doc.error(
                    "widget::tag",
                    format!("the registry refuses this tag: {}", why.reason),
                    &format!("/spec/widgets/{i}/tag"),
                )
                .label("invalid tag")
                .help(format!(
                    "a custom-element name is a lower-case ASCII letter, then letters, digits, '.', '_' or '-', with at least one '-', e.g. `{fixed}`"
                )),
            );
        }
        if widget.props.len() > MAX_ATTRIBUTES {
            out.push(
                doc.error(
                    "widget::attribute",
                    format!(
                        "the registry refuses more than {MAX_ATTRIBUTES} attributes on one widget ({} props)",
                        widget.props.len()
                    ),
                    &format!("/spec/widgets/{i}/props"),
                )
                .label("too many props"),
            );
        }
        for (name, value) in &widget.attributes() {
            if let Err(why) = check_attribute(name, value) {
                out.push(
                    doc.error(
                        "widget::attribute",
                        format!("the registry refuses this prop: {}", why.reason),
                        &format!("/spec/widgets/{i}/props/{name}"),
                    )
                    .label("invalid prop")
                    .help("props become attributes of the element: no event handlers, style, srcdoc, formaction or xmlns, no '<', '>' or '`', no script or data URLs"),
                );
            }
        }
    }
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
    if check_tag(&candidate).is_ok() {
        candidate
    } else {
        format!("{product}-widget")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_follow_the_registry() {
        assert!(check_tag("web-analytics-histogram").is_ok());
        // The HTML standard allows it; the registry refuses non-ASCII look-alikes.
        assert!(check_tag("math-α").is_err());
        for bad in [
            "histogram",
            "Web-chart",
            "web-Chart",
            "1-chart",
            "font-face",
            "web chart",
        ] {
            assert!(check_tag(bad).is_err(), "{bad}");
        }
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
