//! Facts: created with their first history entry, edited (metadata only) and archived with an
//! entry each, searched by a trigram index.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Integer, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use mit_api::server::models::{FactChangeKind, FactField};
use mit_domain::knowledge::rules::may_curate;
use mit_domain::paging::{Page, PageRequest};
use mit_domain::ports::StoreError;
use mit_domain::ports::knowledge::{FactEdit, FactFilter, FactRecord, FieldChange, KnowledgeWrite, NewFact};
use mit_domain::ports::people::UserRef;
use uuid::Uuid;

use crate::rows::CountRow;

use mit_domain::events::Topic;
use mit_domain::events::knowledge::{KnowledgeEvent, KnowledgeEventKind};

use super::history::{Entry, Source, append};
use super::{contains_pattern, locked_role};
use crate::outbox;
use crate::{PgStore, store_error};

#[derive(QueryableByName, Clone)]
struct FactRow {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    team_id: Uuid,
    #[diesel(sql_type = Text)]
    key: String,
    #[diesel(sql_type = Text)]
    value: String,
    #[diesel(sql_type = Nullable<Text>)]
    category: Option<String>,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    project_id: Option<Uuid>,
    #[diesel(sql_type = Nullable<Text>)]
    project_name: Option<String>,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    source_meeting_id: Option<Uuid>,
    #[diesel(sql_type = Integer)]
    version: i32,
    #[diesel(sql_type = SqlUuid)]
    creator_id: Uuid,
    #[diesel(sql_type = Text)]
    creator_name: String,
    #[diesel(sql_type = Nullable<Text>)]
    creator_avatar: Option<String>,
    #[diesel(sql_type = Timestamptz)]
    created_at: DateTime<Utc>,
    #[diesel(sql_type = Timestamptz)]
    updated_at: DateTime<Utc>,
    #[diesel(sql_type = Timestamptz)]
    value_changed_at: DateTime<Utc>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    archived_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = BigInt)]
    open_branch_count: i64,
}

impl From<FactRow> for FactRecord {
    fn from(row: FactRow) -> Self {
        Self {
            id: row.id,
            team_id: row.team_id,
            key: row.key,
            value: row.value,
            category: row.category,
            project: row.project_id.zip(row.project_name),
            source_meeting_id: row.source_meeting_id,
            version: row.version,
            created_by: UserRef { id: row.creator_id, name: row.creator_name, avatar_url: row.creator_avatar },
            created_at: row.created_at,
            updated_at: row.updated_at,
            value_changed_at: row.value_changed_at,
            archived_at: row.archived_at,
            open_branch_count: row.open_branch_count,
        }
    }
}

#[derive(QueryableByName)]
struct IdRow {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
}

const FACT_COLUMNS: &str = "SELECT f.id, f.team_id, f.key, f.value, f.category, f.project_id, p.name AS project_name,
        f.source_meeting_id, f.version, u.id AS creator_id, u.name AS creator_name, u.avatar_url AS creator_avatar,
        f.created_at, f.updated_at, f.value_changed_at, f.archived_at,
        (SELECT count(*) FROM branches b WHERE b.fact_id = f.id AND b.status = 'open') AS open_branch_count
     FROM facts f JOIN users u ON u.id = f.created_by LEFT JOIN projects p ON p.id = f.project_id";

/// The list's filters; `(key || ' ' || value)` is the expression the trigram index is built on.
const FACT_FILTER: &str = "f.team_id = $1 AND ($2::uuid IS NULL OR f.project_id = $2) AND ($3::text IS NULL OR f.category = $3)
     AND ($4::uuid IS NULL OR f.source_meeting_id = $4) AND ($5::text IS NULL OR (f.key || ' ' || f.value) ILIKE $5)
     AND ($6 OR f.archived_at IS NULL)";

async fn one(conn: &mut AsyncPgConnection, id: Uuid, lock: bool) -> QueryResult<Option<FactRow>> {
    let lock = if lock { " FOR UPDATE OF f" } else { "" };
    diesel::sql_query(format!("{FACT_COLUMNS} WHERE f.id = $1{lock}")).bind::<SqlUuid, _>(id).get_result(conn).await.optional()
}

async fn project_of_team(conn: &mut AsyncPgConnection, team: Uuid, project: Uuid) -> QueryResult<bool> {
    let found: CountRow = diesel::sql_query("SELECT count(*) AS count FROM projects WHERE id = $1 AND team_id = $2")
        .bind::<SqlUuid, _>(project)
        .bind::<SqlUuid, _>(team)
        .get_result(conn)
        .await?;
    Ok(found.count > 0)
}

/// The fact of the team whose key matches `key` case-insensitively, other than `except`.
async fn holder_of(conn: &mut AsyncPgConnection, team: Uuid, key: &str, except: Uuid) -> QueryResult<Option<Uuid>> {
    let row: Option<IdRow> = diesel::sql_query("SELECT id FROM facts WHERE team_id = $1 AND lower(key) = lower($2) AND id <> $3")
        .bind::<SqlUuid, _>(team)
        .bind::<Text, _>(key)
        .bind::<SqlUuid, _>(except)
        .get_result(conn)
        .await
        .optional()?;
    Ok(row.map(|r| r.id))
}

/// A unique violation of the key index (two renames at once) means the key is taken.
fn key_taken<T>(result: Result<KnowledgeWrite<T>, StoreError>) -> Result<KnowledgeWrite<T>, StoreError> {
    match result {
        Err(StoreError::Conflict(constraint)) if constraint == "facts_key_per_team" => Ok(KnowledgeWrite::Taken(None)),
        other => other,
    }
}

/// The fields `edit` changes, with their old and new values.
fn changes(current: &FactRow, edit: &FactEdit) -> Vec<FieldChange> {
    let mut changes = Vec::new();
    let mut note = |field, previous: Option<String>, new: Option<String>| {
        if previous != new {
            changes.push(FieldChange { field, previous, new });
        }
    };
    if let Some(key) = &edit.key {
        note(FactField::Key, Some(current.key.clone()), Some(key.clone()));
    }
    if let Some(category) = &edit.category {
        note(FactField::Category, current.category.clone(), category.clone());
    }
    if let Some(project) = &edit.project {
        note(FactField::ProjectId, current.project_id.map(|p| p.to_string()), project.map(|p| p.to_string()));
    }
    changes
}

/// Inserts a fact of `fact.team`, its first history entry and its event, in the caller's
/// transaction; `false` when the team has the key already. `source` names the meeting and line
/// whose review proposed it.
pub(crate) async fn insert_fact_in(conn: &mut AsyncPgConnection, fact: &NewFact, source: Source) -> QueryResult<bool> {
    // A concurrent insert of the same key makes this wait for it, then do nothing.
    let inserted: Option<IdRow> = diesel::sql_query(
        "INSERT INTO facts (id, team_id, key, value, category, project_id, created_by, created_at, updated_at, value_changed_at,
                 source_meeting_id)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $8, $9)
             ON CONFLICT (team_id, lower(key)) DO NOTHING RETURNING id",
    )
    .bind::<SqlUuid, _>(fact.id)
    .bind::<SqlUuid, _>(fact.team)
    .bind::<Text, _>(&fact.key)
    .bind::<Text, _>(&fact.value)
    .bind::<Nullable<Text>, _>(&fact.category)
    .bind::<Nullable<SqlUuid>, _>(fact.project)
    .bind::<SqlUuid, _>(fact.creator)
    .bind::<Timestamptz, _>(fact.now)
    .bind::<Nullable<SqlUuid>, _>(source.meeting)
    .get_result(conn)
    .await
    .optional()?;
    if inserted.is_none() {
        return Ok(false);
    }
    let entry = Entry {
        kind: FactChangeKind::Created,
        key: &fact.key,
        version: 1,
        previous_value: None,
        new_value: &fact.value,
        changes: &[],
        reason: fact.reason.as_deref(),
        actor: fact.creator,
        source,
        merge: None,
        now: fact.now,
    };
    append(conn, fact.id, &entry).await?;
    let event = KnowledgeEvent::fact(KnowledgeEventKind::FactCreated, fact.team, fact.id, 1);
    outbox::append(conn, &Topic::Knowledge(fact.team), &event, fact.creator).await?;
    Ok(true)
}

impl PgStore {
    pub(super) async fn list_facts(&self, team: Uuid, filter: FactFilter, page: PageRequest) -> Result<Page<FactRecord>, StoreError> {
        let mut conn = self.connection().await?;
        let pattern = filter.text.as_deref().map(contains_pattern);
        let rows: Vec<FactRow> =
            diesel::sql_query(format!("{FACT_COLUMNS} WHERE {FACT_FILTER} ORDER BY lower(f.key), f.id OFFSET $7 LIMIT $8"))
                .bind::<SqlUuid, _>(team)
                .bind::<Nullable<SqlUuid>, _>(filter.project)
                .bind::<Nullable<Text>, _>(&filter.category)
                .bind::<Nullable<SqlUuid>, _>(filter.source_meeting)
                .bind::<Nullable<Text>, _>(&pattern)
                .bind::<Bool, _>(filter.include_archived)
                .bind::<BigInt, _>(page.offset())
                .bind::<BigInt, _>(page.limit())
                .load(&mut conn)
                .await
                .map_err(store_error)?;
        let total: CountRow = diesel::sql_query(format!("SELECT count(*) AS count FROM facts f WHERE {FACT_FILTER}"))
            .bind::<SqlUuid, _>(team)
            .bind::<Nullable<SqlUuid>, _>(filter.project)
            .bind::<Nullable<Text>, _>(&filter.category)
            .bind::<Nullable<SqlUuid>, _>(filter.source_meeting)
            .bind::<Nullable<Text>, _>(&pattern)
            .bind::<Bool, _>(filter.include_archived)
            .get_result(&mut conn)
            .await
            .map_err(store_error)?;
        Ok(Page { items: rows.into_iter().map(FactRecord::from).collect(), total: total.count })
    }

    pub(super) async fn find_fact(&self, id: Uuid) -> Result<Option<FactRecord>, StoreError> {
        let mut conn = self.connection().await?;
        Ok(one(&mut conn, id, false).await.map_err(store_error)?.map(FactRecord::from))
    }

    pub(super) async fn insert_fact(&self, fact: NewFact) -> Result<KnowledgeWrite<FactRecord>, StoreError> {
        let mut conn = self.connection().await?;
        conn.transaction(async |conn| {
            if locked_role(conn, fact.team, fact.creator).await?.is_none() {
                return Ok(KnowledgeWrite::Missing);
            }
            if let Some(project) = fact.project
                && !project_of_team(conn, fact.team, project).await?
            {
                return Ok(KnowledgeWrite::UnknownProject);
            }
            if !insert_fact_in(conn, &fact, Source::default()).await? {
                return Ok(KnowledgeWrite::Taken(holder_of(conn, fact.team, &fact.key, fact.id).await?));
            }
            Ok(one(conn, fact.id, false).await?.map_or(KnowledgeWrite::Missing, |row| KnowledgeWrite::Done(row.into())))
        })
        .await
        .map_err(store_error)
        .inspect(|_| self.outbox_written.notify_one())
    }

    pub(super) async fn change_fact(
        &self,
        id: Uuid,
        actor: Uuid,
        edit: FactEdit,
        now: DateTime<Utc>,
    ) -> Result<KnowledgeWrite<FactRecord>, StoreError> {
        let mut conn = self.connection().await?;
        let written = conn
            .transaction(async |conn| {
                let Some(current) = one(conn, id, true).await? else { return Ok(KnowledgeWrite::Missing) };
                if !locked_role(conn, current.team_id, actor).await?.is_some_and(may_curate) {
                    return Ok(KnowledgeWrite::Forbidden);
                }
                if current.archived_at.is_some() {
                    return Ok(KnowledgeWrite::Archived);
                }
                if let Some(Some(project)) = edit.project
                    && !project_of_team(conn, current.team_id, project).await?
                {
                    return Ok(KnowledgeWrite::UnknownProject);
                }
                if let Some(key) = &edit.key
                    && let Some(holder) = holder_of(conn, current.team_id, key, id).await?
                {
                    return Ok(KnowledgeWrite::Taken(Some(holder)));
                }
                let changed = changes(&current, &edit);
                if changed.is_empty() {
                    return Ok(KnowledgeWrite::Done(current.into()));
                }
                diesel::sql_query(
                    "UPDATE facts SET key = COALESCE($2, key), category = CASE WHEN $3 THEN $4 ELSE category END,
                        project_id = CASE WHEN $5 THEN $6 ELSE project_id END, updated_at = $7 WHERE id = $1",
                )
                .bind::<SqlUuid, _>(id)
                .bind::<Nullable<Text>, _>(&edit.key)
                .bind::<Bool, _>(edit.category.is_some())
                .bind::<Nullable<Text>, _>(edit.category.clone().flatten())
                .bind::<Bool, _>(edit.project.is_some())
                .bind::<Nullable<SqlUuid>, _>(edit.project.flatten())
                .bind::<Timestamptz, _>(now)
                .execute(conn)
                .await?;
                let key = edit.key.as_deref().unwrap_or(&current.key);
                let entry = Entry {
                    kind: FactChangeKind::MetadataChanged,
                    key,
                    version: current.version,
                    previous_value: None,
                    new_value: &current.value,
                    changes: &changed,
                    reason: None,
                    actor,
                    source: Source::default(),
                    merge: None,
                    now,
                };
                append(conn, id, &entry).await?;
                let event = KnowledgeEvent::fact(KnowledgeEventKind::FactChanged, current.team_id, id, current.version);
                outbox::append(conn, &Topic::Knowledge(current.team_id), &event, actor).await?;
                Ok(one(conn, id, false).await?.map_or(KnowledgeWrite::Missing, |row| KnowledgeWrite::Done(row.into())))
            })
            .await
            .map_err(store_error)
            .inspect(|_| self.outbox_written.notify_one());
        key_taken(written)
    }

    pub(super) async fn archive(&self, id: Uuid, actor: Uuid, now: DateTime<Utc>) -> Result<KnowledgeWrite<()>, StoreError> {
        let mut conn = self.connection().await?;
        conn.transaction(async |conn| {
            let Some(current) = one(conn, id, true).await? else { return Ok(KnowledgeWrite::Missing) };
            if !locked_role(conn, current.team_id, actor).await?.is_some_and(may_curate) {
                return Ok(KnowledgeWrite::Forbidden);
            }
            if current.archived_at.is_some() {
                return Ok(KnowledgeWrite::Archived);
            }
            diesel::sql_query("UPDATE facts SET archived_at = $2, archived_by = $3, updated_at = $2 WHERE id = $1")
                .bind::<SqlUuid, _>(id)
                .bind::<Timestamptz, _>(now)
                .bind::<SqlUuid, _>(actor)
                .execute(conn)
                .await?;
            let entry = Entry {
                kind: FactChangeKind::Archived,
                key: &current.key,
                version: current.version,
                previous_value: None,
                new_value: &current.value,
                changes: &[],
                reason: None,
                actor,
                source: Source::default(),
                merge: None,
                now,
            };
            append(conn, id, &entry).await?;
            let event = KnowledgeEvent::fact(KnowledgeEventKind::FactArchived, current.team_id, id, current.version);
            outbox::append(conn, &Topic::Knowledge(current.team_id), &event, actor).await?;
            Ok(KnowledgeWrite::Done(()))
        })
        .await
        .map_err(store_error)
        .inspect(|_| self.outbox_written.notify_one())
    }
}
