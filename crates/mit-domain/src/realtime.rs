//! The rules of the live meeting room: who may enter (and why not), who may moderate, chat,
//! and what a room reports: presence, and a meeting whose room stayed empty.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use mit_api::server::models::{MeetingStatus, ParticipantRole};
use uuid::Uuid;

use crate::Mit;
use crate::clock::Clock;
use crate::error::DomainError;
use crate::meetings::lifecycle::Transition;
use crate::ports::MeetingStore;
use crate::ports::chat::ChatRecord;
use crate::ports::meetings::{Guarded, RecordingFlag};
use crate::ports::rooms::Ending;

/// Why someone may not enter a meeting room (each has its close code in the protocol).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The room token is invalid, expired, or for another meeting.
    InvalidToken,
    /// The meeting does not exist.
    MeetingNotFound,
    /// The user does not take part.
    NotParticipant,
    /// The meeting has not started.
    NotStarted,
    /// The meeting is over.
    Ended,
    /// The room is at capacity.
    RoomFull,
    /// Another node hosts the room (or this one is draining): call `join` again for its URL.
    Elsewhere,
    /// Something failed on our side.
    Internal,
}

/// A seated user's standing in the meeting, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Standing {
    /// Still a participant; the meeting's recording state.
    Participant(RecordingFlag),
    /// No longer a participant (a host removed them).
    Removed,
    /// The meeting is over.
    Ended(Ending),
}

/// Who entered, as what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admission {
    /// The meeting.
    pub meeting_id: Uuid,
    /// The participant.
    pub user_id: Uuid,
    /// Their display name.
    pub name: String,
    /// Their role.
    pub role: ParticipantRole,
}

/// The longest chat message, in characters.
pub const MAX_CHAT_CHARS: usize = 4000;

impl Mit {
    /// Checks a room token for `meeting_id` and the meeting's state (the room itself decides
    /// whether it has a seat).
    pub async fn admit(&self, meeting_id: Uuid, token: &str) -> Result<Admission, Refusal> {
        let grant = self.keys.verify_room(token).map_err(|_| Refusal::InvalidToken)?;
        if grant.meeting_id != meeting_id {
            return Err(Refusal::InvalidToken);
        }
        let internal = |error: crate::ports::StoreError| {
            tracing::error!(%error, "admission check failed");
            Refusal::Internal
        };
        let view = self.ports.meetings.meeting_for(meeting_id, grant.user_id).await.map_err(internal)?;
        let Some(view) = view else {
            let exists = self.ports.meetings.exists(meeting_id).await.map_err(internal)?;
            return Err(if exists { Refusal::NotParticipant } else { Refusal::MeetingNotFound });
        };
        let role = view.my_role.ok_or(Refusal::NotParticipant)?;
        match view.meeting.status {
            MeetingStatus::Scheduled => return Err(Refusal::NotStarted),
            MeetingStatus::Completed | MeetingStatus::Cancelled => return Err(Refusal::Ended),
            MeetingStatus::InProgress => {}
        }
        let user = self.ports.accounts.user(grant.user_id).await.map_err(internal)?.ok_or(Refusal::NotParticipant)?;
        Ok(Admission { meeting_id, user_id: grant.user_id, name: user.name, role })
    }

    /// Whether `user` hosts `meeting` now (roles may change during a meeting).
    pub async fn is_host(&self, meeting: Uuid, user: Uuid) -> Result<bool, DomainError> {
        let participant = self.ports.meetings.participant(meeting, user).await?;
        Ok(participant.is_some_and(|p| p.role == ParticipantRole::Host))
    }

    /// Stores a chat message of `user` in `meeting`'s room.
    pub async fn post_chat(&self, meeting: Uuid, user: Uuid, text: &str) -> Result<ChatRecord, DomainError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(DomainError::invalid("text", "a chat message must not be blank"));
        }
        if text.chars().count() > MAX_CHAT_CHARS {
            return Err(DomainError::invalid("text", format!("a chat message has at most {MAX_CHAT_CHARS} characters")));
        }
        let now = self.ports.clock.now();
        Ok(self.ports.chat.post_message(Uuid::now_v7(), meeting, user, text.to_string(), now).await?)
    }

    /// Whether the meeting is recorded (as `user` sees it), with the flag's version.
    pub async fn recording_state(&self, meeting: Uuid, user: Uuid) -> Result<RecordingFlag, DomainError> {
        Ok(self.ports.meetings.meeting_for(meeting, user).await?.map(|view| view.meeting.recording).unwrap_or_default())
    }

    /// Where `user` stands in `meeting` according to the database: what a room that may have
    /// missed a host's command (another node's kick, end or recording switch) corrects itself by.
    pub async fn standing(&self, meeting: Uuid, user: Uuid) -> Result<Standing, DomainError> {
        let view = self.ports.meetings.meeting_for(meeting, user).await?;
        Ok(match view {
            Some(view) if view.meeting.status == MeetingStatus::Cancelled => Standing::Ended(Ending::Cancelled),
            Some(view) if view.meeting.status == MeetingStatus::Completed => Standing::Ended(Ending::Completed),
            Some(view) if view.my_role.is_some() => Standing::Participant(view.meeting.recording),
            _ => Standing::Removed,
        })
    }

    /// The time, for the realtime layer.
    pub fn now(&self) -> DateTime<Utc> {
        self.ports.clock.now()
    }
}

/// What a live room reports to the rest of Mit; it is given one when it is made.
#[async_trait]
pub trait RoomReports: Send + Sync + 'static {
    /// `user` entered (`true`) or left the room at `at`. A room makes these calls one at a
    /// time, in the order things happened.
    async fn presence(&self, meeting: Uuid, user: Uuid, present: bool, at: DateTime<Utc>);
    /// The room stayed empty for the configured time: completes the meeting; true if it was
    /// still running (the room then closes).
    async fn stayed_empty(&self, meeting: Uuid) -> bool;
}

/// Room reports stored through the meeting port.
pub struct StoredRoomReports {
    meetings: Arc<dyn MeetingStore>,
    clock: Arc<dyn Clock>,
}

impl StoredRoomReports {
    /// Reports written to `meetings`, completions stamped by `clock`.
    pub fn new(meetings: Arc<dyn MeetingStore>, clock: Arc<dyn Clock>) -> Self {
        Self { meetings, clock }
    }
}

#[async_trait]
impl RoomReports for StoredRoomReports {
    async fn presence(&self, meeting: Uuid, user: Uuid, present: bool, at: DateTime<Utc>) {
        if let Err(error) = self.meetings.mark_presence(meeting, user, present, at).await {
            tracing::warn!(%error, %meeting, %user, "presence not recorded");
        }
    }

    async fn stayed_empty(&self, meeting: Uuid) -> bool {
        let end = Transition::End;
        match self.meetings.transition(meeting, end.from(), end.to(), self.clock.now()).await {
            Ok(Guarded::Applied(_)) => {
                tracing::info!(%meeting, "completed a meeting whose room stayed empty");
                true
            }
            Ok(Guarded::WrongState(_) | Guarded::Missing) => false,
            Err(error) => {
                tracing::warn!(%error, %meeting, "could not complete an unattended meeting");
                false
            }
        }
    }
}
