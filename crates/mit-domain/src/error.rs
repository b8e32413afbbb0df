//! The domain's errors, and their one mapping onto the contract's error shape.

use mit_api::server::models::ErrorCode;
use mit_api::server::runtime::ApiError;
use serde_json::Value;

use crate::ports::StoreError;

/// Why a domain operation failed.
#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    /// The bearer token is missing, invalid, expired or revoked.
    #[error("unauthenticated: {0}")]
    Unauthenticated(String),
    /// Wrong email or password.
    #[error("invalid credentials")]
    InvalidCredentials,
    /// The caller sees the resource but may not do this.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// A password check for a sensitive change failed.
    #[error("wrong password")]
    WrongPassword,
    /// The resource does not exist or is invisible to the caller.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A request field refers to something that does not exist or is invisible to the caller.
    #[error("unknown {field}: {message}")]
    Unknown {
        /// The field holding the reference.
        field: &'static str,
        /// Human text.
        message: String,
        /// More machine-readable context.
        details: Vec<(&'static str, Value)>,
    },
    /// The request conflicts with the current state.
    #[error("{code}: {message}")]
    Conflict {
        /// Machine code (`already_exists`, `last_owner`, …): a value of the contract's `ErrorCode`
        /// (a test checks every one this crate writes).
        code: &'static str,
        /// Human text.
        message: String,
        /// Machine-readable context.
        details: Vec<(&'static str, Value)>,
    },
    /// A request value breaks a rule the schema cannot express.
    #[error("invalid {field}: {message}")]
    Invalid {
        /// The offending field.
        field: &'static str,
        /// Human text.
        message: String,
        /// More machine-readable context.
        details: Vec<(&'static str, Value)>,
    },
    /// A request value is larger than a rule allows (the schema counts characters, the rule bytes).
    #[error("{field} too large: {message}")]
    TooLarge {
        /// The field.
        field: &'static str,
        /// Human text.
        message: String,
        /// The limit in bytes.
        limit: usize,
    },
    /// A byte range the file of `size` bytes cannot serve.
    #[error("range not satisfiable: {message}")]
    RangeNotSatisfiable {
        /// The file size.
        size: u64,
        /// Why.
        message: String,
    },
    /// A rate limit was hit; retry after this many seconds.
    #[error("rate limited for {0} s")]
    RateLimited(u64),
    /// A dependency is down.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// A bug or an unexpected failure; the text goes to the log only.
    #[error("internal: {0}")]
    Internal(String),
}

impl DomainError {
    /// A conflict without details.
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::Conflict { code, message: message.into(), details: Vec::new() }
    }

    /// A state conflict naming the current and requested states.
    pub fn transition(current: &str, requested: &str) -> Self {
        Self::Conflict {
            code: "invalid_state_transition",
            message: format!("cannot go from `{current}` to `{requested}`"),
            details: vec![("current", current.into()), ("requested", requested.into())],
        }
    }

    /// A reference in `field` to nothing the caller can see.
    pub fn unknown(field: &'static str, message: impl Into<String>) -> Self {
        Self::Unknown { field, message: message.into(), details: Vec::new() }
    }

    /// An invalid field without details.
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        Self::Invalid { field, message: message.into(), details: Vec::new() }
    }
}

impl From<StoreError> for DomainError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Unavailable(message) => Self::Unavailable(message),
            StoreError::Conflict(what) => Self::Internal(format!("unexpected conflict: {what}")),
            StoreError::Other(message) => Self::Internal(message),
        }
    }
}

impl From<DomainError> for ApiError {
    fn from(error: DomainError) -> Self {
        match error {
            DomainError::Unauthenticated(message) => ApiError::unauthenticated(message),
            DomainError::InvalidCredentials => ApiError::invalid_credentials(),
            DomainError::Forbidden(message) => ApiError::forbidden(message),
            DomainError::WrongPassword => ApiError::with_code(403, ErrorCode::WrongPassword, "the password is wrong"),
            DomainError::NotFound(what) => ApiError::not_found(what),
            DomainError::Unknown { field, message, details } => details
                .into_iter()
                .fold(ApiError::with_code(404, ErrorCode::NotFound, message).with_detail("field", field), |e, (k, v)| e.with_detail(k, v)),
            DomainError::Conflict { code, message, details } => {
                details.into_iter().fold(ApiError::conflict(code, message), |e, (k, v)| e.with_detail(k, v))
            }
            DomainError::Invalid { field, message, details } => {
                details.into_iter().fold(ApiError::validation(field, message), |e, (k, v)| e.with_detail(k, v))
            }
            DomainError::TooLarge { field, message, limit } => {
                ApiError::with_code(413, ErrorCode::PayloadTooLarge, message).with_detail("field", field).with_detail("limit_bytes", limit)
            }
            DomainError::RangeNotSatisfiable { size, message } => ApiError::range_not_satisfiable(size, message),
            DomainError::RateLimited(seconds) => ApiError::rate_limited(seconds),
            DomainError::Unavailable(message) => {
                tracing::warn!(%message, "dependency unavailable");
                ApiError::service_unavailable("a backing service is unavailable; retry shortly")
            }
            DomainError::Internal(message) => {
                tracing::error!(%message, "internal error");
                ApiError::internal()
            }
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        DomainError::from(error).into()
    }
}

/// What every handler returns.
pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::str::FromStr;

    use super::*;

    /// The snake_case string literal right after each `needle` in `text` (whitespace between
    /// them skipped).
    fn literals_after<'a>(text: &'a str, needle: &str) -> Vec<&'a str> {
        text.match_indices(needle)
            .filter_map(|(at, _)| {
                let rest = text[at + needle.len()..].trim_start().strip_prefix('"')?;
                rest.split('"').next()
            })
            .filter(|s| !s.is_empty() && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'))
            .collect()
    }

    fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("readable source dir").flatten() {
            let path = entry.path();
            if path.is_dir() {
                rust_files(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }

    /// The conflict codes are string literals all over the crate (`DomainError::conflict("…")`,
    /// `DomainError::Conflict { code: "…", … }`); each must be a value of the contract's
    /// `ErrorCode`, or the runtime would answer 500 `internal_error` instead.
    #[test]
    fn every_code_the_domain_uses_is_a_contract_error_code() {
        let mut files = Vec::new();
        rust_files(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut files);
        let mut codes = std::collections::BTreeSet::new();
        for file in &files {
            let text = std::fs::read_to_string(file).expect("readable source");
            for needle in ["code: ", "conflict("] {
                for code in literals_after(&text, needle) {
                    assert!(ErrorCode::from_str(code).is_ok(), "{}: `{code}` is not in the contract's ErrorCode", file.display());
                    codes.insert(code.to_string());
                }
            }
        }
        for known in ["invalid_state_transition", "last_owner", "stale", "vetoed", "room_full", "not_ready"] {
            assert!(codes.contains(known), "the scan found no `{known}`: it no longer sees the codes ({codes:?})");
        }
    }

    #[test]
    fn every_domain_error_maps_to_a_contract_error_code() {
        let errors = [
            DomainError::Unauthenticated("m".into()),
            DomainError::InvalidCredentials,
            DomainError::Forbidden("m".into()),
            DomainError::WrongPassword,
            DomainError::NotFound("meeting"),
            DomainError::unknown("user_id", "m"),
            DomainError::conflict("last_host", "m"),
            DomainError::transition("draft", "approved"),
            DomainError::invalid("title", "m"),
            DomainError::TooLarge { field: "content", message: "m".into(), limit: 1 },
            DomainError::RangeNotSatisfiable { size: 1, message: "m".into() },
            DomainError::RateLimited(1),
            DomainError::Unavailable("m".into()),
            DomainError::Internal("m".into()),
        ];
        let expected = [
            (401, "unauthenticated"),
            (401, "invalid_credentials"),
            (403, "forbidden"),
            (403, "wrong_password"),
            (404, "not_found"),
            (404, "not_found"),
            (409, "last_host"),
            (409, "invalid_state_transition"),
            (422, "validation_failed"),
            (413, "payload_too_large"),
            (416, "range_not_satisfiable"),
            (429, "rate_limited"),
            (503, "service_unavailable"),
            (500, "internal_error"),
        ];
        for (error, expected) in errors.into_iter().zip(expected) {
            let api = ApiError::from(error);
            assert_eq!((api.status(), api.code()), expected);
        }
    }
}
