//! The rules of the live meeting room: who may enter (and why not), who may moderate, chat,
//! presence, and ending a meeting whose room stayed empty.

use chrono::{DateTime, Utc};
use mit_api::server::models::{MeetingStatus, ParticipantRole};
use uuid::Uuid;

use crate::Mit;
use crate::error::DomainError;
use crate::meetings::lifecycle::Transition;
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
    /// Something failed on our side.
    Internal,
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
    /// Checks a room token for `meeting_id` and the meeting's state.
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
        let occupants = self.ports.rooms.occupants(meeting_id).await;
        if !occupants.contains(&grant.user_id) && occupants.len() >= self.config.room.capacity as usize {
            return Err(Refusal::RoomFull);
        }
        let user = self.ports.accounts.user(grant.user_id).await.map_err(internal)?.ok_or(Refusal::NotParticipant)?;
        Ok(Admission { meeting_id, user_id: grant.user_id, name: user.name, role })
    }

    /// How many may be in one room.
    pub fn room_capacity(&self) -> usize {
        self.config.room.capacity as usize
    }

    /// Whether `user` hosts `meeting` now (roles may change during a meeting).
    pub async fn is_host(&self, meeting: Uuid, user: Uuid) -> Result<bool, DomainError> {
        let participant = self.ports.meetings.participant(meeting, user).await?;
        Ok(participant.is_some_and(|p| p.role == ParticipantRole::Host))
    }

    /// Whether `user` still takes part in `meeting` (a host may have removed them).
    pub async fn takes_part(&self, meeting: Uuid, user: Uuid) -> Result<bool, DomainError> {
        Ok(self.ports.meetings.participant(meeting, user).await?.is_some())
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

    /// Records that `user` entered (`true`) or left the room.
    pub async fn record_presence(&self, meeting: Uuid, user: Uuid, present: bool) {
        let now = self.ports.clock.now();
        if let Err(error) = self.ports.meetings.mark_presence(meeting, user, present, now).await {
            tracing::warn!(%error, %meeting, %user, "presence not recorded");
        }
    }

    /// Completes a running meeting whose room stayed empty; false if it was not running.
    pub async fn complete_unattended(&self, meeting: Uuid) -> Result<bool, DomainError> {
        let now = self.ports.clock.now();
        match self.ports.meetings.transition(meeting, Transition::End.from(), Transition::End.to(), now).await? {
            Guarded::Applied(_) => {
                tracing::info!(%meeting, "completed a meeting whose room stayed empty");
                self.ports.rooms.close(meeting, Ending::Completed).await;
                Ok(true)
            }
            Guarded::WrongState(_) | Guarded::Missing => Ok(false),
        }
    }

    /// Whether the meeting is recorded (as `user` sees it), with the flag's version.
    pub async fn recording_state(&self, meeting: Uuid, user: Uuid) -> Result<RecordingFlag, DomainError> {
        Ok(self.ports.meetings.meeting_for(meeting, user).await?.map(|view| view.meeting.recording).unwrap_or_default())
    }

    /// The time, for the realtime layer.
    pub fn now(&self) -> DateTime<Utc> {
        self.ports.clock.now()
    }
}
