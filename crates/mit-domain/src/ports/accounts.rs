//! Users, sessions and refresh tokens.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::StoreError;
use crate::paging::{Page, PageRequest};

/// A stored user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    /// Id.
    pub id: Uuid,
    /// Lower-cased email; `None` once the account is deleted.
    pub email: Option<String>,
    /// argon2id PHC string; `None` once the account is deleted.
    pub password_hash: Option<String>,
    /// Display name.
    pub name: String,
    /// Avatar URL.
    pub avatar_url: Option<String>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

/// A user to create.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// Id.
    pub id: Uuid,
    /// Lower-cased email.
    pub email: String,
    /// argon2id PHC string.
    pub password_hash: String,
    /// Display name.
    pub name: String,
    /// Now.
    pub now: DateTime<Utc>,
}

/// A profile change; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct ProfileChange {
    /// New name.
    pub name: Option<String>,
    /// New avatar (`Some(None)` removes it).
    pub avatar_url: Option<Option<String>>,
}

/// A session (one sign-in) to create, with its first refresh token.
#[derive(Debug, Clone)]
pub struct NewSession {
    /// Session id (the `sid` of its access tokens).
    pub id: Uuid,
    /// The user.
    pub user_id: Uuid,
    /// The client's `User-Agent`.
    pub user_agent: Option<String>,
    /// The client's address.
    pub ip: Option<String>,
    /// Now.
    pub now: DateTime<Utc>,
    /// Its first refresh token.
    pub refresh: NewRefreshToken,
}

/// A refresh token to store (only its hash is kept).
#[derive(Debug, Clone)]
pub struct NewRefreshToken {
    /// SHA-256 of the token.
    pub hash: Vec<u8>,
    /// When it stops being accepted.
    pub expires_at: DateTime<Utc>,
}

/// What presenting a refresh token did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotation {
    /// The token was valid; it is now spent and the new one stored.
    Rotated {
        /// The session's user.
        user_id: Uuid,
        /// The session.
        session_id: Uuid,
    },
    /// The token was already spent: the whole session has been revoked.
    Reused {
        /// The revoked session.
        session_id: Uuid,
    },
    /// Unknown, expired, or of a revoked session.
    Rejected,
}

/// What deleting an account did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Deletion {
    /// The account is gone (personal data removed, sessions revoked).
    Deleted,
    /// Refused: the user is the only owner of these teams, which have other members.
    SoleOwner(Vec<Uuid>),
}

/// Storage of accounts and sessions. Every write is atomic (one statement or one transaction).
#[async_trait]
pub trait AccountStore: Send + Sync + 'static {
    /// Creates a user and their first session; `Conflict` if the email is taken.
    async fn register(&self, user: NewUser, session: NewSession) -> Result<UserRecord, StoreError>;
    /// An active user by id.
    async fn user(&self, id: Uuid) -> Result<Option<UserRecord>, StoreError>;
    /// An active user by lower-cased email.
    async fn user_by_email(&self, email: &str) -> Result<Option<UserRecord>, StoreError>;
    /// Active users whose name contains `query` (case-insensitive), by name then id.
    async fn search_users(&self, query: &str, page: PageRequest) -> Result<Page<UserRecord>, StoreError>;
    /// Applies a profile change; `None` if the user is gone.
    async fn update_profile(&self, id: Uuid, change: ProfileChange, now: DateTime<Utc>) -> Result<Option<UserRecord>, StoreError>;
    /// Sets a new password hash and revokes every session of the user but `keep`.
    async fn change_password(&self, id: Uuid, hash: String, keep: Uuid, now: DateTime<Utc>) -> Result<(), StoreError>;
    /// Deletes an account unless the user is the sole owner of a team with other members.
    async fn delete_user(&self, id: Uuid, now: DateTime<Utc>) -> Result<Deletion, StoreError>;
    /// Starts a session for an existing user.
    async fn create_session(&self, session: NewSession) -> Result<(), StoreError>;
    /// The user of an active (not revoked) session.
    async fn session_user(&self, session_id: Uuid) -> Result<Option<Uuid>, StoreError>;
    /// Spends the refresh token with `hash` and stores `next` in its place; a spent token
    /// revokes its whole session.
    async fn rotate_refresh_token(&self, hash: &[u8], next: NewRefreshToken, now: DateTime<Utc>) -> Result<Rotation, StoreError>;
    /// Revokes a session and all its refresh tokens.
    async fn revoke_session(&self, session_id: Uuid, now: DateTime<Utc>) -> Result<(), StoreError>;
}
