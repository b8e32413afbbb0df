//! Mit's server: configuration, PostgreSQL storage, Redis, the HTTP application and the process
//! life cycle. The `mit` binary (`main.rs`) only parses the command line and calls into here.

pub mod cluster;
pub mod config;
pub mod events;
pub mod http;
pub mod limits;
pub mod objects;
pub mod probes;
pub mod realtime;
pub mod recording;
#[cfg(test)]
mod socket_contract;
pub mod telemetry;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use mit_domain::Mit;
use mit_domain::clock::SystemClock;
use mit_domain::ports::{DependencyProbe, Ports, RateLimiter, RoomControl};
use mit_domain::realtime::StoredRoomReports;
use poem::listener::{Acceptor, Listener, TcpListener};
use tokio::sync::{Notify, oneshot};
use tokio::task::JoinHandle;

use crate::cluster::room_bus::{self, ClusterRooms};
use crate::cluster::{Directory, RedisLink, ThisNode, heartbeat};
use crate::config::Config;
use crate::events::relay::{self, FanOut};
use crate::events::{EventHub, EventsPlane};
use crate::limits::{MemoryLimiter, RedisLimiter};
use crate::objects::{ObjectError, ObjectStore};
use crate::probes::{ObjectStoreProbe, RedisProbe};
use crate::realtime::room::RoomRules;
use crate::realtime::{Realtime, RoomRegistry};
use crate::recording::uploads::UploadWorker;
use crate::recording::{Recorder, RecorderError};
use mit_sfu::{Sfu, SfuConfig};
use mit_store::{DatabaseSetupError, PgStore, SessionCache};

/// How long in-flight requests get to finish on shutdown.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// PostgreSQL could not be set up.
    #[error(transparent)]
    Database(#[from] DatabaseSetupError),
    /// `REDIS_URL` cannot be used (Redis being down is not an error: the node connects later).
    #[error("cannot use REDIS_URL: {0}")]
    Redis(String),
    /// The object store configuration cannot work.
    #[error(transparent)]
    Objects(#[from] ObjectError),
    /// The media plane's UDP port cannot be bound.
    #[error(transparent)]
    Media(#[from] mit_sfu::SfuError),
    /// The recording directory cannot be used.
    #[error(transparent)]
    Recorder(#[from] RecorderError),
    /// Recordings a previous run left open could not be looked at.
    #[error("cannot recover unfinished recordings: {0}")]
    Recovery(String),
    /// The listen address cannot be bound.
    #[error("cannot listen on {address}: {source}")]
    Bind {
        /// The address.
        address: String,
        /// Why.
        source: std::io::Error,
    },
}

/// A server accepting connections in the background.
pub struct RunningServer {
    /// The bound address (useful with port 0).
    pub address: SocketAddr,
    shutdown: oneshot::Sender<()>,
    task: JoinHandle<std::io::Result<()>>,
    rooms: Arc<RoomRegistry>,
    uploads: UploadWorker,
    relay: Vec<JoinHandle<()>>,
    /// The heartbeat and the room command listener: stopped before the node leaves the
    /// directory, so nothing registers it again.
    membership: std::sync::Mutex<Vec<JoinHandle<()>>>,
    directory: Arc<Directory>,
    clustered: bool,
    drain_timeout: Duration,
    beat_now: Arc<Notify>,
}

impl RunningServer {
    /// Stops accepting, lets in-flight requests finish, finishes the files being recorded, and
    /// waits. Uploads not done yet stay queued for the next start.
    pub async fn stop(self) {
        self.leave_cluster().await;
        let _ = self.shutdown.send(());
        let _ = self.task.await;
        self.relay.iter().for_each(JoinHandle::abort);
        self.rooms.finish_recordings().await;
        self.uploads.stop().await;
    }

    /// Runs until the process is asked to stop (Ctrl-C or SIGTERM), then drains (in a cluster)
    /// and stops gracefully.
    pub async fn run_until_signalled(self) {
        shutdown_signal().await;
        if self.clustered {
            self.drain().await;
        }
        tracing::info!("shutting down");
        self.stop().await;
    }

    /// Stops taking new rooms (`/ready` answers 503, placements skip this node) and lets the
    /// running rooms go on until their participants leave or `DRAIN_TIMEOUT_SECONDS` pass; then
    /// takes the node out of the directory and sends whoever is left to join again elsewhere.
    pub async fn drain(&self) {
        self.directory.node().start_draining();
        self.beat_now.notify_one();
        let deadline = tokio::time::Instant::now() + self.drain_timeout;
        tracing::info!(participants = self.rooms.participants(), timeout = ?self.drain_timeout, "draining");
        while self.rooms.participants() > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let remaining = self.rooms.open_meetings();
        self.leave_cluster().await;
        for meeting in &remaining {
            self.rooms.vacate(*meeting);
        }
        tracing::info!(handed_over = remaining.len(), "drained");
    }

    async fn leave_cluster(&self) {
        let tasks = std::mem::take(&mut *self.membership.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
        for task in tasks {
            task.abort();
            // A beat already under way must end before withdrawing, or it would register again.
            let _ = task.await;
        }
        self.directory.withdraw().await;
    }
}

/// Binds the listener, connects to every backing service, applies migrations and starts serving.
pub async fn start(mut config: Config) -> Result<RunningServer, StartError> {
    telemetry::metrics();
    let address = config.listen_address();
    let bind_error = |source| StartError::Bind { address: address.clone(), source };
    let acceptor = TcpListener::bind(address.as_str()).into_acceptor().await.map_err(bind_error)?;
    let bound = acceptor.local_addr().into_iter().find_map(|a| a.as_socket_addr().copied());
    let bound = bound.ok_or_else(|| bind_error(std::io::Error::other("no TCP address")))?;
    config.bind_urls(bound);
    let store = PgStore::connect(&config.database_url, config.database_pool_size, Duration::from_secs(5))?;
    let applied = store.migrate().await?;
    if !applied.is_empty() {
        tracing::info!(?applied, "applied migrations");
    }
    let redis = match &config.redis_url {
        Some(url) => Some(RedisLink::open(url).await.map_err(StartError::Redis)?),
        None => None,
    };
    let hub = EventHub::default();
    let relay = start_relay(&store, redis.clone(), &hub);
    let objects = Arc::new(ObjectStore::new(&config.object_store)?);
    let wake_uploads = Arc::new(Notify::new());
    let recorder = Recorder::new(Arc::new(store.clone()), &config.recording_path, config.node_id.clone(), wake_uploads.clone())?;
    let recovered = recorder.recover().await.map_err(|e| StartError::Recovery(e.to_string()))?;
    if recovered > 0 {
        tracing::info!(recovered, "finalised recordings a previous run left open");
    }
    let uploads = UploadWorker::start(Arc::new(store.clone()), objects.clone(), config.node_id.clone(), wake_uploads);
    let reports = Arc::new(StoredRoomReports::new(Arc::new(store.clone()), Arc::new(SystemClock)));
    let rules =
        RoomRules { capacity: config.domain.room.capacity as usize, grace: config.room_grace, empty_timeout: config.room_empty_timeout };
    let sfu = Sfu::new(sfu_config(&config))?;
    tracing::info!(udp = %sfu.udp_addr(), tcp = ?sfu.tcp_addr(), "media ports bound");
    let rooms = Arc::new(RoomRegistry::new(sfu, recorder, reports, rules));
    let node = Arc::new(ThisNode::new(config.node_id.clone(), config.domain.room.signaling_base_url.clone()));
    let directory = Arc::new(Directory::new(node, rooms.clone(), redis.clone(), config.node_lease));
    let control: Arc<dyn RoomControl> = match &redis {
        Some(redis) => Arc::new(ClusterRooms::new(rooms.clone(), redis.clone(), config.node_id.clone())),
        None => rooms.clone(),
    };
    let domain = Arc::new(Mit::new(ports(&store, redis.clone(), control, directory.clone(), objects), config.domain.clone()));
    let beat_now = Arc::new(Notify::new());
    let mut membership = Vec::new();
    if let Some(redis) = &redis {
        membership.push(heartbeat::start(directory.clone(), rooms.clone(), config.node_lease, beat_now.clone()));
        membership.push(room_bus::listen(redis.clone(), config.node_id.clone(), rooms.clone(), domain.clone()));
    }
    let realtime = Arc::new(Realtime { mit: domain.clone(), rooms: rooms.clone(), directory: directory.clone() });
    let events = Arc::new(EventsPlane { mit: domain.clone(), hub });
    let app = http::app(domain, realtime, events, &config);
    let (shutdown, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        poem::Server::new_with_acceptor(acceptor)
            .run_with_graceful_shutdown(
                app,
                async move {
                    let _ = stopped.await;
                },
                Some(SHUTDOWN_GRACE),
            )
            .await
    });
    tracing::info!(%bound, public_url = %config.public_url, node = %config.node_id, "serving");
    Ok(RunningServer {
        address: bound,
        shutdown,
        task,
        rooms,
        uploads,
        relay,
        membership: std::sync::Mutex::new(membership),
        directory,
        clustered: redis.is_some(),
        drain_timeout: config.drain_timeout,
        beat_now,
    })
}

/// Applies pending migrations and returns their versions (`mit migrate`).
pub async fn migrate(database_url: &str) -> Result<Vec<String>, StartError> {
    let store = PgStore::connect(database_url, 1, Duration::from_secs(10))?;
    Ok(store.migrate().await?)
}

/// The OpenAPI document the server serves at `/openapi.json`: the bundled contract.
pub fn served_openapi_json() -> &'static str {
    mit_api::server::CONTRACT_JSON
}

/// The OpenAPI document derived from the generated routes themselves (what they parse, validate
/// and answer); `cargo xtask contract check` requires it to mean the same as the contract.
pub fn routes_openapi_json() -> String {
    mit_api::server::openapi_service(Arc::new(mit_api::server::SpecStub)).spec()
}

fn sfu_config(config: &Config) -> SfuConfig {
    let mut sfu = SfuConfig::new(config.rtc.bind_ip, config.rtc.udp_port);
    sfu.tcp_port = Some(config.rtc.tcp_port);
    sfu.public_ip = config.rtc.public_ip;
    sfu.workers = config.rtc.workers;
    sfu
}

fn ports(
    store: &PgStore,
    redis: Option<RedisLink>,
    rooms: Arc<dyn RoomControl>,
    directory: Arc<Directory>,
    objects: Arc<ObjectStore>,
) -> Ports {
    let store = Arc::new(store.clone());
    let mut probes: Vec<Arc<dyn DependencyProbe>> = vec![store.clone(), Arc::new(ObjectStoreProbe(objects.clone()))];
    let limits: Arc<dyn RateLimiter> = match redis {
        Some(redis) => {
            probes.push(Arc::new(RedisProbe(redis.clone())));
            Arc::new(RedisLimiter::new(redis))
        }
        None => Arc::new(MemoryLimiter::default()),
    };
    Ports {
        accounts: Arc::new(SessionCache::new((*store).clone())),
        teams: store.clone(),
        meetings: store.clone(),
        notes: store.clone(),
        review: store.clone(),
        knowledge: store.clone(),
        branches: store.clone(),
        events: store.clone(),
        chat: store.clone(),
        recordings: store,
        files: objects,
        rooms,
        directory,
        limits,
        probes,
        clock: Arc::new(SystemClock),
    }
}

/// The outbox relay, and with Redis the listener that brings every node's events to this one.
fn start_relay(store: &PgStore, redis: Option<RedisLink>, hub: &EventHub) -> Vec<JoinHandle<()>> {
    let events: Arc<dyn mit_domain::ports::EventStore> = Arc::new(store.clone());
    let mut tasks = Vec::new();
    if let Some(redis) = &redis {
        tasks.push(relay::listen(redis.client().clone(), hub.clone()));
    }
    tasks.push(relay::start(events, FanOut::new(hub.clone(), redis), store.outbox_signal()));
    tasks
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(signal) => signal,
            Err(_) => {
                let _ = ctrl_c.await;
                return;
            }
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
