//! PostgreSQL through diesel-async, pooled by deadpool. One `PgStore` implements every storage
//! port of the domain, and the readiness probe of the database.

mod accounts;
mod chat;
mod jobs;
mod knowledge;
mod meetings;
mod notes;
pub mod outbox;
mod recordings;
mod review;
mod rows;
pub mod schema;
mod session_cache;
mod teams;

use std::sync::Arc;
use std::time::Duration;

use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel_async::pooled_connection::deadpool::{Object, Pool, PoolError};
use diesel_async::pooled_connection::{AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod};
use diesel_async::{AsyncMigrationHarness, AsyncPgConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use mit_domain::ports::StoreError;
use tokio::sync::Notify;

pub use session_cache::{SESSION_TRUST, SessionCache};

/// The SQL migrations of `migrations/`, compiled into the binary.
pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations");

/// A pooled connection.
pub type Connection = Object<AsyncPgConnection>;

/// The connection pool and every storage port implemented on it.
#[derive(Clone)]
pub struct PgStore {
    pool: Pool<AsyncPgConnection>,
    pub(crate) outbox_written: Arc<Notify>,
}

/// Why the database could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum DatabaseSetupError {
    /// The pool could not be built.
    #[error("cannot build the connection pool: {0}")]
    Pool(String),
    /// No connection could be made.
    #[error("cannot connect to PostgreSQL: {0}")]
    Connect(String),
    /// A migration failed.
    #[error("migration failed: {0}")]
    Migrate(String),
}

impl PgStore {
    /// A pool of at most `size` connections to `url`; checkouts wait at most `wait`.
    pub fn connect(url: &str, size: usize, wait: Duration) -> Result<Self, DatabaseSetupError> {
        // `Fast` recycling checks only that a connection is not known to be broken; the default
        // runs `SELECT 1` at every checkout, a round trip per request for nothing (a dead
        // connection fails its real query, which maps to `Unavailable`, and deadpool drops it).
        let mut config = ManagerConfig::default();
        config.recycling_method = RecyclingMethod::Fast;
        let manager = AsyncDieselConnectionManager::<AsyncPgConnection>::new_with_config(url, config);
        let pool = Pool::builder(manager)
            .max_size(size)
            .wait_timeout(Some(wait))
            .create_timeout(Some(wait))
            .runtime(deadpool::Runtime::Tokio1)
            .build()
            .map_err(|e| DatabaseSetupError::Pool(e.to_string()))?;
        Ok(Self { pool, outbox_written: Arc::new(Notify::new()) })
    }

    /// Applies every pending migration; returns the versions applied.
    pub async fn migrate(&self) -> Result<Vec<String>, DatabaseSetupError> {
        let connection = self.pool.get().await.map_err(|e| DatabaseSetupError::Connect(e.to_string()))?;
        // The harness blocks on the async connection; on a blocking thread that is allowed
        // whatever the runtime's flavour.
        tokio::task::spawn_blocking(move || {
            let mut harness = AsyncMigrationHarness::new(connection);
            let applied = harness.run_pending_migrations(MIGRATIONS).map_err(|e| DatabaseSetupError::Migrate(e.to_string()))?;
            Ok(applied.iter().map(ToString::to_string).collect())
        })
        .await
        .map_err(|e| DatabaseSetupError::Migrate(format!("migration task failed: {e}")))?
    }

    /// Notified after every commit that appended events, so the relay sends them at once.
    pub fn outbox_signal(&self) -> Arc<Notify> {
        self.outbox_written.clone()
    }

    /// A connection from the pool.
    pub async fn connection(&self) -> Result<Connection, StoreError> {
        self.pool.get().await.map_err(pool_error)
    }
}

#[async_trait::async_trait]
impl mit_domain::ports::DependencyProbe for PgStore {
    fn name(&self) -> &'static str {
        "database"
    }

    async fn check(&self) -> Result<(), String> {
        let mut conn = self.connection().await.map_err(|e| e.to_string())?;
        diesel_async::RunQueryDsl::execute(diesel::sql_query("SELECT 1"), &mut conn).await.map(|_| ()).map_err(|e| e.to_string())
    }
}

fn pool_error(error: PoolError) -> StoreError {
    StoreError::Unavailable(format!("no database connection: {error}"))
}

/// Maps a diesel error onto the port's error.
pub fn store_error(error: DieselError) -> StoreError {
    match error {
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => {
            StoreError::Conflict(info.constraint_name().unwrap_or("unique").to_string())
        }
        DieselError::DatabaseError(DatabaseErrorKind::ClosedConnection, info) => {
            StoreError::Unavailable(format!("database connection lost: {}", info.message()))
        }
        other => StoreError::Other(other.to_string()),
    }
}
