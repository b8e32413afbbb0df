//! End-to-end tests: the generated client and raw HTTP against the real server and PostgreSQL.

mod auth;
mod bad_input;
mod branches;
mod browser;
mod chat;
mod cluster;
mod contract_drift;
mod contract_requests;
mod cors;
mod errors;
mod events;
mod health;
mod knowledge;
mod limits;
mod media;
mod meetings;
mod not_implemented;
mod notes;
mod objects;
mod participants;
mod recordings;
mod review;
mod signaling;
mod team_rights;
mod teams;
mod tokens;
mod tracing;
mod typescript;
mod users;

use std::future::Future;
use std::sync::Arc;

use mit_client::Error;
use mit_client::types::{ErrorCode, ErrorResponse};
use reqwest::StatusCode;
use serde_json::Value;

/// Asserts a generated-client call failed with `status` and machine code `code`.
#[track_caller]
fn expect_error<T: std::fmt::Debug>(result: Result<T, Error<ErrorResponse>>, status: u16, code: &str) -> ErrorResponse {
    match result {
        Err(Error::ErrorResponse(response)) => {
            assert!(code.parse::<ErrorCode>().is_ok(), "`{code}` is not in the contract's ErrorCode");
            assert_eq!(response.status().as_u16(), status, "status (body: {:?})", response.as_ref());
            assert_eq!(response.error.to_string(), code, "error code (message: {})", response.message);
            response.into_inner()
        }
        other => panic!("expected {status} `{code}`, got {other:?}"),
    }
}

/// Asserts a raw response has `status` and the contract's error shape with `code`; returns the body.
async fn expect_raw_error(response: reqwest::Response, status: u16, code: &str) -> Value {
    assert_eq!(response.status(), StatusCode::from_u16(status).expect("status"), "status");
    let content_type = response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    assert!(content_type.starts_with("application/json"), "content type {content_type}");
    let body: Value = response.json().await.expect("a JSON error body");
    assert!(code.parse::<ErrorCode>().is_ok(), "`{code}` is not in the contract's ErrorCode");
    assert_eq!(body["error"], code, "error code in {body}");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "message in {body}");
    body
}

/// A plain HTTP client for requests the typed client refuses to make.
fn http() -> reqwest::Client {
    reqwest::Client::new()
}

/// Runs two requests at the same moment on separate tasks: each waits at a barrier first, so
/// neither has a head start from being spawned earlier.
pub(crate) async fn race<A, B>(a: A, b: B) -> (A::Output, B::Output)
where
    A: Future + Send + 'static,
    A::Output: Send + 'static,
    B: Future + Send + 'static,
    B::Output: Send + 'static,
{
    let barrier = Arc::new(tokio::sync::Barrier::new(2));
    let (first, second) = (barrier.clone(), barrier);
    let a = tokio::spawn(async move {
        first.wait().await;
        a.await
    });
    let b = tokio::spawn(async move {
        second.wait().await;
        b.await
    });
    (a.await.expect("task a"), b.await.expect("task b"))
}
