//! What the server's recorder and upload worker store: recordings being written, finished and
//! uploaded, and the durable upload jobs behind them.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use mit_api::server::models::{RecordingKind, RecordingSource, RecordingStatus};
use uuid::Uuid;

use super::StoreError;

/// A recording the recorder has started writing.
#[derive(Debug, Clone)]
pub struct NewRecording {
    /// Id.
    pub id: Uuid,
    /// Meeting.
    pub meeting_id: Uuid,
    /// Publisher.
    pub user_id: Uuid,
    /// Audio or video.
    pub kind: RecordingKind,
    /// Which track.
    pub source: RecordingSource,
    /// The file's media type.
    pub media_type: &'static str,
    /// The node writing it.
    pub node: String,
    /// Where it is being written.
    pub file_path: String,
    /// Where it will be stored.
    pub storage_key: String,
    /// Now.
    pub started_at: DateTime<Utc>,
}

/// What a finished file holds.
#[derive(Debug, Clone, Copy)]
pub struct Finalised {
    /// When writing stopped.
    pub ended_at: DateTime<Utc>,
    /// Media length.
    pub duration_ms: u64,
    /// File size.
    pub size_bytes: u64,
}

/// A recording a node left in `recording` (it crashed while writing).
#[derive(Debug, Clone)]
pub struct Unfinished {
    /// Id.
    pub id: Uuid,
    /// Its file's media type.
    pub media_type: String,
    /// Its file.
    pub file_path: String,
}

/// A recording an upload job works on.
#[derive(Debug, Clone)]
pub struct Upload {
    /// Its state.
    pub status: RecordingStatus,
    /// The local file.
    pub file_path: String,
    /// Where it goes.
    pub storage_key: String,
    /// Its media type.
    pub media_type: String,
}

/// An upload job this node now holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedUpload {
    /// The job.
    pub job: Uuid,
    /// The recording it uploads.
    pub recording: Uuid,
    /// Attempts so far, this one included.
    pub attempts: i32,
}

/// The recorder's and the upload worker's storage.
#[async_trait]
pub trait RecordingLedger: Send + Sync + 'static {
    /// Records that a file is being written.
    async fn insert_recording(&self, new: &NewRecording) -> Result<(), StoreError>;
    /// Moves a written recording to `processing` and queues its upload for `node`, atomically,
    /// so a finished file always has a job; a recording already past `recording` is left alone.
    async fn finalise_recording(&self, id: Uuid, done: Finalised, node: &str) -> Result<(), StoreError>;
    /// Marks a recording `failed`, saying why (one already `ready` stays so).
    async fn fail_recording(&self, id: Uuid, reason: &str, now: DateTime<Utc>) -> Result<(), StoreError>;
    /// Recordings `node` was writing when it stopped.
    async fn unfinished_recordings(&self, node: &str) -> Result<Vec<Unfinished>, StoreError>;
    /// Frees every job lease `node` holds (after a restart nothing of it is running); how many.
    async fn release_leases(&self, node: &str) -> Result<u64, StoreError>;
    /// Takes the oldest due upload `node` may run, leasing it for `lease`; concurrent callers
    /// never get the same job.
    async fn claim_upload(&self, node: &str, lease: Duration) -> Result<Option<ClaimedUpload>, StoreError>;
    /// Gives a failed attempt back, to run again after `delay`.
    async fn retry_upload(&self, job: Uuid, error: &str, delay: Duration) -> Result<(), StoreError>;
    /// Ends an upload job for good as failed (keeping `detail` with the job) and marks its
    /// recording failed with `reason`, atomically.
    async fn abandon_upload(&self, job: Uuid, recording: Uuid, detail: &str, reason: &str, now: DateTime<Utc>) -> Result<(), StoreError>;
    /// What an upload needs to know about its recording.
    async fn upload_of(&self, recording: Uuid) -> Result<Option<Upload>, StoreError>;
    /// Marks an uploaded recording `ready` and its job done, atomically.
    async fn complete_upload(&self, job: Uuid, recording: Uuid, now: DateTime<Utc>) -> Result<(), StoreError>;
}
