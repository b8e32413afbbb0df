//! `cargo xtask bench rest --against <baseline>`: Mit and the seed's FastAPI stack side by side, in
//! one sitting, on one PostgreSQL cluster, driven by the baseline's own load script
//! (`rest-load/load.sh`, beside the baseline folder). Database CPU per GET is read from `/proc`
//! (every `postgres` process) around a run of the `get` scenario alone.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use super::cores;
use super::rest::WRK;
use super::server::{ReleaseServer, build_release};
use crate::process::free_port;
use crate::services::{Postgres, wait_until};
use crate::test_cmd::scratch_dir;
use crate::tools::{POSTGRESQL, Package, ensure_packages, tools_dir};
use crate::workspace_root;

const CURL: Package = Package { name: "curl", provides: "curl" };

/// One scenario's line of `load.sh`.
#[derive(Debug, Clone, Copy)]
struct Row {
    rate: f64,
    p50: f64,
    p99: f64,
    /// No errors (non-2xx, timeouts) in the run.
    valid: bool,
}

/// Rows by scenario.
type Rows = BTreeMap<String, Row>;

/// One server's figures.
#[derive(Default)]
struct Figures {
    rows: Rows,
    db_us_per_get: Option<f64>,
}

/// Runs both servers through the same loads and prints the table.
pub fn run_against(baseline: &Path, seconds: u32) -> Result<()> {
    let baseline = baseline.canonicalize().with_context(|| format!("no baseline at {}", baseline.display()))?;
    let load = baseline.parent().map(|parent| parent.join("rest-load").join("load.sh")).context("the baseline has no parent folder")?;
    if !load.exists() {
        bail!("{} is missing: the load script sits beside the baseline", load.display());
    }
    ensure_packages(&[POSTGRESQL, WRK, CURL])?;
    build_release(&[("mit-server", "mit")])?;
    let postgres = Postgres::start(&scratch_dir("bench-against-postgres"), true)?;
    postgres.ensure_database("bench_fastapi")?;
    postgres.ensure_database("bench_mit")?;

    let fastapi = FastApi::start(&baseline, &postgres.url("bench_fastapi"))?;
    eprintln!("FastAPI baseline at {}", fastapi.base_url);
    let baseline_figures = measure(&load, &fastapi.base_url, seconds)?;
    drop(fastapi);

    let mit = ReleaseServer::start(&postgres.url("bench_mit"), &[("DATABASE_POOL_SIZE", "32"), ("LOGIN_MAX_FAILURES", "1000000")])?;
    eprintln!("Mit at {}", mit.base_url);
    let mit_figures = measure(&load, &mit.base_url, seconds)?;
    drop(mit);

    print_table(&baseline_figures, &mit_figures, seconds);
    Ok(())
}

/// Every scenario of the load script against `base`.
fn measure(load: &Path, base: &str, seconds: u32) -> Result<Figures> {
    let mut figures = Figures::default();
    let before = postgres_cpu_seconds();
    let get_dir = scratch_dir("rest-load-get");
    let lines = load_sh(load, base, seconds, 64, "get", &get_dir)?;
    let spent = postgres_cpu_seconds() - before;
    let requests = requests_in(&get_dir.join("get.wrk.txt")) + requests_in(&get_dir.join("get.warmup.txt"));
    figures.db_us_per_get = (requests > 0).then(|| spent * 1e6 / requests as f64);
    figures.rows.extend(lines);
    let lines = load_sh(load, base, seconds, 64, "list create login", &scratch_dir("rest-load-64"))?;
    figures.rows.extend(lines);
    let lines = load_sh(load, base, seconds, 1000, "get list", &scratch_dir("rest-load-1000"))?;
    figures.rows.extend(lines.into_iter().map(|(name, row)| (format!("{name}@1000"), row)));
    Ok(figures)
}

/// Runs `load.sh` for `scenarios`; returns its lines by scenario (marked invalid when the script
/// reported errors for them).
fn load_sh(load: &Path, base: &str, seconds: u32, connections: u32, scenarios: &str, out_dir: &Path) -> Result<Rows> {
    std::fs::create_dir_all(out_dir)?;
    eprintln!("load.sh {scenarios} at {connections} connections against {base}");
    let output = Command::new("bash")
        .arg(load)
        .arg(base)
        .env("DURATION", format!("{seconds}s"))
        .env("CONNECTIONS", connections.to_string())
        .env("SCENARIOS", scenarios)
        .env("OUT_DIR", out_dir)
        .output()
        .context("cannot run load.sh")?;
    let valid = output.status.success();
    if output.status.code() == Some(2) {
        bail!("load.sh could not set up against {base}: {}", String::from_utf8_lossy(&output.stderr));
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let mut rows = BTreeMap::new();
    for line in String::from_utf8_lossy(&output.stdout).lines().filter(|line| !line.starts_with('#')) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if let [name, rate, p50, p99] = fields[..] {
            let clean = !stderr.contains(&format!("{name}: ERRORS"));
            let parse = |text: &str| text.parse::<f64>().unwrap_or(f64::NAN);
            rows.insert(name.to_string(), Row { rate: parse(rate), p50: parse(p50), p99: parse(p99), valid: valid || clean });
        }
    }
    Ok(rows)
}

/// `requests=N` of the report line in one raw wrk output.
fn requests_in(path: &Path) -> u64 {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.split_whitespace().find_map(|word| word.strip_prefix("requests=")).and_then(|n| n.parse().ok()).unwrap_or(0)
}

/// CPU seconds every `postgres` process has used so far.
fn postgres_cpu_seconds() -> f64 {
    // The kernel's clock tick, through `getconf` rather than a libc binding.
    let ticks_per_second = Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse::<f64>().ok())
        .unwrap_or(100.0);
    let Ok(entries) = std::fs::read_dir("/proc") else { return 0.0 };
    let ticks: u64 = entries
        .filter_map(Result::ok)
        .filter_map(|entry| std::fs::read_to_string(entry.path().join("stat")).ok())
        .filter_map(|stat| {
            let (name, rest) = stat.split_once(" (")?.1.rsplit_once(") ")?;
            let fields: Vec<&str> = rest.split_whitespace().collect();
            let cpu = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
            (name == "postgres").then_some(cpu)
        })
        .sum();
    ticks as f64 / ticks_per_second
}

fn print_table(baseline: &Figures, mit: &Figures, seconds: u32) {
    println!("\nREST side by side: release Mit vs the seed's FastAPI (uvicorn, 2 workers), one PostgreSQL cluster (fsync off),");
    println!("the baseline's load.sh (wrk, 2 threads, {seconds} s per scenario after a 3 s warm-up), {} cores, one sitting\n", cores());
    println!("{:<26} {:>16} {:>16} {:>8}", "scenario", "FastAPI", "Mit", "ratio");
    let scenarios = [
        ("get", "GET /meetings/{id}"),
        ("list", "GET /meetings?limit=20"),
        ("create", "POST /meetings"),
        ("login", "POST /auth/login (8 conn.)"),
    ];
    for (key, label) in scenarios {
        let (Some(b), Some(m)) = (baseline.rows.get(key), mit.rows.get(key)) else { continue };
        println!("{label:<26} {:>12.0} r/s {:>12.0} r/s {:>7.1}×", b.rate, m.rate, m.rate / b.rate);
        println!("{:<26} {:>16} {:>16}", "  p50 / p99 ms", latency(b), latency(m));
    }
    for (key, label) in [("get@1000", "GET at 1000 conn. p99"), ("list@1000", "list at 1000 conn. p99")] {
        let (Some(b), Some(m)) = (baseline.rows.get(key), mit.rows.get(key)) else { continue };
        println!("{label:<26} {:>13.0} ms {:>13.0} ms", b.p99, m.p99);
        println!("{:<26} {:>12.0} r/s {:>12.0} r/s {}", "  rate", b.rate, m.rate, validity(b, m));
    }
    let per_get = |f: &Figures| f.db_us_per_get.map_or("?".to_string(), |us| format!("{us:.0} µs"));
    println!("{:<26} {:>16} {:>16}", "database CPU per GET", per_get(baseline), per_get(mit));
    println!("\nFigures marked * had errors (non-2xx, timeouts) in that run and are not valid.");
}

fn latency(row: &Row) -> String {
    format!("{:.1} / {:.1}{}", row.p50, row.p99, if row.valid { "" } else { " *" })
}

fn validity(baseline: &Row, mit: &Row) -> &'static str {
    match (baseline.valid, mit.valid) {
        (true, true) => "",
        (false, true) => "(* FastAPI had errors)",
        (true, false) => "(* Mit had errors)",
        (false, false) => "(* both had errors)",
    }
}

/// The baseline started by its own `run.sh`, stopped when dropped.
struct FastApi {
    script: PathBuf,
    env: Vec<(String, String)>,
    base_url: String,
}

impl FastApi {
    fn start(baseline: &Path, database_url: &str) -> Result<Self> {
        let port = free_port()?;
        let state = workspace_root().join("target").join("bench-fastapi");
        let env = vec![
            ("DATABASE_URL".to_string(), database_url.replacen("postgres://", "postgresql+asyncpg://", 1)),
            ("PORT".to_string(), port.to_string()),
            ("WORKERS".to_string(), "2".to_string()),
            ("VENV".to_string(), tools_dir().join("fastapi-venv").display().to_string()),
            ("STATE_DIR".to_string(), state.display().to_string()),
        ];
        let script = baseline.join("run.sh");
        let status = Command::new("bash").arg(&script).arg("start").envs(env.iter().cloned()).status().context("cannot run run.sh")?;
        if !status.success() {
            bail!("the FastAPI baseline did not start (run.sh start: {status})");
        }
        wait_until("the FastAPI baseline", 60, || std::net::TcpStream::connect(("127.0.0.1", port)).is_ok())?;
        Ok(Self { script, env, base_url: format!("http://127.0.0.1:{port}") })
    }
}

impl Drop for FastApi {
    fn drop(&mut self) {
        let _ = Command::new("bash").arg(&self.script).arg("stop").envs(self.env.iter().cloned()).status();
    }
}
