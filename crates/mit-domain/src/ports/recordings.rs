//! Recordings: their rows, and the stored files behind them.

use std::ops::RangeInclusive;
use std::pin::Pin;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use mit_api::server::models::{RecordingKind, RecordingSource, RecordingStatus};
use tokio::io::AsyncRead;
use uuid::Uuid;

use super::StoreError;
use super::people::UserRef;
use crate::paging::{Page, PageRequest};

/// A stored recording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingRecord {
    /// Id.
    pub id: Uuid,
    /// Its meeting.
    pub meeting_id: Uuid,
    /// Whose track it is.
    pub participant: UserRef,
    /// Audio or video.
    pub kind: RecordingKind,
    /// Which track.
    pub source: RecordingSource,
    /// The file's media type.
    pub media_type: String,
    /// Where it is in its life.
    pub status: RecordingStatus,
    /// Where the object store keeps it once uploaded.
    pub storage_key: String,
    /// First packet.
    pub started_at: DateTime<Utc>,
    /// Last packet.
    pub ended_at: Option<DateTime<Utc>>,
    /// Media length.
    pub duration_ms: Option<i64>,
    /// File size.
    pub size_bytes: Option<i64>,
    /// Why it failed.
    pub failure_reason: Option<String>,
}

/// Reading recordings (the server's recorder writes them).
#[async_trait]
pub trait RecordingStore: Send + Sync + 'static {
    /// A meeting's recordings, oldest first, then by id.
    async fn recordings(&self, meeting: Uuid, page: PageRequest) -> Result<Page<RecordingRecord>, StoreError>;
    /// One recording of a meeting.
    async fn recording(&self, meeting: Uuid, recording: Uuid) -> Result<Option<RecordingRecord>, StoreError>;
}

/// A stream of file bytes.
pub type FileReader = Pin<Box<dyn AsyncRead + Send + 'static>>;

/// Why a stored file cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// The object store cannot be reached or answered with a server error; retry later.
    #[error("object store unavailable: {0}")]
    Unavailable(String),
    /// The object is not there although its recording says it is.
    #[error("object {0} is missing")]
    Missing(String),
}

/// The object store holding finished recordings.
#[async_trait]
pub trait RecordingFiles: Send + Sync + 'static {
    /// Bytes `range` of the object at `key`.
    async fn read(&self, key: &str, range: RangeInclusive<u64>) -> Result<FileReader, FileError>;
    /// A URL anyone can GET the object with for `ttl`, if the store can sign one (S3); `None`
    /// means the API must hand out a link to itself.
    fn presigned_url(&self, key: &str, ttl: Duration) -> Option<String>;
}
