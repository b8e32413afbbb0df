//! The review benchmark: the release server on throwaway PostgreSQL and Redis (events fan out
//! through it, as in production), and the `review_load` generator: reviewers who attended a
//! meeting comment, suggest and vote on its 2,000-line review at once while event sockets listen.

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
pub struct ReviewRun {
    /// Reviewers acting at once (the host included).
    pub reviewers: usize,
    /// Event sockets listening.
    pub listeners: usize,
    /// Lines of the minutes.
    pub lines: usize,
    /// Seconds of load.
    pub seconds: u32,
}

/// Runs the benchmark and prints the table.
pub fn run_review(options: ReviewRun) -> Result<()> {
    ensure_packages(&[POSTGRESQL, REDIS])?;
    build_release(&[("mit-server", "mit"), ("mit-tests", "review_load")])?;
    let postgres = Postgres::start(&scratch_dir("bench-review-postgres"), true)?;
    postgres.ensure_database("bench")?;
    let redis = Redis::start()?;
    let server = ReleaseServer::start(&postgres.url("bench"), &[("REDIS_URL", &redis.url()), ("DATABASE_POOL_SIZE", "16")])?;
    let load = workspace_root().join("target").join("release").join("review_load");
    let text = output(
        Command::new(load)
            .args(["--base-url", &server.base_url])
            .args(["--reviewers", &options.reviewers.to_string(), "--listeners", &options.listeners.to_string()])
            .args(["--lines", &options.lines.to_string(), "--seconds", &options.seconds.to_string()])
            .args(["--server-pid", &server.pid().to_string()])
            .env("RUST_LOG", "error"),
    )?;
    let line = text.lines().rev().find(|l| l.starts_with('{')).context("review_load printed no report")?;
    println!("{line}");
    print_report(&serde_json::from_str(line)?);
    Ok(())
}

fn print_report(report: &Value) {
    let n = |v: &Value, k: &str| v[k].as_f64().unwrap_or(0.0);
    println!(
        "\nReview benchmark: release build, {} cores, loopback, events through Redis; {} reviewers on a {}-line review, {} event sockets listening",
        super::cores(),
        report["reviewers"],
        report["lines"],
        report["listeners"]
    );
    println!("(the load generator shares the machine with the server and PostgreSQL)\n");
    println!("{:<24} {:>10} {:>10} {:>10} {:>10} {:>10}", "operation", "requests", "req/s", "409s", "p50 ms", "p99 ms");
    for op in report["operations"].as_array().into_iter().flatten() {
        println!(
            "{:<24} {:>10} {:>10.1} {:>10} {:>10.2} {:>10.2}",
            op["operation"].as_str().unwrap_or("?"),
            op["requests"].as_u64().unwrap_or(0),
            n(op, "per_second"),
            op["conflicts"].as_u64().unwrap_or(0),
            n(op, "p50_us") / 1000.0,
            n(op, "p99_us") / 1000.0,
        );
    }
    println!(
        "\nevents delivered to sockets: {} ({:.0}/s), commit → socket p50 {:.2} ms, p99 {:.2} ms",
        report["events_delivered"],
        n(report, "events_delivered") / n(report, "seconds").max(1.0),
        n(report, "event_delay_p50_us") / 1000.0,
        n(report, "event_delay_p99_us") / 1000.0,
    );
    println!(
        "CPU during the load, in % of one core: server {:.0}, load generator {:.0}, whole machine {:.0} (PostgreSQL and Redis are most of the rest)",
        n(report, "server_cpu_percent_of_one_core"),
        n(report, "generator_cpu_percent_of_one_core"),
        n(report, "machine_cpu_percent_of_one_core"),
    );
}
