//! mediasoup for `bench sfu --against mediasoup`: its worker built offline from the npm package
//! against Debian's libraries (`tests/mediasoup/build.sh`, once, into `target/mediasoup`), and
//! `tests/mediasoup/server.mjs`, the smallest signalling server that lets plain-SDP peers use it.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use anyhow::{Context, Result, bail};

use crate::process::{free_port, output};
use crate::tools::require_npm;
use crate::workspace_root;

/// The signalling server and its mediasoup worker; stopped when dropped.
pub struct MediasoupServer {
    process: Child,
    port: u16,
    worker: u32,
}

impl MediasoupServer {
    /// Builds what is missing and starts the server on a free port.
    pub fn start() -> Result<Self> {
        require_npm()?;
        let root = workspace_root();
        let out = root.join("target").join("mediasoup");
        let built = output(Command::new("bash").arg(root.join("tests/mediasoup/build.sh")).arg(&out))?;
        let worker_bin = PathBuf::from(built.lines().last().context("build.sh printed no worker path")?.trim());
        let port = free_port()?;
        let mut process = Command::new("node")
            .arg(root.join("tests/mediasoup/server.mjs"))
            .arg(port.to_string())
            .env("MEDIASOUP_WORKER_BIN", &worker_bin)
            .env("MEDIASOUP_MODULES", out.join("node_modules"))
            .stdout(Stdio::piped())
            .spawn()
            .context("starting node tests/mediasoup/server.mjs")?;
        let stdout = process.stdout.take().context("the server's stdout")?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        // `listening <port> worker <pid>`
        let worker = match line.split_whitespace().collect::<Vec<_>>().as_slice() {
            ["listening", _, "worker", pid] => pid.parse().context("the worker's pid")?,
            _ => {
                let _ = process.kill();
                bail!("the mediasoup server did not start: {line:?}")
            }
        };
        Ok(Self { process, port, worker })
    }

    /// Its WebSocket.
    pub fn url(&self) -> String {
        format!("ws://127.0.0.1:{}", self.port)
    }

    /// The worker process, which does all the media work.
    pub fn worker_pid(&self) -> u32 {
        self.worker
    }
}

impl Drop for MediasoupServer {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}
