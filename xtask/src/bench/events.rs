//! The events benchmark: N release `mit serve` nodes of one deployment (one throwaway PostgreSQL,
//! one Redis, distinct `NODE_ID`s and recording directories) and the `events_load` generator:
//! writers comment on one review through node-0 while event sockets spread over every node
//! listen, so the events of node-0's commits must reach the other nodes' sockets through Redis.

use std::process::Command;

use anyhow::{Context, Result};
use serde_json::Value;

use super::server::{ReleaseServer, build_release};
use crate::process::output;
use crate::services::{Postgres, Redis};
use crate::test_cmd::scratch_dir;
use crate::tools::{POSTGRESQL, REDIS, ensure_packages};
use crate::workspace_root;

/// What to run.
pub struct EventsRun {
    /// Nodes.
    pub nodes: usize,
    /// Event sockets, spread over the nodes.
    pub sockets: usize,
    /// Writers posting through node-0.
    pub writers: usize,
    /// Seconds of writing.
    pub seconds: u32,
}

/// Runs the benchmark and prints the table.
pub fn run_events(options: EventsRun) -> Result<()> {
    raise_open_files_limit();
    ensure_packages(&[POSTGRESQL, REDIS])?;
    build_release(&[("mit-server", "mit"), ("mit-tests", "events_load")])?;
    let postgres = Postgres::start(&scratch_dir("bench-events-postgres"), true)?;
    postgres.ensure_database("bench")?;
    let redis = Redis::start()?;
    let servers = start_nodes(&postgres.url("bench"), &redis.url(), options.nodes.max(1))?;
    let urls: Vec<&str> = servers.iter().map(|s| s.base_url.as_str()).collect();
    let pids: Vec<String> = servers.iter().map(|s| s.pid().to_string()).collect();
    let load = workspace_root().join("target").join("release").join("events_load");
    let text = output(
        Command::new(load)
            .args(["--nodes", &urls.join(","), "--server-pids", &pids.join(",")])
            .args(["--sockets", &options.sockets.to_string(), "--writers", &options.writers.to_string()])
            .args(["--seconds", &options.seconds.to_string()])
            .env("RUST_LOG", "error"),
    )?;
    let line = text.lines().rev().find(|l| l.starts_with('{')).context("events_load printed no report")?;
    println!("{line}");
    print_report(&serde_json::from_str(line)?);
    Ok(())
}

/// A thousand sockets are a thousand descriptors on each side; the servers inherit our limit.
fn raise_open_files_limit() {
    if let Err(error) = rlimit::increase_nofile_limit(u64::MAX) {
        eprintln!("cannot raise the open files limit: {error}");
    }
}

/// `count` nodes on one database and one Redis, `node-0` first.
fn start_nodes(database_url: &str, redis_url: &str, count: usize) -> Result<Vec<ReleaseServer>> {
    (0..count)
        .map(|i| {
            let node = format!("node-{i}");
            let recordings = scratch_dir(&format!("bench-events-recordings-{node}")).display().to_string();
            let env = [("REDIS_URL", redis_url), ("NODE_ID", &node), ("RECORDING_PATH", &recordings), ("DATABASE_POOL_SIZE", "16")];
            ReleaseServer::start(database_url, &env).with_context(|| format!("starting {node}"))
        })
        .collect()
}

fn print_report(report: &Value) {
    let n = |v: &Value, k: &str| v[k].as_f64().unwrap_or(0.0);
    println!(
        "\nEvents benchmark: release build, {} cores, loopback, {} nodes on one PostgreSQL and one Redis; {} event sockets on one review, spread over the nodes; {} writers commenting through node-0 for {:.1} s",
        report["cores"],
        report["nodes"],
        report["sockets"],
        report["writers"],
        n(report, "seconds"),
    );
    println!("(the load generator shares the machine with the servers, PostgreSQL and Redis)\n");
    println!(
        "published events        {} ({:.1}/s; POST p50 {:.2} ms, p99 {:.2} ms; {} failed)",
        report["events_published"],
        n(report, "events_per_second"),
        n(report, "publish_p50_us") / 1000.0,
        n(report, "publish_p99_us") / 1000.0,
        report["publish_failures"],
    );
    println!(
        "deliveries              {} of {} expected ({:.0}/s over {:.1} s)",
        report["deliveries"],
        report["expected_deliveries"],
        n(report, "deliveries_per_second"),
        n(report, "delivery_seconds"),
    );
    println!(
        "lost {}, duplicates {}, out of order {}, resyncs {}, sockets closed early {}\n",
        report["lost"], report["duplicates"], report["out_of_order"], report["resyncs"], report["sockets_closed_early"],
    );
    print_nodes(report);
    println!(
        "\nCPU from the first write to the last delivery, in % of one core: load generator {:.0}, whole machine {:.0} (PostgreSQL and Redis are most of the rest)",
        n(report, "generator_cpu_percent_of_one_core"),
        n(report, "machine_cpu_percent_of_one_core"),
    );
}

fn print_nodes(report: &Value) {
    let n = |v: &Value, k: &str| v[k].as_f64().unwrap_or(0.0);
    println!(
        "{:<18} {:>8} {:>11} {:>8} {:>10} {:>10} {:>10} {:>12}",
        "sockets on", "sockets", "deliveries", "lost", "p50 ms", "p99 ms", "max ms", "server CPU %"
    );
    let row = |label: String, v: &Value, cpu: String| {
        println!(
            "{:<18} {:>8} {:>11} {:>8} {:>10.2} {:>10.2} {:>10.2} {:>12}",
            label,
            v["sockets"].as_u64().unwrap_or(0),
            v["deliveries"].as_u64().unwrap_or(0),
            v["lost"].as_i64().unwrap_or(0),
            n(v, "delay_p50_us") / 1000.0,
            n(v, "delay_p99_us") / 1000.0,
            n(v, "delay_max_us") / 1000.0,
            cpu,
        );
    };
    for node in report["per_node"].as_array().into_iter().flatten() {
        let writing = if node["writing_node"].as_bool().unwrap_or(false) { " (writing)" } else { "" };
        let label = format!("node-{}{writing}", node["node"]);
        row(label, node, format!("{:.0}", n(node, "server_cpu_percent_of_one_core")));
    }
    row("all".into(), report, String::new());
}
