//! The cache against an in-memory account store that counts its session lookups.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;

#[derive(Default)]
struct Sessions {
    active: Mutex<HashMap<Uuid, Uuid>>,
    lookups: AtomicUsize,
}

#[async_trait]
impl AccountStore for Sessions {
    async fn register(&self, _: NewUser, _: NewSession) -> Result<UserRecord, StoreError> {
        unimplemented!("not used by these tests")
    }
    async fn user(&self, _: Uuid) -> Result<Option<UserRecord>, StoreError> {
        unimplemented!("not used by these tests")
    }
    async fn user_by_email(&self, _: &str) -> Result<Option<UserRecord>, StoreError> {
        unimplemented!("not used by these tests")
    }
    async fn search_users(&self, _: &str, _: PageRequest) -> Result<Page<UserRecord>, StoreError> {
        unimplemented!("not used by these tests")
    }
    async fn update_profile(&self, _: Uuid, _: ProfileChange, _: DateTime<Utc>) -> Result<Option<UserRecord>, StoreError> {
        unimplemented!("not used by these tests")
    }
    async fn change_password(&self, id: Uuid, _: String, keep: Uuid, _: DateTime<Utc>) -> Result<(), StoreError> {
        self.active.lock().expect("lock").retain(|session, user| *user != id || *session == keep);
        Ok(())
    }
    async fn delete_user(&self, id: Uuid, _: DateTime<Utc>) -> Result<Deletion, StoreError> {
        self.active.lock().expect("lock").retain(|_, user| *user != id);
        Ok(Deletion::Deleted)
    }
    async fn create_session(&self, _: NewSession) -> Result<(), StoreError> {
        unimplemented!("not used by these tests")
    }
    async fn session_user(&self, session_id: Uuid) -> Result<Option<Uuid>, StoreError> {
        self.lookups.fetch_add(1, Ordering::SeqCst);
        Ok(self.active.lock().expect("lock").get(&session_id).copied())
    }
    async fn rotate_refresh_token(&self, _: &[u8], _: NewRefreshToken, _: DateTime<Utc>) -> Result<Rotation, StoreError> {
        let reused = *self.active.lock().expect("lock").keys().next().expect("a session");
        self.active.lock().expect("lock").remove(&reused);
        Ok(Rotation::Reused { session_id: reused })
    }
    async fn revoke_session(&self, session_id: Uuid, _: DateTime<Utc>) -> Result<(), StoreError> {
        self.active.lock().expect("lock").remove(&session_id);
        Ok(())
    }
}

fn cache_with(sessions: &[(Uuid, Uuid)]) -> SessionCache<Sessions> {
    let store = Sessions::default();
    store.active.lock().expect("lock").extend(sessions.iter().copied());
    SessionCache::new(store)
}

#[tokio::test]
async fn an_active_session_is_looked_up_once_within_the_trust_window() {
    let (session, user) = (Uuid::new_v4(), Uuid::new_v4());
    let cache = cache_with(&[(session, user)]);
    for _ in 0..5 {
        assert_eq!(cache.session_user(session).await.expect("lookup"), Some(user));
    }
    assert_eq!(cache.store.lookups.load(Ordering::SeqCst), 1);
    assert_eq!(cache.session_user(Uuid::new_v4()).await.expect("lookup"), None, "unknown sessions are not cached as active");
}

#[tokio::test]
async fn a_revocation_on_this_node_takes_effect_at_once() {
    let (session, user) = (Uuid::new_v4(), Uuid::new_v4());
    let cache = cache_with(&[(session, user)]);
    cache.session_user(session).await.expect("lookup");
    cache.revoke_session(session, Utc::now()).await.expect("revoke");
    assert_eq!(cache.session_user(session).await.expect("lookup"), None);
}

#[tokio::test]
async fn a_password_change_or_deletion_ends_every_other_session_of_the_user_at_once() {
    let (user, other) = (Uuid::new_v4(), Uuid::new_v4());
    let (kept, ended, unrelated) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    let cache = cache_with(&[(kept, user), (ended, user), (unrelated, other)]);
    for session in [kept, ended, unrelated] {
        cache.session_user(session).await.expect("lookup");
    }
    cache.change_password(user, "hash".into(), kept, Utc::now()).await.expect("change");
    assert_eq!(cache.session_user(ended).await.expect("lookup"), None);
    assert_eq!(cache.session_user(kept).await.expect("lookup"), Some(user));
    assert_eq!(cache.session_user(unrelated).await.expect("lookup"), Some(other));

    cache.delete_user(user, Utc::now()).await.expect("delete");
    assert_eq!(cache.session_user(kept).await.expect("lookup"), None);
}

#[tokio::test]
async fn a_reused_refresh_token_ends_its_session_at_once() {
    let (session, user) = (Uuid::new_v4(), Uuid::new_v4());
    let cache = cache_with(&[(session, user)]);
    cache.session_user(session).await.expect("lookup");
    let next = NewRefreshToken { hash: vec![1], expires_at: Utc::now() };
    assert_eq!(cache.rotate_refresh_token(&[0], next, Utc::now()).await.expect("rotate"), Rotation::Reused { session_id: session });
    assert_eq!(cache.session_user(session).await.expect("lookup"), None);
}
