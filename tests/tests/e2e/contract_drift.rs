//! The spec of the generated routes equals the contract in meaning, and the drift check reports
//! readable differences when a scratch copy of the contract is changed.

use std::path::{Path, PathBuf};

fn contract_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../api-contract")
}

/// A scratch copy of the contract folder.
fn scratch_copy() -> tempfile::TempDir {
    let scratch = tempfile::tempdir().expect("tempdir");
    copy_dir(&contract_dir(), scratch.path());
    scratch
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir").filter_map(Result::ok) {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

fn edit(dir: &Path, file: &str, from: &str, to: &str) {
    let path = dir.join(file);
    let text = std::fs::read_to_string(&path).expect("read");
    assert!(text.contains(from), "{file} contains {from:?}");
    std::fs::write(&path, text.replacen(from, to, 1)).expect("write");
}

fn differences(dir: &Path) -> Vec<String> {
    contract::drift(&dir.join("openapi.yaml"), &mit_server::routes_openapi_json())
        .expect("drift check")
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[test]
fn the_generated_routes_match_the_contract() {
    let found = differences(&contract_dir());
    assert!(found.is_empty(), "the generated routes differ from the contract:\n{}", found.join("\n"));
}

#[test]
fn a_removed_response_field_is_reported() {
    let scratch = scratch_copy();
    edit(
        scratch.path(),
        "schemas/user.yaml",
        "    avatar_url: {type: string, format: uri, maxLength: 2048}\n    created_at",
        "    created_at",
    );
    let found = differences(scratch.path());
    assert!(found.iter().any(|d| d.contains("/properties/avatar_url") && d.contains("contract: (absent)")), "{found:#?}");
}

#[test]
fn a_changed_property_type_is_reported() {
    let scratch = scratch_copy();
    edit(
        scratch.path(),
        "schemas/auth.yaml",
        "    expires_in:\n      type: integer\n      format: int64",
        "    expires_in:\n      type: string\n      format: int64",
    );
    let found = differences(scratch.path());
    assert!(
        found.iter().any(|d| d.contains("/properties/expires_in/type") && d.contains("\"string\"") && d.contains("\"integer\"")),
        "{found:#?}"
    );
}

#[test]
fn a_new_required_query_parameter_is_reported() {
    let scratch = scratch_copy();
    edit(
        scratch.path(),
        "paths/users.yaml",
        "      - {$ref: '../parameters.yaml#/Page'}",
        "      - {name: sort, in: query, required: true, schema: {type: string, maxLength: 20}}\n      - {$ref: '../parameters.yaml#/Page'}",
    );
    let found = differences(scratch.path());
    assert!(found.iter().any(|d| d.contains("query sort") && d.contains("served:   (absent)")), "{found:#?}");
}
