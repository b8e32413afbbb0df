//! Rewrites an OpenAPI document into a canonical form, so that two documents with the same
//! meaning compare equal. poem-openapi rewrites a spec in many cosmetic ways (titles on every
//! schema, `charset` parameters on media types, defaulted parameter styles, floats for integer
//! bounds, allOf wrappers around described refs); none of them change what a client sees.

use serde_json::{Map, Number, Value};

use crate::METHODS;
use crate::pointer::resolve_pointer;

/// Keywords that say nothing about the wire format.
const COSMETIC_KEYS: [&str; 5] = ["title", "example", "examples", "externalDocs", "xml"];

/// Returns the canonical form of a bundled document: `info`, `tags`, `security_schemes` and one
/// entry per operation keyed `METHOD /path`, with every `$ref` dereferenced.
pub fn normalize(doc: &Value) -> Value {
    let mut out = Map::new();
    out.insert("openapi".into(), Value::String(major_minor(doc.get("openapi"))));
    out.insert("info".into(), pick(doc.get("info"), &["title", "version", "description"]));
    out.insert("tags".into(), sorted_by_name(doc.get("tags")));
    let schemes = doc.pointer("/components/securitySchemes").cloned().unwrap_or(Value::Null);
    out.insert("security_schemes".into(), clean(&schemes));
    out.insert("operations".into(), Value::Object(operations(doc)));
    Value::Object(out)
}

fn major_minor(version: Option<&Value>) -> String {
    let version = version.and_then(Value::as_str).unwrap_or_default();
    version.split('.').take(2).collect::<Vec<_>>().join(".")
}

fn pick(value: Option<&Value>, keys: &[&str]) -> Value {
    let mut out = Map::new();
    for key in keys {
        if let Some(v) = value.and_then(|v| v.get(*key)) {
            out.insert((*key).to_string(), v.clone());
        }
    }
    Value::Object(out)
}

fn sorted_by_name(list: Option<&Value>) -> Value {
    let mut items: Vec<Value> = list.and_then(Value::as_array).cloned().unwrap_or_default();
    items.sort_by(|a, b| a.get("name").and_then(Value::as_str).cmp(&b.get("name").and_then(Value::as_str)));
    Value::Array(items.iter().map(|t| pick(Some(t), &["name", "description"])).collect())
}

fn operations(doc: &Value) -> Map<String, Value> {
    let mut out = Map::new();
    let Some(paths) = doc.get("paths").and_then(Value::as_object) else { return out };
    let global_security = doc.get("security").cloned().unwrap_or(Value::Array(vec![]));
    for (path, item) in paths {
        let shared: Vec<Value> = item.get("parameters").and_then(Value::as_array).cloned().unwrap_or_default();
        for method in METHODS {
            let Some(op) = item.get(method) else { continue };
            let key = format!("{} {path}", method.to_uppercase());
            out.insert(key, operation(doc, op, &shared, &global_security));
        }
    }
    out
}

fn operation(doc: &Value, op: &Value, shared: &[Value], global_security: &Value) -> Value {
    let mut out = Map::new();
    for key in ["operationId", "summary", "description"] {
        if let Some(v) = op.get(key) {
            out.insert(key.into(), v.clone());
        }
    }
    let mut tags: Vec<Value> = op.get("tags").and_then(Value::as_array).cloned().unwrap_or_default();
    tags.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
    out.insert("tags".into(), Value::Array(tags));
    out.insert("security".into(), security(op.get("security").unwrap_or(global_security)));
    out.insert("parameters".into(), parameters(doc, shared, op.get("parameters")));
    if let Some(body) = op.get("requestBody") {
        let body = deref(doc, body);
        let mut b = Map::new();
        b.insert("required".into(), Value::Bool(body.get("required").and_then(Value::as_bool).unwrap_or(false)));
        b.insert("content".into(), content(doc, body.get("content")));
        out.insert("requestBody".into(), Value::Object(b));
    }
    out.insert("responses".into(), responses(doc, op.get("responses")));
    if op.get("deprecated").and_then(Value::as_bool) == Some(true) {
        out.insert("deprecated".into(), Value::Bool(true));
    }
    Value::Object(out)
}

/// Effective security as a sorted list of scheme names (an empty list means public).
fn security(requirements: &Value) -> Value {
    let mut names: Vec<String> =
        requirements.as_array().into_iter().flatten().flat_map(|req| req.as_object().into_iter().flat_map(|m| m.keys().cloned())).collect();
    names.sort();
    names.dedup();
    Value::Array(names.into_iter().map(Value::String).collect())
}

/// Path-level and operation-level parameters merged, keyed `<in> <name>` (header names are
/// case-insensitive, so lower-cased).
fn parameters(doc: &Value, shared: &[Value], own: Option<&Value>) -> Value {
    let mut merged = Map::new();
    let own: Vec<Value> = own.and_then(Value::as_array).cloned().unwrap_or_default();
    for param in shared.iter().chain(own.iter()) {
        let param = parameter(doc, &deref(doc, param));
        let location = param.get("in").and_then(Value::as_str).unwrap_or_default();
        let name = param.get("name").and_then(Value::as_str).unwrap_or_default();
        merged.insert(format!("{location} {name}"), param);
    }
    Value::Object(sort_map(merged))
}

fn parameter(doc: &Value, param: &Value) -> Value {
    let mut out = Map::new();
    let location = param.get("in").and_then(Value::as_str).unwrap_or("");
    for key in ["name", "in", "description"] {
        if let Some(v) = param.get(key) {
            let v = if key == "name" && location == "header" { lowercase(v) } else { v.clone() };
            out.insert(key.into(), v);
        }
    }
    let required = param.get("required").and_then(Value::as_bool).unwrap_or(false) || location == "path";
    out.insert("required".into(), Value::Bool(required));
    if let Some(schema) = param.get("schema") {
        out.insert("schema".into(), schema_of(doc, schema, &mut Vec::new()));
    }
    Value::Object(out)
}

fn lowercase(v: &Value) -> Value {
    v.as_str().map(|s| Value::String(s.to_lowercase())).unwrap_or_else(|| v.clone())
}

fn responses(doc: &Value, responses: Option<&Value>) -> Value {
    let mut out = Map::new();
    let Some(responses) = responses.and_then(Value::as_object) else { return Value::Object(out) };
    for (status, response) in responses {
        let response = deref(doc, response);
        let mut r = Map::new();
        if let Some(d) = response.get("description") {
            r.insert("description".into(), d.clone());
        }
        let mut headers = Map::new();
        for (name, header) in response.get("headers").and_then(Value::as_object).into_iter().flatten() {
            let header = deref(doc, header);
            let schema = header.get("schema").map(|s| schema_of(doc, s, &mut Vec::new())).unwrap_or(Value::Null);
            headers.insert(name.to_lowercase(), schema);
        }
        if !headers.is_empty() {
            r.insert("headers".into(), Value::Object(sort_map(headers)));
        }
        let content = content(doc, response.get("content"));
        if content.as_object().is_some_and(|c| !c.is_empty()) {
            r.insert("content".into(), content);
        }
        out.insert(status.clone(), Value::Object(r));
    }
    Value::Object(sort_map(out))
}

fn content(doc: &Value, content: Option<&Value>) -> Value {
    let mut out = Map::new();
    for (media_type, body) in content.and_then(Value::as_object).into_iter().flatten() {
        let essence = media_type.split(';').next().unwrap_or(media_type).trim().to_lowercase();
        let schema = body.get("schema").map(|s| schema_of(doc, s, &mut Vec::new())).unwrap_or(Value::Null);
        out.insert(essence, schema);
    }
    Value::Object(sort_map(out))
}

/// Follows a local `$ref` (to any component) once.
fn deref(doc: &Value, node: &Value) -> Value {
    match node.get("$ref").and_then(Value::as_str).and_then(|r| r.strip_prefix('#')) {
        Some(pointer) => resolve_pointer(doc, pointer).map(|v| deref(doc, v)).unwrap_or_else(|| node.clone()),
        None => node.clone(),
    }
}

/// The canonical form of a schema: refs dereferenced (a ref back into a schema being expanded
/// stays a ref, named), allOf flattened, cosmetic keys and defaulted keywords dropped.
fn schema_of(doc: &Value, schema: &Value, expanding: &mut Vec<String>) -> Value {
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        let name = reference.rsplit('/').next().unwrap_or(reference).to_string();
        if expanding.contains(&name) {
            return Value::Object(Map::from_iter([("$ref".to_string(), Value::String(name))]));
        }
        let Some(target) = reference.strip_prefix('#').and_then(|p| resolve_pointer(doc, p)) else {
            return schema.clone();
        };
        expanding.push(name);
        let out = schema_of(doc, target, expanding);
        expanding.pop();
        return out;
    }
    let Some(map) = schema.as_object() else { return schema.clone() };
    let mut out = Map::new();
    if let Some(Value::Array(parts)) = map.get("allOf") {
        for part in parts {
            if let Value::Object(part) = schema_of(doc, part, expanding) {
                merge_into(&mut out, part);
            }
        }
    }
    for (key, value) in map {
        if key == "allOf" || COSMETIC_KEYS.contains(&key.as_str()) || is_default_keyword(key, value) {
            continue;
        }
        let value = match key.as_str() {
            "properties" => Value::Object(sort_map(
                value.as_object().into_iter().flatten().map(|(k, v)| (k.clone(), schema_of(doc, v, expanding))).collect(),
            )),
            "items" | "not" => schema_of(doc, value, expanding),
            "additionalProperties" => match value {
                Value::Object(m) if m.is_empty() => Value::Bool(true),
                Value::Object(_) => schema_of(doc, value, expanding),
                other => other.clone(),
            },
            "required" | "enum" => sorted(value),
            _ => canonical_number(value),
        };
        out.insert(key.clone(), value);
    }
    Value::Object(sort_map(out))
}

fn merge_into(out: &mut Map<String, Value>, part: Map<String, Value>) {
    for (key, value) in part {
        match (out.get_mut(&key), value) {
            (Some(Value::Object(existing)), Value::Object(more)) => existing.extend(more),
            (Some(Value::Array(existing)), Value::Array(more)) => {
                existing.extend(more);
                let merged = sorted(&Value::Array(std::mem::take(existing)));
                *existing = merged.as_array().cloned().unwrap_or_default();
            }
            (_, value) => {
                out.insert(key, value);
            }
        }
    }
}

/// Keywords whose value is the OpenAPI default and so means nothing.
fn is_default_keyword(key: &str, value: &Value) -> bool {
    matches!(
        (key, value),
        ("nullable" | "readOnly" | "writeOnly" | "deprecated" | "uniqueItems", Value::Bool(false))
            | ("additionalProperties", Value::Bool(false))
    )
}

fn sorted(value: &Value) -> Value {
    let mut items = value.as_array().cloned().unwrap_or_default();
    items.sort_by_key(|v| v.to_string());
    items.dedup();
    Value::Array(items)
}

/// `1.0` and `1` are the same bound.
fn canonical_number(value: &Value) -> Value {
    match value.as_f64() {
        Some(f) if value.is_f64() && f.fract() == 0.0 && f.abs() < 9.0e15 => Value::Number(Number::from(f as i64)),
        _ => value.clone(),
    }
}

fn sort_map(map: Map<String, Value>) -> Map<String, Value> {
    let mut entries: Vec<(String, Value)> = map.into_iter().collect();
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    entries.into_iter().collect()
}

fn clean(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(sort_map(
            map.iter().filter(|(k, _)| !COSMETIC_KEYS.contains(&k.as_str())).map(|(k, v)| (k.clone(), clean(v))).collect(),
        )),
        other => other.clone(),
    }
}
