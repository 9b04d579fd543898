//! Widgets as data: one custom element, its tag name and its plain attributes.
//!
//! idea-lab stored raw markup in `componentId` and the dashboard assigned it to
//! `innerHTML`. Here the markup is parsed once, when it is written, by a deliberately small
//! subset of HTML's tokenizer: exactly one autonomous custom element, a start tag with
//! attributes and an empty end tag, nothing else. What is stored and served is the
//! structured form, which a dashboard mounts with `createElement` and `setAttribute`, so
//! no markup is ever parsed by a browser. Anything the subset does not cover is rejected
//! rather than guessed at: a parser that is more lenient than the browser's is where
//! sanitizer bypasses live.

use serde::{Deserialize, Serialize};

use crate::text::{Invalid, StringMap, check_text};

/// Longest markup accepted in `componentId`, in bytes.
pub const MAX_MARKUP_LEN: usize = 4096;
pub const MAX_TAG_LEN: usize = 64;
pub const MAX_ATTRIBUTES: usize = 32;
pub const MAX_ATTRIBUTE_NAME_LEN: usize = 64;
pub const MAX_ATTRIBUTE_VALUE_LEN: usize = 1024;

/// Names the HTML standard reserves (they contain a hyphen but belong to SVG and MathML).
pub const RESERVED_TAGS: [&str; 8] = [
    "annotation-xml",
    "color-profile",
    "font-face",
    "font-face-src",
    "font-face-uri",
    "font-face-format",
    "font-face-name",
    "missing-glyph",
];

/// One custom element: what the dashboard mounts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Element {
    pub tag: String,
    #[serde(default)]
    pub attributes: Attributes,
}

/// Attributes in the order they were written, serialized as a JSON object.
pub type Attributes = StringMap<MAX_ATTRIBUTES>;

fn bad(reason: impl Into<String>) -> Invalid {
    Invalid::new("", reason)
}

/// Checks a tag name against the HTML standard's "valid custom element name", restricted
/// to ASCII (the standard also allows many non-ASCII letters; refusing them keeps
/// look-alike names out of the dashboard).
pub fn check_tag(tag: &str) -> Result<(), Invalid> {
    if tag.is_empty() || tag.len() > MAX_TAG_LEN {
        return Err(bad(format!(
            "the tag name must be 1 to {MAX_TAG_LEN} characters"
        )));
    }
    let not_a_name = |why: &str| {
        Err(bad(format!(
            "'{}' is not a custom element name: {why}",
            tag.escape_default()
        )))
    };
    if !tag.as_bytes()[0].is_ascii_lowercase() {
        return not_a_name("it must start with a lower-case ASCII letter");
    }
    if tag.bytes().any(|b| b.is_ascii_uppercase()) {
        return not_a_name("it must not contain upper-case letters");
    }
    if !tag
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'.' | b'_'))
    {
        return not_a_name(
            "it may contain only lower-case ASCII letters, digits, '.', '_' and '-'",
        );
    }
    if !tag.contains('-') {
        return not_a_name("it must contain a hyphen");
    }
    if RESERVED_TAGS.contains(&tag) {
        return Err(bad(format!(
            "'{tag}' is reserved by the HTML standard and cannot be a custom element"
        )));
    }
    Ok(())
}

/// Normalizes a value the way URL parsers and browsers do before they look at a scheme:
/// ASCII whitespace and control characters vanish, case does not matter.
fn squeezed(value: &str) -> String {
    value
        .chars()
        .filter(|c| !c.is_ascii_whitespace() && !c.is_control())
        .flat_map(char::to_lowercase)
        .collect()
}

/// Checks one attribute (name already lowercased).
pub fn check_attribute(name: &str, value: &str) -> Result<(), Invalid> {
    if name.is_empty() || name.len() > MAX_ATTRIBUTE_NAME_LEN {
        return Err(bad(format!(
            "attribute names must be 1 to {MAX_ATTRIBUTE_NAME_LEN} characters"
        )));
    }
    let bytes = name.as_bytes();
    let first_ok = bytes[0].is_ascii_lowercase() || bytes[0] == b'_';
    if !first_ok
        || !bytes.iter().all(|&b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'.' | b'_')
        })
    {
        return Err(bad(format!(
            "attribute name '{}' must be a lowercase letter or '_', then letters, digits, '.', '_' or '-'",
            name.escape_default()
        )));
    }
    // Event handlers run script; style, srcdoc and formaction can load or run it; xmlns
    // changes how the element is interpreted.
    if name.starts_with("on")
        || matches!(name, "style" | "srcdoc" | "formaction")
        || name.starts_with("xmlns")
    {
        return Err(bad(format!(
            "attribute '{name}' is not allowed (event handlers, style, srcdoc, formaction, xmlns)"
        )));
    }
    if value.len() > MAX_ATTRIBUTE_VALUE_LEN {
        return Err(bad(format!(
            "attribute '{name}' must be at most {MAX_ATTRIBUTE_VALUE_LEN} bytes"
        )));
    }
    check_text(name, value, MAX_ATTRIBUTE_VALUE_LEN).map_err(|e| bad(format!("attribute {e}")))?;
    if value.contains(['<', '>', '`']) {
        return Err(bad(format!(
            "attribute '{name}' must not contain '<', '>' or '`'"
        )));
    }
    let s = squeezed(value);
    if s.contains("javascript:") || s.contains("vbscript:") || s.starts_with("data:") {
        return Err(bad(format!(
            "attribute '{name}' must not contain a javascript:, vbscript: or data: URL"
        )));
    }
    Ok(())
}

impl Element {
    /// Checks a structured element as a client sent it, lowercasing nothing: the structured
    /// form is what the dashboard uses verbatim.
    pub fn check(&self) -> Result<(), Invalid> {
        check_tag(&self.tag)?;
        if self.attributes.0.len() > MAX_ATTRIBUTES {
            return Err(bad(format!("at most {MAX_ATTRIBUTES} attributes")));
        }
        for (i, (name, value)) in self.attributes.0.iter().enumerate() {
            check_attribute(name, value)?;
            if self.attributes.0[..i].iter().any(|(n, _)| n == name) {
                return Err(bad(format!("duplicate attribute '{name}'")));
            }
        }
        Ok(())
    }

    /// Markup that an HTML parser turns back into exactly this element (values escaped).
    pub fn to_markup(&self) -> String {
        let mut out = format!("<{}", self.tag);
        for (name, value) in &self.attributes.0 {
            out.push(' ');
            out.push_str(name);
            out.push_str("=\"");
            for c in value.chars() {
                match c {
                    '&' => out.push_str("&amp;"),
                    '"' => out.push_str("&quot;"),
                    c => out.push(c),
                }
            }
            out.push('"');
        }
        out.push_str("></");
        out.push_str(&self.tag);
        out.push('>');
        out
    }
}

/// A cursor over markup bytes. The grammar is ASCII except inside attribute values, which
/// are sliced on ASCII delimiters, so byte positions always fall on char boundaries.
struct Cursor<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// Skips HTML whitespace (tab, LF, FF, CR, space); returns whether there was any.
    fn skip_ws(&mut self) -> bool {
        let start = self.pos;
        while matches!(self.peek(), Some(b'\t' | b'\n' | b'\x0c' | b'\r' | b' ')) {
            self.pos += 1;
        }
        self.pos > start
    }

    fn take_while(&mut self, f: impl Fn(u8) -> bool) -> &'a str {
        let start = self.pos;
        while self.peek().is_some_and(&f) {
            self.pos += 1;
        }
        &self.text[start..self.pos]
    }

    fn rest(&self) -> &'a str {
        &self.text[self.pos..]
    }
}

/// Parses legacy `componentId` markup, such as `<w-tag param_one="x"></w-tag>`, into an
/// element. Tag and attribute names are lowercased as an HTML parser would.
pub fn parse_markup(markup: &str) -> Result<Element, Invalid> {
    if markup.len() > MAX_MARKUP_LEN {
        return Err(bad(format!("must be at most {MAX_MARKUP_LEN} bytes")));
    }
    if let Some(c) = markup
        .chars()
        .find(|&c| c.is_control() && !matches!(c, '\t' | '\n' | '\x0c' | '\r'))
    {
        return Err(bad(format!(
            "contains the control character U+{:04X}",
            c as u32
        )));
    }
    if squeezed(markup).contains("javascript:") {
        return Err(bad("must not contain javascript:"));
    }
    let mut cur = Cursor {
        text: markup,
        pos: 0,
    };
    cur.skip_ws();
    if !cur.eat(b'<') {
        return Err(bad(
            "must be one custom element, such as <w-tag a=\"b\"></w-tag>",
        ));
    }
    let tag = cur
        .take_while(|b| !matches!(b, b'\t' | b'\n' | b'\x0c' | b'\r' | b' ' | b'/' | b'>'))
        .to_ascii_lowercase();
    check_tag(&tag)?;
    let mut attributes: Vec<(String, String)> = Vec::new();
    // Whitespace after a value-less attribute's name separates it from the next one.
    let mut spaced_after_name = false;
    loop {
        let spaced = cur.skip_ws() || spaced_after_name;
        match cur.peek() {
            Some(b'>') => {
                cur.pos += 1;
                break;
            }
            Some(b'/') => {
                return Err(bad(
                    "a custom element cannot be self-closing: write <w-tag></w-tag>",
                ));
            }
            None => return Err(bad("the start tag is not closed with '>'")),
            Some(_) if !spaced => {
                return Err(bad("attributes must be separated by whitespace"));
            }
            Some(_) => {}
        }
        let name = cur
            .take_while(|b| {
                !matches!(
                    b,
                    b'\t' | b'\n' | b'\x0c' | b'\r' | b' ' | b'/' | b'>' | b'='
                )
            })
            .to_ascii_lowercase();
        let ws = cur.skip_ws();
        let value = if cur.eat(b'=') {
            cur.skip_ws();
            spaced_after_name = false;
            parse_value(&mut cur)?
        } else {
            spaced_after_name = ws;
            String::new()
        };
        check_attribute(&name, &value)?;
        if attributes.iter().any(|(n, _)| *n == name) {
            return Err(bad(format!("duplicate attribute '{name}'")));
        }
        if attributes.len() == MAX_ATTRIBUTES {
            return Err(bad(format!("at most {MAX_ATTRIBUTES} attributes")));
        }
        attributes.push((name, value));
    }
    // Between the tags only whitespace: text or markup inside would be content the
    // structured form cannot carry.
    cur.skip_ws();
    let rest = cur.rest();
    let close_len = 2 + tag.len();
    if !(rest.len() >= close_len
        && rest.as_bytes().starts_with(b"</")
        && rest.as_bytes()[2..close_len].eq_ignore_ascii_case(tag.as_bytes()))
    {
        return Err(bad(format!(
            "the element must be empty and closed with </{tag}>"
        )));
    }
    cur.pos += close_len;
    cur.skip_ws();
    if !cur.eat(b'>') {
        return Err(bad(format!("the end tag must be exactly </{tag}>")));
    }
    cur.skip_ws();
    if !cur.rest().is_empty() {
        return Err(bad("nothing may follow the element"));
    }
    Ok(Element {
        tag,
        attributes: StringMap(attributes),
    })
}

/// Reads a quoted or unquoted attribute value and decodes its character references.
fn parse_value(cur: &mut Cursor<'_>) -> Result<String, Invalid> {
    let raw = match cur.peek() {
        Some(q @ (b'"' | b'\'')) => {
            cur.pos += 1;
            let raw = cur.take_while(|b| b != q);
            if !cur.eat(q) {
                return Err(bad("an attribute value is not closed"));
            }
            raw
        }
        _ => {
            let raw = cur.take_while(|b| {
                !matches!(
                    b,
                    b'\t'
                        | b'\n'
                        | b'\x0c'
                        | b'\r'
                        | b' '
                        | b'>'
                        | b'"'
                        | b'\''
                        | b'='
                        | b'<'
                        | b'`'
                )
            });
            if raw.is_empty() {
                return Err(bad("an attribute has '=' but no value"));
            }
            if matches!(cur.peek(), Some(b'"' | b'\'' | b'=' | b'<' | b'`')) {
                return Err(bad(
                    "unquoted attribute values must not contain quotes, '=', '<' or '`'",
                ));
            }
            raw
        }
    };
    decode_references(raw)
}

/// Decodes the character references a value may use: `&amp; &lt; &gt; &quot; &apos;` and
/// numeric ones, each ending in `;`. Any other `&` is an error: HTML decodes hundreds of
/// named references, some without a semicolon, and a value that means one thing here and
/// another in a browser is the classic sanitizer bypass.
fn decode_references(raw: &str) -> Result<String, Invalid> {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        let Some(semi) = after.find(';').filter(|&i| i <= 10) else {
            return Err(bad(
                "write '&' as &amp; (only &amp; &lt; &gt; &quot; &apos; and numeric references ending in ';' are accepted)",
            ));
        };
        let reference = &after[..semi];
        let decoded = match reference {
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "quot" => '"',
            "apos" => '\'',
            _ => numeric_reference(reference).ok_or_else(|| {
                bad(format!(
                    "unsupported character reference '&{};'",
                    reference.escape_default()
                ))
            })?,
        };
        out.push(decoded);
        rest = &after[semi + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn numeric_reference(reference: &str) -> Option<char> {
    let digits = reference.strip_prefix('#')?;
    let code = if let Some(hex) = digits.strip_prefix(['x', 'X']) {
        if hex.is_empty() || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        u32::from_str_radix(hex, 16).ok()?
    } else {
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        digits.parse().ok()?
    };
    // Surrogates and values past U+10FFFF are not characters; NUL and controls are caught
    // by the text check on the decoded value.
    char::from_u32(code).filter(|&c| c != '\0')
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn el(tag: &str, attrs: &[(&str, &str)]) -> Element {
        Element {
            tag: tag.into(),
            attributes: StringMap(
                attrs
                    .iter()
                    .map(|(k, v)| ((*k).into(), (*v).into()))
                    .collect(),
            ),
        }
    }

    #[test]
    fn parses_the_idea_lab_example() {
        assert_eq!(
            parse_markup(r#"<w-tag param_one="x"></w-tag>"#),
            Ok(el("w-tag", &[("param_one", "x")]))
        );
    }

    #[test]
    fn accepts_what_html_accepts_within_the_subset() {
        let cases: &[(&str, Element)] = &[
            ("<my-el></my-el>", el("my-el", &[])),
            ("  <my-el>\n</my-el>  ", el("my-el", &[])),
            ("<My-El></mY-eL >", el("my-el", &[])),
            (
                "<a-b x='1' y=2 z data-v = \"q\"></a-b>",
                el("a-b", &[("x", "1"), ("y", "2"), ("z", ""), ("data-v", "q")]),
            ),
            (
                "<a-b title=\"a &amp; b &quot;&apos; &#65;&#x42;\"></a-b>",
                el("a-b", &[("title", "a & b \"' AB")]),
            ),
            ("<a-b Param=\"x\"></a-b>", el("a-b", &[("param", "x")])),
            ("<a.b-c_d></a.b-c_d>", el("a.b-c_d", &[])),
            ("<x-></x->", el("x-", &[])),
            ("<a-b v=\"日本 €\"></a-b>", el("a-b", &[("v", "日本 €")])),
        ];
        for (markup, want) in cases {
            assert_eq!(parse_markup(markup).as_ref(), Ok(want), "{markup}");
        }
    }

    #[test]
    fn rejects_everything_else() {
        let cases = [
            "",
            "w-tag",
            "<img src=x onerror=alert(1)>",
            "<script>alert(1)</script>",
            "<w-tag onclick=\"x\"></w-tag>",
            "<w-tag ONMOUSEOVER=\"x\"></w-tag>",
            "<w-tag style=\"background:url(x)\"></w-tag>",
            "<w-tag srcdoc=\"x\"></w-tag>",
            "<w-tag href=\"javascript:alert(1)\"></w-tag>",
            "<w-tag href=\"JaVa&#x09;ScRiPt:alert(1)\"></w-tag>",
            "<w-tag href=\"&#106;avascript:alert(1)\"></w-tag>",
            "<w-tag href=\"java\tscript:alert(1)\"></w-tag>",
            "<w-tag href=\"data:text/html,x\"></w-tag>",
            "<w-tag a=\"&lt\"></w-tag>",
            "<w-tag a=\"&nbsp;\"></w-tag>",
            "<w-tag a=\"a&b\"></w-tag>",
            "<w-tag a=\"&#0;\"></w-tag>",
            "<w-tag a=\"&#xD800;\"></w-tag>",
            "<w-tag a=\"&#x110000;\"></w-tag>",
            "<w-tag a=\"&#x202E;\"></w-tag>",
            "<w-tag a=\"x\u{202E}\"></w-tag>",
            "<w-tag a=\"\0\"></w-tag>",
            "<w-tag a=\"<b>\"></w-tag>",
            "<w-tag a=`x`></w-tag>",
            "<w-tag a=x\"y></w-tag>",
            "<w-tag a=></w-tag>",
            "<w-tag a=\"x></w-tag>",
            "<w-tag a=\"1\"b=\"2\"></w-tag>",
            "<w-tag a=\"1\" a=\"2\"></w-tag>",
            "<w-tag a=\"1\" A=\"2\"></w-tag>",
            "<w-tag/>",
            "<w-tag />",
            "<w-tag>",
            "<w-tag",
            "<w-tag>text</w-tag>",
            "<w-tag><b-c></b-c></w-tag>",
            "<w-tag><script>alert(1)</script></w-tag>",
            "<w-tag></w-tag><script>alert(1)</script>",
            "<w-tag></w-tag><w-tag></w-tag>",
            "<w-tag></other-tag>",
            "<w-tag></w-tag",
            "<w-tag></w-tag x>",
            "<!-- x --><w-tag></w-tag>",
            "<wtag></wtag>",
            "<font-face></font-face>",
            "<annotation-xml></annotation-xml>",
            "<1-a></1-a>",
            "<-a></-a>",
            "<a-é></a-é>",
            "<w-tag 1a=\"x\"></w-tag>",
            "<w-tag a:b=\"x\"></w-tag>",
            "<w-tag xmlns=\"x\"></w-tag>",
            "<w\0-tag></w-tag>",
            "<w-tag\u{0}></w-tag>",
        ];
        for markup in cases {
            assert!(parse_markup(markup).is_err(), "accepted {markup:?}");
        }
        let long = format!("<w-tag a=\"{}\"></w-tag>", "x".repeat(MAX_MARKUP_LEN));
        assert!(parse_markup(&long).is_err());
        let many: String = (0..=MAX_ATTRIBUTES).map(|i| format!(" a{i}")).collect();
        assert!(parse_markup(&format!("<w-tag{many}></w-tag>")).is_err());
    }

    /// The cases every consumer of these rules is tested against (fixtures/widgets.json).
    #[test]
    fn the_shared_fixture_is_what_the_rules_say() {
        let cases: serde_json::Value =
            serde_json::from_str(include_str!("../fixtures/widgets.json")).unwrap();
        for (group, accepted) in [("accepted", true), ("refused", false)] {
            for case in cases[group].as_array().unwrap() {
                let mut case = case.clone();
                case.as_object_mut().unwrap().remove("why");
                let checked = serde_json::from_value::<Element>(case.clone())
                    .map_err(|e| e.to_string())
                    .and_then(|e| e.check().map_err(|e| e.reason));
                assert_eq!(checked.is_ok(), accepted, "{case}: {checked:?}");
            }
        }
    }

    #[test]
    fn structured_form_is_checked_with_the_same_rules() {
        assert_eq!(el("w-tag", &[("param_one", "x")]).check(), Ok(()));
        for bad in [
            el("script", &[]),
            el("W-Tag", &[]),
            el("w-tag", &[("onload", "x")]),
            el("w-tag", &[("Param", "x")]),
            el("w-tag", &[("a", "javascript:alert(1)")]),
            el("w-tag", &[("a", "\u{2066}")]),
            el("w-tag", &[("a", "1"), ("a", "2")]),
        ] {
            assert!(bad.check().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn structured_form_rejects_duplicate_names_in_json() {
        let err =
            serde_json::from_str::<Element>(r#"{"tag":"w-x","attributes":{"a":"1","a":"2"}}"#);
        assert!(err.is_err());
        let ok: Element =
            serde_json::from_str(r#"{"tag":"w-x","attributes":{"b":"1","a":"2"}}"#).unwrap();
        assert_eq!(ok, el("w-x", &[("b", "1"), ("a", "2")]));
        assert_eq!(
            serde_json::to_string(&ok).unwrap(),
            r#"{"tag":"w-x","attributes":{"b":"1","a":"2"}}"#
        );
    }

    fn element_strategy() -> impl Strategy<Value = Element> {
        let tag = "[a-z][a-z0-9]{0,6}-[a-z0-9._-]{0,8}"
            .prop_filter("reserved", |t| !RESERVED_TAGS.contains(&t.as_str()));
        let name = "[a-z_][a-z0-9_.-]{0,10}"
            .prop_filter("forbidden names", |n| check_attribute(n, "").is_ok());
        let value = "[a-zA-Z0-9 &\"'=/:;.,é€日-]{0,20}".prop_filter("schemes", |v| {
            let s = squeezed(v);
            !s.contains("javascript:") && !s.contains("vbscript:") && !s.starts_with("data:")
        });
        (tag, proptest::collection::vec((name, value), 0..6)).prop_map(|(tag, attrs)| {
            let mut seen = Vec::new();
            let attrs = attrs
                .into_iter()
                .filter(|(n, _)| {
                    let fresh = !seen.contains(n);
                    seen.push(n.clone());
                    fresh
                })
                .collect();
            Element {
                tag,
                attributes: StringMap(attrs),
            }
        })
    }

    proptest! {
        #[test]
        fn valid_elements_round_trip_through_markup(e in element_strategy()) {
            prop_assert_eq!(e.check(), Ok(()));
            prop_assert_eq!(parse_markup(&e.to_markup()), Ok(e));
        }

        #[test]
        fn no_input_panics_and_what_is_accepted_is_safe(s in "\\PC{0,80}|<[a-z-]{1,6}( [a-zA-Z&#;=\"'<>/ ]{0,20}){0,3}>(</[a-z-]{1,6}>)?") {
            if let Ok(e) = parse_markup(&s) {
                prop_assert_eq!(e.check(), Ok(()));
                prop_assert_eq!(parse_markup(&e.to_markup()), Ok(e.clone()));
                for (name, value) in &e.attributes.0 {
                    prop_assert!(!name.starts_with("on"));
                    prop_assert!(!value.contains('<'));
                }
            }
        }
    }
}
