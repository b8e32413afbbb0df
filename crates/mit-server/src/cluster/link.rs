//! Redis as every part of a node uses it, failing fast. Each command has a short deadline; once
//! one fails, Redis counts as down and commands fail at once — no request waits for connection
//! timeouts — until a background probe finds it answering again. Callers fall back to what they
//! can do alone (per-node counters, local fan-out, cached placements) while it is down.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::sync::watch;

/// How long one command may take before Redis counts as down.
const COMMAND_DEADLINE: Duration = Duration::from_millis(500);
/// How often a down Redis is probed.
const PROBE_EVERY: Duration = Duration::from_millis(500);

/// Why a Redis command did not run.
#[derive(Debug, Clone, thiserror::Error)]
pub enum LinkError {
    /// Redis is known to be down; nothing was sent.
    #[error("redis is down")]
    Down,
    /// The command failed or missed its deadline; Redis now counts as down.
    #[error("redis: {0}")]
    Failed(String),
    /// Redis answered with an error (a bug in the command, not an outage).
    #[error("redis refused a command: {0}")]
    Refused(String),
}

impl LinkError {
    /// Whether Redis could not be used at all (callers fall back to working alone).
    pub fn is_outage(&self) -> bool {
        !matches!(self, Self::Refused(_))
    }
}

struct Shared {
    client: redis::Client,
    manager: ConnectionManager,
    up: AtomicBool,
    changes: watch::Sender<bool>,
}

/// A shared, fail-fast handle on Redis.
#[derive(Clone)]
pub struct RedisLink {
    shared: Arc<Shared>,
}

impl RedisLink {
    /// A link to `url`. It does not need Redis to be up: it connects when it can and keeps
    /// probing in the background, so a node can start during an outage.
    pub async fn open(url: &str) -> Result<Self, String> {
        let client = redis::Client::open(url).map_err(|e| e.to_string())?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(COMMAND_DEADLINE))
            .set_response_timeout(Some(COMMAND_DEADLINE))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_secs(1));
        let manager = ConnectionManager::new_lazy_with_config(client.clone(), config).map_err(|e| e.to_string())?;
        let (changes, _) = watch::channel(false);
        let link = Self { shared: Arc::new(Shared { client, manager, up: AtomicBool::new(false), changes }) };
        if link.ping().await {
            link.mark(true);
        } else {
            tracing::warn!("Redis is not answering; starting without it and retrying in the background");
        }
        tokio::spawn(probe(Arc::downgrade(&link.shared)));
        Ok(link)
    }

    /// Runs `command` on the shared connection, unless Redis is down.
    pub async fn run<T, F, Fut>(&self, command: F) -> Result<T, LinkError>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        if !self.is_up() {
            return Err(LinkError::Down);
        }
        let outcome = match tokio::time::timeout(COMMAND_DEADLINE, command(self.shared.manager.clone())).await {
            Ok(Ok(value)) => return Ok(value),
            Ok(Err(error)) if !is_connection_error(&error) => return Err(LinkError::Refused(error.to_string())),
            Ok(Err(error)) => error.to_string(),
            Err(_) => format!("no answer within {COMMAND_DEADLINE:?}"),
        };
        if self.mark(false) {
            tracing::warn!(error = %outcome, "Redis is down; falling back to per-node operation until it returns");
        }
        Err(LinkError::Failed(outcome))
    }

    /// Whether Redis is believed up.
    pub fn is_up(&self) -> bool {
        self.shared.up.load(Ordering::Acquire)
    }

    /// Follows Redis going down (`false`) and coming back (`true`).
    pub fn changes(&self) -> watch::Receiver<bool> {
        self.shared.changes.subscribe()
    }

    /// The client, for pub/sub connections of their own.
    pub fn client(&self) -> &redis::Client {
        &self.shared.client
    }

    async fn ping(&self) -> bool {
        let mut manager = self.shared.manager.clone();
        let ping = async move { redis::cmd("PING").query_async::<String>(&mut manager).await };
        matches!(tokio::time::timeout(COMMAND_DEADLINE, ping).await, Ok(Ok(_)))
    }

    /// Sets the state; true if it changed.
    fn mark(&self, up: bool) -> bool {
        let changed = self.shared.up.swap(up, Ordering::AcqRel) != up;
        if changed {
            self.shared.changes.send_replace(up);
        }
        changed
    }
}

/// Whether `error` says Redis cannot be used now (unreachable, loading, a read-only replica,
/// out of memory) rather than that the command itself is wrong.
fn is_connection_error(error: &redis::RedisError) -> bool {
    use redis::{ErrorKind, ServerErrorKind};
    let unavailable =
        matches!(error.kind(), ErrorKind::Server(ServerErrorKind::BusyLoading | ServerErrorKind::ReadOnly | ServerErrorKind::MasterDown))
            || error.to_string().contains("OOM");
    unavailable || error.is_io_error() || error.is_connection_dropped() || error.is_connection_refusal() || error.is_timeout()
}

/// Probes a down Redis until it answers; ends when the link is dropped.
async fn probe(shared: std::sync::Weak<Shared>) {
    loop {
        tokio::time::sleep(PROBE_EVERY).await;
        let Some(shared) = shared.upgrade() else { return };
        let link = RedisLink { shared };
        if !link.is_up() && link.ping().await && link.mark(true) {
            tracing::info!("Redis is back");
        }
    }
}
