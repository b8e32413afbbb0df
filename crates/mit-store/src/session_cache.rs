//! Sessions remembered for a moment, so an authenticated request does not also cost a database
//! lookup of its session. A cached session is trusted for at most [`SESSION_TRUST`]; a
//! revocation made through this node (sign-out, password change, refresh token reuse, account
//! deletion) evicts at once, and one made through another node takes effect here within that
//! bound. Every other call goes straight to the wrapped store.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use mit_domain::paging::{Page, PageRequest};
use mit_domain::ports::StoreError;
use mit_domain::ports::accounts::{AccountStore, Deletion, NewRefreshToken, NewSession, NewUser, ProfileChange, Rotation, UserRecord};
use moka::sync::Cache;
use uuid::Uuid;

/// How long a session found active is trusted without asking the database again: the longest
/// a revocation made on another node takes to reach this one.
pub const SESSION_TRUST: Duration = Duration::from_secs(2);

/// Sessions remembered at most; beyond, the least recently used are dropped.
const CAPACITY: u64 = 100_000;

/// An `AccountStore` that remembers active sessions for [`SESSION_TRUST`].
pub struct SessionCache<S> {
    store: S,
    /// Active session → its user.
    active: Cache<Uuid, Uuid>,
    /// Bumped by every eviction: a lookup that raced one must not put back what it found.
    evictions: AtomicU64,
}

impl<S: AccountStore> SessionCache<S> {
    /// `store` behind a cache of active sessions.
    pub fn new(store: S) -> Self {
        let active = Cache::builder().max_capacity(CAPACITY).time_to_live(SESSION_TRUST).support_invalidation_closures().build();
        Self { store, active, evictions: AtomicU64::new(0) }
    }

    fn forget_session(&self, session: Uuid) {
        self.evictions.fetch_add(1, Ordering::SeqCst);
        self.active.invalidate(&session);
    }

    fn forget_user(&self, user: Uuid) {
        self.evictions.fetch_add(1, Ordering::SeqCst);
        // Only fails when invalidation closures are not enabled, which `new` does.
        let _ = self.active.invalidate_entries_if(move |_, owner| *owner == user);
    }
}

#[async_trait]
impl<S: AccountStore> AccountStore for SessionCache<S> {
    async fn register(&self, user: NewUser, session: NewSession) -> Result<UserRecord, StoreError> {
        self.store.register(user, session).await
    }

    async fn user(&self, id: Uuid) -> Result<Option<UserRecord>, StoreError> {
        self.store.user(id).await
    }

    async fn user_by_email(&self, email: &str) -> Result<Option<UserRecord>, StoreError> {
        self.store.user_by_email(email).await
    }

    async fn search_users(&self, query: &str, page: PageRequest) -> Result<Page<UserRecord>, StoreError> {
        self.store.search_users(query, page).await
    }

    async fn update_profile(&self, id: Uuid, change: ProfileChange, now: DateTime<Utc>) -> Result<Option<UserRecord>, StoreError> {
        self.store.update_profile(id, change, now).await
    }

    async fn change_password(&self, id: Uuid, hash: String, keep: Uuid, now: DateTime<Utc>) -> Result<(), StoreError> {
        let changed = self.store.change_password(id, hash, keep, now).await;
        self.forget_user(id);
        changed
    }

    async fn delete_user(&self, id: Uuid, now: DateTime<Utc>) -> Result<Deletion, StoreError> {
        let deleted = self.store.delete_user(id, now).await;
        self.forget_user(id);
        deleted
    }

    async fn create_session(&self, session: NewSession) -> Result<(), StoreError> {
        self.store.create_session(session).await
    }

    async fn session_user(&self, session_id: Uuid) -> Result<Option<Uuid>, StoreError> {
        if let Some(user) = self.active.get(&session_id) {
            return Ok(Some(user));
        }
        let before = self.evictions.load(Ordering::SeqCst);
        let user = self.store.session_user(session_id).await?;
        if let Some(user) = user
            && self.evictions.load(Ordering::SeqCst) == before
        {
            self.active.insert(session_id, user);
        }
        Ok(user)
    }

    async fn rotate_refresh_token(&self, hash: &[u8], next: NewRefreshToken, now: DateTime<Utc>) -> Result<Rotation, StoreError> {
        let rotation = self.store.rotate_refresh_token(hash, next, now).await?;
        if let Rotation::Reused { session_id } = rotation {
            self.forget_session(session_id);
        }
        Ok(rotation)
    }

    async fn revoke_session(&self, session_id: Uuid, now: DateTime<Utc>) -> Result<(), StoreError> {
        let revoked = self.store.revoke_session(session_id, now).await;
        self.forget_session(session_id);
        revoked
    }
}

#[cfg(test)]
mod tests;
