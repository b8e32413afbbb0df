//! Support for the generated server code: the one error type every handler returns, the JSON
//! body extractor, strict field parsing, the request context and the authentication seam.

mod auth;
mod body;
mod context;
mod error;
mod fallback;
mod request_scope;
pub mod strict;
mod text;
mod uri;

pub use auth::Authenticator;
pub use body::{BodyLimit, FileBody, JsonBody, MediaTypes};
pub use context::RequestContext;
pub use error::ApiError;
pub use fallback::{allowed_methods, contract_errors};
pub use request_scope::{REQUEST_ID_HEADER, current_operation, current_request_id, enter_operation, record_caller, request_scope};
pub use strict::StrictJson;
pub use text::Text;
pub use uri::{URI_PATTERN, Uri};

/// The JSON payload wrapper the generated responses use, re-exported so implementations of the
/// handler traits need not depend on poem-openapi themselves.
pub use poem_openapi::payload::Json;
/// Value types the generated models use.
pub use poem_openapi::types::{Email, MaybeUndefined, Password};

/// One row of the generated operation table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OperationInfo {
    /// The contract's operationId.
    pub id: &'static str,
    /// Upper-case HTTP method.
    pub method: &'static str,
    /// Path template as in the contract (`/api/v1/meetings/{meeting_id}`).
    pub path: &'static str,
    /// The operation's tag.
    pub tag: &'static str,
    /// Whether it needs a bearer token.
    pub secured: bool,
}

impl OperationInfo {
    /// Whether `path` (a concrete request path) matches this operation's template.
    pub fn matches_path(&self, path: &str) -> bool {
        let mut template = self.path.split('/');
        let mut concrete = path.split('/');
        loop {
            match (template.next(), concrete.next()) {
                (None, None) => return true,
                (Some(t), Some(c)) if t.starts_with('{') || t == c => {}
                _ => return false,
            }
        }
    }
}

/// A string that is not a value of the enum it was parsed as.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{value}` is not a {type_name} value")]
pub struct UnknownEnumValue {
    type_name: &'static str,
    value: String,
}

impl UnknownEnumValue {
    /// `value` is not a value of the enum `type_name`.
    pub fn new(type_name: &'static str, value: &str) -> Self {
        Self { type_name, value: value.to_string() }
    }
}

/// Turns a handler's outcome into what the adapter returns: errors whose status the operation
/// declares become typed variants; any other status (501 for unimplemented operations) is sent
/// as the same error shape.
pub fn respond<R>(outcome: Result<R, ApiError>, declared: fn(ApiError) -> Result<R, ApiError>) -> poem::Result<R> {
    match outcome {
        Ok(response) => Ok(response),
        Err(error) => declared(error).map_err(|error| {
            if error.status() != 501 {
                tracing::error!(status = error.status(), code = %error.code(), "handler returned a status its operation does not declare");
            }
            poem::Error::from_response(error.into_response())
        }),
    }
}
