//! `AccountStore` on PostgreSQL: users, sessions and refresh tokens.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use mit_domain::paging::{Page, PageRequest};
use mit_domain::ports::StoreError;
use mit_domain::ports::accounts::{AccountStore, Deletion, NewRefreshToken, NewSession, NewUser, ProfileChange, Rotation, UserRecord};
use uuid::Uuid;

use super::schema::{refresh_tokens, sessions, users};
use super::{PgStore, store_error};

/// The name a deleted account shows where its history remains.
const DELETED_USER_NAME: &str = "Deleted user";

#[derive(Queryable, Selectable)]
#[diesel(table_name = users, check_for_backend(diesel::pg::Pg))]
struct UserRow {
    id: Uuid,
    email: Option<String>,
    password_hash: Option<String>,
    name: String,
    avatar_url: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<UserRow> for UserRecord {
    fn from(row: UserRow) -> Self {
        Self {
            id: row.id,
            email: row.email,
            password_hash: row.password_hash,
            name: row.name,
            avatar_url: row.avatar_url,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

#[derive(AsChangeset)]
#[diesel(table_name = users)]
struct ProfileRow {
    name: Option<String>,
    avatar_url: Option<Option<String>>,
    updated_at: DateTime<Utc>,
}

#[derive(QueryableByName)]
struct TeamIdRow {
    #[diesel(sql_type = sql_types::Uuid)]
    team_id: Uuid,
}

#[async_trait]
impl AccountStore for PgStore {
    async fn register(&self, user: NewUser, session: NewSession) -> Result<UserRecord, StoreError> {
        let mut conn = self.connection().await?;
        conn.transaction(async |conn| {
            let row: UserRow = diesel::insert_into(users::table)
                .values((
                    users::id.eq(user.id),
                    users::email.eq(&user.email),
                    users::password_hash.eq(&user.password_hash),
                    users::name.eq(&user.name),
                    users::created_at.eq(user.now),
                    users::updated_at.eq(user.now),
                ))
                .returning(UserRow::as_returning())
                .get_result(conn)
                .await?;
            insert_session(conn, &session).await?;
            Ok(row.into())
        })
        .await
        .map_err(store_error)
    }

    async fn user(&self, id: Uuid) -> Result<Option<UserRecord>, StoreError> {
        let mut conn = self.connection().await?;
        active_users()
            .filter(users::id.eq(id))
            .select(UserRow::as_select())
            .first(&mut conn)
            .await
            .optional()
            .map(|row| row.map(Into::into))
            .map_err(store_error)
    }

    async fn user_by_email(&self, email: &str) -> Result<Option<UserRecord>, StoreError> {
        let mut conn = self.connection().await?;
        active_users()
            .filter(users::email.eq(email))
            .select(UserRow::as_select())
            .first(&mut conn)
            .await
            .optional()
            .map(|row| row.map(Into::into))
            .map_err(store_error)
    }

    async fn search_users(&self, query: &str, page: PageRequest) -> Result<Page<UserRecord>, StoreError> {
        let mut conn = self.connection().await?;
        let pattern = format!("%{}%", escape_like(query));
        let total = active_users().filter(users::name.ilike(&pattern)).count().get_result(&mut conn).await.map_err(store_error)?;
        let rows: Vec<UserRow> = active_users()
            .filter(users::name.ilike(&pattern))
            .order((users::name, users::id))
            .offset(page.offset())
            .limit(page.limit())
            .select(UserRow::as_select())
            .load(&mut conn)
            .await
            .map_err(store_error)?;
        Ok(Page { items: rows.into_iter().map(Into::into).collect(), total })
    }

    async fn update_profile(&self, id: Uuid, change: ProfileChange, now: DateTime<Utc>) -> Result<Option<UserRecord>, StoreError> {
        let mut conn = self.connection().await?;
        let row = ProfileRow { name: change.name, avatar_url: change.avatar_url, updated_at: now };
        diesel::update(users::table.filter(users::id.eq(id)).filter(users::deleted_at.is_null()))
            .set(&row)
            .returning(UserRow::as_returning())
            .get_result(&mut conn)
            .await
            .optional()
            .map(|row| row.map(Into::into))
            .map_err(store_error)
    }

    async fn change_password(&self, id: Uuid, hash: String, keep: Uuid, now: DateTime<Utc>) -> Result<(), StoreError> {
        let mut conn = self.connection().await?;
        conn.transaction(async |conn| {
            diesel::update(users::table.filter(users::id.eq(id)))
                .set((users::password_hash.eq(&hash), users::updated_at.eq(now)))
                .execute(conn)
                .await?;
            diesel::update(
                sessions::table.filter(sessions::user_id.eq(id)).filter(sessions::id.ne(keep)).filter(sessions::revoked_at.is_null()),
            )
            .set(sessions::revoked_at.eq(now))
            .execute(conn)
            .await?;
            Ok(())
        })
        .await
        .map_err(store_error)
    }

    async fn delete_user(&self, id: Uuid, now: DateTime<Utc>) -> Result<Deletion, StoreError> {
        let mut conn = self.connection().await?;
        conn.transaction(async |conn| {
            // Lock the user's memberships so a concurrent promotion or leave cannot slip between
            // the check and the delete.
            let blocked: Vec<TeamIdRow> = diesel::sql_query(
                "SELECT tm.team_id FROM team_members tm
                 WHERE tm.user_id = $1 AND tm.role = 'owner'
                   AND NOT EXISTS (SELECT 1 FROM team_members o
                                   WHERE o.team_id = tm.team_id AND o.user_id <> $1 AND o.role = 'owner')
                   AND EXISTS (SELECT 1 FROM team_members m WHERE m.team_id = tm.team_id AND m.user_id <> $1)
                 ORDER BY tm.team_id
                 FOR UPDATE OF tm",
            )
            .bind::<sql_types::Uuid, _>(id)
            .load(conn)
            .await?;
            if !blocked.is_empty() {
                return Ok(Deletion::SoleOwner(blocked.into_iter().map(|r| r.team_id).collect()));
            }
            diesel::sql_query(
                "DELETE FROM teams t
                 WHERE EXISTS (SELECT 1 FROM team_members tm WHERE tm.team_id = t.id AND tm.user_id = $1)
                   AND NOT EXISTS (SELECT 1 FROM team_members o WHERE o.team_id = t.id AND o.user_id <> $1)",
            )
            .bind::<sql_types::Uuid, _>(id)
            .execute(conn)
            .await?;
            diesel::sql_query("DELETE FROM team_members WHERE user_id = $1").bind::<sql_types::Uuid, _>(id).execute(conn).await?;
            diesel::update(sessions::table.filter(sessions::user_id.eq(id)).filter(sessions::revoked_at.is_null()))
                .set(sessions::revoked_at.eq(now))
                .execute(conn)
                .await?;
            diesel::update(users::table.filter(users::id.eq(id)))
                .set((
                    users::email.eq(None::<String>),
                    users::password_hash.eq(None::<String>),
                    users::name.eq(DELETED_USER_NAME),
                    users::avatar_url.eq(None::<String>),
                    users::deleted_at.eq(now),
                    users::updated_at.eq(now),
                ))
                .execute(conn)
                .await?;
            Ok(Deletion::Deleted)
        })
        .await
        .map_err(store_error)
    }

    async fn create_session(&self, session: NewSession) -> Result<(), StoreError> {
        let mut conn = self.connection().await?;
        conn.transaction(async |conn| insert_session(conn, &session).await).await.map_err(store_error)
    }

    async fn session_user(&self, session_id: Uuid) -> Result<Option<Uuid>, StoreError> {
        let mut conn = self.connection().await?;
        sessions::table
            .filter(sessions::id.eq(session_id))
            .filter(sessions::revoked_at.is_null())
            .select(sessions::user_id)
            .first(&mut conn)
            .await
            .optional()
            .map_err(store_error)
    }

    async fn rotate_refresh_token(&self, hash: &[u8], next: NewRefreshToken, now: DateTime<Utc>) -> Result<Rotation, StoreError> {
        let mut conn = self.connection().await?;
        conn.transaction(async |conn| {
            let found: Option<(Uuid, DateTime<Utc>, Option<DateTime<Utc>>, Uuid, Option<DateTime<Utc>>)> = refresh_tokens::table
                .inner_join(sessions::table)
                .filter(refresh_tokens::token_hash.eq(hash))
                .select((sessions::id, refresh_tokens::expires_at, refresh_tokens::used_at, sessions::user_id, sessions::revoked_at))
                .for_update()
                .first(conn)
                .await
                .optional()?;
            let Some((session_id, expires_at, used_at, user_id, revoked_at)) = found else { return Ok(Rotation::Rejected) };
            if used_at.is_some() {
                revoke(conn, session_id, now).await?;
                return Ok(if revoked_at.is_some() { Rotation::Rejected } else { Rotation::Reused { session_id } });
            }
            if revoked_at.is_some() || expires_at <= now {
                return Ok(Rotation::Rejected);
            }
            diesel::update(refresh_tokens::table.filter(refresh_tokens::token_hash.eq(hash)))
                .set(refresh_tokens::used_at.eq(now))
                .execute(conn)
                .await?;
            insert_refresh_token(conn, session_id, &next, now).await?;
            Ok(Rotation::Rotated { user_id, session_id })
        })
        .await
        .map_err(store_error)
    }

    async fn revoke_session(&self, session_id: Uuid, now: DateTime<Utc>) -> Result<(), StoreError> {
        let mut conn = self.connection().await?;
        revoke(&mut conn, session_id, now).await.map_err(store_error)
    }
}

fn active_users() -> users::BoxedQuery<'static, diesel::pg::Pg> {
    users::table.filter(users::deleted_at.is_null()).into_boxed()
}

async fn insert_session(conn: &mut AsyncPgConnection, session: &NewSession) -> QueryResult<()> {
    diesel::insert_into(sessions::table)
        .values((
            sessions::id.eq(session.id),
            sessions::user_id.eq(session.user_id),
            sessions::created_at.eq(session.now),
            sessions::user_agent.eq(&session.user_agent),
            sessions::ip.eq(&session.ip),
        ))
        .execute(conn)
        .await?;
    insert_refresh_token(conn, session.id, &session.refresh, session.now).await
}

async fn insert_refresh_token(
    conn: &mut AsyncPgConnection,
    session_id: Uuid,
    token: &NewRefreshToken,
    now: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::insert_into(refresh_tokens::table)
        .values((
            refresh_tokens::token_hash.eq(&token.hash),
            refresh_tokens::session_id.eq(session_id),
            refresh_tokens::issued_at.eq(now),
            refresh_tokens::expires_at.eq(token.expires_at),
        ))
        .execute(conn)
        .await
        .map(|_| ())
}

async fn revoke(conn: &mut AsyncPgConnection, session_id: Uuid, now: DateTime<Utc>) -> QueryResult<()> {
    diesel::update(sessions::table.filter(sessions::id.eq(session_id)).filter(sessions::revoked_at.is_null()))
        .set(sessions::revoked_at.eq(now))
        .execute(conn)
        .await
        .map(|_| ())
}

/// Escapes `%`, `_` and `\` so user text matches literally inside a LIKE pattern.
pub(super) fn escape_like(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
