//! A freshly migrated database per test, dropped when the test ends (passed or failed), and the
//! users, teams and meetings the tests start from.

use std::ops::Deref;
use std::time::Duration;

use chrono::Utc;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use mit_api::server::models::{ParticipantRole, TeamRole};
use mit_domain::ports::accounts::{NewRefreshToken, NewSession, NewUser};
use mit_domain::ports::meetings::{Addition, Creation, NewMeeting};
use mit_domain::ports::teams::{Authorised, NewTeam};
use mit_domain::ports::{AccountStore, MeetingStore, TeamStore};
use mit_store::PgStore;
use uuid::Uuid;

/// Enough connections for the widest race here (the claimers of the job tests).
const POOL_SIZE: usize = 12;

/// A superuser URL to the `postgres` database; panics with instructions when it is missing.
fn admin_url() -> String {
    std::env::var("MIT_TEST_POSTGRES_URL").unwrap_or_else(|_| {
        panic!(
            "MIT_TEST_POSTGRES_URL is not set: run the tests with `cargo xtask test`, or start `cargo xtask services` \
             and export what it prints"
        )
    })
}

/// The URL of database `name` on the server of `admin_url`.
fn database_url(admin_url: &str, name: &str) -> String {
    match admin_url.rsplit_once('/') {
        Some((server, _)) => format!("{server}/{name}"),
        None => panic!("MIT_TEST_POSTGRES_URL has no database part: {admin_url}"),
    }
}

/// A store on a database of its own.
pub struct TestStore {
    // Declared first so the pool closes before the database is dropped.
    store: PgStore,
    _database: Database,
}

impl Deref for TestStore {
    type Target = PgStore;

    fn deref(&self) -> &PgStore {
        &self.store
    }
}

impl TestStore {
    /// Creates and migrates a new database.
    pub async fn new() -> Self {
        let admin_url = admin_url();
        let database = Database::create(&admin_url).await;
        let store = PgStore::connect(&database_url(&admin_url, &database.name), POOL_SIZE, Duration::from_secs(10)).expect("a pool");
        store.migrate().await.expect("the migrations apply");
        Self { store, _database: database }
    }

    /// A clone of the store, for a task of its own.
    pub fn handle(&self) -> PgStore {
        self.store.clone()
    }

    /// A new user.
    pub async fn user(&self, name: &str) -> Uuid {
        let (id, now) = (Uuid::now_v7(), Utc::now());
        let user = NewUser { id, email: format!("{}@example.test", id.simple()), password_hash: "unused".into(), name: name.into(), now };
        let refresh = NewRefreshToken { hash: Uuid::new_v4().as_bytes().to_vec(), expires_at: now + chrono::Duration::days(1) };
        let session = NewSession { id: Uuid::now_v7(), user_id: id, user_agent: None, ip: None, now, refresh };
        self.register(user, session).await.expect("a user registers");
        id
    }

    /// A new team with both users as owners.
    pub async fn team_owned_by(&self, first: Uuid, second: Uuid) -> Uuid {
        let id = Uuid::now_v7();
        let team = NewTeam { id, name: "Owners".into(), description: None, owner: first, now: Utc::now() };
        self.create_team(team).await.expect("a team is created");
        let added = self.add_member(id, first, second, TeamRole::Owner, Utc::now()).await.expect("a second owner is added");
        assert!(matches!(added, Authorised::Done(_)), "second owner: {added:?}");
        id
    }

    /// A new scheduled meeting with both users as hosts.
    pub async fn meeting_hosted_by(&self, first: Uuid, second: Uuid) -> Uuid {
        let id = self.meeting(first).await;
        let added = self.add_participant(id, second, ParticipantRole::Host, Utc::now()).await.expect("a second host is added");
        assert!(matches!(added, Addition::Added(_)), "second host: {added:?}");
        id
    }

    /// A new scheduled meeting hosted by `creator` alone.
    pub async fn meeting(&self, creator: Uuid) -> Uuid {
        let id = Uuid::now_v7();
        let meeting = NewMeeting {
            id,
            team_id: None,
            title: "Race".into(),
            description: None,
            scheduled_at: None,
            auto_record: false,
            creator,
            participants: Vec::new(),
            now: Utc::now(),
        };
        let created = self.create_meeting(meeting).await.expect("a meeting is created");
        assert!(matches!(created, Creation::Created(_)), "meeting: {created:?}");
        id
    }
}

/// A database that is dropped with this value.
struct Database {
    admin_url: String,
    name: String,
}

impl Database {
    async fn create(admin_url: &str) -> Self {
        let name = format!("store_test_{}", Uuid::new_v4().simple());
        let mut admin = AsyncPgConnection::establish(admin_url).await.expect("connect to the test PostgreSQL");
        diesel::sql_query(format!("CREATE DATABASE \"{name}\"")).execute(&mut admin).await.expect("create a test database");
        Self { admin_url: admin_url.to_string(), name }
    }
}

impl Drop for Database {
    /// Drops the database on a thread with a runtime of its own: Drop cannot await, and it runs
    /// inside the test's runtime, which must not be blocked on from within.
    fn drop(&mut self) {
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
            runtime.block_on(async {
                let mut admin = AsyncPgConnection::establish(&admin_url).await.map_err(|e| e.to_string())?;
                // FORCE ends connections a failed test may have left open.
                let drop = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
                diesel::sql_query(drop).execute(&mut admin).await.map(|_| ()).map_err(|e| e.to_string())
            })
        })
        .join();
        // A panic here, while a failed test unwinds, would abort the whole run.
        match dropped {
            Ok(Ok(())) => {}
            Ok(Err(error)) => eprintln!("cannot drop test database {}: {error}", self.name),
            Err(_) => eprintln!("cannot drop test database {}: the dropping thread panicked", self.name),
        }
    }
}
