//! The server-side recorder: while a meeting is recorded, every publication in its room is
//! written to a file on this node's disk (`RECORDING_PATH/live/<meeting>/<recording>.<ext>`),
//! one file per participant, track and stretch of recording. A finished file becomes a
//! `processing` recording with a durable upload job ([`uploads`]); a file a crash left open is
//! repaired and handed over the same way when the node starts again ([`Recorder::recover`]).

mod meeting;
pub mod uploads;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use mit_domain::ports::StoreError;
use mit_sfu::recording::{Container, RecordingStats};
use tokio::sync::Notify;
use tokio_util::task::TaskTracker;
use uuid::Uuid;

pub use meeting::MeetingRecorder;

use crate::storage::PgStore;
use crate::storage::recordings::Finalised;

/// How long a database write of the recorder is retried before it is left to the next start.
const STORE_RETRY_FOR: Duration = Duration::from_secs(60);

/// This node's recorder.
#[derive(Clone)]
pub struct Recorder {
    shared: Arc<Shared>,
}

/// What every meeting's recorder shares.
struct Shared {
    store: PgStore,
    live_root: PathBuf,
    node: String,
    uploads: Arc<Notify>,
    tasks: TaskTracker,
}

impl Recorder {
    /// Writes under `recording_path/live`, records rows as `node`, and wakes `uploads` whenever a
    /// file is ready to go.
    pub fn new(store: PgStore, recording_path: &Path, node: String, uploads: Arc<Notify>) -> Self {
        let shared = Shared { store, live_root: recording_path.join("live"), node, uploads, tasks: TaskTracker::new() };
        Self { shared: Arc::new(shared) }
    }

    /// A recorder for one meeting's room.
    pub fn meeting(&self, meeting: Uuid) -> Arc<MeetingRecorder> {
        Arc::new(MeetingRecorder::new(meeting, self.shared.clone()))
    }

    /// Finalises what this node was recording when it last stopped (a crash or `kill -9`):
    /// each file is cut back to its last complete page or frame and queued for upload.
    pub async fn recover(&self) -> Result<usize, StoreError> {
        let store = &self.shared.store;
        let released = store.release_leases(&self.shared.node).await?;
        if released > 0 {
            tracing::info!(released, "released upload jobs a previous run held");
        }
        let unfinished = store.unfinished_recordings(&self.shared.node).await?;
        for recording in &unfinished {
            let path = PathBuf::from(&recording.file_path);
            let Some(container) = Container::from_media_type(&recording.media_type) else {
                self.shared.fail(recording.id, &format!("unknown media type `{}`", recording.media_type)).await;
                continue;
            };
            let ended_at = modified(&path).await;
            let repaired = tokio::task::spawn_blocking(move || container.repair(&path)).await;
            let result = repaired.unwrap_or_else(|e| Err(std::io::Error::other(format!("repair task failed: {e}"))));
            tracing::info!(recording = %recording.id, ?result, "finalising a recording left open by a previous run");
            self.shared.settle(recording.id, container, result, ended_at).await;
        }
        Ok(unfinished.len())
    }

    /// Waits until every file being written has been finished and handed over. Call after every
    /// meeting recorder has been stopped.
    pub async fn wait(&self) {
        self.shared.tasks.close();
        self.shared.tasks.wait().await;
    }
}

impl Shared {
    /// Hands a finished file over: `processing` with an upload job, or `failed` if nothing
    /// playable was written or the file cannot be read.
    async fn settle(&self, id: Uuid, container: Container, result: std::io::Result<RecordingStats>, ended_at: DateTime<Utc>) {
        let stats = match result {
            Ok(stats) => stats,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return self.fail(id, "the recording's file was lost").await,
            Err(error) => return self.fail(id, &format!("the recording could not be finished: {error}")).await,
        };
        if !holds_media(container, stats) {
            return self.fail(id, "no media arrived while recording").await;
        }
        let done = Finalised { ended_at, duration_ms: stats.duration_ms, size_bytes: stats.size_bytes };
        let node = self.node.clone();
        if retrying("finalise a recording", || self.store.finalise_recording(id, done, &node)).await {
            self.uploads.notify_one();
        }
    }

    async fn fail(&self, id: Uuid, reason: &str) {
        tracing::warn!(recording = %id, reason, "recording failed");
        retrying("mark a recording failed", || self.store.fail_recording(id, reason, Utc::now())).await;
    }
}

/// Whether a finished file has anything to play: an IVF file gets its header with the first
/// keyframe; an Ogg file always has headers, so it needs audio time.
fn holds_media(container: Container, stats: RecordingStats) -> bool {
    match container {
        Container::OggOpus => stats.duration_ms > 0,
        Container::IvfVp8 => stats.size_bytes > 0,
    }
}

/// The file's last write, or now.
async fn modified(path: &Path) -> DateTime<Utc> {
    match tokio::fs::metadata(path).await.and_then(|m| m.modified()) {
        Ok(time) => time.into(),
        Err(_) => Utc::now(),
    }
}

/// Runs `write` until it succeeds, retrying while the database is unavailable for up to
/// [`STORE_RETRY_FOR`]; true if it succeeded. What is still undone is left to the next start.
async fn retrying<F, Fut>(what: &str, mut write: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), StoreError>>,
{
    let deadline = tokio::time::Instant::now() + STORE_RETRY_FOR;
    let mut pause = Duration::from_millis(200);
    loop {
        match write().await {
            Ok(()) => return true,
            Err(StoreError::Unavailable(error)) if tokio::time::Instant::now() < deadline => {
                tracing::warn!(%error, what, "database unavailable; retrying");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(5));
            }
            Err(error) => {
                tracing::error!(%error, what, "giving up; the next start will finish this");
                return false;
            }
        }
    }
}
