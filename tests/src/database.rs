//! One database per test, cloned from a template that holds the current migrations.

use std::hash::{Hash, Hasher};
use std::time::Duration;

use diesel::sql_types::{BigInt, Text};
use diesel::{QueryableByName, sql_query};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use crate::service_url;

/// Any number; only our test processes take this advisory lock.
const TEMPLATE_LOCK: i64 = 0x6d69_7400;

/// A row proving something exists.
#[derive(QueryableByName)]
struct Found {
    #[diesel(sql_type = BigInt)]
    #[allow(dead_code)]
    n: i64,
}

/// The URL of a new, fully migrated database for one test.
pub async fn fresh_database() -> String {
    let admin_url = service_url("MIT_TEST_POSTGRES_URL");
    let mut admin = AsyncPgConnection::establish(&admin_url).await.expect("connect to the test PostgreSQL");
    let template = ensure_template(&mut admin, &admin_url).await;
    let name = format!("test_{}", uuid::Uuid::new_v4().simple());
    let create = format!("CREATE DATABASE \"{name}\" TEMPLATE \"{template}\"");
    // The template refuses to be copied while a connection to it is still closing.
    for attempt in 0.. {
        match sql_query(&create).execute(&mut admin).await {
            Ok(_) => break,
            Err(error) if attempt < 50 && error.to_string().contains("being accessed by other users") => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(error) => panic!("cannot create a test database: {error}"),
        }
    }
    database_url(&admin_url, &name)
}

/// Creates the template for the current migrations once, whichever test process gets there first.
async fn ensure_template(admin: &mut AsyncPgConnection, admin_url: &str) -> String {
    let template = format!("mit_template_{:016x}", migrations_fingerprint());
    sql_query("SELECT pg_advisory_lock($1)").bind::<BigInt, _>(TEMPLATE_LOCK).execute(admin).await.expect("template lock");
    let exists: Vec<Found> = sql_query("SELECT 1::bigint AS n FROM pg_database WHERE datname = $1")
        .bind::<Text, _>(&template)
        .load(admin)
        .await
        .expect("look for the template");
    if exists.is_empty() {
        let building = format!("{template}_building");
        sql_query(format!("DROP DATABASE IF EXISTS \"{building}\"")).execute(admin).await.expect("drop a half-built template");
        sql_query(format!("CREATE DATABASE \"{building}\"")).execute(admin).await.expect("create the template");
        mit_server::migrate(&database_url(admin_url, &building)).await.expect("migrate the template");
        rename_when_idle(admin, &building, &template).await;
    }
    sql_query("SELECT pg_advisory_unlock($1)").bind::<BigInt, _>(TEMPLATE_LOCK).execute(admin).await.expect("template unlock");
    template
}

async fn rename_when_idle(admin: &mut AsyncPgConnection, from: &str, to: &str) {
    let rename = format!("ALTER DATABASE \"{from}\" RENAME TO \"{to}\"");
    for attempt in 0.. {
        match sql_query(&rename).execute(admin).await {
            Ok(_) => return,
            Err(error) if attempt < 50 && error.to_string().contains("being accessed by other users") => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(error) => panic!("cannot finish the template: {error}"),
        }
    }
}

/// Changes whenever a migration file changes, so a stale template is never reused.
fn migrations_fingerprint() -> u64 {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrations");
    let mut files: Vec<std::path::PathBuf> = walk(&root);
    files.sort();
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    for file in files {
        file.strip_prefix(&root).unwrap_or(&file).hash(&mut hasher);
        std::fs::read(&file).unwrap_or_default().hash(&mut hasher);
    }
    hasher.finish()
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    entries.filter_map(Result::ok).flat_map(|e| if e.path().is_dir() { walk(&e.path()) } else { vec![e.path()] }).collect()
}

fn database_url(admin_url: &str, name: &str) -> String {
    match admin_url.rsplit_once('/') {
        Some((server, _)) => format!("{server}/{name}"),
        None => panic!("MIT_TEST_POSTGRES_URL has no database part: {admin_url}"),
    }
}
