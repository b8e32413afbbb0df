//! The frontend path: TypeScript types generated from the bundled contract with the versions
//! pinned in tests/typescript, and the typed openapi-fetch client there, compiled strictly.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::process::run;
use crate::tools::require_npm;
use crate::workspace_root;

/// Generates `schema.d.ts` from the bundle and compiles the client; returns `dist/client.js`.
pub fn typescript_client() -> Result<PathBuf> {
    let root = workspace_root();
    let dir = root.join("tests").join("typescript");
    install(&dir)?;
    run(Command::new(bin(&dir, "openapi-typescript"))
        .arg(root.join("api-contract").join("openapi.bundled.json"))
        .arg("--output")
        .arg(dir.join("generated").join("schema.d.ts"))
        .current_dir(&dir)
        .stdout(std::io::stderr()))?;
    run(Command::new(bin(&dir, "tsc")).arg("-p").arg(&dir).current_dir(&dir).stdout(std::io::stderr()))?;
    let client = dir.join("dist").join("client.js");
    if !client.is_file() {
        bail!("tsc reported success but wrote no {}", client.display());
    }
    Ok(client)
}

/// Runs `npm ci` unless node_modules was installed from this very package-lock.json.
fn install(dir: &Path) -> Result<()> {
    let lock_path = dir.join("package-lock.json");
    let lock = std::fs::read_to_string(&lock_path).with_context(|| format!("cannot read {}", lock_path.display()))?;
    // `npm ci` empties node_modules first, so a marker inside it never outlives its install.
    let marker = dir.join("node_modules").join(".mit-package-lock.json");
    if std::fs::read_to_string(&marker).is_ok_and(|installed| installed == lock) {
        return Ok(());
    }
    require_npm()?;
    eprintln!("installing the pinned npm packages of {} (npm ci)", dir.display());
    run(Command::new("npm").args(["ci", "--no-audit", "--no-fund", "--silent"]).current_dir(dir))?;
    std::fs::write(&marker, lock).with_context(|| format!("cannot write {}", marker.display()))?;
    Ok(())
}

/// An executable the packages installed into node_modules/.bin.
fn bin(dir: &Path, name: &str) -> PathBuf {
    dir.join("node_modules").join(".bin").join(name)
}
