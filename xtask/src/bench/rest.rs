//! The REST benchmark: the release `mit` on throwaway PostgreSQL, seeded through the API, driven
//! by wrk (Debian) with one Lua script per scenario.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result};
use serde_json::json;

use super::cores;
use super::http_seed::{Seeded, post, register};
use super::server::{ReleaseServer, build_release};
use crate::process::output;
use crate::services::Postgres;
use crate::test_cmd::scratch_dir;
use crate::tools::{POSTGRESQL, Package, ensure_packages};
use crate::workspace_root;

pub(super) const WRK: Package = Package { name: "wrk", provides: "wrk" };
const USERS: usize = 64;
const MEETINGS_PER_USER: usize = 25;

/// One wrk scenario.
pub(super) struct Scenario {
    /// Its name in the table.
    pub name: &'static str,
    /// The Lua script.
    pub script: String,
}

/// Builds, seeds, runs every scenario, prints the table.
pub fn run_rest(seconds: u32, connections: u32) -> Result<()> {
    ensure_packages(&[POSTGRESQL, WRK])?;
    build_release(&[("mit-server", "mit")])?;
    let postgres = Postgres::start(&scratch_dir("bench-postgres"), true)?;
    postgres.ensure_database("bench")?;
    let server = ReleaseServer::start(&postgres.url("bench"), &[("DATABASE_POOL_SIZE", "32"), ("LOGIN_MAX_FAILURES", "1000000")])?;
    eprintln!("seeding {USERS} users with {MEETINGS_PER_USER} meetings each");
    let (users, meetings) = seed(&server.base_url)?;
    let dir = workspace_root().join("target").join("bench-rest");
    std::fs::create_dir_all(&dir)?;
    let mut rows = Vec::new();
    for scenario in scenarios(&users, &meetings) {
        let script = dir.join(format!("{}.lua", scenario.name));
        std::fs::write(&script, &scenario.script)?;
        eprintln!("scenario {} ({seconds} s, {connections} connections)", scenario.name);
        let report = wrk(&server.base_url, &script, seconds, connections)?;
        rows.push((scenario.name, report));
    }
    println!("\nREST benchmark: release build, {} cores, {connections} connections, {seconds} s per scenario", cores());
    println!("PostgreSQL {} (throwaway: fsync off), pool of 32, no rate limits\n", postgres_version());
    println!("{:<16} {:>12} {:>10} {:>10} {:>10}", "scenario", "requests/s", "p50", "p99", "non-2xx");
    for (name, report) in rows {
        println!("{name:<16} {:>12.0} {:>10} {:>10} {:>10}", report.rate, report.p50, report.p99, report.errors);
    }
    drop(server);
    drop(postgres);
    Ok(())
}

/// Meetings as (index of the owning user, meeting id).
type SeededMeetings = Vec<(usize, String)>;

fn seed(base: &str) -> Result<(Vec<Seeded>, SeededMeetings)> {
    let mut users = Vec::with_capacity(USERS);
    for i in 0..USERS {
        users.push(register(base, &format!("bench-user-{i}"))?);
    }
    let mut meetings = Vec::with_capacity(USERS * MEETINGS_PER_USER);
    for (i, user) in users.iter().enumerate() {
        let others: Vec<&str> = (1..=3).map(|k| users[(i + k) % USERS].id.as_str()).collect();
        for m in 0..MEETINGS_PER_USER {
            let meeting = post(
                base,
                "/api/v1/meetings",
                Some(&user.token),
                &json!({"title": format!("Meeting {m} of {i}"), "participant_ids": others}),
            )?;
            meetings.push((i, meeting["id"].as_str().unwrap_or_default().to_string()));
        }
    }
    Ok((users, meetings))
}

/// A Lua table literal of strings.
pub(super) fn lua_list(items: impl Iterator<Item = String>) -> String {
    format!("{{{}}}", items.map(|s| format!("{s:?}")).collect::<Vec<_>>().join(","))
}

fn scenarios(users: &[Seeded], meetings: &[(usize, String)]) -> Vec<Scenario> {
    let tokens = lua_list(users.iter().map(|u| u.token.clone()));
    let pair_tokens = lua_list(meetings.iter().map(|(u, _)| users[*u].token.clone()));
    let pair_ids = lua_list(meetings.iter().map(|(_, id)| id.clone()));
    let emails = lua_list(users.iter().map(|u| u.email.clone()));
    let password = users.first().map(|u| u.password.clone()).unwrap_or_default();
    let rotate = "counter = 0\nfunction next_index(n) counter = counter + 1; return (counter % n) + 1 end\n";
    vec![
        Scenario {
            name: "list meetings",
            script: format!(
                "{rotate}tokens = {tokens}\nrequest = function()\n  local t = tokens[next_index(#tokens)]\n  return wrk.format('GET', '/api/v1/meetings?limit=20', {{['Authorization'] = 'Bearer ' .. t}})\nend\n"
            ),
        },
        Scenario {
            name: "get meeting",
            script: format!(
                "{rotate}tokens = {pair_tokens}\nids = {pair_ids}\nrequest = function()\n  local i = next_index(#ids)\n  return wrk.format('GET', '/api/v1/meetings/' .. ids[i], {{['Authorization'] = 'Bearer ' .. tokens[i]}})\nend\n"
            ),
        },
        Scenario {
            name: "create meeting",
            script: format!(
                "{rotate}tokens = {tokens}\nrequest = function()\n  local t = tokens[next_index(#tokens)]\n  return wrk.format('POST', '/api/v1/meetings', {{['Authorization'] = 'Bearer ' .. t, ['Content-Type'] = 'application/json'}}, '{{\"title\":\"Load\",\"description\":\"created by wrk\"}}')\nend\n"
            ),
        },
        Scenario {
            name: "login",
            script: format!(
                "{rotate}emails = {emails}\nrequest = function()\n  local e = emails[next_index(#emails)]\n  return wrk.format('POST', '/api/v1/auth/login', {{['Content-Type'] = 'application/json'}}, '{{\"email\":\"' .. e .. '\",\"password\":\"{password}\"}}')\nend\n"
            ),
        },
    ]
}

/// What wrk measured.
pub(super) struct Report {
    /// Requests per second.
    pub rate: f64,
    /// Median latency.
    pub p50: String,
    /// 99th percentile.
    pub p99: String,
    /// Non-2xx answers.
    pub errors: u64,
}

/// Runs wrk with `script` against `base`.
pub(super) fn wrk(base: &str, script: &Path, seconds: u32, connections: u32) -> Result<Report> {
    let text = output(
        Command::new("wrk")
            .args(["-t", &cores().max(1).to_string(), "-c", &connections.to_string(), "-d", &format!("{seconds}s"), "--latency", "-s"])
            .arg(script)
            .arg(base),
    )?;
    let field = |prefix: &str| text.lines().find_map(|l| l.trim().strip_prefix(prefix).map(|rest| rest.trim().to_string()));
    let rate = field("Requests/sec:").and_then(|v| v.parse().ok()).context("wrk printed no Requests/sec")?;
    let errors = field("Non-2xx or 3xx responses:").and_then(|v| v.parse().ok()).unwrap_or(0);
    let percentile = |p: &str| field(p).unwrap_or_else(|| "?".into());
    if text.contains("Socket errors") {
        eprintln!("{text}");
    }
    Ok(Report { rate, p50: percentile("50%"), p99: percentile("99%"), errors })
}

fn postgres_version() -> String {
    output(Command::new("psql").arg("--version")).map(|v| v.split_whitespace().nth(2).unwrap_or_default().to_string()).unwrap_or_default()
}
