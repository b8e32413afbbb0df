//! One meeting's live room on this node: who is present (connected, or dropped and within the
//! grace period), their media state, and their sockets' outboxes. The state sits behind one
//! mutex that is never held across an await; the media itself lives in the SFU's room.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use mit_api::server::models::ParticipantRole;
use mit_domain::Mit;
use mit_domain::ports::meetings::RecordingFlag;
use mit_domain::ports::rooms::Ending;
use mit_domain::realtime::{Admission, Refusal};
use mit_sfu::{MediaRoom, PublicationKey, Source};
use tokio::sync::mpsc;
use uuid::Uuid;

use super::messages::{LeftReason, Member, RecordingState, ServerMessage};
use crate::recording::MeetingRecorder;

/// What a socket's writer sends next.
#[derive(Debug, Clone)]
pub enum Outgoing {
    /// A message (serialised once, shared by every recipient).
    Text(Arc<str>),
    /// Close the socket with this code and reason.
    Close(u16, &'static str),
}

/// Messages a socket may have queued before it counts as stuck and is closed.
pub const OUTBOX_DEPTH: usize = 512;

struct Seat {
    name: String,
    role: ParticipantRole,
    audio: bool,
    video: bool,
    screen: bool,
    session: Option<(u64, mpsc::Sender<Outgoing>)>,
}

impl Seat {
    fn member(&self, user_id: Uuid) -> Member {
        Member { user_id, name: self.name.clone(), role: self.role.as_str(), audio: self.audio, video: self.video, screen: self.screen }
    }
}

#[derive(Default)]
struct RoomState {
    seats: BTreeMap<Uuid, Seat>,
    next_session: u64,
    closed: bool,
    /// Whether the meeting is recorded, as of the newest report the room has had (`None`
    /// before the first).
    recording: Option<RecordingFlag>,
}

/// How a socket entered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entry {
    /// A new seat: the others got `user-joined`.
    New,
    /// The seat of a dropped (or replaced) socket of the same user.
    Resumed,
}

/// How a socket ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// The participant left (message or REST).
    Left,
    /// A host removed them.
    Kicked,
    /// The connection dropped: the seat waits for the grace period.
    Dropped,
    /// A newer socket of the same user took over.
    Replaced,
}

/// A live meeting room.
pub struct LiveRoom {
    meeting: Uuid,
    media: Arc<MediaRoom>,
    recorder: Arc<MeetingRecorder>,
    mit: Weak<Mit>,
    capacity: usize,
    grace: Duration,
    empty_timeout: Option<Duration>,
    state: Mutex<RoomState>,
}

impl LiveRoom {
    pub(super) fn new(
        meeting: Uuid,
        media: Arc<MediaRoom>,
        recorder: Arc<MeetingRecorder>,
        mit: Weak<Mit>,
        capacity: usize,
        grace: Duration,
        empty_timeout: Option<Duration>,
    ) -> Self {
        Self { meeting, media, recorder, mit, capacity, grace, empty_timeout, state: Mutex::new(RoomState::default()) }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, RoomState> {
        // Every update is a single insert, remove or field write, so a poisoned lock is safe.
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The SFU room.
    pub fn media(&self) -> &Arc<MediaRoom> {
        &self.media
    }

    /// How long a dropped participant keeps their seat.
    pub fn grace(&self) -> Duration {
        self.grace
    }

    /// Seats a socket; a previous socket of the same user is closed with 4007.
    pub fn enter(&self, admission: &Admission, outbox: mpsc::Sender<Outgoing>) -> Result<(u64, Entry), Refusal> {
        let (session, entry, joined) = {
            let mut state = self.state();
            if state.closed {
                return Err(Refusal::Ended);
            }
            state.next_session += 1;
            let session = state.next_session;
            let full = state.seats.len() >= self.capacity;
            match state.seats.get_mut(&admission.user_id) {
                Some(seat) => {
                    if let Some((_, previous)) = seat.session.replace((session, outbox)) {
                        let _ = previous.try_send(Outgoing::Close(4007, "replaced by a newer connection"));
                    }
                    seat.role = admission.role;
                    (session, Entry::Resumed, None)
                }
                None if full => return Err(Refusal::RoomFull),
                None => {
                    let seat = Seat {
                        name: admission.name.clone(),
                        role: admission.role,
                        audio: false,
                        video: false,
                        screen: false,
                        session: Some((session, outbox)),
                    };
                    let member = seat.member(admission.user_id);
                    state.seats.insert(admission.user_id, seat);
                    (session, Entry::New, Some(member))
                }
            }
        };
        if let Some(participant) = joined {
            self.broadcast(&ServerMessage::UserJoined { participant }, Some(admission.user_id));
            self.record_presence(admission.user_id, true);
        }
        Ok((session, entry))
    }

    /// The `room-info` for `user`.
    pub fn room_info(&self, user: Uuid, role: ParticipantRole, resumed: bool) -> ServerMessage {
        let state = self.state();
        let participants = state.seats.iter().map(|(id, seat)| seat.member(*id)).collect();
        let since = state.recording.and_then(|r| r.since);
        let recording = RecordingState { active: since.is_some(), started_at: since };
        ServerMessage::RoomInfo { user_id: user, role: role.as_str(), resumed, participants, recording, capacity: self.capacity }
    }

    /// A report of the recording state (a host's start or stop, or the database as someone
    /// entered): applied if newer than what the room has, so reports arriving out of order cannot
    /// undo a later change. The recorder follows, and everyone hears about a change.
    pub fn apply_recording(&self, report: RecordingFlag) {
        {
            let mut state = self.state();
            let newer = state.recording.is_none_or(|current| report.version > current.version);
            if state.closed || !newer {
                return;
            }
            let before = state.recording.and_then(|current| current.since);
            state.recording = Some(report);
            if before == report.since {
                return;
            }
            // Under the room's lock, so the recorder sees changes in the order they apply.
            self.recorder.set_active(report.since.is_some());
        }
        let message = match report.since {
            Some(started_at) => ServerMessage::RecordingStarted { started_at },
            None => ServerMessage::RecordingStopped,
        };
        self.broadcast(&message, None);
    }

    /// Finishes every file being written without changing the recording state (shutdown).
    pub fn pause_recorder(&self) {
        self.recorder.set_active(false);
    }

    /// A socket ended; a dropped one keeps its seat for the grace period.
    pub fn exit(self: &Arc<Self>, user: Uuid, session: u64, exit: Exit) {
        match exit {
            Exit::Replaced => {}
            Exit::Left => self.vacate(user, Some(session), LeftReason::Left),
            Exit::Kicked => self.vacate(user, Some(session), LeftReason::Kicked),
            Exit::Dropped => {
                let still_mine = {
                    let mut state = self.state();
                    match state.seats.get_mut(&user) {
                        Some(seat) if seat.session.as_ref().is_some_and(|(id, _)| *id == session) => {
                            seat.session = None;
                            true
                        }
                        _ => false,
                    }
                };
                if still_mine {
                    let room = Arc::clone(self);
                    tokio::spawn(async move {
                        tokio::time::sleep(room.grace).await;
                        room.expire(user);
                    });
                }
            }
        }
    }

    /// After the grace period: a seat nobody reclaimed is vacated.
    fn expire(&self, user: Uuid) {
        let unclaimed = self.state().seats.get(&user).is_some_and(|seat| seat.session.is_none());
        if unclaimed {
            self.vacate(user, None, LeftReason::Timeout);
        }
    }

    /// Removes a seat (only if it still belongs to `session`, when given).
    fn vacate(&self, user: Uuid, session: Option<u64>, reason: LeftReason) {
        let (removed, now_empty) = {
            let mut state = self.state();
            let owned = match (state.seats.get(&user), session) {
                (Some(seat), Some(session)) => seat.session.as_ref().is_none_or(|(id, _)| *id == session),
                (Some(_), None) => true,
                (None, _) => false,
            };
            let removed = if owned { state.seats.remove(&user) } else { None };
            (removed, state.seats.is_empty() && !state.closed)
        };
        let Some(seat) = removed else { return };
        if let Some((_, outbox)) = seat.session {
            let close = match reason {
                LeftReason::Kicked => Outgoing::Close(4008, "removed from the meeting"),
                _ => Outgoing::Close(1000, "left the meeting"),
            };
            let _ = outbox.try_send(close);
        }
        self.media.leave(user);
        self.broadcast(&ServerMessage::UserLeft { user_id: user, reason }, None);
        self.record_presence(user, false);
        if now_empty {
            self.watch_emptiness();
        }
    }

    /// Removes a participant a host took out of the meeting (close code 4008).
    pub fn kick(&self, user: Uuid) {
        self.vacate(user, None, LeftReason::Kicked);
    }

    /// Takes a participant out at their own request through the API.
    pub fn leave(&self, user: Uuid) {
        self.vacate(user, None, LeftReason::Left);
    }

    /// Ends the room: everyone gets `meeting-ended`, then their socket closes.
    pub fn close(&self, ending: Ending) {
        let seats = {
            let mut state = self.state();
            state.closed = true;
            std::mem::take(&mut state.seats)
        };
        let reason = match ending {
            Ending::Completed => "completed",
            Ending::Cancelled => "cancelled",
        };
        let ended: Arc<str> = ServerMessage::MeetingEnded { reason }.to_text().into();
        for (user, seat) in seats {
            if let Some((_, outbox)) = seat.session {
                let _ = outbox.try_send(Outgoing::Text(ended.clone()));
                let _ = outbox.try_send(Outgoing::Close(1000, "the meeting ended"));
            }
            self.record_presence(user, false);
        }
        self.recorder.set_active(false);
        self.media.close();
    }

    /// Everyone seated now (connected or within their grace period).
    pub fn occupants(&self) -> Vec<Uuid> {
        self.state().seats.keys().copied().collect()
    }

    /// Sends `message` to every connected seat but `except`.
    pub fn broadcast(&self, message: &ServerMessage, except: Option<Uuid>) {
        let text: Arc<str> = message.to_text().into();
        let outboxes: Vec<mpsc::Sender<Outgoing>> = self
            .state()
            .seats
            .iter()
            .filter(|(id, _)| Some(**id) != except)
            .filter_map(|(_, seat)| seat.session.as_ref().map(|(_, outbox)| outbox.clone()))
            .collect();
        for outbox in outboxes {
            deliver(&outbox, Outgoing::Text(text.clone()));
        }
    }

    /// Sends `message` to `user` if connected; false if they are not in the room.
    pub fn send_to(&self, user: Uuid, message: &ServerMessage) -> bool {
        let outbox = self.state().seats.get(&user).and_then(|seat| seat.session.as_ref().map(|(_, outbox)| outbox.clone()));
        match outbox {
            Some(outbox) => {
                deliver(&outbox, Outgoing::Text(message.to_text().into()));
                true
            }
            None => false,
        }
    }

    /// Records `user`'s microphone and camera and tells the others. Turning the microphone on
    /// lifts a host's mute.
    pub fn set_media_state(&self, user: Uuid, audio: bool, video: bool) {
        let known = {
            let mut state = self.state();
            state.seats.get_mut(&user).map(|seat| {
                seat.audio = audio;
                seat.video = video;
            })
        };
        if known.is_none() {
            return;
        }
        if audio && let Some(microphone) = self.media.publication(PublicationKey { user, source: Source::Microphone }) {
            microphone.set_paused(false);
        }
        self.broadcast(&ServerMessage::MediaState { user_id: user, audio, video }, Some(user));
    }

    /// Marks `user` as sharing their screen (or not) and tells everyone.
    pub fn set_screen(&self, user: Uuid, sharing: bool) {
        let changed = {
            let mut state = self.state();
            state.seats.get_mut(&user).map(|seat| std::mem::replace(&mut seat.screen, sharing) != sharing)
        };
        if changed != Some(true) {
            return;
        }
        if !sharing {
            self.media.unpublish(PublicationKey { user, source: Source::Screen });
        }
        let message =
            if sharing { ServerMessage::ScreenShareStarted { user_id: user } } else { ServerMessage::ScreenShareStopped { user_id: user } };
        self.broadcast(&message, None);
    }

    /// A host mutes (or unmutes) `target`: their microphone is held back (or released), they
    /// are told, and everyone sees their new state. False if `target` is not in the room.
    pub fn force_mute(&self, by: Uuid, target: Uuid, muted: bool) -> bool {
        let video = {
            let mut state = self.state();
            match state.seats.get_mut(&target) {
                Some(seat) => {
                    seat.audio = !muted;
                    seat.video
                }
                None => return false,
            }
        };
        if let Some(microphone) = self.media.publication(PublicationKey { user: target, source: Source::Microphone }) {
            microphone.set_paused(muted);
        }
        self.send_to(target, &ServerMessage::ForceMuted { by, muted });
        self.broadcast(&ServerMessage::MediaState { user_id: target, audio: !muted, video }, None);
        true
    }

    fn record_presence(&self, user: Uuid, present: bool) {
        let Some(mit) = self.mit.upgrade() else { return };
        let meeting = self.meeting;
        tokio::spawn(async move { mit.record_presence(meeting, user, present).await });
    }

    /// With `ROOM_EMPTY_TIMEOUT_MINUTES`, completes the meeting if the room is still empty then.
    fn watch_emptiness(&self) {
        let (Some(timeout), Some(mit)) = (self.empty_timeout, self.mit.upgrade()) else { return };
        let meeting = self.meeting;
        tokio::spawn(async move {
            tokio::time::sleep(timeout).await;
            if mit.ports().rooms.occupants(meeting).await.is_empty()
                && let Err(error) = mit.complete_unattended(meeting).await
            {
                tracing::warn!(%error, %meeting, "could not complete an unattended meeting");
            }
        });
    }
}

/// Queues a message. A socket whose outbox is full has stopped reading: the message is dropped,
/// and the keepalive closes the socket once it also stops answering pings.
fn deliver(outbox: &mpsc::Sender<Outgoing>, message: Outgoing) {
    if let Err(mpsc::error::TrySendError::Full(_)) = outbox.try_send(message) {
        tracing::warn!("a signalling socket stopped reading; dropping a message for it");
    }
}
