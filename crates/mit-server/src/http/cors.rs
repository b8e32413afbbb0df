//! Cross-origin access: only the origins in `CORS_ORIGINS` get CORS headers, and only for the
//! methods the API has. A request from any other origin is served as if CORS did not exist (no
//! `Access-Control-*` headers, so a browser keeps the response from the page), which leaves
//! same-origin pages, non-browser clients and `/health` working; with `CORS_ORIGINS` empty, no
//! origin gets cross-origin access.

use std::collections::HashSet;
use std::sync::Arc;

use poem::http::{Method, header};
use poem::middleware::Cors;
use poem::{Endpoint, EndpointExt, Request, Response, Result};

/// The methods the contract's operations use.
const API_METHODS: [Method; 5] = [Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE];

/// `app`, answering CORS for `origins` only.
pub fn allowing<E>(origins: &[String], app: E) -> impl Endpoint<Output = Response> + 'static
where
    E: Endpoint + 'static,
{
    let app = Arc::new(app.map_to_response());
    let cors = origins
        .iter()
        .fold(Cors::new().allow_methods(API_METHODS).allow_credentials(false).expose_header("retry-after").max_age(600), |cors, origin| {
            cors.allow_origin(origin.as_str())
        });
    let with_cors = Arc::clone(&app).with(cors).map_to_response();
    OriginGate { allowed: origins.iter().cloned().collect(), app, with_cors }
}

/// Sends requests from an allowed origin through the CORS middleware, the rest past it.
struct OriginGate<A, C> {
    allowed: HashSet<String>,
    app: A,
    with_cors: C,
}

impl<A, C> Endpoint for OriginGate<A, C>
where
    A: Endpoint<Output = Response>,
    C: Endpoint<Output = Response>,
{
    type Output = Response;

    async fn call(&self, request: Request) -> Result<Response> {
        let origin = request.headers().get(header::ORIGIN).and_then(|value| value.to_str().ok());
        if origin.is_some_and(|origin| self.allowed.contains(origin)) {
            self.with_cors.call(request).await
        } else {
            self.app.call(request).await
        }
    }
}
