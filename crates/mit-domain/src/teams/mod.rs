//! Teams and their members.

pub mod policy;

use mit_api::server::TeamsApi;
use mit_api::server::models::{Team, TeamMember, TeamMemberPage, TeamPage, TeamRole};
use mit_api::server::ops::{
    add_team_member, create_team, delete_team, get_team, list_team_members, list_teams, remove_team_member, update_team, update_team_member,
};
use mit_api::server::runtime::{Json, MaybeUndefined};
use uuid::Uuid;

use crate::auth::clean_name;
use crate::error::{ApiResult, DomainError};
use crate::paging::PageRequest;
use crate::ports::StoreError;
use crate::ports::teams::{Authorised, MemberRecord, MembershipChange, NewTeam, TeamChange, TeamRecord};
use crate::users::user_ref_model;
use crate::{Caller, Mit};
use policy::MemberAction;

impl TeamsApi for Mit {
    async fn list_teams(&self, caller: &Caller, request: list_teams::Request) -> ApiResult<list_teams::Response> {
        let paging = PageRequest::new(request.page, request.limit);
        let page = self.ports.teams.teams_of(caller.user_id, paging).await.map_err(DomainError::from)?;
        Ok(list_teams::Response::Ok(Json(TeamPage {
            items: page.items.into_iter().map(team_model).collect(),
            total: page.total,
            page: paging.page,
            limit: paging.limit,
        })))
    }

    async fn create_team(&self, caller: &Caller, request: create_team::Request) -> ApiResult<create_team::Response> {
        let body = request.body;
        let team = NewTeam {
            id: Uuid::now_v7(),
            name: clean_name(&body.name)?,
            description: body.description,
            owner: caller.user_id,
            now: self.ports.clock.now(),
        };
        let record = self.ports.teams.create_team(team).await.map_err(DomainError::from)?;
        Ok(create_team::Response::Created(Json(team_model(record))))
    }

    async fn get_team(&self, caller: &Caller, request: get_team::Request) -> ApiResult<get_team::Response> {
        let team = self.visible_team(request.team_id, caller.user_id).await?;
        Ok(get_team::Response::Ok(Json(team_model(team))))
    }

    async fn update_team(&self, caller: &Caller, request: update_team::Request) -> ApiResult<update_team::Response> {
        let team = self.visible_team(request.team_id, caller.user_id).await?;
        if !policy::may_edit_team(team.my_role) {
            return Err(DomainError::Forbidden("only owners and admins may edit the team".into()).into());
        }
        let body = request.body;
        let change = TeamChange {
            name: body.name.as_deref().map(clean_name).transpose()?,
            description: match body.description {
                MaybeUndefined::Undefined => None,
                MaybeUndefined::Null => Some(None),
                MaybeUndefined::Value(text) => Some(Some(text)),
            },
        };
        let now = self.ports.clock.now();
        let updated = match self.ports.teams.update_team(team.id, caller.user_id, change, now).await.map_err(DomainError::from)? {
            Authorised::Done(updated) => updated.ok_or(DomainError::NotFound("team"))?,
            Authorised::Forbidden => return Err(rights_changed().into()),
        };
        Ok(update_team::Response::Ok(Json(team_model(updated))))
    }

    async fn delete_team(&self, caller: &Caller, request: delete_team::Request) -> ApiResult<delete_team::Response> {
        let team = self.visible_team(request.team_id, caller.user_id).await?;
        if !policy::may_delete_team(team.my_role) {
            return Err(DomainError::Forbidden("only owners may delete the team".into()).into());
        }
        match self.ports.teams.delete_team(team.id, caller.user_id).await.map_err(DomainError::from)? {
            Authorised::Done(()) => Ok(delete_team::Response::NoContent),
            Authorised::Forbidden => Err(rights_changed().into()),
        }
    }

    async fn list_team_members(&self, caller: &Caller, request: list_team_members::Request) -> ApiResult<list_team_members::Response> {
        let team = self.visible_team(request.team_id, caller.user_id).await?;
        let paging = PageRequest::new(request.page, request.limit);
        let page = self.ports.teams.members(team.id, paging).await.map_err(DomainError::from)?;
        Ok(list_team_members::Response::Ok(Json(TeamMemberPage {
            items: page.items.into_iter().map(member_model).collect(),
            total: page.total,
            page: paging.page,
            limit: paging.limit,
        })))
    }

    async fn add_team_member(&self, caller: &Caller, request: add_team_member::Request) -> ApiResult<add_team_member::Response> {
        let team = self.visible_team(request.team_id, caller.user_id).await?;
        let role = request.body.role.unwrap_or(TeamRole::Member);
        if !policy::may(team.my_role, MemberAction::Add(role)) {
            return Err(DomainError::Forbidden(format!("a team {} may not add a team {role}", team.my_role)).into());
        }
        let email = request.body.email.0.trim().to_lowercase();
        let user = self.ports.accounts.user_by_email(&email).await.map_err(DomainError::from)?;
        let user = user.ok_or_else(|| DomainError::unknown("email", "no user has this email"))?;
        let now = self.ports.clock.now();
        let added = self.ports.teams.add_member(team.id, caller.user_id, user.id, role, now).await.map_err(|e| match e {
            StoreError::Conflict(_) => DomainError::conflict("already_exists", "this user is already a member"),
            other => other.into(),
        })?;
        match added {
            Authorised::Done(member) => Ok(add_team_member::Response::Created(Json(member_model(member)))),
            Authorised::Forbidden => Err(rights_changed().into()),
        }
    }

    async fn update_team_member(&self, caller: &Caller, request: update_team_member::Request) -> ApiResult<update_team_member::Response> {
        let team = self.visible_team(request.team_id, caller.user_id).await?;
        let target = self.member_role(team.id, request.user_id).await?;
        let to = request.body.role;
        if !policy::may(team.my_role, MemberAction::ChangeRole { from: target, to }) {
            return Err(DomainError::Forbidden(format!("a team {} may not make a team {target} a team {to}", team.my_role)).into());
        }
        match self.ports.teams.change_role(team.id, caller.user_id, request.user_id, to).await.map_err(DomainError::from)? {
            MembershipChange::Done(Some(member)) => Ok(update_team_member::Response::Ok(Json(member_model(member)))),
            MembershipChange::Done(None) | MembershipChange::NotMember => Err(DomainError::NotFound("team member").into()),
            MembershipChange::LastOwner => Err(last_owner().into()),
            MembershipChange::Forbidden => Err(rights_changed().into()),
        }
    }

    async fn remove_team_member(&self, caller: &Caller, request: remove_team_member::Request) -> ApiResult<remove_team_member::Response> {
        let team = self.visible_team(request.team_id, caller.user_id).await?;
        let target = self.member_role(team.id, request.user_id).await?;
        let leaving = request.user_id == caller.user_id;
        if !leaving && !policy::may(team.my_role, MemberAction::Remove(target)) {
            return Err(DomainError::Forbidden(format!("a team {} may not remove a team {target}", team.my_role)).into());
        }
        match self.ports.teams.remove_member(team.id, caller.user_id, request.user_id).await.map_err(DomainError::from)? {
            MembershipChange::Done(_) => Ok(remove_team_member::Response::NoContent),
            MembershipChange::NotMember => Err(DomainError::NotFound("team member").into()),
            MembershipChange::LastOwner => Err(last_owner().into()),
            MembershipChange::Forbidden => Err(rights_changed().into()),
        }
    }
}

impl Mit {
    /// The team as `user` sees it, or 404 when they are not a member.
    pub(crate) async fn visible_team(&self, team: Uuid, user: Uuid) -> Result<TeamRecord, DomainError> {
        self.ports.teams.team_for(team, user).await?.ok_or(DomainError::NotFound("team"))
    }

    async fn member_role(&self, team: Uuid, user: Uuid) -> Result<TeamRole, DomainError> {
        self.ports.teams.role_of(team, user).await?.ok_or(DomainError::NotFound("team member"))
    }
}

/// The caller's role changed between the first check and the write (a concurrent demotion).
fn rights_changed() -> DomainError {
    DomainError::Forbidden("your role in this team no longer allows this".into())
}

fn last_owner() -> DomainError {
    DomainError::conflict("last_owner", "a team needs an owner: make someone else owner first")
}

fn team_model(team: TeamRecord) -> Team {
    Team {
        id: team.id,
        name: team.name,
        description: team.description,
        my_role: team.my_role,
        member_count: team.member_count,
        created_at: team.created_at,
        updated_at: team.updated_at,
    }
}

fn member_model(member: MemberRecord) -> TeamMember {
    TeamMember { user: user_ref_model(member.user), role: member.role, joined_at: member.joined_at }
}
