//! Projects: a team's groupings of facts.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use mit_domain::knowledge::rules::may_curate;
use mit_domain::paging::{Page, PageRequest};
use mit_domain::ports::StoreError;
use mit_domain::ports::knowledge::{KnowledgeWrite, ProjectRecord};
use mit_domain::ports::people::UserRef;
use uuid::Uuid;

use crate::rows::CountRow;

use super::{contains_pattern, locked_role};
use crate::{PgStore, store_error};

#[derive(QueryableByName)]
struct ProjectRow {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    team_id: Uuid,
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Nullable<Text>)]
    description: Option<String>,
    #[diesel(sql_type = BigInt)]
    fact_count: i64,
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
}

impl From<ProjectRow> for ProjectRecord {
    fn from(row: ProjectRow) -> Self {
        Self {
            id: row.id,
            team_id: row.team_id,
            name: row.name,
            description: row.description,
            fact_count: row.fact_count,
            created_by: UserRef { id: row.creator_id, name: row.creator_name, avatar_url: row.creator_avatar },
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

#[derive(QueryableByName)]
struct TeamRow {
    #[diesel(sql_type = SqlUuid)]
    team_id: Uuid,
}

const PROJECT_COLUMNS: &str = "SELECT p.id, p.team_id, p.name, p.description,
        (SELECT count(*) FROM facts f WHERE f.project_id = p.id AND f.archived_at IS NULL) AS fact_count,
        u.id AS creator_id, u.name AS creator_name, u.avatar_url AS creator_avatar, p.created_at, p.updated_at
     FROM projects p JOIN users u ON u.id = p.created_by";

async fn one(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<Option<ProjectRecord>> {
    let row: Option<ProjectRow> =
        diesel::sql_query(format!("{PROJECT_COLUMNS} WHERE p.id = $1")).bind::<SqlUuid, _>(id).get_result(conn).await.optional()?;
    Ok(row.map(ProjectRecord::from))
}

/// The project's team, its row locked; `None` when there is no such project.
async fn locked_team(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<Option<Uuid>> {
    let row: Option<TeamRow> = diesel::sql_query("SELECT team_id FROM projects WHERE id = $1 FOR UPDATE")
        .bind::<SqlUuid, _>(id)
        .get_result(conn)
        .await
        .optional()?;
    Ok(row.map(|r| r.team_id))
}

/// A unique violation of the project name index means the name is taken.
fn name_taken<T>(result: Result<KnowledgeWrite<T>, StoreError>) -> Result<KnowledgeWrite<T>, StoreError> {
    match result {
        Err(StoreError::Conflict(constraint)) if constraint == "projects_name_per_team" => Ok(KnowledgeWrite::Taken(None)),
        other => other,
    }
}

impl PgStore {
    pub(super) async fn list_projects(
        &self,
        team: Uuid,
        text: Option<String>,
        page: PageRequest,
    ) -> Result<Page<ProjectRecord>, StoreError> {
        let mut conn = self.connection().await?;
        let pattern = text.as_deref().map(contains_pattern);
        let filter = "p.team_id = $1 AND ($2::text IS NULL OR p.name ILIKE $2)";
        let rows: Vec<ProjectRow> =
            diesel::sql_query(format!("{PROJECT_COLUMNS} WHERE {filter} ORDER BY lower(p.name), p.id OFFSET $3 LIMIT $4"))
                .bind::<SqlUuid, _>(team)
                .bind::<Nullable<Text>, _>(&pattern)
                .bind::<BigInt, _>(page.offset())
                .bind::<BigInt, _>(page.limit())
                .load(&mut conn)
                .await
                .map_err(store_error)?;
        let total: CountRow = diesel::sql_query(format!("SELECT count(*) AS count FROM projects p WHERE {filter}"))
            .bind::<SqlUuid, _>(team)
            .bind::<Nullable<Text>, _>(&pattern)
            .get_result(&mut conn)
            .await
            .map_err(store_error)?;
        Ok(Page { items: rows.into_iter().map(ProjectRecord::from).collect(), total: total.count })
    }

    pub(super) async fn find_project(&self, id: Uuid) -> Result<Option<ProjectRecord>, StoreError> {
        let mut conn = self.connection().await?;
        one(&mut conn, id).await.map_err(store_error)
    }

    pub(super) async fn insert_project(
        &self,
        team: Uuid,
        name: String,
        description: Option<String>,
        creator: Uuid,
        now: DateTime<Utc>,
    ) -> Result<KnowledgeWrite<ProjectRecord>, StoreError> {
        let mut conn = self.connection().await?;
        let written = conn
            .transaction(async |conn| {
                if locked_role(conn, team, creator).await?.is_none() {
                    return Ok(KnowledgeWrite::Missing);
                }
                let id = Uuid::now_v7();
                diesel::sql_query(
                    "INSERT INTO projects (id, team_id, name, description, created_by, created_at, updated_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $6)",
                )
                .bind::<SqlUuid, _>(id)
                .bind::<SqlUuid, _>(team)
                .bind::<Text, _>(&name)
                .bind::<Nullable<Text>, _>(&description)
                .bind::<SqlUuid, _>(creator)
                .bind::<Timestamptz, _>(now)
                .execute(conn)
                .await?;
                Ok(one(conn, id).await?.map_or(KnowledgeWrite::Missing, KnowledgeWrite::Done))
            })
            .await
            .map_err(store_error);
        name_taken(written)
    }

    pub(super) async fn change_project(
        &self,
        id: Uuid,
        actor: Uuid,
        name: Option<String>,
        description: Option<Option<String>>,
        now: DateTime<Utc>,
    ) -> Result<KnowledgeWrite<ProjectRecord>, StoreError> {
        let mut conn = self.connection().await?;
        let written = conn
            .transaction(async |conn| {
                let Some(team) = locked_team(conn, id).await? else { return Ok(KnowledgeWrite::Missing) };
                if !locked_role(conn, team, actor).await?.is_some_and(may_curate) {
                    return Ok(KnowledgeWrite::Forbidden);
                }
                diesel::sql_query(
                    "UPDATE projects SET name = COALESCE($2, name),
                        description = CASE WHEN $3 THEN $4 ELSE description END, updated_at = $5 WHERE id = $1",
                )
                .bind::<SqlUuid, _>(id)
                .bind::<Nullable<Text>, _>(&name)
                .bind::<diesel::sql_types::Bool, _>(description.is_some())
                .bind::<Nullable<Text>, _>(description.clone().flatten())
                .bind::<Timestamptz, _>(now)
                .execute(conn)
                .await?;
                Ok(one(conn, id).await?.map_or(KnowledgeWrite::Missing, KnowledgeWrite::Done))
            })
            .await
            .map_err(store_error);
        name_taken(written)
    }

    pub(super) async fn remove_project(&self, id: Uuid, actor: Uuid) -> Result<KnowledgeWrite<()>, StoreError> {
        let mut conn = self.connection().await?;
        conn.transaction(async |conn| {
            let Some(team) = locked_team(conn, id).await? else { return Ok(KnowledgeWrite::Missing) };
            if !locked_role(conn, team, actor).await?.is_some_and(may_curate) {
                return Ok(KnowledgeWrite::Forbidden);
            }
            // Facts joining the project lock it too (`FOR KEY SHARE` through the foreign key),
            // so this count cannot go stale before the delete.
            let active: CountRow = diesel::sql_query("SELECT count(*) AS count FROM facts WHERE project_id = $1 AND archived_at IS NULL")
                .bind::<SqlUuid, _>(id)
                .get_result(conn)
                .await?;
            if active.count > 0 {
                return Ok(KnowledgeWrite::HasFacts(active.count));
            }
            diesel::sql_query("DELETE FROM projects WHERE id = $1").bind::<SqlUuid, _>(id).execute(conn).await?;
            Ok(KnowledgeWrite::Done(()))
        })
        .await
        .map_err(store_error)
    }
}
