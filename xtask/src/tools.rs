//! Installs what the project needs on a fresh Debian machine: Debian packages (as root, with
//! apt-get), Python tools in a virtualenv, and cargo-installed servers, all cached under
//! `target/mit-tools` so later runs reuse them.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Result, bail};

use crate::process::{is_executable, is_root, on_path, run};
use crate::workspace_root;

/// A Debian package and a file that proves it is installed.
pub struct Package {
    /// The package name.
    pub name: &'static str,
    /// A path or a command name (looked up on PATH) it provides.
    pub provides: &'static str,
}

/// PostgreSQL server binaries.
pub const POSTGRESQL: Package = Package { name: "postgresql", provides: "/usr/lib/postgresql" };
/// Redis.
pub const REDIS: Package = Package { name: "redis-server", provides: "redis-server" };
/// Headless Chromium for the browser test.
pub const CHROMIUM: Package = Package { name: "chromium", provides: "/usr/bin/chromium" };
/// `opusenc` and `opusinfo`, for the Ogg/Opus fixture and checking recordings.
pub const OPUS_TOOLS: Package = Package { name: "opus-tools", provides: "opusenc" };
/// `ogginfo`, a second opinion on recorded Ogg files.
pub const VORBIS_TOOLS: Package = Package { name: "vorbis-tools", provides: "ogginfo" };

/// `ip` (network namespaces) and `nft` (blocking UDP in one), for the ICE-over-TCP browser test.
pub const IPROUTE2: Package = Package { name: "iproute2", provides: "ip" };
/// See [`IPROUTE2`].
pub const NFTABLES: Package = Package { name: "nftables", provides: "nft" };

/// Where cached tools live.
pub fn tools_dir() -> PathBuf {
    workspace_root().join("target").join("mit-tools")
}

/// Installs every package of `packages` that is missing (one apt-get run).
pub fn ensure_packages(packages: &[Package]) -> Result<()> {
    let missing: Vec<&str> = packages.iter().filter(|p| !provided(p.provides)).map(|p| p.name).collect();
    if missing.is_empty() {
        return Ok(());
    }
    if !is_root() {
        bail!("missing Debian packages: {}; install them with `sudo apt-get install {}`", missing.join(", "), missing.join(" "));
    }
    eprintln!("installing Debian packages: {}", missing.join(" "));
    run(Command::new("apt-get").args(["update", "-qq"]))?;
    run(Command::new("apt-get")
        .args(["install", "-y", "-qq", "--no-install-recommends"])
        .args(&missing)
        .env("DEBIAN_FRONTEND", "noninteractive"))?;
    Ok(())
}

fn provided(what: &str) -> bool {
    if what.starts_with('/') { Path::new(what).exists() } else { on_path(what) }
}

/// A Python virtualenv under the tools dir with `requirement` installed; returns its bin dir.
pub fn python_tool(name: &str, requirement: &str) -> Result<PathBuf> {
    let venv = tools_dir().join(format!("venv-{name}"));
    let bin = venv.join("bin");
    let marker = venv.join(".installed");
    if std::fs::read_to_string(&marker).is_ok_and(|m| m == requirement) && is_executable(&bin.join(name)) {
        return Ok(bin);
    }
    eprintln!("installing {requirement} into {}", venv.display());
    run(Command::new("python3").args(["-m", "venv", "--clear"]).arg(&venv))?;
    run(Command::new(bin.join("pip")).args(["install", "-q", "--disable-pip-version-check", requirement]))?;
    std::fs::write(&marker, requirement)?;
    Ok(bin)
}

/// The S3-compatible server the tests store objects in: a directory-backed server that checks
/// SigV4 (presigned URLs included) and supports multipart uploads and ranged GETs.
pub fn s3s_fs() -> Result<PathBuf> {
    cargo_tool("s3s-fs", "0.14.1", &["binary"])
}

/// A crate's same-named binary, `cargo install`ed (locked) under the tools dir; returns its path.
pub fn cargo_tool(name: &str, version: &str, features: &[&str]) -> Result<PathBuf> {
    let root = tools_dir().join(name);
    let binary = root.join("bin").join(name);
    let marker = root.join(".installed");
    let wanted = format!("{name}@{version} features={}", features.join(","));
    if std::fs::read_to_string(&marker).is_ok_and(|m| m == wanted) && is_executable(&binary) {
        return Ok(binary);
    }
    eprintln!("installing {name}@{version} with cargo into {} (compiles from source: a few minutes on 2 cores)", root.display());
    let mut install = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    install.args(["install", "--quiet", "--locked", "--root"]).arg(&root).arg(format!("{name}@{version}"));
    if !features.is_empty() {
        install.args(["--features", &features.join(",")]);
    }
    run(&mut install)?;
    std::fs::write(&marker, wanted)?;
    Ok(binary)
}

/// The directory holding PostgreSQL's server binaries (`initdb`, `pg_ctl`, `postgres`).
pub fn postgres_bin_dir() -> Result<PathBuf> {
    let root = Path::new("/usr/lib/postgresql");
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir(root)?
        .filter_map(|e| e.ok())
        .filter_map(|e| Some((e.file_name().to_str()?.parse::<u32>().ok()?, e.path().join("bin"))))
        .filter(|(_, bin)| is_executable(&bin.join("initdb")))
        .collect();
    versions.sort();
    match versions.pop() {
        Some((_, bin)) => Ok(bin),
        None => bail!("no PostgreSQL server under /usr/lib/postgresql (install the `postgresql` package)"),
    }
}

/// An npm package installed under the tools dir; returns its directory in `node_modules`.
pub fn npm_package(name: &str, version: &str) -> Result<PathBuf> {
    let prefix = tools_dir().join("npm");
    let package = prefix.join("node_modules").join(name);
    let manifest = std::fs::read_to_string(package.join("package.json")).unwrap_or_default();
    if manifest.contains(&format!("\"version\": \"{version}\"")) {
        return Ok(package);
    }
    require_npm()?;
    eprintln!("installing {name}@{version} from npm");
    std::fs::create_dir_all(&prefix)?;
    run(Command::new("npm")
        .args(["install", "--no-audit", "--no-fund", "--silent", "--prefix"])
        .arg(&prefix)
        .arg(format!("{name}@{version}")))?;
    Ok(package)
}

/// Fails with install instructions when npm is not on PATH.
pub fn require_npm() -> Result<()> {
    if !on_path("npm") {
        bail!("npm is missing: install Node.js (the Debian `nodejs` and `npm` packages)");
    }
    Ok(())
}
