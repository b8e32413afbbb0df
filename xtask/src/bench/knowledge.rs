//! The Ground Truth benchmark: the release `mit` on throwaway PostgreSQL with one team holding
//! 100,000 facts and 1,000,000 history entries (written straight into the database: seeding
//! that through the API would take longer than the benchmark), driven by wrk: search, list,
//! history and "as of" reads, and merges racing on a few hot facts. Prints the plans of the
//! search and "as of" queries, so one sees the indexes at work.

use std::process::Command;

use anyhow::{Context, Result};
use serde_json::json;

use super::cores;
use super::http_seed::{post, register};
use super::rest::{Scenario, WRK, lua_list, wrk};
use super::server::{ReleaseServer, build_release};
use crate::process::output;
use crate::services::Postgres;
use crate::test_cmd::scratch_dir;
use crate::tools::{POSTGRESQL, ensure_packages};
use crate::workspace_root;

const FACTS: u32 = 100_000;
const HISTORY_PER_FACT: u32 = 10;
const HOT_FACTS: u32 = 10;
const BRANCHES_PER_HOT_FACT: u32 = 300;

/// Builds, seeds, runs every scenario, prints the table and the plans.
pub fn run_knowledge(seconds: u32, connections: u32) -> Result<()> {
    ensure_packages(&[POSTGRESQL, WRK])?;
    build_release(&[("mit-server", "mit")])?;
    let postgres = Postgres::start(&scratch_dir("bench-knowledge-postgres"), true)?;
    postgres.ensure_database("bench")?;
    let url = postgres.url("bench");
    let server = ReleaseServer::start(&url, &[("DATABASE_POOL_SIZE", "32")])?;
    let owner = register(&server.base_url, "bench-owner")?;
    let admin = register(&server.base_url, "bench-admin")?;
    let team = post(&server.base_url, "/api/v1/teams", Some(&owner.token), &json!({"name": "Bench"}))?["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    post(&server.base_url, &format!("/api/v1/teams/{team}/members"), Some(&owner.token), &json!({"email": admin.email, "role": "admin"}))?;
    eprintln!("seeding {FACTS} facts with {HISTORY_PER_FACT} history entries each");
    psql(&url, &seed_sql(&team, &owner.id, &admin.id))?;
    let facts = lines(&psql(&url, &format!("SELECT id FROM facts WHERE team_id = '{team}' ORDER BY random() LIMIT 2000"))?);
    let branches = lines(&psql(&url, &format!("SELECT id FROM branches WHERE team_id = '{team}' ORDER BY random()"))?);
    let dir = workspace_root().join("target").join("bench-knowledge");
    std::fs::create_dir_all(&dir)?;
    let mut rows = Vec::new();
    for scenario in scenarios(&team, &owner.token, &facts, &branches) {
        let script = dir.join(format!("{}.lua", scenario.name.replace(' ', "-")));
        std::fs::write(&script, &scenario.script)?;
        eprintln!("scenario {} ({seconds} s, {connections} connections)", scenario.name);
        rows.push((scenario.name, wrk(&server.base_url, &script, seconds, connections)?));
    }
    let merged = psql(&url, &format!("SELECT count(*) FROM branches WHERE team_id = '{team}' AND status = 'merged'"))?;
    println!("\nKnowledge benchmark: release build, {} cores, {connections} connections, {seconds} s per scenario", cores());
    println!("one team: {FACTS} facts, {} history entries; merges race on {HOT_FACTS} hot facts\n", FACTS * HISTORY_PER_FACT);
    println!("{:<22} {:>12} {:>10} {:>10} {:>10}", "scenario", "requests/s", "p50", "p99", "non-2xx");
    for (name, report) in rows {
        println!("{name:<22} {:>12.0} {:>10} {:>10} {:>10}", report.rate, report.p50, report.p99, report.errors);
    }
    println!("merges that won: {} (every other attempt was refused as stale or already merged)", merged.trim());
    print_plans(&url, &team, facts.first().map(String::as_str).unwrap_or_default())?;
    Ok(())
}

/// The team's facts, their history (a created entry and nine merged values each), and open,
/// approved branches on the hot facts.
fn seed_sql(team: &str, owner: &str, admin: &str) -> String {
    format!(
        "BEGIN;
         INSERT INTO facts (id, team_id, key, value, category, version, history_count, created_by, created_at, updated_at, value_changed_at)
           SELECT gen_random_uuid(), '{team}', 'fact ' || g, 'value ' || g || ' at version {HISTORY_PER_FACT} ' || md5(g::text),
                  'category ' || (g % 20), {HISTORY_PER_FACT}, {HISTORY_PER_FACT}, '{owner}', now() - interval '400 days', now(), now()
           FROM generate_series(1, {FACTS}) g;
         INSERT INTO fact_history (id, fact_id, sequence, kind, key, version, previous_value, new_value, changed_by, created_at)
           SELECT gen_random_uuid(), f.id, v, CASE WHEN v = 1 THEN 'created' ELSE 'value_changed' END, f.key, v,
                  CASE WHEN v > 1 THEN f.key || ' value ' || (v - 1) END,
                  CASE WHEN v = {HISTORY_PER_FACT} THEN f.value ELSE f.key || ' value ' || v END,
                  '{owner}', f.created_at + v * interval '30 days'
           FROM facts f CROSS JOIN generate_series(1, {HISTORY_PER_FACT}) v WHERE f.team_id = '{team}';
         WITH hot AS (SELECT id, value, version FROM facts WHERE team_id = '{team}' ORDER BY key LIMIT {HOT_FACTS})
         INSERT INTO branches (id, fact_id, team_id, title, proposed_value, base_value, base_version, reason, status, author_id, created_at, updated_at)
           SELECT gen_random_uuid(), hot.id, '{team}', 'Race ' || b, 'raced value ' || b, hot.value, hot.version, 'bench', 'open', '{owner}', now(), now()
           FROM hot CROSS JOIN generate_series(1, {BRANCHES_PER_HOT_FACT}) b;
         INSERT INTO branch_approvals (branch_id, user_id, approved_at) SELECT id, '{admin}', now() FROM branches WHERE team_id = '{team}';
         COMMIT;
         ANALYZE;"
    )
}

fn scenarios(team: &str, token: &str, facts: &[String], branches: &[String]) -> Vec<Scenario> {
    let ids = lua_list(facts.iter().cloned());
    let branch_ids = lua_list(branches.iter().cloned());
    let auth = format!("{{['Authorization'] = 'Bearer {token}'}}");
    let rotate = "counter = 0\nfunction next_index(n) counter = counter + 1; return (counter % n) + 1 end\n";
    let get = |path: String| {
        format!(
            "{rotate}ids = {ids}\nrequest = function()\n  local id = ids[next_index(#ids)]\n  return wrk.format('GET', {path}, {auth})\nend\n"
        )
    };
    vec![
        Scenario {
            name: "search facts",
            script: format!(
                "{rotate}request = function()\n  local n = math.random(1, {FACTS})\n  return wrk.format('GET', '/api/v1/teams/{team}/knowledge/facts?q=fact%20' .. n .. '&limit=20', {auth})\nend\n"
            ),
        },
        Scenario {
            name: "list facts",
            script: format!(
                "{rotate}request = function()\n  local page = math.random(1, 50)\n  return wrk.format('GET', '/api/v1/teams/{team}/knowledge/facts?limit=20&page=' .. page, {auth})\nend\n"
            ),
        },
        Scenario { name: "get fact", script: get("'/api/v1/knowledge/facts/' .. id".into()) },
        Scenario { name: "fact history", script: get("'/api/v1/knowledge/facts/' .. id .. '/history?limit=20'".into()) },
        Scenario {
            name: "fact as of",
            script: get("'/api/v1/knowledge/facts/' .. id .. '/as-of?at=' .. os.date('!%Y-%m-%dT%H:%M:%SZ', os.time() - math.random(1, 300) * 86400)".into()),
        },
        Scenario {
            name: "merge on hot facts",
            script: format!(
                "{rotate}ids = {branch_ids}\nrequest = function()\n  local id = ids[next_index(#ids)]\n  return wrk.format('POST', '/api/v1/knowledge/branches/' .. id .. '/merge', {{['Authorization'] = 'Bearer {token}', ['Content-Type'] = 'application/json'}}, '{{}}')\nend\n"
            ),
        },
    ]
}

fn print_plans(url: &str, team: &str, fact: &str) -> Result<()> {
    let search = format!(
        "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) SELECT f.id FROM facts f WHERE f.team_id = '{team}'
           AND (f.key || ' ' || f.value) ILIKE '%fact 4242%' AND f.archived_at IS NULL ORDER BY lower(f.key), f.id LIMIT 20"
    );
    let as_of = format!(
        "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) SELECT h.key, h.new_value, h.version FROM fact_history h
           WHERE h.fact_id = '{fact}' AND h.created_at <= now() - interval '100 days' ORDER BY h.created_at DESC, h.sequence DESC LIMIT 1"
    );
    println!("\nplan of the search query:\n{}", psql(url, &search)?);
    println!("plan of the \"as of\" query:\n{}", psql(url, &as_of)?);
    Ok(())
}

fn psql(url: &str, sql: &str) -> Result<String> {
    output(Command::new("psql").arg(url).args(["-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-c", sql])).context("psql")
}

fn lines(text: &str) -> Vec<String> {
    text.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_string).collect()
}
