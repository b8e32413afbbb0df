//! `cargo xtask dev`: the server on dev defaults, against a persistent PostgreSQL of its own in
//! `.dev/postgres` (no other service needed: no Redis, recordings on the local filesystem).

use std::process::Command;

use anyhow::Result;

use crate::process::run;
use crate::services::Postgres;
use crate::tools::{POSTGRESQL, ensure_packages};
use crate::workspace_root;

/// The secret dev servers sign tokens with; never use it anywhere else.
pub(crate) const DEV_JWT_SECRET: &str = "dev-only-secret-0123456789abcdef0123456789";

/// Runs `mit serve` until interrupted, then stops PostgreSQL.
pub fn run_dev(port: u16) -> Result<()> {
    ensure_packages(&[POSTGRESQL])?;
    let dev = workspace_root().join(".dev");
    let postgres = Postgres::start(&dev.join("postgres"), false)?;
    postgres.ensure_database("mit")?;
    eprintln!("PostgreSQL ready at {}", postgres.url("mit"));
    eprintln!("API on http://127.0.0.1:{port} (docs: /docs, /redoc; spec: /openapi.json)");
    let outcome = run(Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["run", "--package", "mit-server", "--bin", "mit", "--", "serve"])
        .current_dir(workspace_root())
        .env("DATABASE_URL", postgres.url("mit"))
        .env("JWT_SECRET_KEY", DEV_JWT_SECRET)
        .env("PORT", port.to_string())
        .env("RECORDING_PATH", dev.join("recordings"))
        .env("RATE_LIMIT_REQUESTS", "0"));
    drop(postgres);
    outcome
}
