//! A Redis server of our own on a free loopback port, without persistence.

use std::process::{Child, Command, Stdio};

use anyhow::{Context, Result};

use super::wait_until;
use crate::process::free_port;

/// A running Redis.
pub struct Redis {
    child: Child,
    port: u16,
}

impl Redis {
    /// Starts `redis-server` on a free port.
    pub fn start() -> Result<Self> {
        let port = free_port()?;
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("cannot start redis-server")?;
        let redis = Self { child, port };
        wait_until("Redis", 20, || std::net::TcpStream::connect(("127.0.0.1", port)).is_ok())?;
        Ok(redis)
    }

    /// Its URL.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
