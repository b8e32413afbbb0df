//! The contract's error shape for what never reaches a handler: unknown routes (404) and
//! known routes called with the wrong method (405, with `Allow` built from the contract).

use std::sync::Arc;

use poem::error::{MethodNotAllowedError, NotFoundError};
use poem::http::header;
use poem::{Endpoint, IntoResponse, Request, Response};

use super::ApiError;
use crate::server::models::ErrorCode;

/// Middleware body for `Endpoint::around`: answers routing failures in the contract's shape and
/// passes everything else through.
pub async fn contract_errors<E: Endpoint>(next: Arc<E>, request: Request) -> poem::Result<Response> {
    let path = request.uri().path().to_string();
    match next.call(request).await {
        Ok(response) => Ok(response.into_response()),
        Err(error) if error.is::<MethodNotAllowedError>() => Ok(method_not_allowed(&path)),
        Err(error) if error.is::<NotFoundError>() => {
            Ok(ApiError::with_code(404, ErrorCode::NotFound, format!("no route matches `{path}`")).into_response())
        }
        Err(error) => Ok(error.into_response()),
    }
}

/// The methods the contract declares for `path`, comma-separated. Like the router, a template
/// with more literal segments wins (`/users/me` over `/users/{user_id}`).
pub fn allowed_methods(path: &str) -> String {
    let matching: Vec<_> = crate::server::OPERATIONS.iter().filter(|op| op.matches_path(path)).collect();
    let literals = |template: &str| template.split('/').filter(|s| !s.starts_with('{')).count();
    let best = matching.iter().map(|op| literals(op.path)).max().unwrap_or(0);
    let mut methods: Vec<&str> = matching.iter().filter(|op| literals(op.path) == best).map(|op| op.method).collect();
    methods.sort_unstable();
    methods.dedup();
    methods.join(", ")
}

fn method_not_allowed(path: &str) -> Response {
    let allow = allowed_methods(path);
    let mut response = ApiError::with_code(405, ErrorCode::MethodNotAllowed, format!("`{path}` accepts {allow}"))
        .with_detail("allow", allow.clone())
        .into_response();
    if let Ok(value) = allow.parse() {
        response.headers_mut().insert(header::ALLOW, value);
    }
    response
}
