//! `cargo xtask cluster`: one deployment of N debug `mit serve` nodes on dev defaults — a
//! persistent PostgreSQL of its own in `.dev/cluster-postgres`, a throwaway Redis, and per node
//! its own `NODE_ID`, port and recording directory — to watch room placement and failover.
//!
//! Ctrl-C (SIGINT), SIGTERM or SIGHUP to xtask stops everything: the nodes run in process groups
//! of their own, so a terminal's Ctrl-C reaches xtask alone, which kills them and then stops
//! Redis and PostgreSQL.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::dev_cmd::DEV_JWT_SECRET;
use crate::process::run;
use crate::services::{Postgres, Redis, wait_until};
use crate::tools::{POSTGRESQL, REDIS, ensure_packages};
use crate::workspace_root;

/// `node-<i>`'s media UDP port is this + i.
const MEDIA_PORT: u16 = 40000;

/// One `mit serve` child; killed when dropped.
struct Node {
    name: String,
    port: u16,
    log: PathBuf,
    child: Child,
    exited: bool,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs the cluster until Ctrl-C.
pub fn run_cluster(nodes: usize, port: u16) -> Result<()> {
    if nodes == 0 || usize::from(port) + nodes > usize::from(u16::MAX) + 1 {
        bail!("--nodes must be at least 1 and ports {port}..{port}+nodes must fit below 65536");
    }
    ensure_packages(&[POSTGRESQL, REDIS])?;
    build_debug()?;
    let stop = stop_flag()?;
    let dev = workspace_root().join(".dev");
    let postgres = Postgres::start(&dev.join("cluster-postgres"), false)?;
    postgres.ensure_database("mit")?;
    let redis = Redis::start()?;
    let env = SharedEnv { database_url: postgres.url("mit"), redis_url: redis.url() };
    let mut children = Vec::with_capacity(nodes);
    for index in 0..nodes {
        children.push(start_node(&dev, &env, index, port + index as u16, &stop)?);
    }
    print_summary(&children, &env);
    watch(&mut children, &stop);
    eprintln!("stopping the nodes, Redis and PostgreSQL");
    drop(children);
    drop(redis);
    drop(postgres);
    Ok(())
}

/// What every node shares.
struct SharedEnv {
    database_url: String,
    redis_url: String,
}

fn build_debug() -> Result<()> {
    run(Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["build", "--package", "mit-server", "--bin", "mit"])
        .current_dir(workspace_root()))
}

/// Set once SIGINT, SIGTERM or SIGHUP arrives.
fn stop_flag() -> Result<Arc<AtomicBool>> {
    let stop = Arc::new(AtomicBool::new(false));
    let on_signal = stop.clone();
    ctrlc::set_handler(move || on_signal.store(true, Ordering::SeqCst)).context("cannot handle Ctrl-C")?;
    Ok(stop)
}

/// Starts node `index` on `port` (logging to `.dev/cluster-logs/node-<index>.log`) and waits
/// until it answers `/health`.
fn start_node(dev: &Path, env: &SharedEnv, index: usize, port: u16, stop: &AtomicBool) -> Result<Node> {
    let name = format!("node-{index}");
    let logs = dev.join("cluster-logs");
    std::fs::create_dir_all(&logs)?;
    let log = logs.join(format!("{name}.log"));
    let file = File::create(&log).with_context(|| format!("cannot create {}", log.display()))?;
    let child = node_command(dev, env, index, port)
        .stdout(file.try_clone()?)
        .stderr(file)
        .spawn()
        .with_context(|| format!("cannot start {name}"))?;
    let mut node = Node { name, port, log, child, exited: false };
    wait_healthy(&mut node, stop)?;
    Ok(node)
}

fn node_command(dev: &Path, env: &SharedEnv, index: usize, port: u16) -> Command {
    use std::os::unix::process::CommandExt;
    let name = format!("node-{index}");
    let mut command = Command::new(workspace_root().join("target").join("debug").join("mit"));
    command
        .arg("serve")
        .env("NODE_ID", &name)
        .env("HOST", "127.0.0.1")
        .env("PORT", port.to_string())
        .env("RTC_UDP_PORT", (MEDIA_PORT + index as u16).to_string())
        .env("RTC_TCP_PORT", (MEDIA_PORT + index as u16).to_string())
        .env("RECORDING_PATH", dev.join("cluster-recordings").join(&name))
        .env("DATABASE_URL", &env.database_url)
        .env("REDIS_URL", &env.redis_url)
        .env("JWT_SECRET_KEY", DEV_JWT_SECRET)
        .env("RATE_LIMIT_REQUESTS", "0")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .process_group(0);
    command
}

/// Waits for `/health`, failing early when the node exits (say, its port is taken) or Ctrl-C came.
fn wait_healthy(node: &mut Node, stop: &AtomicBool) -> Result<()> {
    let agent: ureq::Agent = ureq::Agent::config_builder().timeout_global(Some(Duration::from_secs(2))).build().into();
    let health = format!("http://127.0.0.1:{}/health", node.port);
    let child = &mut node.child;
    wait_until(&node.name, 120, || {
        stop.load(Ordering::SeqCst) || child.try_wait().is_ok_and(|s| s.is_some()) || agent.get(&health).call().is_ok()
    })?;
    if stop.load(Ordering::SeqCst) {
        bail!("interrupted while {} was starting", node.name);
    }
    if let Some(status) = node.child.try_wait()? {
        bail!("{} exited before answering /health ({status}; is port {} taken?); its log: {}", node.name, node.port, node.log.display());
    }
    Ok(())
}

fn print_summary(nodes: &[Node], env: &SharedEnv) {
    println!();
    for node in nodes {
        println!("{}  http://127.0.0.1:{port}  (ws://127.0.0.1:{port})  pid {}", node.name, node.child.id(), port = node.port);
    }
    println!("Redis       {}", env.redis_url);
    println!("PostgreSQL  {}", env.database_url);
    if let Some(logs) = nodes.first().and_then(|n| n.log.parent()) {
        println!("node logs   {}/node-<i>.log", logs.display());
    }
    println!();
    println!("kill -9 a node's pid to see its rooms move after NODE_LEASE_SECONDS (default 10);");
    println!("kill -TERM to see it drain; Ctrl-C stops everything");
}

/// Until a stop signal: reports nodes that exit on their own.
fn watch(nodes: &mut [Node], stop: &AtomicBool) {
    while !stop.load(Ordering::SeqCst) {
        for node in nodes.iter_mut().filter(|n| !n.exited) {
            if let Ok(Some(status)) = node.child.try_wait() {
                node.exited = true;
                println!("{} (pid {}) exited: {status}", node.name, node.child.id());
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}
