//! The upload worker: runs this node's `upload_recording` jobs. Each job moves one finished file
//! into the object store and marks its recording `ready`; a failed attempt is retried with
//! exponential backoff, and after the last one the recording is marked `failed` with the reason.
//! Every step can be repeated after a crash: the upload overwrites the same key, and a file
//! already moved is recognised by its object being there.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use mit_api::server::models::RecordingStatus;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::objects::{ObjectError, ObjectStore};
use mit_domain::ports::RecordingLedger;
use mit_domain::ports::recorder::ClaimedUpload;

/// How long a claimed job is ours before another run may take it over.
const LEASE: Duration = Duration::from_secs(15 * 60);
/// How often the queue is looked at when nothing wakes the worker.
const POLL: Duration = Duration::from_secs(5);
/// Attempts before a recording is given up on.
const MAX_ATTEMPTS: i32 = 10;

/// Why an attempt failed.
#[derive(Debug, thiserror::Error)]
enum UploadError {
    /// Worth another attempt (the store or the database blipped).
    #[error("{0}")]
    Retry(String),
    /// No attempt can succeed.
    #[error("{0}")]
    Fatal(String),
}

/// The running worker.
pub struct UploadWorker {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl UploadWorker {
    /// Starts working through `node`'s upload jobs; `wake` makes it look at once.
    pub fn start(store: Arc<dyn RecordingLedger>, objects: Arc<ObjectStore>, node: String, wake: Arc<Notify>) -> Self {
        let (stop, stopped) = watch::channel(false);
        let uploads = Uploads { store, objects, node };
        let task = tokio::spawn(uploads.run(wake, stopped));
        Self { stop, task }
    }

    /// Stops after the job in hand (unfinished jobs stay queued for the next start).
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

struct Uploads {
    store: Arc<dyn RecordingLedger>,
    objects: Arc<ObjectStore>,
    node: String,
}

impl Uploads {
    async fn run(self, wake: Arc<Notify>, mut stopped: watch::Receiver<bool>) {
        while !*stopped.borrow() {
            match self.store.claim_upload(&self.node, LEASE).await {
                Ok(Some(job)) => {
                    self.attempt(job).await;
                    continue;
                }
                Ok(None) => {}
                Err(error) => tracing::warn!(%error, "cannot look for upload jobs"),
            }
            tokio::select! {
                _ = wake.notified() => {}
                _ = tokio::time::sleep(POLL) => {}
                _ = stopped.changed() => {}
            }
        }
    }

    async fn attempt(&self, job: ClaimedUpload) {
        let recording = job.recording;
        let outcome = match self.upload(recording).await {
            Ok(()) => self.store.complete_upload(job.job, recording, Utc::now()).await,
            Err(UploadError::Retry(error)) if job.attempts < MAX_ATTEMPTS => {
                let delay = backoff(job.attempts);
                tracing::warn!(%recording, attempt = job.attempts, %error, ?delay, "upload failed; will retry");
                self.store.retry_upload(job.job, &error, delay).await
            }
            Err(error) => {
                // Participants read the reason; the details (hosts, store messages) stay in the
                // job's last error and the log.
                let reason = match &error {
                    UploadError::Fatal(message) => message.clone(),
                    UploadError::Retry(_) => format!("the upload to the object store failed {} times", job.attempts),
                };
                let detail = error.to_string();
                tracing::error!(%recording, %reason, %detail, "giving up on a recording");
                self.store.abandon_upload(job.job, recording, &detail, &reason, Utc::now()).await
            }
        };
        // The lease runs out and the job is tried again if this bookkeeping did not land.
        if let Err(error) = outcome {
            tracing::warn!(%error, %recording, "cannot record the outcome of an upload");
        }
    }

    async fn upload(&self, recording: Uuid) -> Result<(), UploadError> {
        let upload = self.store.upload_of(recording).await.map_err(|e| UploadError::Retry(e.to_string()))?;
        let upload = upload.ok_or_else(|| UploadError::Fatal("the recording no longer exists".into()))?;
        if upload.status != RecordingStatus::Processing {
            return Ok(());
        }
        let path = PathBuf::from(&upload.file_path);
        let local = tokio::fs::try_exists(&path).await.unwrap_or(false);
        if !local {
            // A previous attempt moved the file and died before it could say so.
            return match self.objects.contains(&upload.storage_key).await {
                Ok(true) => Ok(()),
                Ok(false) => Err(UploadError::Fatal("the file was lost before it was uploaded".into())),
                Err(error) => Err(UploadError::Retry(error.to_string())),
            };
        }
        self.objects.put_file(&upload.storage_key, &path, &upload.media_type).await.map_err(|error| match error {
            ObjectError::Config(message) => {
                tracing::error!(%message, "the object store is misconfigured");
                UploadError::Fatal("the object store is misconfigured".into())
            }
            other => UploadError::Retry(other.to_string()),
        })?;
        if let Err(error) = tokio::fs::remove_file(&path).await
            && error.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(%error, file = %path.display(), "an uploaded recording's file could not be removed");
        }
        Ok(())
    }
}

/// 2 s after the first failure, doubling, at most 10 minutes.
fn backoff(attempts: i32) -> Duration {
    let exponent = u32::try_from(attempts.clamp(1, 10)).unwrap_or(1);
    Duration::from_secs(2u64.pow(exponent)).min(Duration::from_secs(600))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_two_seconds_up_to_ten_minutes() {
        let delays: Vec<u64> = (1..=11).map(|n| backoff(n).as_secs()).collect();
        assert_eq!(delays, [2, 4, 8, 16, 32, 64, 128, 256, 512, 600, 600]);
    }
}
