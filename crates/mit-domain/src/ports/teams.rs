//! Teams and their members.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use mit_api::server::models::TeamRole;
use uuid::Uuid;

use super::StoreError;
use super::people::UserRef;
use crate::paging::{Page, PageRequest};

/// A team as one of its members sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamRecord {
    /// Id.
    pub id: Uuid,
    /// Name.
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// The viewer's role.
    pub my_role: TeamRole,
    /// Members, the viewer included.
    pub member_count: i64,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

/// One member of a team.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberRecord {
    /// The user.
    pub user: UserRef,
    /// Their role.
    pub role: TeamRole,
    /// When they joined.
    pub joined_at: DateTime<Utc>,
}

/// A team to create.
#[derive(Debug, Clone)]
pub struct NewTeam {
    /// Id.
    pub id: Uuid,
    /// Name.
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// Its first owner.
    pub owner: Uuid,
    /// Now.
    pub now: DateTime<Utc>,
}

/// A change of name or description; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct TeamChange {
    /// New name.
    pub name: Option<String>,
    /// New description (`Some(None)` removes it).
    pub description: Option<Option<String>>,
}

/// What changing or removing a membership did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MembershipChange {
    /// Done; the member as they are now (`None` once removed).
    Done(Option<MemberRecord>),
    /// The user is not a member.
    NotMember,
    /// Refused: they are the team's last owner.
    LastOwner,
    /// Refused: the actor's role, as of the write, does not allow it (it may have changed
    /// since the actor's rights were first read).
    Forbidden,
}

/// A write the actor's rights must allow, checked again inside its transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Authorised<T> {
    /// Done.
    Done(T),
    /// The actor's role, as of the write, does not allow it.
    Forbidden,
}

/// Storage of teams. Every write is one transaction that checks the actor's rights
/// (`teams::policy`) and the last-owner rule under row locks, so a concurrent demotion cannot
/// slip between a check and its write, nor can concurrent changes leave a team without an owner.
#[async_trait]
pub trait TeamStore: Send + Sync + 'static {
    /// Creates a team with its first owner.
    async fn create_team(&self, team: NewTeam) -> Result<TeamRecord, StoreError>;
    /// The teams `user` belongs to, by name then id.
    async fn teams_of(&self, user: Uuid, page: PageRequest) -> Result<Page<TeamRecord>, StoreError>;
    /// A team as `user` sees it; `None` unless they are a member.
    async fn team_for(&self, team: Uuid, user: Uuid) -> Result<Option<TeamRecord>, StoreError>;
    /// Renames or re-describes a team if `actor` may edit it; returns it as `actor` sees it.
    async fn update_team(
        &self,
        team: Uuid,
        actor: Uuid,
        change: TeamChange,
        now: DateTime<Utc>,
    ) -> Result<Authorised<Option<TeamRecord>>, StoreError>;
    /// Deletes a team if `actor` may (its meetings stay, without a team).
    async fn delete_team(&self, team: Uuid, actor: Uuid) -> Result<Authorised<()>, StoreError>;
    /// Members, owners first, then by name and id.
    async fn members(&self, team: Uuid, page: PageRequest) -> Result<Page<MemberRecord>, StoreError>;
    /// A member's role; `None` if not a member.
    async fn role_of(&self, team: Uuid, user: Uuid) -> Result<Option<TeamRole>, StoreError>;
    /// Adds a member if `actor` may; `Conflict` if they already are one.
    async fn add_member(
        &self,
        team: Uuid,
        actor: Uuid,
        user: Uuid,
        role: TeamRole,
        now: DateTime<Utc>,
    ) -> Result<Authorised<MemberRecord>, StoreError>;
    /// Changes a member's role if `actor` may, refusing to demote the last owner.
    async fn change_role(&self, team: Uuid, actor: Uuid, user: Uuid, role: TeamRole) -> Result<MembershipChange, StoreError>;
    /// Removes a member (`actor` themselves, or someone `actor` may remove), refusing to remove
    /// the last owner.
    async fn remove_member(&self, team: Uuid, actor: Uuid, user: Uuid) -> Result<MembershipChange, StoreError>;
}
