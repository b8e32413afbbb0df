//! Upload jobs: claimed under `FOR UPDATE SKIP LOCKED` by many workers at once, each exactly
//! once; leases given back on restart; finished as done (recording ready) or failed.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use mit_api::server::models::{RecordingKind, RecordingSource, RecordingStatus};
use mit_domain::ports::recorder::{ClaimedUpload, Finalised, NewRecording};
use mit_domain::ports::{RecordingLedger, RecordingStore};
use mit_store::PgStore;
use tokio::sync::Barrier;
use uuid::Uuid;

use crate::fixture::TestStore;

const NODE: &str = "node-a";
/// Long enough that no lease runs out during a test: only `release_leases` frees one.
const LEASE: Duration = Duration::from_secs(600);

/// A meeting with `count` finished recordings written on [`NODE`], each with a queued upload.
async fn queued_uploads(store: &TestStore, count: usize) -> (Uuid, HashSet<Uuid>) {
    let user = store.user("Recorder").await;
    let meeting = store.meeting(user).await;
    let mut recordings = HashSet::new();
    for _ in 0..count {
        let id = Uuid::now_v7();
        let new = NewRecording {
            id,
            meeting_id: meeting,
            user_id: user,
            kind: RecordingKind::Audio,
            source: RecordingSource::Microphone,
            media_type: "audio/ogg",
            node: NODE.into(),
            file_path: format!("/recordings/{id}.ogg"),
            storage_key: format!("recordings/{id}.ogg"),
            started_at: Utc::now(),
        };
        store.insert_recording(&new).await.expect("a recording is inserted");
        let done = Finalised { ended_at: Utc::now(), duration_ms: 1_000, size_bytes: 4_096 };
        store.finalise_recording(id, done, NODE).await.expect("a recording is finalised");
        recordings.insert(id);
    }
    (meeting, recordings)
}

async fn claim(store: &PgStore) -> Option<ClaimedUpload> {
    store.claim_upload(NODE, LEASE).await.expect("a claim")
}

/// Claims until nothing is left for it, starting when every other claimer does.
async fn claim_all(store: PgStore, start: Arc<Barrier>) -> Vec<ClaimedUpload> {
    start.wait().await;
    let mut claimed = Vec::new();
    while let Some(upload) = claim(&store).await {
        claimed.push(upload);
    }
    claimed
}

async fn status(store: &TestStore, recording: Uuid) -> RecordingStatus {
    store.upload_of(recording).await.expect("the upload").expect("the recording exists").status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_claimers_take_every_job_exactly_once() {
    const JOBS: usize = 40;
    const CLAIMERS: usize = 8;
    let store = TestStore::new().await;
    let (_, recordings) = queued_uploads(&store, JOBS).await;
    let start = Arc::new(Barrier::new(CLAIMERS));
    let claimers: Vec<_> = (0..CLAIMERS).map(|_| tokio::spawn(claim_all(store.handle(), start.clone()))).collect();
    let mut claimed = Vec::new();
    for claimer in claimers {
        claimed.extend(claimer.await.expect("a claimer"));
    }
    let jobs: HashSet<Uuid> = claimed.iter().map(|c| c.job).collect();
    let subjects: HashSet<Uuid> = claimed.iter().map(|c| c.recording).collect();
    assert_eq!((claimed.len(), jobs.len()), (JOBS, JOBS), "every job claimed once, none twice");
    assert_eq!(subjects, recordings, "one job per finished recording");
    assert!(claimed.iter().all(|c| c.attempts == 1), "first attempts only: {claimed:?}");
    assert_eq!(claim(&store).await, None, "leased jobs are not handed out again");
}

#[tokio::test]
async fn a_released_lease_is_claimed_again() {
    let store = TestStore::new().await;
    queued_uploads(&store, 2).await;
    let first = [claim(&store).await.expect("a job"), claim(&store).await.expect("another job")];
    assert_eq!(claim(&store).await, None, "both jobs are leased");
    assert_eq!(store.release_leases(NODE).await.expect("release"), 2, "both leases are released");
    let mut again = [claim(&store).await.expect("a released job"), claim(&store).await.expect("the other released job")];
    again.sort_by_key(|c| c.job);
    let mut expected = first.map(|c| ClaimedUpload { attempts: 2, ..c });
    expected.sort_by_key(|c| c.job);
    assert_eq!(again, expected, "the same jobs, on their second attempt");
}

#[tokio::test]
async fn completing_readies_and_abandoning_fails_the_recording() {
    let store = TestStore::new().await;
    let (meeting, _) = queued_uploads(&store, 2).await;
    let [done, given_up] = [claim(&store).await.expect("a job"), claim(&store).await.expect("another job")];
    store.complete_upload(done.job, done.recording, Utc::now()).await.expect("complete");
    store.abandon_upload(given_up.job, given_up.recording, "HTTP 403", "upload refused", Utc::now()).await.expect("abandon");
    assert_eq!(status(&store, done.recording).await, RecordingStatus::Ready);
    let failed = store.recording(meeting, given_up.recording).await.expect("the recording").expect("it exists");
    assert_eq!((failed.status, failed.failure_reason.as_deref()), (RecordingStatus::Failed, Some("upload refused")));
    assert_eq!(store.release_leases(NODE).await.expect("release"), 0, "finished jobs hold no lease");
    assert_eq!(claim(&store).await, None, "finished jobs are never claimed again");
}
