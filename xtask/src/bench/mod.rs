//! `cargo xtask bench …`: load tests against release builds on throwaway services. Results are
//! rates and latency percentiles printed as a table, with the machine's core count.

mod events;
mod http_seed;
mod janus;
mod knowledge;
mod mediasoup;
mod rest;
mod rest_against;
mod review;
mod server;
mod sfu;

use anyhow::Result;
use clap::Subcommand;

/// The benchmarks.
#[derive(Subcommand)]
pub enum BenchCommand {
    /// List, get and create meetings, and sign in, at 64 connections (wrk).
    Rest {
        /// Seconds per scenario.
        #[arg(long, default_value_t = 15)]
        seconds: u32,
        /// Concurrent connections.
        #[arg(long, default_value_t = 64)]
        connections: u32,
        /// Compare with this baseline (e.g. ../shared/baselines/fastapi-mit), driving both with
        /// the `rest-load/load.sh` beside it, on one PostgreSQL cluster.
        #[arg(long)]
        against: Option<std::path::PathBuf>,
    },
    /// P publishers × S subscribers through the SFU (webrtc-rs peers, synthetic Opus at 50 pps).
    Sfu {
        /// Publishing participants.
        #[arg(long, default_value_t = 4)]
        publishers: usize,
        /// Receive-only participants.
        #[arg(long, default_value_t = 16)]
        subscribers: usize,
        /// Seconds of sending.
        #[arg(long, default_value_t = 20)]
        seconds: u32,
        /// Run a second time with recording on and compare.
        #[arg(long)]
        compare_recording: bool,
        /// Sample the server with `perf` (Debian `linux-perf`) and write the profile.
        #[arg(long)]
        profile: bool,
        /// Publishers also send video-like load: 1,200-byte packets at 100/s (about 1 Mbit/s).
        #[arg(long)]
        video: bool,
        /// Also run the same load through other SFUs (`janus`, `mediasoup`, or both:
        /// `janus,mediasoup`) and print them side by side.
        #[arg(long, value_enum, value_delimiter = ',')]
        against: Vec<sfu::Against>,
    },
    /// Search, list, history and "as of" reads over 100,000 facts, and merges racing on hot facts.
    Knowledge {
        /// Seconds per scenario.
        #[arg(long, default_value_t = 15)]
        seconds: u32,
        /// Concurrent connections.
        #[arg(long, default_value_t = 64)]
        connections: u32,
    },
    /// Reviewers commenting, suggesting and voting on one review while event sockets listen.
    Review {
        /// Reviewers acting at once (the host included).
        #[arg(long, default_value_t = 20)]
        reviewers: usize,
        /// Event sockets listening to the review.
        #[arg(long, default_value_t = 200)]
        listeners: usize,
        /// Lines of the minutes.
        #[arg(long, default_value_t = 2000)]
        lines: usize,
        /// Seconds of load.
        #[arg(long, default_value_t = 20)]
        seconds: u32,
    },
    /// Event fan-out across nodes: writers comment on one review through node-0 while event
    /// sockets spread over all nodes listen (so events cross nodes through Redis); counts lost,
    /// duplicate and out-of-order deliveries and the delay from commit to socket per node.
    Events {
        /// `mit serve` nodes on one PostgreSQL and one Redis.
        #[arg(long, default_value_t = 2)]
        nodes: usize,
        /// Event sockets, spread round-robin over the nodes.
        #[arg(long, default_value_t = 1000)]
        sockets: usize,
        /// Concurrent writers posting line comments through node-0.
        #[arg(long, default_value_t = 4)]
        writers: usize,
        /// Seconds of writing.
        #[arg(long, default_value_t = 15)]
        seconds: u32,
    },
}

/// Runs one benchmark.
pub fn run_bench(command: BenchCommand) -> Result<()> {
    match command {
        BenchCommand::Rest { seconds, against: Some(baseline), .. } => rest_against::run_against(&baseline, seconds),
        BenchCommand::Rest { seconds, connections, against: None } => rest::run_rest(seconds, connections),
        BenchCommand::Sfu { publishers, subscribers, seconds, compare_recording, profile, video, against } => {
            sfu::run_sfu(sfu::SfuRun { publishers, subscribers, seconds, compare_recording, profile, video, against })
        }
        BenchCommand::Knowledge { seconds, connections } => knowledge::run_knowledge(seconds, connections),
        BenchCommand::Review { reviewers, listeners, lines, seconds } => {
            review::run_review(review::ReviewRun { reviewers, listeners, lines, seconds })
        }
        BenchCommand::Events { nodes, sockets, writers, seconds } => {
            events::run_events(events::EventsRun { nodes, sockets, writers, seconds })
        }
    }
}

/// Online CPUs.
pub fn cores() -> usize {
    std::thread::available_parallelism().map(usize::from).unwrap_or(1)
}
