//! Every live room on this node, by meeting. The REST side reaches rooms through the domain's
//! `RoomControl` port, implemented here.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use mit_domain::ports::meetings::RecordingFlag;
use mit_domain::ports::rooms::{Departure, Ending, RoomControl};
use mit_domain::realtime::RoomReports;
use mit_sfu::{RoomObserver, Sfu};
use uuid::Uuid;

use super::messages::LeftReason;
use super::room::{LiveRoom, RoomRules};
use crate::recording::Recorder;

/// How long an ended meeting's closed room stays registered, refusing late sockets (one
/// admitted just before the end must not open a fresh room). Far longer than an admission takes.
const CLOSED_ROOM_LINGER: Duration = Duration::from_secs(10 * 60);

#[derive(Default)]
struct Rooms {
    open: HashMap<Uuid, Arc<LiveRoom>>,
    /// Meetings whose room closed here, and when.
    ended: HashMap<Uuid, Instant>,
}

impl Rooms {
    /// Moves rooms that closed themselves (their meeting completed while empty) to `ended`,
    /// and forgets ended meetings after the linger time.
    fn forget_closed(&mut self, now: Instant) {
        let closed: Vec<Uuid> = self.open.iter().filter(|(_, room)| room.is_closed()).map(|(meeting, _)| *meeting).collect();
        for meeting in closed {
            self.open.remove(&meeting);
            self.ended.insert(meeting, now);
        }
        self.ended.retain(|_, closed| now.duration_since(*closed) < CLOSED_ROOM_LINGER);
    }
}

/// The rooms hosted on this node.
pub struct RoomRegistry {
    sfu: Sfu,
    rooms: Mutex<Rooms>,
    reports: Arc<dyn RoomReports>,
    recorder: Recorder,
    rules: RoomRules,
}

impl RoomRegistry {
    /// No rooms yet; rooms follow `rules`, are recorded by `recorder` and report to `reports`.
    pub fn new(sfu: Sfu, recorder: Recorder, reports: Arc<dyn RoomReports>, rules: RoomRules) -> Self {
        Self { sfu, rooms: Mutex::new(Rooms::default()), reports, recorder, rules }
    }

    fn rooms(&self) -> std::sync::MutexGuard<'_, Rooms> {
        // Single inserts and removes only: a poisoned lock leaves a consistent map.
        self.rooms.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The meeting's room, created on first use; `None` once the meeting's room has closed.
    pub fn room(&self, meeting: Uuid) -> Option<Arc<LiveRoom>> {
        let mut rooms = self.rooms();
        if let Some(room) = rooms.open.get(&meeting) {
            // A room that closed itself (its meeting completed while empty) stays ended.
            return (!room.is_closed()).then(|| Arc::clone(room));
        }
        if rooms.ended.contains_key(&meeting) {
            return None;
        }
        // Sweeping walks every room, so it runs only when a room is made, not at every join.
        rooms.forget_closed(Instant::now());
        let recorder = self.recorder.meeting(meeting);
        let media = self.sfu.room(meeting, Some(recorder.clone() as Arc<dyn RoomObserver>));
        let room = LiveRoom::new(meeting, media, recorder, self.reports.clone(), self.rules);
        rooms.open.insert(meeting, Arc::clone(&room));
        Some(room)
    }

    /// The meeting's room, if it is open here.
    fn existing(&self, meeting: Uuid) -> Option<Arc<LiveRoom>> {
        self.rooms().open.get(&meeting).cloned()
    }

    /// Whether the meeting's room is open here.
    pub fn is_open(&self, meeting: Uuid) -> bool {
        self.rooms().open.get(&meeting).is_some_and(|room| !room.is_closed())
    }

    /// The meetings whose rooms are open here.
    pub fn open_meetings(&self) -> Vec<Uuid> {
        self.rooms().open.iter().filter(|(_, room)| !room.is_closed()).map(|(meeting, _)| *meeting).collect()
    }

    /// Each open room's occupants.
    pub fn occupancy(&self) -> Vec<(Uuid, Vec<Uuid>)> {
        let rooms: Vec<(Uuid, Arc<LiveRoom>)> = self.rooms().open.iter().map(|(m, r)| (*m, Arc::clone(r))).collect();
        rooms.into_iter().filter(|(_, room)| !room.is_closed()).map(|(meeting, room)| (meeting, room.occupants())).collect()
    }

    /// Seats taken in every room here: the load this node publishes.
    pub fn participants(&self) -> usize {
        let rooms: Vec<Arc<LiveRoom>> = self.rooms().open.values().cloned().collect();
        rooms.iter().filter(|room| !room.is_closed()).map(|room| room.seats_taken()).sum()
    }

    /// Gives the meeting's room up to another node (its participants are told to join again);
    /// unlike [`Self::close`] the meeting goes on, and may come back here later.
    pub fn vacate(&self, meeting: Uuid) {
        let room = self.rooms().open.remove(&meeting);
        if let Some(room) = room {
            room.hand_over();
        }
    }

    /// Closes the meeting's room (if open here) and keeps it closed.
    pub fn close(&self, meeting: Uuid, ending: Ending) {
        let room = {
            let mut rooms = self.rooms();
            rooms.ended.insert(meeting, Instant::now());
            rooms.open.remove(&meeting)
        };
        if let Some(room) = room {
            room.close(ending);
        }
    }

    /// For shutdown: finishes every file being recorded (recording resumes in new files when
    /// the participants reconnect to the next run) and waits until they are handed over.
    pub async fn finish_recordings(&self) {
        let rooms: Vec<Arc<LiveRoom>> = self.rooms().open.values().cloned().collect();
        for room in rooms {
            room.pause_recorder();
        }
        self.recorder.wait().await;
    }
}

#[async_trait]
impl RoomControl for RoomRegistry {
    async fn has_seat_for(&self, meeting: Uuid, user: Uuid) -> bool {
        self.existing(meeting).is_none_or(|room| room.has_seat_for(user))
    }

    async fn remove(&self, meeting: Uuid, user: Uuid, why: Departure) {
        if let Some(room) = self.existing(meeting) {
            let reason = match why {
                Departure::Kicked => LeftReason::Kicked,
                Departure::Left => LeftReason::Left,
            };
            room.remove(user, reason);
        }
    }

    async fn set_recording(&self, meeting: Uuid, recording: RecordingFlag) {
        if let Some(room) = self.existing(meeting) {
            room.apply_recording(recording);
        }
    }

    async fn close(&self, meeting: Uuid, ending: Ending) {
        RoomRegistry::close(self, meeting, ending);
    }
}

#[cfg(test)]
mod tests;
