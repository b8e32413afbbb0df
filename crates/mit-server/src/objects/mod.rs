//! Where finished recordings are kept: an S3-compatible bucket, or a directory when no S3 is
//! configured. Both are written once per key, so an upload retried after a crash is harmless.

mod local;
mod s3;

use std::ops::RangeInclusive;
use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;
use mit_domain::ports::recordings::{FileError, FileReader, RecordingFiles};

pub use local::LocalObjects;
pub use s3::S3Objects;

use crate::config::ObjectStoreConfig;

/// Why an object operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ObjectError {
    /// The store cannot be reached, timed out, or refused the request; worth retrying.
    #[error("object store unavailable: {0}")]
    Unavailable(String),
    /// No object has this key.
    #[error("no object {0}")]
    Missing(String),
    /// A local file could not be read or written.
    #[error("file error: {0}")]
    Io(#[from] std::io::Error),
    /// The configuration cannot work (a bad endpoint, say).
    #[error("object store misconfigured: {0}")]
    Config(String),
}

/// The configured object store.
pub enum ObjectStore {
    /// A directory.
    Local(LocalObjects),
    /// An S3 bucket.
    S3(Box<S3Objects>),
}

impl ObjectStore {
    /// The store `config` describes.
    pub fn new(config: &ObjectStoreConfig) -> Result<Self, ObjectError> {
        Ok(match config {
            ObjectStoreConfig::Local(root) => Self::Local(LocalObjects::new(root.clone())),
            ObjectStoreConfig::S3(s3) => Self::S3(Box::new(S3Objects::new(s3)?)),
        })
    }

    /// Stores the file at `path` under `key` (replacing any object there). The local store
    /// moves the file; S3 copies it and leaves it for the caller to delete.
    pub async fn put_file(&self, key: &str, path: &Path, media_type: &str) -> Result<(), ObjectError> {
        match self {
            Self::Local(local) => local.put_file(key, path).await,
            Self::S3(s3) => s3.put_file(key, path, media_type).await,
        }
    }

    /// Whether the store can be used now (the bucket answers, or the directory exists).
    pub async fn check(&self) -> Result<(), ObjectError> {
        match self {
            Self::Local(local) => local.check().await,
            Self::S3(s3) => s3.check().await,
        }
    }

    /// Whether an object has this key.
    pub async fn contains(&self, key: &str) -> Result<bool, ObjectError> {
        match self {
            Self::Local(local) => local.contains(key).await,
            Self::S3(s3) => s3.contains(key).await,
        }
    }

    /// Bytes `range` of the object at `key`.
    pub async fn read_range(&self, key: &str, range: RangeInclusive<u64>) -> Result<FileReader, ObjectError> {
        match self {
            Self::Local(local) => local.read(key, range).await,
            Self::S3(s3) => s3.read(key, range).await,
        }
    }
}

#[async_trait]
impl RecordingFiles for ObjectStore {
    async fn read(&self, key: &str, range: RangeInclusive<u64>) -> Result<FileReader, FileError> {
        self.read_range(key, range).await.map_err(|error| match error {
            ObjectError::Missing(key) => FileError::Missing(key),
            other => FileError::Unavailable(other.to_string()),
        })
    }

    fn presigned_url(&self, key: &str, ttl: Duration) -> Option<String> {
        match self {
            Self::Local(_) => None,
            Self::S3(s3) => Some(s3.presigned_get(key, ttl)),
        }
    }
}
