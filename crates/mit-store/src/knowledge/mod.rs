//! `KnowledgeStore` on PostgreSQL. A write that needs a team role reads it with the member's row
//! locked (`FOR SHARE`), so a demotion committing at the same moment either lands first (and the
//! write is refused) or waits for the write; keys and project names are unique per team in the
//! database, not only in code.

pub(crate) mod branches;
pub(crate) mod facts;
pub(crate) mod history;
mod projects;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Text, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use mit_api::server::models::BranchStatus;
use mit_api::server::models::TeamRole;
use mit_domain::knowledge::approval::Rule;
use mit_domain::paging::{Page, PageRequest};
use mit_domain::ports::StoreError;
use mit_domain::ports::knowledge::{
    BranchAct, BranchAction, BranchRecord, BranchScope, BranchStore, BranchWrite, DiscussionRecord, FactAsOfRecord, FactEdit, FactFilter,
    FactRecord, HistoryRecord, KnowledgeStore, KnowledgeWrite, NewBranch, NewFact, ProjectRecord,
};
use uuid::Uuid;

use super::PgStore;

#[derive(QueryableByName)]
struct RoleRow {
    #[diesel(sql_type = Text)]
    role: String,
}

/// The caller's role in the team, read with their membership row locked until the transaction
/// ends; `None` when they are not a member.
async fn locked_role(conn: &mut AsyncPgConnection, team: Uuid, user: Uuid) -> QueryResult<Option<TeamRole>> {
    let row: Option<RoleRow> = diesel::sql_query("SELECT role FROM team_members WHERE team_id = $1 AND user_id = $2 FOR SHARE")
        .bind::<SqlUuid, _>(team)
        .bind::<SqlUuid, _>(user)
        .get_result(conn)
        .await
        .optional()?;
    Ok(row.and_then(|r| r.role.parse().ok()))
}

/// `text` as a case-insensitive "contains" pattern, its LIKE wildcards escaped.
fn contains_pattern(text: &str) -> String {
    let escaped = text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
    format!("%{escaped}%")
}

#[async_trait::async_trait]
impl KnowledgeStore for PgStore {
    async fn projects(&self, team: Uuid, text: Option<String>, page: PageRequest) -> Result<Page<ProjectRecord>, StoreError> {
        self.list_projects(team, text, page).await
    }

    async fn project(&self, id: Uuid) -> Result<Option<ProjectRecord>, StoreError> {
        self.find_project(id).await
    }

    async fn create_project(
        &self,
        team: Uuid,
        name: String,
        description: Option<String>,
        creator: Uuid,
        now: DateTime<Utc>,
    ) -> Result<KnowledgeWrite<ProjectRecord>, StoreError> {
        self.insert_project(team, name, description, creator, now).await
    }

    async fn update_project(
        &self,
        id: Uuid,
        actor: Uuid,
        name: Option<String>,
        description: Option<Option<String>>,
        now: DateTime<Utc>,
    ) -> Result<KnowledgeWrite<ProjectRecord>, StoreError> {
        self.change_project(id, actor, name, description, now).await
    }

    async fn delete_project(&self, id: Uuid, actor: Uuid) -> Result<KnowledgeWrite<()>, StoreError> {
        self.remove_project(id, actor).await
    }

    async fn facts(&self, team: Uuid, filter: FactFilter, page: PageRequest) -> Result<Page<FactRecord>, StoreError> {
        self.list_facts(team, filter, page).await
    }

    async fn fact(&self, id: Uuid) -> Result<Option<FactRecord>, StoreError> {
        self.find_fact(id).await
    }

    async fn create_fact(&self, fact: NewFact) -> Result<KnowledgeWrite<FactRecord>, StoreError> {
        self.insert_fact(fact).await
    }

    async fn edit_fact(&self, id: Uuid, actor: Uuid, edit: FactEdit, now: DateTime<Utc>) -> Result<KnowledgeWrite<FactRecord>, StoreError> {
        self.change_fact(id, actor, edit, now).await
    }

    async fn archive_fact(&self, id: Uuid, actor: Uuid, now: DateTime<Utc>) -> Result<KnowledgeWrite<()>, StoreError> {
        self.archive(id, actor, now).await
    }

    async fn history(&self, fact: Uuid, page: PageRequest) -> Result<Page<HistoryRecord>, StoreError> {
        self.list_history(fact, page).await
    }

    async fn fact_as_of(&self, fact: Uuid, at: DateTime<Utc>) -> Result<Option<FactAsOfRecord>, StoreError> {
        self.as_of(fact, at).await
    }

    async fn value_at_version(&self, fact: Uuid, version: i32) -> Result<Option<String>, StoreError> {
        self.value_of_version(fact, version).await
    }
}

#[async_trait::async_trait]
impl BranchStore for PgStore {
    async fn branches(
        &self,
        scope: BranchScope,
        status: Option<BranchStatus>,
        page: PageRequest,
    ) -> Result<Page<BranchRecord>, StoreError> {
        self.list_branches(scope, status, page).await
    }

    async fn branch(&self, id: Uuid) -> Result<Option<BranchRecord>, StoreError> {
        self.find_branch(id).await
    }

    async fn create_branch(&self, branch: NewBranch) -> Result<BranchWrite<BranchRecord>, StoreError> {
        self.open_branch(branch).await
    }

    async fn act(&self, act: BranchAct, action: BranchAction) -> Result<BranchWrite<BranchRecord>, StoreError> {
        self.branch_act(act, action).await
    }

    async fn discussions(&self, branch: Uuid, page: PageRequest) -> Result<Page<DiscussionRecord>, StoreError> {
        self.list_discussions(branch, page).await
    }

    async fn create_discussion(
        &self,
        act: BranchAct,
        parent: Option<Uuid>,
        content: String,
    ) -> Result<BranchWrite<DiscussionRecord>, StoreError> {
        self.post_discussion(act, parent, content).await
    }

    async fn approval_rule(&self, team: Uuid) -> Result<Rule, StoreError> {
        self.read_rule(team).await
    }

    async fn set_approval_rule(&self, team: Uuid, actor: Uuid, rule: Rule, now: DateTime<Utc>) -> Result<BranchWrite<Rule>, StoreError> {
        self.write_rule(team, actor, rule, now).await
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn search_text_is_matched_literally() {
        assert_eq!(super::contains_pattern("50%_off\\"), "%50\\%\\_off\\\\%");
    }
}
