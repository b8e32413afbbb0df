//! The `mit` binary as a child process, for tests that must kill a server the hard way.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::server_binary;

/// A running `mit serve`; killed when dropped.
pub struct ServerProcess {
    child: Child,
    env: Vec<(String, String)>,
    port: u16,
    /// `http://127.0.0.1:<port>`.
    pub base_url: String,
}

impl ServerProcess {
    /// Starts `mit serve` with `env` on a free port and waits until `/health` answers.
    pub async fn start(env: Vec<(String, String)>) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
        Self::start_on(env, port).await
    }

    /// Starts it again with the same environment and port (a restart after [`Self::kill`]).
    pub async fn restart(self) -> Self {
        let (env, port) = (self.env.clone(), self.port);
        drop(self);
        Self::start_on(env, port).await
    }

    async fn start_on(env: Vec<(String, String)>, port: u16) -> Self {
        let child = Command::new(server_binary())
            .arg("serve")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("RTC_UDP_PORT", "0")
            .env("RTC_TCP_PORT", "0")
            .envs(env.iter().map(|(k, v)| (k, v)))
            .env("HOST", "127.0.0.1")
            .env("PORT", port.to_string())
            .env("RUST_LOG", if std::env::var_os("TEST_LOG").is_some() { "info" } else { "warn" })
            .stdin(Stdio::null())
            .stdout(if std::env::var_os("TEST_LOG").is_some() { Stdio::inherit() } else { Stdio::null() })
            .spawn()
            .expect("the mit binary starts");
        let server = Self { child, env, port, base_url: format!("http://127.0.0.1:{port}") };
        server.wait_healthy().await;
        server
    }

    async fn wait_healthy(&self) {
        let health = format!("{}/health", self.base_url);
        for _ in 0..300 {
            if reqwest::get(&health).await.is_ok_and(|r| r.status().is_success()) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("mit serve did not answer {health} within 30 s");
    }

    /// SIGTERM: the process drains (in a cluster) and stops gracefully.
    pub fn terminate(&self) {
        let status = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().expect("kill -TERM");
        assert!(status.success(), "kill -TERM failed");
    }

    /// Waits until the process has exited, up to `within`; its exit status, or `None` if it is
    /// still running.
    pub async fn exited(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return Some(status);
            }
            if tokio::time::Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGKILL: no shutdown code runs, as in a crash or an OOM kill.
    pub fn kill(&mut self) {
        self.child.kill().expect("kill -9");
        self.child.wait().expect("reap");
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
