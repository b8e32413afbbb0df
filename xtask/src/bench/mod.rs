//! `cargo xtask bench …`: load tests against release builds on throwaway services. Results are
//! rates and latency percentiles printed as a table, with the machine's core count.

mod http_seed;
mod rest;

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
    },
}

/// Runs one benchmark.
pub fn run_bench(command: BenchCommand) -> Result<()> {
    match command {
        BenchCommand::Rest { seconds, connections } => rest::run_rest(seconds, connections),
    }
}

/// Online CPUs.
pub fn cores() -> usize {
    std::thread::available_parallelism().map(usize::from).unwrap_or(1)
}
