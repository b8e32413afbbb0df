//! Requests made from the contract alone: for any operation, a path, query and body that satisfy
//! its schemas, for probes that run over every operation.

use mit_api::server::runtime::OperationInfo;
use serde_json::{Value, json};

/// The bundled contract.
pub fn bundle() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../api-contract/openapi.bundled.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("the bundled contract")).expect("json")
}

fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(reference) => doc.pointer(reference.trim_start_matches('#')).map(|s| resolve(doc, s)).unwrap_or(schema),
        None => schema,
    }
}

/// A value satisfying `schema`: required properties only, smallest lengths, first enum values.
fn example(doc: &Value, schema: &Value) -> Value {
    let schema = resolve(doc, schema);
    if let Some(first) = schema.get("enum").and_then(|e| e.get(0)) {
        return first.clone();
    }
    match schema.get("type").and_then(Value::as_str) {
        Some("object") => {
            let mut out = serde_json::Map::new();
            for name in schema.get("required").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str) {
                out.insert(name.to_string(), example(doc, &schema["properties"][name]));
            }
            Value::Object(out)
        }
        Some("string") => match schema.get("format").and_then(Value::as_str) {
            Some("uuid") => json!(uuid::Uuid::new_v4()),
            Some("email") => json!("someone@example.com"),
            Some("date-time") => json!("2030-01-01T00:00:00Z"),
            Some("uri") => json!("https://example.com/x"),
            _ => json!("a".repeat(schema.get("minLength").and_then(Value::as_u64).unwrap_or(1).max(1) as usize)),
        },
        Some("integer") => json!(schema.get("minimum").and_then(Value::as_i64).unwrap_or(1)),
        Some("boolean") => json!(false),
        Some("array") => {
            let count = schema.get("minItems").and_then(Value::as_u64).unwrap_or(0) as usize;
            Value::Array((0..count).map(|_| example(doc, &schema["items"])).collect())
        }
        _ => Value::Null,
    }
}

/// A schema-valid request for one operation.
pub struct Probe {
    /// The path with its parameters filled in.
    pub path: String,
    template: String,
    path_params: Vec<(String, String)>,
    /// Required query parameters.
    pub query: Vec<(String, String)>,
    /// The JSON body, when the operation takes one.
    pub body: Option<Value>,
    /// The path parameters that are uuids, by name.
    pub uuid_params: Vec<String>,
    /// The statuses the operation declares.
    pub declared: Vec<u16>,
}

/// A schema-valid request for `op`.
pub fn probe(doc: &Value, op: &OperationInfo) -> Probe {
    let spec = &doc["paths"][op.path][op.method.to_lowercase()];
    let mut probe = Probe {
        path: String::new(),
        template: op.path.to_string(),
        path_params: Vec::new(),
        query: Vec::new(),
        body: None,
        uuid_params: Vec::new(),
        declared: Vec::new(),
    };
    let shared = doc["paths"][op.path].get("parameters").and_then(Value::as_array).into_iter().flatten();
    for param in spec.get("parameters").and_then(Value::as_array).into_iter().flatten().chain(shared) {
        let param = resolve(doc, param);
        let name = param["name"].as_str().unwrap_or_default();
        let value = example(doc, &param["schema"]);
        let text = value.as_str().map(str::to_string).unwrap_or_else(|| value.to_string());
        match param["in"].as_str() {
            Some("path") => {
                probe.path_params.push((name.to_string(), text));
                if resolve(doc, &param["schema"])["format"] == "uuid" {
                    probe.uuid_params.push(name.to_string());
                }
            }
            Some("query") if param["required"] == json!(true) => probe.query.push((name.to_string(), text)),
            _ => {}
        }
    }
    probe.path = probe.path_with(None);
    probe.body = spec.pointer("/requestBody/content/application~1json/schema").map(|schema| example(doc, schema));
    probe.declared = spec["responses"].as_object().into_iter().flatten().filter_map(|(status, _)| status.parse().ok()).collect();
    probe
}

impl Probe {
    /// The path, with `replaced` (a parameter name and a value) put in instead of its example.
    pub fn path_with(&self, replaced: Option<(&str, &str)>) -> String {
        self.path_params.iter().fold(self.template.clone(), |path, (name, value)| {
            let value = match replaced {
                Some((target, other)) if target == name => other,
                _ => value.as_str(),
            };
            path.replace(&format!("{{{name}}}"), value)
        })
    }
}
