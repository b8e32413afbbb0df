//! Keeps the contract inside what the generators support and what `CONVENTIONS.md` promises.
//! Every violation names the source file and the JSON pointer of the offending node.

use std::collections::{BTreeSet, HashSet};
use std::fmt;

use serde_json::{Map, Value};

use crate::METHODS;
use crate::bundle::Bundle;
use crate::pointer::{escape_pointer_token, resolve_pointer};

/// One broken rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Source file and pointer in it, when the node came from a split file.
    pub source: Option<String>,
    /// Pointer in the bundled document.
    pub pointer: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.source {
            Some(source) => write!(f, "{source} (bundle {}): {}", self.pointer, self.message),
            None => write!(f, "openapi.yaml{}: {}", self.pointer, self.message),
        }
    }
}

/// Checks every rule; an empty result means the contract is fit for the generators.
pub fn lint(bundle: &Bundle) -> Vec<Violation> {
    let mut lint = Linter { bundle, doc: &bundle.doc, found: Vec::new() };
    lint.document();
    lint.found
}

struct Linter<'a> {
    bundle: &'a Bundle,
    doc: &'a Value,
    found: Vec<Violation>,
}

/// The keywords an OpenAPI 3.0 schema object may have.
const SCHEMA_KEYWORDS: [&str; 33] = [
    "$ref",
    "type",
    "format",
    "description",
    "title",
    "enum",
    "default",
    "example",
    "nullable",
    "readOnly",
    "writeOnly",
    "deprecated",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "minLength",
    "maxLength",
    "pattern",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "minItems",
    "maxItems",
    "uniqueItems",
    "minProperties",
    "maxProperties",
    "allOf",
    "oneOf",
    "anyOf",
    "not",
];

/// What a schema is used for decides which constraints it must carry.
#[derive(Clone, Copy, PartialEq)]
enum Use {
    Request,
    Response,
}

impl<'a> Linter<'a> {
    fn report(&mut self, pointer: &str, message: impl Into<String>) {
        let source = self.bundle.source_of(pointer).map(str::to_string);
        self.found.push(Violation { source, pointer: pointer.to_string(), message: message.into() });
    }

    fn document(&mut self) {
        let version = self.doc.get("openapi").and_then(Value::as_str).unwrap_or_default();
        if !version.starts_with("3.0.") {
            self.report("/openapi", format!("must be OpenAPI 3.0.x (the generators reject {version:?})"));
        }
        let tags: HashSet<&str> =
            self.doc.get("tags").and_then(Value::as_array).into_iter().flatten().filter_map(|t| t.get("name")?.as_str()).collect();
        let mut operation_ids = HashSet::new();
        let mut request_schemas = BTreeSet::new();
        for (path, item) in self.doc.get("paths").and_then(Value::as_object).into_iter().flatten() {
            let at = format!("/paths/{}", escape_pointer_token(path));
            for method in METHODS {
                if let Some(op) = item.get(method) {
                    let op_at = format!("{at}/{method}");
                    self.operation(path, item, op, &op_at, &tags, &mut operation_ids, &mut request_schemas);
                }
            }
        }
        self.links();
        for (name, schema) in self.doc.pointer("/components/schemas").and_then(Value::as_object).into_iter().flatten() {
            let usage = if request_schemas.contains(name) { Use::Request } else { Use::Response };
            let at = format!("/components/schemas/{}", escape_pointer_token(name));
            self.keywords(&at, schema);
            self.component_schema(&at, schema, usage);
        }
    }

    /// Every response link names an existing operation and only parameters it has.
    fn links(&mut self) {
        let mut parameters: std::collections::HashMap<String, BTreeSet<String>> = std::collections::HashMap::new();
        let mut found = Vec::new();
        for (path, item) in self.doc.get("paths").and_then(Value::as_object).into_iter().flatten() {
            let shared = item.get("parameters").and_then(Value::as_array).cloned().unwrap_or_default();
            for method in METHODS {
                let Some(op) = item.get(method) else { continue };
                let own = op.get("parameters").and_then(Value::as_array).cloned().unwrap_or_default();
                let names = shared
                    .iter()
                    .chain(&own)
                    .filter_map(|p| self.deref(p).get("name").and_then(Value::as_str).map(str::to_string))
                    .collect();
                if let Some(id) = op.get("operationId").and_then(Value::as_str) {
                    parameters.insert(id.to_string(), names);
                }
                for (status, response) in op.get("responses").and_then(Value::as_object).into_iter().flatten() {
                    for (name, link) in response.get("links").and_then(Value::as_object).into_iter().flatten() {
                        let at = format!(
                            "/paths/{}/{method}/responses/{status}/links/{}",
                            escape_pointer_token(path),
                            escape_pointer_token(name)
                        );
                        found.push((at, link.clone()));
                    }
                }
            }
        }
        for (at, link) in found {
            let target = link.get("operationId").and_then(Value::as_str).unwrap_or_default();
            let Some(known) = parameters.get(target) else {
                self.report(&at, format!("link to unknown operation `{target}`"));
                continue;
            };
            for name in link.get("parameters").and_then(Value::as_object).into_iter().flatten().map(|(k, _)| k) {
                if !known.contains(name) {
                    self.report(&at, format!("`{target}` has no parameter `{name}`"));
                }
            }
        }
    }

    /// Every key of a schema must be a schema keyword: a stray key is usually YAML gone wrong
    /// (an unquoted `, ` inside a flow mapping splits a description into a new key).
    fn keywords(&mut self, at: &str, schema: &Value) {
        let Some(map) = schema.as_object() else { return };
        for (key, value) in map {
            if !SCHEMA_KEYWORDS.contains(&key.as_str()) && !key.starts_with("x-") {
                self.report(
                    &format!("{at}/{}", escape_pointer_token(key)),
                    format!("`{key}` is not a schema keyword (quote text containing `, `)"),
                );
            }
            if value.is_null() {
                self.report(&format!("{at}/{}", escape_pointer_token(key)), format!("`{key}` has no value"));
            }
        }
        for (name, property) in map.get("properties").and_then(Value::as_object).into_iter().flatten() {
            self.keywords(&format!("{at}/properties/{}", escape_pointer_token(name)), property);
        }
        for key in ["items", "additionalProperties"] {
            if let Some(inner) = map.get(key).filter(|v| v.is_object()) {
                self.keywords(&format!("{at}/{key}"), inner);
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn operation(
        &mut self,
        path: &str,
        item: &Value,
        op: &Value,
        at: &str,
        tags: &HashSet<&str>,
        operation_ids: &mut HashSet<String>,
        request_schemas: &mut BTreeSet<String>,
    ) {
        match op.get("operationId").and_then(Value::as_str) {
            None => self.report(at, "operation has no operationId"),
            Some(id) if !is_lower_camel(id) => self.report(&format!("{at}/operationId"), format!("`{id}` is not lowerCamelCase")),
            Some(id) if !operation_ids.insert(id.to_string()) => {
                self.report(&format!("{at}/operationId"), format!("operationId `{id}` is not unique"))
            }
            Some(_) => {}
        }
        if op.get("summary").and_then(Value::as_str).is_none_or(str::is_empty) {
            self.report(at, "operation has no summary");
        }
        match op.get("tags").and_then(Value::as_array).map(Vec::as_slice) {
            Some([tag]) if tag.as_str().is_some_and(|t| tags.contains(t)) => {}
            Some([tag]) => self.report(&format!("{at}/tags"), format!("tag {tag} is not declared in the root `tags`")),
            _ => self.report(&format!("{at}/tags"), "operation must have exactly one tag"),
        }
        let params = self.parameters(path, item, op, at);
        let secured = match op.get("security") {
            Some(Value::Array(reqs)) => !reqs.is_empty(),
            Some(_) => {
                self.report(&format!("{at}/security"), "security must be a list");
                true
            }
            None => true,
        };
        let has_body = self.request_body(op, at, request_schemas);
        let statuses: BTreeSet<String> =
            op.get("responses").and_then(Value::as_object).into_iter().flatten().map(|(k, _)| k.clone()).collect();
        let mut need = vec!["500", "503"];
        if secured {
            need.extend(["401", "429"]);
        }
        if has_body {
            need.extend(["400", "413", "422"]);
        }
        if params.any {
            need.push("422");
        }
        if params.path {
            need.push("404");
        }
        for status in need {
            if !statuses.contains(status) {
                self.report(&format!("{at}/responses"), format!("must declare {status} (see CONVENTIONS.md)"));
            }
        }
        self.responses(op, at);
        for name in &params.query_schema_refs {
            request_schemas.insert(name.clone());
        }
    }

    fn parameters(&mut self, path: &str, item: &Value, op: &Value, at: &str) -> ParamSummary {
        let mut summary = ParamSummary::default();
        let template: BTreeSet<String> =
            path.split('/').filter_map(|s| s.strip_prefix('{')?.strip_suffix('}')).map(str::to_string).collect();
        let mut declared_path = BTreeSet::new();
        let lists = [(item.get("parameters"), format!("{}/parameters", parent(at))), (op.get("parameters"), format!("{at}/parameters"))];
        for (list, list_at) in lists {
            for (i, param) in list.and_then(Value::as_array).into_iter().flatten().enumerate() {
                let p_at = format!("{list_at}/{i}");
                let param = self.deref(param);
                let name = param.get("name").and_then(Value::as_str).unwrap_or_default();
                let location = param.get("in").and_then(Value::as_str).unwrap_or_default();
                summary.any = true;
                match location {
                    "path" => {
                        summary.path = true;
                        declared_path.insert(name.to_string());
                    }
                    "query" | "header" => {}
                    other => self.report(&p_at, format!("parameters `in: {other}` are not supported")),
                }
                if location != "header" && !is_snake(name) {
                    self.report(&p_at, format!("parameter `{name}` is not snake_case"));
                }
                match param.get("schema") {
                    Some(schema) => {
                        if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
                            summary.query_schema_refs.push(r.rsplit('/').next().unwrap_or_default().to_string());
                        } else {
                            self.scalar(&format!("{p_at}/schema"), schema, Use::Request);
                        }
                    }
                    None => self.report(&p_at, "parameter has no schema"),
                }
            }
        }
        if template != declared_path {
            self.report(at, format!("path parameters {declared_path:?} do not match the template {template:?}"));
        }
        summary
    }

    fn request_body(&mut self, op: &Value, at: &str, request_schemas: &mut BTreeSet<String>) -> bool {
        let Some(body) = op.get("requestBody") else { return false };
        let body = self.deref(body);
        let content = body.get("content").and_then(Value::as_object);
        match content.map(|c| c.iter().collect::<Vec<_>>()).as_deref() {
            Some([(media, media_type)]) if media.as_str() == "application/json" => {
                match media_type.pointer("/schema/$ref").and_then(Value::as_str) {
                    Some(r) => {
                        self.collect_schema_refs(r, request_schemas);
                    }
                    None => self.report(&format!("{at}/requestBody"), "request body schema must be a $ref to a named schema"),
                }
            }
            _ => self.report(&format!("{at}/requestBody"), "request bodies must be application/json only"),
        }
        true
    }

    /// Marks `reference` and every schema reachable from it as request schemas.
    fn collect_schema_refs(&self, reference: &str, into: &mut BTreeSet<String>) {
        let name = reference.rsplit('/').next().unwrap_or_default().to_string();
        if !into.insert(name) {
            return;
        }
        let Some(schema) = reference.strip_prefix('#').and_then(|p| resolve_pointer(self.doc, p)) else { return };
        let mut refs = Vec::new();
        find_refs(schema, &mut refs);
        for r in refs {
            self.collect_schema_refs(&r, into);
        }
    }

    fn responses(&mut self, op: &Value, at: &str) {
        let Some(responses) = op.get("responses").and_then(Value::as_object) else {
            self.report(at, "operation has no responses");
            return;
        };
        let mut success_content: Option<Value> = None;
        for (status, response) in responses {
            let r_at = format!("{at}/responses/{status}");
            if status == "default" {
                self.report(&r_at, "no `default` responses: declare each status");
                continue;
            }
            let response = self.deref(response);
            let content = response.get("content").cloned().unwrap_or(Value::Null);
            if status.starts_with('2') {
                self.success_content(&r_at, &content);
                match &success_content {
                    None => success_content = Some(content),
                    Some(first) if *first != content => self.report(&r_at, "all 2xx responses of an operation must share one schema"),
                    Some(_) => {}
                }
            } else if !is_error_content(&content) {
                self.report(&r_at, "every non-2xx response must be application/json ErrorResponse");
            }
        }
    }

    fn success_content(&mut self, at: &str, content: &Value) {
        for (media, body) in content.as_object().into_iter().flatten() {
            let schema = body.get("schema").cloned().unwrap_or(Value::Null);
            let binary = schema.get("type").and_then(Value::as_str) == Some("string")
                && schema.get("format").and_then(Value::as_str) == Some("binary");
            if media == "application/json" {
                if schema.get("$ref").is_none() {
                    self.report(at, "JSON response schemas must be a $ref to a named schema");
                }
            } else if !binary {
                self.report(at, format!("`{media}` responses must be binary (type string, format binary)"));
            }
        }
    }

    fn component_schema(&mut self, at: &str, schema: &Value, usage: Use) {
        self.no_composition(at, schema);
        match schema.get("type").and_then(Value::as_str) {
            Some("object") => self.object(at, schema, usage),
            Some("string") if schema.get("enum").is_some() => {}
            Some("string" | "integer" | "boolean" | "array") => self.property(at, schema, usage),
            other => self.report(at, format!("component schemas must be objects or string enums, not {other:?}")),
        }
    }

    fn object(&mut self, at: &str, schema: &Value, usage: Use) {
        let empty = Map::new();
        let properties = schema.get("properties").and_then(Value::as_object).unwrap_or(&empty);
        let required: Vec<&str> =
            schema.get("required").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
        for name in &required {
            if !properties.contains_key(*name) {
                self.report(&format!("{at}/required"), format!("`{name}` is required but not a property"));
            }
        }
        if schema.get("additionalProperties").is_some_and(|v| v != &Value::Bool(false)) {
            self.report(at, "only free-form `details` objects may have additionalProperties");
        }
        for (name, property) in properties {
            let p_at = format!("{at}/properties/{}", escape_pointer_token(name));
            if !is_snake(name) {
                self.report(&p_at, format!("property `{name}` is not snake_case"));
            }
            let is_required = required.contains(&name.as_str());
            if is_required && property.get("nullable") == Some(&Value::Bool(true)) {
                self.report(&p_at, "a required property cannot be nullable");
            }
            if is_required && property.get("default").is_some() {
                self.report(&p_at, "a required property cannot have a default");
            }
            if property.get("nullable") == Some(&Value::Bool(true)) && usage == Use::Response {
                self.report(&p_at, "response properties are omitted when absent, never nullable");
            }
            self.no_composition(&p_at, property);
            let free_form = property.get("type").and_then(Value::as_str) == Some("object")
                && property.get("properties").is_none()
                && property.get("additionalProperties") == Some(&Value::Bool(true));
            if !free_form {
                self.property(&p_at, property, usage);
            }
        }
    }

    fn property(&mut self, at: &str, schema: &Value, usage: Use) {
        if schema.get("$ref").is_some() {
            return;
        }
        match schema.get("type").and_then(Value::as_str) {
            Some("array") => {
                if usage == Use::Request && schema.get("maxItems").is_none() {
                    self.report(at, "request arrays need maxItems");
                }
                match schema.get("items") {
                    Some(items) if items.get("$ref").is_some() => {}
                    Some(items) => self.scalar(&format!("{at}/items"), items, usage),
                    None => self.report(at, "arrays need items"),
                }
            }
            _ => self.scalar(at, schema, usage),
        }
    }

    fn scalar(&mut self, at: &str, schema: &Value, usage: Use) {
        if schema.get("enum").is_some() {
            self.report(at, "enums must be named schemas");
        }
        let format = schema.get("format").and_then(Value::as_str);
        match schema.get("type").and_then(Value::as_str) {
            Some("string") => {
                let bounded_by_format = matches!(format, Some("uuid" | "date-time" | "date"));
                if usage == Use::Request && !bounded_by_format && schema.get("maxLength").is_none() {
                    self.report(at, "request strings need maxLength");
                }
            }
            Some("integer") => {
                if !matches!(format, Some("int32" | "int64")) {
                    self.report(at, "integers need format int32 or int64");
                }
                if usage == Use::Request && (schema.get("minimum").is_none() || schema.get("maximum").is_none()) {
                    self.report(at, "request integers need minimum and maximum");
                }
            }
            Some("boolean") => {}
            Some("object") => self.report(at, "inline objects must be named schemas"),
            other => self.report(at, format!("type {other:?} is not supported (string, integer, boolean, array)")),
        }
    }

    fn no_composition(&mut self, at: &str, schema: &Value) {
        for key in ["allOf", "oneOf", "anyOf", "not"] {
            if schema.get(key).is_some() {
                self.report(at, format!("`{key}` is not supported"));
            }
        }
    }

    fn deref(&self, node: &Value) -> Value {
        match node.get("$ref").and_then(Value::as_str).and_then(|r| r.strip_prefix('#')) {
            Some(pointer) => resolve_pointer(self.doc, pointer).cloned().unwrap_or(Value::Null),
            None => node.clone(),
        }
    }
}

#[derive(Default)]
struct ParamSummary {
    any: bool,
    path: bool,
    query_schema_refs: Vec<String>,
}

fn is_error_content(content: &Value) -> bool {
    content.as_object().is_some_and(|c| {
        c.len() == 1
            && c.get("application/json").and_then(|m| m.pointer("/schema/$ref")).and_then(Value::as_str)
                == Some("#/components/schemas/ErrorResponse")
    })
}

fn find_refs(node: &Value, out: &mut Vec<String>) {
    match node {
        Value::Object(map) => {
            if let Some(r) = map.get("$ref").and_then(Value::as_str) {
                out.push(r.to_string());
            }
            map.values().for_each(|v| find_refs(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| find_refs(v, out)),
        _ => {}
    }
}

fn parent(pointer: &str) -> &str {
    pointer.rsplit_once('/').map_or("", |(head, _)| head)
}

fn is_lower_camel(s: &str) -> bool {
    s.chars().next().is_some_and(|c| c.is_ascii_lowercase()) && s.chars().all(|c| c.is_ascii_alphanumeric())
}

fn is_snake(s: &str) -> bool {
    s.chars().next().is_some_and(|c| c.is_ascii_lowercase()) && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}
