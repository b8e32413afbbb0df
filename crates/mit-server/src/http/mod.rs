//! The HTTP application: the generated API, its spec and docs UIs, metrics, and the middleware
//! every response goes through.

mod cors;
mod headers;
mod metrics_layer;

use std::sync::Arc;

use mit_api::server::runtime::{BodyLimit, contract_errors, request_scope};
use mit_domain::Mit;
use poem::{Endpoint, EndpointExt, Route, get, handler};

use crate::config::Config;
use crate::events::{self, EventsPlane};
use crate::realtime::{self, Realtime};
use crate::telemetry;

/// Every route of the server, wrapped in its middleware.
pub fn app(domain: Arc<Mit>, realtime: Arc<Realtime>, events: Arc<EventsPlane>, config: &Config) -> impl Endpoint + 'static {
    let api = mit_api::server::openapi_service(domain);
    let swagger = api.swagger_ui();
    let redoc = api.redoc();
    let routes = Route::new()
        .nest("/", api)
        .at("/openapi.json", get(contract))
        .nest("/docs", swagger)
        .nest("/redoc", redoc)
        .at("/metrics", get(metrics))
        .at("/ws/room/:meeting_id", get(realtime::room_socket.data(realtime)))
        .at("/ws/events", get(events::events_socket.data(events)));
    let app = routes.data(BodyLimit(config.max_body_bytes)).around(metrics_layer::record).around(headers::security_headers);
    cors::allowing(&config.cors_origins, app).around(contract_errors).around(request_scope)
}

/// The contract itself; `cargo xtask contract check` keeps the generated routes equal to it.
#[handler]
fn contract() -> poem::Response {
    poem::Response::builder().content_type("application/json").body(mit_api::server::CONTRACT_JSON)
}

#[handler]
fn metrics() -> String {
    telemetry::metrics().render()
}
