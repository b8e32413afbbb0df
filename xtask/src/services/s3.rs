//! An S3-compatible server of our own (s3s-fs) on a free loopback port, with one bucket and
//! fixed test credentials. s3s-fs keeps each bucket as a subdirectory of its data directory, so
//! the bucket is made with a plain mkdir before the server starts.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use anyhow::{Context, Result, bail};

use super::wait_until;
use crate::process::free_port;
use crate::tools::s3s_fs;

/// Test-only credentials; with them set, s3s-fs rejects unsigned or wrongly signed requests, so
/// the tests exercise real SigV4 signing (any region is accepted; we sign with `us-east-1`).
const ACCESS_KEY: &str = "mit-test";
/// The secret paired with [`ACCESS_KEY`].
const SECRET_KEY: &str = "mit-test-secret-key";
/// The bucket recordings go to.
const BUCKET: &str = "mit-recordings";

/// A running s3s-fs; its data directory is throwaway and deleted on drop.
pub struct S3 {
    child: Child,
    port: u16,
    data: PathBuf,
}

impl S3 {
    /// Starts s3s-fs on a free port, serving `data` (created, with the bucket in it).
    pub fn start(data: &Path) -> Result<Self> {
        let binary = s3s_fs()?;
        std::fs::create_dir_all(data.join(BUCKET)).with_context(|| format!("cannot create {}", data.display()))?;
        let data = data.canonicalize()?;
        let port = free_port()?;
        let child = Command::new(&binary)
            .args(["--host", "127.0.0.1", "--port", &port.to_string(), "--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY])
            .arg(&data)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .with_context(|| format!("cannot start {}", binary.display()))?;
        let mut s3 = Self { child, port, data };
        s3.wait_ready()?;
        Ok(s3)
    }

    /// Its base URL, for path-style requests (`<endpoint>/<bucket>/<key>`).
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The access key id requests must be signed with.
    pub fn access_key(&self) -> &str {
        ACCESS_KEY
    }

    /// The secret key requests must be signed with.
    pub fn secret_key(&self) -> &str {
        SECRET_KEY
    }

    /// The bucket that exists from the start.
    pub fn bucket(&self) -> &str {
        BUCKET
    }

    /// Waits for the port to accept connections, failing early (its error is on stderr) if
    /// s3s-fs exits instead, say because another process took the port.
    fn wait_ready(&mut self) -> Result<()> {
        let port = self.port;
        let child = &mut self.child;
        wait_until("S3 (s3s-fs)", 20, || {
            child.try_wait().is_ok_and(|status| status.is_some()) || std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        })?;
        if let Some(status) = self.child.try_wait()? {
            bail!("s3s-fs exited before accepting connections ({status})");
        }
        Ok(())
    }
}

impl Drop for S3 {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.data);
    }
}
