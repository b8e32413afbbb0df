//! Profiles and finding other users.

use mit_api::server::UsersApi;
use mit_api::server::models::{User, UserSummary, UserSummaryPage};
use mit_api::server::ops::{get_user, lookup_user_by_email, search_users, update_profile};
use mit_api::server::runtime::{Json, MaybeUndefined, Uri};

use crate::auth::clean_name;
use crate::error::{ApiResult, DomainError};
use crate::paging::PageRequest;
use crate::ports::accounts::{ProfileChange, UserRecord};
use crate::ports::people::UserRef;
use crate::{Caller, Mit};

impl UsersApi for Mit {
    async fn search_users(&self, _caller: &Caller, request: search_users::Request) -> ApiResult<search_users::Response> {
        let paging = PageRequest::new(request.page, request.limit);
        let query = request.q.trim();
        if query.is_empty() {
            return Err(DomainError::invalid("q", "the search text must not be blank").into());
        }
        let page = self.ports.accounts.search_users(query, paging).await.map_err(DomainError::from)?;
        Ok(search_users::Response::Ok(Json(UserSummaryPage {
            items: page.items.into_iter().map(summary_model).collect(),
            total: page.total,
            page: paging.page,
            limit: paging.limit,
        })))
    }

    async fn lookup_user_by_email(
        &self,
        _caller: &Caller,
        request: lookup_user_by_email::Request,
    ) -> ApiResult<lookup_user_by_email::Response> {
        let email = request.email.0.trim().to_lowercase();
        let user = self.ports.accounts.user_by_email(&email).await.map_err(DomainError::from)?;
        let user = user.ok_or(DomainError::NotFound("user"))?;
        Ok(lookup_user_by_email::Response::Ok(Json(summary_model(user))))
    }

    async fn update_profile(&self, caller: &Caller, request: update_profile::Request) -> ApiResult<update_profile::Response> {
        let body = request.body;
        let change = ProfileChange {
            name: body.name.as_deref().map(clean_name).transpose()?,
            avatar_url: match body.avatar_url {
                MaybeUndefined::Undefined => None,
                MaybeUndefined::Null => Some(None),
                MaybeUndefined::Value(uri) => Some(Some(uri.as_str().to_string())),
            },
        };
        let now = self.ports.clock.now();
        let user = self.ports.accounts.update_profile(caller.user_id, change, now).await.map_err(DomainError::from)?;
        let user = user.ok_or_else(|| DomainError::Unauthenticated("the account no longer exists".into()))?;
        Ok(update_profile::Response::Ok(Json(user_model(user))))
    }

    async fn get_user(&self, _caller: &Caller, request: get_user::Request) -> ApiResult<get_user::Response> {
        let user = self.ports.accounts.user(request.user_id).await.map_err(DomainError::from)?;
        let user = user.ok_or(DomainError::NotFound("user"))?;
        Ok(get_user::Response::Ok(Json(summary_model(user))))
    }
}

/// The caller's own account as the contract shows it.
pub(crate) fn user_model(record: UserRecord) -> User {
    User {
        id: record.id,
        email: mit_api::server::runtime::Email(record.email.unwrap_or_default()),
        name: record.name,
        avatar_url: record.avatar_url.as_deref().and_then(stored_uri),
        created_at: record.created_at,
        updated_at: record.updated_at,
    }
}

/// Another user as the contract shows them.
pub(crate) fn summary_model(record: UserRecord) -> UserSummary {
    UserSummary { id: record.id, name: record.name, avatar_url: record.avatar_url.as_deref().and_then(stored_uri) }
}

/// A user referenced from another record, as the contract shows them.
pub(crate) fn user_ref_model(user: UserRef) -> UserSummary {
    UserSummary { id: user.id, name: user.name, avatar_url: user.avatar_url.as_deref().and_then(stored_uri) }
}

/// Stored URIs were validated on the way in; one that no longer parses is left out.
fn stored_uri(text: &str) -> Option<Uri> {
    Uri::parse(text).map_err(|e| tracing::warn!(%e, "stored avatar URL does not parse")).ok()
}
