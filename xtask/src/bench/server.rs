//! Release builds and the release `mit serve` the benchmarks drive.

use std::process::{Child, Command, Stdio};

use anyhow::{Context, Result, bail};

use crate::process::{free_port, run};
use crate::services::wait_until;
use crate::test_cmd::scratch_dir;
use crate::workspace_root;

/// Builds `(package, binary)` pairs in release mode, in one cargo run so shared crates build once.
pub fn build_release(binaries: &[(&str, &str)]) -> Result<()> {
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    command.args(["build", "--release", "--quiet"]).current_dir(workspace_root());
    for (package, binary) in binaries {
        command.args(["--package", package, "--bin", binary]);
    }
    run(&mut command)
}

/// The release `mit serve` as a child process, without rate limits.
pub struct ReleaseServer {
    child: Child,
    /// `http://127.0.0.1:<port>`.
    pub base_url: String,
}

impl ReleaseServer {
    /// Starts it on a free port against `database_url`, with `extra` environment.
    pub fn start(database_url: &str, extra: &[(&str, &str)]) -> Result<Self> {
        let port = free_port()?;
        let binary = workspace_root().join("target").join("release").join("mit");
        if !binary.exists() {
            bail!("{} is missing", binary.display());
        }
        let child = Command::new(binary)
            .arg("serve")
            .env("DATABASE_URL", database_url)
            .env("JWT_SECRET_KEY", "bench-secret-0123456789abcdef0123456789abcdef")
            .env("PORT", port.to_string())
            .env("RTC_UDP_PORT", "0")
            .env("RTC_TCP_PORT", "0")
            .env("RATE_LIMIT_REQUESTS", "0")
            .env("RECORDING_PATH", scratch_dir("bench-recordings"))
            .env("RUST_LOG", "warn")
            .envs(extra.iter().copied())
            .stdout(Stdio::null())
            .spawn()
            .context("cannot start the release mit")?;
        let server = Self { child, base_url: format!("http://127.0.0.1:{port}") };
        wait_until("mit serve", 60, || std::net::TcpStream::connect(("127.0.0.1", port)).is_ok())?;
        Ok(server)
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for ReleaseServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
