//! `cargo xtask contract …`: bundle, lint, drift and breaking-change checks of the API contract.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use clap::Subcommand;

use crate::process::{output, run};
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
    /// Lint, then: the served spec equals the contract in meaning; the client builds; breaking
    /// changes against the base revision are reported.
    Check {
        /// Contract folder to compare with the served spec (default: api-contract/).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Git revision to look for breaking changes against (default: merge base with
        /// origin/main, else the previous commit).
        #[arg(long)]
        base: Option<String>,
        /// Report breaking changes without failing (for intentional major versions).
        #[arg(long)]
        allow_breaking: bool,
    },
}

/// Runs one contract subcommand.
pub fn run_contract(command: ContractCommand) -> Result<()> {
    match command {
        ContractCommand::Bundle { dir } => {
            let dir = contract_dir(dir);
            std::fs::write(dir.join("openapi.bundled.json"), bundled_text(&dir)?).context("writing openapi.bundled.json")?;
            println!("wrote {}", dir.join("openapi.bundled.json").display());
            Ok(())
        }
        ContractCommand::Lint { dir } => lint(&contract_dir(dir)),
        ContractCommand::Check { dir, base, allow_breaking } => {
            let dir = contract_dir(dir);
            lint(&dir)?;
            // One build of everything (the client included) with the same features the test
            // suite uses, so CI compiles each crate once.
            run(cargo().args(["build", "--quiet", "--workspace", "--all-targets"]))?;
            println!("workspace builds, client included");
            drift(&dir)?;
            breaking(&dir, base, allow_breaking)
        }
    }
}

fn contract_dir(dir: Option<PathBuf>) -> PathBuf {
    dir.unwrap_or_else(|| workspace_root().join("api-contract"))
}

fn cargo() -> Command {
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    command.current_dir(workspace_root());
    command
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
    if std::fs::read_to_string(dir.join("openapi.bundled.json")).unwrap_or_default() != bundled_text(dir)? {
        bail!("{}/openapi.bundled.json is stale: run `cargo xtask contract bundle` and commit it", dir.display());
    }
    let operations = spec.paths.paths.values().filter_map(|p| p.as_item()).map(|p| p.iter().count()).sum::<usize>();
    println!("contract ok: {operations} operations");
    Ok(())
}

/// The spec the server binary serves must mean what the contract says.
fn drift(dir: &Path) -> Result<()> {
    let mit = workspace_root().join("target").join("debug").join("mit");
    let served = output(Command::new(&mit).arg("openapi"))?;
    let own_contract = workspace_root().join("api-contract");
    if serde_json::from_str::<serde_json::Value>(&served)? != serde_json::from_str::<serde_json::Value>(&bundled_text(&own_contract)?)? {
        bail!("`mit openapi` does not serve the bundled contract; rebuild after `cargo xtask contract bundle`");
    }
    let routes = output(Command::new(&mit).args(["openapi", "--routes"]))?;
    let differences = contract::drift(&dir.join("openapi.yaml"), &routes)?;
    if differences.is_empty() {
        println!("the server serves the contract, and its generated routes match it in meaning");
        return Ok(());
    }
    for difference in &differences {
        eprintln!("{difference}");
    }
    bail!("the served spec differs from the contract in {} place(s)", differences.len())
}

fn breaking(dir: &Path, base: Option<String>, allow: bool) -> Result<()> {
    let Some(base) = base.or_else(default_base) else {
        println!("no base revision to compare with; skipping the breaking-change check");
        return Ok(());
    };
    let scratch = workspace_root().join("target").join("contract-base");
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(&scratch)?;
    let archive =
        Command::new("git").args(["archive", &base, "api-contract"]).current_dir(workspace_root()).output().context("git archive")?;
    if !archive.status.success() {
        println!("{base} has no api-contract/; skipping the breaking-change check");
        return Ok(());
    }
    let tar = scratch.join("base.tar");
    std::fs::write(&tar, archive.stdout)?;
    run(Command::new("tar").arg("-xf").arg(&tar).arg("-C").arg(&scratch))?;
    let old = contract::bundle(&scratch.join("api-contract").join("openapi.yaml"))?;
    let new = contract::bundle(&dir.join("openapi.yaml"))?;
    let changes = contract::breaking_changes(&old.doc, &new.doc);
    let errors = changes.iter().filter(|c| c.severity == contract::Severity::Error).count();
    for change in changes.iter().filter(|c| c.severity == contract::Severity::Error) {
        eprintln!("{change}");
    }
    // A change to a shared schema shows at every operation using it (an `ErrorCode` value at
    // every error response): a warning at the same place in several operations is printed once,
    // with how many and the first.
    let mut warnings: Vec<(&str, &str, &str, usize)> = Vec::new();
    for change in changes.iter().filter(|c| c.severity == contract::Severity::Warning) {
        let place = change.pointer.splitn(4, '/').nth(3).unwrap_or_default();
        match warnings.iter_mut().find(|(message, at, _, _)| *message == change.message && *at == place) {
            Some((_, _, _, count)) => *count += 1,
            None => warnings.push((&change.message, place, &change.pointer, 1)),
        }
    }
    for (message, _, first, count) in warnings {
        match count {
            1 => eprintln!("warning: {first}: {message}"),
            _ => eprintln!("warning: {first}: {message} (and at the same place in {} more operation(s))", count - 1),
        }
    }
    println!("{} change(s) against {base}, {errors} breaking", changes.len());
    let (old_version, new_version) = (version_of(&old.doc), version_of(&new.doc));
    if errors > 0 && is_breaking_bump(&old_version, &new_version) {
        println!("breaking changes announced by info.version {old_version} → {new_version}");
        return Ok(());
    }
    if errors > 0 && !allow {
        bail!(
            "breaking contract changes against {base}: bump info.version ({old_version}: major, or minor while 0.x) or pass --allow-breaking"
        );
    }
    Ok(())
}

fn version_of(doc: &serde_json::Value) -> String {
    doc.pointer("/info/version").and_then(serde_json::Value::as_str).unwrap_or("0.0.0").to_string()
}

/// Semver: a new major, or a new minor while the major is 0.
fn is_breaking_bump(old: &str, new: &str) -> bool {
    let parts = |v: &str| v.split('.').map(|p| p.parse::<u64>().unwrap_or(0)).collect::<Vec<_>>();
    let (old, new) = (parts(old), parts(new));
    let (old_major, new_major) = (old.first().copied().unwrap_or(0), new.first().copied().unwrap_or(0));
    let (old_minor, new_minor) = (old.get(1).copied().unwrap_or(0), new.get(1).copied().unwrap_or(0));
    new_major > old_major || (old_major == 0 && new_major == 0 && new_minor > old_minor)
}

fn default_base() -> Option<String> {
    let git = |args: &[&str]| output(Command::new("git").args(args).current_dir(workspace_root())).ok().map(|s| s.trim().to_string());
    git(&["merge-base", "HEAD", "origin/main"]).or_else(|| git(&["rev-parse", "--verify", "--quiet", "HEAD^"]))
}
