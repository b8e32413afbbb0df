//! Rows read with hand-written SQL, and their conversion into the domain's records.

use chrono::{DateTime, Utc};
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Bool, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use mit_domain::ports::StoreError;
use mit_domain::ports::meetings::{MeetingRecord, MeetingView, ParticipantRecord, RecordingFlag};
use mit_domain::ports::people::UserRef;
use mit_domain::ports::teams::{MemberRecord, TeamRecord};
use uuid::Uuid;

/// A stored enum value (`text` with a CHECK constraint) back into its Rust enum.
pub fn parse_enum<T: std::str::FromStr>(column: &str, text: &str) -> Result<T, StoreError> {
    text.parse().map_err(|_| StoreError::Other(format!("unexpected {column} `{text}` in the database")))
}

/// `count(*)`.
#[derive(QueryableByName)]
pub struct CountRow {
    #[diesel(sql_type = BigInt)]
    pub count: i64,
}

/// A team seen by one member.
#[derive(QueryableByName)]
pub struct TeamRow {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Nullable<Text>)]
    description: Option<String>,
    #[diesel(sql_type = Text)]
    my_role: String,
    #[diesel(sql_type = BigInt)]
    member_count: i64,
    #[diesel(sql_type = Timestamptz)]
    created_at: DateTime<Utc>,
    #[diesel(sql_type = Timestamptz)]
    updated_at: DateTime<Utc>,
}

impl TryFrom<TeamRow> for TeamRecord {
    type Error = StoreError;

    fn try_from(row: TeamRow) -> Result<Self, StoreError> {
        Ok(Self {
            id: row.id,
            name: row.name,
            description: row.description,
            my_role: parse_enum("team role", &row.my_role)?,
            member_count: row.member_count,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

/// A team member with their user.
#[derive(QueryableByName)]
pub struct MemberRow {
    #[diesel(sql_type = SqlUuid)]
    user_id: Uuid,
    #[diesel(sql_type = Text)]
    user_name: String,
    #[diesel(sql_type = Nullable<Text>)]
    user_avatar: Option<String>,
    #[diesel(sql_type = Text)]
    role: String,
    #[diesel(sql_type = Timestamptz)]
    joined_at: DateTime<Utc>,
}

impl TryFrom<MemberRow> for MemberRecord {
    type Error = StoreError;

    fn try_from(row: MemberRow) -> Result<Self, StoreError> {
        Ok(Self {
            user: UserRef { id: row.user_id, name: row.user_name, avatar_url: row.user_avatar },
            role: parse_enum("team role", &row.role)?,
            joined_at: row.joined_at,
        })
    }
}

/// A meeting with its creator, head count and the viewer's role.
#[derive(QueryableByName)]
pub struct MeetingRow {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    team_id: Option<Uuid>,
    #[diesel(sql_type = Text)]
    title: String,
    #[diesel(sql_type = Nullable<Text>)]
    description: Option<String>,
    #[diesel(sql_type = Text)]
    status: String,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    scheduled_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    started_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    ended_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = SqlUuid)]
    creator_id: Uuid,
    #[diesel(sql_type = Text)]
    creator_name: String,
    #[diesel(sql_type = Nullable<Text>)]
    creator_avatar: Option<String>,
    #[diesel(sql_type = Bool)]
    auto_record: bool,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    recording_started_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = BigInt)]
    recording_version: i64,
    #[diesel(sql_type = BigInt)]
    participant_count: i64,
    #[diesel(sql_type = Nullable<Text>)]
    my_role: Option<String>,
    #[diesel(sql_type = Timestamptz)]
    created_at: DateTime<Utc>,
    #[diesel(sql_type = Timestamptz)]
    updated_at: DateTime<Utc>,
}

impl TryFrom<MeetingRow> for MeetingView {
    type Error = StoreError;

    fn try_from(row: MeetingRow) -> Result<Self, StoreError> {
        let my_role = row.my_role.as_deref().map(|r| parse_enum("participant role", r)).transpose()?;
        let meeting = MeetingRecord {
            id: row.id,
            team_id: row.team_id,
            title: row.title,
            description: row.description,
            status: parse_enum("meeting status", &row.status)?,
            scheduled_at: row.scheduled_at,
            started_at: row.started_at,
            ended_at: row.ended_at,
            creator: UserRef { id: row.creator_id, name: row.creator_name, avatar_url: row.creator_avatar },
            auto_record: row.auto_record,
            recording: RecordingFlag { since: row.recording_started_at, version: row.recording_version },
            participant_count: row.participant_count,
            created_at: row.created_at,
            updated_at: row.updated_at,
        };
        Ok(Self { meeting, my_role })
    }
}

/// A meeting of a list page with the number of matches over all pages.
#[derive(QueryableByName)]
pub struct ListedMeetingRow {
    #[diesel(embed)]
    pub meeting: MeetingRow,
    #[diesel(sql_type = BigInt)]
    pub total: i64,
}

/// A participant with their user.
#[derive(QueryableByName)]
pub struct ParticipantRow {
    #[diesel(sql_type = SqlUuid)]
    user_id: Uuid,
    #[diesel(sql_type = Text)]
    user_name: String,
    #[diesel(sql_type = Nullable<Text>)]
    user_avatar: Option<String>,
    #[diesel(sql_type = Text)]
    role: String,
    #[diesel(sql_type = Timestamptz)]
    added_at: DateTime<Utc>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    joined_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    left_at: Option<DateTime<Utc>>,
}

impl TryFrom<ParticipantRow> for ParticipantRecord {
    type Error = StoreError;

    fn try_from(row: ParticipantRow) -> Result<Self, StoreError> {
        Ok(Self {
            user: UserRef { id: row.user_id, name: row.user_name, avatar_url: row.user_avatar },
            role: parse_enum("participant role", &row.role)?,
            added_at: row.added_at,
            joined_at: row.joined_at,
            left_at: row.left_at,
        })
    }
}

/// Converts every row, failing on the first that does not fit.
pub fn convert<R, T: TryFrom<R, Error = StoreError>>(rows: Vec<R>) -> Result<Vec<T>, StoreError> {
    rows.into_iter().map(T::try_from).collect()
}
