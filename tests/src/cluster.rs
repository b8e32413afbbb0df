//! Several `mit serve` processes of one deployment, as production runs them behind a load
//! balancer: one PostgreSQL database, one Redis, and per node its own `NODE_ID`, port and
//! recording directory. The Redis is the test's own, so a test can stop and restart it.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::server_process::ServerProcess;
use crate::{TEST_JWT_SECRET, fresh_database};

/// A Redis server of one test, on a port it keeps across restarts.
pub struct TestRedis {
    child: Option<Child>,
    port: u16,
}

impl TestRedis {
    /// Starts `redis-server` (installed by `cargo xtask test`) on a free loopback port.
    pub async fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
        let mut redis = Self { child: None, port };
        redis.restart().await;
        redis
    }

    /// Its URL.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Stops it (SIGKILL: an outage, not a maintenance window).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port, empty, and waits until it accepts connections.
    pub async fn restart(&mut self) {
        self.stop();
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts (cargo xtask test installs it)");
        self.child = Some(child);
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await.is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("redis-server did not listen on {} within 5 s", self.port);
    }
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Nodes of one deployment.
pub struct Cluster {
    /// The nodes, `node-0`, `node-1`, …
    pub nodes: Vec<ServerProcess>,
    /// Their Redis.
    pub redis: TestRedis,
    /// Their database.
    pub database_url: String,
    _recordings: Vec<tempfile::TempDir>,
}

impl Cluster {
    /// Starts `count` nodes with `env` on top of the test defaults (among them a 3 s node lease,
    /// so failover tests wait seconds, not the default 10).
    pub async fn start(count: usize, env: &[(&str, &str)]) -> Self {
        let redis = TestRedis::start().await;
        let database_url = fresh_database().await;
        let mut nodes = Vec::with_capacity(count);
        let mut recordings = Vec::with_capacity(count);
        for index in 0..count {
            let directory = tempfile::tempdir().expect("a recording directory");
            let mut vars: Vec<(String, String)> = [
                ("DATABASE_URL", database_url.as_str()),
                ("DATABASE_POOL_SIZE", "4"),
                ("REDIS_URL", redis.url().as_str()),
                ("JWT_SECRET_KEY", TEST_JWT_SECRET),
                ("RATE_LIMIT_REQUESTS", "0"),
                ("NODE_LEASE_SECONDS", "3"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
            vars.push(("NODE_ID".into(), format!("node-{index}")));
            vars.push(("RECORDING_PATH".into(), directory.path().display().to_string()));
            vars.retain(|(k, _)| !env.iter().any(|(o, _)| o == k));
            vars.extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
            nodes.push(ServerProcess::start(vars).await);
            recordings.push(directory);
        }
        Self { nodes, redis, database_url, _recordings: recordings }
    }

    /// The index of the node a `join`'s `signaling_url` names.
    pub fn node_of(&self, signaling_url: &str) -> usize {
        let authority = signaling_url.trim_start_matches("ws://").split('/').next().unwrap_or_default();
        self.nodes
            .iter()
            .position(|node| node.base_url.trim_start_matches("http://") == authority)
            .unwrap_or_else(|| panic!("{signaling_url} names none of the nodes"))
    }
}
