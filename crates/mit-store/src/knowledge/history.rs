//! Each fact's history: entries numbered per fact, read newest first, "as of" a moment, and by
//! value version.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Integer, Jsonb, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use mit_api::server::models::FactChangeKind;
use mit_domain::paging::{Page, PageRequest};
use mit_domain::ports::StoreError;
use mit_domain::ports::knowledge::{FactAsOfRecord, FieldChange, HistoryRecord};
use mit_domain::ports::people::UserRef;
use uuid::Uuid;

use crate::rows::{CountRow, parse_enum};
use crate::{PgStore, store_error};

/// What an entry records; the fact's row must be locked by the caller.
pub struct Entry<'a> {
    /// What happened.
    pub kind: FactChangeKind,
    /// The key after it.
    pub key: &'a str,
    /// The value version after it.
    pub version: i32,
    /// The value before, for value changes.
    pub previous_value: Option<&'a str>,
    /// The value after it.
    pub new_value: &'a str,
    /// Fields a metadata edit changed.
    pub changes: &'a [FieldChange],
    /// Why.
    pub reason: Option<&'a str>,
    /// Who.
    pub actor: Uuid,
    /// The meeting and review line the change came from.
    pub source: Source,
    /// The merge that made a value change.
    pub merge: Option<MergeNote<'a>>,
    /// When.
    pub now: DateTime<Utc>,
}

/// Where a fact or branch came from: the meeting and review line that proposed it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Source {
    /// The meeting.
    pub meeting: Option<Uuid>,
    /// The review line.
    pub review_line: Option<Uuid>,
}

/// What a value change records of the merge behind it.
pub struct MergeNote<'a> {
    /// The branch.
    pub branch: Uuid,
    /// Who merged it.
    pub merged_by: Uuid,
    /// An owner's reason to merge without the rule met.
    pub override_reason: Option<&'a str>,
}

#[derive(QueryableByName)]
struct SequenceRow {
    #[diesel(sql_type = BigInt)]
    history_count: i64,
}

#[derive(QueryableByName)]
struct HistoryRow {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    fact_id: Uuid,
    #[diesel(sql_type = BigInt)]
    sequence: i64,
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = Integer)]
    version: i32,
    #[diesel(sql_type = Nullable<Text>)]
    previous_value: Option<String>,
    #[diesel(sql_type = Text)]
    new_value: String,
    #[diesel(sql_type = Jsonb)]
    changes: serde_json::Value,
    #[diesel(sql_type = Nullable<Text>)]
    reason: Option<String>,
    #[diesel(sql_type = SqlUuid)]
    user_id: Uuid,
    #[diesel(sql_type = Text)]
    user_name: String,
    #[diesel(sql_type = Nullable<Text>)]
    user_avatar: Option<String>,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    meeting_id: Option<Uuid>,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    branch_id: Option<Uuid>,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    review_line_id: Option<Uuid>,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    merger_id: Option<Uuid>,
    #[diesel(sql_type = Nullable<Text>)]
    merger_name: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    merger_avatar: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    override_reason: Option<String>,
    #[diesel(sql_type = Timestamptz)]
    created_at: DateTime<Utc>,
}

impl TryFrom<HistoryRow> for HistoryRecord {
    type Error = StoreError;

    fn try_from(row: HistoryRow) -> Result<Self, StoreError> {
        let changes = serde_json::from_value(row.changes).map_err(|e| StoreError::Other(format!("unreadable history changes: {e}")))?;
        Ok(Self {
            id: row.id,
            fact_id: row.fact_id,
            sequence: row.sequence,
            kind: parse_enum("history kind", &row.kind)?,
            version: row.version,
            previous_value: row.previous_value,
            new_value: row.new_value,
            changes,
            reason: row.reason,
            changed_by: UserRef { id: row.user_id, name: row.user_name, avatar_url: row.user_avatar },
            meeting_id: row.meeting_id,
            branch_id: row.branch_id,
            review_line_id: row.review_line_id,
            merged_by: row.merger_id.map(|id| UserRef { id, name: row.merger_name.unwrap_or_default(), avatar_url: row.merger_avatar }),
            override_reason: row.override_reason,
            created_at: row.created_at,
        })
    }
}

#[derive(QueryableByName)]
struct AsOfRow {
    #[diesel(sql_type = Text)]
    key: String,
    #[diesel(sql_type = Text)]
    new_value: String,
    #[diesel(sql_type = Integer)]
    version: i32,
    #[diesel(sql_type = Bool)]
    archived: bool,
    #[diesel(sql_type = Timestamptz)]
    value_set_at: DateTime<Utc>,
}

#[derive(QueryableByName)]
struct ValueRow {
    #[diesel(sql_type = Text)]
    new_value: String,
}

/// Appends an entry, numbered after the fact's last.
pub async fn append(conn: &mut AsyncPgConnection, fact: Uuid, entry: &Entry<'_>) -> QueryResult<()> {
    let sequence = if entry.kind == FactChangeKind::Created {
        1
    } else {
        let row: SequenceRow =
            diesel::sql_query("UPDATE facts SET history_count = history_count + 1 WHERE id = $1 RETURNING history_count")
                .bind::<SqlUuid, _>(fact)
                .get_result(conn)
                .await?;
        row.history_count
    };
    let changes = serde_json::to_value(entry.changes).map_err(|e| diesel::result::Error::SerializationError(Box::new(e)))?;
    diesel::sql_query(
        "INSERT INTO fact_history (id, fact_id, sequence, kind, key, version, previous_value, new_value, changes, reason, changed_by,
             created_at, branch_id, merged_by, meeting_id, override_reason, review_line_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
    )
    .bind::<SqlUuid, _>(Uuid::now_v7())
    .bind::<SqlUuid, _>(fact)
    .bind::<BigInt, _>(sequence)
    .bind::<Text, _>(entry.kind.as_str())
    .bind::<Text, _>(entry.key)
    .bind::<Integer, _>(entry.version)
    .bind::<Nullable<Text>, _>(entry.previous_value)
    .bind::<Text, _>(entry.new_value)
    .bind::<Jsonb, _>(changes)
    .bind::<Nullable<Text>, _>(entry.reason)
    .bind::<SqlUuid, _>(entry.actor)
    .bind::<Timestamptz, _>(entry.now)
    .bind::<Nullable<SqlUuid>, _>(entry.merge.as_ref().map(|m| m.branch))
    .bind::<Nullable<SqlUuid>, _>(entry.merge.as_ref().map(|m| m.merged_by))
    .bind::<Nullable<SqlUuid>, _>(entry.source.meeting)
    .bind::<Nullable<Text>, _>(entry.merge.as_ref().and_then(|m| m.override_reason))
    .bind::<Nullable<SqlUuid>, _>(entry.source.review_line)
    .execute(conn)
    .await?;
    Ok(())
}

impl PgStore {
    pub(super) async fn list_history(&self, fact: Uuid, page: PageRequest) -> Result<Page<HistoryRecord>, StoreError> {
        let mut conn = self.connection().await?;
        let rows: Vec<HistoryRow> = diesel::sql_query(
            "SELECT h.id, h.fact_id, h.sequence, h.kind, h.version, h.previous_value, h.new_value, h.changes, h.reason,
                    u.id AS user_id, u.name AS user_name, u.avatar_url AS user_avatar, h.meeting_id, h.branch_id, h.review_line_id,
                    m.id AS merger_id, m.name AS merger_name, m.avatar_url AS merger_avatar, h.override_reason, h.created_at
             FROM fact_history h JOIN users u ON u.id = h.changed_by LEFT JOIN users m ON m.id = h.merged_by
             WHERE h.fact_id = $1 ORDER BY h.sequence DESC OFFSET $2 LIMIT $3",
        )
        .bind::<SqlUuid, _>(fact)
        .bind::<BigInt, _>(page.offset())
        .bind::<BigInt, _>(page.limit())
        .load(&mut conn)
        .await
        .map_err(store_error)?;
        let total: CountRow = diesel::sql_query("SELECT count(*) AS count FROM fact_history WHERE fact_id = $1")
            .bind::<SqlUuid, _>(fact)
            .get_result(&mut conn)
            .await
            .map_err(store_error)?;
        let items = rows.into_iter().map(HistoryRecord::try_from).collect::<Result<_, _>>()?;
        Ok(Page { items, total: total.count })
    }

    pub(super) async fn as_of(&self, fact: Uuid, at: DateTime<Utc>) -> Result<Option<FactAsOfRecord>, StoreError> {
        let mut conn = self.connection().await?;
        // The newest entry at or before `at` (index `fact_history_as_of`) carries the key, value
        // and version then; archiving is final, so any archived entry before `at` means archived.
        let row: Option<AsOfRow> = diesel::sql_query(
            "SELECT h.key, h.new_value, h.version,
                    EXISTS (SELECT 1 FROM fact_history a WHERE a.fact_id = h.fact_id AND a.kind = 'archived' AND a.created_at <= $2)
                        AS archived,
                    (SELECT min(v.created_at) FROM fact_history v WHERE v.fact_id = h.fact_id AND v.version = h.version)
                        AS value_set_at
             FROM fact_history h WHERE h.fact_id = $1 AND h.created_at <= $2
             ORDER BY h.created_at DESC, h.sequence DESC LIMIT 1",
        )
        .bind::<SqlUuid, _>(fact)
        .bind::<Timestamptz, _>(at)
        .get_result(&mut conn)
        .await
        .optional()
        .map_err(store_error)?;
        Ok(row.map(|r| FactAsOfRecord {
            key: r.key,
            value: r.new_value,
            version: r.version,
            archived: r.archived,
            value_set_at: r.value_set_at,
        }))
    }

    pub(super) async fn value_of_version(&self, fact: Uuid, version: i32) -> Result<Option<String>, StoreError> {
        let mut conn = self.connection().await?;
        let row: Option<ValueRow> =
            diesel::sql_query("SELECT new_value FROM fact_history WHERE fact_id = $1 AND version = $2 ORDER BY sequence LIMIT 1")
                .bind::<SqlUuid, _>(fact)
                .bind::<Integer, _>(version)
                .get_result(&mut conn)
                .await
                .optional()
                .map_err(store_error)?;
        Ok(row.map(|r| r.new_value))
    }
}
