//! `cargo xtask test`: every check CI runs, in order — lints, the contract, the whole test suite
//! against real PostgreSQL, Redis and S3 (s3s-fs) started here, and Schemathesis against the
//! served spec.

use std::process::Command;
use std::time::Instant;

use anyhow::Result;
use clap::Args;

use crate::contract_cmd::{ContractCommand, run_contract};
use crate::process::run;
use crate::services::{Postgres, Redis, S3};
use crate::tools::{
    CHROMIUM, IPROUTE2, NFTABLES, OPUS_TOOLS, POSTGRESQL, Package, REDIS, VORBIS_TOOLS, ensure_packages, npm_package, s3s_fs,
};
use crate::typescript::typescript_client;

/// playwright-core drives Debian's Chromium (its own browser download is not reachable).
const PLAYWRIGHT_VERSION: &str = "1.64.1";
use crate::{fixtures, schemathesis, workspace_root};

/// Options of `cargo xtask test`.
#[derive(Args)]
pub struct TestOptions {
    /// Skip rustfmt and clippy.
    #[arg(long)]
    pub skip_lints: bool,
    /// Skip Schemathesis.
    #[arg(long)]
    pub skip_schemathesis: bool,
    /// Extra arguments for the test runner (a test name filter, say).
    #[arg(last = true)]
    pub runner_args: Vec<String>,
}

/// The Debian packages the suite uses.
const TEST_PACKAGES: [Package; 7] = [POSTGRESQL, REDIS, OPUS_TOOLS, VORBIS_TOOLS, CHROMIUM, IPROUTE2, NFTABLES];

/// Runs the whole suite; every step's wall time is printed at the end.
pub fn run_tests(options: TestOptions) -> Result<()> {
    let mut timings = Timings::default();
    timings.step("install tools", || ensure_packages(&TEST_PACKAGES))?;
    let playwright = timings.step("install playwright-core", || npm_package("playwright-core", PLAYWRIGHT_VERSION))?;
    let s3s_fs = timings.step("install s3s-fs", s3s_fs)?;
    let fixture = timings.step("media fixtures", fixtures::opus_fixture)?;
    if !options.skip_lints {
        timings.step("rustfmt", || run(cargo().args(["fmt", "--all", "--check"])))?;
        timings.step("clippy", || run(cargo().args(["clippy", "--workspace", "--all-targets", "--quiet", "--", "-D", "warnings"])))?;
    }
    timings.step("contract check", || run_contract(ContractCommand::Check { dir: None, base: None, allow_breaking: false }))?;
    timings.step("schema fresh", || crate::schema_cmd::run_schema(false))?;
    let ts_client = timings.step("typescript client", typescript_client)?;
    // The crash test kills a real `mit` process. The same flags as the contract check's build, so
    // features resolve alike and nothing is compiled twice.
    timings.step("build mit", || run(cargo().args(["build", "--quiet", "--workspace", "--all-targets"])))?;
    let postgres = timings.step("start PostgreSQL", || Postgres::start(&scratch_dir("postgres"), true))?;
    let redis = timings.step("start Redis", Redis::start)?;
    let s3 = timings.step("start S3", || S3::start(&scratch_dir("s3")))?;
    let env = [
        ("MIT_TEST_POSTGRES_URL", postgres.url("postgres")),
        ("MIT_TEST_REDIS_URL", redis.url()),
        ("MIT_TEST_S3_ENDPOINT", s3.endpoint()),
        ("MIT_TEST_S3_ACCESS_KEY", s3.access_key().to_string()),
        ("MIT_TEST_S3_SECRET_KEY", s3.secret_key().to_string()),
        ("MIT_TEST_S3_BUCKET", s3.bucket().to_string()),
        ("MIT_TEST_OPUS_FIXTURE", fixture.display().to_string()),
        ("MIT_TEST_PLAYWRIGHT", playwright.display().to_string()),
        ("MIT_TEST_CHROMIUM", CHROMIUM.provides.to_string()),
        ("MIT_TEST_SERVER_BIN", server_binary()),
        ("MIT_TEST_S3S_FS", s3s_fs.display().to_string()),
        ("MIT_TEST_TS_CLIENT", ts_client.display().to_string()),
    ];
    timings.step("test suite", || run(test_runner(&options.runner_args).envs(env.iter().map(|(k, v)| (k, v)))))?;
    if !options.skip_schemathesis {
        timings.step("schemathesis", || schemathesis::run_schemathesis(&postgres))?;
    }
    drop(s3);
    drop(redis);
    drop(postgres);
    timings.report();
    Ok(())
}

/// Starts the test services, prints `export …` lines for them, and waits for Ctrl-C.
pub fn hold_services() -> Result<()> {
    ensure_packages(&TEST_PACKAGES)?;
    let fixture = fixtures::opus_fixture()?;
    let playwright = npm_package("playwright-core", PLAYWRIGHT_VERSION)?;
    let ts_client = typescript_client()?;
    let postgres = Postgres::start(&scratch_dir("postgres"), true)?;
    let redis = Redis::start()?;
    let s3 = S3::start(&scratch_dir("s3"))?;
    println!("export MIT_TEST_POSTGRES_URL={}", postgres.url("postgres"));
    println!("export MIT_TEST_REDIS_URL={}", redis.url());
    println!("export MIT_TEST_S3_ENDPOINT={}", s3.endpoint());
    println!("export MIT_TEST_S3_ACCESS_KEY={}", s3.access_key());
    println!("export MIT_TEST_S3_SECRET_KEY={}", s3.secret_key());
    println!("export MIT_TEST_S3_BUCKET={}", s3.bucket());
    println!("export MIT_TEST_OPUS_FIXTURE={}", fixture.display());
    println!("export MIT_TEST_PLAYWRIGHT={}", playwright.display());
    println!("export MIT_TEST_CHROMIUM={}", CHROMIUM.provides);
    println!("export MIT_TEST_SERVER_BIN={}", server_binary());
    println!("export MIT_TEST_S3S_FS={}", s3s_fs()?.display());
    println!("export MIT_TEST_TS_CLIENT={}", ts_client.display());
    eprintln!("services are up; press Ctrl-C (or close stdin) to stop them");
    let (stop, stopped) = std::sync::mpsc::channel::<()>();
    let on_signal = stop.clone();
    ctrlc_or_eof(move || {
        let _ = on_signal.send(());
    });
    drop(stop);
    let _ = stopped.recv();
    drop(s3);
    drop(redis);
    drop(postgres);
    Ok(())
}

/// Calls `stop` once stdin closes; Ctrl-C kills the process group, and the services' Drop
/// cannot run then, so closing stdin is the clean way out.
fn ctrlc_or_eof(stop: impl FnOnce() + Send + 'static) {
    std::thread::spawn(move || {
        let mut sink = String::new();
        while std::io::stdin().read_line(&mut sink).is_ok_and(|n| n > 0) {
            sink.clear();
        }
        stop();
    });
}

/// The debug `mit` binary.
fn server_binary() -> String {
    workspace_root().join("target").join("debug").join("mit").display().to_string()
}

fn cargo() -> Command {
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    command.current_dir(workspace_root());
    command
}

/// cargo-nextest when installed (one process per test, parallel), else `cargo test`.
fn test_runner(extra: &[String]) -> Command {
    let mut command = cargo();
    let has_nextest = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["nextest", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if has_nextest {
        command.args(["nextest", "run", "--workspace", "--no-fail-fast"]);
    } else {
        command.args(["test", "--workspace", "--no-fail-fast"]);
    }
    command.args(extra);
    command
}

/// A directory for throwaway service data, unique to this run.
pub fn scratch_dir(name: &str) -> std::path::PathBuf {
    workspace_root().join("target").join("mit-services").join(format!("{name}-{}", std::process::id()))
}

#[derive(Default)]
struct Timings {
    steps: Vec<(&'static str, f64)>,
    started: Option<Instant>,
}

impl Timings {
    fn step<T>(&mut self, name: &'static str, work: impl FnOnce() -> Result<T>) -> Result<T> {
        self.started.get_or_insert_with(Instant::now);
        eprintln!("==> {name}");
        let started = Instant::now();
        let outcome = work();
        self.steps.push((name, started.elapsed().as_secs_f64()));
        outcome
    }

    fn report(&self) {
        eprintln!("\nwall time per step:");
        for (name, seconds) in &self.steps {
            eprintln!("  {name:<20} {seconds:>7.1} s");
        }
        if let Some(started) = self.started {
            eprintln!("  {:<20} {:>7.1} s", "total", started.elapsed().as_secs_f64());
        }
    }
}
