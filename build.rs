//! Generates the contract's Rust code into OUT_DIR: `server.rs` (feature `server`) and
//! `client.rs` (feature `client`), from `api-contract/openapi.yaml`, after bundling and linting it.

use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    match generate() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: the API contract cannot be turned into code:\n{message}");
            ExitCode::FAILURE
        }
    }
}

fn generate() -> Result<(), String> {
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").map_err(|e| e.to_string())?;
    let out_dir = std::env::var("OUT_DIR").map_err(|e| e.to_string())?;
    let contract_dir = Path::new(&manifest_dir).join("api-contract");
    println!("cargo:rerun-if-changed={}", contract_dir.display());
    let bundle = contract::bundle(&contract_dir.join("openapi.yaml")).map_err(|e| e.to_string())?;
    for file in &bundle.files {
        println!("cargo:rerun-if-changed={}", file.display());
    }
    let violations = contract::lint(&bundle);
    if !violations.is_empty() {
        return Err(violations.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"));
    }
    let contract_json = serde_json::to_string(&bundle.doc).map_err(|e| e.to_string())?;
    let spec: openapiv3::OpenAPI = serde_json::from_value(bundle.doc).map_err(|e| format!("not an OpenAPI 3.0 document: {e}"))?;
    if std::env::var_os("CARGO_FEATURE_SERVER").is_some() {
        std::fs::write(Path::new(&out_dir).join("openapi.json"), contract_json).map_err(|e| e.to_string())?;
        let code = mit_codegen::generate_server(&spec).map_err(|e| e.to_string())?;
        std::fs::write(Path::new(&out_dir).join("server.rs"), code).map_err(|e| e.to_string())?;
    }
    if std::env::var_os("CARGO_FEATURE_CLIENT").is_some() {
        let code = mit_codegen::generate_client(&spec).map_err(|e| e.to_string())?;
        std::fs::write(Path::new(&out_dir).join("client.rs"), code).map_err(|e| e.to_string())?;
    }
    Ok(())
}
