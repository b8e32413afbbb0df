use std::borrow::Cow;
use std::collections::BTreeMap;
use std::str::FromStr;

use poem::http::{StatusCode, header};
use poem_openapi::error::{AuthorizationError, ContentTypeError, ParseParamError, ParsePathError};
use serde_json::Value;

use super::body::{BodyTooLarge, InvalidBody, MalformedBody};
use crate::server::models::{ErrorCode, ErrorResponse};

/// The one error every handler returns: a status, the contract's `ErrorResponse` fields, and the
/// values of the headers some statuses carry. Domain errors are mapped into it once.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    status: u16,
    code: ErrorCode,
    message: String,
    details: BTreeMap<String, Value>,
    retry_after: Option<u64>,
    www_authenticate: Option<String>,
    content_range: Option<String>,
}

impl ApiError {
    /// An error with `status`, machine `code` and human `message`. `code` must be one of the
    /// contract's `ErrorCode` values; any other is a bug that must not reach a client as an
    /// undocumented code: it is logged and the error becomes 500 `internal_error`.
    pub fn new(status: u16, code: impl Into<Cow<'static, str>>, message: impl Into<String>) -> Self {
        let code = code.into();
        match ErrorCode::from_str(&code) {
            Ok(known) => Self::with_code(status, known, message),
            Err(unknown) => {
                tracing::error!(status, %code, message = %message.into(), "{unknown}: answering 500 internal_error instead");
                Self::internal()
            }
        }
    }

    /// An error with `status`, the contract's machine `code` and human `message`.
    pub fn with_code(status: u16, code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            details: BTreeMap::new(),
            retry_after: None,
            www_authenticate: None,
            content_range: None,
        }
    }

    /// Adds a machine-readable detail.
    #[must_use]
    pub fn with_detail(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.details.insert(key.to_string(), value.into());
        self
    }

    /// 400 `malformed_request`.
    pub fn malformed(message: impl Into<String>) -> Self {
        Self::with_code(400, ErrorCode::MalformedRequest, message)
    }

    /// 401 `unauthenticated` for a presented token that is invalid, expired or revoked.
    pub fn unauthenticated(message: impl Into<String>) -> Self {
        let mut error = Self::with_code(401, ErrorCode::Unauthenticated, message);
        error.www_authenticate = Some(r#"Bearer error="invalid_token""#.to_string());
        error
    }

    /// 401 `invalid_credentials` (wrong email or password).
    pub fn invalid_credentials() -> Self {
        Self::with_code(401, ErrorCode::InvalidCredentials, "the email or password is wrong")
    }

    /// 403 `forbidden`.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::with_code(403, ErrorCode::Forbidden, message)
    }

    /// 404 `not_found`.
    pub fn not_found(what: &str) -> Self {
        Self::with_code(404, ErrorCode::NotFound, format!("{what} not found"))
    }

    /// 409 with a specific code.
    pub fn conflict(code: impl Into<Cow<'static, str>>, message: impl Into<String>) -> Self {
        Self::new(409, code, message)
    }

    /// 413 `payload_too_large`.
    pub fn payload_too_large(limit: usize) -> Self {
        Self::with_code(413, ErrorCode::PayloadTooLarge, format!("the request body exceeds {limit} bytes"))
            .with_detail("limit_bytes", limit)
    }

    /// 422 `validation_failed` naming `field`.
    pub fn validation(field: &str, message: impl Into<String>) -> Self {
        Self::with_code(422, ErrorCode::ValidationFailed, message).with_detail("field", field)
    }

    /// 429 `rate_limited`, retry after `seconds`.
    pub fn rate_limited(seconds: u64) -> Self {
        let mut error = Self::with_code(429, ErrorCode::RateLimited, format!("too many requests; retry in {seconds} s"))
            .with_detail("retry_after_seconds", seconds);
        error.retry_after = Some(seconds);
        error
    }

    /// 500 `internal_error`; the cause belongs in the log, not here.
    pub fn internal() -> Self {
        Self::with_code(500, ErrorCode::InternalError, "an unexpected error occurred")
    }

    /// 501 `not_implemented`.
    pub fn not_implemented(operation_id: &str) -> Self {
        Self::with_code(501, ErrorCode::NotImplemented, format!("{operation_id} is not implemented yet"))
            .with_detail("operation_id", operation_id)
    }

    /// 503 `service_unavailable`.
    pub fn service_unavailable(message: impl Into<String>) -> Self {
        let mut error = Self::with_code(503, ErrorCode::ServiceUnavailable, message);
        error.retry_after = Some(5);
        error
    }

    /// 416 `range_not_satisfiable` for a file of `size` bytes, saying why.
    pub fn range_not_satisfiable(size: u64, message: impl Into<String>) -> Self {
        let mut error = Self::with_code(416, ErrorCode::RangeNotSatisfiable, message);
        error.content_range = Some(format!("bytes */{size}"));
        error
    }

    /// The HTTP status.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The machine code as it appears on the wire.
    pub fn code(&self) -> &str {
        self.code.as_str()
    }

    /// The machine code.
    pub fn error_code(&self) -> ErrorCode {
        self.code
    }

    /// The human message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// A detail, if set.
    pub fn detail(&self, key: &str) -> Option<&Value> {
        self.details.get(key)
    }

    /// The contract's error body.
    pub fn body(&self) -> ErrorResponse {
        self.clone().into_body()
    }

    /// The contract's error body, consuming the error; inside a request, `details.request_id`
    /// carries its id.
    pub fn into_body(mut self) -> ErrorResponse {
        if let Some(id) = super::current_request_id() {
            self.details.insert("request_id".to_string(), Value::String(id.to_string()));
        }
        ErrorResponse { error: self.code, message: self.message, details: (!self.details.is_empty()).then_some(self.details) }
    }

    /// The `WWW-Authenticate` value of a 401.
    pub fn www_authenticate(&self) -> String {
        self.www_authenticate.clone().unwrap_or_else(|| "Bearer".to_string())
    }

    /// The `Retry-After` value of a 429 or 503, in seconds.
    pub fn retry_after_seconds(&self) -> i64 {
        self.retry_after.map_or(1, |s| i64::try_from(s).unwrap_or(i64::MAX))
    }

    /// The `Content-Range` value of a 416.
    pub fn content_range(&self) -> String {
        self.content_range.clone().unwrap_or_else(|| "bytes */0".to_string())
    }

    /// Maps a poem/poem-openapi extraction failure (bad body, parameter, content type or missing
    /// token) onto the contract's statuses. poem-openapi names path parameters by position
    /// (`param0`, …); `path_params` are their contract names in that order.
    pub fn from_extraction(error: poem::Error, path_params: &[&str]) -> Self {
        if let Some(e) = error.downcast_ref::<MalformedBody>() {
            return Self::malformed(format!("the body is not valid JSON: {}", e.reason));
        }
        if let Some(e) = error.downcast_ref::<InvalidBody>() {
            return validation_from_message(&e.reason);
        }
        if let Some(e) = error.downcast_ref::<BodyTooLarge>() {
            return Self::payload_too_large(e.limit);
        }
        if let Some(e) = error.downcast_ref::<ParseParamError>() {
            return Self::validation(e.name, format!("parameter `{}`: {}", e.name, e.reason));
        }
        if let Some(e) = error.downcast_ref::<ParsePathError>() {
            let position = e.name.strip_prefix("param").and_then(|n| n.parse::<usize>().ok());
            let name = position.and_then(|i| path_params.get(i).copied()).unwrap_or(e.name);
            return Self::validation(name, format!("path parameter `{name}`: {}", e.reason));
        }
        if error.is::<ContentTypeError>() {
            return Self::malformed(format!("{error}; send `Content-Type: application/json`"));
        }
        if error.is::<AuthorizationError>() {
            let mut error = Self::with_code(401, ErrorCode::Unauthenticated, "send `Authorization: Bearer <access token>`");
            error.www_authenticate = Some("Bearer".to_string());
            return error;
        }
        match error.status() {
            StatusCode::PAYLOAD_TOO_LARGE => Self::payload_too_large(0),
            status if status.is_client_error() => Self::malformed(error.to_string()),
            _ => Self::internal(),
        }
    }

    /// The error as a complete HTTP response (for statuses no operation declares).
    pub fn into_response(self) -> poem::Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut builder = poem::Response::builder().status(status).content_type("application/json; charset=utf-8");
        if let Some(seconds) = self.retry_after {
            builder = builder.header(header::RETRY_AFTER, seconds);
        }
        if status == StatusCode::UNAUTHORIZED {
            builder = builder.header(header::WWW_AUTHENTICATE, self.www_authenticate());
        }
        if let Some(range) = &self.content_range {
            builder = builder.header(header::CONTENT_RANGE, range.as_str());
        }
        let body = poem_openapi::types::ToJSON::to_json(&self.into_body()).unwrap_or(Value::Null);
        builder.body(body.to_string())
    }
}

/// poem-openapi reports a failed field as "… field `name` …"; the generated strict parsers
/// always name the field, so the innermost name is the offending one.
fn validation_from_message(message: &str) -> ApiError {
    let field = message.rsplit("field `").next().filter(|_| message.contains("field `")).and_then(|rest| rest.split('`').next());
    let message = format!("the body does not match the schema: {message}");
    match field {
        Some(field) => ApiError::validation(field, message),
        None => ApiError::with_code(422, ErrorCode::ValidationFailed, message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every code the runtime's constructors answer with, and the status it goes with.
    fn constructed() -> Vec<(ApiError, u16, &'static str)> {
        vec![
            (ApiError::malformed("m"), 400, "malformed_request"),
            (ApiError::unauthenticated("m"), 401, "unauthenticated"),
            (ApiError::invalid_credentials(), 401, "invalid_credentials"),
            (ApiError::forbidden("m"), 403, "forbidden"),
            (ApiError::not_found("meeting"), 404, "not_found"),
            (ApiError::conflict("stale", "m"), 409, "stale"),
            (ApiError::payload_too_large(10), 413, "payload_too_large"),
            (ApiError::range_not_satisfiable(10, "m"), 416, "range_not_satisfiable"),
            (ApiError::validation("field", "m"), 422, "validation_failed"),
            (validation_from_message("no field named"), 422, "validation_failed"),
            (ApiError::rate_limited(3), 429, "rate_limited"),
            (ApiError::internal(), 500, "internal_error"),
            (ApiError::not_implemented("listThings"), 501, "not_implemented"),
            (ApiError::service_unavailable("m"), 503, "service_unavailable"),
            (ApiError::from_extraction(poem::Error::from_status(StatusCode::BAD_REQUEST), &[]), 400, "malformed_request"),
            (ApiError::from_extraction(poem::Error::from_status(StatusCode::PAYLOAD_TOO_LARGE), &[]), 413, "payload_too_large"),
            (ApiError::from_extraction(poem::Error::from_status(StatusCode::BAD_GATEWAY), &[]), 500, "internal_error"),
        ]
    }

    #[test]
    fn every_code_the_runtime_constructs_is_a_contract_error_code() {
        for (error, status, code) in constructed() {
            assert_eq!((error.status(), error.code()), (status, code), "{error:?}");
            let parsed = ErrorCode::from_str(code).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(error.error_code(), parsed);
            assert_eq!(error.body().error, parsed);
        }
    }

    #[test]
    fn every_contract_code_passes_through_new_and_reaches_the_body_as_its_string() {
        for code in ErrorCode::ALL {
            let error = ApiError::new(409, code.as_str(), "m");
            assert_eq!((error.status(), error.code()), (409, code.as_str()));
            let json = poem_openapi::types::ToJSON::to_json(&error.into_body()).unwrap_or_default();
            assert_eq!(json["error"], code.as_str(), "{json}");
        }
    }

    #[test]
    fn a_code_outside_the_contract_never_reaches_a_client() {
        for code in ["no_such_code", "", "Conflict", "invalid_message"] {
            let error = ApiError::conflict(code, "a message about internals");
            assert_eq!((error.status(), error.code()), (500, "internal_error"), "{code:?}");
            assert_eq!(error.message(), "an unexpected error occurred");
        }
    }
}
