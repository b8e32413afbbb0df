//! One scope per HTTP request: its id (the client's `X-Request-Id` when sane, else a new one),
//! a span every log line of the request is inside, the operation the generated adapter routed it
//! to and the caller it authenticated. The id comes back in the `X-Request-Id` response header and
//! in every error body's `details.request_id`.

use std::cell::Cell;
use std::fmt::Display;
use std::sync::Arc;
use std::time::Instant;

use poem::http::HeaderValue;
use poem::{Endpoint, IntoResponse, Request, Response};
use tracing::Instrument;

/// The header carrying the request id both ways.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// The longest client request id kept; longer (or odd) ones are replaced.
const MAX_REQUEST_ID: usize = 128;

struct Scope {
    id: Arc<str>,
    operation: Cell<Option<&'static str>>,
}

tokio::task_local! {
    static SCOPE: Scope;
}

/// The current request's id, inside a request.
pub fn current_request_id() -> Option<Arc<str>> {
    SCOPE.try_with(|scope| scope.id.clone()).ok()
}

/// The operation the current request was routed to, once the adapter has it.
pub fn current_operation() -> Option<&'static str> {
    SCOPE.try_with(|scope| scope.operation.get()).ok().flatten()
}

/// Called by the generated adapter as it enters an operation.
pub fn enter_operation(operation_id: &'static str) {
    let _ = SCOPE.try_with(|scope| scope.operation.set(Some(operation_id)));
    tracing::Span::current().record("operation_id", operation_id);
}

/// Called by the generated adapter once the caller is authenticated.
pub fn record_caller(caller: &impl Display) {
    tracing::Span::current().record("caller", tracing::field::display(caller));
}

/// Middleware (outermost): opens the request's scope and span (target `mit::request`), answers
/// with its id, and logs one `mit::access` line with operation, caller, status and latency.
pub async fn request_scope<E: Endpoint>(next: Arc<E>, request: Request) -> poem::Result<Response> {
    let started = Instant::now();
    let id: Arc<str> = accepted_id(&request).unwrap_or_else(|| uuid::Uuid::now_v7().simple().to_string()).into();
    let span = tracing::info_span!(
        target: "mit::request",
        "request",
        request_id = %id,
        method = %request.method(),
        path = %request.uri().path(),
        operation_id = tracing::field::Empty,
        caller = tracing::field::Empty,
    );
    let scope = Scope { id: id.clone(), operation: Cell::new(None) };
    let outcome = SCOPE.scope(scope, next.call(request).instrument(span.clone())).await;
    let mut response = match outcome {
        Ok(response) => response.into_response(),
        Err(error) => error.into_response(),
    };
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    let status = response.status().as_u16();
    span.in_scope(|| tracing::info!(target: "mit::access", status, latency_ms = started.elapsed().as_secs_f64() * 1000.0, "request"));
    Ok(response)
}

/// The client's id if it is 1–128 visible characters of `[A-Za-z0-9._:-]`.
fn accepted_id(request: &Request) -> Option<String> {
    let value = request.headers().get(REQUEST_ID_HEADER)?.to_str().ok()?;
    let sane = !value.is_empty()
        && value.len() <= MAX_REQUEST_ID
        && value.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'));
    sane.then(|| value.to_string())
}
