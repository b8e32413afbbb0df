//! Breaking-change rules between two versions of the contract, after oasdiff's core checks: what
//! an existing client (a progenitor client validates responses too) would trip over.

use std::fmt;

use serde_json::{Map, Value};

use crate::normalize::normalize;
use crate::pointer::escape_pointer_token;

/// How bad a change is for existing clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Existing clients may break; fails the check.
    Error,
    /// Worth a look; does not fail the check.
    Warning,
}

/// One change between the base and the head contract.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BreakingChange {
    /// How bad it is.
    pub severity: Severity,
    /// Where, in the normalised form.
    pub pointer: String,
    /// What changed, in words.
    pub message: String,
}

impl fmt::Display for BreakingChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{level}: {}: {}", self.pointer, self.message)
    }
}

/// Every change from `base` to `head` (both bundled documents) that matters to existing clients.
pub fn breaking_changes(base: &Value, head: &Value) -> Vec<BreakingChange> {
    let (base, head) = (normalize(base), normalize(head));
    let mut rules = Rules::default();
    let empty = Map::new();
    let head_ops = head.get("operations").and_then(Value::as_object).unwrap_or(&empty);
    for (key, base_op) in base.get("operations").and_then(Value::as_object).unwrap_or(&empty) {
        let at = format!("/operations/{}", escape_pointer_token(key));
        match head_ops.get(key) {
            None => rules.error(&at, "endpoint removed"),
            Some(head_op) => rules.operation(&at, base_op, head_op),
        }
    }
    rules.found
}

#[derive(Clone, Copy, PartialEq)]
enum Direction {
    Request,
    Response,
}

#[derive(Default)]
struct Rules {
    found: Vec<BreakingChange>,
}

impl Rules {
    fn error(&mut self, at: &str, message: impl Into<String>) {
        self.found.push(BreakingChange { severity: Severity::Error, pointer: at.to_string(), message: message.into() });
    }

    fn warning(&mut self, at: &str, message: impl Into<String>) {
        self.found.push(BreakingChange { severity: Severity::Warning, pointer: at.to_string(), message: message.into() });
    }

    fn operation(&mut self, at: &str, base: &Value, head: &Value) {
        let is_public = |op: &Value| op.get("security").and_then(Value::as_array).is_none_or(Vec::is_empty);
        if is_public(base) && !is_public(head) {
            self.error(&format!("{at}/security"), "security requirement added");
        }
        self.parameters(at, base, head);
        self.request_body(at, base, head);
        self.responses(at, base, head);
    }

    fn parameters(&mut self, at: &str, base: &Value, head: &Value) {
        let empty = Map::new();
        let base_params = base.get("parameters").and_then(Value::as_object).unwrap_or(&empty);
        let head_params = head.get("parameters").and_then(Value::as_object).unwrap_or(&empty);
        for (key, head_param) in head_params {
            let p_at = format!("{at}/parameters/{}", escape_pointer_token(key));
            let required = |p: &Value| p.get("required").and_then(Value::as_bool).unwrap_or(false);
            match base_params.get(key) {
                None if required(head_param) => self.error(&p_at, "new required parameter"),
                None => {}
                Some(base_param) => {
                    if required(head_param) && !required(base_param) {
                        self.error(&p_at, "parameter became required");
                    }
                    let (b, h) = (base_param.get("schema"), head_param.get("schema"));
                    if let (Some(b), Some(h)) = (b, h) {
                        self.schema(&format!("{p_at}/schema"), b, h, Direction::Request);
                    }
                }
            }
        }
        for key in base_params.keys().filter(|k| !head_params.contains_key(*k)) {
            self.warning(&format!("{at}/parameters/{}", escape_pointer_token(key)), "parameter removed");
        }
    }

    fn request_body(&mut self, at: &str, base: &Value, head: &Value) {
        let b_at = format!("{at}/requestBody");
        match (base.get("requestBody"), head.get("requestBody")) {
            (None, Some(h)) if h.get("required") == Some(&Value::Bool(true)) => self.error(&b_at, "new required request body"),
            (Some(b), Some(h)) => {
                if h.get("required") == Some(&Value::Bool(true)) && b.get("required") != Some(&Value::Bool(true)) {
                    self.error(&b_at, "request body became required");
                }
                self.content(&format!("{b_at}/content"), b.get("content"), h.get("content"), Direction::Request);
            }
            _ => {}
        }
    }

    fn responses(&mut self, at: &str, base: &Value, head: &Value) {
        let empty = Map::new();
        let head_responses = head.get("responses").and_then(Value::as_object).unwrap_or(&empty);
        for (status, base_response) in base.get("responses").and_then(Value::as_object).unwrap_or(&empty) {
            let r_at = format!("{at}/responses/{status}");
            match head_responses.get(status) {
                None if status.starts_with('2') => self.error(&r_at, "success status removed"),
                None => self.warning(&r_at, "error status no longer documented"),
                Some(head_response) => self.content(
                    &format!("{r_at}/content"),
                    base_response.get("content"),
                    head_response.get("content"),
                    Direction::Response,
                ),
            }
        }
        for status in head_responses.keys().filter(|s| s.starts_with('2')) {
            if base.get("responses").and_then(|r| r.get(status)).is_none() {
                self.warning(&format!("{at}/responses/{status}"), "new success status");
            }
        }
    }

    fn content(&mut self, at: &str, base: Option<&Value>, head: Option<&Value>, direction: Direction) {
        let empty = Map::new();
        let base = base.and_then(Value::as_object).unwrap_or(&empty);
        let head = head.and_then(Value::as_object).unwrap_or(&empty);
        for (media, base_schema) in base {
            let m_at = format!("{at}/{}", escape_pointer_token(media));
            match head.get(media) {
                None => self.error(&m_at, "media type removed"),
                Some(head_schema) => self.schema(&m_at, base_schema, head_schema, direction),
            }
        }
    }

    fn schema(&mut self, at: &str, base: &Value, head: &Value, direction: Direction) {
        if base == head {
            return;
        }
        for key in ["type", "format"] {
            if base.get(key) != head.get(key) {
                self.error(&format!("{at}/{key}"), format!("{key} changed from {} to {}", show(base.get(key)), show(head.get(key))));
            }
        }
        self.nullable(at, base, head, direction);
        self.bounds(at, base, head, direction);
        self.enum_values(at, base, head, direction);
        self.properties(at, base, head, direction);
        if let (Some(b), Some(h)) = (base.get("items"), head.get("items")) {
            self.schema(&format!("{at}/items"), b, h, direction);
        }
    }

    fn nullable(&mut self, at: &str, base: &Value, head: &Value, direction: Direction) {
        let nullable = |s: &Value| s.get("nullable") == Some(&Value::Bool(true));
        match direction {
            Direction::Request if nullable(base) && !nullable(head) => self.error(at, "request value no longer nullable"),
            Direction::Response if !nullable(base) && nullable(head) => self.error(at, "response value became nullable"),
            _ => {}
        }
    }

    /// A request constraint may only loosen, a response constraint only tighten.
    fn bounds(&mut self, at: &str, base: &Value, head: &Value, direction: Direction) {
        const UPPER: [&str; 4] = ["maxLength", "maxItems", "maximum", "maxProperties"];
        const LOWER: [&str; 4] = ["minLength", "minItems", "minimum", "minProperties"];
        let number = |s: &Value, k: &str| s.get(k).and_then(Value::as_f64);
        for (keys, tighter) in [(UPPER, (|b: f64, h: f64| h < b) as fn(f64, f64) -> bool), (LOWER, |b, h| h > b)] {
            for key in keys {
                let (b, h) = (number(base, key), number(head, key));
                let tightened = match (b, h) {
                    (None, Some(_)) => true,
                    (Some(b), Some(h)) => tighter(b, h),
                    _ => false,
                };
                let loosened = match (b, h) {
                    (Some(_), None) => true,
                    (Some(b), Some(h)) => tighter(h, b),
                    _ => false,
                };
                let k_at = format!("{at}/{key}");
                let (b, h) = (show(base.get(key)), show(head.get(key)));
                if direction == Direction::Request && tightened {
                    self.error(&k_at, format!("request constraint {key} tightened from {b} to {h}"));
                }
                if direction == Direction::Response && loosened {
                    self.error(&k_at, format!("response constraint {key} loosened from {b} to {h}"));
                }
            }
        }
        if base.get("pattern") != head.get("pattern") {
            match direction {
                Direction::Request if head.get("pattern").is_some() => self.error(&format!("{at}/pattern"), "request pattern changed"),
                Direction::Response if base.get("pattern").is_some() => self.error(&format!("{at}/pattern"), "response pattern changed"),
                _ => {}
            }
        }
    }

    fn enum_values(&mut self, at: &str, base: &Value, head: &Value, direction: Direction) {
        let values = |s: &Value| s.get("enum").and_then(Value::as_array).cloned().unwrap_or_default();
        let (b, h) = (values(base), values(head));
        if b.is_empty() && h.is_empty() {
            return;
        }
        let e_at = format!("{at}/enum");
        match direction {
            Direction::Request => {
                for removed in b.iter().filter(|v| !h.contains(v)) {
                    self.error(&e_at, format!("request enum value {removed} removed"));
                }
                if b.is_empty() {
                    self.error(&e_at, "request value restricted to an enum");
                }
            }
            // A client that took any string takes an enum's values too: only a value added to an
            // enum it already knew may surprise it (a closed generated enum rejects it), which is
            // how open lists such as `ErrorCode` grow, so it is worth a look but not breaking.
            Direction::Response if b.is_empty() => {
                self.warning(&e_at, format!("response value restricted to an enum of {} values", h.len()));
            }
            Direction::Response => {
                for added in h.iter().filter(|v| !b.contains(v)) {
                    self.warning(&e_at, format!("response enum value {added} added"));
                }
            }
        }
    }

    fn properties(&mut self, at: &str, base: &Value, head: &Value, direction: Direction) {
        let empty = Map::new();
        let props = |s: &Value| s.get("properties").and_then(Value::as_object).cloned().unwrap_or_else(|| empty.clone());
        let required =
            |s: &Value, name: &str| s.get("required").and_then(Value::as_array).is_some_and(|r| r.iter().any(|v| v.as_str() == Some(name)));
        let (base_props, head_props) = (props(base), props(head));
        for (name, head_prop) in &head_props {
            let p_at = format!("{at}/properties/{}", escape_pointer_token(name));
            match base_props.get(name) {
                None if direction == Direction::Request && required(head, name) => self.error(&p_at, "new required request property"),
                None => {}
                Some(base_prop) => {
                    if direction == Direction::Request && required(head, name) && !required(base, name) {
                        self.error(&p_at, "request property became required");
                    }
                    if direction == Direction::Response && required(base, name) && !required(head, name) {
                        self.error(&p_at, "response property became optional");
                    }
                    self.schema(&p_at, base_prop, head_prop, direction);
                }
            }
        }
        for name in base_props.keys().filter(|n| !head_props.contains_key(*n)) {
            let p_at = format!("{at}/properties/{}", escape_pointer_token(name));
            match direction {
                Direction::Response => self.error(&p_at, "response property removed"),
                Direction::Request => self.warning(&p_at, "request property removed"),
            }
        }
    }
}

fn show(value: Option<&Value>) -> String {
    value.map_or_else(|| "(none)".to_string(), Value::to_string)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// A one-operation document whose 409 body has `error` as `error_schema`.
    fn doc(version: &str, error_schema: Value) -> Value {
        json!({
            "openapi": "3.0.3",
            "info": {"title": "t", "version": version},
            "paths": {"/x": {"get": {
                "operationId": "getX",
                "responses": {
                    "204": {"description": "ok"},
                    "409": {"description": "conflict", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}}}
                }
            }}},
            "components": {"schemas": {
                "ErrorResponse": {"type": "object", "required": ["error"], "properties": {"error": {"$ref": "#/components/schemas/ErrorCode"}}},
                "ErrorCode": error_schema
            }}
        })
    }

    #[test]
    fn a_free_response_string_becoming_an_enum_is_a_warning_only() {
        let base = doc("0.2.0", json!({"type": "string"}));
        let head = doc("0.2.0", json!({"type": "string", "enum": ["conflict", "stale"]}));
        let changes = breaking_changes(&base, &head);
        assert!(changes.iter().all(|c| c.severity == Severity::Warning), "{changes:?}");
        assert_eq!(changes.len(), 1, "{changes:?}");
    }

    #[test]
    fn a_value_added_to_a_response_enum_is_a_warning_and_one_removed_from_a_request_enum_an_error() {
        let base = doc("0.2.0", json!({"type": "string", "enum": ["conflict"]}));
        let head = doc("0.2.0", json!({"type": "string", "enum": ["conflict", "stale"]}));
        let changes = breaking_changes(&base, &head);
        assert_eq!(changes.len(), 1, "{changes:?}");
        assert_eq!(changes[0].severity, Severity::Warning);
        assert!(changes[0].message.contains("\"stale\" added"), "{changes:?}");
        let mut rules = Rules::default();
        rules.enum_values("/x", &json!({"enum": ["a", "b"]}), &json!({"enum": ["a"]}), Direction::Request);
        assert_eq!(rules.found.iter().map(|c| c.severity).collect::<Vec<_>>(), [Severity::Error]);
    }
}
