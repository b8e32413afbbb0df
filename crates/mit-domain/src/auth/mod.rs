//! Accounts and sessions: registration, sign-in with throttling, refresh-token rotation with
//! reuse detection, sign-out, password change, account deletion, and the bearer authenticator.

pub mod passwords;
pub mod refresh;
pub mod tokens;

use chrono::{DateTime, Utc};
use mit_api::server::AuthApi;
use mit_api::server::models::{AuthResponse, TokenPair, TokenType};
use mit_api::server::ops::{change_password, delete_account, get_current_user, login, logout, refresh_tokens, register_user};
use mit_api::server::runtime::{ApiError, Authenticator, Json, RequestContext};
use uuid::Uuid;

use crate::error::{ApiResult, DomainError};
use crate::ports::accounts::{Deletion, NewRefreshToken, NewSession, NewUser, Rotation};
use crate::users::user_model;
use crate::{Caller, Mit};

impl Authenticator for Mit {
    type Caller = Caller;

    async fn authenticate(&self, token: &str, _context: &RequestContext) -> Result<Caller, ApiError> {
        let (user_id, session_id) = self.keys.verify_access(token)?;
        match self.ports.accounts.session_user(session_id).await.map_err(DomainError::from)? {
            Some(owner) if owner == user_id => {}
            _ => return Err(DomainError::Unauthenticated("the session has ended; sign in again".into()).into()),
        }
        if let Some(window) = self.config.requests_per_user
            && let Some(wait) = self.limited(&format!("requests:{user_id}"), |l, k| l.hit(k, window)).await
        {
            return Err(DomainError::RateLimited(wait).into());
        }
        Ok(Caller { user_id, session_id })
    }
}

impl AuthApi for Mit {
    async fn register_user(&self, request: register_user::Request) -> ApiResult<register_user::Response> {
        let body = request.body;
        let email = normalise_email(&body.email.0);
        let name = clean_name(&body.name)?;
        let password_hash = passwords::hash(body.password.0).await?;
        let now = self.ports.clock.now();
        let user = NewUser { id: Uuid::now_v7(), email, password_hash, name, now };
        let (session, tokens) = self.new_session(user.id, &request.context, now)?;
        let record = self.ports.accounts.register(user, session).await.map_err(|e| match e {
            crate::ports::StoreError::Conflict(_) => DomainError::conflict("email_taken", "an account with this email exists"),
            other => other.into(),
        })?;
        Ok(register_user::Response::Created(Json(AuthResponse { user: user_model(record), tokens })))
    }

    async fn login(&self, request: login::Request) -> ApiResult<login::Response> {
        let email = normalise_email(&request.body.email.0);
        let ip = request.context.client_ip.map(|ip| ip.to_string()).unwrap_or_default();
        let key = format!("login:{email}:{ip}");
        let window = self.config.login_failures;
        if let Some(wait) = self.limited(&key, |l, k| l.blocked_for(k, window)).await {
            return Err(DomainError::RateLimited(wait).into());
        }
        let user = self.ports.accounts.user_by_email(&email).await.map_err(DomainError::from)?;
        let phc = user.as_ref().and_then(|u| u.password_hash.clone());
        let user = match (passwords::verify(request.body.password.0, phc).await?, user) {
            (true, Some(user)) => user,
            _ => {
                self.limited(&key, |l, k| l.hit(k, window)).await;
                return Err(DomainError::InvalidCredentials.into());
            }
        };
        self.limited(&key, |l, k| async move { l.clear(k).await.map(|()| None) }).await;
        let now = self.ports.clock.now();
        let (session, tokens) = self.new_session(user.id, &request.context, now)?;
        self.ports.accounts.create_session(session).await.map_err(DomainError::from)?;
        Ok(login::Response::Ok(Json(AuthResponse { user: user_model(user), tokens })))
    }

    async fn refresh_tokens(&self, request: refresh_tokens::Request) -> ApiResult<refresh_tokens::Response> {
        let now = self.ports.clock.now();
        let (refresh_token, hash) = refresh::generate();
        let next = NewRefreshToken { hash, expires_at: now + self.refresh_ttl() };
        let presented = refresh::digest(&request.body.refresh_token);
        match self.ports.accounts.rotate_refresh_token(&presented, next, now).await.map_err(DomainError::from)? {
            Rotation::Rotated { user_id, session_id } => {
                let access = self.keys.issue_access(user_id, session_id, now)?;
                Ok(refresh_tokens::Response::Ok(Json(self.token_pair(access.token, refresh_token))))
            }
            Rotation::Reused { .. } => {
                tracing::warn!("a spent refresh token was presented again; its session is revoked");
                Err(DomainError::Unauthenticated("this refresh token was already used; the session is revoked".into()).into())
            }
            Rotation::Rejected => Err(DomainError::Unauthenticated("the refresh token is invalid or expired".into()).into()),
        }
    }

    async fn logout(&self, caller: &Caller, _request: logout::Request) -> ApiResult<logout::Response> {
        let now = self.ports.clock.now();
        self.ports.accounts.revoke_session(caller.session_id, now).await.map_err(DomainError::from)?;
        Ok(logout::Response::NoContent)
    }

    async fn get_current_user(&self, caller: &Caller, _request: get_current_user::Request) -> ApiResult<get_current_user::Response> {
        let user = self.ports.accounts.user(caller.user_id).await.map_err(DomainError::from)?;
        let user = user.ok_or_else(|| DomainError::Unauthenticated("the account no longer exists".into()))?;
        Ok(get_current_user::Response::Ok(Json(user_model(user))))
    }

    async fn change_password(&self, caller: &Caller, request: change_password::Request) -> ApiResult<change_password::Response> {
        let body = request.body;
        self.check_password(caller.user_id, body.current_password.0).await?;
        let hash = passwords::hash(body.new_password.0).await?;
        let now = self.ports.clock.now();
        self.ports.accounts.change_password(caller.user_id, hash, caller.session_id, now).await.map_err(DomainError::from)?;
        Ok(change_password::Response::NoContent)
    }

    async fn delete_account(&self, caller: &Caller, request: delete_account::Request) -> ApiResult<delete_account::Response> {
        self.check_password(caller.user_id, request.body.password.0).await?;
        let now = self.ports.clock.now();
        match self.ports.accounts.delete_user(caller.user_id, now).await.map_err(DomainError::from)? {
            Deletion::Deleted => Ok(delete_account::Response::NoContent),
            Deletion::SoleOwner(teams) => Err(DomainError::Conflict {
                code: "last_owner",
                message: "you are the only owner of teams with other members; transfer ownership first".into(),
                details: vec![("team_ids", teams.iter().map(ToString::to_string).collect::<Vec<_>>().into())],
            }
            .into()),
        }
    }
}

impl Mit {
    /// A new session for `user_id` and the token pair that opens it.
    fn new_session(&self, user_id: Uuid, context: &RequestContext, now: DateTime<Utc>) -> Result<(NewSession, TokenPair), DomainError> {
        let session_id = Uuid::now_v7();
        let (refresh_token, hash) = refresh::generate();
        let access = self.keys.issue_access(user_id, session_id, now)?;
        let session = NewSession {
            id: session_id,
            user_id,
            user_agent: context.user_agent.clone(),
            ip: context.client_ip.map(|ip| ip.to_string()),
            now,
            refresh: NewRefreshToken { hash, expires_at: now + self.refresh_ttl() },
        };
        Ok((session, self.token_pair(access.token, refresh_token)))
    }

    fn token_pair(&self, access_token: String, refresh_token: String) -> TokenPair {
        TokenPair {
            access_token,
            refresh_token,
            token_type: TokenType::Bearer,
            expires_in: self.keys.access_ttl_seconds(),
            refresh_expires_in: self.refresh_ttl().num_seconds(),
        }
    }

    fn refresh_ttl(&self) -> chrono::Duration {
        chrono::Duration::from_std(self.config.jwt.refresh_ttl).unwrap_or(chrono::Duration::MAX)
    }

    /// 403 `wrong_password` unless `password` is the user's.
    async fn check_password(&self, user_id: Uuid, password: String) -> Result<(), DomainError> {
        let user = self.ports.accounts.user(user_id).await?;
        let user = user.ok_or_else(|| DomainError::Unauthenticated("the account no longer exists".into()))?;
        if passwords::verify(password, user.password_hash).await? { Ok(()) } else { Err(DomainError::WrongPassword) }
    }

    /// Runs a rate-limiter call; a limiter that is down lets requests through (and says so in
    /// the log) rather than taking the whole API down with it.
    async fn limited<'a, F, Fut>(&'a self, key: &'a str, call: F) -> Option<u64>
    where
        F: FnOnce(&'a dyn crate::ports::RateLimiter, &'a str) -> Fut,
        Fut: std::future::Future<Output = Result<Option<u64>, crate::ports::StoreError>>,
    {
        match call(self.ports.limits.as_ref(), key).await {
            Ok(wait) => wait,
            Err(error) => {
                tracing::warn!(%error, "rate limiter unavailable; not limiting");
                None
            }
        }
    }
}

/// Emails are compared and stored lower-cased.
fn normalise_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// A display name without surrounding whitespace, which must leave something.
pub(crate) fn clean_name(name: &str) -> Result<String, DomainError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(DomainError::invalid("name", "the name must not be blank"));
    }
    Ok(name.to_string())
}
