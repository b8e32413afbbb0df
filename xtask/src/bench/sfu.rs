//! The SFU benchmark: the release server on throwaway PostgreSQL, the `sfu_load` generator
//! (webrtc-rs peers in one process) as P publishers × S subscribers at 50 packets/s each,
//! optionally a `perf` profile of the server during the run, and optionally the same load
//! through Janus for comparison.

use std::process::Command;

use anyhow::{Context, Result};
use serde_json::Value;

use super::janus::{self, JANUS, JanusServer};
use super::mediasoup::MediasoupServer;
use super::server::{ReleaseServer, build_release};
use crate::process::{on_path, output};
use crate::services::Postgres;
use crate::test_cmd::scratch_dir;
use crate::tools::{IPROUTE2, POSTGRESQL, Package, ensure_packages};
use crate::workspace_root;

const PERF: Package = Package { name: "linux-perf", provides: "perf" };

/// What to run.
pub struct SfuRun {
    /// Publishing participants.
    pub publishers: usize,
    /// Receive-only participants.
    pub subscribers: usize,
    /// Seconds of sending.
    pub seconds: u32,
    /// Also run with recording on, for comparison.
    pub compare_recording: bool,
    /// Sample the server with `perf` during the run.
    pub profile: bool,
    /// Publishers send a camera too.
    pub video: bool,
    /// The other SFUs to run the same load through.
    pub against: Vec<Against>,
}

/// The SFUs `--against` runs the same load through.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Against {
    /// Janus VideoRoom (Debian `janus`).
    Janus,
    /// mediasoup (npm `mediasoup`, its worker built here against Debian's libraries).
    Mediasoup,
}

/// Runs the benchmark (once, or without and with recording) and prints the table.
pub fn run_sfu(options: SfuRun) -> Result<()> {
    ensure_packages(&[POSTGRESQL])?;
    if options.profile {
        ensure_packages(&[PERF])?;
    }
    if options.against.contains(&Against::Janus) {
        ensure_packages(&[JANUS, IPROUTE2])?;
    }
    build_release(&[("mit-server", "mit"), ("mit-tests", "sfu_load")])?;
    let mut reports = vec![one_run(&options, false)?];
    if options.compare_recording {
        reports.push(one_run(&options, true)?);
    }
    for other in &options.against {
        reports.push(match other {
            Against::Janus => janus_run(&options)?,
            Against::Mediasoup => mediasoup_run(&options)?,
        });
    }
    let load = if options.video { "Opus-sized at 50/s and 1,200-byte video at 100/s" } else { "Opus-sized at 50/s" };
    println!("\nSFU benchmark: release build, {} cores, loopback, per publisher: {load}", super::cores());
    println!("(the load generator's {} webrtc-rs peers share the machine with the server)\n", options.publishers + options.subscribers);
    println!(
        "{:<10} {:<10} {:>5} {:>5} {:>12} {:>8} {:>10} {:>10} {:>12} {:>10} {:>14} {:>12} {:>12}",
        "sfu",
        "recording",
        "pub",
        "sub",
        "fwd pkt/s",
        "loss %",
        "p50 ms",
        "p99 ms",
        "CPU % core",
        "CPU µs/pkt",
        "RSS/peer KiB",
        "RSS peak MiB",
        "disk KiB/s"
    );
    for report in &reports {
        let f = |k: &str| report[k].as_f64().unwrap_or(0.0);
        let per_packet = if f("forwarded_per_second") > 0.0 {
            f("server_cpu_percent_of_one_core") / 100.0 * 1e6 / f("forwarded_per_second")
        } else {
            0.0
        };
        println!(
            "{:<10} {:<10} {:>5} {:>5} {:>12.0} {:>8.3} {:>10.2} {:>10.2} {:>12.1} {:>10.1} {:>14} {:>12.1} {:>12.1}",
            report["sfu"].as_str().unwrap_or("mit"),
            if report["recording"].as_bool() == Some(true) { "on" } else { "off" },
            report["publishers"].as_u64().unwrap_or(0),
            report["subscribers"].as_u64().unwrap_or(0),
            f("forwarded_per_second"),
            f("loss_percent"),
            f("latency_p50_us") / 1000.0,
            f("latency_p99_us") / 1000.0,
            f("server_cpu_percent_of_one_core"),
            per_packet,
            report["server_rss_per_participant_kib"].as_u64().unwrap_or(0),
            f("server_rss_peak_kib") / 1024.0,
            f("server_disk_write_bytes_per_second") / 1024.0,
        );
    }
    if let [off, on, ..] = reports.as_slice()
        && options.compare_recording
    {
        let tracks = options.publishers.max(1) as f64;
        let delta = |k: &str| on[k].as_f64().unwrap_or(0.0) - off[k].as_f64().unwrap_or(0.0);
        println!(
            "\nrecording overhead per recorded track: {:+.2} % of a core, {:.1} KiB/s written to disk",
            delta("server_cpu_percent_of_one_core") / tracks,
            on["server_disk_write_bytes_per_second"].as_f64().unwrap_or(0.0) / 1024.0 / tracks,
        );
    }
    Ok(())
}

fn one_run(options: &SfuRun, record: bool) -> Result<Value> {
    let postgres = Postgres::start(&scratch_dir("bench-sfu-postgres"), true)?;
    postgres.ensure_database("bench")?;
    let server = ReleaseServer::start(&postgres.url("bench"), &[("ROOM_CAPACITY", "500"), ("DATABASE_POOL_SIZE", "16")])?;
    let dir = workspace_root().join("target").join("bench-sfu");
    std::fs::create_dir_all(&dir)?;
    let perf_data = dir.join(if record { "perf-recording.data" } else { "perf.data" });
    let load = workspace_root().join("target").join("release").join("sfu_load");
    let mut command = Command::new(load);
    command.args(["--base-url", &server.base_url]);
    load_args(&mut command, options, server.pid());
    if record {
        command.arg("--record");
    }
    let profile = options.profile && on_path("perf");
    if profile {
        command.arg("--perf-output").arg(&perf_data);
    }
    let report = report_of(command)?;
    if profile {
        report_profile(&perf_data, &dir.join(if record { "profile-recording.txt" } else { "profile.txt" }))?;
    }
    Ok(report)
}

/// The load every SFU gets: who publishes and listens, for how long, with or without video,
/// measured on `server_pid`.
fn load_args(command: &mut Command, options: &SfuRun, server_pid: u32) {
    command.args(["--publishers", &options.publishers.to_string(), "--subscribers", &options.subscribers.to_string()]).args([
        "--seconds",
        &options.seconds.to_string(),
        "--server-pid",
        &server_pid.to_string(),
    ]);
    if options.video {
        command.arg("--video");
    }
}

/// The same load through Janus VideoRoom, the load generator beside it in its namespace.
fn janus_run(options: &SfuRun) -> Result<Value> {
    let server = JanusServer::start(&scratch_dir("bench-janus"))?;
    let load = workspace_root().join("target").join("release").join("sfu_load");
    let mut command = server.command(&load);
    command.args(["--janus-url", &server.url(), "--bind-ip", janus::ADDRESS]);
    load_args(&mut command, options, server.pid());
    report_of(command)
}

/// The same load through mediasoup on loopback, as Mit's.
fn mediasoup_run(options: &SfuRun) -> Result<Value> {
    let server = MediasoupServer::start()?;
    let load = workspace_root().join("target").join("release").join("sfu_load");
    let mut command = Command::new(load);
    command.args(["--mediasoup-url", &server.url()]);
    load_args(&mut command, options, server.worker_pid());
    report_of(command)
}

/// Runs the load generator and reads its one-line JSON report.
fn report_of(mut command: Command) -> Result<Value> {
    let text = output(command.env("RUST_LOG", "error"))?;
    let line = text.lines().rev().find(|l| l.starts_with('{')).context("sfu_load printed no report")?;
    println!("{line}");
    Ok(serde_json::from_str(line)?)
}

fn report_profile(data: &std::path::Path, text: &std::path::Path) -> Result<()> {
    let report = output(
        Command::new("perf")
            .args(["report", "--stdio", "--no-children", "--percent-limit", "1", "--sort", "dso,symbol", "-g", "none", "-i"])
            .arg(data),
    )?;
    std::fs::write(text, &report)?;
    println!("profile written to {}", text.display());
    Ok(())
}
