//! `cargo xtask schema [--write]`: `crates/mit-store/src/schema.rs` is what `diesel print-schema`
//! makes of `migrations/` applied to a throwaway PostgreSQL; without `--write`, fails when the
//! committed file differs.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

use crate::process::{is_executable, output, run};
use crate::services::Postgres;
use crate::test_cmd::scratch_dir;
use crate::tools::{POSTGRESQL, Package, ensure_packages, tools_dir};
use crate::workspace_root;

/// The generated file, relative to the workspace root.
const SCHEMA_FILE: &str = "crates/mit-store/src/schema.rs";
/// The release matching the `diesel` crate mit-store builds against.
const DIESEL_CLI_VERSION: &str = "2.3.14";
/// diesel_cli's PostgreSQL backend links libpq.
const LIBPQ_DEV: Package = Package { name: "libpq-dev", provides: "/usr/include/postgresql/libpq-fe.h" };

/// Regenerates the schema; writes it with `write`, else fails if the committed one is stale.
pub fn run_schema(write: bool) -> Result<()> {
    let generated = generate(&diesel_cli()?)?;
    let path = workspace_root().join(SCHEMA_FILE);
    if write {
        std::fs::write(&path, &generated).with_context(|| format!("writing {}", path.display()))?;
        println!("wrote {SCHEMA_FILE}");
        return Ok(());
    }
    let committed = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    if committed != generated {
        bail!("{SCHEMA_FILE} is stale: run `cargo xtask schema --write`\n{}", diff(&path, &generated)?);
    }
    println!("{SCHEMA_FILE} is fresh");
    Ok(())
}

/// The `diesel` binary (PostgreSQL support only), `cargo install`ed (locked) under the tools dir.
fn diesel_cli() -> Result<PathBuf> {
    ensure_packages(&[POSTGRESQL, LIBPQ_DEV])?;
    let root = tools_dir().join("diesel_cli");
    let binary = root.join("bin").join("diesel");
    let marker = root.join(".installed");
    let wanted = format!("diesel_cli@{DIESEL_CLI_VERSION} features=postgres");
    if std::fs::read_to_string(&marker).is_ok_and(|m| m == wanted) && is_executable(&binary) {
        return Ok(binary);
    }
    eprintln!("installing diesel_cli@{DIESEL_CLI_VERSION} with cargo into {} (compiles from source: a few minutes)", root.display());
    run(Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["install", "--quiet", "--locked", "--no-default-features", "--features", "postgres", "--root"])
        .arg(&root)
        .arg(format!("diesel_cli@{DIESEL_CLI_VERSION}")))?;
    std::fs::write(&marker, wanted)?;
    Ok(binary)
}

/// Applies the migrations to a fresh database and prints its schema as diesel sees it.
fn generate(diesel: &Path) -> Result<String> {
    let root = workspace_root();
    let postgres = Postgres::start(&scratch_dir("schema-postgres"), true)?;
    postgres.ensure_database("mit_schema")?;
    let url = postgres.url("mit_schema");
    // A config file that does not exist means diesel's defaults: with the committed diesel.toml,
    // `migration run` would also rewrite schema.rs, and the check would compare it with itself.
    let no_config = scratch_dir("schema").join("none.toml");
    output(
        Command::new(diesel)
            .current_dir(&root)
            .args(["migration", "run", "--migration-dir"])
            .arg(root.join("migrations"))
            .arg("--database-url")
            .arg(&url)
            .arg("--config-file")
            .arg(&no_config),
    )
    .context("applying migrations/")?;
    output(
        Command::new(diesel)
            .current_dir(&root)
            .args(["print-schema", "--database-url", &url, "--config-file"])
            .arg(root.join("diesel.toml")),
    )
    .context("diesel print-schema")
}

/// A unified diff of the committed file against the generated text, for the failure message.
fn diff(committed: &Path, generated: &str) -> Result<String> {
    let mut child = Command::new("diff")
        .args(["-u", "--label", SCHEMA_FILE, "--label", "generated", "--"])
        .arg(committed)
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .context("running diff")?;
    child.stdin.take().context("diff's stdin")?.write_all(generated.as_bytes())?;
    let out = child.wait_with_output()?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
