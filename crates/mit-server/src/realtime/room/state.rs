//! The live room's decisions as a plain state machine: seats, the grace period of a dropped
//! connection, capacity, host moderation, the recording flag and how long the room has been
//! empty. It takes events and the time as inputs and answers with [`Effect`]s for the shell in
//! `room/mod.rs` to carry out; it owns no socket, task or clock, so its tests drive it with
//! made-up instants.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use mit_api::server::models::ParticipantRole;
use mit_domain::ports::meetings::RecordingFlag;
use mit_domain::ports::rooms::Ending;
use mit_domain::realtime::{Admission, Refusal};
use uuid::Uuid;

use super::super::messages::{LeftReason, Member, RecordingState, ServerMessage};

/// One socket's identity within its room.
pub type SessionId = u64;

/// The room's fixed rules.
#[derive(Debug, Clone, Copy)]
pub struct RoomRules {
    /// Seats (connected or within their grace period).
    pub capacity: usize,
    /// How long a dropped participant keeps their seat, counted from their latest drop.
    pub grace: Duration,
    /// How long the room may stay empty before the meeting completes (`None`: forever).
    pub empty_timeout: Option<Duration>,
}

/// What the shell does for the state machine.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Queue `message` on these sockets.
    Deliver(Vec<SessionId>, ServerMessage),
    /// Close this socket with a code and reason; its outbox is no longer needed.
    Close(SessionId, u16, &'static str),
    /// This socket is gone; forget its outbox.
    Release(SessionId),
    /// Store that the participant entered (`true`) or left the room, stamped now.
    Presence(Uuid, bool),
    /// Take the participant's media out of the SFU room.
    DetachMedia(Uuid),
    /// Stop forwarding the participant's screen.
    UnpublishScreen(Uuid),
    /// Hold back (or release) the participant's microphone.
    PauseMicrophone(Uuid, bool),
    /// Start or stop writing files.
    Record(bool),
    /// Close the SFU room.
    CloseMedia,
    /// Complete the meeting: the room stayed empty for the configured time.
    CompleteUnattended,
    /// Call [`RoomState::tick`] at this instant.
    WakeAt(Instant),
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Link {
    Connected(SessionId),
    Dropped { since: Instant },
}

#[derive(Debug, Clone)]
struct Seat {
    name: String,
    role: ParticipantRole,
    audio: bool,
    video: bool,
    screen: bool,
    link: Link,
}

impl Seat {
    fn member(&self, user_id: Uuid) -> Member {
        Member { user_id, name: self.name.clone(), role: self.role.as_str(), audio: self.audio, video: self.video, screen: self.screen }
    }

    fn session(&self) -> Option<SessionId> {
        match self.link {
            Link::Connected(session) => Some(session),
            Link::Dropped { .. } => None,
        }
    }
}

/// One meeting's live room.
#[derive(Debug)]
pub struct RoomState {
    rules: RoomRules,
    seats: BTreeMap<Uuid, Seat>,
    next_session: SessionId,
    closed: bool,
    /// Whether the meeting is recorded, as of the newest report (`None` before the first).
    recording: Option<RecordingFlag>,
    /// Since when nobody is seated, once someone has been and left.
    empty_since: Option<Instant>,
}

impl RoomState {
    /// An open, empty room.
    pub fn new(rules: RoomRules) -> Self {
        Self { rules, seats: BTreeMap::new(), next_session: 0, closed: false, recording: None, empty_since: None }
    }

    /// Whether the room has ended (it refuses everyone from then on).
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Whether `user` could enter now: seated already, or a seat is free.
    pub fn has_seat_for(&self, user: Uuid) -> bool {
        !self.closed && (self.seats.contains_key(&user) || self.seats.len() < self.rules.capacity)
    }

    /// Seats taken (connected or within their grace period).
    pub fn seats_taken(&self) -> usize {
        self.seats.len()
    }

    /// Who holds a seat (connected or within their grace period).
    pub fn occupants(&self) -> Vec<Uuid> {
        self.seats.keys().copied().collect()
    }

    /// Seats a socket. A previous socket of the same user is closed with 4007.
    pub fn enter(&mut self, admission: &Admission, effects: &mut Vec<Effect>) -> Result<(SessionId, Entry), Refusal> {
        if self.closed {
            return Err(Refusal::Ended);
        }
        if !self.has_seat_for(admission.user_id) {
            return Err(Refusal::RoomFull);
        }
        self.next_session += 1;
        let session = self.next_session;
        self.empty_since = None;
        if let Some(seat) = self.seats.get_mut(&admission.user_id) {
            if let Some(previous) = seat.session() {
                effects.push(Effect::Close(previous, 4007, "replaced by a newer connection"));
            }
            seat.link = Link::Connected(session);
            seat.role = admission.role;
            return Ok((session, Entry::Resumed));
        }
        let seat = Seat {
            name: admission.name.clone(),
            role: admission.role,
            audio: false,
            video: false,
            screen: false,
            link: Link::Connected(session),
        };
        let participant = seat.member(admission.user_id);
        self.seats.insert(admission.user_id, seat);
        effects.push(Effect::Deliver(self.sessions_except(Some(admission.user_id)), ServerMessage::UserJoined { participant }));
        effects.push(Effect::Presence(admission.user_id, true));
        Ok((session, Entry::New))
    }

    /// The `room-info` for `user`.
    pub fn room_info(&self, user: Uuid, role: ParticipantRole, resumed: bool) -> ServerMessage {
        let participants = self.seats.iter().map(|(id, seat)| seat.member(*id)).collect();
        let since = self.recording.and_then(|r| r.since);
        let recording = RecordingState { active: since.is_some(), started_at: since };
        ServerMessage::RoomInfo { user_id: user, role: role.as_str(), resumed, participants, recording, capacity: self.rules.capacity }
    }

    /// A report of the recording state, applied only if newer than the room's, so reports
    /// arriving out of order cannot undo a later change.
    pub fn apply_recording(&mut self, report: RecordingFlag, effects: &mut Vec<Effect>) {
        let newer = self.recording.is_none_or(|current| report.version > current.version);
        if self.closed || !newer {
            return;
        }
        let before = self.recording.and_then(|current| current.since);
        self.recording = Some(report);
        if before == report.since {
            return;
        }
        effects.push(Effect::Record(report.since.is_some()));
        let message = match report.since {
            Some(started_at) => ServerMessage::RecordingStarted { started_at },
            None => ServerMessage::RecordingStopped,
        };
        effects.push(Effect::Deliver(self.sessions_except(None), message));
    }

    /// A socket ended; a dropped one keeps its seat for the grace period from now.
    pub fn exit(&mut self, user: Uuid, session: SessionId, exit: Exit, now: Instant, effects: &mut Vec<Effect>) {
        effects.push(Effect::Release(session));
        match exit {
            Exit::Replaced => {}
            Exit::Left => self.vacate(user, Some(session), LeftReason::Left, now, effects),
            Exit::Kicked => self.vacate(user, Some(session), LeftReason::Kicked, now, effects),
            Exit::Dropped => {
                if let Some(seat) = self.seats.get_mut(&user).filter(|seat| seat.link == Link::Connected(session)) {
                    seat.link = Link::Dropped { since: now };
                    effects.push(Effect::WakeAt(now + self.rules.grace));
                }
            }
        }
    }

    /// Takes `user` out (a host's kick, or their own leave through the API).
    pub fn remove(&mut self, user: Uuid, reason: LeftReason, now: Instant, effects: &mut Vec<Effect>) {
        self.vacate(user, None, reason, now, effects);
    }

    /// Lets time pass: seats dropped a full grace period ago are vacated, and a room empty for
    /// the configured time completes its meeting.
    pub fn tick(&mut self, now: Instant, effects: &mut Vec<Effect>) {
        let expired: Vec<Uuid> = self
            .seats
            .iter()
            .filter(|(_, seat)| matches!(seat.link, Link::Dropped { since } if now >= since + self.rules.grace))
            .map(|(user, _)| *user)
            .collect();
        for user in expired {
            self.vacate(user, None, LeftReason::Timeout, now, effects);
        }
        let stayed_empty = self.empty_since.zip(self.rules.empty_timeout).is_some_and(|(since, timeout)| now >= since + timeout);
        if stayed_empty && !self.closed {
            self.empty_since = None;
            effects.push(Effect::CompleteUnattended);
        }
    }

    /// Ends the room: everyone gets `meeting-ended`, then their socket closes.
    pub fn close(&mut self, ending: Ending, effects: &mut Vec<Effect>) {
        if self.closed {
            return;
        }
        self.closed = true;
        self.empty_since = None;
        let reason = match ending {
            Ending::Completed => "completed",
            Ending::Cancelled => "cancelled",
        };
        let sessions = self.sessions_except(None);
        effects.push(Effect::Deliver(sessions.clone(), ServerMessage::MeetingEnded { reason }));
        effects.extend(sessions.into_iter().map(|session| Effect::Close(session, 1000, "the meeting ended")));
        effects.extend(std::mem::take(&mut self.seats).into_keys().map(|user| Effect::Presence(user, false)));
        effects.push(Effect::Record(false));
        effects.push(Effect::CloseMedia);
    }

    /// Gives the room up to another node (this one drains, or lost the room's lease): every
    /// socket closes with 4010 so its client joins again and reaches the new host; nobody is told
    /// `user-left`, since everyone is leaving for the same place.
    pub fn hand_over(&mut self, effects: &mut Vec<Effect>) {
        if self.closed {
            return;
        }
        self.closed = true;
        self.empty_since = None;
        let sessions = self.sessions_except(None);
        effects.extend(sessions.into_iter().map(|session| Effect::Close(session, 4010, "the room moved to another node: join again")));
        effects.extend(std::mem::take(&mut self.seats).into_keys().map(|user| Effect::Presence(user, false)));
        effects.push(Effect::Record(false));
        effects.push(Effect::CloseMedia);
    }

    /// Sends `message` to every connected seat but `except`'s.
    pub fn broadcast(&self, message: ServerMessage, except: Option<Uuid>, effects: &mut Vec<Effect>) {
        effects.push(Effect::Deliver(self.sessions_except(except), message));
    }

    /// Records `user`'s microphone and camera and tells the others; turning the microphone on
    /// lifts a host's mute.
    pub fn set_media_state(&mut self, user: Uuid, audio: bool, video: bool, effects: &mut Vec<Effect>) {
        let Some(seat) = self.seats.get_mut(&user) else { return };
        seat.audio = audio;
        seat.video = video;
        if audio {
            effects.push(Effect::PauseMicrophone(user, false));
        }
        self.broadcast(ServerMessage::MediaState { user_id: user, audio, video }, Some(user), effects);
    }

    /// Marks `user` as sharing their screen (or not) and tells everyone of a change.
    pub fn set_screen(&mut self, user: Uuid, sharing: bool, effects: &mut Vec<Effect>) {
        let Some(seat) = self.seats.get_mut(&user) else { return };
        if std::mem::replace(&mut seat.screen, sharing) == sharing {
            return;
        }
        if !sharing {
            effects.push(Effect::UnpublishScreen(user));
        }
        let message =
            if sharing { ServerMessage::ScreenShareStarted { user_id: user } } else { ServerMessage::ScreenShareStopped { user_id: user } };
        self.broadcast(message, None, effects);
    }

    /// A host `by` mutes (or unmutes) `target`: their microphone is held back (or released),
    /// they are told, and everyone sees their new state. False if `target` is not seated.
    pub fn force_mute(&mut self, by: Uuid, target: Uuid, muted: bool, effects: &mut Vec<Effect>) -> bool {
        let Some(seat) = self.seats.get_mut(&target) else { return false };
        seat.audio = !muted;
        let video = seat.video;
        effects.push(Effect::PauseMicrophone(target, muted));
        if let Some(session) = seat.session() {
            effects.push(Effect::Deliver(vec![session], ServerMessage::ForceMuted { by, muted }));
        }
        self.broadcast(ServerMessage::MediaState { user_id: target, audio: !muted, video }, None, effects);
        true
    }

    /// Removes a seat (only if it still belongs to `session`, when given).
    fn vacate(&mut self, user: Uuid, session: Option<SessionId>, reason: LeftReason, now: Instant, effects: &mut Vec<Effect>) {
        let owned = self.seats.get(&user).is_some_and(|seat| match (seat.session(), session) {
            (Some(current), Some(exiting)) => current == exiting,
            _ => true,
        });
        if !owned {
            return;
        }
        let Some(seat) = self.seats.remove(&user) else { return };
        if let Some(session) = seat.session() {
            let (code, why) = match reason {
                LeftReason::Kicked => (4008, "removed from the meeting"),
                LeftReason::Left | LeftReason::Timeout => (1000, "left the meeting"),
            };
            effects.push(Effect::Close(session, code, why));
        }
        effects.push(Effect::DetachMedia(user));
        effects.push(Effect::Deliver(self.sessions_except(None), ServerMessage::UserLeft { user_id: user, reason }));
        effects.push(Effect::Presence(user, false));
        if self.seats.is_empty() && !self.closed {
            self.empty_since = Some(now);
            if let Some(timeout) = self.rules.empty_timeout {
                effects.push(Effect::WakeAt(now + timeout));
            }
        }
    }

    fn sessions_except(&self, except: Option<Uuid>) -> Vec<SessionId> {
        self.seats.iter().filter(|(id, _)| Some(**id) != except).filter_map(|(_, seat)| seat.session()).collect()
    }
}

#[cfg(test)]
mod tests;
