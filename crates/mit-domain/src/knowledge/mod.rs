//! A team's Ground Truth: projects, facts whose value changes only through merged branches,
//! and each fact's history, readable as of any moment and comparable version to version. Team
//! membership is checked here for reads; writes that need a role re-check it in the store's
//! transaction.

pub mod approval;
mod branches;
mod models;
pub mod rules;

use mit_api::server::KnowledgeApi;
use mit_api::server::models::{FactComparison, FactHistoryPage, FactPage, ProjectPage, TeamRole};
use mit_api::server::ops::{
    approve_branch, close_branch, compare_fact_versions, create_branch_discussion, create_fact, create_fact_branch, create_project,
    delete_fact, delete_project, get_approval_rule, get_branch, get_fact, get_fact_as_of, get_project, list_branch_approvals,
    list_branch_discussions, list_fact_branches, list_fact_history, list_facts, list_projects, list_team_branches, merge_branch,
    rebase_branch, set_approval_rule, update_branch, update_fact, update_project, veto_branch, withdraw_branch_approval,
    withdraw_branch_veto,
};
use mit_api::server::runtime::Json;
use uuid::Uuid;

use crate::error::{ApiResult, DomainError};
use crate::meetings::clearable;
use crate::paging::PageRequest;
use crate::ports::knowledge::{FactEdit, FactFilter, FactRecord, KnowledgeWrite, NewFact, ProjectRecord};
use crate::{Caller, Mit};
use models::{as_of_model, fact_model, history_model, project_model};

impl KnowledgeApi for Mit {
    async fn list_projects(&self, caller: &Caller, request: list_projects::Request) -> ApiResult<list_projects::Response> {
        self.team_role(request.team_id, caller.user_id).await?;
        let paging = PageRequest::new(request.page, request.limit);
        let text = request.q.map(|q| q.to_string());
        let page = self.ports.knowledge.projects(request.team_id, text, paging).await?;
        Ok(list_projects::Response::Ok(Json(ProjectPage {
            items: page.items.into_iter().map(project_model).collect(),
            total: page.total,
            page: paging.page,
            limit: paging.limit,
        })))
    }

    async fn create_project(&self, caller: &Caller, request: create_project::Request) -> ApiResult<create_project::Response> {
        self.team_role(request.team_id, caller.user_id).await?;
        let body = request.body;
        let now = self.ports.clock.now();
        let written = self
            .ports
            .knowledge
            .create_project(request.team_id, body.name.trim().to_string(), body.description, caller.user_id, now)
            .await?;
        Ok(create_project::Response::Created(Json(project_model(project_written(written)?))))
    }

    async fn get_project(&self, caller: &Caller, request: get_project::Request) -> ApiResult<get_project::Response> {
        let project = self.visible_project(request.project_id, caller.user_id).await?;
        Ok(get_project::Response::Ok(Json(project_model(project))))
    }

    async fn update_project(&self, caller: &Caller, request: update_project::Request) -> ApiResult<update_project::Response> {
        let project = self.visible_project(request.project_id, caller.user_id).await?;
        let body = request.body;
        let name = body.name.map(|n| n.trim().to_string());
        let now = self.ports.clock.now();
        let written = self.ports.knowledge.update_project(project.id, caller.user_id, name, clearable(body.description), now).await?;
        Ok(update_project::Response::Ok(Json(project_model(project_written(written)?))))
    }

    async fn delete_project(&self, caller: &Caller, request: delete_project::Request) -> ApiResult<delete_project::Response> {
        let project = self.visible_project(request.project_id, caller.user_id).await?;
        match self.ports.knowledge.delete_project(project.id, caller.user_id).await? {
            KnowledgeWrite::Done(()) => Ok(delete_project::Response::NoContent),
            KnowledgeWrite::HasFacts(count) => Err(DomainError::Conflict {
                code: "conflict",
                message: format!("{count} facts still belong to the project: move or archive them first"),
                details: vec![("fact_count", count.into())],
            }
            .into()),
            other => Err(refused(other, "project").into()),
        }
    }

    async fn list_facts(&self, caller: &Caller, request: list_facts::Request) -> ApiResult<list_facts::Response> {
        self.team_role(request.team_id, caller.user_id).await?;
        let paging = PageRequest::new(request.page, request.limit);
        let filter = FactFilter {
            project: request.project_id,
            category: request.category.map(|c| c.to_string()),
            source_meeting: request.source_meeting_id,
            text: request.q.map(|q| q.to_string()),
            include_archived: request.include_archived,
        };
        let page = self.ports.knowledge.facts(request.team_id, filter, paging).await?;
        Ok(list_facts::Response::Ok(Json(FactPage {
            items: page.items.into_iter().map(fact_model).collect(),
            total: page.total,
            page: paging.page,
            limit: paging.limit,
        })))
    }

    async fn create_fact(&self, caller: &Caller, request: create_fact::Request) -> ApiResult<create_fact::Response> {
        self.team_role(request.team_id, caller.user_id).await?;
        let body = request.body;
        let key = rules::normalise_key(&body.key).ok_or_else(|| DomainError::invalid("key", "a key is more than white space"))?;
        let fact = NewFact {
            id: Uuid::now_v7(),
            team: request.team_id,
            key,
            value: body.value,
            category: body.category,
            project: body.project_id,
            reason: body.reason,
            creator: caller.user_id,
            now: self.ports.clock.now(),
        };
        let written = self.ports.knowledge.create_fact(fact).await?;
        Ok(create_fact::Response::Created(Json(fact_model(fact_written(written)?))))
    }

    async fn get_fact(&self, caller: &Caller, request: get_fact::Request) -> ApiResult<get_fact::Response> {
        let fact = self.visible_fact(request.fact_id, caller.user_id).await?;
        Ok(get_fact::Response::Ok(Json(fact_model(fact))))
    }

    async fn update_fact(&self, caller: &Caller, request: update_fact::Request) -> ApiResult<update_fact::Response> {
        let fact = self.visible_fact(request.fact_id, caller.user_id).await?;
        let body = request.body;
        let key = match body.key {
            Some(key) => Some(rules::normalise_key(&key).ok_or_else(|| DomainError::invalid("key", "a key is more than white space"))?),
            None => None,
        };
        let edit = FactEdit { key, category: clearable(body.category), project: clearable(body.project_id) };
        let now = self.ports.clock.now();
        let written = self.ports.knowledge.edit_fact(fact.id, caller.user_id, edit, now).await?;
        Ok(update_fact::Response::Ok(Json(fact_model(fact_written(written)?))))
    }

    async fn delete_fact(&self, caller: &Caller, request: delete_fact::Request) -> ApiResult<delete_fact::Response> {
        let fact = self.visible_fact(request.fact_id, caller.user_id).await?;
        match self.ports.knowledge.archive_fact(fact.id, caller.user_id, self.ports.clock.now()).await? {
            KnowledgeWrite::Done(()) => Ok(delete_fact::Response::NoContent),
            other => Err(refused(other, "fact").into()),
        }
    }

    async fn list_fact_history(&self, caller: &Caller, request: list_fact_history::Request) -> ApiResult<list_fact_history::Response> {
        let fact = self.visible_fact(request.fact_id, caller.user_id).await?;
        let paging = PageRequest::new(request.page, request.limit);
        let page = self.ports.knowledge.history(fact.id, paging).await?;
        Ok(list_fact_history::Response::Ok(Json(FactHistoryPage {
            items: page.items.into_iter().map(history_model).collect(),
            total: page.total,
            page: paging.page,
            limit: paging.limit,
        })))
    }

    async fn get_fact_as_of(&self, caller: &Caller, request: get_fact_as_of::Request) -> ApiResult<get_fact_as_of::Response> {
        let fact = self.visible_fact(request.fact_id, caller.user_id).await?;
        let then = self
            .ports
            .knowledge
            .fact_as_of(fact.id, request.at)
            .await?
            .ok_or_else(|| DomainError::unknown("at", "the fact did not exist yet at that moment"))?;
        Ok(get_fact_as_of::Response::Ok(Json(as_of_model(fact.id, request.at, then))))
    }

    async fn compare_fact_versions(
        &self,
        caller: &Caller,
        request: compare_fact_versions::Request,
    ) -> ApiResult<compare_fact_versions::Response> {
        let fact = self.visible_fact(request.fact_id, caller.user_id).await?;
        let from = self.value_at(fact.id, request.from, "from").await?;
        let to = self.value_at(fact.id, request.to, "to").await?;
        Ok(compare_fact_versions::Response::Ok(Json(FactComparison {
            fact_id: fact.id,
            from_version: request.from,
            to_version: request.to,
            lines: rules::line_diff(&from, &to),
            from_value: from,
            to_value: to,
        })))
    }

    async fn list_team_branches(&self, caller: &Caller, request: list_team_branches::Request) -> ApiResult<list_team_branches::Response> {
        self.branches_of_team(caller, request).await
    }

    async fn list_fact_branches(&self, caller: &Caller, request: list_fact_branches::Request) -> ApiResult<list_fact_branches::Response> {
        self.branches_of_fact(caller, request).await
    }

    async fn create_fact_branch(&self, caller: &Caller, request: create_fact_branch::Request) -> ApiResult<create_fact_branch::Response> {
        self.open_branch(caller, request).await
    }

    async fn get_branch(&self, caller: &Caller, request: get_branch::Request) -> ApiResult<get_branch::Response> {
        self.show_branch(caller, request).await
    }

    async fn update_branch(&self, caller: &Caller, request: update_branch::Request) -> ApiResult<update_branch::Response> {
        let (branch, action) = branches::edit_action(request);
        Ok(update_branch::Response::Ok(Json(self.branch_action(caller, branch, action).await?)))
    }

    async fn list_branch_discussions(
        &self,
        caller: &Caller,
        request: list_branch_discussions::Request,
    ) -> ApiResult<list_branch_discussions::Response> {
        self.branch_discussions(caller, request).await
    }

    async fn create_branch_discussion(
        &self,
        caller: &Caller,
        request: create_branch_discussion::Request,
    ) -> ApiResult<create_branch_discussion::Response> {
        self.discuss(caller, request).await
    }

    async fn list_branch_approvals(
        &self,
        caller: &Caller,
        request: list_branch_approvals::Request,
    ) -> ApiResult<list_branch_approvals::Response> {
        self.branch_approvals(caller, request).await
    }

    async fn approve_branch(&self, caller: &Caller, request: approve_branch::Request) -> ApiResult<approve_branch::Response> {
        let (branch, action) = branches::approve_action(&request);
        Ok(approve_branch::Response::Ok(Json(self.branch_action(caller, branch, action).await?)))
    }

    async fn withdraw_branch_approval(
        &self,
        caller: &Caller,
        request: withdraw_branch_approval::Request,
    ) -> ApiResult<withdraw_branch_approval::Response> {
        let (branch, action) = branches::withdraw_approval_action(&request);
        Ok(withdraw_branch_approval::Response::Ok(Json(self.branch_action(caller, branch, action).await?)))
    }

    async fn veto_branch(&self, caller: &Caller, request: veto_branch::Request) -> ApiResult<veto_branch::Response> {
        let (branch, action) = branches::veto_action(request);
        Ok(veto_branch::Response::Ok(Json(self.branch_action(caller, branch, action).await?)))
    }

    async fn withdraw_branch_veto(
        &self,
        caller: &Caller,
        request: withdraw_branch_veto::Request,
    ) -> ApiResult<withdraw_branch_veto::Response> {
        let (branch, action) = branches::withdraw_veto_action(&request);
        Ok(withdraw_branch_veto::Response::Ok(Json(self.branch_action(caller, branch, action).await?)))
    }

    async fn rebase_branch(&self, caller: &Caller, request: rebase_branch::Request) -> ApiResult<rebase_branch::Response> {
        let (branch, action) = branches::rebase_action(&request);
        Ok(rebase_branch::Response::Ok(Json(self.branch_action(caller, branch, action).await?)))
    }

    async fn merge_branch(&self, caller: &Caller, request: merge_branch::Request) -> ApiResult<merge_branch::Response> {
        let (branch, action) = branches::merge_action(request);
        Ok(merge_branch::Response::Ok(Json(self.branch_action(caller, branch, action).await?)))
    }

    async fn close_branch(&self, caller: &Caller, request: close_branch::Request) -> ApiResult<close_branch::Response> {
        let (branch, action) = branches::close_action(&request);
        Ok(close_branch::Response::Ok(Json(self.branch_action(caller, branch, action).await?)))
    }

    async fn get_approval_rule(&self, caller: &Caller, request: get_approval_rule::Request) -> ApiResult<get_approval_rule::Response> {
        self.rule_of_team(caller, request).await
    }

    async fn set_approval_rule(&self, caller: &Caller, request: set_approval_rule::Request) -> ApiResult<set_approval_rule::Response> {
        self.set_rule_of_team(caller, request).await
    }
}

impl Mit {
    /// The caller's role in a team whose knowledge they may see (404 for non-members).
    pub(crate) async fn team_role(&self, team: Uuid, user: Uuid) -> Result<TeamRole, DomainError> {
        self.ports.teams.role_of(team, user).await?.ok_or(DomainError::NotFound("team"))
    }

    async fn visible_project(&self, id: Uuid, user: Uuid) -> Result<ProjectRecord, DomainError> {
        let project = self.ports.knowledge.project(id).await?.ok_or(DomainError::NotFound("project"))?;
        self.team_role(project.team_id, user).await.map_err(|_| DomainError::NotFound("project"))?;
        Ok(project)
    }

    pub(crate) async fn visible_fact(&self, id: Uuid, user: Uuid) -> Result<FactRecord, DomainError> {
        let fact = self.ports.knowledge.fact(id).await?.ok_or(DomainError::NotFound("fact"))?;
        self.team_role(fact.team_id, user).await.map_err(|_| DomainError::NotFound("fact"))?;
        Ok(fact)
    }

    async fn value_at(&self, fact: Uuid, version: i32, field: &'static str) -> Result<String, DomainError> {
        self.ports
            .knowledge
            .value_at_version(fact, version)
            .await?
            .ok_or_else(|| DomainError::unknown(field, "the fact never had this version"))
    }
}

fn project_written(written: KnowledgeWrite<ProjectRecord>) -> Result<ProjectRecord, DomainError> {
    match written {
        KnowledgeWrite::Done(project) => Ok(project),
        KnowledgeWrite::Taken(_) => Err(DomainError::conflict("already_exists", "another project of the team has this name")),
        other => Err(refused(other, "project")),
    }
}

fn fact_written(written: KnowledgeWrite<FactRecord>) -> Result<FactRecord, DomainError> {
    match written {
        KnowledgeWrite::Done(fact) => Ok(fact),
        other => Err(refused(other, "fact")),
    }
}

/// The error of a write that did not happen.
fn refused<T>(written: KnowledgeWrite<T>, what: &'static str) -> DomainError {
    match written {
        KnowledgeWrite::Done(_) => DomainError::Internal("a written result taken for a refusal".into()),
        KnowledgeWrite::Missing => DomainError::NotFound(what),
        KnowledgeWrite::Forbidden => DomainError::Forbidden("only the team's admins and owners may do this".into()),
        KnowledgeWrite::Taken(existing) => DomainError::Conflict {
            code: "already_exists",
            message: "another fact of the team has this key".into(),
            details: existing.map(|id| ("fact_id", id.to_string().into())).into_iter().collect(),
        },
        KnowledgeWrite::UnknownProject => DomainError::unknown("project_id", "no project of this team has this id"),
        KnowledgeWrite::Archived => DomainError::Conflict {
            code: "conflict",
            message: "the fact is archived".into(),
            details: vec![("current", "archived".into())],
        },
        KnowledgeWrite::HasFacts(count) => DomainError::Conflict {
            code: "conflict",
            message: format!("{count} facts still belong to the project"),
            details: vec![("fact_count", count.into())],
        },
    }
}
