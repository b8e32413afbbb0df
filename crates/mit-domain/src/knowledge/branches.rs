//! Branches: proposals to change a fact's value, reviewed (approvals, vetoes, discussion) and
//! merged under the team's approval rule. Membership is checked here; everything that depends
//! on roles, approvals or the fact's version is decided in the store's transaction by
//! [`super::approval`].

use mit_api::server::models::{
    ApprovalRule, BranchApproval, BranchApprovalPage, BranchApprovalSummary, BranchDiscussion, BranchDiscussionPage, BranchVeto,
    FactBranch, FactBranchPage,
};
use mit_api::server::ops::{
    approve_branch, close_branch, create_branch_discussion, create_fact_branch, get_approval_rule, get_branch, list_branch_approvals,
    list_branch_discussions, list_fact_branches, list_team_branches, merge_branch, rebase_branch, set_approval_rule, update_branch,
    veto_branch, withdraw_branch_approval, withdraw_branch_veto,
};
use mit_api::server::runtime::Json;
use uuid::Uuid;

use super::approval::Rule;
use super::rules::may_curate;
use crate::error::{ApiResult, DomainError};
use crate::paging::{Page, PageRequest};
use crate::ports::knowledge::{BranchAct, BranchAction, BranchEdit, BranchRecord, BranchScope, BranchWrite, DiscussionRecord, NewBranch};
use crate::users::user_ref_model;
use crate::{Caller, Mit};

impl Mit {
    pub(super) async fn branches_of_team(
        &self,
        caller: &Caller,
        request: list_team_branches::Request,
    ) -> ApiResult<list_team_branches::Response> {
        self.team_role(request.team_id, caller.user_id).await?;
        let paging = PageRequest::new(request.page, request.limit);
        let page = self.ports.branches.branches(BranchScope::Team(request.team_id), request.status, paging).await?;
        Ok(list_team_branches::Response::Ok(Json(branch_page(page, paging, caller.user_id))))
    }

    pub(super) async fn branches_of_fact(
        &self,
        caller: &Caller,
        request: list_fact_branches::Request,
    ) -> ApiResult<list_fact_branches::Response> {
        let fact = self.visible_fact(request.fact_id, caller.user_id).await?;
        let paging = PageRequest::new(request.page, request.limit);
        let page = self.ports.branches.branches(BranchScope::Fact(fact.id), request.status, paging).await?;
        Ok(list_fact_branches::Response::Ok(Json(branch_page(page, paging, caller.user_id))))
    }

    pub(super) async fn open_branch(
        &self,
        caller: &Caller,
        request: create_fact_branch::Request,
    ) -> ApiResult<create_fact_branch::Response> {
        let fact = self.visible_fact(request.fact_id, caller.user_id).await?;
        let body = request.body;
        let branch = NewBranch {
            fact: fact.id,
            title: body.title,
            proposed_value: body.proposed_value,
            reason: body.reason,
            author: caller.user_id,
            now: self.ports.clock.now(),
        };
        let written = self.ports.branches.create_branch(branch).await?;
        Ok(create_fact_branch::Response::Created(Json(branch_model(branch_written(written)?, caller.user_id))))
    }

    pub(super) async fn show_branch(&self, caller: &Caller, request: get_branch::Request) -> ApiResult<get_branch::Response> {
        let branch = self.visible_branch(request.branch_id, caller.user_id).await?;
        Ok(get_branch::Response::Ok(Json(branch_model(branch, caller.user_id))))
    }

    /// Applies an action to a branch the caller can see; the branch afterwards.
    pub(super) async fn branch_action(&self, caller: &Caller, branch: Uuid, action: BranchAction) -> Result<FactBranch, DomainError> {
        self.visible_branch(branch, caller.user_id).await?;
        let act = BranchAct { branch, actor: caller.user_id, now: self.ports.clock.now() };
        let written = self.ports.branches.act(act, action).await?;
        Ok(branch_model(branch_written(written)?, caller.user_id))
    }

    pub(super) async fn branch_approvals(
        &self,
        caller: &Caller,
        request: list_branch_approvals::Request,
    ) -> ApiResult<list_branch_approvals::Response> {
        let branch = self.visible_branch(request.branch_id, caller.user_id).await?;
        let paging = PageRequest::new(request.page, request.limit);
        let total = branch.approvals.len() as i64;
        let items = branch
            .approvals
            .into_iter()
            .skip(paging.offset() as usize)
            .take(paging.limit() as usize)
            .map(|a| BranchApproval { user: user_ref_model(a.user), counted: a.counted, approved_at: a.approved_at })
            .collect();
        Ok(list_branch_approvals::Response::Ok(Json(BranchApprovalPage { items, total, page: paging.page, limit: paging.limit })))
    }

    pub(super) async fn branch_discussions(
        &self,
        caller: &Caller,
        request: list_branch_discussions::Request,
    ) -> ApiResult<list_branch_discussions::Response> {
        let branch = self.visible_branch(request.branch_id, caller.user_id).await?;
        let paging = PageRequest::new(request.page, request.limit);
        let page = self.ports.branches.discussions(branch.id, paging).await?;
        Ok(list_branch_discussions::Response::Ok(Json(BranchDiscussionPage {
            items: page.items.into_iter().map(discussion_model).collect(),
            total: page.total,
            page: paging.page,
            limit: paging.limit,
        })))
    }

    pub(super) async fn discuss(
        &self,
        caller: &Caller,
        request: create_branch_discussion::Request,
    ) -> ApiResult<create_branch_discussion::Response> {
        let branch = self.visible_branch(request.branch_id, caller.user_id).await?;
        let act = BranchAct { branch: branch.id, actor: caller.user_id, now: self.ports.clock.now() };
        let written = self.ports.branches.create_discussion(act, request.body.parent_id, request.body.content).await?;
        Ok(create_branch_discussion::Response::Created(Json(discussion_model(branch_written(written)?))))
    }

    pub(super) async fn rule_of_team(
        &self,
        caller: &Caller,
        request: get_approval_rule::Request,
    ) -> ApiResult<get_approval_rule::Response> {
        if !may_curate(self.team_role(request.team_id, caller.user_id).await?) {
            return Err(DomainError::Forbidden("only the team's admins and owners see its approval rule".into()).into());
        }
        let rule = self.ports.branches.approval_rule(request.team_id).await?;
        Ok(get_approval_rule::Response::Ok(Json(rule_model(rule))))
    }

    pub(super) async fn set_rule_of_team(
        &self,
        caller: &Caller,
        request: set_approval_rule::Request,
    ) -> ApiResult<set_approval_rule::Response> {
        self.team_role(request.team_id, caller.user_id).await?;
        let rule = Rule { approvers: request.body.approvers, required: request.body.required_approvals.map(i32::unsigned_abs) };
        let written = self.ports.branches.set_approval_rule(request.team_id, caller.user_id, rule, self.ports.clock.now()).await?;
        Ok(set_approval_rule::Response::Ok(Json(rule_model(branch_written(written)?))))
    }

    async fn visible_branch(&self, id: Uuid, user: Uuid) -> Result<BranchRecord, DomainError> {
        let branch = self.ports.branches.branch(id).await?.ok_or(DomainError::NotFound("branch"))?;
        self.team_role(branch.team_id, user).await.map_err(|_| DomainError::NotFound("branch"))?;
        Ok(branch)
    }
}

/// The request types of the single-action operations, as actions.
pub(super) fn edit_action(request: update_branch::Request) -> (Uuid, BranchAction) {
    let body = request.body;
    (request.branch_id, BranchAction::Edit(BranchEdit { title: body.title, proposed_value: body.proposed_value, reason: body.reason }))
}

pub(super) fn approve_action(request: &approve_branch::Request) -> (Uuid, BranchAction) {
    (request.branch_id, BranchAction::Approve)
}

pub(super) fn withdraw_approval_action(request: &withdraw_branch_approval::Request) -> (Uuid, BranchAction) {
    (request.branch_id, BranchAction::WithdrawApproval)
}

pub(super) fn veto_action(request: veto_branch::Request) -> (Uuid, BranchAction) {
    (request.branch_id, BranchAction::Veto(request.body.reason))
}

pub(super) fn withdraw_veto_action(request: &withdraw_branch_veto::Request) -> (Uuid, BranchAction) {
    (request.branch_id, BranchAction::WithdrawVeto)
}

pub(super) fn rebase_action(request: &rebase_branch::Request) -> (Uuid, BranchAction) {
    (request.branch_id, BranchAction::Rebase)
}

pub(super) fn merge_action(request: merge_branch::Request) -> (Uuid, BranchAction) {
    (request.branch_id, BranchAction::Merge(request.body.override_reason))
}

pub(super) fn close_action(request: &close_branch::Request) -> (Uuid, BranchAction) {
    (request.branch_id, BranchAction::Close)
}

fn branch_page(page: Page<BranchRecord>, paging: PageRequest, viewer: Uuid) -> FactBranchPage {
    FactBranchPage {
        items: page.items.into_iter().map(|b| branch_model(b, viewer)).collect(),
        total: page.total,
        page: paging.page,
        limit: paging.limit,
    }
}

fn branch_model(branch: BranchRecord, viewer: Uuid) -> FactBranch {
    let standing = branch.standing;
    let open = branch.status == mit_api::server::models::BranchStatus::Open;
    FactBranch {
        id: branch.id,
        fact_id: branch.fact_id,
        fact_key: branch.fact_key,
        team_id: branch.team_id,
        title: branch.title,
        proposed_value: branch.proposed_value,
        base_value: branch.base_value,
        base_version: branch.base_version,
        reason: branch.reason,
        status: branch.status,
        stale: open && branch.base_version != branch.fact_version,
        vetoes: branch
            .vetoes
            .into_iter()
            .map(|v| BranchVeto { user: user_ref_model(v.user), reason: v.reason, vetoed_at: v.vetoed_at })
            .collect(),
        approvals: BranchApprovalSummary {
            approved_count: standing.counted as i64,
            required_count: standing.required as i64,
            approved_by_me: branch.approvals.iter().any(|a| a.user.id == viewer),
            rule_met: standing.met,
            rule_reachable: standing.reachable,
        },
        author: user_ref_model(branch.author),
        discussion_count: branch.discussion_count,
        meeting_id: branch.meeting_id,
        review_line_id: branch.review_line_id,
        merged_at: branch.merged.as_ref().map(|(at, _)| *at),
        merged_by: branch.merged.map(|(_, by)| user_ref_model(by)),
        closed_at: branch.closed.as_ref().map(|(at, _)| *at),
        closed_by: branch.closed.map(|(_, by)| user_ref_model(by)),
        created_at: branch.created_at,
        updated_at: branch.updated_at,
    }
}

fn discussion_model(message: DiscussionRecord) -> BranchDiscussion {
    BranchDiscussion {
        id: message.id,
        branch_id: message.branch_id,
        parent_id: message.parent_id,
        author: user_ref_model(message.author),
        content: message.content,
        created_at: message.created_at,
    }
}

fn rule_model(rule: Rule) -> ApprovalRule {
    ApprovalRule { approvers: rule.approvers, required_approvals: rule.required.map(|n| n as i32) }
}

/// The result of a branch write, or the error of one that did not happen.
fn branch_written<T>(written: BranchWrite<T>) -> Result<T, DomainError> {
    match written {
        BranchWrite::Done(value) => Ok(value),
        BranchWrite::Missing => Err(DomainError::NotFound("branch")),
        BranchWrite::Forbidden => Err(DomainError::Forbidden("the caller's role or authorship does not allow this".into())),
        BranchWrite::Final(status) => Err(DomainError::Conflict {
            code: "immutable",
            message: format!("the branch is {} and cannot change", status.as_str()),
            details: vec![("current", status.as_str().into())],
        }),
        BranchWrite::Archived => Err(DomainError::Conflict {
            code: "conflict",
            message: "the fact is archived".into(),
            details: vec![("current", "archived".into())],
        }),
        BranchWrite::SameValue => Err(DomainError::Conflict {
            code: "conflict",
            message: "the proposed value is the fact's value already".into(),
            details: vec![("field", "proposed_value".into())],
        }),
        BranchWrite::UnknownParent => Err(DomainError::unknown("parent_id", "no message of this branch has this id")),
        BranchWrite::StaleBase { value, version } => Err(DomainError::Conflict {
            code: "stale_base",
            message: format!("the fact is at version {version} since the branch was proposed: rebase it"),
            details: vec![("current_value", value.into()), ("current_version", version.into())],
        }),
        BranchWrite::Vetoed => Err(DomainError::conflict("vetoed", "a veto stands: its author must withdraw it first")),
        BranchWrite::ApprovalRequired(standing) => Err(DomainError::Conflict {
            code: "approval_required",
            message: format!("{} of {} required approvals", standing.counted, standing.required),
            details: vec![("approved_count", standing.counted.into()), ("required_count", standing.required.into())],
        }),
    }
}
