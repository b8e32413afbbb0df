use std::future::Future;

use super::{ApiError, RequestContext};

/// Turns a bearer token into the caller every secured handler receives. Implemented once by the
/// domain; the generated adapters call it before any secured handler.
pub trait Authenticator: Send + Sync + 'static {
    /// Who is calling; its `Display` is what the request's log span records as `caller`.
    type Caller: Send + Sync + std::fmt::Display;

    /// Checks `token` (the text after `Bearer `); errors are 401 (or 429/503) `ApiError`s.
    fn authenticate(&self, token: &str, context: &RequestContext) -> impl Future<Output = Result<Self::Caller, ApiError>> + Send;
}
