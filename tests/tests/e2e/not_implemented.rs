//! Operations without an implementation answer 501 `not_implemented` through the generated path.
//! `tests/not-implemented.txt` lists exactly which; it may only shrink.

use std::collections::BTreeSet;

use mit_api::server::OPERATIONS;
use mit_tests::TestApp;
use serde_json::{Value, json};

use crate::http;

fn listed() -> BTreeSet<String> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/not-implemented.txt");
    let text = std::fs::read_to_string(path).expect("tests/not-implemented.txt");
    text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).map(str::to_string).collect()
}

fn bundle() -> Value {
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

#[tokio::test(flavor = "multi_thread")]
async fn exactly_the_listed_operations_answer_501() {
    let app = TestApp::spawn().await;
    let user = app.register("Prober").await;
    let doc = bundle();
    let mut operations: Vec<_> = OPERATIONS.iter().collect();
    // Signing out would end the prober's session for the operations after it.
    operations.sort_by_key(|op| op.id == "logout");
    let mut answering_501 = BTreeSet::new();
    for op in operations {
        let spec = &doc["paths"][op.path][op.method.to_lowercase()];
        let mut path = op.path.to_string();
        let mut query = Vec::new();
        for param in spec
            .get("parameters")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .chain(doc["paths"][op.path].get("parameters").and_then(Value::as_array).into_iter().flatten())
        {
            let param = resolve(&doc, param);
            let name = param["name"].as_str().unwrap_or_default();
            let value = example(&doc, &param["schema"]);
            let text = value.as_str().map(str::to_string).unwrap_or_else(|| value.to_string());
            match param["in"].as_str() {
                Some("path") => path = path.replace(&format!("{{{name}}}"), &text),
                Some("query") if param["required"] == json!(true) => query.push((name.to_string(), text)),
                _ => {}
            }
        }
        let method = reqwest::Method::from_bytes(op.method.as_bytes()).expect("method");
        let mut request = http().request(method, app.url(&path)).query(&query);
        if op.secured {
            request = request.bearer_auth(&user.access_token);
        }
        if let Some(schema) = spec.pointer("/requestBody/content/application~1json/schema") {
            request = request.json(&example(&doc, schema));
        }
        let status = request.send().await.expect("request").status().as_u16();
        if status == 501 {
            answering_501.insert(op.id.to_string());
        }
    }
    let listed = listed();
    let newly_implemented: Vec<_> = listed.difference(&answering_501).collect();
    let unlisted: Vec<_> = answering_501.difference(&listed).collect();
    assert!(unlisted.is_empty(), "these answer 501 but are not in tests/not-implemented.txt: {unlisted:?}");
    assert!(newly_implemented.is_empty(), "these are implemented now; remove them from tests/not-implemented.txt: {newly_implemented:?}");
}
