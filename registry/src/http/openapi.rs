//! The OpenAPI 3.1 document served at `/openapi.json`, written by hand to describe the
//! routes in [`crate::http::endpoints`]; a test holds the two to the same set of paths and
//! methods. Every rule of the registry that JSON Schema can state is stated (ids, labels,
//! versions, text without invisible characters, URLs, bounds), with its regular
//! expression built from the rule's own constants, so that a request the document calls
//! valid is accepted and one it calls invalid is refused. The few rules that span fields
//! (a URN id against the body, names unique within a list) are in the descriptions.

use std::sync::OnceLock;

use serde_json::{Value, json};

use registry_api::text::{MAX_ID_LEN, check_text};
use registry_api::widget::{
    MAX_ATTRIBUTE_NAME_LEN, MAX_ATTRIBUTE_VALUE_LEN, MAX_ATTRIBUTES, MAX_MARKUP_LEN, MAX_TAG_LEN,
    RESERVED_TAGS,
};

use crate::catalog::{
    MAX_CONTRACT_ID_CHARS, MAX_DESCRIPTION_CHARS, MAX_INPUT_PORTS, MAX_OUTPUT_PORTS, MAX_WIDGETS,
};
use crate::http::watch::MAX_WAIT;
use crate::input::MAX_URL_LEN;
use crate::service::{MAX_LABEL_CHARS, MAX_TAG_KEY_CHARS, MAX_TAG_VALUE_CHARS, MAX_TAGS};
use crate::ttl::TtlPolicy;

/// How every optional field treats `null`.
const NO_NULL: &str = "Optional fields are left out when absent: `null` is refused (422) in every field, never stored or served.";

/// The characters [`check_text`] refuses (controls, bidirectional and invisible ones,
/// noncharacters), as the inside of a regex character class, found by asking it about
/// every character once.
fn refused_chars() -> &'static str {
    static CLASS: OnceLock<String> = OnceLock::new();
    CLASS.get_or_init(|| {
        let refused = |c: char| check_text("", c.encode_utf8(&mut [0; 4]), 1).is_err();
        let mut class = String::new();
        let mut chars = (0..=char::MAX as u32).filter_map(char::from_u32).peekable();
        while let Some(first) = chars.next() {
            if !refused(first) {
                continue;
            }
            let mut last = first;
            while let Some(&next) = chars.peek() {
                if next as u32 != last as u32 + 1 || !refused(next) {
                    break;
                }
                last = next;
                chars.next();
            }
            class.push(first);
            if last != first {
                class.push('-');
                class.push(last);
            }
        }
        class
    })
}

/// Free text of at most `max` characters, as [`check_text`] takes it.
fn text(max: usize) -> Value {
    json!({"type": "string", "maxLength": max, "pattern": format!("^[^{}]*$", refused_chars())})
}

/// A registration id ([`registry_api::text::check_id`]).
fn registration_id_pattern() -> String {
    format!("^[A-Za-z0-9][A-Za-z0-9._-]{{0,{}}}$", MAX_ID_LEN - 1)
}

/// A product id that is not a URN: a URN must agree with the body's name and major
/// version, which no schema of the path alone can say.
fn product_id_pattern() -> String {
    format!(
        "^(?!urn:)[A-Za-z0-9][A-Za-z0-9._:-]{{0,{}}}$",
        MAX_ID_LEN - 1
    )
}

/// A DNS-1123 label (catalog.rs `check_label`).
const LABEL: &str = "^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$";

/// A product id as stored: a plain id or a DPDS URN.
fn any_product_id_pattern() -> String {
    let label = &LABEL[1..LABEL.len() - 1];
    format!(
        "^(?:urn:dpds:{label}:dataproducts:{label}:(?:0|[1-9][0-9]{{0,18}})|{})$",
        &product_id_pattern()[1..product_id_pattern().len() - 1]
    )
}

/// A semantic version that the `semver` crate reads (numbers within 64 bits).
const SEMVER: &str = concat!(
    r"^(?:0|[1-9][0-9]{0,18})\.(?:0|[1-9][0-9]{0,18})\.(?:0|[1-9][0-9]{0,18})",
    r"(?:-(?:0|[1-9][0-9]{0,18}|[0-9]*[A-Za-z-][0-9A-Za-z-]*)(?:\.(?:0|[1-9][0-9]{0,18}|[0-9]*[A-Za-z-][0-9A-Za-z-]*))*)?",
    r"(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$"
);

fn semver() -> Value {
    json!({"type": "string", "maxLength": 64, "pattern": SEMVER})
}

/// `word` in any ASCII case, as a regex.
fn any_case(word: &str) -> String {
    word.chars()
        .map(|c| {
            if c.is_ascii_alphabetic() {
                format!("[{}{}]", c.to_ascii_lowercase(), c.to_ascii_uppercase())
            } else {
                regex_escape(c)
            }
        })
        .collect()
}

fn regex_escape(c: char) -> String {
    if "\\.+*?()|[]{}^$-/".contains(c) {
        format!("\\{c}")
    } else {
        c.to_string()
    }
}

/// A URL that `check_remote_url` accepts: http(s), a DNS name that no parser reads as an
/// IPv4 number, not `localhost`, `*.localhost` or a metadata name, an optional port, then
/// printable ASCII without backslashes. Public IP literals are accepted too but not
/// generated from this (the description says so).
fn remote_url() -> Value {
    let end = "(?:[:/?#]|$)";
    let refused_names = format!(
        "(?!(?:[A-Za-z0-9_-]+\\.)*{lh}\\.?{end}|{md}\\.?{end}|{mdg}\\.?{end}|[^/?#]*[xX][nN]--)",
        lh = any_case("localhost"),
        md = any_case("metadata"),
        mdg = any_case("metadata.google.internal"),
    );
    // The last label holds a letter, '-' or '_' and is not hex: otherwise a URL parser
    // reads the host as an IPv4 number.
    let host = format!(
        "(?:[A-Za-z0-9_-]+\\.)*(?!0[xX][0-9A-Fa-f]*\\.?{end})[A-Za-z0-9_-]*[A-Za-z_-][A-Za-z0-9_-]*\\.?"
    );
    let port =
        "(?::(?:6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[0-9]{1,4}))?";
    json!({
        "type": "string", "maxLength": MAX_URL_LEN,
        "pattern": format!("^[hH][tT][tT][pP][sS]?://{refused_names}{host}{port}(?:[/?#][!-\\[\\]-~]*)?$"),
        "description": "Absolute http(s) URL without credentials, printable ASCII (percent-encode the rest; no `format: uri`, since a stray `%` is taken as browsers take it). The host is a DNS name (labels of letters, digits, '-' and '_') or a public IP literal (203.0.113.7, [2001:db8::1]; the pattern shows names only). It must not be a loopback, link-local, unspecified or cloud-metadata address or name in any spelling (127.0.0.1, 127.1, 2130706433, [::1], 0.0.0.0, 169.254.169.254, localhost, *.localhost, metadata.google.internal, …)."
    })
}

/// A custom element name ([`registry_api::widget::check_tag`]).
fn tag_pattern() -> String {
    format!(
        "(?!(?:{})(?![a-z0-9._-]))[a-z][a-z0-9._]*-[a-z0-9._-]*",
        RESERVED_TAGS.map(|t| t.replace('-', "\\-")).join("|")
    )
}

/// An attribute name ([`registry_api::widget::check_attribute`]).
const ATTRIBUTE_NAME: &str =
    "(?!on|xmlns|(?:style|srcdoc|formaction)(?![a-z0-9._-]))[a-z_][a-z0-9._-]*";

/// An attribute value: text without `<`, `>` or a backtick, and no javascript:, vbscript:
/// or leading data: URL in any case or spacing. `quoted` is for a value between double
/// quotes in markup, where `"` ends it and `&` would start an entity.
fn attribute_value_pattern(quoted: bool) -> String {
    let spaced = |word: &str| {
        word.chars()
            .map(|c| format!("{} *", any_case(&c.to_string())))
            .collect::<String>()
    };
    let (scope, extra) = if quoted {
        ("[^\"&]*", "\"&")
    } else {
        (".*", "")
    };
    format!(
        "(?!{scope}{js})(?!{scope}{vb})(?! *{data})[^<>`{extra}{refused}]*",
        js = spaced("javascript:"),
        vb = spaced("vbscript:"),
        data = spaced("data:"),
        refused = refused_chars(),
    )
}

fn attributes() -> Value {
    json!({
        "type": "object", "maxProperties": MAX_ATTRIBUTES,
        "propertyNames": {"minLength": 1, "maxLength": MAX_ATTRIBUTE_NAME_LEN, "pattern": format!("^{ATTRIBUTE_NAME}$")},
        "additionalProperties": {"type": "string", "maxLength": MAX_ATTRIBUTE_VALUE_LEN,
            "pattern": format!("^{}$", attribute_value_pattern(false))},
        "description": "Plain attributes: lowercase names, no event handlers (on*), style, srcdoc, formaction or xmlns; values without `<`, `>`, backticks or javascript:/vbscript:/data: URLs, at most 1024 bytes."
    })
}

/// idea-lab markup in its plain form: one custom element with at most one double-quoted
/// attribute. The parser also takes what HTML allows around it (any case, whitespace,
/// single quotes, unquoted values, entities, more attributes).
fn markup_pattern() -> String {
    format!(
        "^<({tag})(?: {ATTRIBUTE_NAME}=\"{value}\")?></\\1>$",
        tag = tag_pattern(),
        value = attribute_value_pattern(true),
    )
}

fn error_response(description: &str) -> Value {
    json!({
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    })
}

fn json_response(description: &str, schema: &str) -> Value {
    json!({
        "description": description,
        "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{schema}")}}}
    })
}

fn json_array_response(description: &str, schema: &str) -> Value {
    json!({
        "description": description,
        "headers": {"X-Registry-Index": {"$ref": "#/components/headers/Index"}},
        "content": {"application/json": {"schema": {
            "type": "array",
            "items": {"$ref": format!("#/components/schemas/{schema}")}
        }}}
    })
}

fn write_errors() -> Value {
    json!({
        "400": error_response("Malformed JSON or an invalid id in the path."),
        "401": error_response("No valid bearer token."),
        "403": error_response("The token has no grant for this id."),
        "413": error_response("The body is larger than 64 KiB."),
        "415": error_response("The body is not application/json."),
        "422": error_response("The document breaks a rule; `message` names the field."),
        "503": error_response("The write was not committed in time; retry."),
        "507": error_response("The collection is full.")
    })
}

fn merge(mut base: Value, extra: Value) -> Value {
    if let (Some(b), Value::Object(e)) = (base.as_object_mut(), extra) {
        b.extend(e);
    }
    base
}

fn id_param(description: &str, pattern: &str) -> Value {
    json!({"name": "id", "in": "path", "required": true, "description": description,
           "schema": {"type": "string", "minLength": 1, "maxLength": MAX_ID_LEN, "pattern": pattern}})
}

/// `wait`: whole seconds, or humantime units without spaces (`30s`, `1m30s`); longer
/// than the maximum is cut to it.
fn wait_pattern() -> String {
    let units = "nanos|nsec|ns|usec|us|millis|msec|ms|seconds|second|secs|sec|s|minutes|minute|mins|min|m|hours|hour|hrs|hr|h|days|day|d|weeks|week|wks|wk|w|months|month|M|years|year|yrs|yr|y";
    format!("^(?:[0-9]{{1,19}}|(?:[0-9]{{1,9}}(?:{units}))+)$")
}

fn watch_params() -> Value {
    json!([
        {"name": "index", "in": "query", "required": false,
         "description": "Blocking query: answer once the collection's change index differs from this value (or after `wait`).",
         "schema": {"type": "integer", "minimum": 0, "maximum": u64::MAX}},
        {"name": "wait", "in": "query", "required": false,
         "description": format!("How long a blocking query may wait: whole seconds or a duration such as `30s`, `1m30s` (default 60s; anything longer than {}s waits {}s).", MAX_WAIT.as_secs(), MAX_WAIT.as_secs()),
         "schema": {"type": "string", "pattern": wait_pattern()}}
    ])
}

fn event_stream(description: &str) -> Value {
    json!({
        "summary": description,
        "description": "Server-Sent Events. The first event carries the whole collection as its list endpoint returns it; another follows every change. The event id is the change index; comments keep the connection alive.",
        "responses": {
            "200": {"description": "An event stream.", "content": {"text/event-stream": {"schema": {"type": "string"}}}},
            "401": error_response("Reads are protected and no valid token was given."),
            "503": error_response("Too many open watchers.")
        }
    })
}

/// The document.
pub fn document() -> Value {
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "DappMesh registry",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Service registry for widgets and data products, compatible with the idea-lab registry API. Writes need `Authorization: Bearer <token>`; reads may too, by configuration."
        },
        "paths": paths(),
        "security": [{"bearer": []}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                "description": "A token from the tokens file or REGISTRY_TOKENS, with a grant for the id (`registry:PREFIX*`, `products:PREFIX*`) or `read`."}},
            "headers": {"Index": {"description": "The collection's change index: pass it as `index` to wait for the next change.", "schema": {"type": "integer"}}},
            "schemas": merge(service_schemas(), product_schemas())
        }
    })
}

fn paths() -> Value {
    let reg_id = id_param(
        "The registration id: 1–128 of `[A-Za-z0-9._-]`, starting with a letter or digit.",
        &registration_id_pattern(),
    );
    let product_id = id_param(
        "The product id: 1–128 of `[A-Za-z0-9._:-]`, starting with a letter or digit. It may also be a DPDS URN `urn:dpds:<mesh>:dataproducts:<name>:<major>` whose name and major version agree with the body's (a rule across path and body, so the pattern shows plain ids only).",
        &product_id_pattern(),
    );
    let meta = json!({

            "/health": {"get": {"summary": "Liveness.", "security": [],
                "responses": {"200": {"description": "The process is up.", "content": {"application/json": {"schema": {"type": "object", "properties": {"status": {"const": "ok"}}}}}}}}},
            "/ready": {"get": {"summary": "Readiness: the database answers.", "security": [],
                "responses": {"200": {"description": "Ready.", "content": {"application/json": {"schema": {"type": "object", "properties": {"status": {"const": "ready"}}}}}},
                              "503": error_response("The database is not reachable.")}}},
            "/metrics": {"get": {"summary": "Prometheus metrics.", "description": "Served on its own port instead (a 404 here) when the registry runs with --metrics-port.", "security": [],
                "responses": {"200": {"description": "Text exposition format 0.0.4.", "content": {"text/plain": {"schema": {"type": "string"}}}}}}},
            "/openapi.json": {"get": {"summary": "This document.", "security": [],
                "responses": {"200": {"description": "OpenAPI 3.1.", "content": {"application/json": {"schema": {"type": "object"}}}}}}}
    });
    let registry = json!({
            "/api/v1/registry": {"get": {
                "summary": "List registrations (idea-lab compatible), optionally as a blocking query.",
                "description": "Sent gzipped (Content-Encoding: gzip) to clients that send Accept-Encoding: gzip.",
                "security": [{}, {"bearer": []}],
                "parameters": watch_params(),
                "responses": {"200": json_array_response("Every registration, ordered by id.", "RegistrationItem"),
                              "400": error_response("A bad `index` or `wait`."),
                              "401": error_response("Reads are protected and no valid token was given."),
                              "503": error_response("Too many open watchers.")}}},
            "/api/v1/registry/{id}": {
                "parameters": [reg_id],
                "get": {"summary": "One registration (idea-lab compatible).", "security": [{}, {"bearer": []}],
                    "responses": {"200": json_response("The registration.", "Registration"),
                                  "400": error_response("An invalid id."),
                                  "401": error_response("Reads are protected and no valid token was given."),
                                  "404": error_response("No such registration: `{\"error\":\"not_found\",\"message\":\"Not Found\"}`.")}},
                "post": {"summary": "Register or heartbeat (idea-lab compatible); echoes the body.",
                    "description": "Creates the registration or refreshes it. A body equal to the stored one only moves `lastUpdated`. The response is the body as stored (compacted), with status 200 in both cases.",
                    "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Service"}}}},
                    "responses": merge(json!({"200": json_response("The body as stored.", "Service")}), write_errors())},
                "delete": {"summary": "Deregister.",
                    "responses": {"204": {"description": "Removed."},
                                  "400": error_response("An invalid id."),
                                  "401": error_response("No valid bearer token."),
                                  "403": error_response("The token has no grant for this id."),
                                  "404": error_response("No such registration."),
                                  "503": error_response("The write was not committed in time; retry.")}}
            }
    });
    let products = json!({
            "/api/v1/products": {"get": {
                "summary": "List the data-product catalog, optionally as a blocking query.",
                "security": [{}, {"bearer": []}],
                "parameters": watch_params(),
                "responses": {"200": json_array_response("Every product, ordered by id.", "ProductItem"),
                              "400": error_response("A bad `index` or `wait`."),
                              "401": error_response("Reads are protected and no valid token was given."),
                              "503": error_response("Too many open watchers.")}}},
            "/api/v1/products/{id}": {
                "parameters": [product_id],
                "get": {"summary": "One product.", "security": [{}, {"bearer": []}],
                    "responses": {"200": json_response("The product.", "ProductItem"),
                                  "400": error_response("An invalid id."),
                                  "401": error_response("Reads are protected and no valid token was given."),
                                  "404": error_response("No such product.")}},
                "put": {"summary": "Create or replace a product (the operator's write).",
                    "description": "Idempotent: putting the same document again changes nothing, not even `lastUpdated`.",
                    "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Product"}}}},
                    "responses": merge(json!({"200": json_response("Replaced.", "ProductItem"), "201": json_response("Created.", "ProductItem")}), write_errors())},
                "delete": {"summary": "Remove a product.",
                    "responses": {"204": {"description": "Removed."},
                                  "400": error_response("An invalid id."),
                                  "401": error_response("No valid bearer token."),
                                  "403": error_response("The token has no grant for this id."),
                                  "404": error_response("No such product."),
                                  "503": error_response("The write was not committed in time; retry.")}}
            }
    });
    let watch = json!({
            "/api/v1/watch/registry": {"get": merge(event_stream("Registry changes as Server-Sent Events (event name `registry`)."), json!({"security": [{}, {"bearer": []}]}))},
            "/api/v1/watch/products": {"get": merge(event_stream("Catalog changes as Server-Sent Events (event name `products`)."), json!({"security": [{}, {"bearer": []}]}))}
    });
    merge(merge(meta, registry), merge(products, watch))
}

fn service_schemas() -> Value {
    let ttl = TtlPolicy::default();
    json!({
        "Error": {"type": "object", "required": ["error", "message"], "properties": {
            "error": {"type": "string", "description": "A stable code: invalid_json, invalid_body, invalid_id, invalid_path, invalid_query, unsupported_media_type, payload_too_large, unauthorized, forbidden, not_found, no_route, method_not_allowed, capacity, unavailable, too_many_watchers, not_ready, internal."},
            "message": {"type": "string", "description": "For people; for a missing registration exactly `Not Found`, as idea-lab answered."}}},
        "Element": {"type": "object", "required": ["tag"], "additionalProperties": false, "properties": {
            "tag": {"type": "string", "minLength": 1, "maxLength": MAX_TAG_LEN, "pattern": format!("^{}$", tag_pattern()),
                "description": "A valid custom element name: ASCII, starting with a lowercase letter, with a hyphen, not one the HTML standard reserves."},
            "attributes": attributes()}},
        "WebComponent": {"type": "object", "required": ["jsUrl"], "additionalProperties": false,
            "description": format!("The widget: its bundle, its stylesheet and exactly one of `componentId` (markup) and `element` (structured). {NO_NULL}"),
            "oneOf": [{"required": ["componentId"]}, {"required": ["element"]}],
            "properties": {
                "jsUrl": remote_url(),
                "cssUrl": remote_url(),
                "componentId": {"type": "string", "maxLength": MAX_MARKUP_LEN, "pattern": markup_pattern(),
                    "description": "idea-lab markup: exactly one empty custom element with plain attributes, e.g. `<w-tag param_one=\"x\"></w-tag>`. The pattern is the plain form with at most one double-quoted attribute; the parser also takes what HTML allows around it (any case, whitespace, single quotes, unquoted values, entities, up to 32 attributes)."},
                "element": {"$ref": "#/components/schemas/Element"}}},
        "Service": {"type": "object", "additionalProperties": false,
            "description": format!("A registration as its client sends it. {NO_NULL}"),
            "properties": {
                "webComponent": {"$ref": "#/components/schemas/WebComponent"},
                "label": text(MAX_LABEL_CHARS),
                "tags": {"type": "object", "maxProperties": MAX_TAGS,
                    "propertyNames": merge(text(MAX_TAG_KEY_CHARS), json!({"minLength": 1})),
                    "additionalProperties": text(MAX_TAG_VALUE_CHARS)},
                "ttlSeconds": {"type": "integer", "minimum": ttl.min.as_secs(), "maximum": ttl.max.as_secs(),
                    "description": "This registration's TTL, within the server's bounds (--min-ttl and --max-ttl; these are the defaults)."}}},
        "Registration": {"type": "object", "required": ["service", "lastUpdated", "ttlSeconds", "stale"], "properties": {
            "service": {"$ref": "#/components/schemas/Service"},
            "lastUpdated": {"type": "string", "format": "date-time", "description": "UTC with microseconds, e.g. 2023-10-21T20:53:53.893639Z."},
            "ttlSeconds": {"type": "number"},
            "stale": {"type": "boolean", "description": "No heartbeat within the TTL; evicted after the grace period."},
            "widget": {"$ref": "#/components/schemas/Element"}}},
        "RegistrationItem": {"allOf": [{"$ref": "#/components/schemas/Registration"},
            {"type": "object", "required": ["id"], "properties": {"id": {"type": "string", "pattern": registration_id_pattern()}}}]}
    })
}

fn label(description: &str) -> Value {
    json!({"type": "string", "maxLength": 63, "pattern": LABEL, "description": description})
}

fn product_schemas() -> Value {
    let dns =
        "A DNS label: 1 to 63 lowercase letters, digits and '-', not starting or ending with '-'.";
    let unique = "Names are unique within the list.";
    json!({
        "Product": {"type": "object", "required": ["domain", "owner", "version", "status"], "additionalProperties": false,
            "description": format!("A data product's catalog entry. {NO_NULL}"),
            "properties": {
                "id": {"type": "string", "readOnly": true, "maxLength": MAX_ID_LEN, "pattern": any_product_id_pattern(),
                    "description": "The id is the path's: a body may repeat it, equal to the path's, and the document is stored as sent."},
                "name": label("A DNS label; equal to the name in a URN id."),
                "domain": label(dns),
                "owner": label(dns),
                "version": merge(semver(), json!({"description": "Semantic version; its major must match a URN id's."})),
                "status": {"enum": crate::catalog::STATUSES},
                "description": text(MAX_DESCRIPTION_CHARS),
                "inputPorts": {"type": "array", "uniqueItems": true, "maxItems": MAX_INPUT_PORTS, "description": unique,
                    "items": {"type": "object", "required": ["name"], "additionalProperties": false, "properties": {
                        "name": label(dns),
                        "version": semver(),
                        "contractId": merge(text(MAX_CONTRACT_ID_CHARS), json!({"minLength": 1, "description": "The contract of the output port it reads: lineage."}))}}},
                "outputPorts": {"type": "array", "uniqueItems": true, "maxItems": MAX_OUTPUT_PORTS, "description": unique,
                    "items": {"type": "object", "required": ["name", "type"], "additionalProperties": false, "properties": {
                        "name": label(dns),
                        "type": {"enum": crate::catalog::PORT_TYPES},
                        "version": semver(),
                        "endpoint": remote_url(),
                        "contract": {"type": "object", "required": ["id"], "additionalProperties": false, "properties": {
                            "id": merge(text(MAX_CONTRACT_ID_CHARS), json!({"minLength": 1})),
                            "version": semver(),
                            "url": remote_url()}}}}},
                "widgets": {"type": "array", "uniqueItems": true, "maxItems": MAX_WIDGETS, "description": unique,
                    "items": {"type": "object", "required": ["name", "tag"], "additionalProperties": false, "properties": {
                        "name": label(dns),
                        "tag": {"type": "string", "minLength": 1, "maxLength": MAX_TAG_LEN, "pattern": format!("^{}$", tag_pattern())},
                        "attributes": attributes(),
                        "registration": {"type": "string", "maxLength": MAX_ID_LEN, "pattern": registration_id_pattern(),
                            "description": "The registry id that serves the widget's bundle."}}}}}},
        "ProductItem": {"type": "object", "required": ["id", "product", "lastUpdated"], "properties": {
            "id": {"type": "string", "pattern": any_product_id_pattern()},
            "product": {"$ref": "#/components/schemas/Product"},
            "lastUpdated": {"type": "string", "format": "date-time"}}}
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::http::endpoints;

    #[test]
    fn every_route_is_documented_and_every_documented_route_exists() {
        let doc = document();
        let documented: BTreeSet<(String, String)> = doc["paths"]
            .as_object()
            .unwrap()
            .iter()
            .flat_map(|(path, item)| {
                item.as_object()
                    .unwrap()
                    .keys()
                    .filter(|k| {
                        matches!(
                            k.as_str(),
                            "get" | "post" | "put" | "delete" | "patch" | "head" | "options"
                        )
                    })
                    .map(move |m| (path.clone(), m.clone()))
            })
            .collect();
        let routed: BTreeSet<(String, String)> = endpoints()
            .iter()
            .map(|e| (e.path.to_owned(), e.verb.as_str().to_owned()))
            .collect();
        assert_eq!(documented, routed);
    }

    /// The text pattern's character class is exactly what `check_text` refuses.
    #[test]
    fn the_text_class_is_what_check_text_refuses() {
        let class: Vec<char> = refused_chars().chars().collect();
        let mut ranges = Vec::new();
        let mut i = 0;
        while i < class.len() {
            if class.get(i + 1) == Some(&'-') && i + 2 < class.len() {
                ranges.push(class[i]..=class[i + 2]);
                i += 3;
            } else {
                ranges.push(class[i]..=class[i]);
                i += 1;
            }
        }
        for c in (0..=char::MAX as u32).filter_map(char::from_u32) {
            let refused = check_text("", c.encode_utf8(&mut [0; 4]), 1).is_err();
            assert_eq!(
                ranges.iter().any(|r| r.contains(&c)),
                refused,
                "U+{:04X}",
                c as u32
            );
        }
    }

    #[test]
    fn every_reference_resolves() {
        let doc = document();
        let text = doc.to_string();
        for part in text.split("\"$ref\":\"").skip(1) {
            let target = &part[..part.find('"').unwrap()];
            let pointer = target.strip_prefix('#').unwrap();
            assert!(doc.pointer(pointer).is_some(), "dangling $ref {target}");
        }
    }
}
