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

use mit_domain::ports::RecordingLedger;
use mit_domain::ports::recorder::Finalised;

/// How long a database write of the recorder is retried before it is left to the next start.
const STORE_RETRY_FOR: Duration = Duration::from_secs(60);

/// This node's recorder.
#[derive(Clone)]
pub struct Recorder {
    shared: Arc<Shared>,
}

/// What every meeting's recorder shares.
struct Shared {
    store: Arc<dyn RecordingLedger>,
    live_root: PathBuf,
    node: String,
    uploads: Arc<Notify>,
    tasks: TaskTracker,
    /// The server's runtime: recorders run there, not on the media worker that reports a new
    /// publication.
    runtime: tokio::runtime::Handle,
    /// Held for the recorder's life: one process per recording directory, or two would finish
    /// each other's files at start-up.
    _lock: std::fs::File,
}

/// Why the recorder cannot start.
#[derive(Debug, thiserror::Error)]
pub enum RecorderError {
    /// Another process records into the same directory.
    #[error("{0} is in use by another mit process (one process per RECORDING_PATH)")]
    InUse(String),
    /// The directory cannot be made or locked.
    #[error("cannot use {path}: {source}")]
    Io {
        /// The directory.
        path: String,
        /// Why.
        source: std::io::Error,
    },
}

impl Recorder {
    /// Writes under `recording_path/live` (which it locks), records rows as `node`, and wakes
    /// `uploads` whenever a file is ready to go. Called on the server's runtime, where its
    /// recorders will run.
    pub fn new(store: Arc<dyn RecordingLedger>, recording_path: &Path, node: String, uploads: Arc<Notify>) -> Result<Self, RecorderError> {
        let lock = lock_directory(recording_path)?;
        let runtime = tokio::runtime::Handle::current();
        let shared =
            Shared { store, live_root: recording_path.join("live"), node, uploads, tasks: TaskTracker::new(), runtime, _lock: lock };
        Ok(Self { shared: Arc::new(shared) })
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
                self.shared.fail(recording.id, &path, &format!("unknown media type `{}`", recording.media_type)).await;
                continue;
            };
            let ended_at = modified(&path).await;
            let result = repair(container, &path).await;
            tracing::info!(recording = %recording.id, ?result, "finalising a recording left open by a previous run");
            self.shared.settle(recording.id, container, &path, result, ended_at).await;
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
    /// Hands a finished file over: `processing` with an upload job, or `failed` (and the file
    /// deleted) if nothing playable was written. A file whose writing failed (a full disk, an I/O
    /// error) is repaired first: what reached it before the error is kept.
    async fn settle(&self, id: Uuid, container: Container, path: &Path, result: std::io::Result<RecordingStats>, ended_at: DateTime<Utc>) {
        let result = match result {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
                tracing::warn!(recording = %id, %error, "writing a recording failed; keeping what reached the file");
                repair(container, path).await
            }
            other => other,
        };
        let stats = match result {
            Ok(stats) if holds_media(container, stats) => stats,
            Ok(_) => return self.fail(id, path, "no media arrived while recording").await,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return self.fail(id, path, "the recording's file was lost").await;
            }
            Err(error) => return self.fail(id, path, &format!("the recording's file is unreadable: {error}")).await,
        };
        let done = Finalised { ended_at, duration_ms: stats.duration_ms, size_bytes: stats.size_bytes };
        let node = self.node.clone();
        if retrying("finalise a recording", STORE_RETRY_FOR, || self.store.finalise_recording(id, done, &node)).await {
            self.uploads.notify_one();
        }
    }

    /// Marks the recording failed and deletes what is left of its file (nothing playable).
    async fn fail(&self, id: Uuid, path: &Path, reason: &str) {
        tracing::warn!(recording = %id, reason, "recording failed");
        if retrying("mark a recording failed", STORE_RETRY_FOR, || self.store.fail_recording(id, reason, Utc::now())).await
            && let Err(error) = tokio::fs::remove_file(path).await
            && error.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(%error, file = %path.display(), "cannot remove a failed recording's file");
        }
    }
}

/// Takes the exclusive lock on `directory/.lock` (released by the kernel when the process ends,
/// however it ends).
fn lock_directory(directory: &Path) -> Result<std::fs::File, RecorderError> {
    let io = |source| RecorderError::Io { path: directory.display().to_string(), source };
    std::fs::create_dir_all(directory).map_err(io)?;
    let file = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(directory.join(".lock")).map_err(io)?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(RecorderError::InUse(directory.display().to_string())),
        Err(std::fs::TryLockError::Error(source)) => Err(io(source)),
    }
}

/// Whether a finished file has anything to play: an Ogg file always has headers, so it needs
/// audio time; an IVF file needs a frame after its 32-byte header.
fn holds_media(container: Container, stats: RecordingStats) -> bool {
    match container {
        Container::OggOpus => stats.duration_ms > 0,
        Container::IvfVp8 => stats.size_bytes > 32,
    }
}

/// Repairs a file on a blocking thread (it reads and syncs).
async fn repair(container: Container, path: &Path) -> std::io::Result<RecordingStats> {
    let path = path.to_path_buf();
    let repaired = tokio::task::spawn_blocking(move || container.repair(&path)).await;
    repaired.unwrap_or_else(|e| Err(std::io::Error::other(format!("repair task failed: {e}"))))
}

/// The file's last write, or now.
async fn modified(path: &Path) -> DateTime<Utc> {
    match tokio::fs::metadata(path).await.and_then(|m| m.modified()) {
        Ok(time) => time.into(),
        Err(_) => Utc::now(),
    }
}

/// Runs `write` until it succeeds, retrying while the database is unavailable for up to
/// `patience`; true if it succeeded. What is still undone is left to the next start.
async fn retrying<F, Fut>(what: &str, patience: Duration, mut write: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), StoreError>>,
{
    let deadline = tokio::time::Instant::now() + patience;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_process_at_a_time_records_into_a_directory() {
        let directory = std::env::temp_dir().join(format!("mit-lock-{}", Uuid::new_v4()));
        let first = lock_directory(&directory).expect("the first lock");
        assert!(matches!(lock_directory(&directory), Err(RecorderError::InUse(_))));
        drop(first);
        assert!(lock_directory(&directory).is_ok(), "free again once released");
        std::fs::remove_dir_all(&directory).ok();
    }

    #[test]
    fn only_files_with_media_are_uploaded() {
        let stats = |size_bytes, duration_ms| RecordingStats { size_bytes, duration_ms, dropped: 0 };
        assert!(!holds_media(Container::OggOpus, stats(200, 0)), "headers only");
        assert!(holds_media(Container::OggOpus, stats(300, 20)));
        assert!(!holds_media(Container::IvfVp8, stats(32, 0)), "an IVF header without frames");
        assert!(holds_media(Container::IvfVp8, stats(1000, 0)), "one keyframe");
    }
}
