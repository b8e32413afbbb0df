//! The registry with in-memory ports: an ended meeting's room stays closed to late sockets.

use std::time::Duration;

use chrono::{DateTime, Utc};
use mit_api::server::models::ParticipantRole;
use mit_domain::ports::StoreError;
use mit_domain::ports::recorder::{ClaimedUpload, Finalised, NewRecording, RecordingLedger, Unfinished, Upload};
use mit_domain::realtime::{Admission, Refusal};
use mit_sfu::SfuConfig;
use tokio::sync::{Notify, mpsc};

use super::*;
use crate::realtime::room::Outgoing;

/// A ledger nothing is ever recorded in (these rooms never record).
struct NoRecordings;

#[async_trait]
impl RecordingLedger for NoRecordings {
    async fn insert_recording(&self, _: &NewRecording) -> Result<(), StoreError> {
        Ok(())
    }
    async fn finalise_recording(&self, _: Uuid, _: Finalised, _: &str) -> Result<(), StoreError> {
        Ok(())
    }
    async fn fail_recording(&self, _: Uuid, _: &str, _: DateTime<Utc>) -> Result<(), StoreError> {
        Ok(())
    }
    async fn unfinished_recordings(&self, _: &str) -> Result<Vec<Unfinished>, StoreError> {
        Ok(Vec::new())
    }
    async fn release_leases(&self, _: &str) -> Result<u64, StoreError> {
        Ok(0)
    }
    async fn claim_upload(&self, _: &str, _: Duration) -> Result<Option<ClaimedUpload>, StoreError> {
        Ok(None)
    }
    async fn retry_upload(&self, _: Uuid, _: &str, _: Duration) -> Result<(), StoreError> {
        Ok(())
    }
    async fn abandon_upload(&self, _: Uuid, _: Uuid, _: &str, _: &str, _: DateTime<Utc>) -> Result<(), StoreError> {
        Ok(())
    }
    async fn upload_of(&self, _: Uuid) -> Result<Option<Upload>, StoreError> {
        Ok(None)
    }
    async fn complete_upload(&self, _: Uuid, _: Uuid, _: DateTime<Utc>) -> Result<(), StoreError> {
        Ok(())
    }
}

/// Reports that go nowhere.
struct NoReports;

#[async_trait]
impl RoomReports for NoReports {
    async fn presence(&self, _: Uuid, _: Uuid, _: bool, _: DateTime<Utc>) {}
    async fn stayed_empty(&self, _: Uuid) -> bool {
        false
    }
}

fn registry(recordings: &tempfile::TempDir) -> RoomRegistry {
    let recorder = Recorder::new(Arc::new(NoRecordings), recordings.path(), "test".into(), Arc::new(Notify::new())).expect("a recorder");
    let sfu = Sfu::new(SfuConfig::new([127, 0, 0, 1].into(), 0)).expect("a media port");
    let rules = RoomRules { capacity: 2, grace: Duration::from_secs(5), empty_timeout: None };
    RoomRegistry::new(sfu, recorder, Arc::new(NoReports), rules)
}

fn admission(meeting: Uuid) -> Admission {
    Admission { meeting_id: meeting, user_id: Uuid::new_v4(), name: "Ada".into(), role: ParticipantRole::Participant }
}

#[tokio::test]
async fn a_socket_arriving_after_the_end_cannot_reopen_the_room() {
    let recordings = tempfile::tempdir().expect("a directory");
    let rooms = registry(&recordings);
    let meeting = Uuid::new_v4();
    let room = rooms.room(meeting).expect("an open room");
    let (outbox, mut socket) = mpsc::channel(8);
    room.enter(&admission(meeting), outbox).expect("a seat");

    RoomControl::close(&rooms, meeting, Ending::Completed).await;
    assert!(matches!(socket.recv().await, Some(Outgoing::Text(_))), "meeting-ended first");
    assert!(matches!(socket.recv().await, Some(Outgoing::Close(1000, _))));

    assert!(rooms.room(meeting).is_none(), "a late socket finds the meeting over");
    let (outbox, _socket) = mpsc::channel(8);
    assert_eq!(room.enter(&admission(meeting), outbox).map(|_| ()), Err(Refusal::Ended), "and so does one holding the old room");
}

#[tokio::test]
async fn ending_a_meeting_whose_room_never_opened_here_keeps_it_closed() {
    let recordings = tempfile::tempdir().expect("a directory");
    let rooms = registry(&recordings);
    let meeting = Uuid::new_v4();
    RoomControl::close(&rooms, meeting, Ending::Cancelled).await;
    assert!(rooms.room(meeting).is_none());
}

#[tokio::test]
async fn a_vacated_room_sends_its_sockets_away_and_may_open_here_again() {
    let recordings = tempfile::tempdir().expect("a directory");
    let rooms = registry(&recordings);
    let meeting = Uuid::new_v4();
    let room = rooms.room(meeting).expect("an open room");
    let (outbox, mut socket) = mpsc::channel(8);
    room.enter(&admission(meeting), outbox).expect("a seat");
    assert_eq!((rooms.participants(), rooms.open_meetings()), (1, vec![meeting]));

    rooms.vacate(meeting);
    assert!(matches!(socket.recv().await, Some(Outgoing::Close(4010, _))), "told to join again");
    assert!(!rooms.is_open(meeting) && rooms.participants() == 0);
    assert!(rooms.room(meeting).is_some(), "the meeting goes on: its room may come back to this node");
}
