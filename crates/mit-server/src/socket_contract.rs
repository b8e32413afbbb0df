//! Test support: the WebSocket protocols' JSON Schemas in `api-contract/` (`signaling.yaml`,
//! `events.yaml`), for checking the Rust message types against them.

use std::collections::BTreeSet;

use serde_json::{Value, json};

/// The schema document `api-contract/<file>`.
pub fn load(file: &str) -> Value {
    let path = format!("{}/../../api-contract/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_yaml_ng::from_str(&text).expect("valid YAML")
}

/// A validator for the `$defs` entry `root` of `doc`.
pub fn validator(doc: &Value, root: &str) -> jsonschema::Validator {
    let schema = json!({"$schema": doc["$schema"], "$ref": format!("#/$defs/{root}"), "$defs": doc["$defs"]});
    jsonschema::options().should_validate_formats(true).build(&schema).expect("a valid JSON Schema")
}

/// The `type` constants of the messages `root`'s `oneOf` lists.
pub fn types_of(doc: &Value, root: &str) -> BTreeSet<String> {
    doc["$defs"][root]["oneOf"]
        .as_array()
        .expect("oneOf")
        .iter()
        .map(|r| {
            let name = r["$ref"].as_str().expect("$ref").trim_start_matches("#/$defs/");
            doc["$defs"][name]["properties"]["type"]["const"].as_str().expect("const type").to_string()
        })
        .collect()
}
