//! Rows read with hand-written SQL, and their conversion into the domain's records.

use chrono::{DateTime, Utc};
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use mit_domain::ports::StoreError;
use mit_domain::ports::meetings::ParticipantRecord;
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
