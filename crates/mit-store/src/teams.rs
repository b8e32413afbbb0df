//! `TeamStore` on PostgreSQL.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Uuid as SqlUuid};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use mit_api::server::models::TeamRole;
use mit_domain::paging::{Page, PageRequest};
use mit_domain::ports::StoreError;
use mit_domain::ports::teams::{Authorised, MemberRecord, MembershipChange, NewTeam, TeamChange, TeamRecord, TeamStore};
use mit_domain::teams::policy::{self, MemberAction};
use uuid::Uuid;

use super::rows::{CountRow, MemberRow, TeamRow, convert};
use super::schema::{team_members, teams};
use super::{PgStore, store_error};

const TEAM_COLUMNS: &str = "SELECT t.id, t.name, t.description, t.created_at, t.updated_at, me.role AS my_role,
        (SELECT count(*) FROM team_members c WHERE c.team_id = t.id) AS member_count
     FROM teams t JOIN team_members me ON me.team_id = t.id AND me.user_id = $1";

const MEMBER_COLUMNS: &str = "SELECT u.id AS user_id, u.name AS user_name, u.avatar_url AS user_avatar, m.role, m.joined_at
     FROM team_members m JOIN users u ON u.id = m.user_id";

#[derive(AsChangeset)]
#[diesel(table_name = teams)]
struct TeamChangeRow {
    name: Option<String>,
    description: Option<Option<String>>,
    updated_at: DateTime<Utc>,
}

#[async_trait]
impl TeamStore for PgStore {
    async fn create_team(&self, team: NewTeam) -> Result<TeamRecord, StoreError> {
        let mut conn = self.connection().await?;
        conn.transaction(async |conn| {
            diesel::insert_into(teams::table)
                .values((
                    teams::id.eq(team.id),
                    teams::name.eq(&team.name),
                    teams::description.eq(&team.description),
                    teams::created_at.eq(team.now),
                    teams::updated_at.eq(team.now),
                ))
                .execute(conn)
                .await?;
            diesel::insert_into(team_members::table)
                .values((
                    team_members::team_id.eq(team.id),
                    team_members::user_id.eq(team.owner),
                    team_members::role.eq(TeamRole::Owner.as_str()),
                    team_members::joined_at.eq(team.now),
                ))
                .execute(conn)
                .await?;
            Ok(())
        })
        .await
        .map_err(store_error)?;
        self.team_for(team.id, team.owner).await?.ok_or_else(|| StoreError::Other("a new team vanished".into()))
    }

    async fn teams_of(&self, user: Uuid, page: PageRequest) -> Result<Page<TeamRecord>, StoreError> {
        let mut conn = self.connection().await?;
        let total: CountRow = diesel::sql_query("SELECT count(*) AS count FROM team_members WHERE user_id = $1")
            .bind::<SqlUuid, _>(user)
            .get_result(&mut conn)
            .await
            .map_err(store_error)?;
        let rows: Vec<TeamRow> = diesel::sql_query(format!("{TEAM_COLUMNS} ORDER BY t.name, t.id OFFSET $2 LIMIT $3"))
            .bind::<SqlUuid, _>(user)
            .bind::<BigInt, _>(page.offset())
            .bind::<BigInt, _>(page.limit())
            .load(&mut conn)
            .await
            .map_err(store_error)?;
        Ok(Page { items: convert(rows)?, total: total.count })
    }

    async fn team_for(&self, team: Uuid, user: Uuid) -> Result<Option<TeamRecord>, StoreError> {
        let mut conn = self.connection().await?;
        let row: Option<TeamRow> = diesel::sql_query(format!("{TEAM_COLUMNS} WHERE t.id = $2"))
            .bind::<SqlUuid, _>(user)
            .bind::<SqlUuid, _>(team)
            .get_result(&mut conn)
            .await
            .optional()
            .map_err(store_error)?;
        row.map(TeamRecord::try_from).transpose()
    }

    async fn update_team(
        &self,
        team: Uuid,
        actor: Uuid,
        change: TeamChange,
        now: DateTime<Utc>,
    ) -> Result<Authorised<Option<TeamRecord>>, StoreError> {
        let mut conn = self.connection().await?;
        let row = TeamChangeRow { name: change.name, description: change.description, updated_at: now };
        let allowed = conn
            .transaction(async |conn| {
                if !actor_role(conn, team, actor).await?.is_some_and(policy::may_edit_team) {
                    return Ok(false);
                }
                diesel::update(teams::table.find(team)).set(&row).execute(conn).await?;
                Ok::<_, diesel::result::Error>(true)
            })
            .await
            .map_err(store_error)?;
        drop(conn);
        if !allowed {
            return Ok(Authorised::Forbidden);
        }
        Ok(Authorised::Done(self.team_for(team, actor).await?))
    }

    async fn delete_team(&self, team: Uuid, actor: Uuid) -> Result<Authorised<()>, StoreError> {
        let mut conn = self.connection().await?;
        conn.transaction(async |conn| {
            lock_owners(conn, team).await?;
            if !actor_role(conn, team, actor).await?.is_some_and(policy::may_delete_team) {
                return Ok(Authorised::Forbidden);
            }
            diesel::delete(teams::table.find(team)).execute(conn).await?;
            Ok(Authorised::Done(()))
        })
        .await
        .map_err(store_error)
    }

    async fn members(&self, team: Uuid, page: PageRequest) -> Result<Page<MemberRecord>, StoreError> {
        let mut conn = self.connection().await?;
        let total = team_members::table.filter(team_members::team_id.eq(team)).count().get_result(&mut conn).await.map_err(store_error)?;
        let rows: Vec<MemberRow> = diesel::sql_query(format!(
            "{MEMBER_COLUMNS} WHERE m.team_id = $1
             ORDER BY CASE m.role WHEN 'owner' THEN 0 WHEN 'admin' THEN 1 ELSE 2 END, u.name, u.id OFFSET $2 LIMIT $3"
        ))
        .bind::<SqlUuid, _>(team)
        .bind::<BigInt, _>(page.offset())
        .bind::<BigInt, _>(page.limit())
        .load(&mut conn)
        .await
        .map_err(store_error)?;
        Ok(Page { items: convert(rows)?, total })
    }

    async fn role_of(&self, team: Uuid, user: Uuid) -> Result<Option<TeamRole>, StoreError> {
        let mut conn = self.connection().await?;
        let role: Option<String> =
            team_members::table.find((team, user)).select(team_members::role).first(&mut conn).await.optional().map_err(store_error)?;
        role.map(|r| super::rows::parse_enum("team role", &r)).transpose()
    }

    async fn add_member(
        &self,
        team: Uuid,
        actor: Uuid,
        user: Uuid,
        role: TeamRole,
        now: DateTime<Utc>,
    ) -> Result<Authorised<MemberRecord>, StoreError> {
        let mut conn = self.connection().await?;
        let row = conn
            .transaction(async |conn| {
                lock_owners(conn, team).await?;
                if !actor_role(conn, team, actor).await?.is_some_and(|actor| policy::may(actor, MemberAction::Add(role))) {
                    return Ok(None);
                }
                diesel::insert_into(team_members::table)
                    .values((
                        team_members::team_id.eq(team),
                        team_members::user_id.eq(user),
                        team_members::role.eq(role.as_str()),
                        team_members::joined_at.eq(now),
                    ))
                    .execute(conn)
                    .await?;
                member(conn, team, user).await
            })
            .await
            .map_err(store_error)?;
        match row {
            Some(row) => Ok(Authorised::Done(MemberRecord::try_from(row)?)),
            None => Ok(Authorised::Forbidden),
        }
    }

    async fn change_role(&self, team: Uuid, actor: Uuid, user: Uuid, role: TeamRole) -> Result<MembershipChange, StoreError> {
        let mut conn = self.connection().await?;
        conn.transaction(async |conn| {
            let Some(current) = locked_role(conn, team, user).await? else { return Ok(MembershipChange::NotMember) };
            let change = MemberAction::ChangeRole { from: current, to: role };
            if !actor_role(conn, team, actor).await?.is_some_and(|actor| policy::may(actor, change)) {
                return Ok(MembershipChange::Forbidden);
            }
            if current == TeamRole::Owner && role != TeamRole::Owner && owner_count(conn, team).await? <= 1 {
                return Ok(MembershipChange::LastOwner);
            }
            diesel::update(team_members::table.find((team, user))).set(team_members::role.eq(role.as_str())).execute(conn).await?;
            Ok(MembershipChange::Done(member(conn, team, user).await?.map(MemberRecord::try_from).transpose().map_err(to_diesel)?))
        })
        .await
        .map_err(store_error)
    }

    async fn remove_member(&self, team: Uuid, actor: Uuid, user: Uuid) -> Result<MembershipChange, StoreError> {
        let mut conn = self.connection().await?;
        conn.transaction(async |conn| {
            let Some(current) = locked_role(conn, team, user).await? else { return Ok(MembershipChange::NotMember) };
            let leaving = actor == user;
            if !leaving && !actor_role(conn, team, actor).await?.is_some_and(|actor| policy::may(actor, MemberAction::Remove(current))) {
                return Ok(MembershipChange::Forbidden);
            }
            if current == TeamRole::Owner && owner_count(conn, team).await? <= 1 {
                return Ok(MembershipChange::LastOwner);
            }
            diesel::delete(team_members::table.find((team, user))).execute(conn).await?;
            Ok(MembershipChange::Done(None))
        })
        .await
        .map_err(store_error)
    }
}

/// Locks the team's owner rows, always in the same order: every membership change takes these
/// first, so concurrent changes queue instead of deadlocking or overtaking each other.
async fn lock_owners(conn: &mut AsyncPgConnection, team: Uuid) -> QueryResult<()> {
    team_members::table
        .filter(team_members::team_id.eq(team))
        .filter(team_members::role.eq(TeamRole::Owner.as_str()))
        .order(team_members::user_id)
        .select(team_members::user_id)
        .for_update()
        .load::<Uuid>(conn)
        .await
        .map(|_| ())
}

/// Locks the owners, then the target's row, and returns the target's role.
async fn locked_role(conn: &mut AsyncPgConnection, team: Uuid, user: Uuid) -> QueryResult<Option<TeamRole>> {
    lock_owners(conn, team).await?;
    let role: Option<String> =
        team_members::table.find((team, user)).select(team_members::role).for_update().first(conn).await.optional()?;
    role.map(|role| super::rows::parse_enum("team role", &role).map_err(to_diesel)).transpose()
}

/// The actor's role as of now, locked against a concurrent change until the write commits.
async fn actor_role(conn: &mut AsyncPgConnection, team: Uuid, actor: Uuid) -> QueryResult<Option<TeamRole>> {
    let role: Option<String> =
        team_members::table.find((team, actor)).select(team_members::role).for_share().first(conn).await.optional()?;
    role.map(|role| super::rows::parse_enum("team role", &role).map_err(to_diesel)).transpose()
}

async fn owner_count(conn: &mut AsyncPgConnection, team: Uuid) -> QueryResult<i64> {
    team_members::table
        .filter(team_members::team_id.eq(team))
        .filter(team_members::role.eq(TeamRole::Owner.as_str()))
        .count()
        .get_result(conn)
        .await
}

async fn member(conn: &mut AsyncPgConnection, team: Uuid, user: Uuid) -> QueryResult<Option<MemberRow>> {
    diesel::sql_query(format!("{MEMBER_COLUMNS} WHERE m.team_id = $1 AND m.user_id = $2"))
        .bind::<SqlUuid, _>(team)
        .bind::<SqlUuid, _>(user)
        .get_result(conn)
        .await
        .optional()
}

/// Carries a conversion failure out of a transaction closure (which speaks diesel errors).
pub(super) fn to_diesel(error: StoreError) -> diesel::result::Error {
    diesel::result::Error::DeserializationError(Box::new(std::io::Error::other(error.to_string())))
}
