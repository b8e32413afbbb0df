//! One meeting's live room on this node: the thin shell around its state machine
//! ([`state::RoomState`]). Each call locks the state (never across an await), lets the machine
//! decide, and carries out the effects: messages and presence are queued under the lock, so they
//! leave in the order things happened; media changes, timers and reports run after it.

pub mod state;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use chrono::{DateTime, Utc};
use mit_api::server::models::ParticipantRole;
use mit_domain::ports::meetings::RecordingFlag;
use mit_domain::ports::rooms::Ending;
use mit_domain::realtime::{Admission, Refusal, RoomReports};
use mit_sfu::{MediaRoom, PublicationKey, Source};
use tokio::sync::mpsc;
use uuid::Uuid;

use state::{Effect, RoomState};
pub use state::{Entry, Exit, RoomRules, SessionId};

use super::messages::{LeftReason, ServerMessage};
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

struct Inner {
    room: RoomState,
    outboxes: HashMap<SessionId, mpsc::Sender<Outgoing>>,
}

/// A presence change, stamped when it happened.
struct PresenceChange {
    user: Uuid,
    present: bool,
    at: DateTime<Utc>,
}

/// A live meeting room.
pub struct LiveRoom {
    meeting: Uuid,
    media: Arc<MediaRoom>,
    recorder: Arc<MeetingRecorder>,
    reports: Arc<dyn RoomReports>,
    presence: mpsc::UnboundedSender<PresenceChange>,
    inner: Mutex<Inner>,
}

impl LiveRoom {
    /// An open room; its presence changes are reported to `reports` one at a time, in order.
    pub(super) fn new(
        meeting: Uuid,
        media: Arc<MediaRoom>,
        recorder: Arc<MeetingRecorder>,
        reports: Arc<dyn RoomReports>,
        rules: RoomRules,
    ) -> Arc<Self> {
        let (presence, changes) = mpsc::unbounded_channel();
        tokio::spawn(report_presence(meeting, reports.clone(), changes));
        let inner = Inner { room: RoomState::new(rules), outboxes: HashMap::new() };
        Arc::new(Self { meeting, media, recorder, reports, presence, inner: Mutex::new(inner) })
    }

    /// The SFU room.
    pub fn media(&self) -> &Arc<MediaRoom> {
        &self.media
    }

    /// Seats a socket; a previous socket of the same user is closed with 4007.
    pub fn enter(self: &Arc<Self>, admission: &Admission, outbox: mpsc::Sender<Outgoing>) -> Result<(SessionId, Entry), Refusal> {
        self.step(|inner, effects| {
            let entered = inner.room.enter(admission, effects)?;
            inner.outboxes.insert(entered.0, outbox);
            Ok(entered)
        })
    }

    /// The `room-info` for `user`.
    pub fn room_info(&self, user: Uuid, role: ParticipantRole, resumed: bool) -> ServerMessage {
        self.lock().room.room_info(user, role, resumed)
    }

    /// A report of the recording state (a host's start or stop, or the database's as someone
    /// entered); older reports than the room has seen are ignored.
    pub fn apply_recording(self: &Arc<Self>, report: RecordingFlag) {
        self.step(|inner, effects| inner.room.apply_recording(report, effects));
    }

    /// Finishes every file being written without changing the recording state (shutdown).
    pub fn pause_recorder(&self) {
        self.recorder.set_active(false);
    }

    /// A socket ended; a dropped one keeps its seat for the grace period.
    pub fn exit(self: &Arc<Self>, user: Uuid, session: SessionId, exit: Exit) {
        self.step(|inner, effects| inner.room.exit(user, session, exit, Instant::now(), effects));
    }

    /// Takes a participant out (a host's kick: close code 4008; or their own leave).
    pub fn remove(self: &Arc<Self>, user: Uuid, reason: LeftReason) {
        self.step(|inner, effects| inner.room.remove(user, reason, Instant::now(), effects));
    }

    /// Ends the room: everyone gets `meeting-ended`, then their socket closes.
    pub fn close(self: &Arc<Self>, ending: Ending) {
        self.step(|inner, effects| inner.room.close(ending, effects));
    }

    /// Gives the room up to another node: every socket closes with 4010 (join again).
    pub fn hand_over(self: &Arc<Self>) {
        self.step(|inner, effects| inner.room.hand_over(effects));
    }

    /// Seats taken (connected or within their grace period).
    pub fn seats_taken(&self) -> usize {
        self.lock().room.seats_taken()
    }

    /// Who holds a seat (connected or within their grace period).
    pub fn occupants(&self) -> Vec<Uuid> {
        self.lock().room.occupants()
    }

    /// Whether the room has ended.
    pub fn is_closed(&self) -> bool {
        self.lock().room.is_closed()
    }

    /// Whether `user` could take a seat now.
    pub fn has_seat_for(&self, user: Uuid) -> bool {
        self.lock().room.has_seat_for(user)
    }

    /// Sends `message` to every connected seat but `except`.
    pub fn broadcast(self: &Arc<Self>, message: ServerMessage, except: Option<Uuid>) {
        self.step(|inner, effects| inner.room.broadcast(message, except, effects));
    }

    /// Records `user`'s microphone and camera and tells the others.
    pub fn set_media_state(self: &Arc<Self>, user: Uuid, audio: bool, video: bool) {
        self.step(|inner, effects| inner.room.set_media_state(user, audio, video, effects));
    }

    /// Marks `user` as sharing their screen (or not) and tells everyone.
    pub fn set_screen(self: &Arc<Self>, user: Uuid, sharing: bool) {
        self.step(|inner, effects| inner.room.set_screen(user, sharing, effects));
    }

    /// A host mutes (or unmutes) `target`; false if `target` is not in the room.
    pub fn force_mute(self: &Arc<Self>, by: Uuid, target: Uuid, muted: bool) -> bool {
        self.step(|inner, effects| inner.room.force_mute(by, target, muted, effects))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // The state machine's steps do not panic midway on any input; a poisoned lock would
        // come from a bug elsewhere in the step, and the state is still a consistent value.
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Runs one step of the state machine and carries out its effects.
    fn step<T>(self: &Arc<Self>, decide: impl FnOnce(&mut Inner, &mut Vec<Effect>) -> T) -> T {
        let mut effects = Vec::new();
        let mut later = Vec::new();
        let result = {
            let mut inner = self.lock();
            let result = decide(&mut inner, &mut effects);
            let at = Utc::now();
            for effect in effects {
                if let Some(effect) = self.queue(&mut inner, effect, at) {
                    later.push(effect);
                }
            }
            result
        };
        for effect in later {
            self.carry_out(effect);
        }
        result
    }

    /// Carries out what must keep its order (messages, presence, the recorder's switch) under
    /// the lock; hands back the rest.
    fn queue(&self, inner: &mut Inner, effect: Effect, at: DateTime<Utc>) -> Option<Effect> {
        match effect {
            Effect::Deliver(sessions, message) => {
                let text: Arc<str> = message.to_text().into();
                for outbox in sessions.iter().filter_map(|session| inner.outboxes.get(session)) {
                    deliver(outbox, Outgoing::Text(text.clone()));
                }
            }
            Effect::Close(session, code, reason) => {
                if let Some(outbox) = inner.outboxes.remove(&session) {
                    let _ = outbox.try_send(Outgoing::Close(code, reason));
                }
            }
            Effect::Release(session) => {
                inner.outboxes.remove(&session);
            }
            Effect::Presence(user, present) => {
                let _ = self.presence.send(PresenceChange { user, present, at });
            }
            Effect::Record(active) => self.recorder.set_active(active),
            other => return Some(other),
        }
        None
    }

    fn carry_out(self: &Arc<Self>, effect: Effect) {
        match effect {
            Effect::DetachMedia(user) => self.media.leave(user),
            Effect::UnpublishScreen(user) => self.media.unpublish(PublicationKey { user, source: Source::Screen }),
            Effect::PauseMicrophone(user, paused) => {
                if let Some(microphone) = self.media.publication(PublicationKey { user, source: Source::Microphone }) {
                    microphone.set_paused(paused);
                }
            }
            Effect::CloseMedia => self.media.close(),
            Effect::WakeAt(at) => {
                let room = Arc::clone(self);
                tokio::spawn(async move {
                    tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await;
                    room.step(|inner, effects| inner.room.tick(Instant::now(), effects));
                });
            }
            Effect::CompleteUnattended => {
                let room = Arc::clone(self);
                tokio::spawn(async move {
                    if room.reports.stayed_empty(room.meeting).await {
                        room.close(Ending::Completed);
                    }
                });
            }
            Effect::Deliver(..) | Effect::Close(..) | Effect::Release(_) | Effect::Presence(..) | Effect::Record(_) => {}
        }
    }
}

/// Writes a room's presence changes one after another, so a quick join-then-leave is stored in
/// that order.
async fn report_presence(meeting: Uuid, reports: Arc<dyn RoomReports>, mut changes: mpsc::UnboundedReceiver<PresenceChange>) {
    while let Some(change) = changes.recv().await {
        reports.presence(meeting, change.user, change.present, change.at).await;
    }
}

/// Queues a message. A socket whose outbox is full has stopped reading: the message is dropped,
/// and the keepalive closes the socket once it also stops answering pings.
fn deliver(outbox: &mpsc::Sender<Outgoing>, message: Outgoing) {
    if let Err(mpsc::error::TrySendError::Full(_)) = outbox.try_send(message) {
        tracing::warn!("a signalling socket stopped reading; dropping a message for it");
    }
}
