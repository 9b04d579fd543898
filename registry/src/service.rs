//! A registration's body: idea-lab's shape (`webComponent`, `label`, `tags`), checked
//! field by field, with its widget parsed into the structured form once, on write.

use std::time::Duration;

use serde::Deserialize;
use serde::de::{self, Deserializer};
use serde_json::value::RawValue;

use registry_api::text::{Invalid, StringMap, check_text};
use registry_api::widget::{Element, parse_markup};

use crate::input::{BodyError, check_remote_url, parse_object};
use crate::ttl::TtlPolicy;

pub const MAX_LABEL_CHARS: usize = 256;
pub const MAX_TAGS: usize = 32;
pub const MAX_TAG_KEY_CHARS: usize = 63;
pub const MAX_TAG_VALUE_CHARS: usize = 256;

/// The body of `POST /api/v1/registry/{id}`. Every field is optional so that services
/// without a widget can register too; anything not listed is refused, so that what is
/// stored is exactly what was checked.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ServiceSpec {
    web_component: Option<WebComponentSpec>,
    label: Option<String>,
    tags: Option<StringMap<MAX_TAGS>>,
    #[serde(default, deserialize_with = "whole_seconds")]
    ttl_seconds: Option<u64>,
}

/// A number of seconds: an integer as JSON Schema counts them, so `30.0` is 30 too.
fn whole_seconds<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    let n = serde_json::Number::deserialize(d)?;
    n.as_u64()
        .or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && (0.0..=u64::MAX as f64).contains(f))
                .map(|f| f as u64)
        })
        .map(Some)
        .ok_or_else(|| de::Error::custom("ttlSeconds must be a whole number of seconds"))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct WebComponentSpec {
    js_url: String,
    css_url: Option<String>,
    /// idea-lab's raw markup, e.g. `<w-tag param_one="x"></w-tag>`.
    component_id: Option<String>,
    /// The same as data: `{"tag":"w-tag","attributes":{"param_one":"x"}}`.
    element: Option<Element>,
}

/// A checked registration, ready to store.
#[derive(Debug, Clone)]
pub struct NewRegistration {
    /// The body as the client sent it (compacted): what GET returns as `service`.
    pub service: Box<RawValue>,
    pub widget: Option<Element>,
    pub ttl: Duration,
}

/// Parses and checks a registration body.
pub fn parse_registration(body: &[u8], policy: &TtlPolicy) -> Result<NewRegistration, BodyError> {
    let (spec, service) = parse_object::<ServiceSpec>(body)?;
    if let Some(label) = &spec.label {
        check_text("label", label, MAX_LABEL_CHARS)?;
    }
    if let Some(tags) = &spec.tags {
        for (key, value) in &tags.0 {
            if key.is_empty() {
                return Err(Invalid::new("tags", "keys must not be empty").into());
            }
            check_text("tags", key, MAX_TAG_KEY_CHARS)?;
            check_text(&format!("tags.{key}"), value, MAX_TAG_VALUE_CHARS)?;
        }
    }
    let ttl = policy
        .ttl_for(spec.ttl_seconds)
        .map_err(|reason| Invalid::new("ttlSeconds", reason))?;
    let widget = spec.web_component.map(check_web_component).transpose()?;
    Ok(NewRegistration {
        service,
        widget,
        ttl,
    })
}

fn check_web_component(wc: WebComponentSpec) -> Result<Element, Invalid> {
    check_remote_url("webComponent.jsUrl", &wc.js_url)?;
    if let Some(css) = &wc.css_url {
        check_remote_url("webComponent.cssUrl", css)?;
    }
    match (wc.component_id, wc.element) {
        (Some(markup), None) => {
            parse_markup(&markup).map_err(|e| Invalid::new("webComponent.componentId", e.reason))
        }
        (None, Some(element)) => {
            element
                .check()
                .map_err(|e| Invalid::new("webComponent.element", e.reason))?;
            Ok(element)
        }
        _ => Err(Invalid::new(
            "webComponent",
            "give exactly one of componentId (markup) and element (tag and attributes)",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use registry_api::widget::Attributes;

    /// A widget the registry stores is one `dappctl validate` accepts and the dashboard
    /// mounts: the three are tested against one list (registry/api/fixtures/widgets.json).
    #[test]
    fn registrations_follow_the_shared_widget_fixture() {
        let cases: serde_json::Value =
            serde_json::from_str(include_str!("../api/fixtures/widgets.json")).unwrap();
        for (group, accepted) in [("accepted", true), ("refused", false)] {
            for case in cases[group].as_array().unwrap() {
                let element =
                    serde_json::json!({"tag": case["tag"], "attributes": case["attributes"]});
                let body = serde_json::json!({"webComponent": {"jsUrl": "http://w.ns/b.js", "element": element}});
                let parsed = parse_registration(body.to_string().as_bytes(), &TtlPolicy::default());
                assert_eq!(parsed.is_ok(), accepted, "{element}: {parsed:?}");
            }
        }
    }

    const IDEA_LAB: &str = r#"{"webComponent":{"jsUrl":"http://w.ns/bundle.js","cssUrl":"http://w.ns/bundle.css","componentId":"<w-tag param_one=\"x\"></w-tag>"},"label":"Friendly","tags":{"k":"v"}}"#;

    fn parse(body: &str) -> Result<NewRegistration, BodyError> {
        parse_registration(body.as_bytes(), &TtlPolicy::default())
    }

    fn field_of(body: &str) -> String {
        match parse(body) {
            Err(BodyError::Invalid(e)) => e.field,
            other => panic!("{body}: {other:?}"),
        }
    }

    #[test]
    fn the_idea_lab_body_is_stored_as_sent_with_its_widget_parsed() {
        let reg = parse(IDEA_LAB).unwrap();
        assert_eq!(reg.service.get(), IDEA_LAB);
        assert_eq!(
            reg.widget,
            Some(Element {
                tag: "w-tag".into(),
                attributes: Attributes::from_pairs(&[("param_one", "x")]),
            })
        );
        assert_eq!(reg.ttl, Duration::from_secs(15));
    }

    #[test]
    fn the_structured_form_is_accepted_directly() {
        let reg = parse(
            r#"{"webComponent":{"jsUrl":"https://w/b.js","element":{"tag":"w-x","attributes":{"a":"1"}}},"ttlSeconds":30}"#,
        )
        .unwrap();
        assert_eq!(reg.widget.unwrap().tag, "w-x");
        assert_eq!(reg.ttl, Duration::from_secs(30));
        // JSON Schema's integers include 30.0; the OpenAPI document says integer.
        assert_eq!(
            parse(r#"{"ttlSeconds":30.0}"#).unwrap().ttl,
            Duration::from_secs(30)
        );
        for bad in [
            r#"{"ttlSeconds":1.5}"#,
            r#"{"ttlSeconds":-1}"#,
            r#"{"ttlSeconds":1e300}"#,
            r#"{"ttlSeconds":"5"}"#,
        ] {
            assert!(matches!(parse(bad), Err(BodyError::Invalid(_))), "{bad}");
        }
        assert!(parse("{}").unwrap().widget.is_none());
    }

    #[test]
    fn each_bad_field_is_named() {
        let cases = [
            (r#"{"label":"a\u202Eb"}"#, "label"),
            (r#"{"label":"a\u0000b"}"#, "label"),
            (&format!(r#"{{"label":"{}"}}"#, "x".repeat(257)), "label"),
            (r#"{"tags":{"":"v"}}"#, "tags"),
            (r#"{"tags":{"k":"v\u2066"}}"#, "tags.k"),
            (r#"{"ttlSeconds":0}"#, "ttlSeconds"),
            (r#"{"ttlSeconds":0.0}"#, "ttlSeconds"),
            (
                r#"{"webComponent":{"jsUrl":"javascript:alert(1)","componentId":"<w-x></w-x>"}}"#,
                "webComponent.jsUrl",
            ),
            (
                r#"{"webComponent":{"jsUrl":"http://a/b.js","cssUrl":"data:text/css,x","componentId":"<w-x></w-x>"}}"#,
                "webComponent.cssUrl",
            ),
            (
                r#"{"webComponent":{"jsUrl":"http://0177.0.0.1:8080/b.js","componentId":"<w-x></w-x>"}}"#,
                "webComponent.jsUrl",
            ),
            (
                r#"{"webComponent":{"jsUrl":"http://a/b.js","cssUrl":"http://[::ffff:169.254.169.254]/b.css","componentId":"<w-x></w-x>"}}"#,
                "webComponent.cssUrl",
            ),
            (
                r#"{"webComponent":{"jsUrl":"http://a/b.js","componentId":"<img src=x onerror=alert(1)>"}}"#,
                "webComponent.componentId",
            ),
            (
                r#"{"webComponent":{"jsUrl":"http://a/b.js","componentId":"<w-x></w-x><script>alert(1)</script>"}}"#,
                "webComponent.componentId",
            ),
            (
                r#"{"webComponent":{"jsUrl":"http://a/b.js","element":{"tag":"w-x","attributes":{"onclick":"x"}}}}"#,
                "webComponent.element",
            ),
            (
                r#"{"webComponent":{"jsUrl":"http://a/b.js"}}"#,
                "webComponent",
            ),
            (
                r#"{"webComponent":{"jsUrl":"http://a/b.js","componentId":"<w-x></w-x>","element":{"tag":"w-x"}}}"#,
                "webComponent",
            ),
        ];
        for (body, field) in cases {
            assert_eq!(field_of(body), field, "{body}");
        }
    }

    /// `null` was taken for "absent" and then served back where the schema promises a
    /// string or an object: every optional field now refuses it, by name.
    #[test]
    fn null_is_never_a_value() {
        for (body, field) in [
            (r#"{"label":null}"#, "label"),
            (r#"{"tags":null}"#, "tags"),
            (r#"{"tags":{"k":null}}"#, "tags.k"),
            (r#"{"ttlSeconds":null}"#, "ttlSeconds"),
            (r#"{"webComponent":null}"#, "webComponent"),
            (
                r#"{"webComponent":{"jsUrl":"http://a/b.js","cssUrl":null,"componentId":"<w-x></w-x>"}}"#,
                "webComponent.cssUrl",
            ),
            (
                r#"{"webComponent":{"jsUrl":"http://a/b.js","componentId":null,"element":{"tag":"w-x"}}}"#,
                "webComponent.componentId",
            ),
            (
                r#"{"webComponent":{"jsUrl":"http://a/b.js","element":{"tag":"w-x","attributes":null}}}"#,
                "webComponent.element.attributes",
            ),
        ] {
            assert_eq!(field_of(body), field, "{body}");
        }
    }

    #[test]
    fn unknown_and_duplicate_fields_are_refused() {
        for body in [
            r#"{"labels":"x"}"#,
            r#"{"label":"a","label":"b"}"#,
            r#"{"tags":{"k":"1","k":"2"}}"#,
            r#"{"webComponent":{"jsUrl":"http://a/b.js","componentId":"<w-x></w-x>","extra":1}}"#,
            r#"{"label":5}"#,
            r#"[]"#,
            r#""x""#,
        ] {
            assert!(matches!(parse(body), Err(BodyError::Invalid(_))), "{body}");
        }
        assert!(matches!(parse("{"), Err(BodyError::Syntax(_))));
    }
}
