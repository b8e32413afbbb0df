//! Meetings and their participants.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use mit_api::server::models::{MeetingStatus, ParticipantRole};
use uuid::Uuid;

use super::StoreError;
use super::people::UserRef;
use crate::paging::{Page, PageRequest};

/// A stored meeting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeetingRecord {
    /// Id.
    pub id: Uuid,
    /// Its team.
    pub team_id: Option<Uuid>,
    /// Title.
    pub title: String,
    /// Description.
    pub description: Option<String>,
    /// Life-cycle state.
    pub status: MeetingStatus,
    /// Planned start.
    pub scheduled_at: Option<DateTime<Utc>>,
    /// Actual start.
    pub started_at: Option<DateTime<Utc>>,
    /// Actual end.
    pub ended_at: Option<DateTime<Utc>>,
    /// Who created it (its first host).
    pub creator: UserRef,
    /// Record automatically when it starts.
    pub auto_record: bool,
    /// Whether it is being recorded.
    pub recording: RecordingFlag,
    /// Participants, hosts included.
    pub participant_count: i64,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

/// Whether a meeting is being recorded, with the counter of changes to it: of two reports, the
/// one with the higher version is the newer, whatever order they arrive in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RecordingFlag {
    /// Since when; `None` while not recording.
    pub since: Option<DateTime<Utc>>,
    /// Changes so far.
    pub version: i64,
}

/// A meeting as one caller sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeetingView {
    /// The meeting.
    pub meeting: MeetingRecord,
    /// The caller's role, if they take part.
    pub my_role: Option<ParticipantRole>,
}

/// One participant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParticipantRecord {
    /// The user.
    pub user: UserRef,
    /// Their role.
    pub role: ParticipantRole,
    /// When they were added.
    pub added_at: DateTime<Utc>,
    /// When they last entered the room.
    pub joined_at: Option<DateTime<Utc>>,
    /// When they last left it.
    pub left_at: Option<DateTime<Utc>>,
}

impl ParticipantRecord {
    /// Whether they are in the room now.
    pub fn in_room(&self) -> bool {
        match (self.joined_at, self.left_at) {
            (Some(joined), Some(left)) => joined > left,
            (Some(_), None) => true,
            _ => false,
        }
    }
}

/// A meeting to create.
#[derive(Debug, Clone)]
pub struct NewMeeting {
    /// Id.
    pub id: Uuid,
    /// Team.
    pub team_id: Option<Uuid>,
    /// Title.
    pub title: String,
    /// Description.
    pub description: Option<String>,
    /// Planned start.
    pub scheduled_at: Option<DateTime<Utc>>,
    /// Record automatically.
    pub auto_record: bool,
    /// The creator, who becomes host.
    pub creator: Uuid,
    /// Other participants (distinct, without the creator).
    pub participants: Vec<Uuid>,
    /// Now.
    pub now: DateTime<Utc>,
}

/// What creating a meeting did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Creation {
    /// Created.
    Created(Box<MeetingView>),
    /// These participant ids are no (active) user.
    UnknownUsers(Vec<Uuid>),
}

/// Which meetings a list shows.
#[derive(Debug, Clone, Copy, Default)]
pub struct MeetingFilter {
    /// Only this state.
    pub status: Option<MeetingStatus>,
    /// Only this team.
    pub team_id: Option<Uuid>,
}

/// A change to a meeting's editable fields; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct MeetingChange {
    /// Title.
    pub title: Option<String>,
    /// Description (`Some(None)` clears it).
    pub description: Option<Option<String>>,
    /// Planned start (`Some(None)` clears it).
    pub scheduled_at: Option<Option<DateTime<Utc>>>,
    /// Auto-recording.
    pub auto_record: Option<bool>,
}

/// What a conditional change of a meeting did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Guarded<T> {
    /// Applied.
    Applied(T),
    /// Not applied: the meeting is in this state.
    WrongState(MeetingStatus),
    /// The meeting does not exist.
    Missing,
}

/// What changing or removing a participant did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParticipantChange {
    /// Done; the participant as they are now (`None` once removed).
    Done(Option<ParticipantRecord>),
    /// The user does not take part.
    NotParticipant,
    /// Refused: they are the last host.
    LastHost,
}

/// What adding a participant did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Addition {
    /// Added.
    Added(ParticipantRecord),
    /// They already take part.
    AlreadyThere,
    /// No such (active) user.
    UnknownUser,
    /// The meeting is completed or cancelled.
    Closed(MeetingStatus),
}

/// Storage of meetings and participants. Every write is atomic (one statement or one
/// transaction); state changes are conditional updates, so of two concurrent transitions exactly
/// one applies.
#[async_trait]
pub trait MeetingStore: Send + Sync + 'static {
    /// Creates a meeting with the creator as host and the given participants.
    async fn create_meeting(&self, meeting: NewMeeting) -> Result<Creation, StoreError>;
    /// Meetings `viewer` may see: those they take part in, and those of teams they own or
    /// administer; newest first.
    async fn list_meetings(&self, viewer: Uuid, filter: MeetingFilter, page: PageRequest) -> Result<Page<MeetingView>, StoreError>;
    /// Whether the meeting exists at all (whoever may see it).
    async fn exists(&self, meeting: Uuid) -> Result<bool, StoreError>;
    /// One meeting as `viewer` sees it; `None` if it does not exist or is invisible to them.
    async fn meeting_for(&self, meeting: Uuid, viewer: Uuid) -> Result<Option<MeetingView>, StoreError>;
    /// Applies `change` unless the meeting is completed or cancelled.
    async fn update_meeting(&self, meeting: Uuid, change: MeetingChange, now: DateTime<Utc>) -> Result<Guarded<MeetingRecord>, StoreError>;
    /// Moves the meeting to `to` if it is in one of `from` (stamping start or end times).
    async fn transition(
        &self,
        meeting: Uuid,
        from: &[MeetingStatus],
        to: MeetingStatus,
        now: DateTime<Utc>,
    ) -> Result<Guarded<MeetingRecord>, StoreError>;
    /// Turns recording on while the meeting is in progress (keeping an earlier start), or off;
    /// returns the flag as this change left it.
    async fn set_recording(&self, meeting: Uuid, on: bool, now: DateTime<Utc>) -> Result<Guarded<RecordingFlag>, StoreError>;
    /// Participants, hosts first, then by name and id.
    async fn participants(&self, meeting: Uuid, page: PageRequest) -> Result<Page<ParticipantRecord>, StoreError>;
    /// One participant.
    async fn participant(&self, meeting: Uuid, user: Uuid) -> Result<Option<ParticipantRecord>, StoreError>;
    /// Adds a participant to a meeting that is not over.
    async fn add_participant(&self, meeting: Uuid, user: Uuid, role: ParticipantRole, now: DateTime<Utc>) -> Result<Addition, StoreError>;
    /// Changes a participant's role as `actor`, refusing to demote the last host; announces what
    /// that does to the meeting's review.
    async fn change_participant_role(
        &self,
        meeting: Uuid,
        user: Uuid,
        role: ParticipantRole,
        actor: Uuid,
    ) -> Result<ParticipantChange, StoreError>;
    /// Removes a participant as `actor`, refusing to remove the last host; announces what that
    /// does to the meeting's review.
    async fn remove_participant(&self, meeting: Uuid, user: Uuid, actor: Uuid) -> Result<ParticipantChange, StoreError>;
    /// Records that a participant entered (`true`) or left (`false`) the room.
    async fn mark_presence(&self, meeting: Uuid, user: Uuid, present: bool, now: DateTime<Utc>) -> Result<(), StoreError>;
}
