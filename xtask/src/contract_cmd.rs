//! `cargo xtask contract …`: bundle, lint and (later) drift checks of the API contract.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Subcommand;

use crate::workspace_root;

/// The contract subcommands.
#[derive(Subcommand)]
pub enum ContractCommand {
    /// Write api-contract/openapi.bundled.json from the split files.
    Bundle {
        /// Contract folder (default: api-contract/ of the workspace).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Bundle, lint, run both generators, and check the committed bundle is fresh.
    Lint {
        /// Contract folder (default: api-contract/ of the workspace).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
}

/// Runs one contract subcommand.
pub fn run(command: ContractCommand) -> Result<()> {
    match command {
        ContractCommand::Bundle { dir } => {
            let dir = contract_dir(dir);
            let text = bundled_text(&dir)?;
            std::fs::write(dir.join("openapi.bundled.json"), text).context("writing openapi.bundled.json")?;
            println!("wrote {}", dir.join("openapi.bundled.json").display());
            Ok(())
        }
        ContractCommand::Lint { dir } => lint(&contract_dir(dir)),
    }
}

fn contract_dir(dir: Option<PathBuf>) -> PathBuf {
    dir.unwrap_or_else(|| workspace_root().join("api-contract"))
}

/// The bundled contract as the committed file's text (pretty JSON, trailing newline).
pub fn bundled_text(dir: &Path) -> Result<String> {
    let bundle = contract::bundle(&dir.join("openapi.yaml"))?;
    Ok(format!("{}\n", serde_json::to_string_pretty(&bundle.doc)?))
}

fn lint(dir: &Path) -> Result<()> {
    let bundle = contract::bundle(&dir.join("openapi.yaml"))?;
    let violations = contract::lint(&bundle);
    for violation in &violations {
        eprintln!("{violation}");
    }
    if !violations.is_empty() {
        bail!("{} contract violation(s)", violations.len());
    }
    let spec: openapiv3::OpenAPI = serde_json::from_value(bundle.doc.clone()).context("not an OpenAPI 3.0 document")?;
    mit_codegen::generate_server(&spec).context("server generator")?;
    mit_codegen::generate_client(&spec).context("client generator")?;
    let committed = std::fs::read_to_string(dir.join("openapi.bundled.json")).unwrap_or_default();
    if committed != format!("{}\n", serde_json::to_string_pretty(&bundle.doc)?) {
        bail!("api-contract/openapi.bundled.json is stale: run `cargo xtask contract bundle` and commit it");
    }
    println!("contract ok: {} operations", spec.paths.paths.values().filter_map(|p| p.as_item()).map(|p| p.iter().count()).sum::<usize>());
    Ok(())
}
