//! `cargo xtask`: the project's automation. Every CI step is one of these commands.

mod bench;
mod cluster_cmd;
mod contract_cmd;
mod dev_cmd;
mod fixtures;
mod process;
mod schema_cmd;
mod schemathesis;
mod services;
mod test_cmd;
mod tools;
mod typescript;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cargo xtask", about = "Mit project automation")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Work with the OpenAPI contract in api-contract/.
    #[command(subcommand)]
    Contract(contract_cmd::ContractCommand),
    /// Run the server on dev defaults (its own PostgreSQL in .dev/, no other service).
    Dev {
        /// HTTP port.
        #[arg(long, default_value_t = 8000)]
        port: u16,
    },
    /// Run a local cluster: PostgreSQL, Redis and N `mit serve` nodes on dev defaults, to see room
    /// placement and failover.
    Cluster {
        /// How many nodes (`node-0`, `node-1`, …).
        #[arg(long, default_value_t = 2)]
        nodes: usize,
        /// HTTP port of `node-0`; `node-<i>` listens on this port + i.
        #[arg(long, default_value_t = 8000)]
        port: u16,
    },
    /// Run every check CI runs: lints, contract, tests against real services (PostgreSQL, Redis,
    /// S3 via s3s-fs), Schemathesis.
    Test(test_cmd::TestOptions),
    /// Run a benchmark against a release build.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// Start throwaway test services (PostgreSQL, Redis, S3 via s3s-fs), print their environment,
    /// and keep them up until Ctrl-C
    /// (to run single tests with `cargo nextest run` or `cargo test` in another shell).
    Services,
    /// Regenerate crates/mit-store/src/schema.rs from migrations/ with `diesel print-schema`
    /// (without --write: fail if the committed file is stale).
    Schema {
        /// Write the file instead of checking it.
        #[arg(long)]
        write: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Contract(command) => contract_cmd::run_contract(command),
        Command::Dev { port } => dev_cmd::run_dev(port),
        Command::Cluster { nodes, port } => cluster_cmd::run_cluster(nodes, port),
        Command::Test(options) => test_cmd::run_tests(options),
        Command::Services => test_cmd::hold_services(),
        Command::Bench(command) => bench::run_bench(command),
        Command::Schema { write } => schema_cmd::run_schema(write),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace root (the parent of `xtask/`).
pub fn workspace_root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(PathBuf::from).unwrap_or(manifest)
}
