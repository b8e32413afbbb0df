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

/// The codes of CONVENTIONS.md's errors table (backticked words outside parentheses), in order.
fn conventions_error_codes() -> Vec<String> {
    let text = std::fs::read_to_string(contract_dir().join("CONVENTIONS.md")).expect("CONVENTIONS.md");
    let table = text.split("| status | `error` codes |").nth(1).expect("the errors table");
    let mut codes = Vec::new();
    for row in table.lines().skip(2).take_while(|l| l.starts_with('|')) {
        let codes_cell = row.split('|').nth(2).expect("a codes cell");
        let mut depth = 0;
        let mut outside = String::new();
        for c in codes_cell.chars() {
            match c {
                '(' => depth += 1,
                ')' => depth -= 1,
                c if depth == 0 => outside.push(c),
                _ => {}
            }
        }
        codes.extend(outside.split('`').skip(1).step_by(2).map(str::to_string));
    }
    codes
}

#[test]
fn the_conventions_error_table_lists_exactly_the_contract_error_codes() {
    let bundle = contract::bundle(&contract_dir().join("openapi.yaml")).expect("bundle");
    let values = bundle.doc.pointer("/components/schemas/ErrorCode/enum").and_then(|v| v.as_array()).expect("ErrorCode is an enum");
    let contract: Vec<String> = values.iter().map(|v| v.as_str().expect("string values").to_string()).collect();
    let table = conventions_error_codes();
    let (in_table, in_contract): (std::collections::BTreeSet<_>, std::collections::BTreeSet<_>) =
        (table.iter().collect(), contract.iter().collect());
    assert_eq!(in_table.len(), table.len(), "a code is listed twice in CONVENTIONS.md: {table:?}");
    assert!(in_table.contains(&"stale_base".to_string()), "the table parser found {table:?}");
    let only_table: Vec<_> = in_table.difference(&in_contract).collect();
    let only_contract: Vec<_> = in_contract.difference(&in_table).collect();
    assert!(
        only_table.is_empty() && only_contract.is_empty(),
        "CONVENTIONS.md's errors table and ErrorCode differ: only in the table {only_table:?}, only in ErrorCode {only_contract:?}"
    );
    for code in &contract {
        let parsed: mit_client::types::ErrorCode = code.parse().unwrap_or_else(|e| panic!("the client's ErrorCode refuses `{code}`: {e}"));
        assert_eq!(&parsed.to_string(), code);
    }
}
