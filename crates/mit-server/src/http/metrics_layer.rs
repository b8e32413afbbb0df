//! Request counts and latencies for Prometheus, labelled by operation (the contract's
//! operationId; `other` for docs, sockets and unknown routes), method and status — never by path,
//! which carries ids and would explode the series count.

use std::sync::Arc;
use std::time::Instant;

use mit_api::server::runtime::current_operation;
use poem::{Endpoint, IntoResponse, Request, Response};

/// Middleware body for `Endpoint::around`.
pub async fn record<E: Endpoint>(next: Arc<E>, request: Request) -> poem::Result<Response> {
    let started = Instant::now();
    let method = request.method().as_str().to_string();
    let outcome = next.call(request).await;
    let status = match &outcome {
        Ok(_) => None,
        Err(error) => Some(error.status()),
    };
    let response = outcome.map(IntoResponse::into_response);
    let status = response.as_ref().map(Response::status).ok().or(status).map_or(0, |s| s.as_u16());
    let operation = current_operation().unwrap_or("other");
    metrics::counter!("http_requests_total", "operation" => operation, "method" => method.clone(), "status" => status.to_string())
        .increment(1);
    metrics::histogram!("http_request_duration_seconds", "operation" => operation, "method" => method)
        .record(started.elapsed().as_secs_f64());
    response
}
