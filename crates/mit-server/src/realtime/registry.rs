//! Every live room on this node, by meeting. The REST side reaches rooms through the domain's
//! `RoomControl` port, implemented here.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

use async_trait::async_trait;
use mit_domain::Mit;
use mit_domain::ports::meetings::RecordingFlag;
use mit_domain::ports::rooms::{Departure, Ending, RoomControl};
use mit_sfu::{RoomObserver, Sfu};
use uuid::Uuid;

use super::room::LiveRoom;
use crate::recording::Recorder;

/// The rooms hosted on this node.
pub struct RoomRegistry {
    sfu: Sfu,
    rooms: Mutex<HashMap<Uuid, Arc<LiveRoom>>>,
    mit: OnceLock<Weak<Mit>>,
    recorder: Recorder,
    capacity: usize,
    grace: Duration,
    empty_timeout: Option<Duration>,
}

impl RoomRegistry {
    /// No rooms yet; rooms are recorded by `recorder`, hold `capacity` seats and keep a dropped
    /// seat for `grace`.
    pub fn new(sfu: Sfu, recorder: Recorder, capacity: usize, grace: Duration, empty_timeout: Option<Duration>) -> Self {
        Self { sfu, rooms: Mutex::new(HashMap::new()), mit: OnceLock::new(), recorder, capacity, grace, empty_timeout }
    }

    /// Connects the registry to the domain (which in turn uses the registry as its room port).
    pub fn bind(&self, mit: &Arc<Mit>) {
        let _ = self.mit.set(Arc::downgrade(mit));
    }

    fn rooms(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, Arc<LiveRoom>>> {
        // Single inserts and removes only: a poisoned lock leaves a consistent map.
        self.rooms.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The meeting's room, created on first use.
    pub fn room(&self, meeting: Uuid) -> Arc<LiveRoom> {
        let mut rooms = self.rooms();
        let room = rooms.entry(meeting).or_insert_with(|| {
            let recorder = self.recorder.meeting(meeting);
            let media = self.sfu.room(meeting, Some(recorder.clone() as Arc<dyn RoomObserver>));
            let mit = self.mit.get().cloned().unwrap_or_default();
            Arc::new(LiveRoom::new(meeting, media, recorder, mit, self.capacity, self.grace, self.empty_timeout))
        });
        Arc::clone(room)
    }

    /// The meeting's room, if it is open here.
    pub fn existing(&self, meeting: Uuid) -> Option<Arc<LiveRoom>> {
        self.rooms().get(&meeting).cloned()
    }

    /// The media plane.
    pub fn sfu(&self) -> &Sfu {
        &self.sfu
    }

    /// For shutdown: finishes every file being recorded (recording resumes in new files when
    /// the participants reconnect to the next run) and waits until they are handed over.
    pub async fn finish_recordings(&self) {
        let rooms: Vec<Arc<LiveRoom>> = self.rooms().values().cloned().collect();
        for room in rooms {
            room.pause_recorder();
        }
        self.recorder.wait().await;
    }
}

#[async_trait]
impl RoomControl for RoomRegistry {
    async fn occupants(&self, meeting: Uuid) -> Vec<Uuid> {
        self.existing(meeting).map(|room| room.occupants()).unwrap_or_default()
    }

    async fn remove(&self, meeting: Uuid, user: Uuid, why: Departure) {
        if let Some(room) = self.existing(meeting) {
            match why {
                Departure::Kicked => room.kick(user),
                Departure::Left => room.leave(user),
            }
        }
    }

    async fn set_recording(&self, meeting: Uuid, recording: RecordingFlag) {
        if let Some(room) = self.existing(meeting) {
            room.apply_recording(recording);
        }
    }

    async fn close(&self, meeting: Uuid, ending: Ending) {
        let room = self.rooms().remove(&meeting);
        if let Some(room) = room {
            room.close(ending);
        }
    }
}
