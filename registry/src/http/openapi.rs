//! The OpenAPI 3.1 document served at `/openapi.json`, written by hand to describe the
//! routes in [`crate::http::endpoints`]; a test holds the two to the same set of paths and
//! methods.

use serde_json::{Value, json};

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

fn id_param(description: &str) -> Value {
    json!({"name": "id", "in": "path", "required": true, "description": description,
           "schema": {"type": "string", "maxLength": 128}})
}

fn watch_params() -> Value {
    json!([
        {"name": "index", "in": "query", "required": false,
         "description": "Blocking query: answer once the collection's change index differs from this value (or after `wait`).",
         "schema": {"type": "integer", "minimum": 0}},
        {"name": "wait", "in": "query", "required": false,
         "description": "How long a blocking query may wait: seconds or a duration such as `30s`, `5m` (default 60s, at most 5m).",
         "schema": {"type": "string"}}
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
    );
    let product_id =
        id_param("The product id, or its DPDS URN `urn:dpds:<mesh>:dataproducts:<name>:<major>`.");
    let meta = json!({

            "/health": {"get": {"summary": "Liveness.", "security": [],
                "responses": {"200": {"description": "The process is up.", "content": {"application/json": {"schema": {"type": "object", "properties": {"status": {"const": "ok"}}}}}}}}},
            "/ready": {"get": {"summary": "Readiness: the database answers.", "security": [],
                "responses": {"200": {"description": "Ready.", "content": {"application/json": {"schema": {"type": "object", "properties": {"status": {"const": "ready"}}}}}},
                              "503": error_response("The database is not reachable.")}}},
            "/metrics": {"get": {"summary": "Prometheus metrics.", "security": [],
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
    json!({

                "Error": {"type": "object", "required": ["error", "message"], "properties": {
                    "error": {"type": "string", "description": "A stable code: invalid_json, invalid_body, invalid_id, invalid_path, invalid_query, unsupported_media_type, payload_too_large, unauthorized, forbidden, not_found, no_route, method_not_allowed, capacity, unavailable, too_many_watchers, not_ready, internal."},
                    "message": {"type": "string", "description": "For people; for a missing registration exactly `Not Found`, as idea-lab answered."}}},
                "Element": {"type": "object", "required": ["tag"], "additionalProperties": false, "properties": {
                    "tag": {"type": "string", "maxLength": 64, "pattern": "^[a-z][a-z0-9._-]*$", "description": "A valid custom element name (ASCII, with a hyphen, not reserved)."},
                    "attributes": {"type": "object", "maxProperties": 32, "additionalProperties": {"type": "string", "maxLength": 1024},
                        "description": "Plain attributes: lowercase names, no event handlers (on*), style, srcdoc, formaction or xmlns; no javascript:/vbscript:/data: values."}}},
                "WebComponent": {"type": "object", "required": ["jsUrl"], "additionalProperties": false, "properties": {
                    "jsUrl": {"type": "string", "format": "uri", "maxLength": 2048, "description": "Absolute http(s) URL without credentials."},
                    "cssUrl": {"type": "string", "format": "uri", "maxLength": 2048},
                    "componentId": {"type": "string", "maxLength": 4096, "description": "idea-lab markup: exactly one empty custom element with plain attributes. Give this or `element`."},
                    "element": {"$ref": "#/components/schemas/Element"}}},
                "Service": {"type": "object", "additionalProperties": false, "properties": {
                    "webComponent": {"$ref": "#/components/schemas/WebComponent"},
                    "label": {"type": "string", "maxLength": 256},
                    "tags": {"type": "object", "maxProperties": 32, "additionalProperties": {"type": "string", "maxLength": 256}},
                    "ttlSeconds": {"type": "integer", "minimum": 1, "description": "This registration's TTL, within the server's bounds."}}},
                "Registration": {"type": "object", "required": ["service", "lastUpdated", "ttlSeconds", "stale"], "properties": {
                    "service": {"$ref": "#/components/schemas/Service"},
                    "lastUpdated": {"type": "string", "format": "date-time", "description": "UTC with microseconds, e.g. 2023-10-21T20:53:53.893639Z."},
                    "ttlSeconds": {"type": "number"},
                    "stale": {"type": "boolean", "description": "No heartbeat within the TTL; evicted after the grace period."},
                    "widget": {"$ref": "#/components/schemas/Element"}}},
                "RegistrationItem": {"allOf": [{"$ref": "#/components/schemas/Registration"},
                    {"type": "object", "required": ["id"], "properties": {"id": {"type": "string"}}}]}
    })
}

fn product_schemas() -> Value {
    json!({
                "Product": {"type": "object", "required": ["domain", "owner", "version", "status"], "additionalProperties": false, "properties": {
                    "id": {"type": "string", "description": "If given, equal to the id in the path."},
                    "name": {"type": "string", "maxLength": 63},
                    "domain": {"type": "string", "maxLength": 63},
                    "owner": {"type": "string", "maxLength": 63},
                    "version": {"type": "string", "description": "Semantic version; its major must match a URN id's."},
                    "status": {"enum": crate::catalog::STATUSES},
                    "description": {"type": "string", "maxLength": 2048},
                    "inputPorts": {"type": "array", "maxItems": 64, "items": {"type": "object", "required": ["name"], "additionalProperties": false, "properties": {
                        "name": {"type": "string", "maxLength": 63},
                        "version": {"type": "string"},
                        "contractId": {"type": "string", "maxLength": 256, "description": "The contract of the output port it reads: lineage."}}}},
                    "outputPorts": {"type": "array", "maxItems": 64, "items": {"type": "object", "required": ["name", "type"], "additionalProperties": false, "properties": {
                        "name": {"type": "string", "maxLength": 63},
                        "type": {"enum": crate::catalog::PORT_TYPES},
                        "version": {"type": "string"},
                        "endpoint": {"type": "string", "format": "uri", "maxLength": 2048},
                        "contract": {"type": "object", "required": ["id"], "additionalProperties": false, "properties": {
                            "id": {"type": "string", "maxLength": 256}, "version": {"type": "string"}, "url": {"type": "string", "format": "uri"}}}}}},
                    "widgets": {"type": "array", "maxItems": 32, "items": {"type": "object", "required": ["name", "tag"], "additionalProperties": false, "properties": {
                        "name": {"type": "string", "maxLength": 63},
                        "tag": {"type": "string"},
                        "attributes": {"type": "object", "additionalProperties": {"type": "string"}},
                        "registration": {"type": "string", "description": "The registry id that serves the widget's bundle."}}}}}},
                "ProductItem": {"type": "object", "required": ["id", "product", "lastUpdated"], "properties": {
                    "id": {"type": "string"},
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
